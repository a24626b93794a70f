//! [`WatchStream`]: watchers on one gRPC stream, delivered as clientv3 delivers them to
//! etcdctl (`clientv3/watch.go`), since that is what etcdctl's output is made of.
//!
//! What clientv3 does and this copies: `created` responses are not delivered; a create
//! the member refuses (watch id -1 or a cancel reason) closes that watcher with the
//! reason as its error; a compacted response is delivered and then closes the watcher;
//! a plain cancel closes it silently; a progress notification with watch id -1 goes to
//! every watcher; fragments are joined; events for an unknown watch id get that id
//! canceled. When the stream breaks with `Unavailable` or `Internal` it is reopened
//! (on any endpoint) and every watcher is created again from the revision after the
//! last one it saw; any other error closes every watcher with that error.
//!
//! Where it differs: after a reconnect a watcher resumes from the revision after the
//! one its `created` or progress response reported, where clientv3 resumes from that
//! revision itself and may replay one old event.

use super::update::WatchUpdate;
use crate::cli::GlobalFlags;
use crate::error::Result;
use api::etcdserverpb::{WatchCreateRequest, WatchResponse};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

/// Names a watcher of a [`WatchStream`] for as long as the stream lives.
pub type Handle = usize;

/// What [`WatchStream::next`] yields.
#[derive(Debug, PartialEq)]
pub enum Delivery {
    /// A response for one watcher.
    Update(Handle, WatchUpdate),
    /// The watcher is gone; nothing more will come for it.
    Closed(Handle),
}

/// clientv3's retry backoff on an unavailable member (`backoffIfUnavailable`).
const MAX_BACKOFF: Duration = Duration::from_millis(100);

struct Sub {
    req: WatchCreateRequest,
    /// The id the member gave it on the current stream, once created.
    id: Option<i64>,
}

/// Watchers on one watch stream, reopened when the member goes away.
pub struct WatchStream {
    global: GlobalFlags,
    watcher: Option<client::Watcher>,
    subs: HashMap<Handle, Sub>,
    next_handle: Handle,
    /// Watchers whose create request awaits its `created` response, in request order.
    creating: VecDeque<Handle>,
    by_id: HashMap<i64, Handle>,
    /// Ids already canceled because events came for them and nobody listens.
    canceled_ids: HashSet<i64>,
    /// A response whose `fragment` flag says more of it follows.
    partial: Option<WatchResponse>,
    progress_wanted: bool,
    ready: VecDeque<Delivery>,
    backoff: Duration,
}

impl WatchStream {
    /// A stream to the cluster of `global`'s endpoints. Nothing is sent until
    /// [`next`](Self::next) runs.
    pub fn new(global: &GlobalFlags) -> Self {
        WatchStream {
            global: global.clone(),
            watcher: None,
            subs: HashMap::new(),
            next_handle: 0,
            creating: VecDeque::new(),
            by_id: HashMap::new(),
            canceled_ids: HashSet::new(),
            partial: None,
            progress_wanted: false,
            ready: VecDeque::new(),
            backoff: Duration::from_millis(1),
        }
    }

    /// Adds a watcher.
    pub fn watch(&mut self, req: WatchCreateRequest) -> Handle {
        let handle = self.next_handle;
        self.next_handle += 1;
        if let Some(w) = &self.watcher {
            // A failed send means the stream is ending; `next` will see the error and
            // create the watcher again on the next stream.
            let _ = w.create(req.clone());
        }
        self.creating.push_back(handle);
        self.subs.insert(handle, Sub { req, id: None });
        handle
    }

    /// Asks for a progress notification on every watcher.
    pub fn request_progress(&mut self) {
        match &self.watcher {
            Some(w) => {
                let _ = w.request_progress();
            }
            None => self.progress_wanted = true,
        }
    }

    /// The next delivery. Waits forever when there is no watcher and nothing to say.
    /// Connecting retries until it succeeds, as clientv3's watch does; only an invalid
    /// endpoint fails. Cancel safe.
    pub async fn next(&mut self) -> Result<Delivery> {
        loop {
            if let Some(d) = self.ready.pop_front() {
                return Ok(d);
            }
            if self.subs.is_empty() && !self.progress_wanted {
                return std::future::pending().await;
            }
            let Some(w) = &mut self.watcher else {
                self.open().await?;
                continue;
            };
            match w.message().await {
                Ok(Some(resp)) => {
                    self.backoff = Duration::from_millis(1);
                    self.on_response(resp);
                }
                Ok(None) => self.halt("EOF".to_owned()),
                Err(e) => self.on_error(e).await,
            }
        }
    }

