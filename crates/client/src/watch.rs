//! `Watch.Watch`: one bidirectional stream carrying many watchers.

use crate::duplex::Duplex;
use crate::{Client, Result};
use api::etcdserverpb::watch_client::WatchClient;
use api::etcdserverpb::watch_request::RequestUnion;
use api::etcdserverpb::{WatchCancelRequest, WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse};

/// One watch stream. Each [`create`](Watcher::create) adds a watcher; the member answers
/// it with a `created` response carrying its `watch_id` (in request order), then sends
/// that watcher's events, each response tagged with its `watch_id`.
///
/// It adds nothing to the protocol: no resuming after a broken stream, no reassembly of
/// `fragment`ed responses, no filtering of `created` responses. Those are the caller's
/// policy (etcdctl's is in `ctl`).
pub struct Watcher {
    stream: Duplex<WatchRequest, WatchResponse>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watcher")
    }
}

impl Client {
    /// Opens a watch stream. Nothing is sent until the first request; errors (an
    /// unreachable member, a server without the Watch service) arrive from
    /// [`Watcher::message`].
    pub fn watch(&self) -> Watcher {
        let mut stub = self.stub(WatchClient::new);
        Watcher { stream: Duplex::open(self.require_leader, move |req| async move { stub.watch(req).await }) }
    }
}

impl Watcher {
    /// Asks for a new watcher.
    pub fn create(&self, req: WatchCreateRequest) -> Result<()> {
        self.send(RequestUnion::CreateRequest(req))
    }

    /// Cancels the watcher `watch_id`; the member confirms with a `canceled` response
    /// (and says nothing for an unknown id).
    pub fn cancel(&self, watch_id: i64) -> Result<()> {
        self.send(RequestUnion::CancelRequest(WatchCancelRequest { watch_id }))
    }

    /// Asks for a progress notification: a response with `watch_id` -1, no events and the
    /// current revision in its header.
    pub fn request_progress(&self) -> Result<()> {
        self.send(RequestUnion::ProgressRequest(WatchProgressRequest {}))
    }

    /// The next response; `None` once the member has closed the stream. Cancel safe.
    pub async fn message(&mut self) -> Result<Option<WatchResponse>> {
        self.stream.message().await
    }

    fn send(&self, union: RequestUnion) -> Result<()> {
        self.stream.send(WatchRequest { request_union: Some(union) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::etcdserverpb::ResponseHeader;
    use api::etcdserverpb::watch_server::{Watch, WatchServer};
    use std::time::Duration;
    use tokio::sync::mpsc;
    use tonic::codegen::tokio_stream::wrappers::UnboundedReceiverStream;

    /// Answers a create with `created` (id 7, or -1 without require-leader metadata) and
    /// one event, a progress request with watch id -1, a cancel with `canceled`.
    struct FakeWatch;

    #[tonic::async_trait]
    impl Watch for FakeWatch {
        type WatchStream = UnboundedReceiverStream<Result<WatchResponse, tonic::Status>>;

        async fn watch(
            &self,
            req: tonic::Request<tonic::Streaming<WatchRequest>>,
        ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
            let leader = req.metadata().get("hasleader").is_some_and(|v| v == "true");
            let mut inbound = req.into_inner();
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(async move {
                let header = Some(ResponseHeader { revision: 5, ..Default::default() });
                while let Ok(Some(r)) = inbound.message().await {
                    let resp = match r.request_union {
                        Some(RequestUnion::CreateRequest(c)) => {
                            let watch_id = if leader { 7 } else { -1 };
                            let _ =
                                tx.send(Ok(WatchResponse { header, watch_id, created: true, ..Default::default() }));
                            let kv = api::mvccpb::KeyValue { key: c.key, ..Default::default() };
                            let event = api::mvccpb::Event { kv: Some(kv), ..Default::default() };
                            WatchResponse { header, watch_id, events: vec![event], ..Default::default() }
                        }
                        Some(RequestUnion::CancelRequest(c)) => {
                            WatchResponse { header, watch_id: c.watch_id, canceled: true, ..Default::default() }
                        }
                        _ => WatchResponse { header, watch_id: -1, ..Default::default() },
                    };
                    let _ = tx.send(Ok(resp));
                }
            });
            Ok(tonic::Response::new(UnboundedReceiverStream::new(rx)))
        }
    }

    async fn fake_member() -> Client {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder().add_service(WatchServer::new(FakeWatch)).serve_with_incoming(incoming),
        );
        Client::connect(&[addr.to_string()], Duration::from_secs(2)).await.expect("connect")
    }

    #[tokio::test]
    async fn requests_queue_before_the_stream_opens_and_responses_come_in_order() {
        let client = fake_member().await.require_leader(true);
        let mut w = client.watch();
        w.create(WatchCreateRequest { key: b"k".to_vec(), ..Default::default() }).expect("queued");
        w.request_progress().expect("queued");
        w.cancel(7).expect("queued");
        let created = w.message().await.expect("ok").expect("created");
        assert_eq!((created.watch_id, created.created), (7, true), "require-leader metadata was sent");
        let event = w.message().await.expect("ok").expect("event");
        assert_eq!(event.events[0].kv.as_ref().map(|kv| kv.key.clone()), Some(b"k".to_vec()));
        assert_eq!(w.message().await.expect("ok").expect("progress").watch_id, -1);
        let canceled = w.message().await.expect("ok").expect("canceled");
        assert_eq!((canceled.watch_id, canceled.canceled), (7, true));
    }

    #[tokio::test]
    async fn without_require_leader_no_metadata_is_sent() {
        let client = fake_member().await;
        let mut w = client.watch();
        w.create(WatchCreateRequest { key: b"k".to_vec(), ..Default::default() }).expect("queued");
        assert_eq!(w.message().await.expect("ok").expect("created").watch_id, -1);
    }
}
