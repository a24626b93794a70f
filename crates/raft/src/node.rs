//! [`RaftNode`]: one member's Raft: starting and stopping it, and its peer
//! service. What it offers the server is split by job: proposals and read
//! indexes with their leader retry (`proposal.rs`), the state it reports
//! (`status.rs`), membership changes (`membership.rs`); how to start it is
//! [`crate::RaftConfig`] (`config.rs`).

use std::sync::Arc;
use std::time::Duration;

use api::stratapb::peer_server::PeerServer;
use openraft::RaftMetrics;
use openraft::async_runtime::WatchReceiver;
use tokio::sync::watch;

use crate::apply::Apply;
use crate::config::RaftConfig;
use crate::error::{RaftError, Result};
use crate::log_store::LogStore;
use crate::network::NetworkFactory;
use crate::peer_service::PeerService;
use crate::peers::Peers;
use crate::snapshot::SnapshotDir;
use crate::state_machine::StateMachine;
use crate::type_config::TypeConfig;

pub(crate) type OpenRaft = openraft::Raft<TypeConfig, StateMachine>;
type MetricsRx = openraft::type_config::alias::WatchReceiverOf<TypeConfig, RaftMetrics<TypeConfig>>;

/// How long [`RaftNode::shutdown`] waits for the Raft tasks to drop the storage.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Held by every clone of the log store and by the state machine: when the
/// last one drops, [`RaftNode::shutdown`] knows `raft.redb` and the `Apply`
/// are released.
#[derive(Clone)]
pub(crate) struct InUse(#[expect(dead_code, reason = "held only to be dropped")] watch::Receiver<()>);

#[cfg(test)]
impl InUse {
    /// A guard nobody waits on, for storage built outside `RaftNode::start` (`conformance.rs`).
    pub(crate) fn detached() -> InUse {
        InUse(watch::channel(()).1)
    }
}

/// A member of the Raft configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftMember {
    pub id: u64,
    pub peer_url: String,
    pub is_learner: bool,
}

/// See [`RaftNode::subscribe`].
pub struct RaftChanges(pub(crate) MetricsRx);

impl RaftChanges {
    /// Resolves once the state changed since the last call (the first call
    /// may resolve at once): true, or false at once when Raft has stopped.
    /// Keep one subscription and call this in a loop: a fresh one would see
    /// every change since the node started as unseen.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

/// One member's Raft node. Cloning is cheap; clones drive the same node.
#[derive(Clone)]
pub struct RaftNode {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) node_id: u64,
    pub(crate) raft: OpenRaft,
    /// Closed once every task holding the log or the state machine has ended.
    pub(crate) released: watch::Sender<()>,
    /// The index of the last entry applied, published by the state machine
    /// before it answers a proposer.
    pub(crate) applied: Arc<watch::Sender<u64>>,
    /// The channels to the other members, shared with the network factory.
    pub(crate) peers: Arc<Peers>,
    /// Read only in synchronous methods: a borrow of it must never live across
    /// an `.await`, or the Raft core blocks on the metrics lock.
    pub(crate) metrics: MetricsRx,
    pub(crate) snapshots: SnapshotDir,
    pub(crate) cluster_id: u64,
    /// How long a write or read index that finds no leader waits for one
    /// (two election timeouts: an election, or a leadership transfer).
    pub(crate) leader_wait: Duration,
}

