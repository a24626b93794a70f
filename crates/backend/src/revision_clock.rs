//! The `revision_clock` table: wall-clock second → the revision current then.
//!
//! The applier records a sample with the first entry it applies in each
//! second, in that entry's transaction, so the table survives restarts and
//! travels with copies of the file. The periodic auto-compactor asks it "which
//! revision was current P ago" instead of keeping etcd's in-memory ring.
//!
//! Key: unix seconds, u64 big-endian (so a scan is time order). Value: the
//! revision, i64 big-endian. Writers only append keys later than the newest
//! one, so revisions never decrease along the key order either.
//!
//! Worked example: entries applied at 100.2 s (revision 7 → 8), 100.6 s
//! (8 → 9) and 103.1 s (9 → 10) leave `100 → 7` and `103 → 9`: the revision
//! each second began with, as far as the applier saw. `revision_at(102)` is 7,
//! a lower bound of the true 9, never more than it; `revision_at(99)` is none.
//! A compaction at 9 then prunes `100 → 7` and keeps `103 → 9`.

use redb::ReadableTable;

use crate::backend::{ReadTxn, WriteTxn};
use crate::error::{Error, Result, storage};
use crate::schema::REVISION_CLOCK;

fn decode(k: &[u8], v: &[u8]) -> Result<(u64, i64)> {
    let secs = <[u8; 8]>::try_from(k).map_err(|_| Error::Corrupt {
        what: "revision_clock table key",
        detail: format!("{} bytes, want 8", k.len()),
    })?;
    let rev = <[u8; 8]>::try_from(v).map_err(|_| Error::Corrupt {
        what: "revision_clock table value",
        detail: format!("{} bytes, want 8", v.len()),
    })?;
    Ok((u64::from_be_bytes(secs), i64::from_be_bytes(rev)))
}

impl WriteTxn {
    /// Records that `rev` was the current revision at `unix_secs`. Callers
    /// keep both columns increasing (see the module doc).
    pub fn put_revision_sample(&mut self, unix_secs: u64, rev: i64) -> Result<()> {
        let mut table = self.txn.open_table(REVISION_CLOCK).map_err(storage("open revision_clock table"))?;
        table
            .insert(unix_secs.to_be_bytes().as_slice(), rev.to_be_bytes().as_slice())
            .map_err(storage("put revision sample"))?;
        Ok(())
    }

    /// The newest sample, including this transaction's writes.
    pub fn last_revision_sample(&self) -> Result<Option<(u64, i64)>> {
        let table = self.txn.open_table(REVISION_CLOCK).map_err(storage("open revision_clock table"))?;
        let last = table.last().map_err(storage("read revision_clock table"))?;
        last.map(|(k, v)| decode(k.value(), v.value())).transpose()
    }

    /// Drops the samples a compaction at `compacted` made useless: those at or
    /// below it, except the newest of them, which still answers for the time
    /// between it and the next sample. Returns how many were dropped.
    pub fn prune_revision_samples(&mut self, compacted: i64) -> Result<usize> {
        let mut table = self.txn.open_table(REVISION_CLOCK).map_err(storage("open revision_clock table"))?;
        let mut covered = Vec::new();
        for item in table.iter().map_err(storage("scan revision_clock table"))? {
            let (k, v) = item.map_err(storage("scan revision_clock table"))?;
            let (secs, rev) = decode(k.value(), v.value())?;
            if rev > compacted {
                break;
            }
            covered.push(secs);
        }
        covered.pop();
        for secs in &covered {
            table.remove(secs.to_be_bytes().as_slice()).map_err(storage("prune revision samples"))?;
        }
        Ok(covered.len())
    }
}

