//! [`FaultyFs`]: a simulated filesystem of [`FaultyDisk`] files, for the
//! power-loss tests of what makes and renames whole database files (creating
//! a database, defragmenting it, installing a snapshot). Feature
//! `fault-injection`, tests only.
//!
//! Each file is a [`FaultyDisk`]: its data is durable only once synced. The
//! names are the other half of a crash: creating, renaming or removing a name
//! (and making a directory) changes what lookups see at once, but reaches the
//! disk only when the directory holding the name is fsynced. That is POSIX's
//! promise and no more; ext4 and XFS usually commit such changes with any
//! later fsync, so this model is harsher than they are, on purpose. A power
//! cut keeps each file's synced data and each directory's synced names; a
//! file whose name was never made durable is gone, data and all.
//!
//! A run counts every fsync, of files and of directories, on one counter, so
//! a test can cut the power (or fail the fsync) at each sync point in turn.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use redb::{Database, DatabaseError, StorageBackend};

use crate::fault::{Crash, FaultyDisk, SplitMix64};

/// A simulated filesystem; clones share it.
#[derive(Clone, Default)]
pub struct FaultyFs {
    state: Arc<Mutex<State>>,
}

/// What a name points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    File(u64),
    Dir,
}

/// One atomic change to the names of one directory (a rename changes two
/// names at once): it is durable whole or not at all.
#[derive(Clone)]
struct DirOp {
    dir: PathBuf,
    changes: Vec<(PathBuf, Option<Entry>)>,
}

#[derive(Default)]
struct State {
    /// File contents by inode number. `open`: redb has it open (its lock).
    inodes: BTreeMap<u64, Inode>,
    next_inode: u64,
    /// The names lookups see.
    names: BTreeMap<PathBuf, Entry>,
    /// The names a power cut keeps.
    durable: BTreeMap<PathBuf, Entry>,
    /// Name changes not yet durable, oldest first.
    pending: Vec<DirOp>,
    /// Fsyncs so far, of files and directories, failed ones included.
    syncs: u64,
    cut_at_sync: Option<u64>,
    fail_sync: Option<u64>,
    dead: bool,
    /// The file (inode) each sync was of; `None` for a directory.
    sync_log: Vec<Option<u64>>,
    /// Each redb close of a file: its inode and the sync count then.
    closes: Vec<(u64, u64)>,
}

struct Inode {
    disk: FaultyDisk,
    open: bool,
}

/// What a sync point does.
enum SyncOutcome {
    Proceed,
    Fail(u64),
}

impl FaultyFs {
    /// An empty filesystem that never fails until told to. Its roots (`/`
    /// and the empty path, so relative paths work) always exist.
    pub fn new() -> FaultyFs {
        FaultyFs::default()
    }

    /// Fsyncs so far, of files and directories (the sync points of a run).
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Cuts the power when fsync number `k` (0-based) begins: it never
    /// completes, and every later call fails.
    pub fn cut_power_at_sync(&self, k: u64) {
        self.lock().cut_at_sync = Some(k);
    }

    /// Makes fsync number `k` (0-based) fail. What it covered never becomes
    /// durable (Linux's behaviour after a failed writeback), though lookups
    /// and reads still see it.
    pub fn fail_sync(&self, k: u64) {
        self.lock().fail_sync = Some(k);
    }

    /// Cuts the power now.
    pub fn cut_power(&self) {
        self.lock().dead = true;
    }

    /// Whether the power is out.
    pub fn is_dead(&self) -> bool {
        self.lock().dead
    }

    /// The syncs redb made while closing a file: the run of syncs of that
    /// file just before its close. redb's `Drop` swallows their errors (the
    /// file is left for the next open to recover), so a failed one is not
    /// reported to the caller.
    pub fn close_syncs(&self) -> BTreeSet<u64> {
        let st = self.lock();
        let mut out = BTreeSet::new();
        for &(ino, at) in &st.closes {
            let mut k = at;
            while k > 0 && st.sync_log[(k - 1) as usize] == Some(ino) {
                k -= 1;
                out.insert(k);
            }
        }
        out
    }

