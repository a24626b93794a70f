//! The space quota: what a request costs, how full the member is, and when
//! the NOSPACE alarm blocks a request.
//!
//! etcd counts the backend file size, which only a defragmentation shrinks,
//! and never clears the alarm by itself. By default Strata counts the bytes
//! the history holds (so a compaction makes room), clears the alarm once
//! usage is back under a low-water mark, and keeps a small reserve for
//! conditional maintenance writes such as kube-apiserver's `compact_rev_key`
//! txn. Each difference has a flag restoring etcd's behaviour
//! (`docs/compatibility.md`).

use api::etcdserverpb::alarm_request::AlarmAction;
use api::etcdserverpb::{AlarmType, InternalRaftRequest, RequestOp, TxnRequest, request_op};

use crate::error::{EtcdError, EtcdResult};

/// etcd's default quota (and suggested maximum before 3.4's 8 GiB advice).
pub const DEFAULT_QUOTA_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Fixed cost etcd adds to every put (its `kvOverhead`).
const PUT_OVERHEAD: u64 = 256;
/// etcd's cost of a lease grant (`leaseOverhead`).
const LEASE_GRANT_COST: u64 = 64;

/// Usage below this share of the quota clears NOSPACE (Strata mode).
pub const LOW_WATER_PERCENT: u64 = 80;

/// Largest put payload of a conditional txn that the reserve lets through.
const RESERVE_MAX_TXN_BYTES: u64 = 4096;

/// What the quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// The bytes of the pages holding live data (Strata's default), so a
    /// compaction makes room; the file may grow to four times the quota
    /// before it counts.
    InUse,
    /// The backend file size, as etcd does.
    DbSize,
}

/// The quota settings of this member.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    /// Bytes; `None` when the quota is disabled (a negative flag value).
    pub limit: Option<u64>,
    /// What Status reports as `dbSizeQuota` (etcd 3.6): the flag's value,
    /// the default for 0, and a negative value as given.
    pub reported: i64,
    pub counting: Counting,
    pub auto_disarm: bool,
    /// Bytes above the limit that conditional maintenance txns may use while
    /// NOSPACE is active; 0 is etcd's behaviour.
    pub reserve: u64,
}

impl Quota {
    /// From `--quota-backend-bytes` (0: the default, negative: disabled).
    pub fn from_flag(bytes: i64, counting: Counting, auto_disarm: bool, reserve: u64) -> Quota {
        let limit = match bytes {
            0 => Some(DEFAULT_QUOTA_BYTES),
            b if b < 0 => None,
            b => Some(b as u64),
        };
        let reported = if bytes == 0 { DEFAULT_QUOTA_BYTES as i64 } else { bytes };
        Quota { limit, reported, counting, auto_disarm, reserve }
    }

    /// Whether a member at `usage` (see [`Usage`]) may take a request of
    /// `cost` without raising NOSPACE.
    pub fn fits(&self, usage: Usage, cost: u64) -> bool {
        let Some(limit) = self.limit else { return true };
        match self.counting {
            Counting::DbSize => usage.db_size + cost < limit,
            Counting::InUse => usage.in_use + cost < limit && usage.db_size < file_cap(limit),
        }
    }

    /// Whether NOSPACE may clear itself at `usage`.
    pub fn below_low_water(&self, usage: Usage) -> bool {
        let Some(limit) = self.limit else { return true };
        let low = limit / 100 * LOW_WATER_PERCENT;
        match self.counting {
            Counting::DbSize => usage.db_size < low,
            Counting::InUse => usage.in_use < low && usage.db_size < file_cap(limit),
        }
    }

    /// Whether the reserve admits `req` now, although NOSPACE is active.
    pub fn reserve_admits(&self, usage: Usage, req: &InternalRaftRequest) -> bool {
        let Some(limit) = self.limit else { return true };
        let used = match self.counting {
            Counting::InUse => usage.in_use,
            Counting::DbSize => usage.db_size,
        };
        self.reserve > 0 && is_maintenance_write(req) && used + cost(req) < limit + self.reserve
    }
}

/// In `InUse` counting, the file size that raises NOSPACE whatever the bytes
/// in use: room for the quota's worth of live data plus the free pages and
/// growth reserve redb keeps (it grows its file in doubling regions), with a
/// margin; the guard against a file that fragments without bound.
fn file_cap(limit: u64) -> u64 {
    limit.saturating_mul(4)
}

/// How full the member is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// The backend file size (etcd's `dbSize`).
    pub db_size: u64,
    /// The bytes in use (etcd's `dbSizeInUse`; an estimate here).
    pub in_use: u64,
}

/// etcd's cost of a request. Unlike etcd, puts inside nested txns count too,
/// so that they cannot slip past the quota.
pub fn cost(req: &InternalRaftRequest) -> u64 {
    if let Some(p) = &req.put {
        return PUT_OVERHEAD + (p.key.len() + p.value.len()) as u64;
    }
    if let Some(t) = &req.txn {
        return txn_cost(t);
    }
    if req.lease_grant.is_some() {
        return LEASE_GRANT_COST;
    }
    0
}

