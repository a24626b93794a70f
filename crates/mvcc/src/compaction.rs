//! [`Compaction`]: deleting obsolete revisions from the backend in batches.

use std::collections::HashSet;

use backend::MetaKey;

use crate::error::Result;
use crate::revision::Revision;
use crate::store::Store;

/// Revisions visited per backend transaction (etcd's
/// `--experimental-compaction-batch-limit` default). Each batch holds the
/// writer for one short transaction, so writes interleave with a long
/// compaction instead of waiting for it.
pub const DEFAULT_BATCH_LIMIT: usize = 1000;

/// A scheduled compaction whose index part is done and whose backend part
/// runs in [`Compaction::step`]s.
#[derive(Debug)]
pub struct Compaction {
    rev: i64,
    keep: HashSet<Revision>,
    next: Option<Vec<u8>>,
    deleted: u64,
}

impl Compaction {
    pub(crate) fn new(rev: i64, keep: HashSet<Revision>) -> Compaction {
        Compaction { rev, keep, next: Some(Vec::new()), deleted: 0 }
    }

    /// The compaction revision.
    pub fn rev(&self) -> i64 {
        self.rev
    }

    /// Records deleted so far.
    pub fn deleted(&self) -> u64 {
        self.deleted
    }

    /// Deletes up to `limit` obsolete revisions in one backend transaction,
    /// committed durably if it deleted any (so that the pages it frees can be
    /// reused at once). Returns true when the compaction has finished (and
    /// recorded `finishedCompactRev` durably).
    pub fn step(&mut self, store: &Store, limit: usize) -> Result<bool> {
        let Some(from) = self.next.take() else { return Ok(true) };
        let _hold = store.hold_compaction();
        let _writer = store.writer();
        let mut txn = store.backend().begin_write()?;
        let end = Revision::new(self.rev + 1, 0).to_bytes(false);
        let keep = &self.keep;
        let batch = txn.delete_revisions_if(&from, &end, limit, |k| {
            Revision::from_bytes(k).is_some_and(|(r, _)| !keep.contains(&r))
        })?;
        self.deleted += batch.deleted as u64;
        store.inner.live_bytes.fetch_sub(batch.deleted_bytes, std::sync::atomic::Ordering::AcqRel);
        self.next = batch.next;
        let done = self.next.is_none();
        if done {
            txn.put_meta(MetaKey::FinishedCompactRev, &Revision::new(self.rev, 0).to_bytes(false))?;
        }
        // Durable whenever the batch freed pages: redb hands the pages a
        // commit frees back to the allocator only at a durable commit (and
        // once no reader sees them), so with non-durable batches everything
        // the compaction frees stays unusable until the next `Store::sync`,
        // and the writes and batches of that second take new pages — a full
        // file then grows, and redb doubles a file below 4 GiB when it grows
        // (issue 19). etcd commits every batch too (`ForceCommit`).
        store.commit(txn, done || batch.deleted > 0)?;
        Ok(done)
    }

    /// Runs every remaining step at once (tests and offline tools).
    pub fn run(mut self, store: &Store) -> Result<u64> {
        while !self.step(store, DEFAULT_BATCH_LIMIT)? {}
        Ok(self.deleted)
    }
}