    /// Whether a name exists (as lookups see it now).
    pub fn exists(&self, path: &Path) -> bool {
        self.lock().names.contains_key(path)
    }

    /// Every file name, as lookups see it now.
    pub fn files(&self) -> Vec<PathBuf> {
        let st = self.lock();
        st.names.iter().filter(|(_, e)| matches!(e, Entry::File(_))).map(|(p, _)| p.clone()).collect()
    }

    /// The filesystem a restarted machine finds after `crash`: healthy, with
    /// what survived (this one is left as it is). [`Crash::Torn`] keeps, on
    /// top of what was synced, a random subset of each file's unsynced writes
    /// and a random prefix of the unsynced name changes (a journal replays
    /// metadata in order).
    pub fn after(&self, crash: Crash) -> FaultyFs {
        let st = self.lock();
        let mut names = st.durable.clone();
        let kept = match crash {
            Crash::Process => st.pending.len(),
            Crash::PowerLoss => 0,
            Crash::Torn { seed } => {
                let n = st.pending.len() as u64 + 1;
                (SplitMix64(seed).next_u64() % n) as usize
            }
        };
        for op in &st.pending[..kept] {
            apply(&mut names, op);
        }
        // A name whose directory did not survive is unreachable.
        let reachable: BTreeMap<PathBuf, Entry> =
            names.iter().filter(|(p, _)| ancestors_in(&names, p)).map(|(p, e)| (p.clone(), *e)).collect();
        let mut inodes = BTreeMap::new();
        for entry in reachable.values() {
            if let Entry::File(ino) = entry {
                let crash = match crash {
                    Crash::Torn { seed } => Crash::Torn { seed: seed ^ ino.wrapping_mul(0x9E37_79B9_7F4A_7C15) },
                    other => other,
                };
                let disk = st.inodes[ino].disk.after(crash);
                inodes.insert(*ino, Inode { disk, open: false });
            }
        }
        let state = State {
            inodes,
            next_inode: st.next_inode,
            durable: reachable.clone(),
            names: reachable,
            ..State::default()
        };
        FaultyFs { state: Arc::new(Mutex::new(state)) }
    }

