//! [`PeerService`]: the `stratapb.Peer` gRPC service a member serves to the
//! other members, on its peer URL.
//!
//! Raft's own RPCs go straight to openraft; `Propose` and `ReadIndex` serve a
//! follower that forwards its client's request, and never forward again: a
//! member that is not the leader answers `NOT_LEADER` with the leader it knows.

use std::fs::File;
use std::path::Path;

use api::stratapb as pb;
use openraft::async_runtime::WatchReceiver;
use tokio::io::AsyncWriteExt;
use tonic::{Request, Response, Status, Streaming};

use crate::node::OpenRaft;
use crate::peers::CLUSTER_ID_HEADER;
use crate::proposal::{leader_read_index, write_local};
use crate::snapshot::{SnapshotDir, SnapshotFile};
use crate::type_config::Snapshot;
use crate::wire::{self, WireError};

/// The peer service of one member; built by [`crate::RaftNode::peer_service`].
pub struct PeerService {
    raft: OpenRaft,
    snapshots: SnapshotDir,
    cluster_id: u64,
}

impl PeerService {
    pub(crate) fn new(raft: OpenRaft, snapshots: SnapshotDir, cluster_id: u64) -> PeerService {
        PeerService { raft, snapshots, cluster_id }
    }
}

/// Writes `first` and the rest of the stream to `path` and fsyncs it;
/// answers the file opened for reading from its start.
async fn receive(path: &Path, first: Vec<u8>, rest: &mut Streaming<pb::SnapshotChunk>) -> Result<File, Status> {
    let io = |e: std::io::Error| Status::internal(format!("writing the received snapshot: {e}"));
    let mut out = tokio::fs::File::create(path).await.map_err(io)?;
    out.write_all(&first).await.map_err(io)?;
    while let Some(chunk) = rest.message().await? {
        out.write_all(&chunk.data).await.map_err(io)?;
    }
    out.sync_all().await.map_err(io)?;
    drop(out);
    File::open(path).map_err(io)
}

impl PeerService {
    /// Refuses the votes of a member the configuration does not have: one
    /// removed from the cluster (and restarted on its old log) must not win
    /// votes or push the term up under the cluster.
    fn check_member(&self, candidate: u64) -> Result<(), Status> {
        let known = {
            let metrics = self.raft.metrics().borrow_watched().clone();
            let membership = metrics.membership_config.membership();
            membership.nodes().next().is_none() || membership.nodes().any(|(id, _)| *id == candidate)
        };
        if known {
            return Ok(());
        }
        Err(Status::permission_denied(format!("member {candidate:x} is not in the cluster's configuration (removed?)")))
    }

    /// A vote or pre-vote request, from a member of this cluster's configuration only.
    async fn vote_or_pre_vote(
        &self,
        request: Request<pb::VoteRequest>,
        pre: bool,
    ) -> Result<Response<pb::VoteResponse>, Status> {
        self.check_cluster(&request)?;
        let rpc = wire::vote_request_from_pb(request.into_inner()).map_err(|e| invalid(&e))?;
        self.check_member(rpc.vote.leader_id.node_id)?;
        let resp = if pre { self.raft.pre_vote(rpc).await } else { self.raft.vote(rpc).await };
        Ok(Response::new(wire::vote_response_to_pb(&resp.map_err(|e| stopped(&e))?)))
    }

    /// Refuses a request from a member of another cluster.
    fn check_cluster<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let want = format!("{:x}", self.cluster_id);
        let got = request.metadata().get(CLUSTER_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if got == want {
            return Ok(());
        }
        tracing::warn!(got, want = %want, "raft: refused a peer request of another cluster");
        Err(Status::failed_precondition(format!("request cluster ID mismatch (got {got} want {want})")))
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
        self.check_cluster(&request)?;
        let rpc = wire::append_request_from_pb(request.into_inner()).map_err(|e| invalid(&e))?;
        let resp = self.raft.append_entries(rpc).await.map_err(|e| stopped(&e))?;
        Ok(Response::new(wire::append_response_to_pb(&resp)))
    }

    async fn vote(&self, request: Request<pb::VoteRequest>) -> Result<Response<pb::VoteResponse>, Status> {
        self.vote_or_pre_vote(request, false).await
    }

    async fn pre_vote(&self, request: Request<pb::VoteRequest>) -> Result<Response<pb::VoteResponse>, Status> {
        self.vote_or_pre_vote(request, true).await
    }

    /// Writes the streamed snapshot to a file of its own, makes it durable,
    /// then hands it to openraft, which installs it unless it is stale. A
    /// stream that ends in an error (the leader gave up) installs nothing,
    /// and whatever was not installed is removed.
    async fn install_snapshot(
        &self,
        request: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::InstallSnapshotResponse>, Status> {
        self.check_cluster(&request)?;
        let mut chunks = request.into_inner();
        let first = chunks.message().await?.ok_or_else(|| Status::invalid_argument("empty snapshot stream"))?;
        let (vote, meta) = wire::snapshot_header_from_pb(first.header).map_err(|e| invalid(&e))?;
        let path = self.snapshots.receiving();
        let received = receive(&path, first.data, &mut chunks).await;
        let installed = match received {
            Ok(file) => {
                let snapshot = Snapshot { meta, snapshot: SnapshotFile { path: path.clone(), file } };
                self.raft.install_full_snapshot(vote, snapshot).await.map_err(|e| stopped(&e))
            }
            Err(status) => Err(status),
        };
        // Installed, it was renamed; stale or broken, it goes.
        let _ = tokio::fs::remove_file(&path).await;
        Ok(Response::new(wire::snapshot_response_to_pb(&installed?)))
    }

    async fn propose(&self, request: Request<pb::ProposeRequest>) -> Result<Response<pb::ProposeResponse>, Status> {
        self.check_cluster(&request)?;
        let resp = match write_local(&self.raft, request.into_inner().data).await {
            Ok((index, response)) => pb::ProposeResponse { error: None, index, response },
            Err(e) => {
                pb::ProposeResponse { error: Some(wire::write_error_to_pb(&e)), ..pb::ProposeResponse::default() }
            }
        };
        Ok(Response::new(resp))
    }

    async fn transfer_leader(
        &self,
        request: Request<pb::TransferLeaderRequest>,
    ) -> Result<Response<pb::TransferLeaderResponse>, Status> {
        self.check_cluster(&request)?;
        let req = wire::transfer_leader_from_pb(request.into_inner()).map_err(|e| invalid(&e))?;
        let resp = self.raft.handle_transfer_leader(req).await.map_err(|e| stopped(&e))?;
        let rejected = resp.err().map(|e| e.to_string()).unwrap_or_default();
        Ok(Response::new(pb::TransferLeaderResponse { rejected }))
    }

    async fn members(&self, _: Request<pb::MembersRequest>) -> Result<Response<pb::MembersResponse>, Status> {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let members = crate::membership::members_of(&metrics)
            .into_iter()
            .map(|m| pb::PeerMember { id: m.id, peer_url: m.peer_url, is_learner: m.is_learner })
            .collect();
        Ok(Response::new(pb::MembersResponse { cluster_id: self.cluster_id, members }))
    }

    async fn read_index(
        &self,
        request: Request<pb::ReadIndexRequest>,
    ) -> Result<Response<pb::ReadIndexResponse>, Status> {
        self.check_cluster(&request)?;
        let resp = match leader_read_index(&self.raft).await {
            Ok(index) => pb::ReadIndexResponse { error: None, index },
            Err(e) => pb::ReadIndexResponse { error: Some(wire::write_error_to_pb(&e)), index: 0 },
        };
        Ok(Response::new(resp))
    }
}
