//! Changing the Raft configuration (etcd's `MemberAdd`, `MemberRemove`,
//! `MemberUpdate`, `MemberPromote`) and handing leadership over (`MoveLeader`).
//!
//! Every change is made by the leader; the server sends the client's request
//! there. A voter is added the way etcd users expect it, before its process
//! runs: it enters as a learner (one entry, committed by the current voters)
//! and is then made a voter by a joint-consensus change that is left running
//! in the background, because a new voter's vote may be needed to commit it
//! (a one-member cluster becomes a two-member one that waits for the second,
//! as etcd's does). The call returns once the change is in the leader's log.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::{ClientWriteError, Fatal, RaftError as OpenRaftError};
use openraft::{BasicNode, ChangeMembers, RaftMetrics};

use crate::error::WriteError;
use crate::node::{RaftMember, RaftNode};
use crate::type_config::TypeConfig;

/// How long a membership change may take to commit.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a membership change or a leadership transfer did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MembershipError {
    /// Not the leader, no leader, timed out, stopped: as for a write.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Another membership change has not finished yet.
    #[error("raft: a membership change is in progress")]
    InProgress,
    /// openraft refused the change (it names why).
    #[error("raft: {0}")]
    Refused(String),
}

/// The members of the configuration `metrics` carries, in id order.
pub(crate) fn members_of(metrics: &RaftMetrics<TypeConfig>) -> Vec<RaftMember> {
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    membership
        .nodes()
        .map(|(id, node)| RaftMember { id: *id, peer_url: node.addr.clone(), is_learner: !voters.contains(id) })
        .collect()
}

