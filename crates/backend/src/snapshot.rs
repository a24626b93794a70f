//! Snapshots: a logical dump of `state.redb`, the file `Maintenance.Snapshot`
//! streams and `stratactl snapshot save | status | restore` work with.
//!
//! A dump is taken from one redb read transaction, so it is one consistent
//! state of every table, and it never blocks writers (redb readers do not).
//! It visits [`META`] and then every table of [`BYTE_TABLES`], so a table
//! added there is dumped and restored without touching this file. It is
//! written as it is read, in constant memory, after a first counting pass over
//! the same read transaction that gives its exact size in advance (the
//! countdown of `SnapshotResponse.remaining_bytes`).
//!
//! The format (all integers big-endian; `docs/storage-format.md` has the
//! worked example):
//!
//! ```text
//! header   "STRATASN"  format version u32 = 1  schema version u64   (20 bytes)
//! table    0x01  name length u8  name  entry count u64              (once per table)
//! entry    0x02  key length u32  key  value length u32  value        (count times)
//! end      0xff  total entry count u64
//! padding  zero bytes up to a multiple of 512
//! trailer  SHA-256 of everything above                               (32 bytes)
//! ```
//!
//! The padding makes the file length 32 more than a multiple of 512, which is
//! how etcd's tools recognise a snapshot that carries a SHA-256 trailer, so
//! `etcdctl snapshot save` against Strata writes a file Strata can restore.
//!
//! ```no_run
//! # fn f(be: backend::Backend) -> backend::Result<()> {
//! let dump = be.snapshot()?;
//! let mut file = std::fs::File::create("s.snap").expect("create");
//! dump.write_to(&mut file)?;
//! let status = backend::verify_snapshot(std::path::Path::new("s.snap"))?;
//! assert_eq!(status.total_size, dump.size_bytes());
//! # Ok(()) }
//! ```

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use redb::{ReadableTable, TableHandle};
use sha2::{Digest, Sha256};

use crate::backend::{Backend, ReadTxn};
use crate::error::{Error, Result, storage};
use crate::fs::Fs;
use crate::schema::{BYTE_TABLES, KEY, META, MetaKey, SCHEMA_VERSION};

/// The first bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"STRATASN";
/// The layout version written after the magic; bumped on any change.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
/// Length of the SHA-256 trailer.
pub const SNAPSHOT_TRAILER_BYTES: u64 = 32;

const HEADER_BYTES: u64 = 8 + 4 + 8;
const TAG_TABLE: u8 = 0x01;
const TAG_ENTRY: u8 = 0x02;
const TAG_END: u8 = 0xff;
const END_BYTES: u64 = 1 + 8;
/// The content is padded to a multiple of this (see the module doc).
const ALIGN: u64 = 512;
/// Entries per write transaction when loading (as defrag's copy).
const LOAD_BATCH: usize = 10_000;

/// What `etcdctl snapshot status` reports about a snapshot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotStatus {
    /// CRC-32C over every table name, key and value in file order, as etcd's
    /// `snapshot status` hashes its bbolt buckets.
    pub hash: u32,
    /// The highest main revision in the `key` table (0 when it is empty).
    pub revision: i64,
    /// Records in all tables.
    pub total_keys: u64,
    /// Size of the file in bytes.
    pub total_size: u64,
}

/// The tables in dump order: [`META`] first, then [`BYTE_TABLES`].
fn table_names() -> Vec<String> {
    std::iter::once(META.name().to_string()).chain(BYTE_TABLES.iter().map(|d| d.name().to_string())).collect()
}

