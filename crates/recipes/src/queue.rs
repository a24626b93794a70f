//! The queue of contenders under `name/`: their keys, and the reads that find
//! the holder and the keys created before one's own.

use crate::prefix_end;
use api::etcdserverpb::RangeRequest;
use api::etcdserverpb::range_request::{SortOrder, SortTarget};

/// The prefix every contender for `name` shares: `name/`.
pub fn prefix(name: &[u8]) -> Vec<u8> {
    let mut p = name.to_vec();
    p.push(b'/');
    p
}

/// The key a session's lease owns under `prefix`: `prefix` then the lease id
/// as Go's `%x` prints an int64 (lower-case hex, not padded, a negative id as
/// `-` and its magnitude), as clientv3's `fmt.Sprintf("%s%x", pfx, lease)`.
pub fn lease_key(prefix: &[u8], lease: i64) -> Vec<u8> {
    let hex = if lease < 0 { format!("-{:x}", lease.unsigned_abs()) } else { format!("{lease:x}") };
    let mut key = prefix.to_vec();
    key.extend_from_slice(hex.as_bytes());
    key
}

/// The key under `prefix` created first, the lock holder or the leader
/// (clientv3's `WithFirstCreate`).
pub fn first_created(prefix: &[u8]) -> RangeRequest {
    by_create(prefix, SortOrder::Ascend)
}

/// The key under `prefix` created last (clientv3's `WithLastCreate`).
pub fn last_created(prefix: &[u8]) -> RangeRequest {
    by_create(prefix, SortOrder::Descend)
}

/// The newest key under `prefix` created before revision `rev`, the one a
/// contender created at `rev` waits on next (clientv3's `waitDeletes`:
/// `WithLastCreate` and `WithMaxCreateRev(rev - 1)`). Create revisions only
/// grow, so once this finds nothing it never will again.
pub fn created_before(prefix: &[u8], rev: i64) -> RangeRequest {
    RangeRequest { max_create_revision: rev - 1, ..last_created(prefix) }
}

fn by_create(prefix: &[u8], order: SortOrder) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: order as i32,
        sort_target: SortTarget::Create as i32,
        ..RangeRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_keys_are_go_hex() {
        assert_eq!(lease_key(&prefix(b"mylock"), 0x694d7a9e8c8f2c1a), b"mylock/694d7a9e8c8f2c1a");
        assert_eq!(lease_key(b"e/", 0xabc), b"e/abc", "not zero padded");
        assert_eq!(lease_key(b"e/", 10), b"e/a");
        assert_eq!(lease_key(&prefix(b""), -26), b"/-1a");
        assert_eq!(lease_key(b"e/", -2), b"e/-2");
        assert_eq!(lease_key(b"x/", i64::MIN), b"x/-8000000000000000");
    }

    #[test]
    fn queue_reads_sort_by_create_revision() {
        let first = first_created(b"l/");
        assert_eq!((first.key.as_slice(), first.range_end.as_slice(), first.limit), (&b"l/"[..], &b"l0"[..], 1));
        assert_eq!(first.sort_target, SortTarget::Create as i32);
        assert_eq!(first.sort_order, SortOrder::Ascend as i32);
        assert_eq!(first.max_create_revision, 0);
        assert_eq!(last_created(b"l/").sort_order, SortOrder::Descend as i32);
        let older = created_before(b"l/", 12);
        assert_eq!(older, RangeRequest { max_create_revision: 11, ..last_created(b"l/") });
    }
}
