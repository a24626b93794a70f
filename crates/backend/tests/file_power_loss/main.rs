//! Power-loss tests of what makes and renames whole database files, on
//! [`FaultyFs`]: a defragmentation (online with writes between the copy and
//! the swap, and offline), a snapshot install, and the creation of a new
//! database.
//!
//! Each scenario is run once without faults to learn its states and count
//! its sync points (file fsyncs and directory fsyncs, redb's close included),
//! then once per sync point `k`: with the power cut at `k` (the machine
//! reboots on what survived: power loss, process crash, or a torn write-back
//! with three seeds), and with fsync `k` failing (the operation must report
//! it, and what it leaves must be the old state or the new one). After every
//! reboot `Backend::open` (which removes leftovers) must succeed, leave no
//! `.defrag` or `.new` file, and find the state after some prefix of the
//! script that holds every durable acknowledgement; the database must then
//! take a durable write that survives another power cut.

mod harness;

use backend::fault::Crash;
use backend::fault_fs::FaultyFs;
use backend::{Backend, MetaKey};
use harness::{CRASHES, DB, INSTALL, Op, Scenario, db, finish, image, run, write};

const IDENTITY: &[u8] = b"member-7";

/// A member's database: records 61..201 (60 deleted, so the file has room
/// to give back), a lease, an alarm and an identity; everything durable.
fn populated() -> FaultyFs {
    let fs = FaultyFs::new();
    let be = Backend::open_in(&fs, &db()).expect("open");
    write(&be, 1, 101, false).expect("write");
    write(&be, 101, 201, true).expect("write");
    let mut w = be.begin_write().expect("begin");
    w.delete_revisions_if(&[], &harness::rev_key(61), usize::MAX, |_| true).expect("delete");
    w.put_meta(MetaKey::MemberIdentity, IDENTITY).expect("identity");
    w.put_lease(7, b"lease seven").expect("lease");
    w.put_alarm(7, 1).expect("alarm");
    w.commit(true).expect("commit");
    drop(be);
    // As after a clean shutdown: every name and byte is on disk.
    fs.after(Crash::Process)
}

fn online_defrag() -> Scenario {
    let ops = vec![
        Op::Open,
        Op::DefragCopy,
        Op::Write { from: 201, to: 221, durable: false },
        Op::Write { from: 221, to: 231, durable: true },
        Op::Write { from: 231, to: 241, durable: false },
        Op::DefragFinish,
        Op::Write { from: 241, to: 251, durable: true },
    ];
    let s = Scenario::new("online defrag", populated(), ops);
    assert_eq!(s.states[5], s.states[6], "the defrag changes no record");
    s
}

fn offline_defrag() -> Scenario {
    let ops = vec![Op::DefragOffline, Op::Open, Op::Write { from: 201, to: 211, durable: true }];
    let s = Scenario::new("offline defrag", populated(), ops);
    assert_eq!(s.states[0], s.states[1], "the defrag changes no record");
    s
}

/// The leader's state, dumped to a (real) snapshot file in `dir`: other
/// records than the member's, and the member's identity, so that the
/// installed state is exactly the dump.
fn leader_snapshot(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>) {
    let fs = FaultyFs::new();
    let leader = Backend::open_in(&fs, &db()).expect("open leader");
    write(&leader, 1, 301, true).expect("write");
    let mut w = leader.begin_write().expect("begin");
    w.put_meta(MetaKey::MemberIdentity, IDENTITY).expect("identity");
    w.commit(true).expect("commit");
    let path = dir.join("recv-1.snap");
    let mut file = std::fs::File::create(&path).expect("create snapshot");
    leader.snapshot().expect("dump").write_to(&mut file).expect("write snapshot");
    (path, image(&leader).expect("image"))
}

fn install(dir: &std::path::Path) -> Scenario {
    let (snap, leaders) = leader_snapshot(dir);
    let ops = vec![
        Op::Open,
        Op::Write { from: 201, to: 211, durable: false },
        Op::Install(snap),
        Op::Write { from: 5000, to: 5010, durable: true },
    ];
    let s = Scenario::new("snapshot install", populated(), ops);
    assert_eq!(s.states[3], leaders, "the installed state is the leader's");
    s
}

fn create() -> Scenario {
    let ops = vec![
        Op::Open,
        Op::Write { from: 1, to: 51, durable: true },
        Op::Write { from: 51, to: 61, durable: false },
        Op::Write { from: 61, to: 71, durable: true },
    ];
    Scenario::new("create", FaultyFs::new(), ops)
}