impl RaftNode {
    /// Opens raft.redb and builds the openraft node over `sm`. A fresh log is
    /// initialized with [`RaftConfig::initial_members`]; a restart with an
    /// existing log does not re-initialize: openraft re-applies the committed
    /// entries after `sm.applied_state()`, then the member rejoins the cluster
    /// its log names.
    ///
    /// A sole voter is leader when this returns (it elects itself at once).
    /// A member of a larger cluster returns at once; it finds its leader once
    /// the peers answer on their peer services (see [`RaftNode::peer_service`]),
    /// which [`RaftNode::wait_for_leader`] waits for.
    ///
    /// Every fresh member of a new cluster initializes with the same members,
    /// as every etcd member with `--initial-cluster-state new` bootstraps the
    /// same way: no member is special, so the cluster forms as soon as any
    /// majority is up, and openraft documents identical initializations as
    /// safe (each writes the same membership as entry 0; an election picks one
    /// leader, whose entry 0 replaces the others'). Initializing one member
    /// only would stall the cluster while that member is down.
    pub async fn start(cfg: RaftConfig, sm: Arc<dyn Apply>) -> Result<RaftNode> {
        let config = cfg.openraft_config()?;
        let path = cfg.raft_dir.join("raft.redb");
        let db = tokio::task::spawn_blocking(move || backend::RaftLogDb::open(&path))
            .await
            .map_err(|e| RaftError::Start(e.to_string()))??;
        let (released, in_use) = watch::channel(());
        let applied = Arc::new(watch::Sender::new(0));
        let snapshots = SnapshotDir::open(&cfg.raft_dir).map_err(|e| RaftError::Start(format!("snapshot dir: {e}")))?;
        let state_machine = StateMachine::new(sm, Arc::clone(&applied), snapshots.clone(), InUse(in_use.clone()))
            .map_err(|e| RaftError::Start(e.to_string()))?;
        let log_store = LogStore::new(db, InUse(in_use));
        let peers = Arc::new(Peers::new(cfg.peer_source_ip, cfg.cluster_id, cfg.peer_tls.clone()));
        let network = NetworkFactory { id: cfg.node_id, peers: Arc::clone(&peers) };
        let raft = OpenRaft::new(cfg.node_id, Arc::new(config), network, log_store, state_machine)
            .await
            .map_err(|e| RaftError::Start(e.to_string()))?;
        let metrics = raft.metrics();
        let inner = Inner {
            node_id: cfg.node_id,
            raft,
            released,
            applied,
            peers,
            metrics,
            snapshots,
            cluster_id: cfg.cluster_id,
            leader_wait: Duration::from_millis(cfg.election_timeout_ms.saturating_mul(2)),
        };
        let node = RaftNode { inner: Arc::new(inner) };
        node.join_or_initialize(&cfg).await?;
        Ok(node)
    }

    /// Initializes a fresh member, or lets a restarted sole voter elect itself
    /// at once; either way a sole voter is leader when `start` returns.
    async fn join_or_initialize(&self, cfg: &RaftConfig) -> Result<()> {
        let raft = &self.inner.raft;
        let initialized = raft.is_initialized().await.map_err(|e| RaftError::Start(e.to_string()))?;
        if !initialized && cfg.join_existing {
            tracing::info!(member = %format!("{:x}", cfg.node_id), "raft: waiting to be added to an existing cluster");
            return Ok(());
        }
        if !initialized {
            let members = cfg.initial_membership()?;
            let sole_voter = members.len() == 1;
            tracing::info!(
                member = %format!("{:x}", cfg.node_id),
                members = members.len(),
                "raft: initializing a new cluster"
            );
            raft.initialize(members).await.map_err(|e| RaftError::Start(e.to_string()))?;
            if !sole_voter {
                return Ok(());
            }
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

    /// The gRPC service the other members talk to (`stratapb.Peer`): mount it
    /// on this member's peer listener, the URL in [`RaftConfig::peer_addr`].
    /// Raft starts before anything serves it; peers retry until it answers.
    pub fn peer_service(&self) -> PeerServer<PeerService> {
        PeerServer::new(PeerService::new(self.inner.raft.clone(), self.inner.snapshots.clone(), self.inner.cluster_id))
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX)
    }

    /// Stops the Raft tasks and waits until they have let go of `raft.redb`
    /// and of the `Apply` (so both can be reopened at once); proposals in
    /// flight fail with [`WriteError::Stopped`]. The peer service answers
    /// `Unavailable` from then on; stop serving it too.
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
