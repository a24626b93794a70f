//! The concurrency API: etcd's `v3lockpb.Lock` ([`LockService`]) and
//! `v3electionpb.Election` ([`ElectionService`]), served by the member.
//!
//! etcd 3.4 serves both as a client of its own KV API: the handlers run the
//! `clientv3/concurrency` recipes (mutex, election, session) over a loopback
//! connection. Strata runs the same recipes on the member's own operations
//! instead: every write is a txn proposed through Raft ([`Member::propose`]),
//! every read a local read after that txn or after a read index, and every
//! wait a [`RangeWaiter`] on the watch hub that wakes when a key the wait
//! depends on changes, after which the condition is read again.
//!
//! The requests are the `recipes` crate's, the same the `client` crate sends.
//! A contender for `name` owns the key `name/<lease id in lowercase hex>`
//! (etcd's `fmt.Sprintf("%s%x", "name/", lease)`), created only if absent and
//! attached to the contender's lease, so it disappears with the lease. The
//! key under `name/` with the smallest create revision holds the lock or
//! leads the election; the others wait until every older key is deleted.
//! For example, with leases `0x1a` and `0x2b` locking `l`:
//!
//! ```text
//! txn  put l/1a (lease 1a)      rev 5   l/1a is the oldest: locked
//! txn  put l/2b (lease 2b)      rev 6   waits for l/1a (create rev 5)
//! del  l/1a  (unlock / revoke)  rev 7   l/2b is the oldest: locked
//! ```
//!
//! Deliberately not here: nothing is kept in memory across requests (the
//! store is the only state), and leases are never renewed by the member —
//! that is the client's job, as with etcd. One deliberate difference from
//! etcd 3.4: a `Lock` whose own key is deleted while it waits (its lease
//! expired) fails with "mutex: session is expired", as in etcd 3.5, instead
//! of succeeding without a key.

mod election_service;
mod lock_service;
mod waiter;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use api::etcdserverpb::{
    DeleteRangeRequest, DeleteRangeResponse, InternalRaftRequest, LeaseGrantRequest, RangeRequest, RangeResponse,
    ResponseHeader, TxnRequest, TxnResponse,
};
use api::stratapb::apply_result::Response as Applied;
use tonic::Status;

pub use election_service::ElectionService;
pub use lock_service::LockService;
pub use waiter::RangeWaiter;

use crate::error::EtcdError;
use crate::kv::{self, View};
use crate::member::Member;
use crate::validate;

/// The recipes' own errors. etcd returns them as plain Go errors, which
/// grpc-go answers with code `Unknown` and the error's text; clients match
/// on these strings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecipeError {
    #[error("election: not leader")]
    NotLeader,
    #[error("election: no leader")]
    NoLeader,
    #[error("mutex: session is expired")]
    SessionExpired,
    #[error("\"leader\" field must be provided")]
    MissingLeaderKey,
}

impl From<RecipeError> for Status {
    fn from(e: RecipeError) -> Status {
        Status::unknown(e.to_string())
    }
}

/// An error of the KV operations a recipe runs. etcd's handlers meet them
/// through their loopback client, which turns every status it knows into a
/// plain Go error, so they reach the client with code `Unknown` and etcd's
/// message ("etcdserver: requested lease not found" is `Unknown` here, not
/// `NotFound` as from `Put`).
fn via_client(e: EtcdError) -> Status {
    match e {
        EtcdError::Internal(_) => e.into(),
        known => Status::unknown(known.to_string()),
    }
}

/// What the two services share: the member, the watch hub to wait on, and
/// the lease ids of sessions they grant.
#[derive(Clone)]
struct Recipes {
    member: Arc<Member>,
    hub: Arc<crate::watch::WatchHub>,
    next_lease: Arc<AtomicU64>,
}

impl Recipes {
    fn new(member: Arc<Member>, hub: Arc<crate::watch::WatchHub>) -> Recipes {
        // Seeded from the clock like the Lease service's ids, so restarts do
        // not reuse them.
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Recipes { member, hub, next_lease: Arc::new(AtomicU64::new(seed.rotate_left(17))) }
    }

