//! Defragmentation by copying, so that the member keeps serving meanwhile.
//!
//! redb's own `Database::compact` needs the only handle to the database, which
//! would stop every reader and writer for the whole run — etcd's behaviour,
//! and the pain this module exists to avoid. Instead:
//!
//! 1. [`Backend::defrag_copy`] copies every table, from one read transaction,
//!    into a new file next to the database (`state.redb.defrag`). Readers and
//!    writers keep using the old file; nothing waits.
//! 2. [`DefragCopy::finish`], which the caller runs while no write can commit,
//!    copies what was written since (the `key` table only grows while
//!    compaction is held off; the small tables are copied again whole),
//!    commits the new file durably, renames it over the database and swaps the
//!    handle of every [`Backend`] clone. This is the only pause, and it is
//!    proportional to the writes made during step 1.
//!
//! Crash safety: until the rename the database file is untouched and the
//! leftover copy is deleted at the next open ([`remove_leftover`]); the rename
//! is atomic and happens only after the copy is durable, so after it the new
//! file holds every commit the old one had, including non-durable ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::backend::Backend;
use crate::error::{Error, Result, storage};
use crate::fs::Fs;
use crate::schema::{BYTE_TABLES, KEY, META};

/// Records per write transaction while copying (etcd's defrag uses 10,000).
const COPY_BATCH: usize = 10_000;

/// What a defragmentation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefragReport {
    /// File size before and after, in bytes.
    pub size_before: u64,
    pub size_after: u64,
    /// Records copied in the background phase and during the pause.
    pub copied: u64,
    pub caught_up: u64,
    /// Time of the whole run, and of the pause in which writes waited.
    pub took: Duration,
    pub pause: Duration,
}

/// The background phase done: a new file holding everything up to one read
/// transaction. Dropping it without [`DefragCopy::finish`] deletes the file.
pub struct DefragCopy {
    new_db: Option<Database>,
    tmp_path: PathBuf,
    /// The filesystem of the database (and so of the copy).
    fs: Fs,
    /// The last `key` record copied; the catch-up copies those after it.
    last_key: Option<Vec<u8>>,
    copied: u64,
    size_before: u64,
    started: Instant,
}

/// Where the copy is built: next to the database, so the rename is atomic.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".defrag");
    path.with_file_name(name)
}

/// Deletes the copy a crashed defragmentation left behind.
pub(crate) fn remove_leftover(fs: &Fs, path: &Path) -> Result<()> {
    let tmp = tmp_path(path);
    match fs.remove_file(&tmp) {
        Ok(()) => {
            tracing::warn!(path = %tmp.display(), "removed the copy left by an interrupted defragmentation");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io { op: "remove leftover defrag copy", source }),
    }
}

impl Backend {
    /// Copies every table into a new file without blocking readers or
    /// writers. The caller must keep compaction from deleting `key` records
    /// until [`DefragCopy::finish`] (it checks, and refuses, if one did).
    pub fn defrag_copy(&self) -> Result<DefragCopy> {
        let started = Instant::now();
        let size_before = self.size_bytes();
        let tmp = tmp_path(&self.path);
        remove_leftover(&self.fs, &self.path)?;
        let new_db = self.fs.open_db(&tmp).map_err(storage("create defrag copy"))?;
        // From here on, dropping `copy` (on any error) deletes the file.
        let mut copy = DefragCopy {
            new_db: Some(new_db),
            tmp_path: tmp,
            fs: self.fs.clone(),
            last_key: None,
            copied: 0,
            size_before,
            started,
        };
        let source = self.database();
        let read = source.begin_read().map_err(storage("begin defrag read"))?;
        let (mut copied, mut last_key) = (copy_str_table(&read, copy.db(), META)?, None);
        for def in BYTE_TABLES {
            let (n, last) = copy_byte_table(&read, copy.db(), def, None)?;
            copied += n;
            if def.to_string() == KEY.to_string() {
                last_key = last;
            }
        }
        copy.copied = copied;
        copy.last_key = last_key;
        // Make the bulk durable now, so that the fsync inside the pause only
        // covers the catch-up.
        commit(copy.db().begin_write().map_err(storage("begin defrag write"))?, true)?;
        // No redb `compact()` of the copy: it squeezes the file to the pages in
        // use, and the catch-up's first write then finds no free page and
        // doubles the file (200k revisions: 14.5 MiB instead of 8.5; 1M: 78.8
        // instead of 68.0, measured with `mvcc --example space`).
        Ok(copy)
    }

