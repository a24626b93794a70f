//! [`Leases`]: the member's lessor, the key → lease map that keeps its
//! attachments true, and the clock leases are measured with.
//!
//! Attachments follow the applied history rather than the requests: after
//! each applied entry the applier hands the entry's changes to
//! [`Leases::observe`], which attaches a put's key to its lease, detaches it
//! from the lease it had before, and detaches deleted keys. So a key that was
//! deleted and put again without a lease is never deleted by its old lease.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lease::Lessor;
use mvcc::{KeyRange, KeyValue, RangeOptions, Store};

/// The lessor and what it needs around it.
pub struct Leases {
    lessor: Mutex<Lessor>,
    key_lease: Mutex<HashMap<Vec<u8>, i64>>,
    epoch: Instant,
}

impl Leases {
    /// Restores leases from the backend and re-attaches every live key that
    /// names one. `min_ttl_secs` is etcd's ceil(1.5 × election timeout).
    pub fn restore(store: &Store, min_ttl_secs: i64) -> Result<Leases, crate::ServerError> {
        let leases = Leases {
            lessor: Mutex::new(Lessor::new(min_ttl_secs)),
            key_lease: Mutex::default(),
            epoch: Instant::now(),
        };
        leases.reload(store)?;
        Ok(leases)
    }

    /// Replaces every lease and attachment with the backend's (at start-up,
    /// or after the store installed a Raft snapshot). A primary lessor stays
    /// primary and gives the new leases their TTL from now.
    pub fn reload(&self, store: &Store) -> Result<(), crate::ServerError> {
        let now = self.now();
        self.key_lease.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let mut lessor = self.lessor();
        lessor.restore(&store.backend().begin_read()?, now).map_err(|e| crate::ServerError::Lease(e.to_string()))?;
        if !lessor.leases().is_empty() {
            drop(lessor);
            let all = store.read()?.range(KeyRange::from_request(b"\0", b"\0"), RangeOptions::default())?;
            self.observe(&all.kvs);
        }
        Ok(())
    }

    /// Monotonic time since the member started.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    pub fn lessor(&self) -> MutexGuard<'_, Lessor> {
        self.lessor.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True if the lease exists.
    pub fn exists(&self, id: i64) -> bool {
        self.lessor().contains(id)
    }

    /// The keys attached to a lease, `None` if it does not exist (for
    /// permission checks: revoking a lease deletes its keys).
    pub fn keys(&self, id: i64) -> Option<Vec<Vec<u8>>> {
        let now = self.now();
        self.lessor().time_to_live(id, now, true).map(|info| info.keys)
    }

    /// Keeps attachments in step with applied changes (`version == 0` is a
    /// deletion).
    pub fn observe(&self, changes: &[KeyValue]) {
        let mut map = self.key_lease.lock().unwrap_or_else(|p| p.into_inner());
        if map.is_empty() && changes.iter().all(|kv| kv.lease == 0) {
            return;
        }
        let mut lessor = self.lessor();
        for kv in changes {
            let now_lease = if kv.version == 0 { 0 } else { kv.lease };
            let before = if now_lease == 0 { map.remove(&kv.key) } else { map.insert(kv.key.clone(), now_lease) };
            if let Some(old) = before
                && old != now_lease
            {
                lessor.detach(old, &kv.key);
            }
            if now_lease != 0 && before != Some(now_lease) && lessor.attach(now_lease, &kv.key).is_err() {
                // Checked before the put was applied; a missing lease here
                // means it was revoked earlier in the same run.
                map.remove(&kv.key);
            }
        }
    }
}
