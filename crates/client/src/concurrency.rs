//! clientv3's concurrency recipes (`clientv3/concurrency`), built on KV txns, watches
//! and a kept-alive lease, as etcdctl's `lock` and `elect` use them:
//!
//! - a [`Session`] is a lease renewed in the background until it is lost;
//! - a [`Mutex`] named `n` is the key `n/<lease in hex>`, put with the session's lease;
//!   its holder is the key with the lowest create revision under `n/`, and a waiter
//!   waits for the deletion of every key created before its own;
//! - an [`Election`] is the same queue, whose first key's value is the leader's proposal.
//!
//! Like clientv3, nothing here uses the server's Lock or Election services.

use crate::{Client, Error, Result, prefix_end};
use api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use api::etcdserverpb::range_request::{SortOrder, SortTarget};
use api::etcdserverpb::request_op::Request;
use api::etcdserverpb::response_op::Response;
use api::etcdserverpb::{
    Compare, DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest, PutRequest, RangeRequest, RangeResponse,
    RequestOp, ResponseHeader, TxnRequest, TxnResponse, WatchCreateRequest,
};
use api::mvccpb::KeyValue;
use api::mvccpb::event::EventType;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// clientv3's default session TTL, in seconds.
pub const DEFAULT_SESSION_TTL: i64 = 60;

/// clientv3's lessor tick: how often a due renewal is sent, and the pause before a
/// broken keep-alive stream is reopened.
const TICK: Duration = Duration::from_millis(500);

/// A lease kept alive in the background (clientv3's `concurrency.Session`).
pub struct Session {
    client: Client,
    lease: i64,
    done: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({:x})", self.lease)
    }
}

impl Session {
    /// Grants a lease of `ttl` seconds (clientv3's default, 60, when `ttl` is not
    /// positive) and starts renewing it.
    pub async fn new(client: &Client, ttl: i64) -> Result<Session> {
        let ttl = if ttl > 0 { ttl } else { DEFAULT_SESSION_TTL };
        let resp = client.lease_grant(LeaseGrantRequest { ttl, id: 0 }).await?;
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(keep_alive(client.clone(), resp.id, resp.ttl, tx));
        Ok(Session { client: client.clone(), lease: resp.id, done: rx, task })
    }

    /// The session's lease.
    pub fn lease(&self) -> i64 {
        self.lease
    }

    /// The client the session uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Resolves once the lease is lost: expired, revoked, or not renewed within its TTL.
    pub async fn done(&self) {
        let mut rx = self.done.clone();
        let _ = rx.wait_for(|lost| *lost).await;
    }

