//! The `etcdserverpb.Watch` gRPC service: one task per stream reads the
//! client's requests and starts, cancels and reports on watchers.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use api::etcdserverpb::watch_request::RequestUnion;
use api::etcdserverpb::watch_server::Watch;
use api::etcdserverpb::{ResponseHeader, WatchCreateRequest, WatchRequest, WatchResponse};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::watcher::{self, Outbox, Spec};
use super::{Counted, WatchHub};
use crate::member::Member;

/// Responses queued per stream before watchers wait for the client to read.
const STREAM_BUFFER: usize = 128;
const FILTER_NOPUT: i32 = 0;
const FILTER_NODELETE: i32 = 1;

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

type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = WatchStream;

    async fn watch(&self, req: Request<Streaming<WatchRequest>>) -> Result<Response<WatchStream>, Status> {
        // clientv3's WithRequireLeader: a stream that must not outlive the leader.
        let require_leader = req.metadata().get("hasleader").is_some_and(|v| v.as_bytes() == b"true");
        if require_leader && self.member.raft.leader().is_none() {
            return Err(Status::unavailable("etcdserver: no leader"));
        }
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        if require_leader {
            tokio::spawn(close_without_leader(self.member.clone(), tx.clone()));
        }
        let stream = Stream_ {
            svc: self.clone(),
            out: tx,
            watchers: HashMap::new(),
            next_id: 0,
            _counted: self.hub.count_stream(),
        };
        tokio::spawn(stream.serve(req.into_inner()));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Ends a require-leader stream with etcd's error once the member has no leader.
async fn close_without_leader(member: Arc<Member>, out: Outbox) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    while !out.is_closed() {
        tick.tick().await;
        if member.raft.leader().is_none() {
            let _ = out.send(Err(Status::unavailable("etcdserver: no leader"))).await;
            return;
        }
    }
}

struct Active {
    task: JoinHandle<()>,
    position: Arc<AtomicI64>,
}

/// The state of one client stream.
struct Stream_ {
    svc: WatchService,
    out: Outbox,
    watchers: HashMap<i64, Active>,
    next_id: i64,
    _counted: Counted,
}

impl Stream_ {
    async fn serve(mut self, mut inbound: Streaming<WatchRequest>) {
        while let Some(Ok(req)) = inbound.next().await {
            let sent = match req.request_union {
                Some(RequestUnion::CreateRequest(c)) => self.create(c).await,
                Some(RequestUnion::CancelRequest(c)) => self.cancel(c.watch_id).await,
                Some(RequestUnion::ProgressRequest(_)) => {
                    self.progress();
                    true
                }
                None => true,
            };
            if !sent {
                break;
            }
        }
        // The client went away: no watcher outlives its stream.
        for (_, w) in self.watchers.drain() {
            w.task.abort();
        }
    }

    fn header(&self, revision: i64) -> Option<ResponseHeader> {
        let mut h = Some(ResponseHeader { revision, ..ResponseHeader::default() });
        self.svc.member.fill_header(&mut h);
        h
    }

    async fn send(&self, resp: WatchResponse) -> bool {
        self.out.send(Ok(resp)).await.is_ok()
    }

    async fn create(&mut self, c: WatchCreateRequest) -> bool {
        let current = self.svc.member.store.rev();
        let header = self.header(current);
        let refuse = |reason: &str| WatchResponse {
            header,
            watch_id: -1,
            created: true,
            canceled: true,
            cancel_reason: reason.to_string(),
            ..WatchResponse::default()
        };
        let empty_range = !c.range_end.is_empty() && c.range_end != [0] && c.key >= c.range_end;
        if empty_range {
            return self.send(refuse("mvcc: watcher range is empty")).await;
        }
        self.watchers.retain(|_, w| !w.task.is_finished());
        let id = if c.watch_id == 0 {
            while self.watchers.contains_key(&self.next_id) {
                self.next_id += 1;
            }
            self.next_id
        } else {
            c.watch_id
        };
        if self.watchers.contains_key(&id) {
            return self.send(refuse("mvcc: duplicate watch ID provided on the WatchStream")).await;
        }
        let spec = Spec {
            id,
            key: c.key,
            range_end: c.range_end,
            // 0 means "from now on"; a negative start is kept, so that once
            // anything is compacted it gets the compacted response (etcd 3.4).
            start_rev: if c.start_revision == 0 { current + 1 } else { c.start_revision },
            prev_kv: c.prev_kv,
            no_put: c.filters.contains(&FILTER_NOPUT),
            no_delete: c.filters.contains(&FILTER_NODELETE),
            progress_notify: c.progress_notify,
            fragment_limit: c.fragment.then_some(self.svc.member.limits.max_request_bytes + 512 * 1024),
        };
        let created = WatchResponse { header: self.header(current), watch_id: id, created: true, ..Default::default() };
        if !self.send(created).await {
            return false;
        }
        let position = Arc::new(AtomicI64::new(spec.start_rev));
        let run = watcher::run(
            spec,
            self.svc.member.clone(),
            self.svc.hub.clone(),
            self.out.clone(),
            position.clone(),
            self.svc.progress_every,
        );
        let done = position.clone();
        let counted = self.svc.hub.count_watcher();
        let task = tokio::spawn(async move {
            let _counted = counted;
            run.await;
            // A finished watcher (compacted) holds back no progress response.
            done.store(i64::MAX, Ordering::Release);
        });
        self.watchers.insert(id, Active { task, position });
        true
    }

    async fn cancel(&mut self, id: i64) -> bool {
        let Some(w) = self.watchers.remove(&id) else { return true };
        w.task.abort();
        let current = self.svc.member.store.rev();
        self.send(WatchResponse { header: self.header(current), watch_id: id, canceled: true, ..Default::default() })
            .await
    }

    /// etcd 3.4.25+: the progress response goes out once every watcher of the
    /// stream has delivered everything up to the revision it reports, so it
    /// never overtakes an event.
    fn progress(&mut self) {
        self.watchers.retain(|_, w| !w.task.is_finished());
        let target = self.svc.member.store.rev();
        let positions: Vec<Arc<AtomicI64>> = self.watchers.values().map(|w| w.position.clone()).collect();
        let out = self.out.clone();
        let member = self.svc.member.clone();
        tokio::spawn(async move {
            // Watchers whose start is in the future count as synced.
            while positions.iter().any(|p| p.load(Ordering::Acquire) <= target) {
                tokio::time::sleep(Duration::from_millis(2)).await;
                if out.is_closed() {
                    return;
                }
            }
            let mut header = Some(ResponseHeader { revision: target, ..ResponseHeader::default() });
            member.fill_header(&mut header);
            let _ = out.send(Ok(WatchResponse { header, watch_id: -1, ..WatchResponse::default() })).await;
        });
    }
}
