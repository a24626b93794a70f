//! [`Store`]: the multi-version key-value store of one member.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use backend::{Backend, MetaKey};

use crate::compaction::Compaction;
use crate::error::{Error, Result};
use crate::key_value::KeyValue;
use crate::revision::Revision;
use crate::tree_index::TreeIndex;
use crate::txn_read::TxnRead;
use crate::txn_write::TxnWrite;

/// Non-durable commits between two durable ones, as a bound on the work that a
/// crash makes Raft re-apply (see `docs/durability.md`).
const DURABLE_EVERY: u64 = 10_000;

/// Bytes written between two durable commits. redb reuses the pages a
/// non-durable commit frees only after the next durable one, so large values
/// written fast would otherwise grow the file by everything they replace.
const DURABLE_EVERY_BYTES: u64 = 8 * 1024 * 1024;

/// The store. Cloning shares it.
///
/// Readers ([`Store::read`]) see the revision that was current when they
/// began, never block on the writer, and fail with [`Error::Compacted`] if a
/// compaction overtakes them. There is one writer at a time ([`Store::write`]),
/// the Raft apply loop or a compaction batch.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) backend: Backend,
    pub(crate) index: RwLock<TreeIndex>,
    /// The revision of the last committed write transaction.
    pub(crate) current_rev: AtomicI64,
    /// The revision of the last scheduled compaction; -1 before the first.
    pub(crate) compact_rev: AtomicI64,
    pub(crate) writer: Mutex<()>,
    /// Held by each compaction batch and by a whole defragmentation, which
    /// must not see records deleted under it.
    pub(crate) compaction_hold: Mutex<()>,
    pub(crate) commits_since_durable: AtomicU64,
    /// Key and value bytes of the records in the backend's `key` table.
    pub(crate) live_bytes: AtomicU64,
    /// `live_bytes` at the last durable commit (compaction may take it below).
    pub(crate) live_bytes_at_durable: AtomicU64,
}

impl Store {
    /// Opens the store on `backend`, rebuilding the index from the `key`
    /// table. If a compaction was scheduled but did not finish, it is returned
    /// so that the caller resumes it.
    pub fn open(backend: Backend) -> Result<(Store, Option<Compaction>)> {
        let loaded = Loaded::scan(&backend)?;
        let store = Store {
            inner: Arc::new(Inner {
                backend,
                index: RwLock::new(TreeIndex::default()),
                current_rev: AtomicI64::new(1),
                compact_rev: AtomicI64::new(-1),
                writer: Mutex::new(()),
                compaction_hold: Mutex::new(()),
                commits_since_durable: AtomicU64::new(0),
                live_bytes: AtomicU64::new(0),
                live_bytes_at_durable: AtomicU64::new(0),
            }),
        };
        let resume = store.take(loaded);
        Ok((store, resume))
    }

    /// Replaces the whole store with the database at `path` (a Raft snapshot
    /// from the leader, loaded into a file next to the backend's): the file
    /// takes the backend's place and the index is rebuilt from it. Waits for
    /// a running compaction batch and keeps writers out meanwhile. Returns the
    /// compaction the new state scheduled but did not finish, to resume.
    pub fn install(&self, path: &std::path::Path) -> Result<Option<Compaction>> {
        let _hold = self.hold_compaction();
        let _writer = self.writer();
        self.inner.backend.replace_with(path)?;
        let loaded = Loaded::scan(&self.inner.backend)?;
        self.inner.commits_since_durable.store(0, Ordering::Release);
        Ok(self.take(loaded))
    }

    /// Makes `loaded` the store's state.
    fn take(&self, loaded: Loaded) -> Option<Compaction> {
        let Loaded { index, current, scheduled, finished, live_bytes } = loaded;
        let compact_rev = scheduled.or(finished).unwrap_or(-1);
        if let Some(f) = finished {
            tracing::info!("restore compact to {f}");
        }
        *self.index_mut() = index;
        self.inner.current_rev.store(current.max(compact_rev), Ordering::Release);
        self.inner.compact_rev.store(compact_rev, Ordering::Release);
        self.inner.live_bytes.store(live_bytes, Ordering::Release);
        self.inner.live_bytes_at_durable.store(live_bytes, Ordering::Release);
        match (scheduled, finished) {
            (Some(s), f) if f.is_none_or(|f| s > f) => {
                tracing::info!("resume scheduled compaction at {s}");
                Some(self.compact_index(s))
            }
            _ => None,
        }
    }

    /// The revision of the last write.
    pub fn rev(&self) -> i64 {
        self.inner.current_rev.load(Ordering::Acquire)
    }

    /// The revision of the last scheduled compaction, -1 if none.
    pub fn compact_rev(&self) -> i64 {
        self.inner.compact_rev.load(Ordering::Acquire)
    }

