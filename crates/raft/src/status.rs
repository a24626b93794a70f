//! What a member's Raft reports: leader, term, indexes, members, and whether
//! it stopped on a fatal error. Each reads openraft's metrics without
//! holding them across an `.await` (the Raft core would block on them).

use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::Fatal;

use crate::error::WriteError;
use crate::node::{RaftChanges, RaftMember, RaftNode};

impl RaftNode {
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
}
