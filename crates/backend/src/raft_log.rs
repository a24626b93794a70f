//! [`RaftLogDb`]: the Raft log of one member (`member/raft.redb`).
//!
//! A separate file from the state machine, so the log's fsync cadence (one
//! durable commit per appended batch) never waits on a large state-machine
//! transaction and the state machine can commit non-durably (see
//! `docs/durability.md`).
//!
//! The tables, declared once here:
//!
//! | table     | key                 | value                                      |
//! |-----------|---------------------|--------------------------------------------|
//! | `log`     | log index (`u64`)   | the encoded entry (opaque; `raft` owns it) |
//! | `log_meta`| name (`&str`)       | opaque bytes, names below                  |
//!
//! `log_meta` names: `vote` (the last vote, durable), `committed` (the last
//! committed log id, may lag after a crash), `last_purged` (the id of the last
//! entry removed by [`RaftLogDb::purge_to`]) and `schema_version`
//! ([`RAFT_LOG_SCHEMA_VERSION`], 8 bytes big-endian).
//!
//! Example: append 1..=3, truncate from 3 (index 3 is gone), purge to 1
//! (index 1 is gone, `last_purged` recorded): the log now holds only index 2.

use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use crate::error::{Error, Result, storage};

/// Log index → encoded entry.
const LOG: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("log");

/// Meta name → value; the names are the `META_*` constants.
const LOG_META: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("log_meta");

const META_VOTE: &str = "vote";
const META_COMMITTED: &str = "committed";
const META_LAST_PURGED: &str = "last_purged";
const META_SCHEMA_VERSION: &str = "schema_version";

/// The version of the `raft.redb` layout; bumped with an upgrade path on every change.
const RAFT_LOG_SCHEMA_VERSION: u64 = 1;

/// The Raft log database.
///
/// Cloning is cheap; clones share the open file. Every write is its own redb
/// write transaction, so writes are atomic; all of them except
/// [`RaftLogDb::save_committed`] are durable (fsynced) when they return.
/// redb serialises writers; openraft already issues log writes one at a time.
#[derive(Clone)]
pub struct RaftLogDb {
    db: Arc<Database>,
    path: PathBuf,
}

impl RaftLogDb {
    /// Opens (or creates) the log at `path`, creating its directory, and checks its schema version.
    pub fn open(path: &Path) -> Result<RaftLogDb> {
        let db = crate::create::open_or_create(&crate::fs::Fs::Real, path, "open raft log")?;
        RaftLogDb::on_database(db, path)
    }

    /// Opens (or creates) the log on a simulated disk (power-loss tests);
    /// `path` is only a name here.
    #[cfg(feature = "fault-injection")]
    pub fn open_on(disk: crate::fault::FaultyDisk) -> Result<RaftLogDb> {
        let db = Database::builder().create_with_backend(disk).map_err(storage("open raft log"))?;
        RaftLogDb::on_database(db, Path::new("fault-injected/raft.redb"))
    }

    fn on_database(db: Database, path: &Path) -> Result<RaftLogDb> {
        let log = RaftLogDb { db: Arc::new(db), path: path.to_path_buf() };
        log.init_schema()?;
        Ok(log)
    }

    fn init_schema(&self) -> Result<()> {
        let want = RAFT_LOG_SCHEMA_VERSION.to_be_bytes();
        match self.meta(META_SCHEMA_VERSION)? {
            Some(v) if v == want => Ok(()),
            Some(v) => Err(Error::Corrupt { what: "raft log schema version", detail: format!("unsupported {v:?}") }),
            None => self.write(|txn| {
                let mut meta = txn.open_table(LOG_META).map_err(storage("open raft meta table"))?;
                meta.insert(META_SCHEMA_VERSION, want.as_slice()).map_err(storage("put raft meta"))?;
                // Create the log table so that readers never see it missing.
                txn.open_table(LOG).map_err(storage("open raft log table"))?;
                Ok(())
            }),
        }
    }

