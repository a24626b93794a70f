//! A user's permissions merged over all its roles: the key ranges it may
//! read and those it may write, each kept as sorted, disjoint intervals so a
//! check is one binary search (etcd rebuilds an interval tree per user for the
//! same purpose, `server/auth/range_perm_cache.go`).
//!
//! Ranges follow etcd's conventions: an empty `range_end` is the single key,
//! `range_end == "\0"` is every key from `key` on, otherwise `[key, range_end)`.
//! A single key `k` is the interval `[k, k + "\0")`, so a range request is
//! permitted exactly when the union of the granted intervals covers it.

use api::authpb::{Permission, Role, permission::Type};

/// `[begin, end)`; `end == None` is unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Interval {
    begin: Vec<u8>,
    end: Option<Vec<u8>>,
}

impl Interval {
    /// The interval a permission or a request names.
    fn of(key: &[u8], range_end: &[u8]) -> Interval {
        match range_end {
            [] => Interval { begin: key.to_vec(), end: Some(successor(key)) },
            [0] => Interval { begin: key.to_vec(), end: None },
            end => Interval { begin: key.to_vec(), end: Some(end.to_vec()) },
        }
    }
}

/// The smallest key after `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut k = key.to_vec();
    k.push(0);
    k
}

/// `a <= b` for interval ends, `None` being the largest.
fn end_le(a: &Option<Vec<u8>>, b: &Option<Vec<u8>>) -> bool {
    match (a, b) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => a <= b,
    }
}

/// Sorted, disjoint, non-adjacent intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Ranges(Vec<Interval>);

impl Ranges {
    fn from_intervals(mut all: Vec<Interval>) -> Ranges {
        all.retain(|i| i.end.as_ref().is_none_or(|e| *e > i.begin));
        all.sort_by(|a, b| a.begin.cmp(&b.begin));
        let mut out: Vec<Interval> = Vec::with_capacity(all.len());
        for i in all {
            match out.last_mut() {
                // Overlapping or touching: one interval.
                Some(last) if last.end.as_ref().is_none_or(|e| *e >= i.begin) => {
                    if !end_le(&i.end, &last.end) {
                        last.end = i.end;
                    }
                }
                _ => out.push(i),
            }
        }
        Ranges(out)
    }

    /// Whether `want` lies inside one interval (merged intervals are maximal,
    /// so covered by the union means covered by one).
    fn covers(&self, want: &Interval) -> bool {
        let idx = self.0.partition_point(|i| i.begin <= want.begin);
        let Some(i) = idx.checked_sub(1).map(|i| &self.0[i]) else { return false };
        // An inverted request range names no key past its start: only the
        // start must be granted.
        let want_end = match &want.end {
            Some(e) if *e <= want.begin => Some(successor(&want.begin)),
            e => e.clone(),
        };
        end_le(&want_end, &i.end)
    }
}

/// What a permission check asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// One user's merged permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    read: Ranges,
    write: Ranges,
}

impl Permissions {
    /// Merges the permissions of `roles`.
    pub fn merge<'a>(roles: impl IntoIterator<Item = &'a Role>) -> Permissions {
        let (mut read, mut write) = (Vec::new(), Vec::new());
        for p in roles.into_iter().flat_map(|r| r.key_permission.iter()) {
            let i = Interval::of(&p.key, &p.range_end);
            // An unknown type grants nothing (etcd skips it); prost's
            // `perm_type()` would read it as READ.
            match Type::try_from(p.perm_type) {
                Ok(Type::Read) => read.push(i),
                Ok(Type::Write) => write.push(i),
                Ok(Type::Readwrite) => {
                    read.push(i.clone());
                    write.push(i);
                }
                Err(_) => {}
            }
        }
        Permissions { read: Ranges::from_intervals(read), write: Ranges::from_intervals(write) }
    }

    /// Whether `access` to `[key, range_end)` (etcd's conventions) is granted.
    pub fn allows(&self, access: Access, key: &[u8], range_end: &[u8]) -> bool {
        let want = Interval::of(key, range_end);
        match access {
            Access::Read => self.read.covers(&want),
            Access::Write => self.write.covers(&want),
        }
    }
}

