//! The watchers of a `watch` run: `--streams` bidirectional Watch streams, spread
//! round-robin over the connections, each served by one task that creates its share of
//! the watchers (all on [`PREFIX`]), then receives their events until every watcher has
//! every acknowledged put, or until it is told to stop.
//!
//! Latency is taken when a response is decoded, for each event in it: a stream task that
//! falls behind on a busy client shows up as latency, as it would for a real consumer.

use super::{PREFIX, Seen, SeqSet, Tally, read_stamp};
use crate::stats::Recorder;
use crate::workload::Conn;
use anyhow::{Context, bail};
use api::etcdserverpb::watch_client::WatchClient;
use api::etcdserverpb::watch_request::RequestUnion;
use api::etcdserverpb::{WatchCreateRequest, WatchRequest, WatchResponse};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch as signal};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
// tonic re-exports tokio-stream; using it keeps bench's dependencies as they are.
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// How often a draining stream checks whether its watchers have everything.
const DRAIN_CHECK: Duration = Duration::from_millis(10);

/// Created watchers, receiving events.
#[derive(Debug)]
pub struct Watchers {
    tasks: JoinSet<StreamOutcome>,
    phase: signal::Sender<Phase>,
}

/// What the stream tasks are to do.
#[derive(Debug, Clone)]
enum Phase {
    /// Receive events.
    Run,
    /// The writers are done and these puts were acknowledged: end once every watcher has
    /// them all.
    Drain(Arc<SeqSet>),
    /// End now.
    Stop,
}

/// One stream task's records.
#[derive(Debug, Default)]
struct StreamOutcome {
    /// Latencies of new events; errors of the stream and canceled watchers.
    recorder: Recorder,
    tallies: Vec<Tally>,
    last_event: Option<Instant>,
}

/// What all watchers received.
#[derive(Debug)]
pub struct Delivery {
    /// Put-to-event latencies of events received once and in order; errors: stream
    /// failures by gRPC code, `WatchCanceled`, and `MissedEvent`, `DuplicateEvent`,
    /// `OutOfOrderEvent` counted per watcher.
    pub recorder: Recorder,
    /// Distinct puts received, summed over watchers.
    pub events: u64,
    /// Acknowledged puts some watcher never received, summed over watchers.
    pub missed: u64,
    /// Puts a watcher received more than once.
    pub duplicates: u64,
    /// Puts a watcher received after a later revision.
    pub out_of_order: u64,
    /// When the last event arrived.
    pub last_event: Option<Instant>,
}

impl Watchers {
    /// Opens `streams` streams over `conns` and creates `watchers` watchers on them;
    /// returns once the server has confirmed every one. `epoch` is the writers' time zero.
    pub async fn create(
        conns: &[Conn],
        watchers: u32,
        streams: u32,
        epoch: Instant,
        timeout: Duration,
    ) -> anyhow::Result<Watchers> {
        assert!(!conns.is_empty() && streams > 0, "watchers need a connection and a stream");
        let (phase, phase_rx) = signal::channel(Phase::Run);
        let mut tasks = JoinSet::new();
        let mut ready = Vec::new();
        for s in 0..streams {
            let count = (watchers / streams + u32::from(s < watchers % streams)) as usize;
            let channel = conns[s as usize % conns.len()].channel.clone();
            let (ready_tx, ready_rx) = oneshot::channel();
            let stream = StreamTask { epoch, ids: HashMap::new(), out: StreamOutcome::default() };
            tasks.spawn(stream.run(channel, count, timeout, phase_rx.clone(), ready_tx));
            ready.push(ready_rx);
        }
        for (s, r) in ready.into_iter().enumerate() {
            match r.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e).with_context(|| format!("creating the watchers of stream {s}")),
                Err(_) => bail!("the task of watch stream {s} ended before its watchers were created"),
            }
        }
        Ok(Watchers { tasks, phase })
    }

    /// Waits until every watcher has received every put in `acked`, at most `drain`,
    /// then closes the streams and counts what was missed.
    pub async fn finish(mut self, acked: SeqSet, drain: Duration) -> Delivery {
        let acked = Arc::new(acked);
        self.phase.send_replace(Phase::Drain(acked.clone()));
        let deadline = tokio::time::sleep(drain);
        tokio::pin!(deadline);
        let mut outcomes = Vec::new();
        let mut stopped = false;
        loop {
            tokio::select! {
                done = self.tasks.join_next() => match done {
                    Some(outcome) => outcomes.push(outcome.expect("a watch stream task never panics")),
                    None => break,
                },
                () = &mut deadline, if !stopped => {
                    self.phase.send_replace(Phase::Stop);
                    stopped = true;
                }
            }
        }
        let mut d = Delivery {
            recorder: Recorder::default(),
            events: 0,
            missed: 0,
            duplicates: 0,
            out_of_order: 0,
            last_event: None,
        };
        for o in outcomes {
            d.recorder.merge(&o.recorder);
            for t in &o.tallies {
                d.events += t.events();
                d.missed += t.missed(&acked);
                d.duplicates += t.duplicates();
                d.out_of_order += t.out_of_order();
            }
            d.last_event = d.last_event.max(o.last_event);
        }
        d.recorder.count_error("MissedEvent", d.missed);
        d.recorder.count_error("DuplicateEvent", d.duplicates);
        d.recorder.count_error("OutOfOrderEvent", d.out_of_order);
        d
    }
}

