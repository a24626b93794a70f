//! Whole-store maintenance: the `HashKV` checksum and defragmentation.

use backend::DefragReport;

use crate::error::{Error, Result};
use crate::revision::Revision;
use crate::store::Store;

/// What `HashKV` answers: the checksum, and the revisions it was taken at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashKv {
    pub hash: u32,
    /// The current revision of the store when hashed.
    pub current_rev: i64,
    /// The compacted revision the hash is relative to.
    pub compact_rev: i64,
    /// The revision the hash covers (etcd 3.6's `hash_revision`).
    pub hash_rev: i64,
}

impl Store {
    /// etcd 3.6's `hashByRev`: refuses `rev` below the compacted revision
    /// (3.4 refused the compacted revision itself too). A CRC-32C
    /// (Castagnoli) of the `key` table name and every `(revision key,
    /// KeyValue)` record with a revision `<= rev`, leaving out, among those
    /// at or below the compacted revision, the ones a compaction at `rev`
    /// would not keep — so members agree whether or not their compaction
    /// has physically finished — and a tombstone at exactly the compacted
    /// revision (etcd 3.5.16+ keeps it where older releases deleted it, and
    /// hashes as if it were gone). Our revision keys and stored `KeyValue`s
    /// (tombstones included) are etcd's bytes, so the same history hashes the
    /// same as on etcd, except that etcd hashes every record when that keep
    /// set is empty (its `len(keep) > 0` test), which makes its hash depend
    /// on whether the deletions have finished; we always leave them out.
    /// `rev == 0` means the current revision.
    pub fn hash_kv(&self, rev: i64) -> Result<HashKv> {
        let (txn, current_rev, compact_rev, keep) = {
            let index = self.index();
            let current_rev = self.rev();
            let compact_rev = self.compact_rev();
            if rev > 0 && rev < compact_rev {
                return Err(Error::Compacted { requested: rev, compacted: compact_rev });
            }
            if rev > current_rev {
                return Err(Error::FutureRev { requested: rev, current: current_rev });
            }
            let rev = if rev == 0 { current_rev } else { rev };
            // What a compaction at the *hash* revision would keep.
            let keep = index.keep(rev);
            (self.backend().begin_read()?, current_rev, compact_rev, keep)
        };
        let rev = if rev == 0 { current_rev } else { rev };
        let mut h = crc32c::crc32c(b"key");
        let end = Revision::new(rev + 1, 0).to_bytes(false);
        txn.scan_revisions(&[], Some(&end), |k, v| {
            if let Some((r, tombstone)) = Revision::from_bytes(k)
                && r.main <= compact_rev
                && (!keep.contains(&r) || (tombstone && r.main == compact_rev))
            {
                return true;
            }
            h = crc32c::crc32c_append(h, k);
            h = crc32c::crc32c_append(h, v);
            true
        })?;
        Ok(HashKv { hash: h, current_rev, compact_rev, hash_rev: rev })
    }

    /// Defragments the backend while the store keeps serving: the copy runs
    /// without any lock, then the writer is held only for the catch-up and the
    /// file swap. Compaction waits for the whole run (its deletions would
    /// otherwise be resurrected by the copy), and so does a second defrag.
    pub fn defragment(&self) -> Result<DefragReport> {
        let _hold = self.hold_compaction();
        let copy = self.backend().defrag_copy()?;
        let swapped = {
            let _writer = self.writer();
            let swapped = copy.finish(self.backend())?;
            // The copy took every commit and was fsynced before the swap:
            // nothing is left for the periodic durable commit to make durable.
            self.inner.commits_since_durable.store(0, std::sync::atomic::Ordering::Release);
            swapped
        };
        Ok(swapped.settle()?)
    }
}
