//! How full the member's backend is: the file size, and the bytes in use.
//!
//! Measuring the bytes in use reads every page ([`backend::Backend::measure_in_use`]),
//! so it runs in the background at start-up and after each finished
//! compaction and defragmentation; in between, writes are accounted for by
//! the logical bytes they add (which the store counts exactly), scaled by the
//! page overhead seen at the last measurement.

use std::sync::{Arc, Mutex};

use crate::member::Member;
use crate::quota::Usage;

/// The last measurement of the bytes in use.
#[derive(Default)]
pub struct InUse {
    last: Mutex<Option<Measured>>,
}

#[derive(Clone, Copy)]
struct Measured {
    /// Bytes of the pages the tables used.
    physical: u64,
    /// The store's history bytes at that moment.
    logical: u64,
}

impl InUse {
    /// The bytes in use now, from the last measurement and the history bytes
    /// written or compacted away since; never above the file size.
    pub fn estimate(&self, logical_now: u64, db_size: u64) -> u64 {
        let last = *self.last.lock().unwrap_or_else(|p| p.into_inner());
        let estimate = match last {
            Some(m) if m.logical > 0 => {
                let scaled = (logical_now as u128 * m.physical as u128 / m.logical as u128) as u64;
                // The fixed part (meta, leases, redb's tables) does not scale.
                scaled.max(m.physical.saturating_sub(m.logical.saturating_sub(logical_now)))
            }
            Some(m) => m.physical + logical_now + logical_now / 4,
            // Before the first measurement: a B-tree's usual overhead.
            None => logical_now + logical_now / 4 + 64 * 1024,
        };
        estimate.min(db_size)
    }

    fn record(&self, physical: u64, logical: u64) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Measured { physical, logical });
    }
}

/// Measures the bytes in use now (off the async runtime).
pub async fn remeasure(member: &Member) {
    let store = member.store.clone();
    let measured = tokio::task::spawn_blocking(move || {
        // The history bytes are read under the writer, so that they match the
        // snapshot the measurement reads.
        let (logical, physical) = store.with_writes_paused(|s| (s.history_bytes(), s.backend().measure_in_use()));
        physical.map(|p| (p, logical))
    })
    .await;
    match measured {
        Ok(Ok((physical, logical))) => member.in_use.record(physical, logical),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot measure the backend's bytes in use"),
        Err(e) => tracing::warn!(error = %e, "cannot measure the backend's bytes in use"),
    }
}

/// Keeps the measurement fresh: at start-up and after every compaction.
pub async fn keep_measured(member: Arc<Member>) {
    let mut finished = member.compaction_finished();
    loop {
        remeasure(&member).await;
        if finished.changed().await.is_err() {
            return;
        }
    }
}

impl Member {
    /// How full this member's backend is.
    pub fn usage(&self) -> Usage {
        let db_size = self.store.backend().size_bytes();
        Usage { db_size, in_use: self.in_use.estimate(self.store.history_bytes(), db_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::InUse;

    #[test]
    fn the_estimate_scales_writes_by_the_measured_overhead() {
        let u = InUse::default();
        assert_eq!(u.estimate(1000, 1 << 20), 1000 + 250 + 65536, "before any measurement");
        assert_eq!(u.estimate(1000, 2000), 2000, "never above the file");
        u.record(20_000, 10_000);
        assert_eq!(u.estimate(10_000, 1 << 20), 20_000);
        assert_eq!(u.estimate(15_000, 1 << 20), 30_000, "writes since cost what the measured ones did");
        assert_eq!(u.estimate(5_000, 1 << 20), 15_000, "compacted bytes free their share and no more");
    }
}