    /// Stops renewing and revokes the lease (deleting every key attached to it).
    pub async fn close(self) -> Result<()> {
        self.task.abort();
        self.client.lease_revoke(LeaseRevokeRequest { id: self.lease }).await.map(|_| ())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Renews lease `id` as clientv3's lessor does: at once, then a third of the TTL after
/// each response, retrying every tick while no response comes; gives up when the TTL
/// passes without one or the member says the lease is gone.
async fn keep_alive(client: Client, id: i64, ttl: i64, done: watch::Sender<bool>) {
    let secs = |t: i64| Duration::from_secs(t.unsigned_abs());
    let mut deadline = Instant::now() + secs(ttl);
    let mut due = Instant::now();
    'streams: loop {
        let mut stream = client.lease_keep_alive();
        loop {
            if Instant::now() >= due && stream.keep_alive(id).is_err() {
                break;
            }
            tokio::select! {
                resp = stream.message() => match resp {
                    Ok(Some(r)) if r.id == id => {
                        if r.ttl <= 0 {
                            break 'streams;
                        }
                        due = Instant::now() + secs(r.ttl) / 3;
                        deadline = Instant::now() + secs(r.ttl);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                },
                () = tokio::time::sleep(TICK) => {}
                () = tokio::time::sleep_until(deadline) => break 'streams,
            }
        }
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let _ = done.send(true);
}

/// The key a session's lease owns under `prefix`: `prefix` then the lease id in
/// lower-case hex, as Go's `%x` prints it.
pub fn lease_key(prefix: &[u8], lease: i64) -> Vec<u8> {
    let hex = if lease < 0 { format!("-{:x}", lease.unsigned_abs()) } else { format!("{lease:x}") };
    let mut key = prefix.to_vec();
    key.extend_from_slice(hex.as_bytes());
    key
}

/// A distributed lock (clientv3's `concurrency.Mutex`).
#[derive(Debug)]
pub struct Mutex {
    client: Client,
    lease: i64,
    prefix: Vec<u8>,
    key: Option<Vec<u8>>,
    header: Option<ResponseHeader>,
}

impl Mutex {
    /// The lock `name` (its keys are under `name/`), held with `session`'s lease.
    pub fn new(session: &Session, name: &[u8]) -> Mutex {
        let mut prefix = name.to_vec();
        prefix.push(b'/');
        Mutex { client: session.client.clone(), lease: session.lease, prefix, key: None, header: None }
    }

    /// Queues for the lock and waits until it is held. The key is put before the wait:
    /// if this future is dropped while waiting, call [`unlock`](Mutex::unlock).
    pub async fn lock(&mut self) -> Result<()> {
        let key = lease_key(&self.prefix, self.lease);
        self.key = Some(key.clone());
        let resp = self
            .client
            .txn(TxnRequest {
                compare: vec![create_revision_is(&key, 0)],
                success: vec![put_op(&key, b"", self.lease), range_op(first_created(&self.prefix))],
                failure: vec![range_op(get_key(&key)), range_op(first_created(&self.prefix))],
            })
            .await?;
        let header = resp.header.unwrap_or_default();
        let my_rev = if resp.succeeded { header.revision } else { create_revision(&resp, 0)? };
        let owner = first_kv(&resp, 1);
        if owner.is_none_or(|kv| kv.create_revision == my_rev) {
            self.header = Some(header);
            return Ok(());
        }
        match wait_deletes(&self.client, &self.prefix, my_rev - 1).await {
            Ok(h) => {
                self.header = Some(h);
                Ok(())
            }
            Err(e) => {
                let _ = self.unlock().await;
                Err(e)
            }
        }
    }

    /// Deletes the lock's key (releasing the lock or leaving the queue).
    pub async fn unlock(&mut self) -> Result<()> {
        if let Some(key) = self.key.take() {
            self.client.delete_range(DeleteRangeRequest { key, ..Default::default() }).await?;
        }
        Ok(())
    }

    /// The key this mutex queued with (empty before [`lock`](Mutex::lock)).
    pub fn key(&self) -> &[u8] {
        self.key.as_deref().unwrap_or_default()
    }

    /// The header of the response that granted the lock.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }
}

/// A leader election (clientv3's `concurrency.Election`).
#[derive(Debug)]
pub struct Election {
    client: Client,
    lease: i64,
    prefix: Vec<u8>,
    leader: Option<(Vec<u8>, i64)>,
    header: Option<ResponseHeader>,
}

impl Election {
    /// The election `name` (its keys are under `name/`), joined with `session`'s lease.
    pub fn new(session: &Session, name: &[u8]) -> Election {
        let mut prefix = name.to_vec();
        prefix.push(b'/');
        Election { client: session.client.clone(), lease: session.lease, prefix, leader: None, header: None }
    }

    /// Puts the candidate key with `value` and waits until it is the oldest, i.e. this
    /// session leads. If this future is dropped while waiting, call
    /// [`resign`](Election::resign).
    pub async fn campaign(&mut self, value: &[u8]) -> Result<()> {
        let key = lease_key(&self.prefix, self.lease);
        let resp = self
            .client
            .txn(TxnRequest {
                compare: vec![create_revision_is(&key, 0)],
                success: vec![put_op(&key, value, self.lease)],
                failure: vec![range_op(get_key(&key))],
            })
            .await?;
        let header = resp.header.unwrap_or_default();
        let mut rev = header.revision;
        if !resp.succeeded {
            rev = create_revision(&resp, 0)?;
            self.leader = Some((key.clone(), rev));
            if first_kv(&resp, 0).is_some_and(|kv| kv.value != value)
                && let Err(e) = self.proclaim(value).await
            {
                let _ = self.resign().await;
                return Err(e);
            }
        }
        self.leader = Some((key, rev));
        match wait_deletes(&self.client, &self.prefix, rev - 1).await {
            Ok(_) => {
                self.header = Some(header);
                Ok(())
            }
            Err(e) => {
                self.leader = None;
                Err(e)
            }
        }
    }

    /// Replaces the leader's value, if this session still holds its candidate key.
    pub async fn proclaim(&mut self, value: &[u8]) -> Result<()> {
        let Some((key, rev)) = self.leader.clone() else { return Err(Error::Recipe("election: not leader".into())) };
        let resp = self
            .client
            .txn(TxnRequest {
                compare: vec![create_revision_is(&key, rev)],
                success: vec![put_op(&key, value, self.lease)],
                failure: vec![],
            })
            .await?;
        if !resp.succeeded {
            self.leader = None;
            return Err(Error::Recipe("election: not leader".into()));
        }
        self.header = resp.header;
        Ok(())
    }

    /// Deletes the candidate key, if this session still holds it.
    pub async fn resign(&mut self) -> Result<()> {
        let Some((key, rev)) = self.leader.take() else { return Ok(()) };
        let resp = self
            .client
            .txn(TxnRequest {
                compare: vec![create_revision_is(&key, rev)],
                success: vec![RequestOp {
                    request: Some(Request::RequestDeleteRange(DeleteRangeRequest { key, ..Default::default() })),
                }],
                failure: vec![],
            })
            .await?;
        self.header = resp.header;
        Ok(())
    }

    /// The candidate key (empty when not campaigning).
    pub fn key(&self) -> &[u8] {
        self.leader.as_ref().map(|(k, _)| k.as_slice()).unwrap_or_default()
    }

    /// Calls `on_leader` with each leader in turn, and again whenever the leader's value
    /// changes, as clientv3's `Observe` does (the response holds the leader's key as a
    /// one-key range). Returns when a read or watch fails or the watch stream ends.
    pub async fn observe(&self, mut on_leader: impl FnMut(&RangeResponse)) -> Result<()> {
        loop {
            let mut resp = self.client.range(first_created(&self.prefix)).await?;
            let (mut header, kv) = match resp.kvs.first() {
                Some(kv) => (resp.header.unwrap_or_default(), kv.clone()),
                None => {
                    let rev = resp.header.map(|h| h.revision).unwrap_or_default();
                    first_put(&self.client, &self.prefix, rev).await?
                }
            };
            if resp.kvs.is_empty() {
                header.revision = kv.mod_revision;
            }
            // The first report is a fresh response (count 0); later ones reuse the read's.
            on_leader(&RangeResponse { header: Some(header), kvs: vec![kv.clone()], more: false, count: 0 });
            let mut w = self.client.watch();
            w.create(WatchCreateRequest {
                key: kv.key.clone(),
                start_revision: header.revision + 1,
                ..Default::default()
            })?;
            'watch: loop {
                let Some(wr) = w.message().await? else { return Err(lost()) };
                if wr.canceled {
                    return Err(canceled(&wr.cancel_reason));
                }
                for ev in wr.events {
                    if ev.r#type == EventType::Delete as i32 {
                        break 'watch;
                    }
                    resp.header = wr.header;
                    resp.kvs = ev.kv.into_iter().collect();
                    on_leader(&resp);
                }
            }
        }
    }
}

fn lost() -> Error {
    Error::Recipe("lost watcher waiting for delete".into())
}

fn canceled(reason: &str) -> Error {
    Error::Recipe(if reason.is_empty() { "watch canceled".into() } else { reason.to_owned() })
}

/// Waits for the first key put under `prefix` after `rev`, with the header of its
/// watch response.
async fn first_put(client: &Client, prefix: &[u8], rev: i64) -> Result<(ResponseHeader, KeyValue)> {
    let mut w = client.watch();
    w.create(WatchCreateRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        start_revision: rev,
        ..Default::default()
    })?;
    loop {
        let Some(wr) = w.message().await? else { return Err(lost()) };
        if wr.canceled {
            return Err(canceled(&wr.cancel_reason));
        }
        if let Some(kv) = wr.events.into_iter().find(|e| e.r#type == EventType::Put as i32).and_then(|e| e.kv) {
            return Ok((wr.header.unwrap_or_default(), kv));
        }
    }
}

