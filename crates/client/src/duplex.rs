//! A bidirectional gRPC stream (Watch, LeaseKeepAlive): requests go out through a channel,
//! responses come back in order.

use crate::{Error, Result};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::mpsc;
use tonic::codec::Streaming;
use tonic::codegen::tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::metadata::MetadataValue;

type Opening<Resp> = Pin<Box<dyn Future<Output = Result<tonic::Response<Streaming<Resp>>, tonic::Status>> + Send>>;

/// One bidirectional call. Requests are queued without bound, so sending never waits
/// (and is never half done when a caller's future is dropped); a caller that sends
/// faster than the member reads holds the backlog in memory.
pub(crate) struct Duplex<Req, Resp> {
    requests: mpsc::UnboundedSender<Req>,
    responses: Inbound<Resp>,
}

enum Inbound<Resp> {
    /// The call is being set up. tonic resolves it when the server sends its response
    /// headers, which etcd (grpc-go) does only with its first response message; so the
    /// call is not awaited until someone waits for a response, and requests queue up in
    /// the channel meanwhile.
    Opening(Opening<Resp>),
    Open(Streaming<Resp>),
    Done,
}

impl<Req: Send + 'static, Resp> Duplex<Req, Resp> {
    /// Starts a call: `call` gets the request stream (with etcd's require-leader metadata
    /// when `require_leader`) and returns the stub's future.
    pub(crate) fn open<F, Fut>(require_leader: bool, call: F) -> Self
    where
        F: FnOnce(tonic::Request<UnboundedReceiverStream<Req>>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Streaming<Resp>>, tonic::Status>> + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut request = tonic::Request::new(UnboundedReceiverStream::new(rx));
        if require_leader {
            // clientv3's `WithRequireLeader`: the member closes the stream with
            // "etcdserver: no leader" rather than serve it while partitioned.
            request.metadata_mut().insert("hasleader", MetadataValue::from_static("true"));
        }
        Duplex { requests: tx, responses: Inbound::Opening(Box::pin(call(request))) }
    }

    /// Queues `req` to be sent. Fails once the call has ended.
    pub(crate) fn send(&self, req: Req) -> Result<()> {
        self.requests.send(req).map_err(|_| Error::StreamClosed)
    }

    /// The next response; `None` when the server ended the call normally. Cancel safe:
    /// dropping the future loses no response.
    pub(crate) async fn message(&mut self) -> Result<Option<Resp>> {
        loop {
            match &mut self.responses {
                Inbound::Opening(call) => match call.as_mut().await {
                    Ok(resp) => self.responses = Inbound::Open(resp.into_inner()),
                    Err(status) => {
                        self.responses = Inbound::Done;
                        return Err(status.into());
                    }
                },
                Inbound::Open(stream) => {
                    let next = stream.message().await;
                    if !matches!(next, Ok(Some(_))) {
                        self.responses = Inbound::Done;
                    }
                    return next.map_err(Error::from);
                }
                Inbound::Done => return Ok(None),
            }
        }
    }
}