    /// The lease of the request's session. etcd's `NewSession` grants a
    /// fresh lease of [`recipes::DEFAULT_SESSION_TTL_SECS`] when the request names none, and
    /// never renews it (the handler orphans the session at once); any other
    /// id is used as it is, existing or not.
    async fn session_lease(&self, lease: i64) -> Result<i64, Status> {
        if lease != 0 {
            return Ok(lease);
        }
        let id = loop {
            let n = self.next_lease.fetch_add(1, Ordering::Relaxed);
            let id = ((self.member.member_id << 40) ^ n) as i64 & i64::MAX;
            if id != 0 && !self.member.leases.exists(id) {
                break id;
            }
        };
        let grant = LeaseGrantRequest { ttl: recipes::DEFAULT_SESSION_TTL_SECS, id };
        let irr = InternalRaftRequest { lease_grant: Some(grant), ..Default::default() };
        match self.member.propose(irr, Some(&auth::AuthInfo::member_itself())).await.map_err(via_client)? {
            Applied::LeaseGrant(g) => Ok(g.id),
            _ => Err(EtcdError::Internal("unexpected apply result".into()).into()),
        }
    }

    /// Proposes a txn and completes its header.
    async fn txn(&self, t: TxnRequest) -> Result<TxnResponse, Status> {
        match self
            .member
            .propose(InternalRaftRequest { txn: Some(t), ..Default::default() }, Some(&auth::AuthInfo::member_itself()))
            .await
            .map_err(via_client)?
        {
            Applied::Txn(mut resp) => {
                self.member.fill_header(&mut resp.header);
                Ok(resp)
            }
            _ => Err(EtcdError::Internal("unexpected apply result".into()).into()),
        }
    }

    /// A delete of one key, as the client's `Delete(key)`.
    async fn delete(&self, d: DeleteRangeRequest) -> Result<DeleteRangeResponse, Status> {
        validate::delete_range(&d).map_err(via_client)?;
        let irr = InternalRaftRequest { delete_range: Some(d), ..Default::default() };
        match self.member.propose(irr, Some(&auth::AuthInfo::member_itself())).await.map_err(via_client)? {
            Applied::DeleteRange(mut resp) => {
                self.member.fill_header(&mut resp.header);
                Ok(resp)
            }
            _ => Err(EtcdError::Internal("unexpected apply result".into()).into()),
        }
    }

    /// Waits until the member's state reflects every write committed before
    /// now, for a linearizable read.
    async fn read_index(&self) -> Result<(), Status> {
        self.member.read_index().await.map_err(via_client)
    }

    /// A range on the member's current state (callers take a read index
    /// first when the read must be linearizable).
    fn range(&self, r: &RangeRequest) -> Result<RangeResponse, Status> {
        let read = self.member.store.read().map_err(|e| via_client(e.into()))?;
        let mut resp = kv::range(&View::Read(&read), r).map_err(via_client)?;
        self.member.fill_header(&mut resp.header);
        Ok(resp)
    }

    /// Waits until every key under `prefix` created before `my_rev` is
    /// deleted (etcd's `waitDeletes`). Only deletions can end the wait: create
    /// revisions only grow, so a put never adds an older key.
    ///
    /// With `mine`, a deletion of that key ends the wait with
    /// `SessionExpired`. This is etcd 3.5's answer, given as soon as the key
    /// goes rather than after the wait: etcd 3.4's mutex waits on and then
    /// hands out a lock whose key is gone, which lets two clients hold it.
    async fn wait_for_older(&self, prefix: &[u8], my_rev: i64, mine: Option<&[u8]>) -> Result<(), Status> {
        let older = recipes::created_before(prefix, my_rev);
        let mut waiter = RangeWaiter::new(&self.member, &self.hub, prefix, &older.range_end);
        loop {
            let resp = self.range(&older)?;
            if resp.kvs.is_empty() {
                return Ok(());
            }
            let mut seen = revision(&resp.header);
            loop {
                let changes = match waiter.changes_after(seen).await {
                    Ok((last, changes)) => {
                        seen = last;
                        changes
                    }
                    // History is gone: read the state again.
                    Err(EtcdError::Compacted) => break,
                    Err(e) => return Err(via_client(e)),
                };
                let mut deleted = changes.iter().filter(|kv| kv.version == 0);
                if let Some(mine) = mine
                    && deleted.clone().any(|kv| kv.key == mine)
                {
                    return Err(RecipeError::SessionExpired.into());
                }
                if deleted.next().is_some() {
                    break;
                }
            }
        }
    }
}

