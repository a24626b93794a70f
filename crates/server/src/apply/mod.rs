//! The applier: executes committed Raft entries on the mvcc store.
//!
//! Entries arrive in log order from the `raft` crate. Each one runs in a
//! single mvcc write transaction that also records the entry's Raft state
//! (`consistent_index`), so a restart never applies an entry twice nor skips
//! one. Client errors (a compacted revision, a missing key for
//! `ignore_value`) are detected before the first change and travel back to the
//! proposer inside the encoded [`ApplyResult`]; storage failures are fatal.

mod auth_apply;
pub mod clock;
mod snapshot;

use api::etcdserverpb::{
    AlarmType, CompactionResponse, InternalRaftRequest, LeaseGrantResponse, LeaseRevokeResponse, ResponseHeader,
};
use api::stratapb::{ApplyResult, apply_result::Response};
use mvcc::Store;
use prost::Message;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;

// The read path's names until every caller uses `crate::kv` itself.
use crate::kv;
pub use crate::kv::{View, is_read_only, is_serializable, range, to_pb, txn};

use crate::alarms::Alarms;
use crate::error::{EtcdError, EtcdResult};
use crate::leases::Leases;
use crate::quota;
use crate::version::{MinorVersion, Versions};
use crate::watch::WatchHub;

/// What the applier keeps in memory beside the store, changed only by
/// applied entries and read by the services.
#[derive(Clone)]
pub struct Shared {
    pub leases: Arc<Leases>,
    pub alarms: Arc<Alarms>,
    pub auth: Arc<auth::AuthStore>,
    pub versions: Arc<Versions>,
}

/// Applies committed entries; see the module doc.
pub struct Applier {
    store: Store,
    alarms: Arc<Alarms>,
    /// Whether NOSPACE lets small conditional txns through (the reserve).
    reserve: bool,
    compactions: mpsc::UnboundedSender<mvcc::Compaction>,
    hub: Arc<WatchHub>,
    leases: Arc<Leases>,
    auth: Arc<auth::AuthStore>,
    versions: Arc<Versions>,
    clock: clock::RevisionClock,
}

impl Applier {
    pub fn new(
        store: Store,
        compactions: mpsc::UnboundedSender<mvcc::Compaction>,
        hub: Arc<WatchHub>,
        shared: Shared,
        reserve: bool,
    ) -> Applier {
        let clock = clock::RevisionClock::new(clock::WallClock::system());
        let Shared { leases, alarms, auth, versions } = shared;
        Applier { store, alarms, reserve, compactions, hub, leases, auth, versions, clock }
    }

    /// Applies one request (entry `index`) in `w` and encodes the answer for
    /// the proposer.
    fn apply_one(&self, w: &mut mvcc::TxnWrite<'_>, index: u64, data: &[u8]) -> Result<Vec<u8>, raft::ApplyError> {
        self.clock.record(w)?;
        let result = match InternalRaftRequest::decode(data) {
            Ok(req) => self.dispatch(&mut View::Write(w), index, &req),
            Err(e) => Err(EtcdError::Internal(format!("undecodable raft request: {e}"))),
        };
        if let Err(EtcdError::Internal(msg)) = &result
            && w.has_changes()
        {
            // Half a transaction is in the index: do not commit it.
            return Err(raft::ApplyError::new(msg.clone()));
        }
        let out = match result {
            Ok(response) => ApplyResult { response: Some(response), error: None },
            Err(e) => ApplyResult { response: None, error: Some(e.to_apply_error()) },
        };
        Ok(out.encode_to_vec())
    }

    /// Watch streams re-check their watchers once the auth store changed.
    fn wake_if_auth_changed(&self, before: u64) {
        if self.auth.revision() != before {
            self.hub.wake_all();
        }
    }