/// Waits until no key under `prefix` has a create revision at or below `max_rev`,
/// waiting on the newest such key each time (clientv3's `waitDeletes`).
async fn wait_deletes(client: &Client, prefix: &[u8], max_rev: i64) -> Result<ResponseHeader> {
    loop {
        let mut req = last_created(prefix);
        req.max_create_revision = max_rev;
        let resp = client.range(req).await?;
        let header = resp.header.unwrap_or_default();
        let Some(kv) = resp.kvs.into_iter().next() else { return Ok(header) };
        wait_delete(client, kv.key, header.revision).await?;
    }
}

/// Waits for the deletion of `key`, watching from `rev`.
async fn wait_delete(client: &Client, key: Vec<u8>, rev: i64) -> Result<()> {
    let mut w = client.watch();
    w.create(WatchCreateRequest { key, start_revision: rev, ..Default::default() })?;
    loop {
        let Some(wr) = w.message().await? else { return Err(lost()) };
        if wr.canceled {
            return Err(canceled(&wr.cancel_reason));
        }
        if wr.events.iter().any(|e| e.r#type == EventType::Delete as i32) {
            return Ok(());
        }
    }
}

fn create_revision_is(key: &[u8], rev: i64) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Create as i32,
        key: key.to_vec(),
        target_union: Some(TargetUnion::CreateRevision(rev)),
        range_end: Vec::new(),
    }
}

