//! This member's place in a cluster: the members a new cluster starts with
//! (`--initial-cluster`), and the duties that move with leadership.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use api::etcdserverpb::InternalRaftRequest;
use api::identity;
use api::membershippb::{Attributes, ClusterMemberAttrSetRequest};
use prost::Message;

use crate::config::Config;
use crate::member::Member;

/// How often leadership is checked for the duties that follow it.
const LEADERSHIP_CHECK: Duration = Duration::from_millis(100);

/// The members a fresh Raft log starts with: member id → first peer URL, from
/// `--initial-cluster` (this member's own entry uses its advertised peer
/// URLs, as etcd does). Empty for a single member, which starts alone.
pub fn initial_members(cfg: &Config, own_id: u64) -> BTreeMap<u64, String> {
    let Some(initial) = cfg.initial_cluster.as_deref() else { return BTreeMap::new() };
    let members: BTreeMap<u64, String> = identity::initial_cluster(initial)
        .iter()
        .filter_map(|(name, urls)| {
            if *name == cfg.name {
                Some((own_id, cfg.initial_advertise_peer_urls.first()?.clone()))
            } else {
                Some((identity::member_id(urls, &cfg.initial_cluster_token), urls.first()?.clone()))
            }
        })
        .collect();
    if members.len() <= 1 { BTreeMap::new() } else { members }
}

