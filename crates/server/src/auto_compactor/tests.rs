use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use super::*;
use crate::apply::clock::RevisionClock;

const HOUR: Duration = Duration::from_secs(3600);

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// One member's store, the applier's revision clock and an auto-compactor on
/// a wall clock the test moves. Compactions are applied as the applier
/// would: the sample is recorded in the same transaction.
struct Sim {
    dir: tempfile::TempDir,
    store: Option<mvcc::Store>,
    sampler: RevisionClock,
    wall_ms: Arc<AtomicU64>,
    started_ms: u64,
    ac: AutoCompactor,
    /// (time since the compactor started, target) of each compaction.
    compactions: Vec<(Duration, i64)>,
}

impl Sim {
    fn new(retention: Retention) -> Sim {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) =
            mvcc::Store::open(Backend::open(&dir.path().join("state.redb")).expect("open")).expect("store");
        // A whole second, as a real start rarely is not: the fallback must
        // compare below the second.
        let wall_ms = Arc::new(AtomicU64::new(1_700_000_000_000));
        let sampler = RevisionClock::new(wall(&wall_ms));
        let started_ms = wall_ms.load(Ordering::SeqCst);
        let ac = AutoCompactor::new(retention, wall(&wall_ms).now(), store.rev()).expect("enabled");
        Sim { dir, store: Some(store), sampler, wall_ms, started_ms, ac, compactions: Vec::new() }
    }

    fn store(&self) -> &mvcc::Store {
        self.store.as_ref().expect("open")
    }

    fn since_start(&self) -> Duration {
        Duration::from_millis(self.wall_ms.load(Ordering::SeqCst) - self.started_ms)
    }

    fn advance(&self, d: Duration) {
        self.wall_ms.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }

    fn put(&self) {
        let mut w = self.store().write().expect("write");
        self.sampler.record(&mut w).expect("record");
        w.put(b"k", b"v", 0).expect("put");
        w.end(b"raft state").expect("end");
    }

    /// One tick of the compactor; compacts if it is due.
    fn tick(&mut self, leader: bool) {
        let since = self.since_start();
        let now = wall(&self.wall_ms).now();
        let due = self.ac.due(since, now, leader, self.store().rev(), self.store().backend()).expect("due");
        let Some(rev) = due else { return };
        let mut w = self.store().write().expect("write");
        self.sampler.record(&mut w).expect("record");
        match w.compact(rev) {
            Ok(_job) => {}
            Err(mvcc::Error::Compacted { .. }) => {}
            Err(e) => panic!("compaction at {rev} failed: {e}"),
        }
        w.end(b"raft state").expect("end");
        self.ac.succeeded(rev, since, Duration::ZERO);
        self.compactions.push((since, rev));
    }

    /// Ticks for `d`, writing once after every tick; `leader` says whether
    /// the member leads at a given time since the start.
    fn run(&mut self, d: Duration, leader: impl Fn(Duration) -> bool) {
        let every = self.ac.tick_every();
        let end = self.since_start() + d;
        while self.since_start() + every <= end {
            self.advance(every);
            self.tick(leader(self.since_start()));
            self.put();
        }
    }

    /// Stops the member (everything applied is durable), waits `gap` and
    /// starts it again: a fresh sampler and compactor over the same file.
    fn restart(&mut self, retention: Retention, gap: Duration) {
        let store = self.store.take().expect("open");
        store.sync().expect("sync");
        drop(store);
        self.advance(gap);
        let backend = Backend::open(&self.dir.path().join("state.redb")).expect("reopen");
        let (store, _) = mvcc::Store::open(backend).expect("store");
        self.sampler = RevisionClock::new(wall(&self.wall_ms));
        self.started_ms = self.wall_ms.load(Ordering::SeqCst);
        self.ac = AutoCompactor::new(retention, wall(&self.wall_ms).now(), store.rev()).expect("enabled");
        self.store = Some(store);
        self.compactions.clear();
    }
}

fn wall(ms: &Arc<AtomicU64>) -> WallClock {
    let ms = ms.clone();
    WallClock::from_fn(move || UNIX_EPOCH + Duration::from_millis(ms.load(Ordering::SeqCst)))
}

#[test]
fn ticks_follow_etcds_table() {
    let tick = |r| AutoCompactor::new(r, SystemTime::UNIX_EPOCH, 1).expect("enabled").tick_every();
    assert_eq!(tick(Retention::Periodic(secs(5.0))), secs(0.5));
    assert_eq!(tick(Retention::Periodic(secs(20.0))), secs(2.0));
    assert_eq!(tick(Retention::Periodic(secs(30.0 * 60.0))), secs(180.0));
    assert_eq!(tick(Retention::Periodic(secs(59.0 * 60.0))), secs(354.0));
    assert_eq!(tick(Retention::Periodic(HOUR)), secs(360.0));
    assert_eq!(tick(Retention::Periodic(24 * HOUR)), secs(360.0));
    assert_eq!(tick(Retention::Periodic(72 * HOUR)), secs(360.0));
    assert_eq!(tick(Retention::Revisions(10)), secs(300.0));
    assert!(AutoCompactor::new(Retention::Disabled, SystemTime::UNIX_EPOCH, 1).is_none());
}

#[test]
fn periodic_short_retention_compacts_every_period_to_the_revision_of_one_period_ago() {
    let mut sim = Sim::new(Retention::Periodic(secs(5.0)));
    sim.run(secs(16.0), |_| true);
    // One write after every 0.5 s tick: the revision at a whole second t is
    // 2t. The first compaction, at 5 s, targets the revision at start, as
    // etcd's does.
    assert_eq!(sim.compactions, vec![(secs(5.0), 1), (secs(10.0), 10), (secs(15.0), 20)]);
}

