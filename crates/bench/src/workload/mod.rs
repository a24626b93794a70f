//! The workloads: what a client sends for one request, and what must be in the store
//! before measuring starts.
//!
//! Keys are zero-padded decimal numbers of `--key-size` bytes (`00000042`), so they are
//! readable with `etcdctl get`, sort in number order, and keys sharing a prefix of N bytes
//! are consecutive numbers (what `range --prefix-len` scans).
//!
//! `put`, `range`, `txn` and `lease` are request loops driven by [`crate::runner`];
//! `watch` also creates its watchers and receives their events, in [`watch`];
//! `maintenance` runs phases of its own around a load of its own, in [`maintenance`];
//! `catchup` loads a cluster and then adds a member to it, in [`catchup`].

pub mod catchup;
mod lease;
pub mod maintenance;
mod put;
mod range;
mod txn;
pub mod watch;

pub use catchup::Catchup;
pub use lease::Lease;
pub use maintenance::Maintenance;
pub use put::Put;
pub use range::Range;
pub use txn::Txn;
pub use watch::Watch;

use crate::cli::WorkloadCmd;
use anyhow::{Context, ensure};
use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::request_op::Request;
use api::etcdserverpb::{PutRequest, RequestOp, TxnRequest};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::task::JoinSet;
use tonic::transport::Channel;

/// One of the workloads, ready to run.
#[derive(Debug)]
pub enum Workload {
    /// `put`.
    Put(Put),
    /// `range`.
    Range(Range),
    /// `txn`.
    Txn(Txn),
    /// `watch`: the writers' side is a request loop; the watchers are in [`watch`].
    Watch(Watch),
    /// `lease`.
    Lease(Lease),
    /// `maintenance`: not a request loop; [`crate::measure`] runs [`Maintenance::run`].
    Maintenance(Maintenance),
    /// `catchup`: not a request loop; [`crate::measure`] runs its load and its new member.
    Catchup(Catchup),
}

/// One gRPC connection: the KV stub, and a channel for the streaming services. The
/// channel is a second connection to the same endpoint, opened on first use, so watch
/// streams and keep-alive streams do not share a connection with the writers (as in etcd's
/// benchmark, whose writer has a connection of its own).
#[derive(Debug, Clone)]
pub struct Conn {
    /// KV on the first connection.
    pub kv: KvClient<Channel>,
    /// The second connection, for Watch and Lease.
    pub channel: Channel,
}

/// How a request that got an answer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// It did what it meant to.
    Ok,
    /// A txn whose compare failed because another writer got there first.
    Conflict,
}

/// What one client carries from request to request.
#[derive(Debug)]
pub struct ClientCtx {
    /// The client's number, 0-based.
    pub id: u64,
    /// Its stub, on the connection it was given.
    pub kv: KvClient<Channel>,
    /// That connection's channel for the streaming services.
    pub channel: Channel,
    /// Its own key generator, seeded from `--seed` and `id`.
    pub rng: Rng,
    /// `lease`: the client's keep-alive stream, opened by [`Workload::open`].
    pub keep_alive: Option<lease::KeepAliveStream>,
}

impl ClientCtx {
    /// Client `id` of a run seeded with `seed`, on `conn`.
    pub fn new(id: u64, conn: &Conn, seed: u64) -> ClientCtx {
        ClientCtx { id, kv: conn.kv.clone(), channel: conn.channel.clone(), rng: Rng::new(seed, id), keep_alive: None }
    }
}

impl Workload {
    /// Builds the workload a subcommand names, checking its flags.
    pub fn new(cmd: &WorkloadCmd, seed: u64) -> anyhow::Result<Workload> {
        Ok(match cmd {
            WorkloadCmd::Put(args) => Workload::Put(Put::new(args, seed)?),
            WorkloadCmd::Range(args) => Workload::Range(Range::new(args, seed)?),
            WorkloadCmd::Txn(args) => Workload::Txn(Txn::new(args, seed)?),
            WorkloadCmd::Watch(args) => Workload::Watch(Watch::new(args, seed)?),
            WorkloadCmd::Lease(args) => Workload::Lease(Lease::new(args)?),
            WorkloadCmd::Maintenance(args) => Workload::Maintenance(Maintenance::new(args, seed)?),
            WorkloadCmd::Catchup(args) => Workload::Catchup(Catchup::new(args, seed)?),
        })
    }

