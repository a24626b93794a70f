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

use crate::member::Member;

/// The Maintenance service of one member.
pub struct MaintenanceService {
    member: Arc<Member>,
}

impl MaintenanceService {
    pub fn new(member: Arc<Member>) -> MaintenanceService {
        MaintenanceService { member }
    }
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<SnapshotResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, _request: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        let _ = &self.member;
        Err(Status::unimplemented(""))
    }

    async fn status(&self, _request: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        Err(Status::unimplemented(""))
    }

    async fn defragment(&self, _request: Request<DefragmentRequest>) -> Result<Response<DefragmentResponse>, Status> {
        Err(Status::unimplemented(""))
    }

    async fn hash(&self, _request: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        Err(Status::unimplemented(""))
    }

    async fn hash_kv(&self, _request: Request<HashKvRequest>) -> Result<Response<HashKvResponse>, Status> {
        Err(Status::unimplemented(""))
    }

    type SnapshotStream = SnapshotStream;

    async fn snapshot(&self, _request: Request<SnapshotRequest>) -> Result<Response<SnapshotStream>, Status> {
        Err(Status::unimplemented(""))
    }

    async fn move_leader(&self, _request: Request<MoveLeaderRequest>) -> Result<Response<MoveLeaderResponse>, Status> {
        Err(Status::unimplemented(""))
    }

    async fn downgrade(&self, _request: Request<DowngradeRequest>) -> Result<Response<DowngradeResponse>, Status> {
        Err(Status::unimplemented("unknown method Downgrade for service etcdserverpb.Maintenance"))
    }
}