#[test]
fn an_idle_cluster_is_not_compacted_to_the_same_revision_twice() {
    let mut sim = Sim::new(Retention::Periodic(secs(5.0)));
    sim.run(secs(6.0), |_| true);
    let last_write = sim.store().rev();
    // No writes from 6 s on: etcd 3.4 compacted to the same revision every
    // period; 3.6 compacts to it once.
    let every = sim.ac.tick_every();
    for _ in 0..60 {
        sim.advance(every);
        sim.tick(true);
    }
    assert_eq!(sim.compactions, vec![(secs(5.0), 1), (secs(10.0), 10), (secs(15.0), last_write)]);
}

#[test]
fn periodic_long_retention_waits_one_retention_then_compacts_hourly_keeping_the_window() {
    let mut sim = Sim::new(Retention::Periodic(24 * HOUR));
    sim.run(27 * HOUR + secs(1.0), |_| true);
    // One write after every 6-minute tick: the revision at h hours is 10h.
    assert_eq!(sim.compactions, vec![(24 * HOUR, 1), (25 * HOUR, 10), (26 * HOUR, 20), (27 * HOUR, 30)]);
}

#[test]
fn after_a_restart_the_first_compaction_comes_one_interval_later_with_the_target_of_one_retention_ago() {
    let retention = Retention::Periodic(24 * HOUR);
    let mut sim = Sim::new(retention);
    sim.run(30 * HOUR, |_| true);
    assert_eq!(sim.compactions.last(), Some(&(30 * HOUR, 60)));
    sim.restart(retention, secs(600.0));
    sim.run(2 * HOUR + secs(1.0), |_| true);
    // Restarted at 30h10m: at 31h10m the revision of 7h10m ago is the one
    // sampled at 7h06m (71). etcd's ring would be empty: its first
    // compaction would come at 54h10m, to the revision at the restart.
    assert_eq!(sim.compactions, vec![(HOUR, 71), (2 * HOUR, 81)]);
}

#[test]
fn after_a_restart_with_short_retention_the_cadence_is_etcds() {
    let retention = Retention::Periodic(secs(5.0));
    let mut sim = Sim::new(retention);
    sim.run(secs(8.0), |_| true);
    let before_stop = sim.store().rev();
    sim.restart(retention, secs(1.0));
    sim.run(secs(5.0), |_| true);
    // At 5 s after the restart, the revision of 5 s ago is the one at the
    // restart: the last one written before the stop.
    assert_eq!(sim.compactions, vec![(secs(5.0), before_stop)]);
}

#[test]
fn a_follower_does_not_compact_and_resumes_with_the_right_window_on_becoming_leader() {
    let mut sim = Sim::new(Retention::Periodic(secs(5.0)));
    let leads = |t: Duration| (t >= secs(12.0) && t < secs(20.0)) || t >= secs(31.0);
    sim.run(secs(37.0), leads);
    // Nothing while following; at once on leading (the last success is long
    // past), to the revision of 5 s before, then every 5 s.
    assert_eq!(sim.compactions, vec![(secs(12.0), 14), (secs(17.0), 24), (secs(31.0), 52), (secs(36.0), 62)]);
}

#[test]
fn a_failed_periodic_compaction_is_retried_at_the_next_tick() {
    let sim = Sim::new(Retention::Periodic(secs(5.0)));
    let now = |s: f64| SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000) + secs(s);
    let be = sim.store().backend();
    assert_eq!(sim.ac.due(secs(4.5), now(4.5), true, 1, be).expect("due"), None);
    assert_eq!(sim.ac.due(secs(5.0), now(5.0), true, 1, be).expect("due"), Some(1));
    // No success recorded: the next tick asks again.
    assert_eq!(sim.ac.due(secs(5.5), now(5.5), true, 1, be).expect("due"), Some(1));
    assert_eq!(sim.ac.due(secs(5.5), now(5.5), false, 1, be).expect("due"), None, "not as a follower");
}

#[test]
fn revision_mode_compacts_to_current_minus_retention_when_it_moved() {
    let mut sim = Sim::new(Retention::Revisions(10));
    let tick = |sim: &mut Sim, leader: bool| {
        sim.advance(REVISION_TICK);
        sim.tick(leader);
    };
    tick(&mut sim, true); // revision 1: target -9, nothing
    (0..100).for_each(|_| sim.put());
    tick(&mut sim, true); // 101 → 91
    tick(&mut sim, true); // still 91: not again
    (0..5).for_each(|_| sim.put());
    tick(&mut sim, false); // a follower: paused
    tick(&mut sim, true); // 106 → 96
    let five_min = REVISION_TICK;
    assert_eq!(sim.compactions, vec![(2 * five_min, 91), (5 * five_min, 96)]);
}

#[test]
fn durations_print_as_go_does() {
    let cases = [
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(999), "999ns"),
        (Duration::from_nanos(8_593), "8.593µs"),
        (Duration::from_nanos(1_075_664), "1.075664ms"),
        (secs(0.5), "500ms"),
        (secs(20.0), "20s"),
        (Duration::from_nanos(20_013_544_983), "20.013544983s"),
        (secs(354.0), "5m54s"),
        (secs(300.0), "5m0s"),
        (HOUR, "1h0m0s"),
        (72 * HOUR, "72h0m0s"),
    ];
    for (d, want) in cases {
        assert_eq!(go_duration(d), want, "{d:?}");
    }
}
