//! [`FaultyDisk`]: a simulated disk under redb that can lose power, fail an
//! fsync, or fail a write (feature `fault-injection`, for tests only).
//!
//! `kill -9` keeps the page cache, so it never proves that we fsync what we
//! must. This disk keeps two images: the *durable* one (what the platter
//! holds) and the *volatile* one (what reads see: durable plus every write
//! since the last completed `sync_data`). Cutting the power throws the
//! volatile layer away; [`Crash::Torn`] keeps a random subset of the unsynced
//! writes instead, because a real disk may persist any of them in any order.
//! [`FaultyDisk::after`] gives the disk a restarted machine would find, to
//! reopen a [`crate::Backend`] or [`crate::RaftLogDb`] on.
//!
//! Power-loss tests count the syncs of a run with a disk that never fails,
//! then rerun once per sync point `k` with [`FaultyDisk::cut_power_at_sync`],
//! reopen on [`FaultyDisk::after`] and check what survived.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// The unit a disk writes atomically (and tears between): one 4 KiB page.
/// Real devices promise at least 512-byte sectors; redb's pages are 4 KiB.
pub const ATOMIC_WRITE: usize = 4096;

/// What survives a crash of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// The process died, the machine did not: every write survives (the
    /// page cache reaches the disk eventually). This is what `kill -9` tests.
    Process,
    /// The power went out: only what a completed `sync_data` covered survives.
    PowerLoss,
    /// The power went out while the disk was writing back: what was synced,
    /// plus each unsynced [`ATOMIC_WRITE`] page write (and file-length change)
    /// independently with probability one half, chosen by `seed`.
    Torn { seed: u64 },
}

/// A simulated disk; clones share it. Implements redb's `StorageBackend`.
#[derive(Clone, Default)]
pub struct FaultyDisk {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// What the disk holds for certain.
    durable: Vec<u8>,
    /// What reads see: `durable` with `pending` applied.
    volatile: Vec<u8>,
    /// Unsynced changes in the order they were made, writes split into
    /// [`ATOMIC_WRITE`]-aligned pieces: the candidates a torn crash may keep.
    pending: Vec<Change>,
    /// `sync_data` calls so far, failed ones included.
    syncs: u64,
    /// `write` calls so far, failed ones included.
    writes: u64,
    /// The power goes out when this `sync_data` call (0-based) begins.
    cut_at_sync: Option<u64>,
    /// This `sync_data` call (0-based) returns an I/O error.
    fail_sync: Option<u64>,
    /// This `write` call (0-based) stores only this many leading bytes, then
    /// returns an I/O error (0: a plain write error; more: a short write).
    fail_write: Option<(u64, usize)>,
    /// The power is out: every call fails, nothing changes any more.
    dead: bool,
}

#[derive(Clone)]
enum Change {
    Write { offset: usize, data: Vec<u8> },
    SetLen(usize),
}

impl Change {
    fn apply(&self, image: &mut Vec<u8>) {
        match self {
            Change::Write { offset, data } => {
                let end = offset + data.len();
                if image.len() < end {
                    image.resize(end, 0);
                }
                image[*offset..end].copy_from_slice(data);
            }
            Change::SetLen(len) => image.resize(*len, 0),
        }
    }
}

impl FaultyDisk {
    /// An empty disk that never fails until told to.
    pub fn new() -> FaultyDisk {
        FaultyDisk::default()
    }

    /// `sync_data` calls so far (the sync points of a run).
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// `write` calls so far.
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }

    /// Whether the power is out.
    pub fn is_dead(&self) -> bool {
        self.lock().dead
    }

    /// Cuts the power when `sync_data` call number `k` (0-based) begins: that
    /// sync never completes, and it and every later call fail, as a machine
    /// that died would do nothing more.
    pub fn cut_power_at_sync(&self, k: u64) {
        self.lock().cut_at_sync = Some(k);
    }

    /// Cuts the power now.
    pub fn cut_power(&self) {
        self.lock().dead = true;
    }

    /// Makes `sync_data` call number `k` (0-based) fail with an I/O error.
    /// As Linux does after a failed writeback, the writes that sync covered
    /// are then never made durable by a later sync, though reads still see
    /// them: only a caller that stops trusting the file after an fsync error
    /// stays consistent.
    pub fn fail_sync(&self, k: u64) {
        self.lock().fail_sync = Some(k);
    }

    /// Makes `write` call number `k` (0-based) store only its first `keep`
    /// bytes (0: none) and then fail with an I/O error: a short write.
    pub fn fail_write(&self, k: u64, keep: usize) {
        self.lock().fail_write = Some((k, keep));
    }

    /// The disk a restarted machine finds after `crash`: a new, healthy disk
    /// whose content is what survived (this one is left as it is).
    pub fn after(&self, crash: Crash) -> FaultyDisk {
        let st = self.lock();
        let image = match crash {
            Crash::Process => st.volatile.clone(),
            Crash::PowerLoss => st.durable.clone(),
            Crash::Torn { seed } => {
                let mut rng = SplitMix64(seed);
                let mut image = st.durable.clone();
                for change in st.pending.iter().filter(|_| rng.next_u64() & 1 == 1) {
                    change.apply(&mut image);
                }
                image
            }
        };
        let state = State { durable: image.clone(), volatile: image, ..State::default() };
        FaultyDisk { state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under this lock cannot leave the images half-updated in a
        // way a test would misread: every change is applied whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn alive(&self) -> io::Result<()> {
        if self.dead { Err(io::Error::other("fault injection: the power is out")) } else { Ok(()) }
    }

    fn record_write(&mut self, offset: usize, data: &[u8]) {
        // Split at page boundaries: each piece may survive a torn crash alone.
        let mut at = 0;
        while at < data.len() {
            let start = offset + at;
            let end = ((start / ATOMIC_WRITE + 1) * ATOMIC_WRITE).min(offset + data.len());
            let change = Change::Write { offset: start, data: data[at..end - offset].to_vec() };
            change.apply(&mut self.volatile);
            self.pending.push(change);
            at = end - offset;
        }
    }
}

