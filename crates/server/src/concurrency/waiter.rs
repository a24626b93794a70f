//! [`RangeWaiter`]: sleeps until keys of a range change.

use std::sync::Arc;

use mvcc::{KeyRange, KeyValue};
use tokio::sync::watch;

use crate::error::{EtcdError, EtcdResult};
use crate::member::Member;
use crate::watch::WatchHub;

/// Wakes on revisions that change a key range — what the recipes' watches
/// are for (`waitDelete`, `Observe`) without a watcher of the Watch service.
///
/// A wait names the revision it starts after and reads the changes since
/// then from history, so nothing between that revision and the wait is
/// missed, whenever the waiter was created.
pub struct RangeWaiter {
    member: Arc<Member>,
    hub: Arc<WatchHub>,
    published: watch::Receiver<i64>,
    key: Vec<u8>,
    range_end: Vec<u8>,
}

impl RangeWaiter {
    /// A waiter on `[key, range_end)` (etcd's range conventions).
    pub fn new(member: &Arc<Member>, hub: &Arc<WatchHub>, key: &[u8], range_end: &[u8]) -> RangeWaiter {
        RangeWaiter {
            member: member.clone(),
            hub: hub.clone(),
            published: hub.subscribe(),
            key: key.to_vec(),
            range_end: range_end.to_vec(),
        }
    }

    /// Waits for the first revisions after `rev` that change the range and
    /// returns the last revision examined with those changes, in revision
    /// order (`version == 0` is a deletion). `Compacted` if history after
    /// `rev` is gone.
    pub async fn changes_after(&mut self, rev: i64) -> EtcdResult<(i64, Vec<KeyValue>)> {
        let mut from = rev + 1;
        loop {
            let latest = *self.published.borrow_and_update();
            if latest >= from {
                let changes = self.changes(from, latest)?;
                if !changes.is_empty() {
                    return Ok((latest, changes));
                }
                from = latest + 1;
            }
            self.published.changed().await.map_err(|_| EtcdError::Stopped)?;
        }
    }

    /// The range's changes in `from..=to`: from the hub's window of recent
    /// revisions, or from the backend when the window has moved on.
    fn changes(&self, from: i64, to: i64) -> EtcdResult<Vec<KeyValue>> {
        let range = KeyRange::from_request(&self.key, &self.range_end);
        if let Some(recent) = self.hub.recent(from, to) {
            return Ok(recent
                .iter()
                .flat_map(|rc| rc.changes.iter().filter(|kv| range.contains(&kv.key)).map(from_pb))
                .collect());
        }
        Ok(self.member.store.history(from, to)?.into_iter().filter(|kv| range.contains(&kv.key)).collect())
    }
}

/// The window keeps protobuf key-values; the recipes work on the store's.
fn from_pb(kv: &api::mvccpb::KeyValue) -> KeyValue {
    KeyValue {
        key: kv.key.clone(),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value.clone(),
        lease: kv.lease,
    }
}