    /// Defragments in one go. For a database nothing else writes to: a
    /// stopped member's (offline defrag) or tests.
    pub fn defrag(&self) -> Result<DefragReport> {
        self.defrag_copy()?.finish(self)?.settle()
    }
}

impl DefragCopy {
    fn db(&self) -> &Database {
        self.new_db.as_ref().expect("the copy is open until finish")
    }

    /// Copies what was written since [`Backend::defrag_copy`], makes the copy
    /// durable and puts it in place of `backend`'s file. Call it while no
    /// write transaction can commit on `backend`.
    pub fn finish(mut self, backend: &Backend) -> Result<Swapped> {
        let paused = Instant::now();
        let source = backend.database();
        let read = source.begin_read().map_err(storage("begin defrag read"))?;
        let db = self.db();
        let mut caught_up = copy_str_table(&read, db, META)?;
        for def in BYTE_TABLES {
            if def.to_string() == KEY.to_string() {
                let (n, _) = copy_byte_table(&read, db, def, self.last_key.as_deref())?;
                caught_up += n;
                check_same_len(&read, db, def)?;
            } else {
                caught_up += copy_byte_table(&read, db, def, None)?.0;
            }
        }
        // One fsync for the whole copy, before the copy can replace anything.
        let txn = db.begin_write().map_err(storage("begin defrag write"))?;
        commit(txn, true)?;
        let new_db = self.new_db.take().expect("the copy is open until finish");
        self.fs
            .rename(&self.tmp_path, &backend.path)
            .map_err(|source| Error::Io { op: "rename defrag copy", source })?;
        *backend.db.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new_db);
        let pause = paused.elapsed();
        drop(read);
        let report = DefragReport {
            size_before: self.size_before,
            size_after: backend.size_bytes(),
            copied: self.copied,
            caught_up,
            took: self.started.elapsed(),
            pause,
        };
        Ok(Swapped { report, old: source, path: backend.path.clone(), fs: backend.fs.clone() })
    }
}

/// A defragmentation whose new file is in place. What is left needs no
/// pause: [`Swapped::settle`] it once writers may go on.
pub struct Swapped {
    report: DefragReport,
    old: Arc<Database>,
    path: PathBuf,
    fs: Fs,
}

impl Swapped {
    /// Makes the rename durable and closes the old file in the background.
    ///
    /// Until the rename is durable a crash finds the old file under the name,
    /// which is still complete, and the Raft log replays what was applied
    /// since (docs/durability.md). Closing the old redb file writes and
    /// fsyncs its allocator state (to a file nobody will read again): over a
    /// hundred milliseconds for a large file, so it must neither hold up
    /// writers nor land on whichever reader drops the last handle.
    pub fn settle(self) -> Result<DefragReport> {
        self.fs.retire(self.old);
        self.fs.sync_dir(&self.path)?;
        Ok(self.report)
    }
}

