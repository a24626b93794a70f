//! [`Backend`]: the state-machine database of one member.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::error::{Error, Result, storage};
use crate::fs::Fs;
use crate::schema::{KEY, META, MetaKey, SCHEMA_VERSION};

/// The state-machine database (`member/state.redb`).
///
/// Cloning is cheap; all clones share one open file. Readers never block the
/// writer and see a consistent snapshot (redb's MVCC read transactions). redb
/// allows one write transaction at a time: callers serialise writers above.
///
/// Defragmentation ([`crate::defrag`]) replaces the open file under all
/// clones at once: the database handle sits behind a lock that is held only
/// to clone the handle, and every transaction keeps the handle it began on,
/// so a reader that began before the swap finishes on the old file.
#[derive(Clone)]
pub struct Backend {
    pub(crate) db: Arc<RwLock<Arc<Database>>>,
    pub(crate) path: PathBuf,
    /// The filesystem `path` is on: where a defragmentation or an install
    /// makes and renames files.
    pub(crate) fs: Fs,
}

impl Backend {
    /// Opens (or creates) the database at `path` and checks its schema version.
    pub fn open(path: &Path) -> Result<Backend> {
        Backend::open_with(Fs::Real, path)
    }

    /// Opens (or creates) the database at `path` on a simulated filesystem
    /// (power-loss tests): as [`Backend::open`], and its defragmentations and
    /// installs make and rename their files there too.
    #[cfg(feature = "fault-injection")]
    pub fn open_in(fs: &crate::fault_fs::FaultyFs, path: &Path) -> Result<Backend> {
        Backend::open_with(Fs::Faulty(fs.clone()), path)
    }

    pub(crate) fn open_with(fs: Fs, path: &Path) -> Result<Backend> {
        if let Some(dir) = path.parent() {
            crate::create::create_dirs(&fs, dir)?;
        }
        let db = crate::create::open_or_create(&fs, path, "open state db")?;
        // Only once the file is ours (redb's lock): files of a defrag or an
        // install cut short, which another process holding the data dir
        // could still be writing.
        crate::defrag::remove_leftover(&fs, path)?;
        crate::install::remove_leftover(&fs, path)?;
        Backend::on_database(db, path, fs)
    }

    /// Opens (or creates) the database on a simulated disk (power-loss tests).
    /// `path` is only a name here and `size_bytes` is 0. Do not defragment it
    /// nor `replace_with` on it: both make real files next to `path` and
    /// rename them, which a redb `StorageBackend` cannot stand for (use
    /// [`Backend::open_in`] for those).
    #[cfg(feature = "fault-injection")]
    pub fn open_on(disk: crate::fault::FaultyDisk) -> Result<Backend> {
        let db = Database::builder().create_with_backend(disk).map_err(storage("open state db"))?;
        Backend::on_database(db, Path::new("fault-injected/state.redb"), Fs::Real)
    }

    fn on_database(db: Database, path: &Path, fs: Fs) -> Result<Backend> {
        let backend = Backend { db: Arc::new(RwLock::new(Arc::new(db))), path: path.to_path_buf(), fs };
        backend.init_schema()?;
        Ok(backend)
    }

    fn init_schema(&self) -> Result<()> {
        let mut w = self.begin_write()?;
        let found = w.meta(MetaKey::SchemaVersion)?;
        match found {
            None => w.put_meta(MetaKey::SchemaVersion, &SCHEMA_VERSION.to_be_bytes())?,
            Some(v) if v == SCHEMA_VERSION.to_be_bytes() => {}
            Some(v) => {
                return Err(Error::Corrupt { what: "schema version", detail: format!("unsupported {v:?}") });
            }
        }
        w.commit(true)
    }

    /// The file this backend lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the database file in bytes (etcd's `dbSize`).
    pub fn size_bytes(&self) -> u64 {
        self.fs.len(&self.path).unwrap_or(0)
    }

    /// Starts a snapshot read.
    pub fn begin_read(&self) -> Result<ReadTxn> {
        let db = self.database();
        let txn = db.begin_read().map_err(storage("begin read"))?;
        Ok(ReadTxn { txn, _db: db })
    }

    /// Starts the (single) write transaction.
    pub fn begin_write(&self) -> Result<WriteTxn> {
        let db = self.database();
        let txn = db.begin_write().map_err(storage("begin write"))?;
        Ok(WriteTxn { txn, _db: db })
    }

    /// The open database file (the one a defragmentation may replace).
    pub(crate) fn database(&self) -> Arc<Database> {
        self.db.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A consistent read-only view.
pub struct ReadTxn {
    pub(crate) txn: redb::ReadTransaction,
    /// Keeps the file this view reads open until the view ends, even if a
    /// defragmentation has replaced it meanwhile. Declared after `txn`, so it
    /// is dropped after it.
    _db: Arc<Database>,
}

impl ReadTxn {
    /// The value stored under a revision key of the `key` table.
    pub fn get_revision(&self, rev_key: &[u8]) -> Result<Option<Vec<u8>>> {
        let table = match self.txn.open_table(KEY) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(storage("open key table")(e)),
        };
        let v = table.get(rev_key).map_err(storage("get revision"))?;
        Ok(v.map(|g| g.value().to_vec()))
    }

    /// The values stored under several revision keys, with one table handle.
    pub fn get_revisions(&self, rev_keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        let table = match self.txn.open_table(KEY) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(vec![None; rev_keys.len()]),
            Err(e) => return Err(storage("open key table")(e)),
        };
        rev_keys
            .iter()
            .map(|k| Ok(table.get(k.as_slice()).map_err(storage("get revision"))?.map(|g| g.value().to_vec())))
            .collect()
    }