fn change_error(e: OpenRaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> MembershipError {
    match e {
        OpenRaftError::APIError(ClientWriteError::ForwardToLeader(f)) => match f.leader_id {
            None => WriteError::NoLeader.into(),
            leader => WriteError::NotLeader { leader }.into(),
        },
        OpenRaftError::APIError(ClientWriteError::LogEntryDiscarded(f)) => {
            WriteError::LeaderChanged { leader: f.leader_id }.into()
        }
        OpenRaftError::APIError(ClientWriteError::ChangeMembershipError(
            openraft::errors::ChangeMembershipError::InProgress(_),
        )) => MembershipError::InProgress,
        OpenRaftError::APIError(other) => MembershipError::Refused(other.to_string()),
        OpenRaftError::Fatal(Fatal::Stopped) => WriteError::Stopped.into(),
        OpenRaftError::Fatal(f) => WriteError::Fatal(f.to_string()).into(),
    }
}

impl RaftNode {
    fn ensure_leader(&self) -> Result<(), MembershipError> {
        match self.leader() {
            Some(l) if l == self.inner.node_id => Ok(()),
            None => Err(WriteError::NoLeader.into()),
            leader => Err(WriteError::NotLeader { leader }.into()),
        }
    }

    async fn change(&self, change: ChangeMembers<u64, BasicNode>) -> Result<(), MembershipError> {
        let call = self.inner.raft.change_membership(change, false);
        match tokio::time::timeout(CHANGE_TIMEOUT, call).await {
            Err(_) => Err(WriteError::Timeout.into()),
            Ok(result) => result.map(|_| ()).map_err(change_error),
        }
    }

    /// Adds member `id` at `peer_url`, a learner or a voter (see the module
    /// doc). Leader only.
    pub async fn add_member(&self, id: u64, peer_url: &str, learner: bool) -> Result<(), MembershipError> {
        self.ensure_leader()?;
        let add = self.inner.raft.add_learner(id, BasicNode::new(peer_url), false);
        match tokio::time::timeout(CHANGE_TIMEOUT, add).await {
            Err(_) => return Err(WriteError::Timeout.into()),
            Ok(result) => result.map_err(change_error)?,
        };
        if learner {
            return Ok(());
        }
        let raft = self.inner.raft.clone();
        let (done_tx, done) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let result = raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false).await;
            if let Err(e) = &result {
                tracing::warn!(member = %format!("{id:x}"), error = %e, "raft: making the new member a voter failed");
            }
            let _ = done_tx.send(result.map(|_| ()).map_err(change_error));
        });
        let wait = self.inner.raft.wait(Some(CHANGE_TIMEOUT));
        let in_log = wait
            .metrics(|m| m.membership_config.membership().voter_ids().any(|v| v == id), "the new voter is in the log");
        tokio::select! {
            waited = in_log => waited.map(|_| ()).map_err(|_| WriteError::Timeout.into()),
            Ok(Err(e)) = done => Err(e),
        }
    }

    /// Removes member `id`, voter or learner. Leader only; returns once the
    /// configuration without it is committed.
    pub async fn remove_member(&self, id: u64) -> Result<(), MembershipError> {
        self.ensure_leader()?;
        let is_voter = self.inner.raft.voter_ids().any(|v| v == id);
        let ids = BTreeSet::from([id]);
        self.change(if is_voter { ChangeMembers::RemoveVoters(ids) } else { ChangeMembers::RemoveNodes(ids) }).await
    }

    /// Gives member `id` a new peer URL. Leader only.
    pub async fn update_member(&self, id: u64, peer_url: &str) -> Result<(), MembershipError> {
        self.ensure_leader()?;
        self.change(ChangeMembers::SetNodes(BTreeMap::from([(id, BasicNode::new(peer_url))]))).await
    }

    /// Makes learner `id` a voter. Leader only.
    pub async fn promote_member(&self, id: u64) -> Result<(), MembershipError> {
        self.ensure_leader()?;
        self.change(ChangeMembers::AddVoterIds(BTreeSet::from([id]))).await
    }

    /// Whether this member has been removed from the cluster: its own
    /// configuration still has it (the configuration without it is never
    /// replicated to it), but at least half of the other voters it knows
    /// refused its votes because theirs does not.
    pub fn is_removed(&self) -> bool {
        let refusals = self.inner.peers.refusals();
        if refusals == 0 {
            return false;
        }
        let id = self.inner.node_id;
        let others =
            self.inner.metrics.borrow_watched().membership_config.membership().voter_ids().filter(|v| *v != id).count();
        refusals >= others.div_ceil(2).max(1)
    }

    /// Whether this member is a learner of the configuration it knows.
    pub fn is_learner(&self) -> bool {
        let id = self.inner.node_id;
        let metrics = self.inner.metrics.borrow_watched();
        let membership = metrics.membership_config.membership();
        membership.nodes().any(|(n, _)| *n == id) && !membership.voter_ids().any(|v| v == id)
    }

    /// On the leader: its last log index and, per other member, the index of
    /// the last entry known to be replicated there. `None` elsewhere.
    pub fn replication(&self) -> Option<(u64, BTreeMap<u64, u64>)> {
        let metrics = self.inner.metrics.borrow_watched();
        let replication = metrics.replication.as_ref()?;
        let matched = replication.iter().map(|(id, log_id)| (*id, log_id.as_ref().map_or(0, |l| l.index))).collect();
        Some((metrics.last_log_index.unwrap_or(0), matched))
    }

    /// Hands leadership to voter `to` and waits (at most `within`) until this
    /// member sees it lead. Leader only.
    pub async fn transfer_leader(&self, to: u64, within: Duration) -> Result<(), MembershipError> {
        self.ensure_leader()?;
        if to == self.inner.node_id {
            return Ok(());
        }
        self.inner.raft.trigger().transfer_leader(to).await.map_err(|_| WriteError::Stopped)?;
        self.inner
            .raft
            .wait(Some(within))
            .metrics(|m| m.current_leader == Some(to), "the new leader leads")
            .await
            .map(|_| ())
            .map_err(|_| WriteError::Timeout.into())
    }
}

/// Asks the members at `peer_urls` for their cluster id and configuration,
/// as a member started with `--initial-cluster-state existing` does to learn
/// who it is; the first that answers wins. Errors name every URL tried.
pub async fn fetch_cluster(peer_urls: &[String], timeout: Duration) -> Result<(u64, Vec<RaftMember>), String> {
    let mut failures = Vec::new();
    for url in peer_urls {
        let endpoint = match tonic::transport::Endpoint::from_shared(url.clone()) {
            Ok(e) => e.connect_timeout(timeout).timeout(timeout),
            Err(e) => {
                failures.push(format!("{url}: {e}"));
                continue;
            }
        };
        let answer = async {
            let mut client =
                api::stratapb::peer_client::PeerClient::connect(endpoint).await.map_err(|e| e.to_string())?;
            client.members(api::stratapb::MembersRequest {}).await.map_err(|s| s.message().to_string())
        };
        match answer.await {
            Ok(resp) => {
                let resp = resp.into_inner();
                let members = resp
                    .members
                    .into_iter()
                    .map(|m| RaftMember { id: m.id, peer_url: m.peer_url, is_learner: m.is_learner })
                    .collect();
                return Ok((resp.cluster_id, members));
            }
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    Err(failures.join("; "))
}
