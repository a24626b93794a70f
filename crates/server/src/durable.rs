//! The once-a-second durable commit: the store commits without fsync on the
//! apply path (the Raft log is the durable record, docs/durability.md), and
//! this makes those commits durable, which bounds how much log a restart
//! replays.

use std::time::Duration;

use crate::supervisor::TaskError;

/// How often commits made without an fsync are made durable.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Makes the store's non-durable commits durable every [`SYNC_INTERVAL`]; a
/// commit that fails is a broken backend: fatal.
pub async fn sync_periodically(store: mvcc::Store) -> Result<(), TaskError> {
    let mut tick = tokio::time::interval(SYNC_INTERVAL);
    loop {
        tick.tick().await;
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.sync()).await {
            Ok(synced) => synced?,
            Err(e) => return Err(TaskError::Transient(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use backend::fault::FaultyDisk;

    use super::*;

    #[tokio::test]
    async fn a_failed_fsync_is_fatal() {
        let disk = FaultyDisk::new();
        let (store, _) = mvcc::Store::open(backend::Backend::open_on(disk.clone()).expect("open")).expect("store");
        let mut w = store.write().expect("write");
        w.put(b"k", b"v", 0).expect("put");
        w.end(b"ci").expect("end");
        disk.fail_sync(disk.syncs());
        let ended = tokio::time::timeout(Duration::from_secs(5), sync_periodically(store)).await.expect("ends");
        assert!(matches!(ended, Err(TaskError::Fatal(_))), "{ended:?}");
    }
}
