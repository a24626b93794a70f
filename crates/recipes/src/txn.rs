//! The recipes' txns (clientv3's `Mutex.tryAcquire`, `Election.Campaign`,
//! `Proclaim` and `Resign`) and how their answers are read.

use crate::{create_revision_is, delete_op, first_created, get, put_op, range_op};
use api::etcdserverpb::response_op::Response;
use api::etcdserverpb::{TxnRequest, TxnResponse};
use api::mvccpb::KeyValue;

/// Queues `key` (empty, attached to `lease`) under `prefix` unless it exists,
/// and reads the holder in the same revision. On success the responses are
/// the put and the holder; on failure (this lease queues already, its key is
/// reused) the key and the holder. Read with [`own_create_revision`] and
/// [`holds_lock`].
pub fn lock_txn(prefix: &[u8], key: &[u8], lease: i64) -> TxnRequest {
    let holder = range_op(first_created(prefix));
    TxnRequest {
        compare: vec![create_revision_is(key, 0)],
        success: vec![put_op(key, b"", lease), holder.clone()],
        failure: vec![range_op(get(key)), holder],
    }
}

/// Enters `key` with `value` unless it exists; on failure (this lease
/// campaigns already) reads the key, whose value the campaign then proclaims
/// if it differs.
pub fn campaign_txn(key: &[u8], value: &[u8], lease: i64) -> TxnRequest {
    TxnRequest {
        compare: vec![create_revision_is(key, 0)],
        success: vec![put_op(key, value, lease)],
        failure: vec![range_op(get(key))],
    }
}

/// Puts the leader's new `value` if `key` is still the one created at `rev`;
/// a failure means this session does not lead any more.
pub fn proclaim_txn(key: &[u8], rev: i64, value: &[u8], lease: i64) -> TxnRequest {
    TxnRequest {
        compare: vec![create_revision_is(key, rev)],
        success: vec![put_op(key, value, lease)],
        failure: vec![],
    }
}

/// Deletes `key` if it is still the one created at `rev`.
pub fn resign_txn(key: &[u8], rev: i64) -> TxnRequest {
    TxnRequest { compare: vec![create_revision_is(key, rev)], success: vec![delete_op(key)], failure: vec![] }
}

/// The key-values of the `i`-th response of a txn, if it is a range.
pub fn range_kvs(resp: &TxnResponse, i: usize) -> &[KeyValue] {
    match resp.responses.get(i).and_then(|r| r.response.as_ref()) {
        Some(Response::ResponseRange(r)) => &r.kvs,
        _ => &[],
    }
}

/// The create revision of the caller's key after [`lock_txn`] or
/// [`campaign_txn`]: the txn's revision if it put the key, else that of the
/// key it read (None if that read found nothing).
pub fn own_create_revision(resp: &TxnResponse) -> Option<i64> {
    if resp.succeeded {
        Some(resp.header.as_ref().map_or(0, |h| h.revision))
    } else {
        range_kvs(resp, 0).first().map(|kv| kv.create_revision)
    }
}

/// Whether, after [`lock_txn`], the key created at `own_rev` holds the lock:
/// it is the oldest under the prefix (or nothing was there to read).
pub fn holds_lock(resp: &TxnResponse, own_rev: i64) -> bool {
    range_kvs(resp, 1).first().is_none_or(|kv| kv.create_revision == own_rev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::etcdserverpb::{RangeResponse, ResponseHeader, ResponseOp};

    fn answer(succeeded: bool, revision: i64, ranges: &[Option<i64>]) -> TxnResponse {
        let responses = ranges
            .iter()
            .map(|created| {
                let kvs = created.map(|create_revision| KeyValue { create_revision, ..KeyValue::default() });
                let range = RangeResponse { kvs: kvs.into_iter().collect(), ..RangeResponse::default() };
                ResponseOp { response: Some(Response::ResponseRange(range)) }
            })
            .collect();
        TxnResponse { header: Some(ResponseHeader { revision, ..ResponseHeader::default() }), succeeded, responses }
    }

    #[test]
    fn lock_txn_queues_and_reads_the_holder_either_way() {
        let t = lock_txn(b"l/", b"l/1a", 0x1a);
        assert_eq!(t.compare, vec![create_revision_is(b"l/1a", 0)]);
        assert_eq!(t.success, vec![put_op(b"l/1a", b"", 0x1a), range_op(first_created(b"l/"))]);
        assert_eq!(t.failure, vec![range_op(get(b"l/1a")), range_op(first_created(b"l/"))]);
    }

    #[test]
    fn election_txns_compare_the_create_revision() {
        let c = campaign_txn(b"e/1a", b"v", 0x1a);
        assert_eq!((c.success, c.failure), (vec![put_op(b"e/1a", b"v", 0x1a)], vec![range_op(get(b"e/1a"))]));
        let p = proclaim_txn(b"e/1a", 5, b"w", 0x1a);
        assert_eq!((p.compare, p.success), (vec![create_revision_is(b"e/1a", 5)], vec![put_op(b"e/1a", b"w", 0x1a)]));
        let r = resign_txn(b"e/1a", 5);
        assert_eq!((r.compare, r.success), (vec![create_revision_is(b"e/1a", 5)], vec![delete_op(b"e/1a")]));
        assert!(p.failure.is_empty() && r.failure.is_empty());
    }

    #[test]
    fn answers_say_whose_key_is_oldest() {
        // Put at 7 while the key created at 5 holds the lock.
        let queued = answer(true, 7, &[None, Some(5)]);
        assert_eq!(own_create_revision(&queued), Some(7));
        assert!(!holds_lock(&queued, 7));
        // The lease queued already, at 5, and is the holder.
        let again = answer(false, 9, &[Some(5), Some(5)]);
        assert_eq!(own_create_revision(&again), Some(5));
        assert!(holds_lock(&again, 5));
        assert_eq!(own_create_revision(&answer(false, 9, &[None])), None);
        assert!(holds_lock(&answer(true, 3, &[None, None]), 3), "an empty queue read");
    }
}
