//! [`RaftNode`]: one member's Raft, the API the server uses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::{ClientWriteError, Fatal, ForwardToLeader, LinearizableReadError};
use openraft::{BasicNode, Config, RaftMetrics, ReadPolicy, SnapshotPolicy};
use tokio::sync::watch;

use crate::apply::Apply;
use crate::error::{RaftError, Result, WriteError};
use crate::log_store::LogStore;
use crate::network::NetworkFactory;
use crate::state_machine::StateMachine;
use crate::type_config::{Request, TypeConfig};

type OpenRaft = openraft::Raft<TypeConfig, StateMachine>;
type MetricsRx = openraft::type_config::alias::WatchReceiverOf<TypeConfig, RaftMetrics<TypeConfig>>;

/// How long [`RaftNode::shutdown`] waits for the Raft tasks to drop the storage.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Held by every clone of the log store and by the state machine: when the
/// last one drops, [`RaftNode::shutdown`] knows `raft.redb` and the `Apply`
/// are released.
#[derive(Clone)]
pub(crate) struct InUse(#[expect(dead_code, reason = "held only to be dropped")] watch::Receiver<()>);

/// How to start one member's Raft.
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// This member's id (etcd's member id).
    pub node_id: u64,
    /// The directory that holds `raft.redb` (`<data-dir>/member`).
    pub raft_dir: PathBuf,
    /// etcd's `--heartbeat-interval` (default 100).
    pub heartbeat_interval_ms: u64,
    /// etcd's `--election-timeout` (default 1000). A follower waits a random
    /// time in `[election_timeout_ms, 2 * election_timeout_ms)`, as etcd does.
    pub election_timeout_ms: u64,
    /// The advertised peer URL, stored in the membership.
    pub peer_addr: String,
}

impl RaftConfig {
    /// A config with etcd's default timeouts.
    pub fn new(node_id: u64, raft_dir: impl Into<PathBuf>, peer_addr: impl Into<String>) -> RaftConfig {
        RaftConfig {
            node_id,
            raft_dir: raft_dir.into(),
            heartbeat_interval_ms: 100,
            election_timeout_ms: 1000,
            peer_addr: peer_addr.into(),
        }
    }

    fn openraft_config(&self) -> Result<Config> {
        let config = Config {
            cluster_name: "strata".to_string(),
            heartbeat_interval: self.heartbeat_interval_ms,
            election_timeout_min: self.election_timeout_ms,
            election_timeout_max: self.election_timeout_ms.saturating_mul(2),
            // No snapshots, hence no log purge, until issue 6 (see state_machine.rs).
            snapshot_policy: SnapshotPolicy::Never,
            // openraft's default lets a restarted leader resume its old term
            // without an election. Its commit index then comes from the saved
            // (non-durable, possibly lagging) committed id and no new blank
            // entry re-commits the log tail, so a read index could miss
            // acknowledged writes. A new election appends that blank entry.
            enable_leader_restore: Some(false),
            ..Config::default()
        };
        config.validate().map_err(|e| RaftError::Config(e.to_string()))
    }
}

/// One member's Raft node. Cloning is cheap; clones drive the same node.
#[derive(Clone)]
pub struct RaftNode {
    inner: Arc<Inner>,
}

struct Inner {
    raft: OpenRaft,
    /// Closed once every task holding the log or the state machine has ended.
    released: watch::Sender<()>,
    /// Published by the state machine before it answers a proposer.
    applied_index: Arc<AtomicU64>,
    /// Read only in synchronous methods: a borrow of it must never live across
    /// an `.await`, or the Raft core blocks on the metrics lock.
    metrics: MetricsRx,
}

impl RaftNode {
    /// Opens raft.redb, builds the openraft node over `sm`; on a fresh log
    /// initializes a single-member cluster {node_id}. Restart with an existing
    /// log does not re-initialize: openraft re-applies the committed entries
    /// after `sm.applied_state()`, then the member elects itself at once if it
    /// is the only voter.
    pub async fn start(cfg: RaftConfig, sm: Arc<dyn Apply>) -> Result<RaftNode> {
        let config = cfg.openraft_config()?;
        let path = cfg.raft_dir.join("raft.redb");
        let db = tokio::task::spawn_blocking(move || backend::RaftLogDb::open(&path))
            .await
            .map_err(|e| RaftError::Start(e.to_string()))??;
        let (released, in_use) = watch::channel(());
        let applied_index = Arc::new(AtomicU64::new(0));
        let state_machine = StateMachine::new(sm, Arc::clone(&applied_index), InUse(in_use.clone()))
            .map_err(|e| RaftError::Start(e.to_string()))?;
        let log_store = LogStore::new(db, InUse(in_use));
        let raft = OpenRaft::new(cfg.node_id, Arc::new(config), NetworkFactory, log_store, state_machine)
            .await
            .map_err(|e| RaftError::Start(e.to_string()))?;
        let metrics = raft.metrics();
        let node = RaftNode { inner: Arc::new(Inner { raft, released, applied_index, metrics }) };
        node.join_or_initialize(&cfg).await?;
        Ok(node)
    }