    /// The opaque Raft state last recorded with [`TxnWrite::end`].
    pub fn consistent_index(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.inner.backend.begin_read()?.meta(MetaKey::ConsistentIndex)?)
    }

    /// The backend (for sizes and maintenance).
    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// Key and value bytes of every revision the backend holds (compaction
    /// subtracts what it deletes): the logical size of the history.
    pub fn history_bytes(&self) -> u64 {
        self.inner.live_bytes.load(Ordering::Acquire)
    }

    /// Number of keys with history in the index.
    pub fn key_count(&self) -> usize {
        self.index().len()
    }

    /// Starts a read at the current revision.
    pub fn read(&self) -> Result<TxnRead> {
        // Begin the backend snapshot while holding the index lock: a compaction
        // deletes only revisions that the compacted index no longer names, and
        // it compacts the index under the write lock first.
        let index = self.index();
        let rev = self.rev();
        let txn = self.inner.backend.begin_read()?;
        drop(index);
        Ok(TxnRead::new(self.clone(), rev, txn))
    }

    /// Every change with `from <= mod_revision <= to`, in revision order, read
    /// from the backend (a watcher catching up). A change whose `version` is 0
    /// is a deletion (its `KeyValue` carries only the key and `mod_revision`).
    /// Fails with [`Error::Compacted`] if `from` is below the compacted revision.
    pub fn history(&self, from: i64, to: i64) -> Result<Vec<KeyValue>> {
        let txn = {
            let _index = self.index();
            let compacted = self.compact_rev();
            if from < compacted {
                return Err(Error::Compacted { requested: from, compacted });
            }
            self.inner.backend.begin_read()?
        };
        let mut out = Vec::new();
        let mut corrupt = None;
        let start = Revision::new(from, 0).to_bytes(false);
        let end = Revision::new(to.saturating_add(1), 0).to_bytes(false);
        txn.scan_revisions(&start, Some(&end), |k, v| {
            match (Revision::from_bytes(k), KeyValue::decode(v)) {
                (Some((rev, tombstone)), Some(mut kv)) => {
                    if tombstone {
                        // A stored tombstone holds only its key.
                        kv.mod_revision = rev.main;
                    }
                    out.push(kv);
                }
                _ => corrupt = Some(k.to_vec()),
            }
            corrupt.is_none()
        })?;
        match corrupt {
            Some(rev_key) => Err(Error::Corrupt { rev_key }),
            None => Ok(out),
        }
    }

    /// Starts the write transaction (waits for the previous one to end).
    pub fn write(&self) -> Result<TxnWrite<'_>> {
        let guard = self.writer();
        let txn = self.inner.backend.begin_write()?;
        Ok(TxnWrite::new(self, guard, txn))
    }

    /// Runs `f` while no write can commit (a consistent view of the store's
    /// counters and its backend together).
    pub fn with_writes_paused<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        let _writer = self.writer();
        f(self)
    }

    /// Makes every commit so far durable (an fsync). Called periodically and on
    /// shutdown by the server.
    pub fn sync(&self) -> Result<()> {
        let _guard = self.writer();
        if self.inner.commits_since_durable.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let txn = self.inner.backend.begin_write()?;
        txn.commit(true)?;
        self.inner.commits_since_durable.store(0, Ordering::Release);
        Ok(())
    }

    pub(crate) fn commit(&self, txn: backend::WriteTxn, force_durable: bool) -> Result<()> {
        let n = self.inner.commits_since_durable.fetch_add(1, Ordering::AcqRel) + 1;
        let written = self.inner.live_bytes.load(Ordering::Acquire);
        let since = written.saturating_sub(self.inner.live_bytes_at_durable.load(Ordering::Acquire));
        let durable = force_durable || n >= DURABLE_EVERY || since >= DURABLE_EVERY_BYTES;
        txn.commit(durable)?;
        if durable {
            self.inner.commits_since_durable.store(0, Ordering::Release);
            self.inner.live_bytes_at_durable.store(written, Ordering::Release);
        }
        Ok(())
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, ()> {
        self.inner.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn hold_compaction(&self) -> MutexGuard<'_, ()> {
        self.inner.compaction_hold.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn index(&self) -> RwLockReadGuard<'_, TreeIndex> {
        self.inner.index.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn index_mut(&self) -> RwLockWriteGuard<'_, TreeIndex> {
        self.inner.index.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Compacts the in-memory index at `rev` and returns the backend job.
    pub(crate) fn compact_index(&self, rev: i64) -> Compaction {
        let keep = {
            let mut index = self.index_mut();
            self.inner.compact_rev.store(rev, Ordering::Release);
            index.compact(rev)
        };
        tracing::info!("store.index: compact {rev}");
        Compaction::new(rev, keep)
    }
}

/// What [`Store::open`] and [`Store::install`] read from a backend.
struct Loaded {
    index: TreeIndex,
    /// The highest main revision in the `key` table (1 when it is empty).
    current: i64,
    scheduled: Option<i64>,
    finished: Option<i64>,
    live_bytes: u64,
}

impl Loaded {
    /// Rebuilds the index from the `key` table.
    fn scan(backend: &Backend) -> Result<Loaded> {
        let read = backend.begin_read()?;
        let finished = decode_rev_meta(read.meta(MetaKey::FinishedCompactRev)?);
        let scheduled = decode_rev_meta(read.meta(MetaKey::ScheduledCompactRev)?);
        let mut index = TreeIndex::default();
        let mut current = 1i64;
        let mut corrupt = None;
        let mut live_bytes = 0u64;
        read.scan_revisions(&[], None, |k, v| {
            live_bytes += (k.len() + v.len()) as u64;
            match (Revision::from_bytes(k), KeyValue::decode(v)) {
                (Some((rev, tombstone)), Some(kv)) => {
                    index.restore(&kv, rev, tombstone);
                    current = current.max(rev.main);
                }
                _ => corrupt = Some(k.to_vec()),
            }
            corrupt.is_none()
        })?;
        if let Some(rev_key) = corrupt {
            return Err(Error::Corrupt { rev_key });
        }
        Ok(Loaded { index, current, scheduled, finished, live_bytes })
    }
}

pub(crate) fn decode_rev_meta(v: Option<Vec<u8>>) -> Option<i64> {
    v.and_then(|b| Revision::from_bytes(&b)).map(|(r, _)| r.main)
}
