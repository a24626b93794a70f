//! [`KeyIndex`]: the revisions of one key, grouped into generations.

use std::collections::HashSet;

use crate::revision::Revision;

/// The history of one key in the in-memory index.
///
/// A *generation* runs from the put that creates the key to the tombstone
/// that deletes it (inclusive). The last generation is the live one; it is
/// empty when the key is currently deleted.
///
/// Worked example — `put(1.0); put(2.0); tombstone(3.0); put(4.0); tombstone(5.0)`:
///
/// ```text
/// generations: {1.0, 2.0, 3.0(t)} {4.0, 5.0(t)} {}
/// ```
///
/// Compaction at revision `r` keeps, for each generation that still matters,
/// the newest revision `<= r` and everything after it; a generation whose
/// newest revision `<= r` is its tombstone disappears entirely:
///
/// ```text
/// compact(2): {2.0, 3.0(t)} {4.0, 5.0(t)} {}
/// compact(4): {4.0, 5.0(t)} {}
/// compact(5): {}                 -> the key leaves the index
/// ```
///
/// This is etcd's `keyIndex` (`server/storage/mvcc/key_index.go`), reimplemented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIndex {
    /// Revision of the last change (put or tombstone).
    modified: Revision,
    generations: Vec<Generation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Generation {
    /// Version of the key at the newest revision of this generation.
    ver: i64,
    created: Revision,
    revs: Vec<Revision>,
}

/// The state of a key at some revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAt {
    /// The revision holding the key's value.
    pub modified: Revision,
    pub created: Revision,
    pub version: i64,
}

impl Default for KeyIndex {
    fn default() -> Self {
        KeyIndex { modified: Revision::default(), generations: vec![Generation::default()] }
    }
}

impl KeyIndex {
    /// Records a put at `rev` (which must be newer than every recorded revision).
    pub fn put(&mut self, rev: Revision) {
        debug_assert!(rev > self.modified, "put at {rev:?} not after {:?}", self.modified);
        let g = self.last_mut();
        if g.revs.is_empty() {
            g.created = rev;
        }
        g.revs.push(rev);
        g.ver += 1;
        self.modified = rev;
    }

    /// Records a deletion at `rev`. Returns false (and changes nothing) if the
    /// key is not live.
    pub fn tombstone(&mut self, rev: Revision) -> bool {
        if self.last_mut().revs.is_empty() {
            return false;
        }
        self.put(rev);
        self.generations.push(Generation::default());
        true
    }

    /// Restores a revision read from disk at start-up. The stored value is
    /// authoritative for the generation's creation and version, because
    /// compaction may have removed the revisions that would let us count.
    pub fn restore(&mut self, rev: Revision, tombstone: bool, created: i64, version: i64) {
        if tombstone {
            self.tombstone(rev);
            return;
        }
        self.put(rev);
        let g = self.last_mut();
        if g.revs.len() == 1 {
            g.created = Revision::new(created, 0);
        }
        g.ver = version;
    }

    /// The key as of `at`: None if it did not exist (or was deleted) then.
    pub fn get(&self, at: i64) -> Option<KeyAt> {
        let g = self.find_generation(at)?;
        let n = g.revs.iter().rposition(|r| r.main <= at)?;
        let newer = (g.revs.len() - n - 1) as i64;
        Some(KeyAt { modified: g.revs[n], created: g.created, version: g.ver - newer })
    }

    /// The live generation's state if the key currently exists.
    pub fn current(&self) -> Option<KeyAt> {
        let g = self.generations.last()?;
        let last = *g.revs.last()?;
        Some(KeyAt { modified: last, created: g.created, version: g.ver })
    }

    /// Revisions with `main > since` (in order), for watch replay and tests.
    pub fn revisions_since(&self, since: i64) -> Vec<Revision> {
        self.generations.iter().flat_map(|g| g.revs.iter().copied()).filter(|r| r.main > since).collect()
    }

    /// Compacts history at `at`, adding to `keep` the revisions `<= at` that must
    /// stay on disk. Returns true if the key has no history left.
    pub fn compact(&mut self, at: i64, keep: &mut HashSet<Revision>) -> bool {
        // Skip generations that ended (tombstone) at or before `at`, except the
        // last one, which never has a tombstone.
        let last = self.generations.len() - 1;
        let mut gi = 0;
        while gi < last {
            let tomb = self.generations[gi].revs.last().map_or(0, |r| r.main);
            if tomb > at {
                break;
            }
            gi += 1;
        }
        let g = &mut self.generations[gi];
        if let Some(n) = g.revs.iter().rposition(|r| r.main <= at) {
            keep.insert(g.revs[n]);
            g.revs.drain(..n);
            // A generation reduced to its tombstone is history nobody can read.
            if g.revs.len() == 1 && gi != last {
                keep.remove(&g.revs[0]);
                gi += 1;
            }
        }
        self.generations.drain(..gi);
        self.generations.len() == 1 && self.generations[0].revs.is_empty()
    }

