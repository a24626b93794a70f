//! [`NetworkFactory`] and [`Network`]: openraft's RPCs to one peer, over the
//! `stratapb.Peer` gRPC service at the peer URL stored in the membership.
//!
//! Every call is bounded by openraft's `RPCOption::soft_ttl`. Failures map to
//! openraft's errors by what openraft should do next: a peer that cannot be
//! reached (`Unavailable`: connection refused or lost, member stopping) is
//! `Unreachable`, so openraft backs off before retrying; a call that ran out
//! of time is `Timeout`; anything else (a message that does not decode) is a
//! `Network` error.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use api::stratapb as pb;
use api::stratapb::peer_client::PeerClient;
use futures::StreamExt;
use openraft::errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable};
use openraft::network::{RPCOption, RPCTypes, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest, TransferLeaderResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, OptionalSend};
use tokio::sync::watch;
use tonic::transport::Channel;

use crate::peers::Peers;
use crate::type_config::{Snapshot, SnapshotData, TypeConfig, Vote};
use crate::wire::{self, WireError};

/// The transfer rate an AppendEntries deadline allows for its payload, on
/// top of openraft's: 10 MB/s, a slow disk's fsync throughput.
const APPEND_BYTES_PER_MS: usize = 10_000;

/// Snapshot chunk size when openraft does not suggest one.
const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

/// Creates a [`Network`] per peer; all of them share the channels in [`Peers`].
pub(crate) struct NetworkFactory {
    /// This member's id, named in timeout errors.
    pub(crate) id: u64,
    pub(crate) peers: Arc<Peers>,
}

/// openraft's client for one peer.
pub(crate) struct Network {
    id: u64,
    target: u64,
    peers: Arc<Peers>,
    /// `Err` holds why the peer URL in the membership is unusable.
    client: Result<PeerClient<Channel>, String>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Network;

    /// Does not connect: the channel connects on the first RPC.
    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Network {
        let client = self.peers.client(&node.addr).map_err(|e| format!("peer URL {:?}: {e}", node.addr));
        Network { id: self.id, target, peers: Arc::clone(&self.peers), client }
    }
}

impl Network {
    fn client(&self) -> Result<PeerClient<Channel>, Unreachable<TypeConfig>> {
        self.client.clone().map_err(|e| Unreachable::from_string(format!("member {:x}: {e}", self.target)))
    }

    fn timeout(&self, action: RPCTypes, timeout: Duration) -> Timeout<TypeConfig> {
        Timeout { action, id: self.id, target: self.target, timeout }
    }

    /// Sends one unary RPC with openraft's deadline (also sent to the peer as
    /// `grpc-timeout`, so it gives up too).
    async fn call<Req, Resp, Fut>(
        &self,
        action: RPCTypes,
        option: &RPCOption,
        message: Req,
        send: impl FnOnce(PeerClient<Channel>, tonic::Request<Req>) -> Fut,
    ) -> Result<Resp, RPCError<TypeConfig>>
    where
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        self.call_within(action, option.soft_ttl(), message, send).await
    }

    /// [`Network::call`] with a deadline of its own.
    async fn call_within<Req, Resp, Fut>(
        &self,
        action: RPCTypes,
        ttl: Duration,
        message: Req,
        send: impl FnOnce(PeerClient<Channel>, tonic::Request<Req>) -> Fut,
    ) -> Result<Resp, RPCError<TypeConfig>>
    where
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let client = self.client()?;
        let mut request = self.peers.request(message);
        request.set_timeout(ttl);
        match tokio::time::timeout(ttl, send(client, request)).await {
            Err(_) => Err(RPCError::Timeout(self.timeout(action, ttl))),
            Ok(Err(status)) => Err(self.rpc_error(action, ttl, &status)),
            Ok(Ok(resp)) => Ok(resp.into_inner()),
        }
    }

    fn rpc_error(&self, action: RPCTypes, ttl: Duration, status: &tonic::Status) -> RPCError<TypeConfig> {
        if action == RPCTypes::Vote && status.code() == tonic::Code::PermissionDenied {
            tracing::warn!(peer = %format!("{:x}", self.target), reason = status.message(), "raft: a member refused to hear this one");
            self.peers.refused_by(self.target);
        }
        match status.code() {
            tonic::Code::Unavailable => RPCError::Unreachable(Unreachable::new(status)),
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => RPCError::Timeout(self.timeout(action, ttl)),
            _ => RPCError::Network(NetworkError::new(status)),
        }
    }
}

