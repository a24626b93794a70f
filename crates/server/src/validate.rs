//! Request checks made before a request is proposed (etcd's
//! `api/v3rpc/key.go`): empty keys, ignore flags, txn size and duplicate keys.

use api::etcdserverpb::request_op::Request;
use api::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest};

use crate::error::{EtcdError, EtcdResult};

pub fn range(r: &RangeRequest) -> EtcdResult<()> {
    if r.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    Ok(())
}

pub fn put(p: &PutRequest) -> EtcdResult<()> {
    if p.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    if p.ignore_value && !p.value.is_empty() {
        return Err(EtcdError::ValueProvided);
    }
    if p.ignore_lease && p.lease != 0 {
        return Err(EtcdError::LeaseProvided);
    }
    Ok(())
}

pub fn delete_range(d: &DeleteRangeRequest) -> EtcdResult<()> {
    if d.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    Ok(())
}

pub fn txn(t: &TxnRequest, max_txn_ops: usize) -> EtcdResult<()> {
    if t.compare.len() > max_txn_ops || t.success.len() > max_txn_ops || t.failure.len() > max_txn_ops {
        return Err(EtcdError::TooManyOps);
    }
    if t.compare.iter().any(|c| c.key.is_empty()) {
        return Err(EtcdError::EmptyKey);
    }
    for op in t.success.iter().chain(&t.failure) {
        match &op.request {
            Some(Request::RequestRange(r)) => range(r)?,
            Some(Request::RequestPut(p)) => put(p)?,
            Some(Request::RequestDeleteRange(d)) => delete_range(d)?,
            Some(Request::RequestTxn(inner)) => txn(inner, max_txn_ops)?,
            None => {}
        }
    }
    intervals(&t.success)?;
    intervals(&t.failure)?;
    Ok(())
}

/// A deleted key or range; `end == None` with `point` means a single key.
struct Deleted {
    key: Vec<u8>,
    end: Option<Vec<u8>>,
    point: bool,
}

impl Deleted {
    fn covers(&self, k: &[u8]) -> bool {
        if self.point {
            return k == self.key;
        }
        k >= self.key.as_slice() && self.end.as_ref().is_none_or(|e| k < e.as_slice())
    }
}

/// etcd's `checkIntervals`: within one branch (nested txns included) a key
/// may be put once and may not be both put and deleted. The two branches of a
/// nested txn exclude each other, so they may put the same key.
fn intervals(ops: &[RequestOp]) -> EtcdResult<(Vec<Vec<u8>>, Vec<Deleted>)> {
    let mut dels: Vec<Deleted> = ops
        .iter()
        .filter_map(|op| match &op.request {
            Some(Request::RequestDeleteRange(d)) => Some(match d.range_end.as_slice() {
                [] => Deleted { key: d.key.clone(), end: None, point: true },
                [0] => Deleted { key: d.key.clone(), end: None, point: false },
                end => Deleted { key: d.key.clone(), end: Some(end.to_vec()), point: false },
            }),
            _ => None,
        })
        .collect();
    let mut puts: Vec<Vec<u8>> = Vec::new();
    for op in ops {
        let Some(Request::RequestTxn(inner)) = &op.request else { continue };
        let (puts_then, dels_then) = intervals(&inner.success)?;
        let (puts_else, dels_else) = intervals(&inner.failure)?;
        for k in &puts_then {
            if puts.contains(k) || dels.iter().any(|d| d.covers(k)) {
                return Err(EtcdError::DuplicateKey);
            }
            puts.push(k.clone());
        }
        for k in &puts_else {
            if (puts.contains(k) && !puts_then.contains(k)) || dels.iter().any(|d| d.covers(k)) {
                return Err(EtcdError::DuplicateKey);
            }
            puts.push(k.clone());
        }
        dels.extend(dels_then);
        dels.extend(dels_else);
    }
    for op in ops {
        let Some(Request::RequestPut(p)) = &op.request else { continue };
        if puts.contains(&p.key) || dels.iter().any(|d| d.covers(&p.key)) {
            return Err(EtcdError::DuplicateKey);
        }
        puts.push(p.key.clone());
    }
    Ok((puts, dels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_op(k: &str) -> RequestOp {
        RequestOp { request: Some(Request::RequestPut(PutRequest { key: k.into(), ..Default::default() })) }
    }
    fn del_op(k: &str, end: &str) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestDeleteRange(DeleteRangeRequest {
                key: k.into(),
                range_end: end.into(),
                ..Default::default()
            })),
        }
    }
    fn txn_of(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> TxnRequest {
        TxnRequest { compare: vec![], success, failure }
    }

    #[test]
    fn duplicate_keys_follow_etcd() {
        let dup = |t: TxnRequest| txn(&t, 128) == Err(EtcdError::DuplicateKey);
        assert!(dup(txn_of(vec![put_op("a"), put_op("a")], vec![])));
        assert!(dup(txn_of(vec![put_op("a"), del_op("a", "")], vec![])));
        assert!(dup(txn_of(vec![del_op("a", "c"), put_op("b")], vec![])));
        assert!(!dup(txn_of(vec![put_op("a")], vec![put_op("a")])));
        assert!(!dup(txn_of(vec![del_op("a", ""), del_op("a", "")], vec![])));
        let nested = RequestOp { request: Some(Request::RequestTxn(txn_of(vec![put_op("x")], vec![put_op("x")]))) };
        assert!(!dup(txn_of(vec![nested.clone()], vec![])));
        assert!(dup(txn_of(vec![nested, put_op("x")], vec![])));
    }

    #[test]
    fn too_many_ops() {
        let t = txn_of((0..129).map(|i| put_op(&i.to_string())).collect(), vec![]);
        assert_eq!(txn(&t, 128), Err(EtcdError::TooManyOps));
    }
}
