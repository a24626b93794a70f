//! The Lease service: grant, revoke, time-to-live, list, and the keep-alive stream.

use crate::duplex::Duplex;
use crate::{Client, Result, Transport};
use api::etcdserverpb::lease_client::LeaseClient;
use api::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseLeasesRequest,
    LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};

impl Client {
    /// The generated Lease stub on this connection (with the auth token).
    pub fn lease(&self) -> LeaseClient<Transport> {
        self.stub(LeaseClient::new)
    }

    /// `Lease.LeaseGrant`: creates a lease (`id` 0 lets the member choose the id).
    pub async fn lease_grant(&self, req: LeaseGrantRequest) -> Result<LeaseGrantResponse> {
        self.unary(|t| async move { LeaseClient::new(t).lease_grant(req).await }).await
    }

    /// `Lease.LeaseRevoke`: deletes a lease and every key attached to it.
    pub async fn lease_revoke(&self, req: LeaseRevokeRequest) -> Result<LeaseRevokeResponse> {
        self.unary(|t| async move { LeaseClient::new(t).lease_revoke(req).await }).await
    }

    /// `Lease.LeaseTimeToLive`: a lease's granted and remaining TTL (remaining -1 for an
    /// unknown or expired lease), with its keys when `keys` is set.
    pub async fn lease_time_to_live(&self, req: LeaseTimeToLiveRequest) -> Result<LeaseTimeToLiveResponse> {
        self.unary(|t| async move { LeaseClient::new(t).lease_time_to_live(req).await }).await
    }

    /// `Lease.LeaseLeases`: every live lease.
    pub async fn lease_leases(&self) -> Result<LeaseLeasesResponse> {
        self.unary(|t| async move { LeaseClient::new(t).lease_leases(LeaseLeasesRequest {}).await }).await
    }

    /// Opens a `Lease.LeaseKeepAlive` stream. Nothing is sent until the first
    /// [`LeaseKeepAlive::keep_alive`].
    pub fn lease_keep_alive(&self) -> LeaseKeepAlive {
        let mut stub = self.lease();
        LeaseKeepAlive {
            stream: Duplex::open(self.require_leader, move |req| async move { stub.lease_keep_alive(req).await }),
        }
    }
}

/// A keep-alive stream: each request renews one lease, each response gives the lease's
/// TTL after renewal, or a TTL of 0 when the lease does not exist (any more).
pub struct LeaseKeepAlive {
    stream: Duplex<LeaseKeepAliveRequest, LeaseKeepAliveResponse>,
}

impl std::fmt::Debug for LeaseKeepAlive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeaseKeepAlive")
    }
}

impl LeaseKeepAlive {
    /// Renews lease `id`.
    pub fn keep_alive(&self, id: i64) -> Result<()> {
        self.stream.send(LeaseKeepAliveRequest { id })
    }

    /// The next response; `None` once the member has closed the stream. Cancel safe.
    pub async fn message(&mut self) -> Result<Option<LeaseKeepAliveResponse>> {
        self.stream.message().await
    }
}