impl ReadTxn {
    /// The revision of the newest sample at or before `unix_secs`: the
    /// revision current then, or an earlier one; `None` if no sample is that
    /// old.
    pub fn revision_at(&self, unix_secs: u64) -> Result<Option<i64>> {
        let table = match self.txn.open_table(REVISION_CLOCK) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(storage("open revision_clock table")(e)),
        };
        let mut below = table
            .range::<&[u8]>(..=unix_secs.to_be_bytes().as_slice())
            .map_err(storage("scan revision_clock table"))?;
        match below.next_back() {
            Some(item) => {
                let (k, v) = item.map_err(storage("scan revision_clock table"))?;
                Ok(Some(decode(k.value(), v.value())?.1))
            }
            None => Ok(None),
        }
    }

    /// Every sample, oldest first.
    pub fn revision_samples(&self) -> Result<Vec<(u64, i64)>> {
        let table = match self.txn.open_table(REVISION_CLOCK) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(storage("open revision_clock table")(e)),
        };
        let mut out = Vec::new();
        for item in table.iter().map_err(storage("scan revision_clock table"))? {
            let (k, v) = item.map_err(storage("scan revision_clock table"))?;
            out.push(decode(k.value(), v.value())?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::Backend;

    fn open() -> (tempfile::TempDir, Backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let be = Backend::open(&dir.path().join("state.redb")).expect("open");
        (dir, be)
    }

    fn write(be: &Backend, samples: &[(u64, i64)]) {
        let mut w = be.begin_write().expect("begin write");
        for &(secs, rev) in samples {
            w.put_revision_sample(secs, rev).expect("put sample");
        }
        w.commit(false).expect("commit");
    }

    #[test]
    fn revision_at_is_the_newest_sample_not_after_the_time() {
        let (_dir, be) = open();
        assert_eq!(be.begin_read().expect("read").revision_at(100).expect("lookup"), None, "no table yet");
        write(&be, &[(100, 7), (103, 9), (1 << 40, 12)]);
        let r = be.begin_read().expect("read");
        assert_eq!(r.revision_at(99).expect("lookup"), None);
        assert_eq!(r.revision_at(100).expect("lookup"), Some(7));
        assert_eq!(r.revision_at(102).expect("lookup"), Some(7));
        assert_eq!(r.revision_at(103).expect("lookup"), Some(9));
        assert_eq!(r.revision_at(1 << 39).expect("lookup"), Some(9), "keys compare as numbers");
        assert_eq!(r.revision_at(u64::MAX).expect("lookup"), Some(12));
    }

    #[test]
    fn last_sample_sees_the_transactions_own_writes() {
        let (_dir, be) = open();
        let mut w = be.begin_write().expect("begin write");
        assert_eq!(w.last_revision_sample().expect("last"), None);
        w.put_revision_sample(5, 1).expect("put");
        w.put_revision_sample(6, 3).expect("put");
        assert_eq!(w.last_revision_sample().expect("last"), Some((6, 3)));
    }

    #[test]
    fn pruning_keeps_the_newest_compacted_sample_and_everything_after() {
        let (_dir, be) = open();
        write(&be, &[(10, 1), (11, 4), (12, 4), (13, 8), (20, 9)]);
        let mut w = be.begin_write().expect("begin write");
        assert_eq!(w.prune_revision_samples(0).expect("prune"), 0, "nothing at or below 0");
        assert_eq!(w.prune_revision_samples(5).expect("prune"), 2);
        w.commit(false).expect("commit");
        let r = be.begin_read().expect("read");
        assert_eq!(r.revision_samples().expect("scan"), vec![(12, 4), (13, 8), (20, 9)]);
        assert_eq!(r.revision_at(12).expect("lookup"), Some(4));
        drop(r);

        let mut w = be.begin_write().expect("begin write");
        assert_eq!(w.prune_revision_samples(100).expect("prune"), 2);
        w.commit(false).expect("commit");
        assert_eq!(be.begin_read().expect("read").revision_samples().expect("scan"), vec![(20, 9)]);
    }

    #[test]
    fn samples_survive_reopen_and_defrag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.redb");
        {
            let be = Backend::open(&path).expect("open");
            write(&be, &[(10, 1), (11, 4)]);
            let mut w = be.begin_write().expect("begin write");
            w.put_meta(crate::MetaKey::ConsistentIndex, b"x").expect("meta");
            w.commit(true).expect("durable commit");
            be.defrag().expect("defrag");
        }
        let be = Backend::open(&path).expect("reopen");
        assert_eq!(be.begin_read().expect("read").revision_samples().expect("scan"), vec![(10, 1), (11, 4)]);
    }
}
