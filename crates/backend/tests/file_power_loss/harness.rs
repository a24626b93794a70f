//! The script runner and the checks shared by the whole-file power-loss
//! tests: run a script of operations on a [`FaultyFs`], cut the power (or fail
//! an fsync) at one sync point, reboot on what survived and check it.

use std::path::{Path, PathBuf};

use backend::fault::Crash;
use backend::fault_fs::FaultyFs;
use backend::{Backend, LoadOptions, MetaKey};

/// The database every script works on.
pub const DB: &str = "data/member/state.redb";

/// Where a received snapshot is loaded (as `server::apply::snapshot` names it).
pub const INSTALL: &str = "data/member/state.redb.install";

/// What a machine may find after the power comes back.
pub const CRASHES: [Crash; 5] =
    [Crash::PowerLoss, Crash::Process, Crash::Torn { seed: 1 }, Crash::Torn { seed: 2 }, Crash::Torn { seed: 3 }];

pub fn db() -> PathBuf {
    PathBuf::from(DB)
}

/// One step of a script.
pub enum Op {
    /// `Backend::open` (creating the file if missing).
    Open,
    /// Records `from..to` of the `key` table, ~300 bytes each, and
    /// `consistent_index = to`, in one commit.
    Write { from: u64, to: u64, durable: bool },
    /// `Backend::defrag_copy`; writes may follow before [`Op::DefragFinish`].
    DefragCopy,
    /// `DefragCopy::finish` then `Swapped::settle`.
    DefragFinish,
    /// Closes the backend and runs `defrag_offline` on the file.
    DefragOffline,
    /// What a member does with a snapshot received from its leader
    /// (`server::apply::snapshot::install`): load it next to the database
    /// without the leader's identity, write ours into it, `replace_with`.
    Install(PathBuf),
}

impl Op {
    /// Whether a returned `Ok` promises the state survives a power cut.
    fn durable(&self) -> bool {
        match self {
            Op::Write { durable, .. } => *durable,
            Op::DefragCopy => false,
            Op::Open | Op::DefragFinish | Op::DefragOffline | Op::Install(_) => true,
        }
    }
}

pub fn rev_key(main: u64) -> Vec<u8> {
    let mut k = main.to_be_bytes().to_vec();
    k.push(b'_');
    k.extend_from_slice(&0u64.to_be_bytes());
    k
}

/// Writes records `from..to` in one commit.
pub fn write(be: &Backend, from: u64, to: u64, durable: bool) -> backend::Result<()> {
    let mut w = be.begin_write()?;
    for i in from..to {
        w.put_revision(&rev_key(i), &vec![(i % 251) as u8; 300])?;
    }
    w.put_meta(MetaKey::ConsistentIndex, &to.to_be_bytes())?;
    w.commit(durable)
}

/// Everything a reader can see, in a canonical form: a dump of every table.
pub fn image(be: &Backend) -> backend::Result<Vec<u8>> {
    let mut out = Vec::new();
    be.snapshot()?.write_to(&mut out)?;
    Ok(out)
}

/// What a script has open between its ops.
#[derive(Default)]
pub struct Live {
    pub backend: Option<Backend>,
    /// The copy between [`Op::DefragCopy`] and [`Op::DefragFinish`].
    copy: Option<backend::DefragCopy>,
}

impl Live {
    fn backend(&self) -> backend::Result<Backend> {
        self.backend.clone().ok_or_else(|| io_err("the backend is not open"))
    }
}

/// A run of a script.
pub struct Run {
    /// Ops `0..acked` returned `Ok`, `0..durable` ending with a durable one.
    pub acked: usize,
    pub durable: usize,
    /// The op that failed first, if any.
    pub failed: Option<usize>,
    /// What the run left open.
    pub live: Live,
    /// `syncs[i]`: the filesystem's sync count before op `i` (and, last, after all).
    pub syncs: Vec<u64>,
}

/// Runs `ops` on `fs` until one fails (an operation that failed is not
/// retried by a member either).
pub fn run(fs: &FaultyFs, ops: &[Op]) -> Run {
    let mut run = Run { acked: 0, durable: 0, failed: None, live: Live::default(), syncs: Vec::new() };
    for (i, op) in ops.iter().enumerate() {
        run.syncs.push(fs.syncs());
        match step(fs, &mut run.live, op) {
            Ok(()) => {
                run.acked = i + 1;
                if op.durable() {
                    run.durable = i + 1;
                }
            }
            Err(_) => {
                run.failed = Some(i);
                break;
            }
        }
    }
    run.syncs.push(fs.syncs());
    run
}

fn step(fs: &FaultyFs, live: &mut Live, op: &Op) -> backend::Result<()> {
    match op {
        Op::Open => live.backend = Some(Backend::open_in(fs, &db())?),
        Op::Write { from, to, durable } => write(&live.backend()?, *from, *to, *durable)?,
        Op::DefragCopy => live.copy = Some(live.backend()?.defrag_copy()?),
        Op::DefragFinish => {
            let copy = live.copy.take().ok_or_else(|| io_err("no copy"))?;
            copy.finish(&live.backend()?)?.settle()?;
        }
        Op::DefragOffline => {
            live.backend = None;
            backend::defrag_offline_in(fs, &db())?;
        }
        Op::Install(snapshot) => install(fs, &live.backend()?, snapshot)?,
    }
    Ok(())
}

