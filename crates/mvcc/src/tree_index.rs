//! [`TreeIndex`]: every key's [`KeyIndex`], ordered by key.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;

use crate::key_index::{KeyAt, KeyIndex};
use crate::revision::Revision;

/// The in-memory index from user key to its history. Rebuilt from the `key`
/// table at start-up; the backend holds the values.
#[derive(Debug, Default)]
pub struct TreeIndex {
    keys: BTreeMap<Vec<u8>, KeyIndex>,
}

/// Which keys a request covers, in etcd's `range_end` convention.
#[derive(Debug, Clone, Copy)]
pub enum KeyRange<'a> {
    /// Exactly one key (`range_end` empty).
    Single(&'a [u8]),
    /// `[key, end)`; `end == None` means every key `>= key` (`range_end == "\0"`).
    Span { key: &'a [u8], end: Option<&'a [u8]> },
}

impl<'a> KeyRange<'a> {
    /// Interprets a request's `key` and `range_end` as etcd does.
    pub fn from_request(key: &'a [u8], range_end: &'a [u8]) -> KeyRange<'a> {
        match range_end {
            [] => KeyRange::Single(key),
            [0] => KeyRange::Span { key, end: None },
            end => KeyRange::Span { key, end: Some(end) },
        }
    }

    /// True if `k` is inside the range.
    pub fn contains(&self, k: &[u8]) -> bool {
        match *self {
            KeyRange::Single(key) => k == key,
            KeyRange::Span { key, end } => k >= key && end.is_none_or(|e| k < e),
        }
    }
}

impl TreeIndex {
    pub fn put(&mut self, key: &[u8], rev: Revision) {
        match self.keys.get_mut(key) {
            Some(ki) => ki.put(rev),
            None => {
                let mut ki = KeyIndex::default();
                ki.put(rev);
                self.keys.insert(key.to_vec(), ki);
            }
        }
    }

    /// Records a deletion; false if the key was not live.
    pub fn tombstone(&mut self, key: &[u8], rev: Revision) -> bool {
        self.keys.get_mut(key).is_some_and(|ki| ki.tombstone(rev))
    }

    /// Restores one on-disk revision at start-up.
    pub fn restore(&mut self, kv: &crate::KeyValue, rev: Revision, tombstone: bool) {
        if tombstone && !self.keys.contains_key(&kv.key) {
            return;
        }
        let ki = self.keys.entry(kv.key.clone()).or_default();
        ki.restore(rev, tombstone, kv.create_revision, kv.version);
    }

    /// The key's state at `at`.
    pub fn get(&self, key: &[u8], at: i64) -> Option<KeyAt> {
        self.keys.get(key)?.get(at)
    }

    /// Visits the keys of `range` that exist at `at`, in key order, until `f`
    /// returns false.
    pub fn range(&self, range: KeyRange<'_>, at: i64, mut f: impl FnMut(&[u8], KeyAt) -> bool) {
        match range {
            KeyRange::Single(key) => {
                if let Some(k) = self.get(key, at) {
                    f(key, k);
                }
            }
            KeyRange::Span { key, end } => {
                if end.is_some_and(|e| e <= key) {
                    return;
                }
                let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
                for (k, ki) in self.keys.range::<[u8], _>((Bound::Included(key), upper)) {
                    if let Some(at) = ki.get(at)
                        && !f(k, at)
                    {
                        break;
                    }
                }
            }
        }
    }

    /// Keys of `range` that are live now (for deletes).
    pub fn live_keys(&self, range: KeyRange<'_>, at: i64) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        self.range(range, at, |k, _| {
            out.push(k.to_vec());
            true
        });
        out
    }

    /// Compacts every key at `at`; returns the revisions `<= at` to keep.
    pub fn compact(&mut self, at: i64) -> HashSet<Revision> {
        let mut keep = HashSet::new();
        self.keys.retain(|_, ki| !ki.compact(at, &mut keep));
        keep
    }

    /// The revisions `<= at` that a compaction at `at` keeps, without
    /// compacting (etcd's `Keep`, for `HashKV`).
    pub fn keep(&self, at: i64) -> HashSet<Revision> {
        let mut keep = HashSet::new();
        for ki in self.keys.values() {
            ki.keep(at, &mut keep);
        }
        keep
    }

    /// Number of keys with any history.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_conventions() {
        let mut t = TreeIndex::default();
        for (i, k) in [&b"a"[..], b"b", b"c"].iter().enumerate() {
            t.put(k, Revision::new(i as i64 + 2, 0));
        }
        let keys = |r: KeyRange<'_>| t.live_keys(r, 10);
        assert_eq!(keys(KeyRange::from_request(b"b", b"")), vec![b"b".to_vec()]);
        assert_eq!(keys(KeyRange::from_request(b"b", b"\0")).len(), 2);
        assert_eq!(keys(KeyRange::from_request(b"\0", b"\0")).len(), 3);
        assert_eq!(keys(KeyRange::from_request(b"a", b"c")).len(), 2);
        assert!(keys(KeyRange::from_request(b"c", b"a")).is_empty());
        assert_eq!(t.live_keys(KeyRange::from_request(b"\0", b"\0"), 3).len(), 2);
    }
}
