//! The compare and the operations the recipes' txns are made of.

use api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use api::etcdserverpb::request_op::Request;
use api::etcdserverpb::{Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp};

/// `key`'s create revision is `rev`: 0 when the key does not exist, else
/// whether it is still the key created then (not deleted and put again).
pub fn create_revision_is(key: &[u8], rev: i64) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Create as i32,
        key: key.to_vec(),
        target_union: Some(TargetUnion::CreateRevision(rev)),
        range_end: Vec::new(),
    }
}

/// Puts `key` with `value`, attached to `lease`.
pub fn put_op(key: &[u8], value: &[u8], lease: i64) -> RequestOp {
    let put = PutRequest { key: key.to_vec(), value: value.to_vec(), lease, ..PutRequest::default() };
    RequestOp { request: Some(Request::RequestPut(put)) }
}

/// Runs `range` inside a txn.
pub fn range_op(range: RangeRequest) -> RequestOp {
    RequestOp { request: Some(Request::RequestRange(range)) }
}

/// Reads the one key `key` (clientv3's `Get(key)`).
pub fn get(key: &[u8]) -> RangeRequest {
    RangeRequest { key: key.to_vec(), ..RangeRequest::default() }
}

/// Deletes the one key `key`.
pub fn delete_op(key: &[u8]) -> RequestOp {
    let delete = DeleteRangeRequest { key: key.to_vec(), ..DeleteRangeRequest::default() };
    RequestOp { request: Some(Request::RequestDeleteRange(delete)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_carry_what_they_are_given() {
        let c = create_revision_is(b"k", 0);
        assert_eq!(c.target_union, Some(TargetUnion::CreateRevision(0)));
        assert_eq!((c.result, c.target), (CompareResult::Equal as i32, CompareTarget::Create as i32));
        let Some(Request::RequestPut(p)) = put_op(b"k", b"v", 7).request else { panic!("not a put") };
        assert_eq!((p.key, p.value, p.lease), (b"k".to_vec(), b"v".to_vec(), 7));
        let Some(Request::RequestDeleteRange(d)) = delete_op(b"k").request else { panic!("not a delete") };
        assert_eq!((d.key, d.range_end), (b"k".to_vec(), Vec::new()));
        assert_eq!(range_op(get(b"k")).request, Some(Request::RequestRange(get(b"k"))));
    }
}
