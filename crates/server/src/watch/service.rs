//! The `etcdserverpb.Watch` gRPC service: each stream is served by one
//! task (`stream::WatchStream`) that answers the client's requests and
//! delivers its watchers' events.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use api::etcdserverpb::watch_server::Watch;
use api::etcdserverpb::{WatchRequest, WatchResponse};
use futures::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::WatchHub;
use super::outbox::outbox;
use super::stream::WatchStream;
use crate::member::Member;

/// The Watch service over one member.
#[derive(Clone)]
pub struct WatchService {
    member: Arc<Member>,
    hub: Arc<WatchHub>,
    progress_every: Duration,
}

impl WatchService {
    pub fn new(member: Arc<Member>, hub: Arc<WatchHub>, progress_every: Duration) -> WatchService {
        WatchService { member, hub, progress_every }
    }
}

type Responses = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = Responses;

    async fn watch(&self, req: Request<Streaming<WatchRequest>>) -> Result<Response<Responses>, Status> {
        // clientv3's WithRequireLeader: a stream that must not outlive the leader.
        let require_leader = req.metadata().get("hasleader").is_some_and(|v| v.as_bytes() == b"true");
        if require_leader && self.member.raft.leader().is_none() {
            return Err(Status::unavailable("etcdserver: no leader"));
        }
        let (out, responses) = outbox();
        let credentials = (req.metadata().clone(), req.extensions().get::<crate::tls::ClientInfo>().cloned());
        let stream = WatchStream::new(
            self.member.clone(),
            self.hub.clone(),
            out,
            self.progress_every,
            require_leader,
            credentials,
        );
        tokio::spawn(stream.serve(req.into_inner()));
        Ok(Response::new(Box::pin(responses)))
    }
}
