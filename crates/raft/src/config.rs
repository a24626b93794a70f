//! [`RaftConfig`]: how to start one member's Raft, and the openraft
//! configuration and initial membership derived from it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use openraft::{BasicNode, Config, SnapshotPolicy};

use crate::error::{RaftError, Result};

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
    /// How to dial members whose peer URL is `https://` (peer TLS; the server
    /// builds it from etcd's `--peer-*` flags). `None`: plain connections.
    pub peer_tls: Option<std::sync::Arc<rustls::ClientConfig>>,
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
            peer_tls: None,
            snapshot_count: 100_000,
            snapshot_catchup_entries: 5_000,
        }
    }

    /// The membership a fresh log starts with (see [`RaftConfig::initial_members`]).
    pub(crate) fn initial_membership(&self) -> Result<BTreeMap<u64, BasicNode>> {
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

    pub(crate) fn openraft_config(&self) -> Result<Config> {
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
