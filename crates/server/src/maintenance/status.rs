//! `Status`, `Hash` and `HashKV`: what this member holds, and checksums to
//! compare members by.

use api::etcdserverpb::{HashKvResponse, HashResponse, ResponseHeader, StatusResponse};

use crate::error::{EtcdError, EtcdResult};
use crate::member::Member;

/// etcd's `Status`: local, no Raft round (a member without a leader answers
/// too, with `leader` 0).
pub fn status(member: &Member) -> StatusResponse {
    let usage = member.usage();
    let mut resp = StatusResponse {
        header: Some(ResponseHeader { revision: member.store.rev(), ..ResponseHeader::default() }),
        version: crate::version::SERVER_VERSION.to_string(),
        db_size: usage.db_size as i64,
        db_size_in_use: usage.in_use as i64,
        leader: member.raft.leader().unwrap_or(0),
        raft_index: member.raft.commit_index(),
        raft_term: member.raft.term(),
        raft_applied_index: member.raft.applied_index(),
        errors: member.active_alarms().iter().map(crate::alarms::describe).collect(),
        is_learner: member.raft.is_learner(),
        storage_version: member.versions.storage().to_string(),
        db_size_quota: member.quota.reported,
        downgrade_info: Some(member.versions.downgrade_info()),
    };
    member.fill_header(&mut resp.header);
    resp
}

/// etcd's `Hash`: a checksum of the whole backend, at the current revision.
pub async fn hash(member: &Member) -> EtcdResult<HashResponse> {
    let rev = member.store.rev();
    let backend = member.store.backend().clone();
    let hash = tokio::task::spawn_blocking(move || backend.hash())
        .await
        .map_err(|e| EtcdError::Internal(e.to_string()))?
        .map_err(|e| EtcdError::Internal(e.to_string()))?;
    let mut resp = HashResponse { header: Some(ResponseHeader { revision: rev, ..Default::default() }), hash };
    member.fill_header(&mut resp.header);
    Ok(resp)
}

/// etcd's `HashKV` at `rev` (0: current).
pub async fn hash_kv(member: &Member, rev: i64) -> EtcdResult<HashKvResponse> {
    let store = member.store.clone();
    let h = tokio::task::spawn_blocking(move || store.hash_kv(rev))
        .await
        .map_err(|e| EtcdError::Internal(e.to_string()))??;
    let mut resp = HashKvResponse {
        header: Some(ResponseHeader { revision: h.current_rev, ..Default::default() }),
        hash: h.hash,
        compact_revision: h.compact_rev,
        hash_revision: h.hash_rev,
    };
    member.fill_header(&mut resp.header);
    Ok(resp)
}