    /// etcd's auth applier: what the proposer checked, checked again at this
    /// point of the log, with the auth revision the proposer checked at.
    fn check_permissions(&self, req: &InternalRaftRequest) -> EtcdResult<()> {
        if !self.auth.is_enabled() {
            return Ok(());
        }
        let user = req
            .header
            .as_ref()
            .filter(|h| !h.username.is_empty())
            .map(|h| auth::AuthInfo { username: h.username.clone(), revision: h.auth_revision });
        let user = user.as_ref();
        let lease_keys = |id: i64| self.leases.keys(id);
        if auth_apply::needs_admin(req) {
            self.auth.check_admin(user)?;
        }
        if let Some(p) = &req.put {
            self.auth.check_put(user, p, &lease_keys)?;
        }
        if let Some(d) = &req.delete_range {
            self.auth.check_delete_range(user, d)?;
        }
        if let Some(t) = &req.txn {
            self.auth.check_txn(user, t, &lease_keys)?;
        }
        if let Some(r) = &req.lease_revoke
            && let Some(keys) = self.leases.keys(r.id)
        {
            self.auth.check_lease_keys(user, &keys)?;
        }
        // A user may read itself, and the roles it holds.
        if let Some(g) = &req.auth_user_get
            && user.is_none_or(|u| u.username != g.name)
        {
            self.auth.check_admin(user)?;
        }
        if let Some(g) = &req.auth_role_get
            && user.is_none_or(|u| !self.auth.user_has_role(&u.username, &g.role))
        {
            self.auth.check_admin(user)?;
        }
        Ok(())
    }

    fn dispatch(&self, view: &mut View<'_, '_>, index: u64, req: &InternalRaftRequest) -> EtcdResult<Response> {
        // etcd's capped applier: while NOSPACE is active, requests that add
        // data fail on every member alike, whatever the proposer checked.
        if quota::cost(req) > 0
            && self.alarms.is_active(AlarmType::Nospace)
            && !(self.reserve && quota::is_maintenance_write(req))
        {
            return Err(EtcdError::NoSpace);
        }
        // etcd's order: the capped applier (NOSPACE), then auth, then quota.
        self.check_permissions(req)?;
        if let Some(a) = &req.alarm {
            let resp = self.alarms.apply(view.writer()?.backend_txn(), a)?;
            return Ok(Response::Alarm(resp));
        }
        if let Some(r) = auth_apply::apply(&self.auth, view, index, req) {
            return r;
        }
        if let Some(m) = &req.cluster_member_attr_set {
            let attributes = m.member_attributes.clone().unwrap_or_default().encode_to_vec();
            view.writer()?
                .backend_txn()
                .put_member_attributes(m.member_id, &attributes)
                .map_err(|e| EtcdError::Internal(e.to_string()))?;
            return Ok(Response::MemberAttrSet(ResponseHeader::default()));
        }
        if let Some(r) = &req.downgrade_info_set {
            // Checked by the proposer (etcd's `DowngradeValidate`); stored as given.
            let target = if r.enabled { Some(MinorVersion::parse_target(&r.ver)?) } else { None };
            self.versions.set_downgrade(view.writer()?.backend_txn(), target).map_err(internal)?;
            return Ok(Response::ClusterChange(ResponseHeader::default()));
        }
        if let Some(r) = &req.cluster_version_set {
            let version = MinorVersion::parse_target(&r.ver)?;
            self.versions.set_cluster(view.writer()?.backend_txn(), version).map_err(internal)?;
            tracing::info!(cluster_version = %version.label(), "cluster version is updated");
            return Ok(Response::ClusterChange(ResponseHeader::default()));
        }
        if let Some(p) = &req.put {
            kv::check_put(view, p, &|id| self.leases.exists(id))?;
            return Ok(Response::Put(kv::put(view, p)?));
        }
        if let Some(d) = &req.delete_range {
            return Ok(Response::DeleteRange(kv::delete_range(view, d)?));
        }
        if let Some(t) = &req.txn {
            return Ok(Response::Txn(kv::txn(view, t, &|id| self.leases.exists(id))?));
        }
        if let Some(c) = &req.compaction {
            let job = view.writer()?.compact(c.revision)?;
            // The receiver lives as long as the server; if it is gone the
            // member is shutting down and the restart resumes the job.
            let _ = self.compactions.send(job);
            let header = Some(ResponseHeader { revision: view.rev(), ..ResponseHeader::default() });
            return Ok(Response::Compaction(CompactionResponse { header }));
        }
        if let Some(g) = &req.lease_grant {
            let now = self.leases.now();
            let info = self.leases.lessor().grant(view.writer()?.backend_txn(), g.id, g.ttl, now)?;
            let header = Some(ResponseHeader { revision: view.rev(), ..ResponseHeader::default() });
            return Ok(Response::LeaseGrant(LeaseGrantResponse {
                header,
                id: info.id,
                ttl: info.ttl_secs,
                error: String::new(),
            }));
        }
        if let Some(r) = &req.lease_revoke {
            let w = view.writer()?;
            let keys = self.leases.lessor().revoke(w.backend_txn(), r.id)?;
            // Every attached key goes in this one revision.
            for key in &keys {
                w.delete_range(mvcc::KeyRange::Single(key))?;
            }
            let header = Some(ResponseHeader { revision: view.rev(), ..ResponseHeader::default() });
            return Ok(Response::LeaseRevoke(LeaseRevokeResponse { header }));
        }
        Err(EtcdError::Internal("unknown raft request".into()))
    }
}

