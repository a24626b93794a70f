//! [`Lessor`]: the owner of leases, after etcd 3.4's `lease/lessor.go`.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use backend::{ReadTxn, WriteTxn};

use crate::error::{Error, Result};
use crate::expiry_queue::ExpiryQueue;
use crate::lease_record::LeaseRecord;

/// The largest TTL a grant accepts (etcd's `MaxLeaseTTL`, about 285 years).
pub const MAX_LEASE_TTL_SECS: i64 = 9_000_000_000;

/// How often the server should call [`Lessor::expired`] (etcd's run loop
/// period).
pub const EXPIRY_CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// etcd revokes at most this many leases per second (`leaseRevokeRate`).
/// [`Lessor::promote`] spreads expiries so that no second holds more than
/// three quarters of it.
pub const REVOKE_RATE_PER_SEC: usize = 1000;

/// The `limit` the server should pass to [`Lessor::expired`] every
/// [`EXPIRY_CHECK_INTERVAL`] (etcd: half the revoke rate per 500 ms run).
pub const EXPIRED_BATCH_LIMIT: usize = REVOKE_RATE_PER_SEC / 2;

/// How long a lease reported by [`Lessor::expired`] stays unreported while
/// its revoke goes through Raft (etcd's `defaultExpiredleaseRetryInterval`).
pub const DEFAULT_EXPIRED_RETRY_INTERVAL: Duration = Duration::from_secs(3);

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// What `LeaseGrant` and `LeaseTimeToLive` answer about one lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub id: i64,
    /// The granted TTL, after the minimum-TTL raise (etcd's `grantedTTL`).
    pub ttl_secs: i64,
    /// Whole seconds until expiry, truncated toward zero as etcd's
    /// `int64(lease.Remaining().Seconds())`: 0 in the last second, negative
    /// once expired but not yet revoked, and 9223372036 (`MaxInt64` ns) on a
    /// lessor that is not the primary.
    pub remaining_secs: i64,
    /// The attached keys in byte order; empty unless asked for.
    pub keys: Vec<Vec<u8>>,
}

#[derive(Debug)]
struct Lease {
    ttl_secs: i64,
    /// A checkpointed remaining TTL from the `lease` table, used instead of
    /// `ttl_secs` by the next refresh; 0 when unset (etcd's `remainingTTL`).
    remaining_ttl_secs: i64,
    /// `None` is etcd's "forever": on a lessor that is not the primary,
    /// leases do not expire.
    expiry: Option<Duration>,
    keys: BTreeSet<Vec<u8>>,
}

impl Lease {
    fn new(ttl_secs: i64, remaining_ttl_secs: i64) -> Lease {
        Lease { ttl_secs, remaining_ttl_secs, expiry: None, keys: BTreeSet::new() }
    }

    /// Sets the expiry to `now + extend + TTL` (the checkpointed remaining
    /// TTL if there is one) and returns it.
    fn refresh(&mut self, now: Duration, extend: Duration) -> Duration {
        let secs = if self.remaining_ttl_secs > 0 { self.remaining_ttl_secs } else { self.ttl_secs };
        let expiry = now.saturating_add(extend).saturating_add(Duration::from_secs(secs.max(0) as u64));
        self.expiry = Some(expiry);
        expiry
    }

    fn is_expired(&self, now: Duration) -> bool {
        self.expiry.is_some_and(|e| e <= now)
    }

    fn remaining_nanos(&self, now: Duration) -> i128 {
        match self.expiry {
            Some(e) => e.as_nanos() as i128 - now.as_nanos() as i128,
            None => i128::from(i64::MAX),
        }
    }
}