/// Calls `f` for every record of the `index`-th table of [`table_names`].
fn visit(read: &redb::ReadTransaction, index: usize, mut f: impl FnMut(&[u8], &[u8]) -> Result<()>) -> Result<()> {
    if index == 0 {
        let table = match read.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(storage("open table to dump")(e)),
        };
        for item in table.iter().map_err(storage("scan table to dump"))? {
            let (k, v) = item.map_err(storage("scan table to dump"))?;
            f(k.value().as_bytes(), v.value())?;
        }
        return Ok(());
    }
    let table = match read.open_table(BYTE_TABLES[index - 1]) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(storage("open table to dump")(e)),
    };
    for item in table.iter().map_err(storage("scan table to dump"))? {
        let (k, v) = item.map_err(storage("scan table to dump"))?;
        f(k.value(), v.value())?;
    }
    Ok(())
}

fn entry_bytes(key: usize, value: usize) -> u64 {
    1 + 4 + key as u64 + 4 + value as u64
}

fn padding(unpadded: u64) -> u64 {
    (ALIGN - unpadded % ALIGN) % ALIGN
}

/// A dump ready to be written: one read transaction and the size of what it
/// will write.
pub struct SnapshotDump {
    read: ReadTxn,
    /// (name, entries) per table, in dump order.
    tables: Vec<(String, u64)>,
    /// Everything before the trailer, padding included.
    content_bytes: u64,
}

impl Backend {
    /// Starts a dump: opens the read transaction it is taken from and counts
    /// what it will write. The transaction holds the file it was opened on
    /// (a defragmentation meanwhile does not disturb it).
    pub fn snapshot(&self) -> Result<SnapshotDump> {
        let read = self.begin_read()?;
        let mut tables = Vec::new();
        let mut unpadded = HEADER_BYTES + END_BYTES;
        for (index, name) in table_names().into_iter().enumerate() {
            let mut entries = 0u64;
            let mut bytes = 1 + 1 + name.len() as u64 + 8;
            visit(&read.txn, index, |k, v| {
                entries += 1;
                bytes += entry_bytes(k.len(), v.len());
                Ok(())
            })?;
            unpadded += bytes;
            tables.push((name, entries));
        }
        Ok(SnapshotDump { read, tables, content_bytes: unpadded + padding(unpadded) })
    }
}

impl SnapshotDump {
    /// A `meta` record as the dump will write it (the Raft state it is a
    /// snapshot of, for one).
    pub fn meta(&self, key: MetaKey) -> Result<Option<Vec<u8>>> {
        self.read.meta(key)
    }

    /// The size of the whole file, trailer included.
    pub fn size_bytes(&self) -> u64 {
        self.content_bytes + SNAPSHOT_TRAILER_BYTES
    }

    /// The size without the 32-byte trailer.
    pub fn content_bytes(&self) -> u64 {
        self.content_bytes
    }

    /// Records in all tables.
    pub fn total_keys(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }

    /// Writes the dump, trailer included, and returns the SHA-256 in the
    /// trailer. Writes go to `out` in pieces of at most 64 KiB; a write error
    /// (the receiver went away) stops the dump.
    pub fn write_to<W: Write>(&self, out: W) -> Result<[u8; 32]> {
        let io = |source| Error::Io { op: "write snapshot", source };
        let mut w = BufWriter::with_capacity(64 * 1024, Hashing { inner: out, sha: Sha256::new(), written: 0 });
        w.write_all(&SNAPSHOT_MAGIC).map_err(io)?;
        w.write_all(&SNAPSHOT_FORMAT_VERSION.to_be_bytes()).map_err(io)?;
        w.write_all(&SCHEMA_VERSION.to_be_bytes()).map_err(io)?;
        for (index, (name, entries)) in self.tables.iter().enumerate() {
            w.write_all(&[TAG_TABLE, name.len() as u8]).map_err(io)?;
            w.write_all(name.as_bytes()).map_err(io)?;
            w.write_all(&entries.to_be_bytes()).map_err(io)?;
            let mut written = 0u64;
            visit(&self.read.txn, index, |k, v| {
                written += 1;
                w.write_all(&[TAG_ENTRY]).map_err(io)?;
                w.write_all(&(k.len() as u32).to_be_bytes()).map_err(io)?;
                w.write_all(k).map_err(io)?;
                w.write_all(&(v.len() as u32).to_be_bytes()).map_err(io)?;
                w.write_all(v).map_err(io)
            })?;
            // One read transaction cannot change under us; this guards the
            // size promised to the receiver.
            if written != *entries {
                return Err(corrupt(format!("table {name} had {entries} records when counted, {written} when dumped")));
            }
        }
        w.write_all(&[TAG_END]).map_err(io)?;
        w.write_all(&self.total_keys().to_be_bytes()).map_err(io)?;
        let unpadded = w.get_ref().written + w.buffer().len() as u64;
        w.write_all(&vec![0u8; padding(unpadded) as usize]).map_err(io)?;
        let mut hashing = w.into_inner().map_err(|e| io(e.into_error()))?;
        if hashing.written != self.content_bytes {
            return Err(corrupt(format!("wrote {} bytes, promised {}", hashing.written, self.content_bytes)));
        }
        let sha: [u8; 32] = hashing.sha.finalize_reset().into();
        hashing.inner.write_all(&sha).map_err(io)?;
        hashing.inner.flush().map_err(io)?;
        Ok(sha)
    }
}

