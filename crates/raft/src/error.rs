//! Errors of the raft crate, split the openraft way: [`WriteError`] answers a
//! client (retry, redirect), [`RaftError`] and [`ApplyError`] are fatal for
//! the member (storage broken: stop serving, raise an alarm).

use std::fmt;

use openraft::errors::{ClientWriteError, Fatal, ForwardToLeader, LinearizableReadError};

use crate::type_config::TypeConfig;

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

// openraft's errors, mapped to what a proposer can act on. Only this crate
// names openraft, so the mapping lives here.

pub(crate) fn linearizable_read_error(
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

pub(crate) fn client_write_error(e: ClientWriteError<TypeConfig>) -> WriteError {
    match e {
        ClientWriteError::ForwardToLeader(f) => not_leader(&f),
        ClientWriteError::LogEntryDiscarded(f) => WriteError::LeaderChanged { leader: f.leader_id },
        // Only membership changes produce the other variants.
        other => WriteError::Fatal(other.to_string()),
    }
}

pub(crate) fn fatal_error(f: Fatal<TypeConfig>) -> WriteError {
    match f {
        Fatal::Stopped => WriteError::Stopped,
        other => WriteError::Fatal(other.to_string()),
    }
}