/// `server::apply::snapshot::install`, on the simulated filesystem.
fn install(fs: &FaultyFs, be: &Backend, snapshot: &Path) -> backend::Result<()> {
    let target = PathBuf::from(INSTALL);
    match fs.remove_file(&target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(backend::Error::Io { op: "remove install target", source }),
    }
    let identity = be.begin_read()?.meta(MetaKey::MemberIdentity)?;
    let opts = LoadOptions { skip_hash_check: false, without_meta: &[MetaKey::MemberIdentity] };
    backend::load_snapshot_in(fs, snapshot, &target, &opts, |_| {})?;
    if let Some(identity) = identity {
        let loaded = Backend::open_in(fs, &target)?;
        let mut w = loaded.begin_write()?;
        w.put_meta(MetaKey::MemberIdentity, &identity)?;
        w.commit(true)?;
    }
    be.replace_with(&target)
}

fn io_err(what: &'static str) -> backend::Error {
    backend::Error::Io { op: "test script", source: std::io::Error::other(what) }
}

/// Drops what a run left open: the copy of a defrag in progress, then the
/// backend (redb closes its files).
pub fn finish(run: &mut Run) {
    run.live.copy = None;
    run.live.backend = None;
}

/// A script on a starting filesystem, with the images a reader may see
/// after each prefix and the sync points of a clean run.
pub struct Scenario {
    pub name: &'static str,
    pub base: FaultyFs,
    pub ops: Vec<Op>,
    /// `states[i]`: the image after ops `0..i`.
    pub states: Vec<Vec<u8>>,
    /// The sync count before each op, after the last one, and after the close.
    pub syncs: Vec<u64>,
    /// The syncs of a clean run that redb made while closing a file.
    pub close_syncs: std::collections::BTreeSet<u64>,
}

impl Scenario {
    /// Runs `ops` once without faults on a copy of `base` to learn the
    /// states and the sync points.
    pub fn new(name: &'static str, base: FaultyFs, ops: Vec<Op>) -> Scenario {
        let start = {
            let probe = base.after(Crash::Process);
            let be = Backend::open_in(&probe, &db()).expect("open the starting state");
            image(&be).expect("image")
        };
        let fs = base.after(Crash::Process);
        let mut states = vec![start];
        let mut syncs = Vec::new();
        let mut live = Live::default();
        for (i, op) in ops.iter().enumerate() {
            syncs.push(fs.syncs());
            step(&fs, &mut live, op).unwrap_or_else(|e| panic!("{name}: op {i} of a clean run: {e}"));
            let state = match &live.backend {
                Some(be) => image(be).expect("image"),
                None => states.last().expect("a state").clone(),
            };
            states.push(state);
        }
        syncs.push(fs.syncs());
        let mut clean = Run { acked: ops.len(), durable: ops.len(), failed: None, live, syncs: Vec::new() };
        finish(&mut clean);
        syncs.push(fs.syncs());
        let scenario = Scenario { name, base, ops, states, syncs, close_syncs: fs.close_syncs() };
        scenario.check_reboot(&fs, Crash::PowerLoss, &clean, "clean run");
        scenario
    }

    /// Sync points of a clean run, closing included.
    pub fn sync_points(&self) -> u64 {
        *self.syncs.last().expect("counted")
    }

    /// The op during which sync `k` happens (None: when the files close).
    pub fn op_of_sync(&self, k: u64) -> Option<usize> {
        (0..self.ops.len()).find(|&i| self.syncs[i] <= k && k < self.syncs[i + 1])
    }

    /// Reboots on what `crash` left of `fs` and checks: the database opens,
    /// no leftover copy stays, its image is the state after some prefix of
    /// the script between the last durable acknowledgement and the op in
    /// flight, and it takes a durable write that survives the next power cut.
    /// Answers whether an install target was left behind.
    pub fn check_reboot(&self, fs: &FaultyFs, crash: Crash, run: &Run, what: &str) -> bool {
        let name = self.name;
        let survivor = fs.after(crash);
        let be =
            Backend::open_in(&survivor, &db()).unwrap_or_else(|e| panic!("{name}, {what}, {crash:?}: reopen: {e}"));
        // The install target (and the `.new` of its creation) is the
        // server's to clean up, at its next install: not checked here.
        let leftovers: Vec<PathBuf> =
            survivor.files().into_iter().filter(|p| *p != db() && !p.to_string_lossy().starts_with(INSTALL)).collect();
        assert!(leftovers.is_empty(), "{name}, {what}, {crash:?}: leftovers after reopen: {leftovers:?}");
        let found = image(&be).unwrap_or_else(|e| panic!("{name}, {what}, {crash:?}: read: {e}"));
        let lo = run.durable;
        let hi = run.failed.map_or(run.acked, |f| f + 1);
        assert!(
            (lo..=hi).any(|i| self.states[i] == found),
            "{name}, {what}, {crash:?}: the reopened database is none of the states after ops {lo}..={hi} \
             (it is state {:?} of 0..={})",
            self.states.iter().position(|s| *s == found),
            self.states.len() - 1,
        );
        write(&be, 1_000_000, 1_000_001, true).unwrap_or_else(|e| panic!("{name}, {what}, {crash:?}: write: {e}"));
        drop(be);
        let again = Backend::open_in(&survivor.after(Crash::PowerLoss), &db()).expect("second reopen");
        let got = again.begin_read().expect("read").get_revision(&rev_key(1_000_000)).expect("get");
        assert!(got.is_some(), "{name}, {what}, {crash:?}: a durable write after the reboot was lost");
        survivor.files().iter().any(|p| p.to_string_lossy().starts_with(INSTALL))
    }
}
