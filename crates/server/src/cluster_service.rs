//! `etcdserverpb.Cluster`: the members of the cluster, and changing them.
//!
//! `MemberList` joins the Raft configuration (ids, peer URLs, learners) with
//! the attributes each member published through Raft (name, client URLs),
//! as etcd does: a member that has not published yet has an empty name and
//! no client URLs.
//!
//! Changes are made by the leader: a follower hands the request to the
//! leader's own `Cluster` service and relays its answer. The leader checks
//! what etcd checks, with etcd's errors, then changes the Raft configuration
//! (`raft::RaftNode::add_member` and friends). A member keeps one peer URL in
//! the configuration (the first given).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use api::etcdserverpb::cluster_server::Cluster;
use api::etcdserverpb::{
    Member as PbMember, MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse, MemberUpdateRequest,
    MemberUpdateResponse,
};
use api::membershippb::Attributes;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::credentials;
use crate::error::{EtcdError, EtcdResult};
use crate::forward::{self, LeaderLink};
use crate::member::Member;

/// etcd's `maxLearners`.
const MAX_LEARNERS: usize = 1;
/// etcd promotes a learner whose log is within 10% of the leader's.
const READY_PERCENT: f64 = 0.9;

/// The Cluster service of one member.
pub struct ClusterService {
    member: Arc<Member>,
    leader: LeaderLink,
}

impl ClusterService {
    pub fn new(member: Arc<Member>) -> ClusterService {
        ClusterService { member, leader: LeaderLink::default() }
    }

    fn forward(
        &self,
    ) -> EtcdResult<Option<api::etcdserverpb::cluster_client::ClusterClient<tonic::transport::Channel>>> {
        if LeaderLink::needed(&self.member) { Ok(Some(self.leader.cluster(&self.member)?)) } else { Ok(None) }
    }

    /// Membership changes need the root role (etcd's
    /// `checkMembershipOperationPermission`); the token goes on to the leader.
    async fn admin<T>(&self, request: &Request<T>) -> Result<Option<forward::Token>, Status> {
        let user = credentials::user(&self.member, request).await?;
        self.member.auth.check_admin(user.as_ref()).map_err(EtcdError::from)?;
        Ok(forward::token_of(request.metadata()))
    }

    /// The members after a change, with this member's header.
    fn listed(&self) -> EtcdResult<(Option<api::etcdserverpb::ResponseHeader>, Vec<PbMember>)> {
        let mut header = None;
        self.member.fill_header(&mut header);
        Ok((header, members(&self.member)?))
    }
}

/// The members as `MemberList` answers them, in id order.
pub fn members(member: &Member) -> Result<Vec<PbMember>, EtcdError> {
    let stored = member.store.backend().begin_read().and_then(|r| r.member_attributes());
    let attributes: HashMap<u64, Attributes> = stored
        .map_err(|e| EtcdError::Internal(e.to_string()))?
        .into_iter()
        .filter_map(|(id, bytes)| Attributes::decode(bytes.as_slice()).ok().map(|a| (id, a)))
        .collect();
    Ok(member
        .raft
        .members()
        .into_iter()
        .map(|m| {
            let a = attributes.get(&m.id).cloned().unwrap_or_default();
            PbMember {
                id: m.id,
                name: a.name,
                peer_ur_ls: vec![m.peer_url],
                client_ur_ls: a.client_urls,
                is_learner: m.is_learner,
            }
        })
        .collect())
}

/// etcd's check of member URLs (see [`crate::config::member_url`]).
fn check_urls(urls: &[String]) -> EtcdResult<()> {
    if urls.is_empty() || !urls.iter().all(|u| crate::config::member_url(u).is_ok()) {
        return Err(EtcdError::MemberBadUrls);
    }
    Ok(())
}