    /// The subcommand's name.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Put(_) => "put",
            Workload::Range(_) => "range",
            Workload::Txn(_) => "txn",
            Workload::Watch(_) => "watch",
            Workload::Lease(_) => "lease",
            Workload::Maintenance(_) => "maintenance",
            Workload::Catchup(_) => "catchup",
        }
    }

    /// The workload's flags, for the report.
    pub fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        match self {
            Workload::Put(w) => w.params(),
            Workload::Range(w) => w.params(),
            Workload::Txn(w) => w.params(),
            Workload::Watch(w) => w.params(),
            Workload::Lease(w) => w.params(),
            Workload::Maintenance(w) => w.params(),
            Workload::Catchup(w) => w.params(),
        }
    }

    /// Writes what the workload reads (or grants the leases it renews) before it is
    /// measured. `watch` creates its watchers later, in [`watch::Watchers::create`].
    pub async fn prepare(&self, conns: &[Conn], clients: u32) -> anyhow::Result<()> {
        let kvs: Vec<KvClient<Channel>> = conns.iter().map(|c| c.kv.clone()).collect();
        match self {
            // maintenance times its preload itself, in `Maintenance::preload`; catchup's
            // load is its measured run.
            Workload::Put(_) | Workload::Watch(_) | Workload::Maintenance(_) | Workload::Catchup(_) => Ok(()),
            Workload::Range(w) => w.prepare(&kvs).await,
            Workload::Txn(w) => w.prepare(&kvs, clients).await,
            Workload::Lease(w) => w.prepare(conns).await,
        }
    }

    /// Sets a client up before the clock starts: `lease` opens its keep-alive stream.
    pub async fn open(&self, c: &mut ClientCtx) -> Result<(), tonic::Status> {
        match self {
            Workload::Lease(w) => w.open(c).await,
            _ => Ok(()),
        }
    }

    /// Sends one request (for `txn`, one read-then-update; for `lease`, one keep-alive
    /// and its answer) and waits for its answer.
    pub async fn op(&self, c: &mut ClientCtx) -> Result<Done, tonic::Status> {
        match self {
            Workload::Put(w) => w.op(c).await,
            Workload::Range(w) => w.op(c).await,
            Workload::Txn(w) => w.op(c).await,
            Workload::Watch(w) => w.op(c).await,
            Workload::Lease(w) => w.op(c).await,
            Workload::Maintenance(_) => Err(tonic::Status::failed_precondition("maintenance runs a load of its own")),
            Workload::Catchup(_) => Err(tonic::Status::failed_precondition("catchup runs a load of its own")),
        }
    }
}

/// Key `i` of `size` bytes: `i` in decimal, zero-padded.
#[derive(Debug, Clone, Copy)]
pub struct KeyFormat {
    size: usize,
}

impl KeyFormat {
    /// A format of `size`-byte keys that holds `count` distinct keys.
    pub fn new(size: usize, count: u64) -> anyhow::Result<KeyFormat> {
        ensure!(size > 0, "--key-size must be at least 1");
        let digits = count.saturating_sub(1).to_string().len();
        ensure!(digits <= size, "{count} keys do not fit in --key-size {size} (decimal keys need {digits} bytes)");
        Ok(KeyFormat { size })
    }

    /// The `i`-th key.
    pub fn key(&self, i: u64) -> Vec<u8> {
        format!("{i:0width$}", width = self.size).into_bytes()
    }

    /// The key size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }
}

/// SplitMix64: a small, fast, seeded generator; good enough to spread keys, and the same
/// seed gives the same request stream on every server.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for client `id` of a run seeded with `seed`.
    pub fn new(seed: u64, id: u64) -> Rng {
        Rng(seed ^ id.wrapping_mul(0xA076_1D64_78BD_642F))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// Puts keys `0..count` with `value`, many per Txn and several Txns in flight, so that a
/// million keys load in seconds rather than a million Raft round trips.
pub(crate) async fn preload(
    kvs: &[KvClient<Channel>],
    keys: KeyFormat,
    count: u64,
    value: &[u8],
) -> anyhow::Result<()> {
    // etcd's --max-txn-ops defaults to 128 and --max-request-bytes to 1.5 MiB.
    let per_txn = (1_000_000 / (keys.size() + value.len() + 16)).clamp(1, 100) as u64;
    let batches = count.div_ceil(per_txn);
    let next = Arc::new(AtomicU64::new(0));
    let value: Arc<[u8]> = value.into();
    let mut tasks = JoinSet::new();
    for kv in kvs.iter().cycle().take(kvs.len().max(16)) {
        let (mut kv, next, value) = (kv.clone(), next.clone(), value.clone());
        tasks.spawn(async move {
            loop {
                let batch = next.fetch_add(1, Ordering::Relaxed);
                if batch >= batches {
                    return Ok::<_, tonic::Status>(());
                }
                let first = batch * per_txn;
                let success = (first..count.min(first + per_txn))
                    .map(|i| RequestOp {
                        request: Some(Request::RequestPut(PutRequest {
                            key: keys.key(i),
                            value: value.to_vec(),
                            ..Default::default()
                        })),
                    })
                    .collect();
                kv.txn(TxnRequest { success, ..Default::default() }).await?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("preload task panicked")?.context("preloading keys")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_zero_padded_decimals_that_must_fit() {
        let k = KeyFormat::new(8, 1000).expect("fits");
        assert_eq!(k.key(42), b"00000042");
        assert!(KeyFormat::new(2, 100).is_ok(), "00..99");
        assert!(KeyFormat::new(2, 101).is_err());
        assert!(KeyFormat::new(0, 1).is_err());
        assert_eq!(KeyFormat::new(1, 1).expect("fits").key(0), b"0");
    }

    #[test]
    fn rng_is_seeded_and_stays_below_its_bound() {
        let mut a = Rng::new(7, 3);
        let mut b = Rng::new(7, 3);
        let xs: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        assert_eq!(xs, (0..100).map(|_| b.below(10)).collect::<Vec<_>>());
        assert!(xs.iter().all(|&x| x < 10));
        assert!((0..10).all(|d| xs.contains(&d)), "100 draws cover 0..10: {xs:?}");
        assert_ne!(Rng::new(7, 4).next_u64(), Rng::new(7, 3).next_u64());
    }
}