/// Whether etcd accepts `[key, range_end)` as a permission: a key, and an end
/// that is empty (one key), `"\0"` (open-ended) or after the key.
pub fn is_valid_permission_range(perm: &Permission) -> bool {
    if perm.key.is_empty() {
        return false;
    }
    match perm.range_end.as_slice() {
        [] | [0] => true,
        end => perm.key.as_slice() < end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn role(perms: &[(Type, &[u8], &[u8])]) -> Role {
        Role {
            name: b"r".to_vec(),
            key_permission: perms
                .iter()
                .map(|(t, k, e)| Permission { perm_type: *t as i32, key: k.to_vec(), range_end: e.to_vec() })
                .collect(),
        }
    }

    #[test]
    fn single_keys_prefixes_and_open_ranges() {
        let p = Permissions::merge([&role(&[
            (Type::Read, b"foo", b""),
            (Type::Readwrite, b"dir/", b"dir0"),
            (Type::Write, b"z", b"\0"),
        ])]);
        assert!(p.allows(Access::Read, b"foo", b""));
        assert!(!p.allows(Access::Write, b"foo", b""));
        assert!(!p.allows(Access::Read, b"foo", b"foo1"), "a range past the one key");
        assert!(p.allows(Access::Read, b"foo", b"foo\0"), "the range of exactly the key");
        assert!(p.allows(Access::Write, b"dir/a", b""));
        assert!(p.allows(Access::Read, b"dir/", b"dir0"));
        assert!(!p.allows(Access::Read, b"dir/", b"\0"));
        assert!(p.allows(Access::Write, b"zzz", b"\0"));
        assert!(!p.allows(Access::Read, b"zzz", b""));
        assert!(!p.allows(Access::Write, b"a", b""));
    }

    #[test]
    fn an_unknown_permission_type_grants_nothing() {
        let mut r = role(&[(Type::Read, b"k", b"")]);
        r.key_permission[0].perm_type = 7;
        let p = Permissions::merge([&r]);
        assert!(!p.allows(Access::Read, b"k", b""));
        assert!(!p.allows(Access::Write, b"k", b""));
    }

    #[test]
    fn touching_grants_from_two_roles_cover_their_union() {
        let a = role(&[(Type::Read, b"a", b"c")]);
        let b = role(&[(Type::Read, b"c", b"e"), (Type::Read, b"x", b"")]);
        let p = Permissions::merge([&a, &b]);
        assert!(p.allows(Access::Read, b"a", b"e"));
        assert!(!p.allows(Access::Read, b"a", b"f"));
        assert!(!p.allows(Access::Read, b"d", b"x\0\0"), "the gap between e and x");
    }

    #[test]
    fn valid_permission_ranges_are_etcds() {
        let perm = |k: &[u8], e: &[u8]| Permission { perm_type: 0, key: k.to_vec(), range_end: e.to_vec() };
        assert!(is_valid_permission_range(&perm(b"a", b"")));
        assert!(is_valid_permission_range(&perm(b"a", b"\0")));
        assert!(is_valid_permission_range(&perm(b"a", b"b")));
        assert!(!is_valid_permission_range(&perm(b"b", b"a")));
        assert!(!is_valid_permission_range(&perm(b"a", b"a")));
        assert!(!is_valid_permission_range(&perm(b"", b"a")));
    }

    proptest! {
        /// The merged check answers what a key-by-key check over the raw
        /// grants answers, on a small alphabet where every key can be listed.
        #[test]
        fn merged_check_equals_the_naive_one(
            grants in proptest::collection::vec((0u8..3, "[ab]{1,3}", prop_oneof!["[ab]{0,3}", Just("\0".to_string())]), 0..6),
            key in "[ab]{1,3}",
            end in prop_oneof!["[ab]{0,3}", Just("\0".to_string())],
        ) {
            let r = Role { name: b"r".to_vec(), key_permission: grants.iter().map(|(t, k, e)| Permission {
                perm_type: i32::from(*t), key: k.as_bytes().to_vec(), range_end: e.as_bytes().to_vec() }).collect() };
            let p = Permissions::merge([&r]);
            // Every key over {\0, a, b} up to length 4. Each gap between
            // granted intervals starts at a granted end, which is such a key,
            // so checking these keys decides coverage exactly.
            let mut keys = vec![String::new()];
            let mut last = vec![String::new()];
            for _ in 0..4 {
                last = last.iter().flat_map(|k| ["\0", "a", "b"].map(|c| format!("{k}{c}"))).collect();
                keys.extend(last.iter().cloned());
            }
            keys.retain(|k| !k.is_empty());
            let granted = |k: &str, access: Access| r.key_permission.iter().any(|g| {
                let ok_type = matches!((g.perm_type(), access), (Type::Readwrite, _) | (Type::Read, Access::Read) | (Type::Write, Access::Write));
                let i = Interval::of(&g.key, &g.range_end);
                ok_type && i.begin.as_slice() <= k.as_bytes() && i.end.as_ref().is_none_or(|e| k.as_bytes() < e.as_slice())
            });
            let want = Interval::of(key.as_bytes(), end.as_bytes());
            prop_assume!(want.end.as_ref().is_none_or(|e| *e > want.begin), "inverted requests are point checks");
            let inside: Vec<&String> = keys.iter().filter(|k| want.begin.as_slice() <= k.as_bytes()
                && want.end.as_ref().is_none_or(|e| k.as_bytes() < e.as_slice())).collect();
            for access in [Access::Read, Access::Write] {
                let naive = inside.iter().all(|k| granted(k, access));
                prop_assert_eq!(p.allows(access, key.as_bytes(), end.as_bytes()), naive, "{:?} {:?}", access, &inside);
            }
        }
    }
}
