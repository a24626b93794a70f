//! [`TxnWrite`]: one write transaction, one revision.

use std::sync::MutexGuard;
use std::sync::atomic::Ordering;

use backend::{MetaKey, WriteTxn};

use crate::compaction::Compaction;
use crate::error::{Error, Result};
use crate::key_value::KeyValue;
use crate::revision::Revision;
use crate::store::Store;
use crate::tree_index::KeyRange;
use crate::txn_read::{RangeOptions, RangeResult, fetch, locate};

/// The write transaction. Every change it makes shares the revision
/// `begin_rev + 1` (sub-revisions 0, 1, …); a transaction without changes does
/// not advance the revision. Reads inside it see its own writes. Changes
/// become visible to readers at [`TxnWrite::end`].
pub struct TxnWrite<'s> {
    store: &'s Store,
    _writer: MutexGuard<'s, ()>,
    txn: WriteTxn,
    begin_rev: i64,
    changes: Vec<KeyValue>,
    force_durable: bool,
}

/// What [`TxnWrite::end`] committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The store's revision after the transaction.
    pub rev: i64,
    /// Every change, in sub-revision order (tombstones carry only key and
    /// mod_revision).
    pub changes: Vec<KeyValue>,
}

impl<'s> TxnWrite<'s> {
    pub(crate) fn new(store: &'s Store, writer: MutexGuard<'s, ()>, txn: WriteTxn) -> TxnWrite<'s> {
        let begin_rev = store.rev();
        TxnWrite { store, _writer: writer, txn, begin_rev, changes: Vec::new(), force_durable: false }
    }

    /// The revision reads in this transaction see: the new one once anything changed.
    pub fn rev(&self) -> i64 {
        if self.changes.is_empty() { self.begin_rev } else { self.begin_rev + 1 }
    }

    /// The compacted revision (reads below it fail), -1 if none.
    pub fn compact_rev(&self) -> i64 {
        self.store.compact_rev()
    }

    /// The backend transaction underneath, for state that must commit with
    /// this revision but is not key history (the lessor's `lease` table).
    pub fn backend_txn(&mut self) -> &mut WriteTxn {
        &mut self.txn
    }

    /// Whether the transaction has changed anything yet.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Reads, seeing this transaction's own writes.
    pub fn range(&self, range: KeyRange<'_>, opts: RangeOptions) -> Result<RangeResult> {
        let rev = self.rev();
        let (located, count) = {
            let index = self.store.index();
            locate(&index, range, rev, self.store.compact_rev(), opts)?
        };
        let kvs = fetch(located, |ks| Ok(self.txn.get_revisions(ks)?))?;
        Ok(RangeResult { kvs, rev, count })
    }

    /// Puts `key`; returns the revision of the transaction.
    pub fn put(&mut self, key: &[u8], value: &[u8], lease: i64) -> Result<i64> {
        let rev = self.next_rev();
        let mut index = self.store.index_mut();
        let (create_revision, version) = match index.get(key, i64::MAX) {
            Some(cur) => (cur.created.main, cur.version + 1),
            None => (rev.main, 1),
        };
        let kv = KeyValue {
            key: key.to_vec(),
            create_revision,
            mod_revision: rev.main,
            version,
            value: value.to_vec(),
            lease,
        };
        self.record(&rev.to_bytes(false), &kv.encode())?;
        index.put(key, rev);
        drop(index);
        self.changes.push(kv);
        Ok(rev.main)
    }

    /// Deletes the live keys of `range`; returns how many and the revision the
    /// caller reports (the new one if this transaction changed anything).
    pub fn delete_range(&mut self, range: KeyRange<'_>) -> Result<(usize, i64)> {
        let keys = self.store.index().live_keys(range, i64::MAX);
        for key in &keys {
            let rev = self.next_rev();
            // On disk a tombstone holds only the key, as etcd's does (HashKV
            // hashes these bytes); the revision is in the record's key.
            let stored = KeyValue { key: key.clone(), ..KeyValue::default() };
            self.record(&rev.to_bytes(true), &stored.encode())?;
            let kv = KeyValue { mod_revision: rev.main, ..stored };
            let live = self.store.index_mut().tombstone(key, rev);
            debug_assert!(live, "deleting a key the index listed as live");
            self.changes.push(kv);
        }
        Ok((keys.len(), self.rev()))
    }

    /// Schedules a compaction at `rev`: validates it, records it, and compacts
    /// the index at once so that reads below `rev` fail from now on. The
    /// returned job deletes the obsolete revisions from the backend.
    pub fn compact(&mut self, rev: i64) -> Result<Compaction> {
        let compacted = self.store.compact_rev();
        if rev <= compacted {
            return Err(Error::Compacted { requested: rev, compacted });
        }
        let current = self.rev();
        if rev > current {
            return Err(Error::FutureRev { requested: rev, current });
        }
        self.txn.put_meta(MetaKey::ScheduledCompactRev, &Revision::new(rev, 0).to_bytes(false))?;
        self.force_durable = true;
        Ok(self.store.compact_index(rev))
    }

    /// Commits, recording `consistent_index` (the Raft state of the applied
    /// entry) in the same transaction, and publishes the new revision.
    pub fn end(mut self, consistent_index: &[u8]) -> Result<Committed> {
        self.txn.put_meta(MetaKey::ConsistentIndex, consistent_index)?;
        let rev = self.rev();
        self.store.commit(self.txn, self.force_durable)?;
        self.store.inner.current_rev.store(rev, Ordering::Release);
        Ok(Committed { rev, changes: self.changes })
    }

    /// Ends this transaction's revision without committing the backend
    /// transaction, and continues with the next revision in it. Readers see
    /// nothing of either until the last transaction of the chain ends with
    /// [`TxnWrite::end`], which commits them all at once: the apply loop
    /// turns a run of committed Raft entries into one storage commit this way.
    pub fn chain(mut self, consistent_index: &[u8]) -> Result<(Committed, TxnWrite<'s>)> {
        self.txn.put_meta(MetaKey::ConsistentIndex, consistent_index)?;
        let rev = self.rev();
        let committed = Committed { rev, changes: std::mem::take(&mut self.changes) };
        let next = TxnWrite {
            store: self.store,
            _writer: self._writer,
            txn: self.txn,
            begin_rev: rev,
            changes: Vec::new(),
            force_durable: self.force_durable,
        };
        Ok((committed, next))
    }

    fn record(&mut self, rev_key: &[u8], value: &[u8]) -> Result<()> {
        self.txn.put_revision(rev_key, value)?;
        self.store.inner.live_bytes.fetch_add((rev_key.len() + value.len()) as u64, Ordering::AcqRel);
        Ok(())
    }

    fn next_rev(&self) -> Revision {
        Revision::new(self.begin_rev + 1, self.changes.len() as i64)
    }
}