    /// Connects and opens a stream, then (re)creates every watcher in order.
    async fn open(&mut self) -> Result<()> {
        let client = crate::command::dial::dial(&self.global, &self.global.endpoints).await?;
        let watcher = client.require_leader(true).watch();
        let mut handles: Vec<Handle> = self.subs.keys().copied().collect();
        handles.sort_unstable();
        self.creating = handles.into_iter().collect();
        for h in &self.creating {
            let _ = watcher.create(self.subs[h].req.clone());
        }
        if std::mem::take(&mut self.progress_wanted) {
            let _ = watcher.request_progress();
        }
        self.by_id.clear();
        self.canceled_ids.clear();
        self.partial = None;
        self.watcher = Some(watcher);
        Ok(())
    }

    /// A broken stream: `Unavailable` and `Internal` (but not "no leader") are worth
    /// a new stream, anything else ends every watcher.
    async fn on_error(&mut self, e: client::Error) {
        let retry = matches!(e.code(), Some(tonic::Code::Unavailable | tonic::Code::Internal))
            && e.to_string() != "etcdserver: no leader";
        if !retry {
            self.halt(e.to_string());
            return;
        }
        self.watcher = None;
        for sub in self.subs.values_mut() {
            sub.id = None;
        }
        if e.code() == Some(tonic::Code::Unavailable) {
            tokio::time::sleep(self.backoff).await;
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Closes every watcher with `error`.
    fn halt(&mut self, error: String) {
        self.watcher = None;
        let mut handles: Vec<Handle> = self.subs.keys().copied().collect();
        handles.sort_unstable();
        for h in handles {
            self.ready.push_back(Delivery::Update(h, WatchUpdate::closed(error.clone())));
            self.close(h);
        }
        self.creating.clear();
        self.progress_wanted = false;
    }

    fn close(&mut self, h: Handle) {
        if let Some(Sub { id: Some(id), .. }) = self.subs.remove(&h) {
            self.by_id.remove(&id);
        }
        self.ready.push_back(Delivery::Closed(h));
    }

    fn on_response(&mut self, resp: WatchResponse) {
        let resp = match self.partial.take() {
            Some(mut cur) if !resp.created && !resp.canceled && cur.watch_id == resp.watch_id => {
                cur.events.extend(resp.events);
                cur.fragment = resp.fragment;
                cur
            }
            _ => resp,
        };
        if resp.created {
            self.on_created(resp);
        } else if resp.canceled && resp.compact_revision == 0 {
            if let Some(&h) = self.by_id.get(&resp.watch_id) {
                self.close(h);
            }
        } else if resp.fragment {
            self.partial = Some(resp);
        } else {
            self.dispatch(resp);
        }
    }

    fn on_created(&mut self, resp: WatchResponse) {
        let Some(h) = self.creating.pop_front() else { return };
        if resp.watch_id == -1 || (resp.canceled && !resp.cancel_reason.is_empty()) {
            self.ready.push_back(Delivery::Update(h, WatchUpdate::closed(resp.cancel_reason)));
            self.close(h);
            return;
        }
        let revision = resp.header.map_or(0, |h| h.revision);
        if let Some(sub) = self.subs.get_mut(&h) {
            sub.id = Some(resp.watch_id);
            if sub.req.start_revision == 0 {
                sub.req.start_revision = revision + 1;
            }
            self.by_id.insert(resp.watch_id, h);
        }
    }

    fn dispatch(&mut self, resp: WatchResponse) {
        let id = resp.watch_id;
        let update = WatchUpdate::from(resp);
        if id == -1 && update.is_progress_notify() {
            let mut handles: Vec<Handle> = self.by_id.values().copied().collect();
            handles.sort_unstable();
            for h in handles {
                self.advance(h, &update);
                self.ready.push_back(Delivery::Update(h, update.clone()));
            }
            return;
        }
        let Some(&h) = self.by_id.get(&id) else {
            if self.canceled_ids.insert(id)
                && let Some(w) = &self.watcher
            {
                let _ = w.cancel(id);
            }
            return;
        };
        self.advance(h, &update);
        let ends = update.err().is_some();
        self.ready.push_back(Delivery::Update(h, update));
        if ends {
            if let Some(w) = &self.watcher {
                let _ = w.cancel(id);
            }
            self.close(h);
        }
    }

    /// Moves a watcher's resume revision past what `update` reports.
    fn advance(&mut self, h: Handle, update: &WatchUpdate) {
        let Some(sub) = self.subs.get_mut(&h) else { return };
        let seen = match update.events.as_deref() {
            Some([.., last]) => last.kv.as_ref().map_or(0, |kv| kv.mod_revision),
            _ => update.header.revision,
        };
        sub.req.start_revision = sub.req.start_revision.max(seen + 1);
    }
}

#[cfg(test)]
mod tests;
