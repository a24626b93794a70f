//! [`Member`]: one running member — its store, its Raft node, its ids — and
//! the operations every service needs: propose, read index, fill a header.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use api::etcdserverpb::alarm_request::AlarmAction;
use api::etcdserverpb::{AlarmMember, AlarmRequest, AlarmType, InternalRaftRequest, RequestHeader, ResponseHeader};
use api::stratapb::{ApplyResult, apply_result::Response};
use mvcc::Store;
use prost::Message;
use raft::RaftNode;
use tokio::sync::watch;

use crate::alarms::Alarms;
use crate::error::{EtcdError, EtcdResult};
use crate::quota::Quota;
use crate::usage::InUse;

/// Server-side time limit of a proposal (etcd: 5 s + 2 × election timeout).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(7);

/// Request limits from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_request_bytes: usize,
    pub max_txn_ops: usize,
}

/// A running member.
pub struct Member {
    pub store: Store,
    pub leases: Arc<crate::leases::Leases>,
    pub alarms: Arc<Alarms>,
    pub quota: Quota,
    pub in_use: InUse,
    pub raft: RaftNode,
    pub member_id: u64,
    pub cluster_id: u64,
    pub limits: Limits,
    pub auth: Arc<auth::AuthStore>,
    /// The cluster version and the downgrade state.
    pub versions: Arc<crate::version::Versions>,
    /// `--client-cert-auth`: a verified client certificate's common name
    /// names the user when a request carries no token.
    pub client_cert_auth: bool,
    /// `--strata-auth-revoke-cancels-watches`.
    pub revoke_cancels_watches: bool,
    compaction_finished: watch::Receiver<i64>,
    next_request_id: AtomicU64,
}

impl Member {
    pub fn new(
        store: Store,
        shared: crate::apply::Shared,
        quota: Quota,
        raft: RaftNode,
        ids: (u64, u64),
        limits: Limits,
        compaction_finished: watch::Receiver<i64>,
    ) -> Member {
        let crate::apply::Shared { leases, alarms, auth, versions } = shared;
        Member {
            store,
            leases,
            alarms,
            quota,
            in_use: InUse::default(),
            raft,
            member_id: ids.0,
            cluster_id: ids.1,
            limits,
            auth,
            versions,
            client_cert_auth: false,
            revoke_cancels_watches: true,
            compaction_finished,
            next_request_id: AtomicU64::new(1),
        }
    }

    /// Completes a response header with the member's ids and term. The
    /// revision was set by whoever produced the response.
    pub fn fill_header(&self, header: &mut Option<ResponseHeader>) {
        let h = header.get_or_insert_with(ResponseHeader::default);
        h.cluster_id = self.cluster_id;
        h.member_id = self.member_id;
        h.raft_term = self.raft.term();
    }

    /// Waits until the local store reflects every write committed before now.
    pub async fn read_index(&self) -> EtcdResult<()> {
        if self.raft.is_learner() {
            return Err(EtcdError::NotSupportedForLearner);
        }
        match tokio::time::timeout(REQUEST_TIMEOUT, self.raft.read_index()).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(EtcdError::Timeout),
        }
    }

    /// Proposes a client's request through Raft and returns what the applier
    /// answered, after the checks etcd makes before proposing.
    ///
    /// `user` sent it (by token or certificate; `None`: no one), and the
    /// applier checks its permissions again at the auth revision of the
    /// check before; the member's own requests pass
    /// [`auth::AuthInfo::member_itself`].
    pub async fn propose(&self, mut irr: InternalRaftRequest, user: Option<&auth::AuthInfo>) -> EtcdResult<Response> {
        if let Some(ai) = user {
            irr.header = Some(RequestHeader {
                username: ai.username.clone(),
                auth_revision: ai.revision,
                ..RequestHeader::default()
            });
        }
        // A learner only publishes its own attributes, as etcd's.
        if irr.cluster_member_attr_set.is_none() && self.raft.is_learner() {
            return Err(EtcdError::NotSupportedForLearner);
        }
        self.check_quota(&irr).await?;
        self.submit(irr).await
    }

    /// Puts a request in the Raft log, waits for it to be applied here and
    /// turns the applier's answer back into a response or the very error
    /// variant the applier returned.
    async fn submit(&self, mut irr: InternalRaftRequest) -> EtcdResult<Response> {
        let id = (self.member_id << 16) ^ self.next_request_id.fetch_add(1, Ordering::Relaxed);
        irr.header.get_or_insert_with(RequestHeader::default).id = id;
        let data = irr.encode_to_vec();
        if data.len() > self.limits.max_request_bytes {
            return Err(EtcdError::RequestTooLarge);
        }
        let out = match tokio::time::timeout(REQUEST_TIMEOUT, self.raft.write(data)).await {
            Ok(r) => r?,
            Err(_) => return Err(EtcdError::Timeout),
        };
        let result = ApplyResult::decode(out.as_slice())
            .map_err(|e| EtcdError::Internal(format!("undecodable apply result: {e}")))?;
        if let Some(e) = result.error {
            return Err(EtcdError::from_apply_error(&e));
        }
        result.response.ok_or_else(|| EtcdError::Internal("empty apply result".into()))
    }

    /// The alarms active in the cluster, as `Maintenance.Alarm(GET)` lists them.
    pub fn active_alarms(&self) -> Vec<AlarmMember> {
        self.alarms.list(AlarmType::None)
    }

    /// Resolves each time a compaction finishes deleting.
    pub fn compaction_finished(&self) -> watch::Receiver<i64> {
        self.compaction_finished.clone()
    }

    /// Proposes raising or clearing an alarm of this member. An alarm adds no
    /// data, so it skips the quota check that may have called this.
    pub async fn set_alarm(&self, action: AlarmAction, alarm: AlarmType) -> EtcdResult<Response> {
        let req = AlarmRequest { action: action as i32, member_id: self.member_id, alarm: alarm as i32 };
        let irr = InternalRaftRequest { alarm: Some(req), ..Default::default() };
        if self.raft.is_learner() {
            return Err(EtcdError::NotSupportedForLearner);
        }
        self.submit(irr).await
    }

    /// Waits until the compaction at `rev` has deleted everything it should.
    pub async fn wait_compaction(&self, rev: i64) -> EtcdResult<()> {
        let mut rx = self.compaction_finished.clone();
        rx.wait_for(|f| *f >= rev).await.map_err(|_| EtcdError::Stopped)?;
        Ok(())
    }
}
