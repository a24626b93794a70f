//! [`RaftNode`]: one member's Raft, the API the server uses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use api::stratapb::peer_server::PeerServer;
use openraft::async_runtime::WatchReceiver;
use openraft::errors::{ClientWriteError, Fatal, ForwardToLeader, LinearizableReadError};
use openraft::{BasicNode, Config, RaftMetrics, ReadPolicy, SnapshotPolicy};
use tokio::sync::watch;

use crate::apply::Apply;
use crate::error::{RaftError, Result, WriteError};
use crate::log_store::LogStore;
use crate::network::NetworkFactory;
use crate::peer_service::PeerService;
use crate::peers::Peers;
use crate::snapshot::SnapshotDir;
use crate::state_machine::StateMachine;
use crate::type_config::{Request, TypeConfig};

pub(crate) type OpenRaft = openraft::Raft<TypeConfig, StateMachine>;
type MetricsRx = openraft::type_config::alias::WatchReceiverOf<TypeConfig, RaftMetrics<TypeConfig>>;

/// The pause between two attempts of a request that found no leader.
const LEADER_RETRY_PAUSE: Duration = Duration::from_millis(20);

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
    /// The advertised peer URL (`http://host:port`), stored in the membership.
    pub peer_addr: String,
    /// The members a fresh Raft log is initialized with: node id → peer URL
    /// (etcd's `--initial-cluster`). It must be the same on every member and
    /// contain `node_id`; empty means the single member `{node_id: peer_addr}`.
    /// Ignored once the log is initialized: a restart rejoins with the
    /// membership stored in the log.
    pub initial_members: BTreeMap<u64, String>,
    /// etcd's `--initial-cluster-state existing`: a fresh log is left empty
    /// and the member waits for a leader to replicate to it once the cluster
    /// has added it. Never initialize such a member with `initial_members`
    /// (an empty map would make it a cluster of its own). The leader starts
    /// replicating once `member add` (`RaftNode::add_member`) lists it.
    pub join_existing: bool,
    /// The local address this member's connections to its peers come from
    /// (None: the OS picks). Lets a host with several addresses keep peer
    /// traffic on one, and lets fault-injection tests tell members apart.
    pub peer_source_ip: Option<std::net::IpAddr>,
    /// etcd's `--pre-vote`: ask the voters whether they would vote before
    /// campaigning, so a member that was cut off does not depose a healthy
    /// leader by raising the term when it comes back.
    pub pre_vote: bool,
    /// etcd's cluster id, which the peer service tells members that join.
    pub cluster_id: u64,
    /// etcd's `--snapshot-count`: applied entries between two snapshots.
    /// 0 takes no snapshots (the log is never purged).
    pub snapshot_count: u64,
    /// etcd's `--experimental-snapshot-catchup-entries`: entries kept in the
    /// log behind a snapshot, so a follower a little behind catches up from
    /// the log rather than by a whole snapshot.
    pub snapshot_catchup_entries: u64,
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
            initial_members: BTreeMap::new(),
            join_existing: false,
            peer_source_ip: None,
            pre_vote: true,
            cluster_id: 0,
            snapshot_count: 100_000,
            snapshot_catchup_entries: 5_000,
        }
    }

    /// The membership a fresh log starts with (see [`RaftConfig::initial_members`]).
    fn initial_membership(&self) -> Result<BTreeMap<u64, BasicNode>> {
        if self.initial_members.is_empty() {
            return Ok(BTreeMap::from([(self.node_id, BasicNode::new(&self.peer_addr))]));
        }
        if !self.initial_members.contains_key(&self.node_id) {
            return Err(RaftError::Config(format!("member {:x} is not among the initial members", self.node_id)));
        }
        if self.initial_members.len() > 1 {
            for (id, url) in &self.initial_members {
                if let Err(e) = tonic::transport::Endpoint::from_shared(url.clone()) {
                    return Err(RaftError::Config(format!("member {id:x}: peer URL {url:?}: {e}")));
                }
            }
        }
        Ok(self.initial_members.iter().map(|(id, url)| (*id, BasicNode::new(url))).collect())
    }

    fn openraft_config(&self) -> Result<Config> {
        let config = Config {
            cluster_name: "strata".to_string(),
            heartbeat_interval: self.heartbeat_interval_ms,
            election_timeout_min: self.election_timeout_ms,
            election_timeout_max: self.election_timeout_ms.saturating_mul(2),
            snapshot_policy: match self.snapshot_count {
                0 => SnapshotPolicy::Never,
                n => SnapshotPolicy::LogsSinceLast(n),
            },
            max_in_snapshot_log_to_keep: self.snapshot_catchup_entries,
            enable_pre_vote: Some(self.pre_vote),
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

/// A member of the Raft configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftMember {
    pub id: u64,
    pub peer_url: String,
    pub is_learner: bool,
}

/// See [`RaftNode::subscribe`].
pub struct RaftChanges(MetricsRx);

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
    released: watch::Sender<()>,
    /// The index of the last entry applied, published by the state machine
    /// before it answers a proposer.
    applied: Arc<watch::Sender<u64>>,
    /// The channels to the other members, shared with the network factory.
    pub(crate) peers: Arc<Peers>,
    /// Read only in synchronous methods: a borrow of it must never live across
    /// an `.await`, or the Raft core blocks on the metrics lock.
    pub(crate) metrics: MetricsRx,
    snapshots: SnapshotDir,
    cluster_id: u64,
    /// How long a write or read index that finds no leader waits for one
    /// (two election timeouts: an election, or a leadership transfer).
    leader_wait: Duration,
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
        let peers = Arc::new(Peers::new(cfg.peer_source_ip, cfg.cluster_id));
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

    /// Proposes `data`, waits until it is committed and applied on this
    /// member, and returns the Apply response bytes.
    ///
    /// On a follower the request is forwarded to the leader (`Propose`), which
    /// answers once the entry is applied there; this member then waits until
    /// it has applied the entry too, so a read here right after sees the write.
    /// A forward that never reached the leader fails with
    /// [`WriteError::NoLeader`]; one whose fate is unknown (the leader went
    /// away mid-call) with [`WriteError::Timeout`].
    pub async fn write(&self, data: Vec<u8>) -> Result<Vec<u8>, WriteError> {
        let deadline = tokio::time::Instant::now() + self.inner.leader_wait;
        loop {
            match self.write_once(data.clone()).await {
                Err(WriteError::NoLeader | WriteError::NotLeader { .. }) if self.await_leader(deadline).await => {}
                other => return other,
            }
        }
    }

    async fn write_once(&self, data: Vec<u8>) -> Result<Vec<u8>, WriteError> {
        match self.leader_elsewhere() {
            None => write_local(&self.inner.raft, data).await.map(|(_, response)| response),
            Some(addr) => {
                let (index, response) = self.inner.peers.propose(&addr, data).await?;
                self.wait_applied(index).await?;
                Ok(response)
            }
        }
    }

    /// After a request found no leader (an election or a leadership transfer
    /// under way; nothing was appended, so it may be sent again): waits for
    /// one, at most until `deadline`. False when the time is up.
    async fn await_leader(&self, deadline: tokio::time::Instant) -> bool {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return false;
        }
        // A leader that is still known but has stepped down answers NotLeader
        // at once: pace the attempts instead of spinning.
        tokio::time::sleep(LEADER_RETRY_PAUSE.min(deadline - now)).await;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        !left.is_zero() && self.wait_for_leader(left).await.is_ok()
    }

    /// Read index: returns once the local state machine has applied
    /// everything committed before the call. On the leader this is openraft's
    /// `ensure_linearizable` with `ReadPolicy::ReadIndex` (leadership
    /// confirmed by a quorum, then a wait for the applied index); a follower
    /// asks the leader for that index (`ReadIndex`) and waits until it has
    /// applied it itself.
    pub async fn read_index(&self) -> Result<(), WriteError> {
        let deadline = tokio::time::Instant::now() + self.inner.leader_wait;
        loop {
            match self.read_index_once().await {
                Err(WriteError::NoLeader | WriteError::NotLeader { .. }) if self.await_leader(deadline).await => {}
                other => return other,
            }
        }
    }

    async fn read_index_once(&self) -> Result<(), WriteError> {
        match self.leader_elsewhere() {
            None => match self.inner.raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
                Ok(_) => Ok(()),
                Err(e) => Err(linearizable_read_error(e)),
            },
            Some(addr) => {
                let index = self.inner.peers.read_index(&addr).await?;
                self.wait_applied(index).await
            }
        }
    }

    /// The peer URL of the leader this member knows of, when that is another member.
    fn leader_elsewhere(&self) -> Option<String> {
        let metrics = self.inner.metrics.borrow_watched();
        let leader = metrics.current_leader.filter(|l| *l != self.inner.node_id)?;
        metrics.membership_config.get_node(&leader).map(|node| node.addr.clone())
    }

    /// Waits until the local state machine has applied `index`.
    async fn wait_applied(&self, index: u64) -> Result<(), WriteError> {
        let mut applied = self.inner.applied.subscribe();
        tokio::select! {
            reached = applied.wait_for(|applied| *applied >= index) => reached.map(|_| ()).map_err(|_| WriteError::Stopped),
            () = self.inner.released.closed() => Err(WriteError::Stopped),
        }
    }

    /// A subscription to this member's Raft state (leader, term, log and
    /// applied indexes): [`RaftChanges::changed`] resolves on each change.
    pub fn subscribe(&self) -> RaftChanges {
        RaftChanges(self.inner.raft.metrics())
    }

    /// Resolves, with the reason, once Raft has stopped on a fatal error: the
    /// log or the state machine failed ([`crate::ApplyError`]) or its core
    /// panicked. Never resolves for a normal shutdown.
    pub async fn fatal(&self) -> String {
        let mut rx = self.inner.raft.metrics();
        loop {
            if let Err(f) = &rx.borrow_watched().running_state
                && !matches!(f, Fatal::Stopped)
            {
                return f.to_string();
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// The current term (etcd's `raft_term` in response headers).
    pub fn term(&self) -> u64 {
        self.inner.metrics.borrow_watched().current_term
    }

    /// The members of the current (last applied or appended) Raft
    /// configuration, in id order: id, peer URL, and whether it is a learner.
    pub fn members(&self) -> Vec<RaftMember> {
        crate::membership::members_of(&self.inner.metrics.borrow_watched())
    }

    /// The index of the last entry purged from the log behind a snapshot
    /// (0 before any): a member that needs an entry at or below it catches
    /// up by a snapshot.
    pub fn purged_index(&self) -> u64 {
        self.inner.metrics.borrow_watched().purged.map_or(0, |id| id.index)
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
        *self.inner.applied.borrow()
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

/// Proposes `data` on this member as leader: the entry's index and the Apply
/// response, once applied here. Not the leader: [`WriteError::NotLeader`] or
/// [`WriteError::NoLeader`], and nothing was appended.
pub(crate) async fn write_local(raft: &OpenRaft, data: Vec<u8>) -> Result<(u64, Vec<u8>), WriteError> {
    match raft.client_write(Request(data)).await {
        Ok(resp) => Ok((resp.log_id.index, resp.data)),
        Err(openraft::errors::RaftError::APIError(e)) => Err(client_write_error(e)),
        Err(openraft::errors::RaftError::Fatal(f)) => Err(fatal_error(f)),
    }
}

/// Confirms with a quorum that this member is the leader and returns the
/// index a linearizable read must wait for, without waiting for it here.
pub(crate) async fn leader_read_index(raft: &OpenRaft) -> Result<u64, WriteError> {
    match raft.get_read_linearizer(ReadPolicy::ReadIndex).await {
        Ok(linearizer) => Ok(linearizer.read_log_id().index()),
        Err(e) => Err(linearizable_read_error(e)),
    }
}

fn linearizable_read_error(
    e: openraft::errors::RaftError<TypeConfig, LinearizableReadError<TypeConfig>>,
) -> WriteError {
    match e {
        openraft::errors::RaftError::APIError(LinearizableReadError::ForwardToLeader(f)) => not_leader(&f),
        openraft::errors::RaftError::APIError(LinearizableReadError::QuorumNotEnough(_)) => WriteError::Timeout,
        openraft::errors::RaftError::Fatal(f) => fatal_error(f),
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
