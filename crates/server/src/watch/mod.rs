//! Watch: streams of the store's changes, from any retained revision on.
//!
//! Each gRPC watch stream is one task (`stream::WatchStream`) that owns its
//! watchers; a watcher is plain data, its position `next` being the first
//! revision it has not delivered. When [`WatchHub`] announces a revision, the
//! stream's task wakes once, takes the new revisions from the hub's
//! in-memory window, walks its watchers, builds the responses of those whose
//! range the changes touch and queues them on the stream's outbox in one
//! batch. A watcher that is behind — its start revision is in the past, or its
//! client reads too slowly for the bounded outbox — reads further back, from
//! the window while it still holds its revisions and from the backend's `key`
//! table otherwise, in steps of at most `CATCH_UP_REVISIONS`, and is in step
//! again once its position passes the announced revision. So writes never
//! wait for a consumer, nothing is skipped or sent twice, and a watcher whose
//! position falls below the compacted revision gets etcd's compacted
//! response. etcd's "synced" and "unsynced" watcher groups are the watchers at
//! and behind the announced revision here.
//!
//! The work per revision is one wake-up per stream (not per watcher) and one
//! response per watcher the revision concerns; the applier's
//! [`WatchHub::publish`] appends to the window and wakes the streams.

mod outbox;
mod service;
mod stream;
mod watcher;

use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use mvcc::KeyValue;
use tokio::sync::watch;

pub use service::WatchService;

/// Revisions kept in memory for watchers that are (nearly) caught up.
const WINDOW_REVISIONS: usize = 4096;

/// The changes of one revision, in sub-revision order (a `version` of 0 is a
/// deletion).
#[derive(Debug, Clone)]
pub struct RevisionChanges {
    pub rev: i64,
    pub changes: Arc<Changes>,
}

/// One revision's changes, as the protobuf key-values every event carries
/// (moved, not copied, from the store's), and each key's previous value
/// (`prev_kv`), read by the first watcher that asks and shared by all others.
#[derive(Debug, Default)]
pub struct Changes {
    kvs: Vec<api::mvccpb::KeyValue>,
    prev: OnceLock<Vec<OnceLock<Option<api::mvccpb::KeyValue>>>>,
}

impl Changes {
    pub fn new(kvs: Vec<KeyValue>) -> Changes {
        Changes { kvs: kvs.into_iter().map(crate::kv::to_pb).collect(), prev: OnceLock::new() }
    }

    /// The value the `i`-th change's key had before it, read by `read` once.
    pub(crate) fn prev_kv(
        &self,
        i: usize,
        read: impl FnOnce() -> Option<api::mvccpb::KeyValue>,
    ) -> Option<api::mvccpb::KeyValue> {
        let slots = self.prev.get_or_init(|| self.kvs.iter().map(|_| OnceLock::new()).collect());
        slots[i].get_or_init(read).clone()
    }
}

impl Deref for Changes {
    type Target = [api::mvccpb::KeyValue];

    fn deref(&self) -> &[api::mvccpb::KeyValue] {
        &self.kvs
    }
}

/// Announces new revisions to watch streams and keeps the latest ones in
/// memory.
pub struct WatchHub {
    window: Mutex<VecDeque<RevisionChanges>>,
    rev_tx: watch::Sender<i64>,
    streams: Arc<AtomicUsize>,
    watchers: Arc<AtomicUsize>,
    slow: Arc<AtomicUsize>,
}

/// How many watch streams and watchers are live, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchLoad {
    pub streams: usize,
    pub watchers: usize,
    /// Watchers more than one revision behind (etcd's unsynced watchers).
    pub slow: usize,
}