/// The file's bytes in pieces of `chunk_bytes`, read on a blocking thread a
/// couple of pieces ahead of the transport (constant memory, whatever the
/// size). An empty file is one empty piece, so the header always goes out;
/// a read error ends the stream early, which the receiver refuses.
fn read_chunks(mut file: std::fs::File, chunk_bytes: usize) -> impl futures::Stream<Item = Vec<u8>> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut sent = false;
        loop {
            let mut buf = Vec::with_capacity(chunk_bytes);
            match (&mut file).take(chunk_bytes as u64).read_to_end(&mut buf) {
                Ok(0) if sent => return,
                Ok(_) => {
                    sent = true;
                    if tx.blocking_send(buf).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "raft: reading the snapshot to send failed");
                    return;
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

fn io_rpc_error(e: &std::io::Error) -> RPCError<TypeConfig> {
    RPCError::Network(NetworkError::new(e))
}

fn undecodable(e: &WireError) -> RPCError<TypeConfig> {
    RPCError::Network(NetworkError::new(e))
}

impl RaftNetworkV2<TypeConfig> for Network {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let message = wire::append_request_to_pb(rpc);
        // openraft gives every AppendEntries one heartbeat interval (75 ms of
        // it), enough for heartbeats and small batches; a batch of large
        // values (300 entries of 32 KB is 9.6 MB) needs time to travel and be
        // fsynced, or it times out and is sent again and again.
        let bytes: usize = message.entries.iter().map(|e| e.data.len()).sum();
        let ttl = option.soft_ttl() + Duration::from_millis((bytes / APPEND_BYTES_PER_MS) as u64);
        let resp = self
            .call_within(RPCTypes::AppendEntries, ttl, message, |mut c, r| async move { c.append_entries(r).await })
            .await?;
        wire::append_response_from_pb(resp).map_err(|e| undecodable(&e))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let message = wire::vote_request_to_pb(&rpc);
        let resp = self.call(RPCTypes::Vote, &option, message, |mut c, r| async move { c.vote(r).await }).await?;
        wire::vote_response_from_pb(resp).map_err(|e| undecodable(&e))
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let message = wire::vote_request_to_pb(&rpc);
        let resp = self.call(RPCTypes::Vote, &option, message, |mut c, r| async move { c.pre_vote(r).await }).await?;
        wire::vote_response_from_pb(resp).map_err(|e| undecodable(&e))
    }

    /// The leader asks `target` to take over (openraft only logs the answer).
    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        let message = wire::transfer_leader_to_pb(&req);
        let resp = self
            .call(RPCTypes::TransferLeader, &option, message, |mut c, r| async move { c.transfer_leader(r).await })
            .await?;
        if resp.rejected.is_empty() {
            Ok(Ok(()))
        } else {
            Err(RPCError::Network(NetworkError::from_string(resp.rejected)))
        }
    }

    /// Streams the snapshot in chunks. `soft_ttl` bounds the wait for the
    /// transport to take each next chunk (progress, not the whole transfer);
    /// once all are sent, the wait for the peer to install it is bounded only
    /// by `cancel`.
    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let mut client = self.client()?;
        let chunk_bytes = option.snapshot_chunk_size().unwrap_or(SNAPSHOT_CHUNK_BYTES).max(1);
        let total = snapshot.snapshot.file.metadata().map_err(|e| StreamingError::from(io_rpc_error(&e)))?.len();
        let chunks = read_chunks(snapshot.snapshot.file, chunk_bytes);
        let header = wire::snapshot_header_to_pb(&vote, &snapshot.meta);
        let mut first = true;
        let (progress, mut taken) = watch::channel(0usize);
        let total_chunks = (total as usize).div_ceil(chunk_bytes).max(1);
        let stream = chunks.map(move |data| {
            progress.send_modify(|n| *n += 1);
            let header = if std::mem::take(&mut first) { Some(header.clone()) } else { None };
            pb::SnapshotChunk { header, data }
        });
        let call = client.install_snapshot(self.peers.request(stream));
        tokio::pin!(call, cancel);
        let idle = option.soft_ttl();
        let mut sending = true;
        loop {
            tokio::select! {
                resp = &mut call => {
                    let resp = resp.map_err(|s| StreamingError::from(self.rpc_error(RPCTypes::InstallSnapshot, idle, &s)))?;
                    return wire::snapshot_response_from_pb(resp.into_inner())
                        .map_err(|e| StreamingError::Network(NetworkError::new(&e)));
                }
                closed = &mut cancel => return Err(StreamingError::Closed(closed)),
                changed = tokio::time::timeout(idle, taken.changed()), if sending => match changed {
                    Ok(Ok(())) => sending = *taken.borrow_and_update() < total_chunks,
                    // The stream was dropped: every chunk is sent.
                    Ok(Err(_)) => sending = false,
                    Err(_) => return Err(StreamingError::Timeout(self.timeout(RPCTypes::InstallSnapshot, idle))),
                },
            }
        }
    }
}