/// All leases of a member, their attached keys, and (on the primary, the
/// Raft leader) their expiry.
///
/// Changes that every member must make identically — [`Lessor::grant`],
/// [`Lessor::revoke`], [`Lessor::attach`], [`Lessor::detach`] — are called
/// while applying Raft entries, in log order. Expiry is the leader's alone:
/// [`Lessor::renew`] and [`Lessor::expired`] are local, and an expired lease
/// is revoked by proposing a revoke through Raft, never directly.
///
/// A worked example (minimum TTL 2 s, promoted at 0 s):
///
/// ```text
/// grant(id 1, ttl 1) at 0s     ttl raised to 2, expires at 2s
/// attach(1, "a")               keys {a}
/// renew(1) at 1.5s             expires at 3.5s, answers TTL 2
/// expired(3.5s) = [1]          the server proposes revoke(1)
/// expired(4s)   = []           not again until 3.5s + retry interval (3s)
/// expired(6.5s) = [1]          the revoke was lost (say a leader change): retried
/// revoke(1)                    answers ["a"]: the applier deletes "a" in one revision
/// ```
///
/// Costs, for n leases and k keys on one lease: `grant`, `revoke` (plus
/// O(k) for its keys), `renew`: O(log n) — etcd's 10,000-lease keep-alive
/// load is 10,000 `renew`s on a queue of 10,000; `expired`: O(log n) per
/// lease returned, O(1) when none is due; `attach`/`detach`: O(log k);
/// `promote`, `leases`, `restore`: O(n log n).
#[derive(Debug)]
pub struct Lessor {
    min_ttl_secs: i64,
    expired_retry_interval: Duration,
    primary: bool,
    leases: HashMap<i64, Lease>,
    /// Invariant: holds exactly the leases of `leases` that have an expiry,
    /// i.e. all of them while primary and none otherwise.
    queue: ExpiryQueue,
}

impl Lessor {
    /// A lessor with no leases that is not the primary. `min_ttl_secs` is
    /// etcd's `ceil(1.5 × election timeout)` (2 s with the default 1 s
    /// election timeout); values below 1 are taken as 1.
    pub fn new(min_ttl_secs: i64) -> Lessor {
        Lessor {
            min_ttl_secs: min_ttl_secs.max(1),
            expired_retry_interval: DEFAULT_EXPIRED_RETRY_INTERVAL,
            primary: false,
            leases: HashMap::new(),
            queue: ExpiryQueue::default(),
        }
    }

