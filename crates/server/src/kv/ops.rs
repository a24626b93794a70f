//! Range, Put and DeleteRange with etcd 3.4's semantics (etcd's
//! `applierV3backend.Range/Put/DeleteRange`).

use std::cmp::Ordering;

use api::etcdserverpb::range_request::{SortOrder, SortTarget};
use api::etcdserverpb::{
    DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, ResponseHeader,
};
use mvcc::{KeyRange, RangeOptions};

use super::view::{View, to_pb};
use crate::error::{EtcdError, EtcdResult};

fn rev_header(revision: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader { revision, ..ResponseHeader::default() })
}

/// Range: reads, then filters, sorts and limits as etcd's applier does.
pub fn range(view: &View<'_, '_>, r: &RangeRequest) -> EtcdResult<RangeResponse> {
    let sort_order = SortOrder::try_from(r.sort_order).unwrap_or(SortOrder::None);
    let sort_target = SortTarget::try_from(r.sort_target).unwrap_or(SortTarget::Key);
    let filtered =
        r.min_mod_revision != 0 || r.max_mod_revision != 0 || r.min_create_revision != 0 || r.max_create_revision != 0;
    // Sorting and filtering need the whole range; otherwise read one extra key
    // to learn whether there are more.
    let limit = if r.sort_order != SortOrder::None as i32 || filtered {
        0
    } else if r.limit > 0 {
        r.limit + 1
    } else {
        0
    };
    let opts = RangeOptions { limit, rev: r.revision, count_only: r.count_only };
    let rr = view.range(KeyRange::from_request(&r.key, &r.range_end), opts)?;
    let mut kvs = rr.kvs;
    kvs.retain(|kv| {
        (r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision)
            && (r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision)
            && (r.max_create_revision == 0 || kv.create_revision <= r.max_create_revision)
            && (r.min_create_revision == 0 || kv.create_revision >= r.min_create_revision)
    });
    // The store returns keys in ascending order; any other target sorts
    // ascending when no order is given.
    let order = match (sort_order, sort_target) {
        (SortOrder::None, SortTarget::Key) => SortOrder::None,
        (SortOrder::None, _) => SortOrder::Ascend,
        (o, _) => o,
    };
    if order != SortOrder::None {
        let cmp = |a: &mvcc::KeyValue, b: &mvcc::KeyValue| -> Ordering {
            match sort_target {
                SortTarget::Key => a.key.cmp(&b.key),
                SortTarget::Version => a.version.cmp(&b.version),
                SortTarget::Create => a.create_revision.cmp(&b.create_revision),
                SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
                SortTarget::Value => a.value.cmp(&b.value),
            }
        };
        if order == SortOrder::Descend {
            kvs.sort_by(|a, b| cmp(b, a));
        } else {
            kvs.sort_by(cmp);
        }
    }
    let mut more = false;
    if r.limit > 0 && kvs.len() > r.limit as usize {
        kvs.truncate(r.limit as usize);
        more = true;
    }
    let kvs = kvs
        .into_iter()
        .map(|mut kv| {
            if r.keys_only {
                kv.value.clear();
            }
            to_pb(kv)
        })
        .collect();
    Ok(RangeResponse { header: rev_header(rr.rev), kvs, more, count: rr.count as i64 })
}

/// The checks etcd makes before a put changes anything: a lease must exist,
/// and `ignore_value`/`ignore_lease` need a previous version of the key.
pub fn check_put(view: &View<'_, '_>, p: &PutRequest, lease_exists: &dyn Fn(i64) -> bool) -> EtcdResult<()> {
    if p.ignore_value || p.ignore_lease {
        let rr = view.range(KeyRange::Single(&p.key), RangeOptions::default())?;
        if rr.kvs.is_empty() {
            return Err(EtcdError::KeyNotFound);
        }
    }
    if p.lease != 0 && !lease_exists(p.lease) {
        return Err(EtcdError::LeaseNotFound);
    }
    Ok(())
}

/// Put, after [`check_put`].
pub fn put(view: &mut View<'_, '_>, p: &PutRequest) -> EtcdResult<PutResponse> {
    let prev = if p.ignore_value || p.ignore_lease || p.prev_kv {
        view.range(KeyRange::Single(&p.key), RangeOptions::default())?.kvs.into_iter().next()
    } else {
        None
    };
    let (value, lease) = match &prev {
        Some(kv) => (
            if p.ignore_value { kv.value.as_slice() } else { p.value.as_slice() },
            if p.ignore_lease { kv.lease } else { p.lease },
        ),
        None if p.ignore_value || p.ignore_lease => return Err(EtcdError::KeyNotFound),
        None => (p.value.as_slice(), p.lease),
    };
    let rev = view.writer()?.put(&p.key, value, lease)?;
    let prev_kv = if p.prev_kv { prev.map(to_pb) } else { None };
    Ok(PutResponse { header: rev_header(rev), prev_kv })
}

/// DeleteRange.
pub fn delete_range(view: &mut View<'_, '_>, d: &DeleteRangeRequest) -> EtcdResult<DeleteRangeResponse> {
    let range = KeyRange::from_request(&d.key, &d.range_end);
    let prev_kvs = if d.prev_kv {
        view.range(range, RangeOptions::default())?.kvs.into_iter().map(to_pb).collect()
    } else {
        Vec::new()
    };
    let (deleted, rev) = view.writer()?.delete_range(range)?;
    Ok(DeleteRangeResponse { header: rev_header(rev), deleted: deleted as i64, prev_kvs })
}