/// Drops `old` on a thread of its own once no reader still holds it, so that
/// redb's close runs there.
pub(crate) fn retire(old: Arc<Database>) {
    let spawned = std::thread::Builder::new().name("defrag-retire".into()).spawn(move || {
        let mut old = old;
        loop {
            match Arc::try_unwrap(old) {
                Ok(db) => {
                    drop(db);
                    return;
                }
                Err(still_shared) => {
                    old = still_shared;
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start a thread to close the old database; closing it here");
    }
}

impl Drop for DefragCopy {
    fn drop(&mut self) {
        if let Some(db) = self.new_db.take() {
            drop(db);
            let _ = self.fs.remove_file(&self.tmp_path);
        }
    }
}

/// Defragments the database of a stopped member (`stratactl defrag
/// --data-dir`). Fails with [`Error::Locked`] while a member has it open.
pub fn defrag_offline(path: &Path) -> Result<DefragReport> {
    defrag_offline_with(Fs::Real, path)
}

/// [`defrag_offline`] on a simulated filesystem (power-loss tests).
#[cfg(feature = "fault-injection")]
pub fn defrag_offline_in(fs: &crate::fault_fs::FaultyFs, path: &Path) -> Result<DefragReport> {
    defrag_offline_with(Fs::Faulty(fs.clone()), path)
}

fn defrag_offline_with(fs: Fs, path: &Path) -> Result<DefragReport> {
    if !fs.exists(path) {
        return Err(Error::Io {
            op: "open state db",
            source: std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} does not exist", path.display())),
        });
    }
    let backend = Backend::open_with(fs, path)?;
    backend.defrag()
}

/// Replaces `def` in `dest` by the content it has in `read`; with `after`,
/// only appends the records after that key (the table must only have grown).
/// Returns the records written and the last key seen.
fn copy_byte_table(
    read: &redb::ReadTransaction,
    dest: &Database,
    def: TableDefinition<'static, &[u8], &[u8]>,
    after: Option<&[u8]>,
) -> Result<(u64, Option<Vec<u8>>)> {
    let table = match read.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok((0, after.map(<[u8]>::to_vec))),
        Err(e) => return Err(storage("open table to copy")(e)),
    };
    let iter = match after {
        Some(k) => table.range::<&[u8]>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded)),
        None => table.range::<&[u8]>(..),
    }
    .map_err(storage("scan table to copy"))?;
    let mut written = 0u64;
    let mut last = after.map(<[u8]>::to_vec);
    let mut batch: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(COPY_BATCH);
    let mut first = after.is_none();
    for item in iter {
        let (k, v) = item.map_err(storage("scan table to copy"))?;
        batch.push((k.value().to_vec(), v.value().to_vec()));
        if batch.len() == COPY_BATCH {
            written += write_batch(dest, def, &batch, first)?;
            first = false;
            last = batch.last().map(|(k, _)| k.clone());
            batch.clear();
        }
    }
    if !batch.is_empty() || first {
        written += write_batch(dest, def, &batch, first)?;
        if let Some((k, _)) = batch.last() {
            last = Some(k.clone());
        }
    }
    Ok((written, last))
}

/// Writes one batch; `replace` empties the destination table first.
fn write_batch(
    dest: &Database,
    def: TableDefinition<'static, &[u8], &[u8]>,
    batch: &[(Vec<u8>, Vec<u8>)],
    replace: bool,
) -> Result<u64> {
    let txn = dest.begin_write().map_err(storage("begin defrag write"))?;
    if replace {
        txn.delete_table(def).map_err(storage("clear copied table"))?;
    }
    {
        let mut table = txn.open_table(def).map_err(storage("open copied table"))?;
        for (k, v) in batch {
            table.insert(k.as_slice(), v.as_slice()).map_err(storage("copy record"))?;
        }
    }
    commit(txn, false)?;
    Ok(batch.len() as u64)
}