    pub fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.alive()?;
        let mut missing = Vec::new();
        for a in dir.ancestors().filter(|a| a.parent().is_some()) {
            match st.names.get(a) {
                Some(Entry::Dir) => break,
                Some(Entry::File(_)) => return Err(io::Error::other(format!("{} is a file", a.display()))),
                None => missing.push(a.to_path_buf()),
            }
        }
        for a in missing.into_iter().rev() {
            st.change(&a, Some(Entry::Dir));
        }
        Ok(())
    }

    /// redb's `create`: opens the file at `path`, creating it if missing.
    pub(crate) fn open_db(&self, path: &Path) -> Result<Database, DatabaseError> {
        let (ino, disk) = {
            let mut st = self.lock();
            st.alive()?;
            st.dir_exists(path)?;
            let ino = match st.names.get(path) {
                Some(Entry::File(ino)) => *ino,
                Some(Entry::Dir) => return Err(io::Error::other(format!("{} is a directory", path.display())).into()),
                None => {
                    let ino = st.next_inode;
                    st.next_inode += 1;
                    st.inodes.insert(ino, Inode { disk: FaultyDisk::new(), open: false });
                    st.change(path, Some(Entry::File(ino)));
                    ino
                }
            };
            let inode = st.inodes.get_mut(&ino).expect("a name points at a live inode");
            if std::mem::replace(&mut inode.open, true) {
                return Err(DatabaseError::DatabaseAlreadyOpen);
            }
            (ino, inode.disk.clone())
        };
        Database::builder().create_with_backend(FsFile { fs: self.clone(), ino, disk })
    }

    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.alive()?;
        let entry = st.lookup(from)?;
        if from.parent() != to.parent() {
            // Not needed by the code under test, and not atomic on disk.
            return Err(io::Error::other("fault injection: rename across directories"));
        }
        let dir = parent(from);
        st.record(DirOp { dir, changes: vec![(from.to_path_buf(), None), (to.to_path_buf(), Some(entry))] });
        Ok(())
    }

    /// Removes a name; an open file stays readable by whoever has it open.
    pub fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.alive()?;
        match st.lookup(path)? {
            Entry::File(_) => {
                st.change(path, None);
                Ok(())
            }
            Entry::Dir => Err(io::Error::other(format!("{} is a directory", path.display()))),
        }
    }

    pub fn len(&self, path: &Path) -> io::Result<u64> {
        let st = self.lock();
        st.alive()?;
        match st.lookup(path)? {
            Entry::File(ino) => st.inodes[&ino].disk.len(),
            Entry::Dir => Err(io::Error::other(format!("{} is a directory", path.display()))),
        }
    }

    /// Makes the pending name changes of `dir` durable.
    pub fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.alive()?;
        // A cut here leaves the changes pending: `after(Crash::Process)` keeps them.
        let outcome = st.sync_point(None)?;
        let (mine, others): (Vec<DirOp>, Vec<DirOp>) =
            std::mem::take(&mut st.pending).into_iter().partition(|op| op.dir == dir);
        st.pending = others;
        match outcome {
            SyncOutcome::Proceed => {
                for op in &mine {
                    apply(&mut st.durable, op);
                }
                Ok(())
            }
            // Dropped: they never become durable, as a failed file sync's writes.
            SyncOutcome::Fail(n) => Err(io::Error::other(format!("fault injection: sync {n} (directory) failed"))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change is applied whole under the lock, so a panic elsewhere
        // cannot leave it half-done.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn alive(&self) -> io::Result<()> {
        if self.dead { Err(io::Error::other("fault injection: the power is out")) } else { Ok(()) }
    }

    /// Counts a sync point: the power may go out here, or the sync fail.
    fn sync_point(&mut self, file: Option<u64>) -> io::Result<SyncOutcome> {
        let n = self.syncs;
        self.syncs += 1;
        self.sync_log.push(file);
        if self.cut_at_sync == Some(n) {
            self.dead = true;
            self.alive()?;
        }
        Ok(if self.fail_sync == Some(n) { SyncOutcome::Fail(n) } else { SyncOutcome::Proceed })
    }

    fn lookup(&self, path: &Path) -> io::Result<Entry> {
        self.names.get(path).copied().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("fault injection: {} does not exist", path.display()))
        })
    }

    fn dir_exists(&self, path: &Path) -> io::Result<()> {
        let dir = parent(path);
        if dir.parent().is_none() || self.names.get(&dir) == Some(&Entry::Dir) {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::NotFound, format!("fault injection: no directory {}", dir.display())))
        }
    }

    /// Sets or removes one name.
    fn change(&mut self, path: &Path, entry: Option<Entry>) {
        self.record(DirOp { dir: parent(path), changes: vec![(path.to_path_buf(), entry)] });
    }

    fn record(&mut self, op: DirOp) {
        apply(&mut self.names, &op);
        self.pending.push(op);
    }
}

fn parent(path: &Path) -> PathBuf {
    path.parent().unwrap_or(Path::new("")).to_path_buf()
}

fn apply(names: &mut BTreeMap<PathBuf, Entry>, op: &DirOp) {
    for (name, entry) in &op.changes {
        match entry {
            Some(e) => names.insert(name.clone(), *e),
            None => names.remove(name),
        };
    }
}

/// Whether every directory above `path` is in `names` (roots always are).
fn ancestors_in(names: &BTreeMap<PathBuf, Entry>, path: &Path) -> bool {
    path.ancestors().skip(1).filter(|a| a.parent().is_some()).all(|a| names.get(a) == Some(&Entry::Dir))
}

impl fmt::Debug for FaultyFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("FaultyFs")
            .field("names", &st.names)
            .field("pending", &st.pending.len())
            .field("syncs", &st.syncs)
            .field("dead", &st.dead)
            .finish()
    }
}

/// One open file: redb's `StorageBackend` over the file's [`FaultyDisk`],
/// through the filesystem's power switch and sync counter.
struct FsFile {
    fs: FaultyFs,
    ino: u64,
    disk: FaultyDisk,
}

impl fmt::Debug for FsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FsFile").field("ino", &self.ino).field("disk", &self.disk).finish()
    }
}

