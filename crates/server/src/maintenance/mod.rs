//! `etcdserverpb.Maintenance`: status, alarms, hashes, defragmentation,
//! snapshots and leadership transfer for one member.
//!
//! Each RPC lives in its own file; this module only routes them.

use std::pin::Pin;
use std::sync::Arc;

use api::etcdserverpb::maintenance_server::Maintenance;
use api::etcdserverpb::{
    AlarmRequest, AlarmResponse, DefragmentRequest, DefragmentResponse, DowngradeRequest, DowngradeResponse,
    HashKvRequest, HashKvResponse, HashRequest, HashResponse, MoveLeaderRequest, MoveLeaderResponse, SnapshotRequest,
    SnapshotResponse, StatusRequest, StatusResponse,
};
use futures::Stream;
use tonic::{Request, Response, Status};

use crate::credentials;
use crate::error::EtcdError;
use crate::member::Member;

mod alarm;
mod defrag;
mod downgrade;
mod snapshot;
mod status;

pub use alarm::disarm_when_below_low_water;
pub use downgrade::monitor_cluster_version;

/// The Maintenance service of one member.
pub struct MaintenanceService {
    member: Arc<Member>,
}

impl MaintenanceService {
    pub fn new(member: Arc<Member>) -> MaintenanceService {
        MaintenanceService { member }
    }

    /// etcd's `authMaintenanceServer.isPermitted`: the root role.
    async fn admin<T>(&self, req: &Request<T>) -> Result<Option<auth::AuthInfo>, Status> {
        let user = credentials::user(&self.member, req).await?;
        self.member.auth.check_admin(user.as_ref()).map_err(EtcdError::from)?;
        Ok(user)
    }

    /// etcd's `requireAuthInfo`: someone, while auth is enabled.
    async fn someone<T>(&self, req: &Request<T>) -> Result<Option<auth::AuthInfo>, Status> {
        let user = credentials::user(&self.member, req).await?;
        self.member.auth.require_user(user.as_ref()).map_err(EtcdError::from)?;
        Ok(user)
    }
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<SnapshotResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, request: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        let user = if request.get_ref().action == api::etcdserverpb::alarm_request::AlarmAction::Get as i32 {
            self.someone(&request).await?
        } else {
            self.admin(&request).await?
        };
        Ok(Response::new(alarm::alarm(&self.member, request.into_inner(), user.as_ref()).await?))
    }

    async fn status(&self, request: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        self.someone(&request).await?;
        Ok(Response::new(status::status(&self.member)))
    }

    async fn defragment(&self, request: Request<DefragmentRequest>) -> Result<Response<DefragmentResponse>, Status> {
        self.admin(&request).await?;
        Ok(Response::new(defrag::defragment(&self.member).await?))
    }

    async fn hash(&self, request: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        self.admin(&request).await?;
        Ok(Response::new(status::hash(&self.member).await?))
    }

    async fn hash_kv(&self, request: Request<HashKvRequest>) -> Result<Response<HashKvResponse>, Status> {
        self.admin(&request).await?;
        Ok(Response::new(status::hash_kv(&self.member, request.into_inner().revision).await?))
    }

    type SnapshotStream = SnapshotStream;

    async fn snapshot(&self, request: Request<SnapshotRequest>) -> Result<Response<SnapshotStream>, Status> {
        self.admin(&request).await?;
        Ok(Response::new(snapshot::snapshot(&self.member)))
    }

    /// A single member can only "move" leadership to itself, which etcd
    /// answers at once; any other id is not a member.
    async fn move_leader(&self, request: Request<MoveLeaderRequest>) -> Result<Response<MoveLeaderResponse>, Status> {
        self.admin(&request).await?;
        let target = request.into_inner().target_id;
        if self.member.raft.leader() != Some(self.member.member_id) {
            return Err(EtcdError::NotLeader.into());
        }
        let voter = self.member.raft.members().iter().any(|m| m.id == target && !m.is_learner);
        if !voter {
            return Err(EtcdError::BadLeaderTransferee.into());
        }
        // etcd waits for the transfer as long as a request may take.
        let within = crate::member::REQUEST_TIMEOUT;
        self.member.raft.transfer_leader(target, within).await.map_err(|e| match e {
            raft::MembershipError::Write(w) => EtcdError::from(w),
            other => EtcdError::Internal(other.to_string()),
        })?;
        tracing::info!(to = %format!("{target:x}"), "moved leadership");
        // etcd 3.4 answers an empty response, without a header.
        Ok(Response::new(MoveLeaderResponse::default()))
    }

    async fn downgrade(&self, request: Request<DowngradeRequest>) -> Result<Response<DowngradeResponse>, Status> {
        self.admin(&request).await?;
        Ok(Response::new(downgrade::downgrade(&self.member, request.into_inner()).await?))
    }
}