/// Replaces the `meta` table of `dest` (a few records; one transaction).
fn copy_str_table(
    read: &redb::ReadTransaction,
    dest: &Database,
    def: TableDefinition<'static, &str, &[u8]>,
) -> Result<u64> {
    let txn = dest.begin_write().map_err(storage("begin defrag write"))?;
    txn.delete_table(def).map_err(storage("clear copied table"))?;
    let mut n = 0;
    match read.open_table(def) {
        Ok(table) => {
            let mut out = txn.open_table(def).map_err(storage("open copied table"))?;
            for item in table.iter().map_err(storage("scan table to copy"))? {
                let (k, v) = item.map_err(storage("scan table to copy"))?;
                out.insert(k.value(), v.value()).map_err(storage("copy record"))?;
                n += 1;
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(storage("open table to copy")(e)),
    }
    commit(txn, false)?;
    Ok(n)
}

fn commit(mut txn: redb::WriteTransaction, durable: bool) -> Result<()> {
    let d = if durable { redb::Durability::Immediate } else { redb::Durability::None };
    txn.set_durability(d).map_err(|e| Error::Corrupt { what: "durability", detail: e.to_string() })?;
    txn.commit().map_err(storage("commit defrag copy"))
}

/// The `key` table only grows while compaction is held off; if the copy has a
/// different number of records, something deleted some, and the copy would
/// resurrect them.
fn check_same_len(
    read: &redb::ReadTransaction,
    dest: &Database,
    def: TableDefinition<'static, &[u8], &[u8]>,
) -> Result<()> {
    let want = match read.open_table(def) {
        Ok(t) => t.len().map_err(storage("count records"))?,
        Err(redb::TableError::TableDoesNotExist(_)) => 0,
        Err(e) => return Err(storage("open table to copy")(e)),
    };
    let r = dest.begin_read().map_err(storage("begin defrag read"))?;
    let got = match r.open_table(def) {
        Ok(t) => t.len().map_err(storage("count records"))?,
        Err(redb::TableError::TableDoesNotExist(_)) => 0,
        Err(e) => return Err(storage("open copied table")(e)),
    };
    if want != got {
        return Err(Error::Corrupt {
            what: "defrag copy",
            detail: format!("{} has {want} records but the copy {got}: records were deleted during the copy", def),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetaKey;

    fn rev_key(main: u64) -> Vec<u8> {
        let mut k = main.to_be_bytes().to_vec();
        k.push(b'_');
        k.extend_from_slice(&0u64.to_be_bytes());
        k
    }

    fn fill(be: &Backend, from: u64, to: u64) {
        let mut w = be.begin_write().expect("write");
        for i in from..to {
            w.put_revision(&rev_key(i), &[7u8; 1000]).expect("put");
        }
        w.put_meta(MetaKey::ConsistentIndex, &to.to_be_bytes()).expect("meta");
        w.commit(false).expect("commit");
    }

    fn all(be: &Backend) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        be.begin_read()
            .expect("read")
            .scan_revisions(&[], None, |k, _| {
                out.push(k.to_vec());
                true
            })
            .expect("scan");
        out
    }

    fn drop_below(be: &Backend, rev: u64) {
        let mut w = be.begin_write().expect("write");
        w.delete_revisions_if(&[], &rev_key(rev), usize::MAX, |_| true).expect("delete");
        w.commit(true).expect("commit");
    }

    #[test]
    fn defrag_shrinks_the_file_and_keeps_every_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let be = Backend::open(&dir.path().join("state.redb")).expect("open");
        fill(&be, 1, 5001);
        drop_below(&be, 4501);
        let before = all(&be);
        let report = be.defrag().expect("defrag");
        assert_eq!(all(&be), before);
        assert!(report.size_after * 3 < report.size_before, "{report:?}");
        assert_eq!(be.size_bytes(), report.size_after);
        assert_eq!(
            be.begin_read().expect("read").meta(MetaKey::ConsistentIndex).expect("meta"),
            Some(5001u64.to_be_bytes().to_vec())
        );
        assert!(!tmp_path(be.path()).exists());
        drop(be);
        let reopened = Backend::open(&dir.path().join("state.redb")).expect("reopen");
        assert_eq!(all(&reopened), before);
    }

    #[test]
    fn writes_during_the_copy_are_caught_up_and_old_readers_finish_on_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let be = Backend::open(&dir.path().join("state.redb")).expect("open");
        fill(&be, 1, 1001);
        let copy = be.defrag_copy().expect("copy");
        fill(&be, 1001, 1101);
        let old_reader = be.begin_read().expect("read");
        let report = copy.finish(&be).expect("finish").settle().expect("settle");
        assert_eq!(report.caught_up, 100 + 2, "100 new revisions and the two meta records");
        assert_eq!(all(&be).len(), 1100);
        fill(&be, 1101, 1102);
        assert_eq!(all(&be).len(), 1101);
        let mut n = 0;
        old_reader
            .scan_revisions(&[], None, |_, _| {
                n += 1;
                true
            })
            .expect("old scan");
        assert_eq!(n, 1100, "the old view is unchanged");
        drop(old_reader);
        drop(be);
        let reopened = Backend::open(&dir.path().join("state.redb")).expect("reopen");
        assert_eq!(all(&reopened).len(), 1101);
    }

    #[test]
    fn a_deletion_during_the_copy_aborts_without_touching_the_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let be = Backend::open(&dir.path().join("state.redb")).expect("open");
        fill(&be, 1, 1001);
        let copy = be.defrag_copy().expect("copy");
        drop_below(&be, 11);
        let err = copy.finish(&be).err().expect("must refuse");
        assert!(err.to_string().contains("deleted during the copy"), "{err}");
        assert_eq!(all(&be).len(), 990);
        assert!(!tmp_path(be.path()).exists());
    }

    #[test]
    fn a_leftover_copy_is_removed_at_open_and_offline_defrag_refuses_a_running_member() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.redb");
        std::fs::write(tmp_path(&path), b"half a copy").expect("write leftover");
        let be = Backend::open(&path).expect("open");
        assert!(!tmp_path(&path).exists());
        fill(&be, 1, 11);
        assert!(matches!(defrag_offline(&path), Err(Error::Locked { .. })));
        drop(be);
        defrag_offline(&path).expect("offline defrag");
        assert_eq!(all(&Backend::open(&path).expect("open")).len(), 10);
        assert!(defrag_offline(&dir.path().join("missing.redb")).is_err());
    }
}