/// Hashes what passes through to `inner`.
struct Hashing<W> {
    inner: W,
    sha: Sha256,
    written: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn corrupt(detail: String) -> Error {
    Error::Corrupt { what: "snapshot", detail }
}

fn open(path: &Path) -> Result<(File, u64)> {
    let file = File::open(path).map_err(|source| Error::Io { op: "open snapshot", source })?;
    let len = file.metadata().map_err(|source| Error::Io { op: "stat snapshot", source })?.len();
    Ok((file, len))
}

/// Checks a snapshot file: its header, its length, its SHA-256 trailer, then
/// its whole structure. A corrupt, truncated or foreign file is refused with
/// an error that says which of these failed.
pub fn verify_snapshot(path: &Path) -> Result<SnapshotStatus> {
    let (mut file, len) = open(path)?;
    check_magic(&mut file, len)?;
    check_length(len)?;
    check_sha(&mut file, len)?;
    file.seek(SeekFrom::Start(0)).map_err(|source| Error::Io { op: "read snapshot", source })?;
    parse(BufReader::new(file), len, |_, _, _| Ok(()), |_| {})
}

/// Checks only the SHA-256 trailer: the last 32 bytes must hash everything
/// before them. Any etcd-style snapshot carries one, Strata's or etcd's bbolt
/// file, so `snapshot save` can check what it received whoever sent it.
/// Returns the file's size.
pub fn verify_snapshot_sha256(path: &Path) -> Result<u64> {
    let (mut file, len) = open(path)?;
    if len < SNAPSHOT_TRAILER_BYTES {
        return Err(corrupt(format!("truncated: {len} bytes, shorter than the SHA-256 trailer")));
    }
    check_sha(&mut file, len)?;
    Ok(len)
}

fn check_magic(file: &mut File, len: u64) -> Result<()> {
    let mut magic = [0u8; 8];
    let n = file.take(8).read(&mut magic).map_err(|source| Error::Io { op: "read snapshot", source })?;
    if n < 8 || magic != SNAPSHOT_MAGIC {
        let got: String = magic[..n].iter().map(|b| format!("{b:02x}")).collect();
        return Err(corrupt(format!(
            "not a Strata snapshot: {len} bytes starting with {got:?}, not \"STRATASN\" \
             (an etcd snapshot is a bbolt file, which Strata does not read)"
        )));
    }
    Ok(())
}

fn check_length(len: u64) -> Result<()> {
    let smallest = ALIGN + SNAPSHOT_TRAILER_BYTES;
    if len < smallest || len % ALIGN != SNAPSHOT_TRAILER_BYTES {
        return Err(corrupt(format!(
            "truncated: {len} bytes is not a whole snapshot (a multiple of {ALIGN} bytes plus the \
             {SNAPSHOT_TRAILER_BYTES}-byte SHA-256 trailer)"
        )));
    }
    Ok(())
}

fn check_sha(file: &mut File, len: u64) -> Result<()> {
    let read = |source| Error::Io { op: "read snapshot", source };
    file.seek(SeekFrom::Start(0)).map_err(read)?;
    let content = len - SNAPSHOT_TRAILER_BYTES;
    let mut sha = Sha256::new();
    let copied = io::copy(&mut BufReader::new(&mut *file).take(content), &mut sha).map_err(read)?;
    let mut trailer = [0u8; 32];
    file.seek(SeekFrom::Start(content)).map_err(read)?;
    file.read_exact(&mut trailer).map_err(read)?;
    let computed: [u8; 32] = sha.finalize().into();
    if copied != content || computed != trailer {
        return Err(corrupt(format!(
            "sha256 mismatch: the trailer says {}, the content hashes to {} (the file is corrupt or truncated)",
            hex(&trailer),
            hex(&computed)
        )));
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `meta` record of the snapshot file at `path`, read from the file's
/// first table without reading (or verifying) the rest.
pub fn snapshot_meta(path: &Path, key: MetaKey) -> Result<Option<Vec<u8>>> {
    let (file, _) = open(path)?;
    let mut p = Parser { r: BufReader::new(file), offset: 0 };
    let mut magic = [0u8; 8];
    p.exact(&mut magic, "the header")?;
    if magic != SNAPSHOT_MAGIC {
        return Err(corrupt("not a Strata snapshot (bad magic)".into()));
    }
    p.u32("the header")?;
    p.u64("the header")?;
    let (mut name, mut k, mut v) = (Vec::new(), Vec::new(), Vec::new());
    if p.u8("a record tag")? != TAG_TABLE {
        return Ok(None);
    }
    let name_len = p.u8("a table record")? as u64;
    p.bytes(name_len, &mut name, "a table name")?;
    if name != META.name().as_bytes() {
        return Ok(None);
    }
    for _ in 0..p.u64("a table record")? {
        if p.u8("an entry")? != TAG_ENTRY {
            return Err(corrupt("expected an entry of the meta table".into()));
        }
        let n = p.u32("an entry")? as u64;
        p.bytes(n, &mut k, "a key")?;
        let n = p.u32("an entry")? as u64;
        p.bytes(n, &mut v, "a value")?;
        if k == key.name().as_bytes() {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// How [`load_snapshot`] builds the new database.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions<'a> {
    /// Load without checking the SHA-256 trailer (the structure is still
    /// checked). etcd's `--skip-hash-check`.
    pub skip_hash_check: bool,
    /// Meta keys not to copy (a restored member drops its Raft applied state
    /// and writes a new identity).
    pub without_meta: &'a [MetaKey],
}

/// Builds a new database at `db_path` from a snapshot file, verified first
/// unless `opts.skip_hash_check`. `progress` is told how many bytes of the
/// file have been loaded. Refuses a `db_path` that exists; on an error the
/// partial database is left for the caller to remove with its directory.
pub fn load_snapshot(
    path: &Path,
    db_path: &Path,
    opts: &LoadOptions<'_>,
    progress: impl FnMut(u64),
) -> Result<SnapshotStatus> {
    load_snapshot_with(Fs::Real, path, db_path, opts, progress)
}

/// [`load_snapshot`] into a database on a simulated filesystem (power-loss
/// tests); the snapshot file itself is read from the real one.
#[cfg(feature = "fault-injection")]
pub fn load_snapshot_in(
    fs: &crate::fault_fs::FaultyFs,
    path: &Path,
    db_path: &Path,
    opts: &LoadOptions<'_>,
    progress: impl FnMut(u64),
) -> Result<SnapshotStatus> {
    load_snapshot_with(Fs::Faulty(fs.clone()), path, db_path, opts, progress)
}

fn load_snapshot_with(
    fs: Fs,
    path: &Path,
    db_path: &Path,
    opts: &LoadOptions<'_>,
    mut progress: impl FnMut(u64),
) -> Result<SnapshotStatus> {
    if !opts.skip_hash_check {
        verify_snapshot(path)?;
    }
    if fs.exists(db_path) {
        return Err(Error::Io {
            op: "create restored state db",
            source: io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists", db_path.display())),
        });
    }
    let (file, len) = open(path)?;
    let backend = Backend::open_with(fs, db_path)?;
    let skipped: Vec<&str> = opts.without_meta.iter().map(|k| k.name()).collect();
    let mut batch: Vec<(usize, Vec<u8>, Vec<u8>)> = Vec::with_capacity(LOAD_BATCH);
    let status = parse(
        BufReader::new(file),
        len,
        |table, k, v| {
            if table == 0 && skipped.iter().any(|s| s.as_bytes() == k) {
                return Ok(());
            }
            batch.push((table, k.to_vec(), v.to_vec()));
            if batch.len() == LOAD_BATCH {
                insert(&backend, &batch)?;
                batch.clear();
            }
            Ok(())
        },
        &mut progress,
    )?;
    insert(&backend, &batch)?;
    backend.begin_write()?.commit(true)?;
    Ok(status)
}

/// Inserts a batch of records, in one write transaction without fsync.
fn insert(backend: &Backend, batch: &[(usize, Vec<u8>, Vec<u8>)]) -> Result<()> {
    let w = backend.begin_write()?;
    for (index, k, v) in batch {
        if *index == 0 {
            let key = std::str::from_utf8(k).map_err(|_| corrupt(format!("meta key {k:?} is not UTF-8")))?;
            let mut table = w.txn.open_table(META).map_err(storage("open restored table"))?;
            table.insert(key, v.as_slice()).map_err(storage("restore record"))?;
        } else {
            let mut table = w.txn.open_table(BYTE_TABLES[index - 1]).map_err(storage("open restored table"))?;
            table.insert(k.as_slice(), v.as_slice()).map_err(storage("restore record"))?;
        }
    }
    w.commit(false)
}

/// Reads the structure of a snapshot of `len` bytes, calling `sink` with
/// (table index, key, value) for every record. The trailer is not checked
/// here ([`check_sha`] does).
fn parse<R: Read>(
    r: R,
    len: u64,
    mut sink: impl FnMut(usize, &[u8], &[u8]) -> Result<()>,
    mut progress: impl FnMut(u64),
) -> Result<SnapshotStatus> {
    let mut p = Parser { r, offset: 0 };
    let mut magic = [0u8; 8];
    p.exact(&mut magic, "the header")?;
    if magic != SNAPSHOT_MAGIC {
        return Err(corrupt("not a Strata snapshot (bad magic)".into()));
    }
    let format = p.u32("the header")?;
    if format != SNAPSHOT_FORMAT_VERSION {
        return Err(corrupt(format!(
            "unsupported snapshot format version {format} (this build reads {SNAPSHOT_FORMAT_VERSION})"
        )));
    }
    let schema = p.u64("the header")?;
    if schema != SCHEMA_VERSION {
        return Err(corrupt(format!(
            "snapshot of state schema version {schema}, this build reads version {SCHEMA_VERSION}"
        )));
    }
    let names = table_names();
    let key_table = names.iter().position(|n| n == KEY.name());
    let mut seen = vec![false; names.len()];
    let (mut total, mut revision, mut hash) = (0u64, 0i64, 0u32);
    let (mut key, mut value) = (Vec::new(), Vec::new());
    loop {
        let at = p.offset;
        match p.u8("a record tag")? {
            TAG_TABLE => {
                let name_len = p.u8("a table record")? as u64;
                p.bytes(name_len, &mut key, "a table name")?;
                let name = String::from_utf8_lossy(&key).into_owned();
                let Some(index) = names.iter().position(|n| *n == name) else {
                    return Err(corrupt(format!("unknown table {name:?} at offset {at}")));
                };
                if std::mem::replace(&mut seen[index], true) {
                    return Err(corrupt(format!("table {name:?} appears twice (offset {at})")));
                }
                hash = crc32c::crc32c_append(hash, name.as_bytes());
                let entries = p.u64("a table record")?;
                for _ in 0..entries {
                    let at = p.offset;
                    if p.u8("an entry")? != TAG_ENTRY {
                        return Err(corrupt(format!("expected an entry of table {name:?} at offset {at}")));
                    }
                    let n = p.u32("an entry")? as u64;
                    p.bytes(n, &mut key, "a key")?;
                    let n = p.u32("an entry")? as u64;
                    p.bytes(n, &mut value, "a value")?;
                    if Some(index) == key_table {
                        revision = revision.max(main_revision(&key, at)?);
                    }
                    hash = crc32c::crc32c_append(crc32c::crc32c_append(hash, &key), &value);
                    sink(index, &key, &value)?;
                    progress(p.offset);
                }
                total += entries;
            }
            TAG_END => {
                let counted = p.u64("the end record")?;
                if counted != total {
                    return Err(corrupt(format!("the end record counts {counted} entries, the file has {total}")));
                }
                break;
            }
            other => return Err(corrupt(format!("unknown record tag {other:#04x} at offset {at}"))),
        }
    }
    check_padding(&mut p, len)?;
    progress(len);
    Ok(SnapshotStatus { hash, revision, total_keys: total, total_size: len })
}

/// After the end record: zeros up to the trailer, and nothing else.
fn check_padding<R: Read>(p: &mut Parser<R>, len: u64) -> Result<()> {
    let content = len.saturating_sub(SNAPSHOT_TRAILER_BYTES);
    if p.offset > content || content - p.offset >= ALIGN {
        return Err(corrupt(format!(
            "the records end at offset {}, but the content is {content} bytes (the file is corrupt)",
            p.offset
        )));
    }
    let mut pad = Vec::new();
    p.bytes(content - p.offset, &mut pad, "the padding")?;
    if pad.iter().any(|b| *b != 0) {
        return Err(corrupt("non-zero padding after the end record".into()));
    }
    Ok(())
}

/// The main revision of a `key` table key (its first 8 bytes, big-endian).
fn main_revision(key: &[u8], at: u64) -> Result<i64> {
    let Some(b) = key.get(..8) else {
        return Err(corrupt(format!("key table record at offset {at} has a {}-byte key", key.len())));
    };
    let mut main = [0u8; 8];
    main.copy_from_slice(b);
    Ok(i64::from_be_bytes(main))
}

/// Reads the file's fields, tracking the offset for error messages.
struct Parser<R> {
    r: R,
    offset: u64,
}

impl<R: Read> Parser<R> {
    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        self.r.read_exact(buf).map_err(|e| self.read_error(e, what))?;
        self.offset += buf.len() as u64;
        Ok(())
    }

    /// Reads `n` bytes into `buf`, growing it only as data arrives, so that
    /// a corrupt length cannot make it allocate more than the file holds.
    fn bytes(&mut self, n: u64, buf: &mut Vec<u8>, what: &str) -> Result<()> {
        buf.clear();
        let got = (&mut self.r).take(n).read_to_end(buf).map_err(|e| self.read_error(e, what))?;
        if got as u64 != n {
            let e = io::Error::from(io::ErrorKind::UnexpectedEof);
            self.offset += got as u64;
            return Err(self.read_error(e, what));
        }
        self.offset += n;
        Ok(())
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        let mut b = [0u8; 1];
        self.exact(&mut b, what)?;
        Ok(b[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let mut b = [0u8; 4];
        self.exact(&mut b, what)?;
        Ok(u32::from_be_bytes(b))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        let mut b = [0u8; 8];
        self.exact(&mut b, what)?;
        Ok(u64::from_be_bytes(b))
    }

    fn read_error(&self, e: io::Error, what: &str) -> Error {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            corrupt(format!("truncated: the file ends inside {what} (offset {})", self.offset))
        } else {
            Error::Io { op: "read snapshot", source: e }
        }
    }
}

#[cfg(test)]
mod tests;