    /// What [`KeyIndex::compact`] would add to `keep`, without compacting.
    pub fn keep(&self, at: i64, keep: &mut HashSet<Revision>) {
        let last = self.generations.len() - 1;
        let mut gi = 0;
        while gi < last && self.generations[gi].revs.last().map_or(0, |r| r.main) <= at {
            gi += 1;
        }
        let g = &self.generations[gi];
        if let Some(n) = g.revs.iter().rposition(|r| r.main <= at) {
            let only_tombstone_left = g.revs.len() - n == 1 && gi != last;
            if !only_tombstone_left {
                keep.insert(g.revs[n]);
            }
        }
    }

    fn last_mut(&mut self) -> &mut Generation {
        if self.generations.is_empty() {
            self.generations.push(Generation::default());
        }
        let n = self.generations.len() - 1;
        &mut self.generations[n]
    }

    fn find_generation(&self, at: i64) -> Option<&Generation> {
        let last = self.generations.len().checked_sub(1)?;
        for (i, g) in self.generations.iter().enumerate().rev() {
            let (Some(first), Some(newest)) = (g.revs.first(), g.revs.last()) else { continue };
            // A finished generation whose tombstone is at or before `at` means
            // the key was deleted at `at`.
            if i != last && newest.main <= at {
                return None;
            }
            if first.main <= at {
                return Some(g);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(main: i64) -> Revision {
        Revision::new(main, 0)
    }

    fn example() -> KeyIndex {
        let mut ki = KeyIndex::default();
        ki.put(rev(1));
        ki.put(rev(2));
        assert!(ki.tombstone(rev(3)));
        ki.put(rev(4));
        assert!(ki.tombstone(rev(5)));
        ki
    }

    #[test]
    fn get_walks_generations() {
        let ki = example();
        assert_eq!(ki.get(0), None);
        assert_eq!(ki.get(1).map(|k| (k.modified.main, k.created.main, k.version)), Some((1, 1, 1)));
        assert_eq!(ki.get(2).map(|k| (k.modified.main, k.version)), Some((2, 2)));
        assert_eq!(ki.get(3), None);
        assert_eq!(ki.get(4).map(|k| (k.modified.main, k.created.main, k.version)), Some((4, 4, 1)));
        assert_eq!(ki.get(5), None);
        assert_eq!(ki.get(100), None);
        assert_eq!(ki.current(), None);
    }

    #[test]
    fn tombstone_of_missing_key_is_refused() {
        let mut ki = KeyIndex::default();
        assert!(!ki.tombstone(rev(1)));
    }

    #[test]
    fn compaction_follows_the_worked_example() {
        let mut ki = example();
        let mut keep = HashSet::new();
        assert!(!ki.compact(2, &mut keep));
        assert_eq!(keep, HashSet::from([rev(2)]));
        assert_eq!(ki.get(2).map(|k| k.version), Some(2));

        let mut keep = HashSet::new();
        assert!(!ki.compact(4, &mut keep));
        assert_eq!(keep, HashSet::from([rev(4)]));
        assert_eq!(ki.get(4).map(|k| k.version), Some(1));

        let mut keep = HashSet::new();
        assert!(ki.compact(5, &mut keep));
        assert!(keep.is_empty());
    }

    #[test]
    fn compaction_at_tombstone_drops_generation() {
        let mut ki = KeyIndex::default();
        ki.put(rev(16));
        ki.tombstone(rev(17));
        let mut keep = HashSet::new();
        assert!(ki.compact(17, &mut keep));
        assert!(keep.is_empty());
    }

    #[test]
    fn compaction_keeps_live_key_value() {
        let mut ki = KeyIndex::default();
        ki.put(rev(2));
        ki.put(rev(3));
        ki.put(rev(7));
        let mut keep = HashSet::new();
        assert!(!ki.compact(5, &mut keep));
        assert_eq!(keep, HashSet::from([rev(3)]));
        assert_eq!(ki.get(5).map(|k| (k.modified.main, k.created.main, k.version)), Some((3, 2, 2)));
        assert_eq!(ki.get(7).map(|k| k.version), Some(3));
    }
}
