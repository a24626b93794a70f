//! A watch stream's responses on their way to the client: batches through
//! one channel, bounded by the number of responses queued.
//!
//! The stream's task queues everything one round produced (the responses of
//! all its watchers for a revision) with one channel send, and gRPC's encoder
//! then finds them ready together and writes them in few HTTP/2 frames. The
//! bound is not the channel's: the task asks [`Outbox::room`] before it
//! delivers events, and a watcher that finds no room stays behind and catches
//! up later, so a client that stops reading costs memory up to the bound and
//! never blocks a write.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use api::etcdserverpb::WatchResponse;
use futures::Stream;
use tokio::sync::{Notify, mpsc};
use tonic::Status;

pub(super) type Item = Result<WatchResponse, Status>;

/// Responses queued per stream (etcd's per-stream channel holds 128, one per
/// watcher response; here a round of a stream with many watchers must fit).
pub(super) const CAPACITY: usize = 1024;

/// The sending side, owned by the stream's task.
pub(super) struct Outbox {
    tx: mpsc::UnboundedSender<Vec<Item>>,
    shared: Arc<Shared>,
}

/// The receiving side: the gRPC response stream.
pub(super) struct Responses {
    rx: mpsc::UnboundedReceiver<Vec<Item>>,
    batch: std::vec::IntoIter<Item>,
    shared: Arc<Shared>,
}

struct Shared {
    /// Responses sent and not yet taken by [`Responses`].
    queued: AtomicUsize,
    /// Signalled whenever [`Responses`] takes a batch.
    taken: Notify,
}

pub(super) fn outbox() -> (Outbox, Responses) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared { queued: AtomicUsize::new(0), taken: Notify::new() });
    (Outbox { tx, shared: shared.clone() }, Responses { rx, batch: Vec::new().into_iter(), shared })
}

impl Outbox {
    /// How many more responses fit before the bound.
    pub(super) fn room(&self) -> usize {
        CAPACITY.saturating_sub(self.shared.queued.load(Ordering::Acquire))
    }

    /// Queues `batch`, in order, after everything queued before. False once
    /// the client is gone.
    pub(super) fn push(&self, batch: Vec<Item>) -> bool {
        if batch.is_empty() {
            return !self.tx.is_closed();
        }
        let n = batch.len();
        self.shared.queued.fetch_add(n, Ordering::AcqRel);
        if self.tx.send(batch).is_err() {
            self.shared.queued.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Waits for room, then queues `resp`. False once the client is gone.
    pub(super) async fn send(&self, resp: WatchResponse) -> bool {
        self.wait_room().await && self.push(vec![Ok(resp)])
    }

    /// Waits until at least one response fits. False once the client is gone.
    pub(super) async fn wait_room(&self) -> bool {
        loop {
            if self.tx.is_closed() {
                return false;
            }
            if self.room() > 0 {
                return true;
            }
            // A batch taken between the check and here left a permit, so
            // this cannot miss it.
            tokio::select! {
                _ = self.shared.taken.notified() => {}
                _ = self.tx.closed() => return false,
            }
        }
    }
}

impl Stream for Responses {
    type Item = Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.batch.next() {
                return Poll::Ready(Some(item));
            }
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => {
                    this.shared.queued.fetch_sub(batch.len(), Ordering::AcqRel);
                    this.shared.taken.notify_one();
                    this.batch = batch.into_iter();
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;

    use super::*;

    fn resp(id: i64) -> Item {
        Ok(WatchResponse { watch_id: id, ..WatchResponse::default() })
    }

    #[tokio::test]
    async fn batches_arrive_in_order_and_free_their_room() {
        let (out, mut responses) = outbox();
        assert!(out.push(vec![resp(1), resp(2)]));
        assert!(out.push(vec![resp(3)]));
        assert_eq!(out.room(), CAPACITY - 3);
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(responses.next().await.and_then(|r| r.ok()).map(|r| r.watch_id));
        }
        assert_eq!(ids, [Some(1), Some(2), Some(3)]);
        assert_eq!(out.room(), CAPACITY);
        drop(out);
        assert!(responses.next().await.is_none(), "the stream ends with its sender");
    }

    #[tokio::test]
    async fn a_full_outbox_waits_for_the_client_to_read() {
        let (out, mut responses) = outbox();
        assert!(out.push((0..CAPACITY as i64).map(resp).collect()));
        assert_eq!(out.room(), 0);
        let wait = tokio::time::timeout(Duration::from_millis(50), out.wait_room()).await;
        assert!(wait.is_err(), "no room until the client reads");
        let reader = tokio::spawn(async move {
            let first = responses.next().await;
            (first.is_some(), responses)
        });
        assert!(out.send(WatchResponse::default()).await, "room once the batch is taken");
        let (read, responses) = reader.await.expect("reader");
        assert!(read);
        drop(responses);
        assert!(!out.push(vec![resp(1)]), "the client is gone");
        assert!(!out.wait_room().await);
    }
}