    /// The file this log lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores a batch of entries in one durable transaction (one fsync for the
    /// whole batch: this is the group commit of concurrent client writes).
    /// An existing entry at the same index is overwritten.
    pub fn append<'a>(&self, entries: impl IntoIterator<Item = (u64, &'a [u8])>) -> Result<()> {
        self.append_with_committed(entries, None)
    }

    /// [`RaftLogDb::append`], also recording the last committed log id in the
    /// same durable transaction (so saving it costs no commit of its own).
    pub fn append_with_committed<'a>(
        &self,
        entries: impl IntoIterator<Item = (u64, &'a [u8])>,
        committed: Option<&[u8]>,
    ) -> Result<()> {
        self.write(|txn| {
            let mut log = txn.open_table(LOG).map_err(storage("open raft log table"))?;
            for (index, bytes) in entries {
                log.insert(index, bytes).map_err(storage("append raft log"))?;
            }
            if let Some(c) = committed {
                let mut meta = txn.open_table(LOG_META).map_err(storage("open raft meta table"))?;
                meta.insert(META_COMMITTED, c).map_err(storage("put raft meta"))?;
            }
            Ok(())
        })
    }

    /// The entries whose index is in `range`, in index order.
    pub fn range(&self, range: impl RangeBounds<u64>) -> Result<Vec<(u64, Vec<u8>)>> {
        let txn = self.db.begin_read().map_err(storage("begin raft read"))?;
        let log = txn.open_table(LOG).map_err(storage("open raft log table"))?;
        let mut out = Vec::new();
        for item in log.range::<u64>(range).map_err(storage("read raft log"))? {
            let (k, v) = item.map_err(storage("read raft log"))?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The entry with the highest index, if any.
    pub fn last_entry(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let txn = self.db.begin_read().map_err(storage("begin raft read"))?;
        let log = txn.open_table(LOG).map_err(storage("open raft log table"))?;
        let last = log.last().map_err(storage("read raft log"))?;
        Ok(last.map(|(k, v)| (k.value(), v.value().to_vec())))
    }

    /// Deletes every entry with index `>= index` (durable).
    pub fn truncate_from(&self, index: u64) -> Result<()> {
        self.write(|txn| {
            let mut log = txn.open_table(LOG).map_err(storage("open raft log table"))?;
            log.retain_in(index.., |_, _| false).map_err(storage("truncate raft log"))
        })
    }

    /// Deletes every entry with index `<= index` and records `last_purged`
    /// (the encoded id of entry `index`) in the same durable transaction, so a
    /// crash never leaves a purged prefix without its record.
    pub fn purge_to(&self, index: u64, last_purged: &[u8]) -> Result<()> {
        self.write(|txn| {
            let mut log = txn.open_table(LOG).map_err(storage("open raft log table"))?;
            log.retain_in(..=index, |_, _| false).map_err(storage("purge raft log"))?;
            let mut meta = txn.open_table(LOG_META).map_err(storage("open raft meta table"))?;
            meta.insert(META_LAST_PURGED, last_purged).map_err(storage("put raft meta"))?;
            Ok(())
        })
    }

    /// Stores the vote durably: a member must never vote twice in a term, even across a crash.
    pub fn save_vote(&self, vote: &[u8]) -> Result<()> {
        self.put_meta(META_VOTE, Some(vote), Durability::Immediate)
    }

    /// The last vote saved.
    pub fn vote(&self) -> Result<Option<Vec<u8>>> {
        self.meta(META_VOTE)
    }

    /// Stores the committed log id (or clears it) **without** an fsync: it
    /// reaches the disk with the next durable write (the next append). After a
    /// crash it may lag, which only means openraft re-applies fewer entries at
    /// start-up and learns the rest from the leader; it never runs ahead of the
    /// durable log because entries are durable before they can be committed.
    pub fn save_committed(&self, committed: Option<&[u8]>) -> Result<()> {
        self.put_meta(META_COMMITTED, committed, Durability::None)
    }

    /// The last committed log id saved.
    pub fn committed(&self) -> Result<Option<Vec<u8>>> {
        self.meta(META_COMMITTED)
    }

    /// The id of the last purged entry, recorded by [`RaftLogDb::purge_to`].
    pub fn last_purged(&self) -> Result<Option<Vec<u8>>> {
        self.meta(META_LAST_PURGED)
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(storage("begin raft read"))?;
        let meta = match txn.open_table(LOG_META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(storage("open raft meta table")(e)),
        };
        let v = meta.get(name).map_err(storage("get raft meta"))?;
        Ok(v.map(|g| g.value().to_vec()))
    }

    fn put_meta(&self, name: &str, value: Option<&[u8]>, durability: Durability) -> Result<()> {
        self.write_with(durability, |txn| {
            let mut meta = txn.open_table(LOG_META).map_err(storage("open raft meta table"))?;
            match value {
                Some(v) => meta.insert(name, v).map(drop),
                None => meta.remove(name).map(drop),
            }
            .map_err(storage("put raft meta"))
        })
    }

    fn write(&self, f: impl FnOnce(&redb::WriteTransaction) -> Result<()>) -> Result<()> {
        self.write_with(Durability::Immediate, f)
    }

    /// Runs `f` in one write transaction and commits it with `durability`;
    /// an error from `f` aborts the transaction (dropped uncommitted).
    fn write_with(&self, durability: Durability, f: impl FnOnce(&redb::WriteTransaction) -> Result<()>) -> Result<()> {
        let mut txn = self.db.begin_write().map_err(storage("begin raft write"))?;
        txn.set_durability(durability).map_err(storage("set raft durability"))?;
        f(&txn)?;
        txn.commit().map_err(storage("commit raft log"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &tempfile::TempDir) -> RaftLogDb {
        RaftLogDb::open(&dir.path().join("member/raft.redb")).expect("open raft log")
    }

    fn indexes(log: &RaftLogDb) -> Vec<u64> {
        log.range(..).expect("range").into_iter().map(|(i, _)| i).collect()
    }

    fn append_n(log: &RaftLogDb, from: u64, to: u64) {
        let entries: Vec<(u64, Vec<u8>)> = (from..=to).map(|i| (i, format!("e{i}").into_bytes())).collect();
        log.append(entries.iter().map(|(i, b)| (*i, b.as_slice()))).expect("append");
    }

    #[test]
    fn reopen_keeps_entries_and_meta() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let log = open(&dir);
            append_n(&log, 1, 5);
            log.save_vote(b"vote-1").expect("vote");
            log.save_committed(Some(b"c-4")).expect("committed");
            // A durable write after the non-durable committed makes it durable too.
            append_n(&log, 6, 6);
        }
        let log = open(&dir);
        assert_eq!(indexes(&log), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(log.last_entry().expect("last"), Some((6, b"e6".to_vec())));
        assert_eq!(log.range(2..4).expect("range"), vec![(2, b"e2".to_vec()), (3, b"e3".to_vec())]);
        assert_eq!(log.vote().expect("vote"), Some(b"vote-1".to_vec()));
        assert_eq!(log.committed().expect("committed"), Some(b"c-4".to_vec()));
        assert_eq!(log.last_purged().expect("purged"), None);
    }

    #[test]
    fn truncate_deletes_from_index_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = open(&dir);
        append_n(&log, 1, 5);
        log.truncate_from(3).expect("truncate");
        assert_eq!(indexes(&log), vec![1, 2]);
        assert_eq!(log.last_entry().expect("last"), Some((2, b"e2".to_vec())));
        log.truncate_from(10).expect("truncate past the end is a no-op");
        assert_eq!(indexes(&log), vec![1, 2]);
        // The conflicting suffix is replaced by the new leader's entries.
        log.append([(3, b"new3".as_slice())]).expect("append");
        assert_eq!(log.last_entry().expect("last"), Some((3, b"new3".to_vec())));
    }

    #[test]
    fn purge_deletes_up_to_index_and_records_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let log = open(&dir);
            append_n(&log, 1, 5);
            log.purge_to(3, b"id-3").expect("purge");
            assert_eq!(indexes(&log), vec![4, 5]);
        }
        let log = open(&dir);
        assert_eq!(indexes(&log), vec![4, 5]);
        assert_eq!(log.last_purged().expect("purged"), Some(b"id-3".to_vec()));
        log.purge_to(5, b"id-5").expect("purge all");
        assert_eq!(log.last_entry().expect("last"), None);
        assert_eq!(log.last_purged().expect("purged"), Some(b"id-5".to_vec()));
    }

    #[test]
    fn committed_can_be_cleared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = open(&dir);
        log.save_committed(Some(b"c")).expect("save");
        log.save_committed(None).expect("clear");
        assert_eq!(log.committed().expect("committed"), None);
    }

    #[test]
    fn second_open_in_process_is_locked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _log = open(&dir);
        let again = RaftLogDb::open(&dir.path().join("member/raft.redb"));
        assert!(matches!(again, Err(Error::Locked { .. })), "{:?}", again.err());
    }
}