    /// Calls `f` for every `key` table entry with `from <= rev_key < to`, in
    /// order, until it returns `false`.
    pub fn scan_revisions(
        &self,
        from: &[u8],
        to: Option<&[u8]>,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let table = match self.txn.open_table(KEY) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(storage("open key table")(e)),
        };
        let iter = match to {
            Some(to) => table.range::<&[u8]>(from..to),
            None => table.range::<&[u8]>(from..),
        }
        .map_err(storage("scan key table"))?;
        for item in iter {
            let (k, v) = item.map_err(storage("scan key table"))?;
            if !f(k.value(), v.value()) {
                break;
            }
        }
        Ok(())
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: MetaKey) -> Result<Option<Vec<u8>>> {
        let table = match self.txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(storage("open meta table")(e)),
        };
        let v = table.get(key.name()).map_err(storage("get meta"))?;
        Ok(v.map(|g| g.value().to_vec()))
    }
}

/// The write transaction. Dropping it without [`WriteTxn::commit`] aborts.
pub struct WriteTxn {
    pub(crate) txn: redb::WriteTransaction,
    _db: Arc<Database>,
}

impl WriteTxn {
    /// Stores a record of the `key` table.
    pub fn put_revision(&mut self, rev_key: &[u8], value: &[u8]) -> Result<()> {
        let mut table = self.txn.open_table(KEY).map_err(storage("open key table"))?;
        table.insert(rev_key, value).map_err(storage("put revision"))?;
        Ok(())
    }

    /// Reads a record of the `key` table, including this transaction's writes.
    pub fn get_revision(&self, rev_key: &[u8]) -> Result<Option<Vec<u8>>> {
        let table = self.txn.open_table(KEY).map_err(storage("open key table"))?;
        let v = table.get(rev_key).map_err(storage("get revision"))?;
        Ok(v.map(|g| g.value().to_vec()))
    }

    /// Several records of the `key` table, including this transaction's writes.
    pub fn get_revisions(&self, rev_keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        let table = self.txn.open_table(KEY).map_err(storage("open key table"))?;
        rev_keys
            .iter()
            .map(|k| Ok(table.get(k.as_slice()).map_err(storage("get revision"))?.map(|g| g.value().to_vec())))
            .collect()
    }

    /// Deletes the records of the `key` table in `[from, to)` for which `drop`
    /// answers true, visiting at most `limit` records. Returns how many were
    /// visited and deleted, and the first key not visited (None at the end).
    pub fn delete_revisions_if(
        &mut self,
        from: &[u8],
        to: &[u8],
        limit: usize,
        mut drop: impl FnMut(&[u8]) -> bool,
    ) -> Result<DeleteBatch> {
        let mut table = self.txn.open_table(KEY).map_err(storage("open key table"))?;
        let mut doomed = Vec::new();
        let mut deleted_bytes = 0u64;
        let mut visited = 0usize;
        let mut next = None;
        for item in table.range::<&[u8]>(from..to).map_err(storage("scan key table"))? {
            let (k, v) = item.map_err(storage("scan key table"))?;
            if visited == limit {
                next = Some(k.value().to_vec());
                break;
            }
            visited += 1;
            if drop(k.value()) {
                deleted_bytes += (k.value().len() + v.value().len()) as u64;
                doomed.push(k.value().to_vec());
            }
        }
        for k in &doomed {
            table.remove(k.as_slice()).map_err(storage("delete revision"))?;
        }
        Ok(DeleteBatch { visited, deleted: doomed.len(), deleted_bytes, next })
    }

    /// Number of records in the `key` table.
    pub fn revision_count(&self) -> Result<u64> {
        let table = self.txn.open_table(KEY).map_err(storage("open key table"))?;
        table.len().map_err(storage("count revisions"))
    }

    /// A value of the `meta` table, including this transaction's writes.
    pub fn meta(&self, key: MetaKey) -> Result<Option<Vec<u8>>> {
        let table = self.txn.open_table(META).map_err(storage("open meta table"))?;
        let v = table.get(key.name()).map_err(storage("get meta"))?;
        Ok(v.map(|g| g.value().to_vec()))
    }

    /// Sets a value of the `meta` table.
    pub fn put_meta(&mut self, key: MetaKey, value: &[u8]) -> Result<()> {
        let mut table = self.txn.open_table(META).map_err(storage("open meta table"))?;
        table.insert(key.name(), value).map_err(storage("put meta"))?;
        Ok(())
    }

    /// Commits. With `durable == false` the commit is visible to readers at once
    /// but reaches the disk only with the next durable commit; a crash in
    /// between rolls the file back to the last durable commit (redb guarantees
    /// a consistent file either way). The Raft log makes that safe: see
    /// `docs/durability.md`.
    pub fn commit(mut self, durable: bool) -> Result<()> {
        let durability = if durable { redb::Durability::Immediate } else { redb::Durability::None };
        self.txn
            .set_durability(durability)
            .map_err(|e| Error::Corrupt { what: "durability", detail: e.to_string() })?;
        self.txn.commit().map_err(storage("commit"))
    }
}

/// What one bounded deletion pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteBatch {
    pub visited: usize,
    pub deleted: usize,
    /// Key and value bytes of the deleted records.
    pub deleted_bytes: u64,
    /// Where the next pass starts; `None` when the range is exhausted.
    pub next: Option<Vec<u8>>,
}