/// The ids of a member started with `--initial-cluster-state existing` on a
/// fresh data dir: the cluster, asked on the other peer URLs of
/// `--initial-cluster`, must already list this member's advertised peer URL
/// (a `member add` came first), whose id it then takes, as etcd's does.
pub async fn join_ids(cfg: &Config) -> Result<(u64, u64), String> {
    let own = &cfg.initial_advertise_peer_urls;
    let peers: Vec<String> = cfg
        .initial_cluster
        .as_deref()
        .map(identity::initial_cluster)
        .unwrap_or_default()
        .into_values()
        .flatten()
        .filter(|u| !own.contains(u))
        .collect();
    if peers.is_empty() {
        return Err("--initial-cluster-state existing needs the other members in --initial-cluster".into());
    }
    // A follower may not have appended the entry that added this member yet
    // (`member add` answers once a quorum has it): ask every peer, and again
    // for a few seconds, before giving up.
    let deadline = tokio::time::Instant::now() + JOIN_WAIT;
    loop {
        let (mut answered, mut errors) = (false, Vec::new());
        for peer in &peers {
            match raft::fetch_cluster(std::slice::from_ref(peer), Duration::from_secs(2)).await {
                Ok((cluster_id, members)) => {
                    answered = true;
                    if let Some(m) = members.iter().find(|m| own.contains(&m.peer_url)) {
                        return Ok((m.id, cluster_id));
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(if answered {
                format!(
                    "member {} with peer URLs {own:?} is not in the cluster's configuration; add it first (member add)",
                    cfg.name
                )
            } else {
                format!("cannot fetch the cluster's members from {peers:?}: {}", errors.join("; "))
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Stops the member (`removed` turns true) once it learns it was removed
/// (its configuration no longer has it, or the others refuse it as a
/// stranger): a removed member leaves, as etcd's does, rather than campaign
/// against the cluster that removed it.
pub async fn leave_when_removed(member: Arc<Member>, removed: tokio::sync::watch::Sender<bool>) {
    let mut tick = tokio::time::interval(LEADERSHIP_CHECK * 5);
    // A member joining an existing cluster may install a snapshot taken before
    // it was added: only a configuration that had it and then lost it counts.
    let mut was_member = false;
    loop {
        tick.tick().await;
        let listed = member.raft.members().iter().any(|m| m.id == member.member_id);
        let dropped = was_member && !listed;
        was_member |= listed;
        if dropped || member.raft.is_removed() {
            tracing::error!(
                member = %format!("{:x}", member.member_id),
                "the member has been permanently removed from the cluster"
            );
            let _ = removed.send(true);
            return;
        }
    }
}

/// How long a member joining with `--initial-cluster-state existing` keeps
/// looking for itself in the configurations its peers report.
const JOIN_WAIT: Duration = Duration::from_secs(3);

/// How long to wait before proposing the attributes again after a failure.
const PUBLISH_RETRY: Duration = Duration::from_millis(500);

/// Publishes this member's name and client URLs through Raft (etcd's
/// `ClusterMemberAttrSetRequest`), so every member's `MemberList` shows them;
/// done once the stored attributes match, retried until a leader takes it.
/// Refuses (an error, the member stops) a name another member of the
/// configuration already published: two members called `m1` would make
/// `--initial-cluster` lines and `member list` ambiguous.
pub async fn publish_attributes(member: Arc<Member>, name: String, client_urls: Vec<String>) -> Result<(), String> {
    let want = Attributes { name, client_urls };
    loop {
        if let Some(other) = name_taken(&member, &want.name).await {
            return Err(format!("member name {:?} is already used by member {other:x}", want.name));
        }
        let stored = member.store.backend().begin_read().and_then(|r| r.member_attributes());
        let published = stored.ok().and_then(|all| {
            all.into_iter()
                .find(|(id, _)| *id == member.member_id)
                .and_then(|(_, bytes)| Attributes::decode(bytes.as_slice()).ok())
        });
        if published.as_ref() == Some(&want) {
            return Ok(());
        }
        let req = ClusterMemberAttrSetRequest { member_id: member.member_id, member_attributes: Some(want.clone()) };
        let irr = InternalRaftRequest { cluster_member_attr_set: Some(req), ..Default::default() };
        match member.propose(irr, Some(&auth::AuthInfo::member_itself())).await {
            Ok(_) => {
                tracing::info!(name = %want.name, client_urls = ?want.client_urls, "published local member to cluster through raft")
            }
            Err(e) => {
                tracing::debug!(error = %e, "publishing the member's attributes; retrying");
                tokio::time::sleep(PUBLISH_RETRY).await;
            }
        }
    }
}

/// Another member of the configuration that published `name`, once this
/// member's store holds everything committed (Raft's read index, which a
/// learner may use for this); None when none has, or when that cannot be
/// known yet (no leader: publishing waits for one anyway).
async fn name_taken(member: &Member, name: &str) -> Option<u64> {
    if name.is_empty() || member.raft.read_index().await.is_err() {
        return None;
    }
    let members = crate::cluster_service::members(member).ok()?;
    members.iter().find(|m| m.id != member.member_id && m.name == name).map(|m| m.id)
}

/// Keeps the lessor's role in step with Raft leadership: only the leader
/// counts down leases (and proposes their expiry); on gaining leadership
/// every lease gets a fresh TTL, as etcd's lessor does on promotion.
pub async fn follow_leadership(member: Arc<Member>, extend: Duration) {
    let mut leading = false;
    let mut changes = member.raft.subscribe();
    loop {
        // Woken by any Raft state change, so the lessor follows leadership
        // within the change; the timeout only guards against a missed wake.
        if let Ok(false) = tokio::time::timeout(LEADERSHIP_CHECK, changes.changed()).await {
            // Raft has stopped (the member is shutting down): nothing to follow.
            tokio::time::sleep(LEADERSHIP_CHECK).await;
        }
        let now_leading = member.raft.leader() == Some(member.member_id);
        if now_leading == leading {
            continue;
        }
        leading = now_leading;
        let now = member.leases.now();
        let mut lessor = member.leases.lessor();
        if leading {
            tracing::info!("became leader: leases count down here");
            lessor.promote(now, extend);
        } else {
            tracing::info!("no longer leader: leases count down on the leader");
            lessor.demote();
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn initial_members_come_from_initial_cluster_with_etcds_ids() {
        let cfg = Config::parse_from([
            "strata",
            "--name",
            "m2",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:2382",
            "--initial-cluster",
            "m1=http://127.0.0.1:2381,m2=http://127.0.0.1:2382,m3=http://127.0.0.1:2383",
        ]);
        let own = identity::member_id(&["http://127.0.0.1:2382".to_string()], "etcd-cluster");
        let members = initial_members(&cfg, own);
        assert_eq!(members.len(), 3);
        assert_eq!(members[&own], "http://127.0.0.1:2382");
        let m1 = identity::member_id(&["http://127.0.0.1:2381".to_string()], "etcd-cluster");
        assert_eq!(members[&m1], "http://127.0.0.1:2381");
        let single = Config::parse_from(["strata"]);
        assert!(initial_members(&single, own).is_empty());
    }
}