/// Whether a voter may be added: etcd's `IsReadyToAddVotingMember` (a member
/// counts as started once it published its name).
fn ready_to_add_voter(members: &[PbMember]) -> bool {
    let voters: Vec<&PbMember> = members.iter().filter(|m| !m.is_learner).collect();
    let started = voters.iter().filter(|m| !m.name.is_empty()).count();
    let after = voters.len() + 1;
    (started == 1 && after == 2) || started > after / 2
}

/// Whether voter `id` may be removed: etcd's `IsReadyToRemoveVotingMember`.
fn ready_to_remove_voter(members: &[PbMember], id: u64) -> bool {
    let rest: Vec<&PbMember> = members.iter().filter(|m| !m.is_learner && m.id != id).collect();
    rest.iter().filter(|m| !m.name.is_empty()).count() > rest.len() / 2
}

fn membership_error(e: raft::MembershipError) -> EtcdError {
    match e {
        raft::MembershipError::Write(w) => w.into(),
        // etcd answers a change racing another with a time-out too.
        raft::MembershipError::InProgress => EtcdError::Timeout,
        raft::MembershipError::Refused(msg) => EtcdError::Internal(msg),
        other => EtcdError::Internal(other.to_string()),
    }
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_list(&self, request: Request<MemberListRequest>) -> Result<Response<MemberListResponse>, Status> {
        if request.into_inner().linearizable {
            self.member.read_index().await?;
        }
        let mut resp = MemberListResponse { header: None, members: members(&self.member)? };
        self.member.fill_header(&mut resp.header);
        Ok(Response::new(resp))
    }

    async fn member_add(&self, request: Request<MemberAddRequest>) -> Result<Response<MemberAddResponse>, Status> {
        let token = self.admin(&request).await?;
        let req = request.into_inner();
        if let Some(mut leader) = self.forward()? {
            return leader.member_add(forward::with_token(req, token.as_ref())).await;
        }
        check_urls(&req.peer_ur_ls)?;
        let members = members(&self.member)?;
        if members.iter().any(|m| m.peer_ur_ls.iter().any(|u| req.peer_ur_ls.contains(u))) {
            return Err(EtcdError::PeerUrlExist.into());
        }
        if req.is_learner && members.iter().filter(|m| m.is_learner).count() >= MAX_LEARNERS {
            return Err(EtcdError::TooManyLearners.into());
        }
        if !req.is_learner && !ready_to_add_voter(&members) {
            return Err(EtcdError::MemberNotEnoughStarted.into());
        }
        // etcd's NewMember("", urls, "", now): the URLs and the time in seconds.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let id = api::identity::member_id(&req.peer_ur_ls, &now.to_string());
        if members.iter().any(|m| m.id == id) {
            return Err(EtcdError::MemberExist.into());
        }
        self.member.raft.add_member(id, &req.peer_ur_ls[0], req.is_learner).await.map_err(membership_error)?;
        tracing::info!(member = %format!("{id:x}"), peer_urls = ?req.peer_ur_ls, learner = req.is_learner, "added member");
        let (header, members) = self.listed()?;
        let added = PbMember { id, peer_ur_ls: req.peer_ur_ls, is_learner: req.is_learner, ..PbMember::default() };
        Ok(Response::new(MemberAddResponse { header, member: Some(added), members }))
    }

    async fn member_remove(
        &self,
        request: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        let token = self.admin(&request).await?;
        let req = request.into_inner();
        if let Some(mut leader) = self.forward()? {
            return leader.member_remove(forward::with_token(req, token.as_ref())).await;
        }
        let members = members(&self.member)?;
        let target = members.iter().find(|m| m.id == req.id).ok_or(EtcdError::MemberNotFound)?;
        if !target.is_learner && !ready_to_remove_voter(&members, req.id) {
            return Err(EtcdError::MemberNotEnoughStarted.into());
        }
        self.member.raft.remove_member(req.id).await.map_err(membership_error)?;
        tracing::info!(member = %format!("{:x}", req.id), "removed member");
        let (header, members) = self.listed()?;
        Ok(Response::new(MemberRemoveResponse { header, members }))
    }

    async fn member_update(
        &self,
        request: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        let token = self.admin(&request).await?;
        let req = request.into_inner();
        if let Some(mut leader) = self.forward()? {
            return leader.member_update(forward::with_token(req, token.as_ref())).await;
        }
        check_urls(&req.peer_ur_ls)?;
        let members = members(&self.member)?;
        if !members.iter().any(|m| m.id == req.id) {
            return Err(EtcdError::MemberNotFound.into());
        }
        if members.iter().any(|m| m.id != req.id && m.peer_ur_ls.iter().any(|u| req.peer_ur_ls.contains(u))) {
            return Err(EtcdError::PeerUrlExist.into());
        }
        self.member.raft.update_member(req.id, &req.peer_ur_ls[0]).await.map_err(membership_error)?;
        tracing::info!(member = %format!("{:x}", req.id), peer_urls = ?req.peer_ur_ls, "updated member");
        let (header, members) = self.listed()?;
        Ok(Response::new(MemberUpdateResponse { header, members }))
    }

    async fn member_promote(
        &self,
        request: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        let token = self.admin(&request).await?;
        let req = request.into_inner();
        if let Some(mut leader) = self.forward()? {
            return leader.member_promote(forward::with_token(req, token.as_ref())).await;
        }
        // etcd's order: the log progress of any member Raft replicates to is
        // checked first (isLearnerReady), so a voter that never started is
        // "not in sync"; then existence; then learner-ness (at apply).
        let (leader_last, matched) = self.member.raft.replication().ok_or(EtcdError::NotLeader)?;
        let progress = if req.id == self.member.member_id { Some(leader_last) } else { matched.get(&req.id).copied() };
        if progress.is_some_and(|m| (m as f64) < (leader_last as f64) * READY_PERCENT) {
            return Err(EtcdError::LearnerNotReady.into());
        }
        let members = members(&self.member)?;
        let target = members.iter().find(|m| m.id == req.id).ok_or(EtcdError::MemberNotFound)?;
        if !target.is_learner {
            return Err(EtcdError::MemberNotLearner.into());
        }
        self.member.raft.promote_member(req.id).await.map_err(membership_error)?;
        tracing::info!(member = %format!("{:x}", req.id), "promoted learner");
        let (header, members) = self.listed()?;
        Ok(Response::new(MemberPromoteResponse { header, members }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: u64, name: &str, learner: bool) -> PbMember {
        PbMember { id, name: name.into(), is_learner: learner, ..PbMember::default() }
    }

    #[test]
    fn urls_are_checked_as_etcd_does() {
        assert!(check_urls(&["http://127.0.0.1:2380".into()]).is_ok());
        for bad in ["127.0.0.1:2380", "http://127.0.0.1", "http://:2380", "ftp://a:1", "http://a:1/path"] {
            assert_eq!(check_urls(&[bad.into()]), Err(EtcdError::MemberBadUrls), "{bad}");
        }
        assert_eq!(check_urls(&[]), Err(EtcdError::MemberBadUrls));
    }

    #[test]
    fn quorum_of_started_members_guards_changes() {
        // One started member may take a second voter (etcd's special case).
        assert!(ready_to_add_voter(&[m(1, "a", false)]));
        // Two voters, one never started: a third would need two started of three.
        assert!(!ready_to_add_voter(&[m(1, "a", false), m(2, "", false)]));
        // Three voters, one not started: a fourth would need three started of four.
        assert!(!ready_to_add_voter(&[m(1, "a", false), m(2, "b", false), m(3, "", false)]));
        assert!(ready_to_add_voter(&[m(1, "a", false), m(2, "b", false), m(3, "c", false), m(4, "", true)]));
        // Removing a started voter of three with one unstarted leaves one of two.
        assert!(!ready_to_remove_voter(&[m(1, "a", false), m(2, "b", false), m(3, "", false)], 1));
        assert!(ready_to_remove_voter(&[m(1, "a", false), m(2, "b", false), m(3, "", false)], 3));
    }
}
