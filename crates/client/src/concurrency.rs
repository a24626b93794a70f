//! clientv3's concurrency recipes (`clientv3/concurrency`), built on KV txns, watches
//! and a kept-alive lease, as etcdctl's `lock` and `elect` use them:
//!
//! - a [`Session`] is a lease renewed in the background until it is lost;
//! - a [`Mutex`] named `n` is the key `n/<lease in hex>`, put with the session's lease;
//!   its holder is the key with the lowest create revision under `n/`, and a waiter
//!   waits for the deletion of every key created before its own;
//! - an [`Election`] is the same queue, whose first key's value is the leader's proposal.
//!
//! Like clientv3, nothing here uses the server's Lock or Election services. The
//! requests are the `recipes` crate's, which the member's services send too.

use crate::{Client, Error, Result, prefix_end};
use api::etcdserverpb::{
    DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest, RangeResponse, ResponseHeader, WatchCreateRequest,
};
use api::mvccpb::KeyValue;
use api::mvccpb::event::EventType;
use recipes::{
    campaign_txn, created_before, first_created, holds_lock, lease_key, lock_txn, own_create_revision, prefix,
    proclaim_txn, range_kvs, resign_txn,
};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

pub use recipes::DEFAULT_SESSION_TTL_SECS;

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
    /// positive) and starts renewing it ([`crate::keep_alive`]) until it is lost.
    pub async fn new(client: &Client, ttl: i64) -> Result<Session> {
        let ttl = if ttl > 0 { ttl } else { DEFAULT_SESSION_TTL_SECS };
        let resp = client.lease_grant(LeaseGrantRequest { ttl, id: 0 }).await?;
        let (tx, rx) = watch::channel(false);
        let deadline = Instant::now() + Duration::from_secs(resp.ttl.unsigned_abs());
        let renewing = client.clone();
        let open = move |_| {
            let stream = renewing.lease_keep_alive();
            async move { Ok::<_, Infallible>(Some(stream)) }
        };
        let task = tokio::spawn(async move {
            let _ = crate::keep_alive(resp.id, deadline, open, |_| Ok(())).await;
            let _ = tx.send(true);
        });
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
        Mutex { client: session.client.clone(), lease: session.lease, prefix: prefix(name), key: None, header: None }
    }

    /// Queues for the lock and waits until it is held. The key is put before the wait:
    /// if this future is dropped while waiting, call [`unlock`](Mutex::unlock).
    pub async fn lock(&mut self) -> Result<()> {
        let key = lease_key(&self.prefix, self.lease);
        self.key = Some(key.clone());
        let resp = self.client.txn(lock_txn(&self.prefix, &key, self.lease)).await?;
        let my_rev = own_create_revision(&resp).ok_or_else(vanished)?;
        if holds_lock(&resp, my_rev) {
            self.header = Some(resp.header.unwrap_or_default());
            return Ok(());
        }
        match wait_deletes(&self.client, &self.prefix, my_rev).await {
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
        Election {
            client: session.client.clone(),
            lease: session.lease,
            prefix: prefix(name),
            leader: None,
            header: None,
        }
    }

    /// Puts the candidate key with `value` and waits until it is the oldest, i.e. this
    /// session leads. If this future is dropped while waiting, call
    /// [`resign`](Election::resign).
    pub async fn campaign(&mut self, value: &[u8]) -> Result<()> {
        let key = lease_key(&self.prefix, self.lease);
        let resp = self.client.txn(campaign_txn(&key, value, self.lease)).await?;
        let rev = own_create_revision(&resp).ok_or_else(vanished)?;
        let header = resp.header.unwrap_or_default();
        if !resp.succeeded {
            self.leader = Some((key.clone(), rev));
            if range_kvs(&resp, 0).first().is_some_and(|kv| kv.value != value)
                && let Err(e) = self.proclaim(value).await
            {
                let _ = self.resign().await;
                return Err(e);
            }
        }
        self.leader = Some((key, rev));
        match wait_deletes(&self.client, &self.prefix, rev).await {
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
        let resp = self.client.txn(proclaim_txn(&key, rev, value, self.lease)).await?;
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
        let resp = self.client.txn(resign_txn(&key, rev)).await?;
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

fn vanished() -> Error {
    Error::Recipe("key vanished during txn".into())
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

/// Waits until no key under `prefix` was created before `my_rev`, waiting on the
/// newest such key each time (clientv3's `waitDeletes`).
async fn wait_deletes(client: &Client, prefix: &[u8], my_rev: i64) -> Result<ResponseHeader> {
    loop {
        let resp = client.range(created_before(prefix, my_rev)).await?;
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