impl raft::Apply for Applier {
    fn applied_state(&self) -> Result<Option<Vec<u8>>, raft::ApplyError> {
        self.store.consistent_index().map_err(fatal)
    }

    fn apply(&self, index: u64, data: &[u8], raft_state: &[u8]) -> Result<Vec<u8>, raft::ApplyError> {
        let auth_before = self.auth.revision();
        let mut w = self.store.write().map_err(fatal)?;
        let out = self.apply_one(&mut w, index, data)?;
        let committed = w.end(raft_state).map_err(fatal)?;
        self.leases.observe(&committed.changes);
        self.hub.publish(vec![committed]);
        self.wake_if_auth_changed(auth_before);
        Ok(out)
    }

    /// One storage commit for the whole run: each entry is a revision of its
    /// own ([`mvcc::TxnWrite::chain`]), all become visible together.
    fn apply_batch(&self, entries: &[raft::BatchEntry<'_>]) -> Result<Vec<Vec<u8>>, raft::ApplyError> {
        let auth_before = self.auth.revision();
        let mut w = self.store.write().map_err(fatal)?;
        let mut out = Vec::with_capacity(entries.len());
        let mut committed = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            out.push(match e.data {
                Some(data) => self.apply_one(&mut w, e.index, data)?,
                None => Vec::new(),
            });
            if i + 1 == entries.len() {
                let c = w.end(&e.raft_state).map_err(fatal)?;
                self.leases.observe(&c.changes);
                committed.push(c);
                break;
            }
            let (c, next) = w.chain(&e.raft_state).map_err(fatal)?;
            // Attach before the next entry: it may revoke the lease.
            self.leases.observe(&c.changes);
            committed.push(c);
            w = next;
        }
        // Watchers hear of the run once it is visible to readers.
        self.hub.publish(committed);
        self.wake_if_auth_changed(auth_before);
        Ok(out)
    }

    fn apply_meta(&self, _index: u64, raft_state: &[u8]) -> Result<(), raft::ApplyError> {
        let w = self.store.write().map_err(fatal)?;
        w.end(raft_state).map_err(fatal)?;
        Ok(())
    }

    fn build_snapshot(&self, path: &Path) -> Result<Vec<u8>, raft::ApplyError> {
        snapshot::build(&self.store, path)
    }

    fn snapshot_state(&self, path: &Path) -> Result<Vec<u8>, raft::ApplyError> {
        snapshot::raft_state(path)
    }

    /// The store takes the snapshot's database, then everything kept in
    /// memory beside it is reloaded from there: leases and their keys,
    /// alarms, and the watch window (streams catch up from the store).
    fn install_snapshot(&self, path: &Path) -> Result<(), raft::ApplyError> {
        if let Some(job) = snapshot::install(&self.store, path)? {
            let _ = self.compactions.send(job);
        }
        self.leases.reload(&self.store).map_err(|e| raft::ApplyError::new(e.to_string()))?;
        self.alarms.reload(&self.store)?;
        let read = self.store.backend().begin_read().map_err(|e| raft::ApplyError::new(e.to_string()))?;
        self.auth.reload(&read).map_err(|e| raft::ApplyError::new(e.to_string()))?;
        self.versions.reload(&read).map_err(|e| raft::ApplyError::new(e.to_string()))?;
        self.hub.reset(self.store.rev());
        Ok(())
    }
}

fn internal(e: backend::Error) -> EtcdError {
    EtcdError::Internal(e.to_string())
}

fn fatal(e: mvcc::Error) -> raft::ApplyError {
    tracing::error!(error = %e, "apply failed; the member stops applying");
    raft::ApplyError::new(e.to_string())
}

#[cfg(test)]
mod tests;
