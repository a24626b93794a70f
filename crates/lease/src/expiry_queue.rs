//! [`ExpiryQueue`]: when the lessor next looks at each lease.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// A keyed priority queue: at most one due time per lease id, ordered by
/// `(due, id)`. It plays the part of etcd's `LeaseExpiredNotifier` (a heap
/// with an id index) without lazy deletion: rescheduling removes the old
/// entry, so the queue never holds more entries than leases.
///
/// A lease's due time is its expiry; once the lease has been reported
/// expired it becomes the time of the next retry. Worked example:
///
/// ```text
/// schedule(7, 10s)  schedule(9, 4s)    entries: (4s, 9) (10s, 7)
/// schedule(9, 12s)  (a renew)          entries: (10s, 7) (12s, 9)
/// pop_due(11s) = 7, then None          entries: (12s, 9)
/// ```
///
/// Costs with n queued leases: `schedule`, `remove` and `pop_due` are
/// O(log n); memory is two entries per lease.
#[derive(Debug, Default)]
pub(crate) struct ExpiryQueue {
    by_due: BTreeSet<(Duration, i64)>,
    due_of: HashMap<i64, Duration>,
}

impl ExpiryQueue {
    /// Sets (or moves) the due time of `id`.
    pub(crate) fn schedule(&mut self, id: i64, due: Duration) {
        if let Some(old) = self.due_of.insert(id, due) {
            self.by_due.remove(&(old, id));
        }
        self.by_due.insert((due, id));
    }

    /// Forgets `id`; absent ids are ignored.
    pub(crate) fn remove(&mut self, id: i64) {
        if let Some(old) = self.due_of.remove(&id) {
            self.by_due.remove(&(old, id));
        }
    }

    /// Removes and returns the id with the earliest due time if that time is
    /// at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Duration) -> Option<i64> {
        let &(due, id) = self.by_due.first()?;
        if due > now {
            return None;
        }
        self.by_due.pop_first();
        self.due_of.remove(&id);
        Some(id)
    }

    pub(crate) fn clear(&mut self) {
        self.by_due.clear();
        self.due_of.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        debug_assert_eq!(self.by_due.len(), self.due_of.len(), "the two indexes hold the same entries");
        self.by_due.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn worked_example() {
        let mut q = ExpiryQueue::default();
        q.schedule(7, s(10));
        q.schedule(9, s(4));
        q.schedule(9, s(12));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop_due(s(11)), Some(7));
        assert_eq!(q.pop_due(s(11)), None);
        assert_eq!(q.pop_due(s(12)), Some(9));
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn equal_due_times_pop_in_id_order_and_remove_forgets() {
        let mut q = ExpiryQueue::default();
        for id in [3, -1, 2] {
            q.schedule(id, s(5));
        }
        q.remove(2);
        q.remove(42);
        assert_eq!(q.pop_due(s(5)), Some(-1));
        assert_eq!(q.pop_due(s(5)), Some(3));
        assert_eq!(q.pop_due(s(5)), None);
        q.schedule(1, s(1));
        q.clear();
        assert_eq!(q.len(), 0);
    }
}
