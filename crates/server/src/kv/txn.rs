//! Txn: compares, the branch taken, and the operations of that branch
//! (etcd's `applierV3backend.Txn`, `applyCompare`, `compareToPath`).

use api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use api::etcdserverpb::request_op::Request;
use api::etcdserverpb::response_op::Response;
use api::etcdserverpb::{Compare, RequestOp, ResponseHeader, ResponseOp, TxnRequest, TxnResponse};
use mvcc::{KeyRange, RangeOptions};

use super::ops as kv;
use super::view::View;
use crate::error::{EtcdError, EtcdResult};

/// True if no branch of `t` (or of a nested txn) writes.
pub fn is_read_only(t: &TxnRequest) -> bool {
    t.success.iter().chain(&t.failure).all(|op| match &op.request {
        Some(Request::RequestRange(_)) | None => true,
        Some(Request::RequestTxn(inner)) => is_read_only(inner),
        Some(Request::RequestPut(_) | Request::RequestDeleteRange(_)) => false,
    })
}

/// True if every range in `t` is serializable.
pub fn is_serializable(t: &TxnRequest) -> bool {
    t.success.iter().chain(&t.failure).all(|op| match &op.request {
        Some(Request::RequestRange(r)) => r.serializable,
        Some(Request::RequestTxn(inner)) => is_serializable(inner),
        _ => true,
    })
}

/// Runs a txn: evaluates every compare on the state before it, checks the
/// operations of the chosen branches, then executes them.
pub fn txn(view: &mut View<'_, '_>, t: &TxnRequest, lease_exists: &dyn Fn(i64) -> bool) -> EtcdResult<TxnResponse> {
    let mut path = Vec::new();
    compare_to_path(view, t, &mut path)?;
    // Nothing may fail after the first write: the index and the backend
    // transaction cannot be rolled back halfway.
    let begin_rev = view.rev();
    check_ops(view, t, &path, &mut 0, begin_rev, lease_exists)?;
    let mut at = 0;
    let mut resp = exec(view, t, &path, &mut at)?;
    resp.header = Some(ResponseHeader { revision: view.rev(), ..ResponseHeader::default() });
    Ok(resp)
}

fn branch(t: &TxnRequest, succeeded: bool) -> &[RequestOp] {
    if succeeded { &t.success } else { &t.failure }
}

fn compare_to_path(view: &View<'_, '_>, t: &TxnRequest, path: &mut Vec<bool>) -> EtcdResult<()> {
    let mut ok = true;
    for c in &t.compare {
        if !compare(view, c)? {
            ok = false;
            break;
        }
    }
    path.push(ok);
    for op in branch(t, ok) {
        if let Some(Request::RequestTxn(inner)) = &op.request {
            compare_to_path(view, inner, path)?;
        }
    }
    Ok(())
}

fn compare(view: &View<'_, '_>, c: &Compare) -> EtcdResult<bool> {
    let rr = match view.range(KeyRange::from_request(&c.key, &c.range_end), RangeOptions::default()) {
        Ok(rr) => rr,
        Err(_) => return Ok(false),
    };
    let target = CompareTarget::try_from(c.target).unwrap_or(CompareTarget::Version);
    if rr.kvs.is_empty() {
        // A missing key has no value to compare, not even an empty one.
        return Ok(target != CompareTarget::Value && compare_kv(c, target, &mvcc::KeyValue::default()));
    }
    Ok(rr.kvs.iter().all(|kv| compare_kv(c, target, kv)))
}

fn compare_kv(c: &Compare, target: CompareTarget, kv: &mvcc::KeyValue) -> bool {
    let int = |f: fn(&TargetUnion) -> Option<i64>| c.target_union.as_ref().and_then(f).unwrap_or(0);
    let ord = match target {
        CompareTarget::Value => {
            let v = match &c.target_union {
                Some(TargetUnion::Value(v)) => v.as_slice(),
                _ => &[],
            };
            kv.value.as_slice().cmp(v)
        }
        CompareTarget::Create => kv.create_revision.cmp(&int(|u| match u {
            TargetUnion::CreateRevision(v) => Some(*v),
            _ => None,
        })),
        CompareTarget::Mod => kv.mod_revision.cmp(&int(|u| match u {
            TargetUnion::ModRevision(v) => Some(*v),
            _ => None,
        })),
        CompareTarget::Version => kv.version.cmp(&int(|u| match u {
            TargetUnion::Version(v) => Some(*v),
            _ => None,
        })),
        CompareTarget::Lease => kv.lease.cmp(&int(|u| match u {
            TargetUnion::Lease(v) => Some(*v),
            _ => None,
        })),
    };
    match CompareResult::try_from(c.result) {
        Ok(CompareResult::Equal) => ord.is_eq(),
        Ok(CompareResult::NotEqual) => ord.is_ne(),
        Ok(CompareResult::Greater) => ord.is_gt(),
        Ok(CompareResult::Less) => ord.is_lt(),
        Err(_) => true,
    }
}

/// etcd's `checkRequests` with `checkPut` and `checkRange`, on the branches
/// the compares chose.
fn check_ops(
    view: &View<'_, '_>,
    t: &TxnRequest,
    path: &[bool],
    at: &mut usize,
    rev: i64,
    lease_exists: &dyn Fn(i64) -> bool,
) -> EtcdResult<()> {
    let ok = path[*at];
    *at += 1;
    for op in branch(t, ok) {
        match &op.request {
            Some(Request::RequestPut(p)) => kv::check_put(view, p, lease_exists)?,
            Some(Request::RequestRange(r)) if r.revision > rev => return Err(EtcdError::FutureRev),
            Some(Request::RequestRange(r)) if r.revision > 0 && r.revision < view.compact_rev() => {
                return Err(EtcdError::Compacted);
            }
            Some(Request::RequestTxn(inner)) => check_ops(view, inner, path, at, rev, lease_exists)?,
            _ => {}
        }
    }
    Ok(())
}

fn exec(view: &mut View<'_, '_>, t: &TxnRequest, path: &[bool], at: &mut usize) -> EtcdResult<TxnResponse> {
    let succeeded = path[*at];
    *at += 1;
    let mut responses = Vec::new();
    for op in branch(t, succeeded) {
        let response = match &op.request {
            Some(Request::RequestRange(r)) => Response::ResponseRange(kv::range(view, r)?),
            Some(Request::RequestPut(p)) => Response::ResponsePut(kv::put(view, p)?),
            Some(Request::RequestDeleteRange(d)) => Response::ResponseDeleteRange(kv::delete_range(view, d)?),
            Some(Request::RequestTxn(inner)) => {
                let mut r = exec(view, inner, path, at)?;
                // etcd leaves a nested txn's header empty.
                r.header = Some(ResponseHeader::default());
                Response::ResponseTxn(r)
            }
            None => continue,
        };
        responses.push(ResponseOp { response: Some(response) });
    }
    Ok(TxnResponse { header: None, succeeded, responses })
}
