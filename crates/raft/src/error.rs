//! Errors of the raft crate, split the openraft way: [`WriteError`] answers a
//! client (retry, redirect), [`RaftError`] and [`ApplyError`] are fatal for
//! the member (storage broken: stop serving, raise an alarm).

use std::fmt;

/// Starting a member failed; nothing is served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RaftError {
    /// The Raft log (`raft.redb`) could not be opened or read.
    #[error("raft: log storage: {0}")]
    Storage(#[from] backend::Error),
    /// The timeouts do not make a valid openraft configuration.
    #[error("raft: invalid config: {0}")]
    Config(String),
    /// openraft failed while recovering state or initializing the cluster.
    #[error("raft: start: {0}")]
    Start(String),
}

/// Result alias of the crate.
pub type Result<T, E = RaftError> = std::result::Result<T, E>;

/// Why a proposal or a read index did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// No leader is known (an election is in progress). etcd: "etcdserver: no leader".
    #[error("raft: no leader")]
    NoLeader,
    /// The member that was asked to propose is not the leader; `leader` is
    /// the one it knows of. [`crate::RaftNode::write`] forwards to the leader
    /// it knows, so this means leadership moved during the call. Nothing was
    /// appended: a retry is safe.
    #[error("raft: not leader (leader: {leader:?})")]
    NotLeader { leader: Option<u64> },
    /// The proposal was appended but discarded when a new leader overwrote the
    /// log; it may still commit through that leader, so a retry must be
    /// idempotent. etcd: "etcdserver: leader changed".
    #[error("raft: leader changed (leader: {leader:?})")]
    LeaderChanged { leader: Option<u64> },
    /// A wait ran out of time (a leader did not appear, or a read index could not reach a quorum).
    #[error("raft: timeout")]
    Timeout,
    /// The member is shutting down.
    #[error("raft: stopped")]
    Stopped,
    /// Raft hit a storage or state-machine failure and stopped serving.
    #[error("raft: fatal: {0}")]
    Fatal(String),
}

/// A fatal failure of the state machine (`Apply`): its storage is broken.
/// Raft stops applying and the member stops serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError(String);

impl ApplyError {
    /// An apply failure described by `msg`.
    pub fn new(msg: impl fmt::Display) -> ApplyError {
        ApplyError(msg.to_string())
    }
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "apply: {}", self.0)
    }
}

impl std::error::Error for ApplyError {}

impl From<backend::Error> for ApplyError {
    fn from(e: backend::Error) -> ApplyError {
        ApplyError::new(e)
    }
}

/// Folds a failure into the `io::Error` openraft's storage traits return.
pub(crate) fn io_err(e: impl fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}
