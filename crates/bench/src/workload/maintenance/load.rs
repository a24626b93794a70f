//! The steady load that runs, without a break, through every phase of `maintenance`:
//! `--clients` clients for each kind of request ([`Op`]), each with one request in flight,
//! keys drawn at random from the preloaded ones. Each client keeps every request as a
//! [`Sample`], so the phases can be cut out of the load afterwards by time.
//!
//! With `--rate`, each client sends at its share of the rate; after a stall it sends the
//! next request at once and then keeps its pace, with no burst to catch up, so a stall
//! shows as one slow request and a gap, not as a queue.

use super::window::Sample;
use crate::stats::Recorder;
use crate::workload::{Conn, KeyFormat, Rng};
use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::{PutRequest, RangeRequest};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tonic::transport::Channel;

/// A kind of request in the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A put of one key.
    Put,
    /// A serializable get of one key: answered from the member's store.
    GetSerializable,
    /// A linearizable get of one key: through a read index first.
    GetLinearizable,
}

impl Op {
    /// Every kind, in report order.
    pub const ALL: [Op; 3] = [Op::Put, Op::GetSerializable, Op::GetLinearizable];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::GetSerializable => "get_s",
            Op::GetLinearizable => "get_l",
        }
    }
}

/// What the load sends.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Clients of each kind.
    pub clients_per_op: u32,
    /// Requests per second of all clients together; 0 for no limit.
    pub rate: u64,
    /// The keys, drawn from `0..key_space`.
    pub keys: KeyFormat,
    /// How many keys there are.
    pub key_space: u64,
    /// What puts write.
    pub value: Arc<[u8]>,
    /// A request not answered within this fails with `DeadlineExceeded`.
    pub request_timeout: Duration,
    /// Seed of the key draws.
    pub seed: u64,
}

/// A running load.
#[derive(Debug)]
pub struct Load {
    epoch: Instant,
    stop: Arc<AtomicBool>,
    clients: JoinSet<(Op, Vec<Sample>, Recorder)>,
}

/// Every request of a finished load.
#[derive(Debug, Default)]
pub struct LoadRecords {
    /// The samples of each kind, in [`Op::ALL`] order.
    pub samples: [Vec<Sample>; 3],
    /// All requests together, by outcome.
    pub recorder: Recorder,
    /// From the start of the load to the last answer.
    pub elapsed: Duration,
}

impl Load {
    /// Starts the clients, client `i` (counting over all kinds) on connection
    /// `i % conns.len()`. Dropping the load aborts them.
    pub fn start(conns: &[Conn], spec: &LoadSpec) -> Load {
        assert!(!conns.is_empty(), "a load needs at least one connection");
        let epoch = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let total = u64::from(spec.clients_per_op) * Op::ALL.len() as u64;
        let gap = (spec.rate > 0).then(|| Duration::from_secs_f64(total as f64 / spec.rate as f64));
        let mut clients = JoinSet::new();
        for (k, op) in Op::ALL.into_iter().enumerate() {
            for i in 0..u64::from(spec.clients_per_op) {
                let n = k as u64 * u64::from(spec.clients_per_op) + i;
                let kv = conns[n as usize % conns.len()].kv.clone();
                let client = Client { op, kv, rng: Rng::new(spec.seed, n), spec: spec.clone(), gap, epoch };
                clients.spawn(client.run(stop.clone()));
            }
        }
        Load { epoch, stop, clients }
    }

    /// Time since the load started, the clock of its samples.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Stops sending, waits for the requests in flight and hands back every request.
    pub async fn finish(mut self) -> LoadRecords {
        self.stop.store(true, Ordering::Relaxed);
        let mut records = LoadRecords::default();
        while let Some(done) = self.clients.join_next().await {
            let (op, samples, recorder) = done.expect("a load client never panics");
            let k = Op::ALL.iter().position(|&o| o == op).expect("every op is in Op::ALL");
            records.samples[k].extend(samples);
            records.recorder.merge(&recorder);
        }
        records.elapsed = self.epoch.elapsed();
        records
    }
}

/// One client of the load.
struct Client {
    op: Op,
    kv: KvClient<Channel>,
    rng: Rng,
    spec: LoadSpec,
    gap: Option<Duration>,
    epoch: Instant,
}

impl Client {
    async fn run(mut self, stop: Arc<AtomicBool>) -> (Op, Vec<Sample>, Recorder) {
        let mut samples = Vec::new();
        let mut recorder = Recorder::default();
        let mut slot = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if let Some(gap) = self.gap {
                tokio::time::sleep_until(slot).await;
                slot = (slot + gap).max(Instant::now());
            }
            let sent = Instant::now();
            let outcome = tokio::time::timeout(self.spec.request_timeout, self.send()).await;
            let latency = sent.elapsed();
            let ok = matches!(outcome, Ok(Ok(())));
            match outcome {
                Ok(Ok(())) => recorder.ok(latency),
                Ok(Err(status)) => recorder.failure(&status),
                Err(_) => recorder.error(tonic::Code::DeadlineExceeded),
            }
            samples.push(Sample { start: sent.duration_since(self.epoch), latency, ok });
        }
        (self.op, samples, recorder)
    }

    async fn send(&mut self) -> Result<(), tonic::Status> {
        let key = self.spec.keys.key(self.rng.below(self.spec.key_space));
        match self.op {
            Op::Put => {
                let value = self.spec.value.to_vec();
                self.kv.put(PutRequest { key, value, ..Default::default() }).await?;
            }
            Op::GetSerializable | Op::GetLinearizable => {
                let serializable = self.op == Op::GetSerializable;
                self.kv.range(RangeRequest { key, serializable, ..Default::default() }).await?;
            }
        }
        Ok(())
    }
}