impl fmt::Debug for FaultyDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("FaultyDisk")
            .field("durable_len", &st.durable.len())
            .field("volatile_len", &st.volatile.len())
            .field("pending", &st.pending.len())
            .field("syncs", &st.syncs)
            .field("dead", &st.dead)
            .finish()
    }
}

fn to_usize(v: u64) -> io::Result<usize> {
    usize::try_from(v).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset out of range"))
}

// Locking is left at redb's default (unsupported): redb then runs in its
// exclusive-writer mode, the one `Backend` and `RaftLogDb` use on files.
impl redb::StorageBackend for FaultyDisk {
    fn len(&self) -> io::Result<u64> {
        let st = self.lock();
        st.alive()?;
        Ok(st.volatile.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let st = self.lock();
        st.alive()?;
        let offset = to_usize(offset)?;
        let src =
            st.volatile.get(offset..offset + out.len()).ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = self.lock();
        st.alive()?;
        let change = Change::SetLen(to_usize(len)?);
        change.apply(&mut st.volatile);
        st.pending.push(change);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut st = self.lock();
        st.alive()?;
        let n = st.syncs;
        st.syncs += 1;
        if st.cut_at_sync == Some(n) {
            st.dead = true;
            return st.alive();
        }
        if st.fail_sync == Some(n) {
            // Linux's behaviour after a failed writeback: the dirty pages are
            // marked clean, so their content never reaches the disk unless
            // written again. Reads (the page cache) still return it.
            st.pending.clear();
            return Err(io::Error::other(format!("fault injection: sync {n} failed")));
        }
        let mut durable = std::mem::take(&mut st.durable);
        for change in std::mem::take(&mut st.pending) {
            change.apply(&mut durable);
        }
        st.durable = durable;
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut st = self.lock();
        st.alive()?;
        let n = st.writes;
        st.writes += 1;
        let offset = to_usize(offset)?;
        match st.fail_write {
            Some((k, keep)) if k == n => {
                st.record_write(offset, &data[..keep.min(data.len())]);
                Err(io::Error::other(format!("fault injection: write {n} stored {keep} of {} bytes", data.len())))
            }
            _ => {
                st.record_write(offset, data);
                Ok(())
            }
        }
    }
}

/// A tiny deterministic generator (SplitMix64): the torn crash must be
/// reproducible from its seed, and the crate takes no `rand` dependency.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use redb::StorageBackend;

    use super::*;

    #[test]
    fn only_synced_writes_survive_a_power_loss() {
        let disk = FaultyDisk::new();
        disk.write(0, b"synced").expect("write");
        disk.sync_data().expect("sync");
        disk.write(0, b"LATER!").expect("write");
        disk.write(6, b"+tail").expect("write");
        assert_eq!(disk.after(Crash::PowerLoss).lock().volatile, b"synced");
        assert_eq!(disk.after(Crash::Process).lock().volatile, b"LATER!+tail");
    }

    #[test]
    fn a_torn_crash_keeps_a_subset_of_unsynced_pages() {
        let disk = FaultyDisk::new();
        disk.set_len(3 * ATOMIC_WRITE as u64).expect("set_len");
        disk.sync_data().expect("sync");
        // One write spanning three pages: each page may survive alone.
        disk.write(0, &vec![7u8; 3 * ATOMIC_WRITE]).expect("write");
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..32 {
            let image = disk.after(Crash::Torn { seed }).lock().volatile.clone();
            let pages: Vec<bool> = image.chunks(ATOMIC_WRITE).map(|p| p.iter().all(|&b| b == 7)).collect();
            for page in image.chunks(ATOMIC_WRITE) {
                assert!(page.iter().all(|&b| b == 7) || page.iter().all(|&b| b == 0), "a page is never torn");
            }
            seen.insert(pages);
        }
        assert_eq!(seen.len(), 8, "every subset of the three pages shows up");
    }

    #[test]
    fn a_cut_at_a_sync_kills_the_disk() {
        let disk = FaultyDisk::new();
        disk.cut_power_at_sync(1);
        disk.write(0, b"a").expect("write");
        disk.sync_data().expect("sync 0");
        disk.write(0, b"b").expect("write");
        assert!(disk.sync_data().is_err(), "sync 1 is where the power goes");
        assert!(disk.write(0, b"c").is_err() && disk.len().is_err(), "nothing works after the cut");
        assert_eq!(disk.after(Crash::PowerLoss).lock().volatile, b"a");
    }

    #[test]
    fn a_failed_sync_loses_what_it_covered_and_a_short_write_stores_a_prefix() {
        let disk = FaultyDisk::new();
        disk.fail_sync(0);
        disk.fail_write(1, 2);
        disk.write(0, b"lost").expect("write 0");
        assert!(disk.sync_data().is_err());
        let mut buf = [0u8; 4];
        disk.read(0, &mut buf).expect("read");
        assert_eq!(&buf, b"lost", "the page cache still shows it");
        assert!(disk.write(4, b"short").is_err());
        disk.sync_data().expect("sync 1");
        let after = disk.after(Crash::PowerLoss);
        assert_eq!(after.lock().volatile, b"\0\0\0\0sh", "the failed sync's write never lands");
    }
}
