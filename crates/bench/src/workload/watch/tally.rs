//! What one watcher saw, checked against what the writers were told was written: every
//! acknowledged put must reach every watcher exactly once, in revision order.
//!
//! Puts are numbered (their sequence number travels in the value), so a watcher's record
//! is a set of numbers. Writers may finish in another order than they started, so the
//! numbers a watcher sees are not increasing; its revisions are. A put that timed out may
//! still have been applied: a watcher seeing it is no error, and it is not counted missed.
//!
//! ```
//! use bench::workload::watch::{SeqSet, Tally};
//! let mut acked = SeqSet::default();
//! for seq in [0, 1, 2, 3] {
//!     acked.insert(seq);
//! }
//! let mut t = Tally::default();
//! t.event(1, 10); // seq 1 was applied first, at revision 10
//! t.event(0, 11);
//! t.event(0, 11); // the same event again: a duplicate
//! t.event(3, 13); // seq 2 (revision 12) never came: missed
//! assert_eq!((t.events(), t.duplicates(), t.out_of_order(), t.missed(&acked)), (3, 1, 0, 1));
//! ```

/// A set of sequence numbers, dense from 0: one bit each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqSet {
    words: Vec<u64>,
    len: u64,
}

impl SeqSet {
    /// Adds `seq`; `false` if it was already there.
    pub fn insert(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let fresh = self.words[word] & bit == 0;
        self.words[word] |= bit;
        self.len += u64::from(fresh);
        fresh
    }

    /// Whether `seq` is in the set.
    pub fn contains(&self, seq: u64) -> bool {
        self.words.get((seq / 64) as usize).is_some_and(|w| w & (1 << (seq % 64)) != 0)
    }

    /// How many numbers are in the set.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many numbers of `other` are not in `self`.
    pub fn count_missing_from(&self, other: &SeqSet) -> u64 {
        other
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| u64::from((w & !self.words.get(i).copied().unwrap_or(0)).count_ones()))
            .sum()
    }
}

/// One watcher's record of the events it received.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    seen: SeqSet,
    /// The highest revision received so far.
    last_revision: i64,
    duplicates: u64,
    out_of_order: u64,
}

/// How a received event was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The first time this put arrived, after every earlier revision.
    New,
    /// This put had arrived before.
    Duplicate,
    /// A put not seen before, but at a revision below one already received.
    OutOfOrder,
}

impl Tally {
    /// Takes the event of put `seq`, which the server applied at `revision`.
    pub fn event(&mut self, seq: u64, revision: i64) -> Seen {
        if !self.seen.insert(seq) {
            self.duplicates += 1;
            return Seen::Duplicate;
        }
        if revision <= self.last_revision {
            self.out_of_order += 1;
            return Seen::OutOfOrder;
        }
        self.last_revision = revision;
        Seen::New
    }

    /// Distinct puts received.
    pub fn events(&self) -> u64 {
        self.seen.len()
    }

    /// Events received again.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Events received after a later revision.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    /// Acknowledged puts this watcher has not received.
    pub fn missed(&self, acked: &SeqSet) -> u64 {
        self.seen.count_missing_from(acked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(seqs: &[u64]) -> SeqSet {
        let mut s = SeqSet::default();
        for &q in seqs {
            s.insert(q);
        }
        s
    }

    #[test]
    fn seq_sets_count_and_compare_across_word_boundaries() {
        let mut s = SeqSet::default();
        assert!(s.is_empty() && !s.contains(0) && !s.contains(1000));
        assert!(s.insert(63) && s.insert(64) && s.insert(200));
        assert!(!s.insert(64), "already there");
        assert_eq!(s.len(), 3);
        assert!(s.contains(63) && s.contains(64) && s.contains(200) && !s.contains(65));
        let all = set(&(0..300).collect::<Vec<_>>());
        assert_eq!(s.count_missing_from(&all), 297);
        assert_eq!(all.count_missing_from(&s), 0);
        assert_eq!(SeqSet::default().count_missing_from(&s), 3, "a shorter set misses the far words");
        assert_eq!(s.count_missing_from(&SeqSet::default()), 0);
    }

    #[test]
    fn a_watcher_that_saw_every_put_once_misses_nothing() {
        let acked = set(&[0, 1, 2, 3]);
        let mut t = Tally::default();
        // Two writers: put 1 was applied before put 0.
        for (seq, rev) in [(1, 5), (0, 6), (2, 7), (3, 8)] {
            assert_eq!(t.event(seq, rev), Seen::New);
        }
        assert_eq!((t.events(), t.duplicates(), t.out_of_order(), t.missed(&acked)), (4, 0, 0, 0));
    }

    #[test]
    fn gaps_duplicates_and_reordering_are_each_counted() {
        let acked = set(&[0, 1, 2, 3, 4]);
        let mut t = Tally::default();
        assert_eq!(t.event(0, 5), Seen::New);
        assert_eq!(t.event(2, 7), Seen::New);
        assert_eq!(t.event(0, 5), Seen::Duplicate, "the same event twice");
        assert_eq!(t.event(1, 6), Seen::OutOfOrder, "revision 6 after 7");
        assert_eq!(t.event(4, 9), Seen::New, "revision 8 (put 3) never came");
        assert_eq!((t.events(), t.duplicates(), t.out_of_order()), (4, 1, 1));
        assert_eq!(t.missed(&acked), 1);
    }

    #[test]
    fn a_put_that_was_applied_but_not_acknowledged_is_neither_missed_nor_an_error() {
        let acked = set(&[0, 2]);
        let mut t = Tally::default();
        for (seq, rev) in [(0, 5), (1, 6), (2, 7)] {
            assert_eq!(t.event(seq, rev), Seen::New);
        }
        assert_eq!((t.events(), t.missed(&acked)), (3, 0));
        assert_eq!(Tally::default().missed(&acked), 2, "a watcher that saw nothing misses every acknowledged put");
    }
}