fn txn_cost(t: &TxnRequest) -> u64 {
    let branch = |ops: &[RequestOp]| -> u64 {
        ops.iter()
            .map(|op| match &op.request {
                Some(request_op::Request::RequestPut(p)) => PUT_OVERHEAD + (p.key.len() + p.value.len()) as u64,
                Some(request_op::Request::RequestTxn(t)) => txn_cost(t),
                _ => 0,
            })
            .sum()
    };
    branch(&t.success).max(branch(&t.failure))
}

/// A conditional txn whose puts are small: a compactor's or an election's
/// bookkeeping, which the reserve keeps working while NOSPACE is active.
/// Decided from the request alone, so every member decides the same.
pub fn is_maintenance_write(req: &InternalRaftRequest) -> bool {
    match &req.txn {
        Some(t) => !t.compare.is_empty() && txn_cost(t) <= RESERVE_MAX_TXN_BYTES + PUT_OVERHEAD,
        None => false,
    }
}

impl crate::member::Member {
    /// etcd's quota check before a proposal: a request that adds data is
    /// refused while NOSPACE is active (unless the reserve admits it), and
    /// one that would pass the quota raises NOSPACE and is refused.
    pub(crate) async fn check_quota(&self, irr: &InternalRaftRequest) -> EtcdResult<()> {
        let cost = cost(irr);
        if cost == 0 {
            return Ok(());
        }
        let usage = self.usage();
        if self.alarms.is_active(AlarmType::Nospace) {
            return if self.quota.reserve_admits(usage, irr) { Ok(()) } else { Err(EtcdError::NoSpace) };
        }
        if self.quota.fits(usage, cost) {
            return Ok(());
        }
        tracing::warn!(
            quota_size_bytes = self.quota.limit.unwrap_or(0),
            db_size_bytes = usage.db_size,
            db_size_in_use_bytes = usage.in_use,
            "request exceeded backend quota; raising alarm"
        );
        let _ = self.set_alarm(AlarmAction::Activate, AlarmType::Nospace).await;
        Err(EtcdError::NoSpace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::etcdserverpb::{Compare, LeaseGrantRequest, PutRequest};

    fn put(key: &str, value: usize) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: key.into(),
                value: vec![0; value],
                ..Default::default()
            })),
        }
    }

    #[test]
    fn costs_follow_etcd_and_count_nested_puts() {
        let p = InternalRaftRequest {
            put: Some(PutRequest { key: b"k".to_vec(), value: vec![0; 10], ..Default::default() }),
            ..Default::default()
        };
        assert_eq!(cost(&p), 256 + 11);
        let nested = TxnRequest { success: vec![put("a", 100)], ..Default::default() };
        let t = TxnRequest {
            success: vec![put("b", 10), RequestOp { request: Some(request_op::Request::RequestTxn(nested)) }],
            failure: vec![put("c", 1000)],
            ..Default::default()
        };
        let t = InternalRaftRequest { txn: Some(t), ..Default::default() };
        assert_eq!(cost(&t), 256 + 1001, "the larger branch");
        let g = InternalRaftRequest { lease_grant: Some(LeaseGrantRequest::default()), ..Default::default() };
        assert_eq!(cost(&g), 64);
    }

    #[test]
    fn in_use_counting_lets_compaction_make_room() {
        let q = Quota::from_flag(1000, Counting::InUse, true, 0);
        let full = Usage { db_size: 1500, in_use: 990 };
        assert!(!q.fits(full, 20));
        let compacted = Usage { db_size: 1500, in_use: 100 };
        assert!(q.fits(compacted, 20));
        assert!(q.below_low_water(compacted));
        assert!(!q.fits(Usage { db_size: 4000, in_use: 0 }, 1), "the file is capped at four times the quota");
        let etcd = Quota::from_flag(1000, Counting::DbSize, false, 0);
        assert!(!etcd.fits(compacted, 20));
        assert!(Quota::from_flag(-1, Counting::DbSize, false, 0).fits(Usage { db_size: u64::MAX / 2, in_use: 0 }, 1));
        assert_eq!(Quota::from_flag(0, Counting::InUse, true, 0).limit, Some(DEFAULT_QUOTA_BYTES));
    }

    #[test]
    fn the_reserve_admits_small_conditional_txns_only() {
        let q = Quota::from_flag(1000, Counting::InUse, true, 500);
        let full = Usage { db_size: 1200, in_use: 1000 };
        let txn = |compare: bool, value: usize| InternalRaftRequest {
            txn: Some(TxnRequest {
                compare: if compare { vec![Compare::default()] } else { vec![] },
                success: vec![put("compact_rev_key", value)],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(q.reserve_admits(full, &txn(true, 4)));
        assert!(!q.reserve_admits(full, &txn(false, 4)), "unconditional");
        assert!(!q.reserve_admits(full, &txn(true, 5000)), "too large");
        assert!(!q.reserve_admits(Usage { db_size: 1600, in_use: 1600 }, &txn(true, 4)), "reserve used up");
        assert!(!Quota::from_flag(1000, Counting::InUse, true, 0).reserve_admits(full, &txn(true, 4)));
    }
}
