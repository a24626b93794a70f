//! `etcdserverpb.Cluster`: the members of the cluster.
//!
//! `MemberList` joins the Raft configuration (ids, peer URLs, learners) with
//! the attributes each member published through Raft (name, client URLs),
//! as etcd does: a member that has not published yet has an empty name and
//! no client URLs. Membership changes (add, remove, update, promote) are not
//! built yet and answer `Unimplemented`.

use std::collections::HashMap;
use std::sync::Arc;

use api::etcdserverpb::cluster_server::Cluster;
use api::etcdserverpb::{
    Member as PbMember, MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse, MemberUpdateRequest,
    MemberUpdateResponse,
};
use api::membershippb::Attributes;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::error::EtcdError;
use crate::member::Member;

/// The Cluster service of one member.
pub struct ClusterService {
    member: Arc<Member>,
}

impl ClusterService {
    pub fn new(member: Arc<Member>) -> ClusterService {
        ClusterService { member }
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

fn not_built(what: &str) -> Status {
    Status::unimplemented(format!("{what} is not built yet (issue 6)"))
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

    async fn member_add(&self, _request: Request<MemberAddRequest>) -> Result<Response<MemberAddResponse>, Status> {
        Err(not_built("MemberAdd"))
    }

    async fn member_remove(
        &self,
        _request: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        Err(not_built("MemberRemove"))
    }

    async fn member_update(
        &self,
        _request: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        Err(not_built("MemberUpdate"))
    }

    async fn member_promote(
        &self,
        _request: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        Err(not_built("MemberPromote"))
    }
}
