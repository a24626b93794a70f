//! [`PeerService`]: the `stratapb.Peer` gRPC service a member serves to the
//! other members, on its peer URL.
//!
//! Raft's own RPCs go straight to openraft; `Propose` and `ReadIndex` serve a
//! follower that forwards its client's request, and never forward again: a
//! member that is not the leader answers `NOT_LEADER` with the leader it knows.

use std::io::Cursor;

use api::stratapb as pb;
use tonic::{Request, Response, Status, Streaming};

use crate::node::{OpenRaft, leader_read_index, write_local};
use crate::type_config::Snapshot;
use crate::wire::{self, WireError};

/// The peer service of one member; built by [`crate::RaftNode::peer_service`].
pub struct PeerService {
    raft: OpenRaft,
}

impl PeerService {
    pub(crate) fn new(raft: OpenRaft) -> PeerService {
        PeerService { raft }
    }
}

fn invalid(e: &WireError) -> Status {
    Status::invalid_argument(e.to_string())
}

/// openraft stopped (shutdown or a storage failure): the sender treats the
/// member as unreachable and backs off.
fn stopped(e: &impl std::fmt::Display) -> Status {
    Status::unavailable(format!("raft: {e}"))
}

#[tonic::async_trait]
impl pb::peer_server::Peer for PeerService {
    async fn append_entries(
        &self,
        request: Request<pb::AppendEntriesRequest>,
    ) -> Result<Response<pb::AppendEntriesResponse>, Status> {
        let rpc = wire::append_request_from_pb(request.into_inner()).map_err(|e| invalid(&e))?;
        let resp = self.raft.append_entries(rpc).await.map_err(|e| stopped(&e))?;
        Ok(Response::new(wire::append_response_to_pb(&resp)))
    }

    async fn vote(&self, request: Request<pb::VoteRequest>) -> Result<Response<pb::VoteResponse>, Status> {
        let rpc = wire::vote_request_from_pb(request.into_inner()).map_err(|e| invalid(&e))?;
        let resp = self.raft.vote(rpc).await.map_err(|e| stopped(&e))?;
        Ok(Response::new(wire::vote_response_to_pb(&resp)))
    }

    /// Collects the whole snapshot, then hands it to openraft. A stream that
    /// ends in an error (the leader gave up) installs nothing.
    ///
    /// The leader never sends one yet: the log is never purged, so every
    /// follower catches up from the log, and the state machine cannot install
    /// a snapshot (TODO(issue 6): snapshots).
    async fn install_snapshot(
        &self,
        request: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::InstallSnapshotResponse>, Status> {
        let mut chunks = request.into_inner();
        let first = chunks.message().await?.ok_or_else(|| Status::invalid_argument("empty snapshot stream"))?;
        let (vote, meta) = wire::snapshot_header_from_pb(first.header).map_err(|e| invalid(&e))?;
        let mut data = first.data;
        while let Some(chunk) = chunks.message().await? {
            data.extend_from_slice(&chunk.data);
        }
        let snapshot = Snapshot { meta, snapshot: Cursor::new(data) };
        let resp = self.raft.install_full_snapshot(vote, snapshot).await.map_err(|e| stopped(&e))?;
        Ok(Response::new(wire::snapshot_response_to_pb(&resp)))
    }

    async fn propose(&self, request: Request<pb::ProposeRequest>) -> Result<Response<pb::ProposeResponse>, Status> {
        let resp = match write_local(&self.raft, request.into_inner().data).await {
            Ok((index, response)) => pb::ProposeResponse { error: None, index, response },
            Err(e) => {
                pb::ProposeResponse { error: Some(wire::write_error_to_pb(&e)), ..pb::ProposeResponse::default() }
            }
        };
        Ok(Response::new(resp))
    }

    async fn read_index(&self, _: Request<pb::ReadIndexRequest>) -> Result<Response<pb::ReadIndexResponse>, Status> {
        let resp = match leader_read_index(&self.raft).await {
            Ok(index) => pb::ReadIndexResponse { error: None, index },
            Err(e) => pb::ReadIndexResponse { error: Some(wire::write_error_to_pb(&e)), index: 0 },
        };
        Ok(Response::new(resp))
    }
}