/// Counts one live stream or watcher for as long as it exists: whatever
/// ends it (cancel, compaction, an abrupt disconnect, an aborted task) drops
/// the guard, so the counts cannot leak.
pub(crate) struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &Arc<AtomicUsize>) -> Counted {
        counter.fetch_add(1, Ordering::Relaxed);
        Counted(counter.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The window's revisions in a requested span, as one stream round reads them.
pub(crate) struct Window {
    /// Every revision from `oldest` on that has changes is in the window
    /// (`None`: the window is empty and covers nothing).
    oldest: Option<i64>,
    revisions: Vec<RevisionChanges>,
}

impl Window {
    /// The revisions `from..=to`, if the window covers `from`.
    pub(crate) fn covering(&self, from: i64, to: i64) -> Option<&[RevisionChanges]> {
        if from < self.oldest? {
            return None;
        }
        let start = self.revisions.partition_point(|rc| rc.rev < from);
        let end = self.revisions.partition_point(|rc| rc.rev <= to);
        Some(&self.revisions[start..end.max(start)])
    }
}

impl WatchHub {
    /// A hub whose store is at `rev`.
    pub fn new(rev: i64) -> Arc<WatchHub> {
        Arc::new(WatchHub {
            window: Mutex::new(VecDeque::new()),
            rev_tx: watch::channel(rev).0,
            streams: Arc::default(),
            watchers: Arc::default(),
            slow: Arc::default(),
        })
    }

    /// The live streams and watchers.
    pub fn load(&self) -> WatchLoad {
        WatchLoad {
            streams: self.streams.load(Ordering::Relaxed),
            watchers: self.watchers.load(Ordering::Relaxed),
            slow: self.slow.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_stream(&self) -> Counted {
        Counted::new(&self.streams)
    }

    pub(crate) fn count_watcher(&self) -> Counted {
        Counted::new(&self.watchers)
    }

    pub(crate) fn count_slow(&self) -> Counted {
        Counted::new(&self.slow)
    }

    /// Called by the applier after a commit made revisions visible, in order.
    /// Its cost does not depend on the watchers: an append to the window and
    /// one wake-up per waiting stream (and per lock or election waiter).
    pub fn publish(&self, committed: Vec<mvcc::Committed>) {
        let mut last = None;
        {
            let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
            for c in committed {
                if c.changes.is_empty() {
                    continue;
                }
                last = Some(c.rev);
                window.push_back(RevisionChanges { rev: c.rev, changes: Arc::new(Changes::new(c.changes)) });
                while window.len() > WINDOW_REVISIONS {
                    window.pop_front();
                }
            }
        }
        if let Some(rev) = last {
            self.rev_tx.send_replace(rev);
        }
    }

    /// Wakes every stream without a new revision: the auth store changed,
    /// and streams re-check their watchers' permissions.
    pub fn wake_all(&self) {
        self.rev_tx.send_modify(|_| {});
    }

    /// Forgets the window after the store installed a Raft snapshot and
    /// jumped to `rev`: the revisions in between were never published, so
    /// streams catch up on them from the store (or learn they are compacted).
    pub fn reset(&self, rev: i64) {
        self.window.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.rev_tx.send_replace(rev);
    }

    /// A receiver that changes whenever a revision is published.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.rev_tx.subscribe()
    }

    /// The changes of revisions `from..=to` if the window still holds all of
    /// them; `None` sends the caller to the backend.
    pub fn recent(&self, from: i64, to: i64) -> Option<Vec<RevisionChanges>> {
        let window = self.window(from, to);
        window.covering(from, to).map(<[RevisionChanges]>::to_vec)
    }

    /// The window's revisions in `from..=to` (those it still holds), with how
    /// far back it is complete.
    pub(crate) fn window(&self, from: i64, to: i64) -> Window {
        let window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        // Revisions without changes are never published, so the window covers
        // every revision from its oldest entry on.
        let oldest = window.front().map(|rc| rc.rev);
        let start = window.partition_point(|rc| rc.rev < from);
        let end = window.partition_point(|rc| rc.rev <= to).max(start);
        Window { oldest, revisions: window.range(start..end).cloned().collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(rev: i64, keys: &[&str]) -> mvcc::Committed {
        let changes = keys
            .iter()
            .map(|k| KeyValue {
                key: k.as_bytes().to_vec(),
                create_revision: rev,
                mod_revision: rev,
                version: 1,
                value: Vec::new(),
                lease: 0,
            })
            .collect();
        mvcc::Committed { rev, changes }
    }

    #[test]
    fn the_window_covers_from_its_oldest_revision_on() {
        let hub = WatchHub::new(1);
        assert!(hub.recent(2, 2).is_none(), "an empty window covers nothing");
        hub.publish(vec![committed(2, &["a"]), committed(3, &[]), committed(4, &["b", "c"])]);
        assert_eq!(*hub.subscribe().borrow(), 4);
        let revs = |v: Option<Vec<RevisionChanges>>| v.map(|v| v.iter().map(|rc| rc.rev).collect::<Vec<_>>());
        assert_eq!(revs(hub.recent(2, 4)), Some(vec![2, 4]));
        assert_eq!(revs(hub.recent(3, 3)), Some(vec![]), "3 had no changes");
        assert_eq!(revs(hub.recent(1, 4)), None, "1 may have had changes before the window");
        assert_eq!(revs(hub.recent(5, 9)), Some(vec![]));
        let w = hub.window(1, 3);
        assert_eq!(w.covering(1, 3).map(<[_]>::len), None);
        assert_eq!(w.covering(2, 3).map(|s| s[0].rev), Some(2));
        assert_eq!(hub.recent(4, 4).map(|v| v[0].changes.len()), Some(2));
    }

    #[test]
    fn the_window_forgets_the_oldest_revisions() {
        let hub = WatchHub::new(0);
        hub.publish((1..=WINDOW_REVISIONS as i64 + 10).map(|r| committed(r, &["k"])).collect());
        assert!(hub.recent(10, 20).is_none());
        assert_eq!(hub.recent(11, 11).map(|v| v.len()), Some(1));
    }

    #[test]
    fn previous_values_are_read_once() {
        let changes = Changes::new(committed(7, &["a", "b"]).changes);
        assert_eq!(changes[1].key, b"b");
        let prev = |v: &[u8]| Some(api::mvccpb::KeyValue { value: v.to_vec(), ..Default::default() });
        assert_eq!(changes.prev_kv(0, || prev(b"first")).map(|kv| kv.value), Some(b"first".to_vec()));
        assert_eq!(changes.prev_kv(0, || prev(b"second")).map(|kv| kv.value), Some(b"first".to_vec()));
        assert_eq!(changes.prev_kv(1, || None), None);
    }
}
