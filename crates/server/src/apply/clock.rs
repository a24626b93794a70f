//! The revision clock's writer: the applier samples "which revision was
//! current at this wall-clock second" into the backend's `revision_clock`
//! table, in the transaction of the entry it is applying, so the periodic
//! auto-compactor ([`crate::auto_compactor`]) finds the revision of P ago even
//! right after a restart or a change of leader. etcd samples into memory on
//! a timer instead, and forgets on restart.
//!
//! A sample is taken with the first entry applied in each second and holds the
//! revision *before* that entry: nothing was applied earlier in that second,
//! so it is the revision the second began with. A lookup therefore never
//! answers a revision newer than the one current at the asked time.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Applier;

/// Where wall-clock time comes from; tests pass a clock they move by hand.
#[derive(Clone)]
pub struct WallClock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl WallClock {
    /// The system's clock.
    pub fn system() -> WallClock {
        WallClock(Arc::new(SystemTime::now))
    }

    /// A clock that reads `now`.
    pub fn from_fn(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> WallClock {
        WallClock(Arc::new(now))
    }

    pub fn now(&self) -> SystemTime {
        (self.0)()
    }
}

impl std::fmt::Debug for WallClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WallClock")
    }
}

/// Whole seconds since the Unix epoch (0 for earlier times).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Records at most one sample per wall-clock second and prunes what
/// compactions made useless.
#[derive(Debug)]
pub struct RevisionClock {
    wall: WallClock,
    state: Mutex<SamplerState>,
}

#[derive(Debug)]
struct SamplerState {
    /// The second of the newest sample; read from the table on first use.
    last_secs: Option<u64>,
    /// The compacted revision the table was last pruned for.
    pruned_to: i64,
}

impl RevisionClock {
    pub fn new(wall: WallClock) -> RevisionClock {
        RevisionClock { wall, state: Mutex::new(SamplerState { last_secs: None, pruned_to: i64::MIN }) }
    }

    /// Called before an entry changes anything in `w`: prunes after a new
    /// compaction, then samples `w`'s revision if this second has no sample
    /// yet. A wall clock that stepped back records nothing until it passes the
    /// newest sample again, so both columns of the table only grow.
    pub fn record(&self, w: &mut mvcc::TxnWrite<'_>) -> Result<(), raft::ApplyError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let compacted = w.compact_rev();
        let rev = w.rev();
        let txn = w.backend_txn();
        if compacted > st.pruned_to {
            txn.prune_revision_samples(compacted).map_err(fatal)?;
            st.pruned_to = compacted;
        }
        let last = match st.last_secs {
            Some(s) => s,
            None => txn.last_revision_sample().map_err(fatal)?.map_or(0, |(s, _)| s),
        };
        let now = unix_secs(self.wall.now());
        if now > last {
            txn.put_revision_sample(now, rev).map_err(fatal)?;
            st.last_secs = Some(now);
        } else {
            st.last_secs = Some(last);
        }
        Ok(())
    }
}

impl Applier {
    /// Samples the revision clock with `wall` instead of the system clock.
    pub fn with_wall_clock(mut self, wall: WallClock) -> Applier {
        self.clock = RevisionClock::new(wall);
        self
    }
}

fn fatal(e: backend::Error) -> raft::ApplyError {
    tracing::error!(error = %e, "recording the revision clock failed; the member stops applying");
    raft::ApplyError::new(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// A wall clock at `millis` since the epoch, moved by the test.
    fn manual(millis: &Arc<AtomicU64>) -> WallClock {
        let m = millis.clone();
        WallClock::from_fn(move || UNIX_EPOCH + Duration::from_millis(m.load(Ordering::SeqCst)))
    }

    fn put_at(store: &mvcc::Store, clock: &RevisionClock, key: &[u8]) {
        let mut w = store.write().expect("write");
        clock.record(&mut w).expect("record");
        w.put(key, b"v", 0).expect("put");
        w.end(b"raft state").expect("end");
    }

    fn samples(store: &mvcc::Store) -> Vec<(u64, i64)> {
        store.backend().begin_read().expect("read").revision_samples().expect("samples")
    }

    #[test]
    fn one_sample_per_second_holding_the_revision_the_second_began_with() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) =
            mvcc::Store::open(backend::Backend::open(&dir.path().join("s.redb")).expect("open")).expect("store");
        let millis = Arc::new(AtomicU64::new(100_200));
        let clock = RevisionClock::new(manual(&millis));
        put_at(&store, &clock, b"a"); // 100.2 s: 1 → 2
        millis.store(100_600, Ordering::SeqCst);
        put_at(&store, &clock, b"b"); // 100.6 s: 2 → 3, same second
        millis.store(103_100, Ordering::SeqCst);
        put_at(&store, &clock, b"c"); // 103.1 s: 3 → 4
        millis.store(90_000, Ordering::SeqCst);
        put_at(&store, &clock, b"d"); // the clock stepped back: no sample
        assert_eq!(samples(&store), vec![(100, 1), (103, 3)]);
    }

    #[test]
    fn a_new_clock_continues_after_the_stored_samples() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.redb");
        let millis = Arc::new(AtomicU64::new(50_000));
        {
            let (store, _) = mvcc::Store::open(backend::Backend::open(&path).expect("open")).expect("store");
            put_at(&store, &RevisionClock::new(manual(&millis)), b"a");
            store.sync().expect("sync");
        }
        let (store, _) = mvcc::Store::open(backend::Backend::open(&path).expect("reopen")).expect("store");
        let clock = RevisionClock::new(manual(&millis));
        put_at(&store, &clock, b"b"); // same second as before the restart
        millis.store(51_000, Ordering::SeqCst);
        put_at(&store, &clock, b"c");
        assert_eq!(samples(&store), vec![(50, 1), (51, 3)]);
    }

    #[test]
    fn a_compaction_prunes_the_samples_it_covers_but_the_newest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) =
            mvcc::Store::open(backend::Backend::open(&dir.path().join("s.redb")).expect("open")).expect("store");
        let millis = Arc::new(AtomicU64::new(10_000));
        let clock = RevisionClock::new(manual(&millis));
        for key in [b"a", b"b", b"c", b"d"] {
            put_at(&store, &clock, key);
            millis.fetch_add(1_000, Ordering::SeqCst);
        }
        assert_eq!(samples(&store), vec![(10, 1), (11, 2), (12, 3), (13, 4)]);
        let mut w = store.write().expect("write");
        clock.record(&mut w).expect("record");
        let _job = w.compact(3).expect("compact");
        w.end(b"raft state").expect("end");
        // The next entry prunes: (12, 3) still answers for seconds 12 and 13.
        millis.fetch_add(1_000, Ordering::SeqCst);
        put_at(&store, &clock, b"e");
        assert_eq!(samples(&store), vec![(12, 3), (13, 4), (14, 5), (15, 5)]);
    }
}
