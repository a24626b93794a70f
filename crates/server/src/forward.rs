//! Requests only the leader can answer, sent on from a follower: lease
//! keep-alives and time-to-live (only the leader's lessor counts down; etcd
//! forwards these to its leader too) and membership changes.
//!
//! A follower calls the leader's own `Lease` service on the client URL the
//! leader published (`cluster_member_attr_set`), over one cached channel per
//! leader.

use std::sync::Mutex;

use api::etcdserverpb::cluster_client::ClusterClient;
use api::etcdserverpb::lease_client::LeaseClient;
use api::etcdserverpb::{LeaseKeepAliveRequest, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse};
use tonic::Status;
use tonic::transport::{Channel, Endpoint};

use crate::cluster_service;
use crate::error::{EtcdError, EtcdResult};
use crate::member::{Member, REQUEST_TIMEOUT};

/// A channel to the current leader's client URL, remade when leadership moves.
#[derive(Default)]
pub struct LeaderLink {
    cached: Mutex<Option<(u64, Channel)>>,
}

impl LeaderLink {
    /// Whether this member must forward (it is not the leader).
    pub fn needed(member: &Member) -> bool {
        member.raft.leader() != Some(member.member_id)
    }

    fn channel(&self, member: &Member) -> EtcdResult<Channel> {
        let leader = member.raft.leader().ok_or(EtcdError::NoLeader)?;
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((id, channel)) = cached.as_ref()
            && *id == leader
        {
            return Ok(channel.clone());
        }
        let url = cluster_service::members(member)?
            .into_iter()
            .find(|m| m.id == leader)
            .and_then(|m| m.client_ur_ls.into_iter().next())
            // The leader has not published its client URLs yet.
            .ok_or(EtcdError::NoLeader)?;
        let channel = Endpoint::from_shared(url)
            .map_err(|e| EtcdError::Internal(format!("leader's client URL: {e}")))?
            .connect_timeout(REQUEST_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .connect_lazy();
        *cached = Some((leader, channel.clone()));
        Ok(channel)
    }

    /// Renews lease `id` at the leader; its TTL (0 if unknown there). The
    /// client's auth token goes along: the leader checks it again.
    pub async fn keep_alive(&self, member: &Member, id: i64, token: Option<&Token>) -> Result<i64, Status> {
        let mut client = LeaseClient::new(self.channel(member)?);
        let request = with_token(futures::stream::iter([LeaseKeepAliveRequest { id }]), token);
        let mut answers = client.lease_keep_alive(request).await.map_err(unavailable)?.into_inner();
        let answer = answers.message().await.map_err(unavailable)?;
        Ok(answer.map_or(0, |a| a.ttl))
    }

    /// A client of the leader's own `Cluster` service: membership changes
    /// are made by the leader. Its answer, error or not, stands as given.
    pub fn cluster(&self, member: &Member) -> EtcdResult<ClusterClient<Channel>> {
        Ok(ClusterClient::new(self.channel(member)?))
    }

    /// The leader's `LeaseTimeToLive`.
    pub async fn time_to_live(
        &self,
        member: &Member,
        req: LeaseTimeToLiveRequest,
        token: Option<&Token>,
    ) -> Result<LeaseTimeToLiveResponse, Status> {
        let mut client = LeaseClient::new(self.channel(member)?);
        Ok(client.lease_time_to_live(with_token(req, token)).await.map_err(unavailable)?.into_inner())
    }
}

/// The auth token metadata of a client's request.
pub type Token = tonic::metadata::MetadataValue<tonic::metadata::Ascii>;

/// The token a client sent (`token`, or the gateway's `authorization`).
pub fn token_of(md: &tonic::metadata::MetadataMap) -> Option<Token> {
    md.get("token").or_else(|| md.get("authorization")).cloned()
}

/// A request to the leader carrying the client's token.
pub fn with_token<T>(message: T, token: Option<&Token>) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    if let Some(t) = token {
        req.metadata_mut().insert("token", t.clone());
    }
    req
}

/// A leader that cannot be reached is, for the client, no leader (etcd
/// answers "no leader" or a timeout there too); an answer it gave stands as
/// the leader's own service gave it.
fn unavailable(status: Status) -> Status {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown => EtcdError::NoLeader.into(),
        _ => status,
    }
}