impl FsFile {
    /// Runs `op` on the disk unless the power is out. The filesystem stays
    /// locked meanwhile, so a power cut is never half seen.
    fn with<T>(&self, op: impl FnOnce(&FaultyDisk) -> io::Result<T>) -> io::Result<T> {
        let st = self.fs.lock();
        st.alive()?;
        op(&self.disk)
    }
}

// Locking is left at redb's default (unsupported), as for `FaultyDisk`: the
// filesystem's `open` flag stands for the file lock instead.
impl StorageBackend for FsFile {
    fn len(&self) -> io::Result<u64> {
        self.with(|d| d.len())
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.with(|d| d.read(offset, out))
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(|d| d.set_len(len))
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.with(|d| d.write(offset, data))
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut st = self.fs.lock();
        st.alive()?;
        if let SyncOutcome::Fail(_) = st.sync_point(Some(self.ino))? {
            // Let the disk fail this sync its way: what it covered is lost.
            self.disk.fail_sync(self.disk.syncs());
        }
        self.disk.sync_data()
    }

    fn close(&self) -> io::Result<()> {
        let mut st = self.fs.lock();
        let at = st.syncs;
        st.closes.push((self.ino, at));
        if let Some(inode) = st.inodes.get_mut(&self.ino) {
            inode.open = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn names_survive_a_power_cut_only_once_their_directory_is_synced() {
        let fs = FaultyFs::new();
        fs.create_dir_all(&p("d")).expect("mkdir");
        fs.sync_dir(Path::new("")).expect("sync root");
        drop(fs.open_db(&p("d/a.new")).expect("create"));
        fs.rename(&p("d/a.new"), &p("d/a")).expect("rename");
        assert_eq!(fs.files(), vec![p("d/a")]);
        assert!(fs.after(Crash::PowerLoss).files().is_empty(), "the name was never synced");
        assert_eq!(fs.after(Crash::Process).files(), vec![p("d/a")]);
        fs.sync_dir(&p("d")).expect("sync d");
        let after = fs.after(Crash::PowerLoss);
        assert_eq!(after.files(), vec![p("d/a")]);
        let db = after.open_db(&p("d/a")).expect("reopen: redb's close synced the data");
        assert!(matches!(after.open_db(&p("d/a")), Err(DatabaseError::DatabaseAlreadyOpen)));
        drop(db);
        assert!(after.open_db(&p("d/a")).is_ok(), "closing releases the lock");
    }

    #[test]
    fn an_unsynced_directory_takes_its_files_with_it() {
        let fs = FaultyFs::new();
        fs.create_dir_all(&p("d/e")).expect("mkdir");
        drop(fs.open_db(&p("d/e/f")).expect("create"));
        fs.sync_dir(&p("d/e")).expect("sync e");
        assert!(fs.after(Crash::PowerLoss).files().is_empty(), "d and d/e were never synced");
    }

    #[test]
    fn syncs_are_counted_across_files_and_directories_and_a_cut_stops_everything() {
        let fs = FaultyFs::new();
        drop(fs.open_db(&p("a")).expect("create"));
        let n = fs.syncs();
        assert!(n > 0, "redb syncs a new file");
        fs.cut_power_at_sync(n + 1);
        fs.sync_dir(Path::new("")).expect("sync n");
        assert!(fs.sync_dir(Path::new("")).is_err(), "sync n + 1 is where the power goes");
        assert!(fs.is_dead() && fs.rename(&p("a"), &p("b")).is_err() && fs.open_db(&p("a")).is_err());
        assert_eq!(fs.after(Crash::PowerLoss).files(), vec![p("a")]);
    }

    #[test]
    fn a_failed_directory_sync_never_makes_its_changes_durable() {
        let fs = FaultyFs::new();
        drop(fs.open_db(&p("a")).expect("create"));
        fs.fail_sync(fs.syncs());
        assert!(fs.sync_dir(Path::new("")).is_err());
        fs.sync_dir(Path::new("")).expect("a later sync works");
        assert!(fs.exists(&p("a")), "lookups still see it");
        assert!(fs.after(Crash::PowerLoss).files().is_empty(), "but it never reached the disk");
    }
}