fn revision(h: &Option<ResponseHeader>) -> i64 {
    h.as_ref().map_or(0, |h| h.revision)
}

/// Undoes a contender's key if the request ends before it succeeds: the
/// client went away (tonic drops the handler) or the wait failed. etcd
/// does the same when the request's context is cancelled (the mutex
/// unlocks, the election resigns).
struct Cleanup {
    member: Arc<Member>,
    undo: Option<TxnRequest>,
}

impl Cleanup {
    /// Deletes `key` unconditionally (the mutex's `Unlock`).
    fn delete(member: &Arc<Member>, key: &[u8]) -> Cleanup {
        let undo = TxnRequest { success: vec![recipes::delete_op(key)], ..TxnRequest::default() };
        Cleanup { member: member.clone(), undo: Some(undo) }
    }

    /// Deletes `key` if it is still the one created at `rev` (`Resign`).
    fn resign(member: &Arc<Member>, key: &[u8], rev: i64) -> Cleanup {
        Cleanup { member: member.clone(), undo: Some(recipes::resign_txn(key, rev)) }
    }

    fn disarm(mut self) {
        self.undo = None;
    }
}

/// Lock and election calls act on the keys under `name/` (etcd's recipes
/// run them as the calling client, so its permissions apply): the caller
/// must be allowed to read them, and to write them unless it only reads.
/// Checked once at the call; the recipe's own requests then run as the
/// member.
pub(crate) fn check_keys(
    member: &Member,
    user: Option<&auth::AuthInfo>,
    key: &[u8],
    range_end: &[u8],
    write: bool,
) -> Result<(), Status> {
    member.auth.check_range(user, key, range_end).map_err(EtcdError::from)?;
    if write {
        member.auth.check(user, auth::Access::Write, key, range_end).map_err(EtcdError::from)?;
    }
    Ok(())
}

/// [`check_keys`] on every key under `name/`.
pub(crate) async fn check_name<T>(
    member: &Member,
    req: &tonic::Request<T>,
    name: &[u8],
    write: bool,
) -> Result<(), Status> {
    let user = crate::credentials::user(member, req).await?;
    let prefix = [name, b"/"].concat();
    check_keys(member, user.as_ref(), &prefix, &recipes::prefix_end(&prefix), write)
}

/// The lease a lock, campaign or proclaim attaches its key to: write access
/// to the keys already on it (etcd's `checkLeasePuts`, which its recipes'
/// puts pass as the calling client).
pub(crate) async fn check_lease<T>(member: &Member, req: &tonic::Request<T>, lease: i64) -> Result<(), Status> {
    if lease == 0 {
        return Ok(());
    }
    let user = crate::credentials::user(member, req).await?;
    let keys = member.leases.keys(lease).unwrap_or_default();
    member.auth.check_lease_keys(user.as_ref(), &keys).map_err(EtcdError::from)?;
    Ok(())
}

/// [`check_keys`] on one key.
pub(crate) async fn check_key<T>(member: &Member, req: &tonic::Request<T>, key: &[u8]) -> Result<(), Status> {
    let user = crate::credentials::user(member, req).await?;
    check_keys(member, user.as_ref(), key, &[], true)
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Some(undo) = self.undo.take() else { return };
        // Without a runtime the member is shutting down; the key's lease
        // still bounds its life.
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let member = self.member.clone();
        rt.spawn(async move {
            let irr = InternalRaftRequest { txn: Some(undo), ..Default::default() };
            if let Err(e) = member.propose(irr, Some(&auth::AuthInfo::member_itself())).await {
                tracing::warn!(error = %e, "cannot remove the key of an abandoned lock or campaign");
            }
        });
    }
}
