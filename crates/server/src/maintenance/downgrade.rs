//! `Downgrade` (etcd 3.5+): validate, enable and cancel a cluster downgrade,
//! and the leader's version monitor that moves the cluster version to an
//! enabled downgrade's target and back once it is cancelled.
//!
//! Every member of a Strata cluster runs the same release, so a downgrade
//! never finishes by itself (etcd finishes it once every member runs the
//! target release); it lasts until cancelled, as on an etcd 3.6 cluster whose
//! members are not replaced.

use std::sync::Arc;
use std::time::Duration;

use api::etcdserverpb::downgrade_request::DowngradeAction;
use api::etcdserverpb::{DowngradeRequest, DowngradeResponse, InternalRaftRequest, ResponseHeader};
use api::membershippb::{ClusterVersionSetRequest, DowngradeInfoSetRequest};

use crate::error::{EtcdError, EtcdResult};
use crate::member::Member;
use crate::version::MinorVersion;

/// How often the leader compares the cluster version with the downgrade
/// state (etcd's `monitorVersionInterval`: its connection read timeout less a second).
const MONITOR_EVERY: Duration = Duration::from_secs(4);

/// etcd's `EtcdServer.Downgrade`. The answer carries the cluster version
/// (`3.6`) as it was before the request took effect.
pub async fn downgrade(member: &Member, req: DowngradeRequest) -> EtcdResult<DowngradeResponse> {
    match DowngradeAction::try_from(req.action) {
        Ok(DowngradeAction::Validate) => {
            let target = MinorVersion::parse_target(&req.version)?;
            let version = answer_version(member);
            validate(member, target).await?;
            Ok(answer(member, version))
        }
        Ok(DowngradeAction::Enable) => {
            let target = MinorVersion::parse_target(&req.version).inspect_err(reject)?;
            validate(member, target).await.inspect_err(reject)?;
            let set = DowngradeInfoSetRequest { enabled: true, ver: target.to_string() };
            propose(member, set).await?;
            Ok(answer(member, answer_version(member)))
        }
        Ok(DowngradeAction::Cancel) => {
            // etcd logs a failed cancel and answers as if it had worked.
            if let Err(e) = cancel(member).await {
                tracing::warn!(error = %e, "failed to cancel downgrade");
            }
            Ok(answer(member, answer_version(member)))
        }
        Err(_) => Err(EtcdError::UnknownMethod),
    }
}

fn reject(e: &EtcdError) {
    tracing::warn!(error = %e, "reject downgrade request");
}

fn answer_version(member: &Member) -> String {
    member.versions.cluster().label()
}

fn answer(member: &Member, version: String) -> DowngradeResponse {
    let mut header = Some(ResponseHeader { revision: member.store.rev(), ..ResponseHeader::default() });
    member.fill_header(&mut header);
    DowngradeResponse { header, version }
}

/// etcd's `DowngradeValidate`, on the applied state of a linearizable read:
/// the target is one minor below the cluster version, and no downgrade is
/// enabled yet.
async fn validate(member: &Member, target: MinorVersion) -> EtcdResult<()> {
    member.read_index().await?;
    if member.versions.cluster().downgrade_target() != Some(target) {
        return Err(EtcdError::InvalidDowngradeTargetVersion);
    }
    if member.versions.downgrade_target().is_some() {
        return Err(EtcdError::DowngradeInProcess);
    }
    Ok(())
}

async fn cancel(member: &Member) -> EtcdResult<()> {
    member.read_index().await?;
    if member.versions.downgrade_target().is_none() {
        return Err(EtcdError::NoInflightDowngrade);
    }
    propose(member, DowngradeInfoSetRequest { enabled: false, ver: String::new() }).await
}

async fn propose(member: &Member, set: DowngradeInfoSetRequest) -> EtcdResult<()> {
    let irr = InternalRaftRequest { downgrade_info_set: Some(set), ..Default::default() };
    member.propose(irr, Some(&auth::AuthInfo::member_itself())).await.map(|_| ())
}

/// The leader's version monitor (etcd's `monitorClusterVersions`): every
/// [`MONITOR_EVERY`], proposes the cluster version the downgrade state wants
/// when it is not the current one. Runs for the member's life.
pub async fn monitor_cluster_version(member: Arc<Member>) {
    let mut tick = tokio::time::interval(MONITOR_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if member.raft.leader() != Some(member.member_id) {
            continue;
        }
        let Some(want) = member.versions.wanted_change() else { continue };
        let from = member.versions.cluster().label();
        tracing::info!(from = %from, to = %want.label(), "updating cluster version using v3 API");
        let set = ClusterVersionSetRequest { ver: want.to_string() };
        let irr = InternalRaftRequest { cluster_version_set: Some(set), ..Default::default() };
        if let Err(e) = member.propose(irr, Some(&auth::AuthInfo::member_itself())).await {
            // The next tick tries again.
            tracing::warn!(error = %e, "failed to update the cluster version");
        }
    }
}