/// Cuts the power at each sync point in turn and reboots.
fn cut_at_every_sync(s: &Scenario) {
    let mut install_leftovers = 0;
    for k in 0..s.sync_points() {
        let fs = s.base.after(Crash::Process);
        fs.cut_power_at_sync(k);
        let mut run = run(&fs, &s.ops);
        finish(&mut run);
        assert!(fs.is_dead(), "{}: sync {k} is reached on a rerun", s.name);
        // Up to the cut, a rerun is the clean run (a cut inside redb's close
        // is swallowed, so the op may still return and later ones fail).
        let before: Vec<u64> = s.syncs.iter().copied().take_while(|&n| n <= k).collect();
        assert_eq!(run.syncs[..before.len()], before[..], "{}: a rerun syncs as the clean run did", s.name);
        for crash in CRASHES {
            install_leftovers += usize::from(s.check_reboot(&fs, crash, &run, &format!("cut at sync {k}")));
        }
    }
    eprintln!(
        "{}: {} sync points (the count before each op, after the last, after closing: {:?}), {} reboots, \
         {install_leftovers} of them left an install target (the server's to remove)",
        s.name,
        s.sync_points(),
        s.syncs,
        s.sync_points() as usize * CRASHES.len(),
    );
}

/// Fails each fsync in turn: the operation that made it must fail, and
/// what it leaves (live, and after a reboot) must be a state of the script.
/// The exception is a sync redb makes while closing a file, whose error its
/// `Drop` swallows: the op may then return `Ok`, and the reboot check (which
/// counts that op as acknowledged) shows that nothing it promised was lost.
fn fail_every_sync(s: &Scenario) {
    let mut swallowed = 0;
    for k in 0..s.sync_points() {
        let fs = s.base.after(Crash::Process);
        fs.fail_sync(k);
        let mut run = run(&fs, &s.ops);
        if let Some(i) = s.op_of_sync(k) {
            if s.close_syncs.contains(&k) && run.failed.is_none_or(|f| f > i) {
                swallowed += 1;
            } else {
                assert_eq!(run.failed, Some(i), "{}: sync {k} (op {i}) failed, yet the op returned Ok", s.name);
            }
        }
        // A backend that still reads must read a state of the script (the
        // old file when the new one could not be made durable).
        if let Some(found) = run.live.backend.as_ref().and_then(|be| image(be).ok()) {
            let hi = run.failed.map_or(run.acked, |f| f + 1);
            assert!(
                (run.durable..=hi).any(|i| s.states[i] == found),
                "{}: after failed sync {k} the live database is no state of the script",
                s.name
            );
        }
        finish(&mut run);
        fs.cut_power();
        for crash in [Crash::PowerLoss, Crash::Process] {
            s.check_reboot(&fs, crash, &run, &format!("failed sync {k}"));
        }
    }
    eprintln!("{}: {} sync points failed in turn, {swallowed} of them in redb's close", s.name, s.sync_points());
}

#[test]
fn a_power_cut_at_any_sync_of_an_online_defrag_loses_nothing() {
    cut_at_every_sync(&online_defrag());
}

#[test]
fn a_failed_fsync_during_an_online_defrag_fails_it_and_keeps_the_old_file() {
    fail_every_sync(&online_defrag());
}

#[test]
fn a_power_cut_at_any_sync_of_an_offline_defrag_loses_nothing() {
    cut_at_every_sync(&offline_defrag());
}

#[test]
fn a_failed_fsync_during_an_offline_defrag_fails_it_and_keeps_the_old_file() {
    fail_every_sync(&offline_defrag());
}

#[test]
fn a_power_cut_at_any_sync_of_a_snapshot_install_leaves_the_old_or_the_new_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    cut_at_every_sync(&install(dir.path()));
}

#[test]
fn a_failed_fsync_during_a_snapshot_install_fails_it_and_keeps_the_old_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    fail_every_sync(&install(dir.path()));
}

#[test]
fn a_power_cut_at_any_sync_of_a_database_creation_leaves_one_that_opens() {
    cut_at_every_sync(&create());
}

#[test]
fn a_failed_fsync_during_a_database_creation_fails_it() {
    fail_every_sync(&create());
}

#[test]
fn the_install_target_and_the_database_are_the_only_files_after_an_install() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = install(dir.path());
    let fs = s.base.after(Crash::Process);
    let mut r = run(&fs, &s.ops);
    finish(&mut r);
    assert_eq!(fs.files(), vec![db()], "{INSTALL} was renamed over {DB}");
}