    /// Replaces the retry interval of [`Lessor::expired`] (fixed at 3 s in
    /// etcd 3.4). Zero is taken as one millisecond.
    pub fn with_expired_retry_interval(mut self, interval: Duration) -> Lessor {
        self.expired_retry_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The minimum TTL a grant is raised to.
    pub fn min_ttl_secs(&self) -> i64 {
        self.min_ttl_secs
    }

    /// Whether this lessor manages expiry (between `promote` and `demote`).
    pub fn is_primary(&self) -> bool {
        self.primary
    }

    /// Replaces every lease with those of the backend's `lease` table (at
    /// start-up, or after installing a snapshot), without keys: the caller
    /// re-attaches them with [`Lessor::attach`] while it rebuilds the mvcc
    /// index. As etcd's `initAndRecover`: TTLs below the minimum are raised;
    /// a lessor that is not the primary gives leases no expiry (the usual
    /// case at start-up — [`Lessor::promote`] gives every lease its full TTL,
    /// or its checkpointed remaining TTL, from then on), and a primary
    /// refreshes them from `now` at once.
    pub fn restore(&mut self, read: &ReadTxn, now: Duration) -> Result<()> {
        let mut records = Vec::new();
        let mut corrupt = None;
        read.scan_leases(|id, value| match LeaseRecord::decode(value) {
            Some(r) if r.id == id => {
                records.push(r);
                true
            }
            _ => {
                corrupt = Some(id);
                false
            }
        })?;
        if let Some(id) = corrupt {
            return Err(Error::Corrupt { id });
        }
        self.leases.clear();
        self.queue.clear();
        for r in records {
            self.leases.insert(r.id, Lease::new(r.ttl_secs.max(self.min_ttl_secs), r.remaining_ttl_secs));
        }
        if self.primary {
            self.promote(now, Duration::ZERO);
        }
        Ok(())
    }

    /// Applies a `LeaseGrant` entry: creates lease `id` and stores
    /// `(id, ttl)` in `txn`, the applier's transaction.
    ///
    /// The id is chosen by the caller before proposing, so that every member
    /// applies the same one (etcd's gRPC handler draws a positive id from its
    /// request id generator, `next() & i64::MAX`, until it is non-zero); id 0
    /// fails with `NotFound` as in etcd's lessor. Checks, in etcd's order:
    /// id 0, TTL above [`MAX_LEASE_TTL_SECS`], id in use. A TTL below the
    /// minimum (negative included) is raised to it. On the primary the lease
    /// expires at `now + ttl`; elsewhere it has no expiry until promoted.
    pub fn grant(&mut self, txn: &mut WriteTxn, id: i64, ttl_secs: i64, now: Duration) -> Result<LeaseInfo> {
        if id == 0 {
            return Err(Error::NotFound { id });
        }
        if ttl_secs > MAX_LEASE_TTL_SECS {
            return Err(Error::TtlTooLarge { ttl_secs });
        }
        if self.leases.contains_key(&id) {
            return Err(Error::AlreadyExists { id });
        }
        let ttl_secs = ttl_secs.max(self.min_ttl_secs);
        txn.put_lease(id, &LeaseRecord { id, ttl_secs, remaining_ttl_secs: 0 }.encode())?;
        let mut lease = Lease::new(ttl_secs, 0);
        if self.primary {
            self.queue.schedule(id, lease.refresh(now, Duration::ZERO));
        }
        let info = info(id, &lease, now, false);
        self.leases.insert(id, lease);
        Ok(info)
    }

    /// Applies a `LeaseRevoke` entry (from a client or from expiry): removes
    /// the lease from memory and from `txn`, and returns its keys in byte
    /// order (etcd sorts them so that every member deletes in the same order).
    /// The caller deletes them in the same mvcc transaction: one revision.
    pub fn revoke(&mut self, txn: &mut WriteTxn, id: i64) -> Result<Vec<Vec<u8>>> {
        if !self.leases.contains_key(&id) {
            return Err(Error::NotFound { id });
        }
        txn.delete_lease(id)?;
        self.queue.remove(id);
        let lease = self.leases.remove(&id);
        Ok(lease.map(|l| l.keys.into_iter().collect()).unwrap_or_default())
    }

    /// Attaches `key` to lease `id` (a put with a lease, or restoring the
    /// index). A key moved from another lease must be detached from it first.
    pub fn attach(&mut self, id: i64, key: &[u8]) -> Result<()> {
        let lease = self.leases.get_mut(&id).ok_or(Error::NotFound { id })?;
        lease.keys.insert(key.to_vec());
        Ok(())
    }

    /// Detaches `key` from lease `id` (the key was overwritten with another
    /// lease or none, or deleted). Unknown ids and keys are ignored: etcd only
    /// logs a failed detach.
    pub fn detach(&mut self, id: i64, key: &[u8]) {
        if let Some(lease) = self.leases.get_mut(&id) {
            lease.keys.remove(key);
        }
    }

    /// Whether lease `id` exists (granted and not revoked, expired or not).
    pub fn contains(&self, id: i64) -> bool {
        self.leases.contains_key(&id)
    }

    /// A keep-alive, on the primary only and not through Raft: the lease
    /// expires `ttl` after `now`; answers the TTL. Errors: `NotPrimary`
    /// (etcd forwards to the leader), `NotFound`, and `Expired` for a lease
    /// past its expiry that is not revoked yet (see [`Error::Expired`]).
    /// A checkpointed remaining TTL is dropped: renewal restores the full TTL.
    pub fn renew(&mut self, id: i64, now: Duration) -> Result<i64> {
        if !self.primary {
            return Err(Error::NotPrimary);
        }
        let lease = self.leases.get_mut(&id).ok_or(Error::NotFound { id })?;
        if lease.is_expired(now) {
            return Err(Error::Expired { id });
        }
        lease.remaining_ttl_secs = 0;
        self.queue.schedule(id, lease.refresh(now, Duration::ZERO));
        Ok(lease.ttl_secs)
    }

    /// Leases whose expiry is at or before `now`, earliest first, at most
    /// `limit`; empty unless primary. The server proposes a revoke for each.
    /// A lease returned is not returned again until the retry interval
    /// ([`DEFAULT_EXPIRED_RETRY_INTERVAL`]) has passed, and then again if it
    /// is still not revoked (its revoke may have been lost), as etcd retries.
    pub fn expired(&mut self, now: Duration, limit: usize) -> Vec<i64> {
        let mut found = Vec::new();
        if !self.primary {
            return found;
        }
        let retry_at = now.saturating_add(self.expired_retry_interval);
        // Each lease is visited at most once: it is rescheduled after `now`.
        for _ in 0..self.leases.len() {
            if found.len() >= limit {
                break;
            }
            let Some(id) = self.queue.pop_due(now) else { break };
            let Some(lease) = self.leases.get(&id) else { continue };
            match lease.expiry {
                Some(e) if e <= now => {
                    self.queue.schedule(id, retry_at);
                    found.push(id);
                }
                Some(e) => self.queue.schedule(id, e),
                None => {}
            }
        }
        found
    }

    /// What `LeaseTimeToLive` answers; `None` for an unknown id (etcd then
    /// answers TTL -1). `keys` is filled only if `with_keys`.
    pub fn time_to_live(&self, id: i64, now: Duration, with_keys: bool) -> Option<LeaseInfo> {
        self.leases.get(&id).map(|lease| info(id, lease, now, with_keys))
    }

    /// Number of leases.
    pub fn len(&self) -> usize {
        self.leases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// Every lease id, soonest expiry first (etcd's `Leases()` order), ties
    /// by id.
    pub fn leases(&self) -> Vec<i64> {
        let mut ids: Vec<(Duration, i64)> =
            self.leases.iter().map(|(&id, l)| (l.expiry.unwrap_or(Duration::MAX), id)).collect();
        ids.sort_unstable();
        ids.into_iter().map(|(_, id)| id).collect()
    }

    /// Makes this lessor the primary (on becoming leader): every lease
    /// expires at `now + extend + ttl` (its checkpointed remaining TTL if
    /// any). etcd passes the election timeout as `extend`, so that leases do
    /// not expire for the time clients need to find the new leader. As in
    /// etcd, with [`REVOKE_RATE_PER_SEC`] leases or more, expiries that fall
    /// in the same second beyond three quarters of the revoke rate are
    /// pushed later, so a restart does not expire thousands at once.
    pub fn promote(&mut self, now: Duration, extend: Duration) {
        self.primary = true;
        for (&id, lease) in &mut self.leases {
            self.queue.schedule(id, lease.refresh(now, extend));
        }
        if self.leases.len() >= REVOKE_RATE_PER_SEC {
            self.spread_pile_up(now, extend);
        }
    }

    /// Stops managing expiry (on losing leadership): no lease expires and
    /// [`Lessor::expired`] and [`Lessor::renew`] answer nothing until the
    /// next promote.
    pub fn demote(&mut self) {
        self.primary = false;
        for lease in self.leases.values_mut() {
            lease.expiry = None;
        }
        self.queue.clear();
    }

    /// etcd's pile-up avoidance in `Promote`: walk leases in expiry order in
    /// windows of one second; past `3/4 × REVOKE_RATE_PER_SEC` leases in a
    /// window, delay each further lease so expiries continue at that rate.
    fn spread_pile_up(&mut self, now: Duration, extend: Duration) {
        let target = (REVOKE_RATE_PER_SEC * 3 / 4) as i128;
        let mut order: Vec<(i128, i64)> = self.leases.iter().map(|(&id, l)| (l.remaining_nanos(now), id)).collect();
        order.sort_unstable();
        let Some(&(first, _)) = order.first() else { return };
        let (mut base, mut next, mut in_window) = (first, first + NANOS_PER_SEC, 0i128);
        for (remaining, id) in order {
            if remaining > next {
                (base, next, in_window) = (remaining, remaining + NANOS_PER_SEC, 1);
                continue;
            }
            in_window += 1;
            if in_window <= target {
                continue;
            }
            // A lease already `remaining - base` into the window needs less.
            let delay = (NANOS_PER_SEC * in_window / target - (remaining - base)).max(0);
            next = base + delay;
            let delay = Duration::from_nanos(u64::try_from(delay).unwrap_or(u64::MAX));
            if let Some(lease) = self.leases.get_mut(&id) {
                self.queue.schedule(id, lease.refresh(now, extend.saturating_add(delay)));
            }
        }
    }
}

fn info(id: i64, lease: &Lease, now: Duration, with_keys: bool) -> LeaseInfo {
    let remaining = lease.remaining_nanos(now) / NANOS_PER_SEC;
    LeaseInfo {
        id,
        ttl_secs: lease.ttl_secs,
        remaining_secs: i64::try_from(remaining).unwrap_or(if remaining < 0 { i64::MIN } else { i64::MAX }),
        keys: if with_keys { lease.keys.iter().cloned().collect() } else { Vec::new() },
    }
}

#[cfg(test)]
mod tests;
