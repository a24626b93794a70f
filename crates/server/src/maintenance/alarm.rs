//! `Alarm`: list, raise and clear alarms; and the job that clears NOSPACE by
//! itself once the member has room again (Strata's default).

use std::sync::Arc;
use std::time::Duration;

use api::etcdserverpb::alarm_request::AlarmAction;
use api::etcdserverpb::{AlarmRequest, AlarmResponse, AlarmType, InternalRaftRequest, ResponseHeader};
use api::stratapb::apply_result::Response;

use crate::error::{EtcdError, EtcdResult};
use crate::member::Member;

/// How often the member compares its usage with the low-water mark.
const DISARM_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// etcd's `Alarm`. GET is answered from the applied state after a read
/// index (etcd sends it through the log; the answer is the same).
/// ACTIVATE/DEACTIVATE go through the log. With a header, as etcd 3.5+
/// (3.4 sent none).
pub async fn alarm(member: &Member, req: AlarmRequest, user: Option<&auth::AuthInfo>) -> EtcdResult<AlarmResponse> {
    let mut resp = match AlarmAction::try_from(req.action) {
        Ok(AlarmAction::Get) => {
            member.read_index().await?;
            let kind = AlarmType::try_from(req.alarm).unwrap_or(AlarmType::None);
            AlarmResponse { header: None, alarms: member.alarms.list(kind) }
        }
        Ok(AlarmAction::Activate | AlarmAction::Deactivate) => {
            match member.propose(InternalRaftRequest { alarm: Some(req), ..Default::default() }, user).await? {
                Response::Alarm(resp) => resp,
                _ => return Err(EtcdError::Internal("unexpected apply result".into())),
            }
        }
        Err(_) => AlarmResponse::default(),
    };
    resp.header = Some(ResponseHeader { revision: member.store.rev(), ..ResponseHeader::default() });
    member.fill_header(&mut resp.header);
    Ok(resp)
}

/// Clears this member's NOSPACE alarm once its usage is below the low-water
/// mark, unless `--strata-nospace-auto-disarm=false`. Only the member that
/// raised an alarm knows its own usage, so each member clears its own.
pub async fn disarm_when_below_low_water(member: Arc<Member>) {
    if !member.quota.auto_disarm {
        return;
    }
    let mut tick = tokio::time::interval(DISARM_CHECK_INTERVAL);
    loop {
        tick.tick().await;
        let mine = member.alarms.list(AlarmType::Nospace).iter().any(|a| a.member_id == member.member_id);
        if !mine || !member.quota.below_low_water(member.usage()) {
            continue;
        }
        let usage = member.usage();
        tracing::info!(
            db_size_bytes = usage.db_size,
            db_size_in_use_bytes = usage.in_use,
            quota_size_bytes = member.quota.limit.unwrap_or(0),
            "usage is below the low-water mark; clearing NOSPACE"
        );
        if let Err(e) = member.set_alarm(AlarmAction::Deactivate, AlarmType::Nospace).await {
            tracing::warn!(error = %e, "failed to clear NOSPACE; retrying");
        }
    }
}
