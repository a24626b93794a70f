//! Watch: streams of the store's changes, from any retained revision on.
//!
//! Every watcher is a task that owns its position (`next_rev`, the first
//! revision it has not delivered). It reads the changes from `next_rev` up to
//! the store's revision — from [`WatchHub`]'s in-memory window of recent
//! revisions when they are still there, from the backend's `key` table
//! otherwise — sends them, and sleeps until the hub announces a newer
//! revision. So a watcher that falls behind simply reads further back: writes
//! never wait for a slow consumer, nothing is skipped or sent twice, and a
//! watcher whose position falls below the compacted revision gets etcd's
//! compacted response. etcd keeps "synced" and "unsynced" watcher groups for
//! the same purpose; here the position alone decides where events come from.

mod service;
mod watcher;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
    pub changes: Arc<Vec<KeyValue>>,
}

/// Announces new revisions to watchers and keeps the latest ones in memory.
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
    pub fn publish(&self, committed: Vec<mvcc::Committed>) {
        let mut last = None;
        {
            let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
            for c in committed {
                if c.changes.is_empty() {
                    continue;
                }
                last = Some(c.rev);
                window.push_back(RevisionChanges { rev: c.rev, changes: Arc::new(c.changes) });
                while window.len() > WINDOW_REVISIONS {
                    window.pop_front();
                }
            }
        }
        if let Some(rev) = last {
            self.rev_tx.send_replace(rev);
        }
    }

    /// A receiver that changes whenever a revision is published.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.rev_tx.subscribe()
    }

    /// The changes of revisions `from..=to` if the window still holds all of
    /// them; `None` sends the caller to the backend.
    pub fn recent(&self, from: i64, to: i64) -> Option<Vec<RevisionChanges>> {
        let window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let oldest = window.front()?.rev;
        // Revisions without changes are never published, so the window covers
        // `from` if its oldest entry is at or before it.
        if from < oldest {
            return None;
        }
        Some(window.iter().filter(|rc| rc.rev >= from && rc.rev <= to).cloned().collect())
    }
}