/// One stream's state.
struct StreamTask {
    epoch: Instant,
    /// The server's watch id → index in `out.tallies`.
    ids: HashMap<i64, usize>,
    out: StreamOutcome,
}

impl StreamTask {
    async fn run(
        mut self,
        channel: Channel,
        count: usize,
        timeout: Duration,
        mut phase: signal::Receiver<Phase>,
        ready: oneshot::Sender<anyhow::Result<()>>,
    ) -> StreamOutcome {
        // The creates go out before the call is awaited: grpc-go (etcd) sends the response
        // headers with the first response. The request side stays open while `tx` lives.
        let (tx, requests) = mpsc::channel(count + 1);
        for _ in 0..count {
            tx.try_send(create_request()).expect("the channel has room for every create");
        }
        let created = tokio::time::timeout(timeout, self.open(channel, requests, count)).await;
        let mut rx = match created {
            Ok(Ok(rx)) => rx,
            Ok(Err(e)) => {
                let _ = ready.send(Err(e));
                return self.out;
            }
            Err(_) => {
                let _ = ready.send(Err(anyhow::anyhow!("{count} watchers not created within {timeout:?}")));
                return self.out;
            }
        };
        let _ = ready.send(Ok(()));
        let mut acked: Option<Arc<SeqSet>> = None;
        let mut tick = tokio::time::interval(DRAIN_CHECK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = rx.message() => match msg {
                    Ok(Some(resp)) => {
                        if resp.canceled {
                            self.out.recorder.count_error("WatchCanceled", 1);
                        }
                        self.take(resp);
                    }
                    Ok(None) => {
                        self.out.recorder.error(tonic::Code::Unavailable);
                        break;
                    }
                    Err(status) => {
                        self.out.recorder.error(status.code());
                        break;
                    }
                },
                changed = phase.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    match &*phase.borrow_and_update() {
                        Phase::Run => {}
                        Phase::Drain(a) => acked = Some(a.clone()),
                        Phase::Stop => break,
                    }
                }
                _ = tick.tick(), if acked.is_some() => {
                    if acked.as_ref().is_some_and(|a| self.out.tallies.iter().all(|t| t.missed(a) == 0)) {
                        break;
                    }
                }
            }
        }
        drop(tx);
        self.out
    }

    /// Opens the stream and reads until `count` watchers are created.
    async fn open(
        &mut self,
        channel: Channel,
        requests: mpsc::Receiver<WatchRequest>,
        count: usize,
    ) -> anyhow::Result<tonic::Streaming<WatchResponse>> {
        let mut rx = WatchClient::new(channel).watch(ReceiverStream::new(requests)).await?.into_inner();
        while self.out.tallies.len() < count {
            let resp = rx.message().await?.context("the server closed the watch stream")?;
            if resp.canceled {
                bail!("watch {} canceled at creation: {}", resp.watch_id, resp.cancel_reason);
            }
            self.take(resp);
        }
        Ok(rx)
    }

    /// Registers a created watcher, and records the events of a response.
    fn take(&mut self, resp: WatchResponse) {
        if resp.created {
            self.ids.insert(resp.watch_id, self.out.tallies.len());
            self.out.tallies.push(Tally::default());
        }
        let Some(&i) = self.ids.get(&resp.watch_id) else { return };
        if resp.events.is_empty() {
            return;
        }
        let received = Instant::now();
        let since_epoch = received - self.epoch;
        self.out.last_event = Some(received);
        for kv in resp.events.iter().filter_map(|e| e.kv.as_ref()) {
            let Some((seq, sent)) = read_stamp(&kv.value) else { continue };
            if self.out.tallies[i].event(seq, kv.mod_revision) == Seen::New {
                self.out.recorder.ok(since_epoch.saturating_sub(sent));
            }
        }
    }
}

/// A watcher on every key under [`PREFIX`], from the next revision.
fn create_request() -> WatchRequest {
    WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: PREFIX.to_vec(),
            range_end: client::prefix_end(PREFIX),
            ..Default::default()
        })),
    }
}
