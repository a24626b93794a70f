//! Proposals and read indexes on any member: a follower forwards them to the
//! leader, and a request that finds no leader waits for one (an election or a
//! leadership transfer) for up to two election timeouts before failing.

use std::time::Duration;

use openraft::ReadPolicy;
use openraft::async_runtime::WatchReceiver;

use crate::error::{WriteError, client_write_error, fatal_error, linearizable_read_error};
use crate::node::{OpenRaft, RaftNode};
use crate::type_config::Request;

/// The pause between two attempts of a request that found no leader.
const LEADER_RETRY_PAUSE: Duration = Duration::from_millis(20);

impl RaftNode {
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
    pub async fn wait_applied(&self, index: u64) -> Result<(), WriteError> {
        let mut applied = self.inner.applied.subscribe();
        tokio::select! {
            reached = applied.wait_for(|applied| *applied >= index) => reached.map(|_| ()).map_err(|_| WriteError::Stopped),
            () = self.inner.released.closed() => Err(WriteError::Stopped),
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
