//! The reference model the mvcc model tests check the store against: the
//! live keys of one revision, and how a revision's changes move them.

use std::collections::BTreeMap;

/// A live key as etcd describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub create: i64,
    pub modr: i64,
    pub version: i64,
    pub value: Vec<u8>,
}

/// One change of a revision: a key and its new value, or None to delete it.
pub type Change = (Vec<u8>, Option<Vec<u8>>);

/// Applies the changes of revision `rev` to `live` and returns those that
/// changed something (deleting a missing key does not): a revision with none
/// is no revision at all.
pub fn apply<'a>(live: &mut BTreeMap<Vec<u8>, Kv>, rev: i64, changes: &'a [Change]) -> Vec<&'a Change> {
    let mut effective = Vec::new();
    for change in changes {
        let (k, v) = change;
        match v {
            Some(v) => {
                let (create, version) = live.get(k).map_or((rev, 1), |kv| (kv.create, kv.version + 1));
                live.insert(k.clone(), Kv { create, modr: rev, version, value: v.clone() });
            }
            None if live.remove(k).is_some() => {}
            None => continue,
        }
        effective.push(change);
    }
    effective
}

/// The store's key-value as the model's.
pub fn from_store(kv: mvcc::KeyValue) -> (Vec<u8>, Kv) {
    (kv.key, Kv { create: kv.create_revision, modr: kv.mod_revision, version: kv.version, value: kv.value })
}