fn put_op(key: &[u8], value: &[u8], lease: i64) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestPut(PutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            lease,
            ..Default::default()
        })),
    }
}

fn range_op(req: RangeRequest) -> RequestOp {
    RequestOp { request: Some(Request::RequestRange(req)) }
}

fn get_key(key: &[u8]) -> RangeRequest {
    RangeRequest { key: key.to_vec(), ..Default::default() }
}

/// The key under `prefix` created first (clientv3's `WithFirstCreate`).
pub fn first_created(prefix: &[u8]) -> RangeRequest {
    by_create(prefix, SortOrder::Ascend)
}

/// The key under `prefix` created last (clientv3's `WithLastCreate`).
pub fn last_created(prefix: &[u8]) -> RangeRequest {
    by_create(prefix, SortOrder::Descend)
}

fn by_create(prefix: &[u8], order: SortOrder) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: order as i32,
        sort_target: SortTarget::Create as i32,
        ..Default::default()
    }
}

fn first_kv(resp: &TxnResponse, i: usize) -> Option<&KeyValue> {
    match resp.responses.get(i)?.response.as_ref()? {
        Response::ResponseRange(r) => r.kvs.first(),
        _ => None,
    }
}

fn create_revision(resp: &TxnResponse, i: usize) -> Result<i64> {
    first_kv(resp, i).map(|kv| kv.create_revision).ok_or_else(|| Error::Recipe("key vanished during txn".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_keys_are_go_hex() {
        assert_eq!(lease_key(b"mylock/", 0x694d7a9e8c8f2c1a), b"mylock/694d7a9e8c8f2c1a");
        assert_eq!(lease_key(b"e/", 0xabc), b"e/abc", "not zero padded");
        assert_eq!(lease_key(b"e/", -2), b"e/-2");
    }

    #[test]
    fn queue_reads_sort_by_create_revision() {
        let first = first_created(b"l/");
        assert_eq!((first.key.as_slice(), first.range_end.as_slice(), first.limit), (&b"l/"[..], &b"l0"[..], 1));
        assert_eq!(first.sort_target, SortTarget::Create as i32);
        assert_eq!(first.sort_order, SortOrder::Ascend as i32);
        assert_eq!(last_created(b"l/").sort_order, SortOrder::Descend as i32);
    }

    #[test]
    fn txn_helpers_build_the_recipe_ops() {
        let c = create_revision_is(b"k", 0);
        assert_eq!(c.target_union, Some(TargetUnion::CreateRevision(0)));
        assert_eq!(c.result, CompareResult::Equal as i32);
        let Some(Request::RequestPut(p)) = put_op(b"k", b"v", 7).request else { panic!("not a put") };
        assert_eq!((p.key, p.value, p.lease), (b"k".to_vec(), b"v".to_vec(), 7));
    }
}