    /// Initializes a fresh member, or lets a restarted sole voter elect itself
    /// at once; either way a sole voter is leader when `start` returns.
    async fn join_or_initialize(&self, cfg: &RaftConfig) -> Result<()> {
        let raft = &self.inner.raft;
        let initialized = raft.is_initialized().await.map_err(|e| RaftError::Start(e.to_string()))?;
        if !initialized {
            tracing::info!(member = %format!("{:x}", cfg.node_id), "raft: initializing a single-member cluster");
            let members = BTreeMap::from([(cfg.node_id, BasicNode::new(&cfg.peer_addr))]);
            raft.initialize(members).await.map_err(|e| RaftError::Start(e.to_string()))?;
        } else if raft.voter_ids().eq([cfg.node_id]) {
            // Nobody else can be leader: skip the election timeout.
            raft.trigger().elect(false).await.map_err(|e| RaftError::Start(e.to_string()))?;
        } else {
            return Ok(());
        }
        let wait = Duration::from_millis(cfg.election_timeout_ms.saturating_mul(2));
        if let Err(e) = self.wait_for_leader(wait).await {
            tracing::warn!(error = %e, "raft: a sole voter did not become leader within {wait:?}");
        }
        Ok(())
    }

    /// Proposes `data`, waits until committed AND applied locally, returns the Apply response bytes.
    pub async fn write(&self, data: Vec<u8>) -> Result<Vec<u8>, WriteError> {
        match self.inner.raft.client_write(Request(data)).await {
            Ok(resp) => Ok(resp.data),
            Err(openraft::errors::RaftError::APIError(e)) => Err(client_write_error(e)),
            Err(openraft::errors::RaftError::Fatal(f)) => Err(fatal_error(f)),
        }
    }

    /// Read index: returns once the local state machine has applied
    /// everything committed before the call (openraft `ensure_linearizable`
    /// with `ReadPolicy::ReadIndex`: leadership confirmed by a quorum, then a
    /// wait for the applied index).
    pub async fn read_index(&self) -> Result<(), WriteError> {
        match self.inner.raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
            Ok(_) => Ok(()),
            Err(openraft::errors::RaftError::APIError(LinearizableReadError::ForwardToLeader(f))) => {
                Err(not_leader(&f))
            }
            Err(openraft::errors::RaftError::APIError(LinearizableReadError::QuorumNotEnough(_))) => {
                Err(WriteError::Timeout)
            }
            Err(openraft::errors::RaftError::Fatal(f)) => Err(fatal_error(f)),
        }
    }

    /// The current term (etcd's `raft_term` in response headers).
    pub fn term(&self) -> u64 {
        self.inner.metrics.borrow_watched().current_term
    }

    /// The leader this member knows of.
    pub fn leader(&self) -> Option<u64> {
        self.inner.metrics.borrow_watched().current_leader
    }

    /// The index of the last committed entry known locally (0 before any);
    /// never below [`RaftNode::applied_index`].
    pub fn commit_index(&self) -> u64 {
        let committed = self.inner.metrics.borrow_watched().local_committed.map_or(0, |id| id.index);
        committed.max(self.applied_index())
    }

    /// The index of the last entry applied to the state machine (0 before
    /// any). A write's response is sent after this covers its entry.
    pub fn applied_index(&self) -> u64 {
        self.inner.applied_index.load(Ordering::Acquire)
    }

    /// Waits until this member knows a leader (used at start-up), at most `timeout`.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<u64, WriteError> {
        let metrics = self
            .inner
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await
            .map_err(|e| match e {
                openraft::metrics::WaitError::Timeout(..) => WriteError::Timeout,
                _ => WriteError::Stopped,
            })?;
        metrics.current_leader.ok_or(WriteError::NoLeader)
    }

    /// Stops the Raft tasks and waits until they have let go of `raft.redb`
    /// and of the `Apply` (so both can be reopened at once); proposals in
    /// flight fail with [`WriteError::Stopped`].
    pub async fn shutdown(&self) {
        if let Err(e) = self.inner.raft.shutdown().await {
            tracing::warn!(error = %e, "raft: shutdown");
        }
        // openraft joins its core task but lets the state-machine worker (which
        // holds a log reader and the Apply) end on its own, just after.
        let released = self.inner.released.closed();
        if tokio::time::timeout(RELEASE_TIMEOUT, released).await.is_err() {
            tracing::warn!("raft: storage still in use {RELEASE_TIMEOUT:?} after shutdown");
        }
    }
}

fn not_leader(f: &ForwardToLeader<TypeConfig>) -> WriteError {
    match f.leader_id {
        None => WriteError::NoLeader,
        leader => WriteError::NotLeader { leader },
    }
}

fn client_write_error(e: ClientWriteError<TypeConfig>) -> WriteError {
    match e {
        ClientWriteError::ForwardToLeader(f) => not_leader(&f),
        ClientWriteError::LogEntryDiscarded(f) => WriteError::LeaderChanged { leader: f.leader_id },
        // Only membership changes produce the other variants.
        other => WriteError::Fatal(other.to_string()),
    }
}

fn fatal_error(f: Fatal<TypeConfig>) -> WriteError {
    match f {
        Fatal::Stopped => WriteError::Stopped,
        other => WriteError::Fatal(other.to_string()),
    }
}
