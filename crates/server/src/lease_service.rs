//! The `etcdserverpb.Lease` gRPC service. Grants and revokes go through Raft;
//! keep-alives and time-to-live are answered by the leader's lessor (the only
//! one counting down): a follower forwards them ([`crate::forward`]); the list
//! is answered by this member's lessor.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use api::etcdserverpb::lease_server::Lease;
use api::etcdserverpb::{
    InternalRaftRequest, LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseStatus,
    LeaseTimeToLiveRequest, LeaseTimeToLiveResponse, ResponseHeader,
};
use api::stratapb::apply_result::Response as Applied;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::credentials;
use crate::error::EtcdError;
use crate::forward::{self, LeaderLink};
use crate::member::Member;

/// The Lease service over one member.
#[derive(Clone)]
pub struct LeaseService {
    member: Arc<Member>,
    next_id: Arc<AtomicU64>,
    leader: Arc<LeaderLink>,
}

impl LeaseService {
    pub fn new(member: Arc<Member>) -> LeaseService {
        // Ids mix the member id with a counter seeded from the clock, as
        // etcd's request-id generator does, so restarts do not reuse them.
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        LeaseService { member, next_id: Arc::new(AtomicU64::new(seed)), leader: Arc::default() }
    }

    fn fresh_id(&self) -> i64 {
        loop {
            let n = self.next_id.fetch_add(1, Ordering::Relaxed);
            let id = ((self.member.member_id << 40) ^ n) as i64 & i64::MAX;
            if id != 0 && !self.member.leases.exists(id) {
                return id;
            }
        }
    }

    fn header(&self) -> Option<ResponseHeader> {
        let mut h = Some(ResponseHeader { revision: self.member.store.rev(), ..ResponseHeader::default() });
        self.member.fill_header(&mut h);
        h
    }
}

impl LeaseService {
    async fn check_renew(
        &self,
        (md, conn): &(tonic::metadata::MetadataMap, Option<crate::tls::ClientInfo>),
        id: i64,
    ) -> Result<(), Status> {
        let auth = &self.member.auth;
        if !auth.is_enabled() {
            return Ok(());
        }
        let user = credentials::from_parts(&self.member, md, conn.as_ref()).await?;
        auth.require_user(user.as_ref()).map_err(EtcdError::from)?;
        let keys = self.member.leases.keys(id).unwrap_or_default();
        auth.check_lease_keys(user.as_ref(), &keys).map_err(EtcdError::from)?;
        Ok(())
    }

    /// The sender of a lease call; while auth is enabled someone must be
    /// named (etcd's `requireAuthInfo`).
    async fn user<T>(&self, req: &Request<T>) -> Result<Option<auth::AuthInfo>, Status> {
        let user = credentials::user(&self.member, req).await?;
        self.member.auth.require_user(user.as_ref()).map_err(EtcdError::from)?;
        Ok(user)
    }
}

type KeepAliveStream = Pin<Box<dyn Stream<Item = Result<LeaseKeepAliveResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Lease for LeaseService {
    type LeaseKeepAliveStream = KeepAliveStream;

    async fn lease_grant(&self, req: Request<LeaseGrantRequest>) -> Result<Response<LeaseGrantResponse>, Status> {
        let user = self.user(&req).await?;
        let mut g = req.into_inner();
        if g.id == 0 {
            g.id = self.fresh_id();
        }
        let irr = InternalRaftRequest { lease_grant: Some(g), ..Default::default() };
        match self.member.propose(irr, user.as_ref()).await? {
            Applied::LeaseGrant(mut resp) => {
                self.member.fill_header(&mut resp.header);
                Ok(Response::new(resp))
            }
            _ => Err(EtcdError::Internal("unexpected apply result".into()).into()),
        }
    }

    async fn lease_revoke(&self, req: Request<LeaseRevokeRequest>) -> Result<Response<LeaseRevokeResponse>, Status> {
        let user = self.user(&req).await?;
        let r = req.into_inner();
        if !self.member.leases.exists(r.id) {
            return Err(EtcdError::LeaseNotFound.into());
        }
        let irr = InternalRaftRequest { lease_revoke: Some(r), ..Default::default() };
        match self.member.propose(irr, user.as_ref()).await? {
            Applied::LeaseRevoke(mut resp) => {
                self.member.fill_header(&mut resp.header);
                Ok(Response::new(resp))
            }
            _ => Err(EtcdError::Internal("unexpected apply result".into()).into()),
        }
    }

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<KeepAliveStream>, Status> {
        self.user(&req).await?;
        let token = forward::token_of(req.metadata());
        // Each renew is checked as etcd's `checkLeaseRenew`: the token again,
        // and write access to the lease's keys unless admin.
        let credentials = (req.metadata().clone(), req.extensions().get::<crate::tls::ClientInfo>().cloned());
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let svc = self.clone();
        tokio::spawn(async move {
            while let Some(Ok(k)) = inbound.next().await {
                if let Err(e) = svc.check_renew(&credentials, k.id).await {
                    let _ = tx.send(Err(e)).await;
                    break;
                }
                let ttl = if LeaderLink::needed(&svc.member) {
                    match svc.leader.keep_alive(&svc.member, k.id, token.as_ref()).await {
                        Ok(ttl) => ttl,
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            break;
                        }
                    }
                } else {
                    let leases = &svc.member.leases;
                    let now = leases.now();
                    // An unknown or already expired lease answers TTL 0, as etcd's does.
                    leases.lessor().renew(k.id, now).unwrap_or(0)
                };
                let resp = LeaseKeepAliveResponse { header: svc.header(), id: k.id, ttl };
                if tx.send(Ok(resp)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        let user = self.user(&req).await?;
        let token = forward::token_of(req.metadata());
        let r = req.into_inner();
        if r.keys {
            let keys = self.member.leases.keys(r.id).unwrap_or_default();
            self.member.auth.check_lease_keys_readable(user.as_ref(), &keys).map_err(EtcdError::from)?;
        }
        if LeaderLink::needed(&self.member) {
            let mut resp = self.leader.time_to_live(&self.member, r, token.as_ref()).await?;
            resp.header = self.header();
            return Ok(Response::new(resp));
        }
        let leases = &self.member.leases;
        let info = leases.lessor().time_to_live(r.id, leases.now(), r.keys);
        let resp = match info {
            Some(i) => LeaseTimeToLiveResponse {
                header: self.header(),
                id: r.id,
                ttl: i.remaining_secs,
                granted_ttl: i.ttl_secs,
                keys: i.keys,
            },
            None => LeaseTimeToLiveResponse { header: self.header(), id: r.id, ttl: -1, ..Default::default() },
        };
        Ok(Response::new(resp))
    }

    async fn lease_leases(&self, req: Request<LeaseLeasesRequest>) -> Result<Response<LeaseLeasesResponse>, Status> {
        let user = self.user(&req).await?;
        let mut ids = self.member.leases.lessor().leases();
        // etcd 3.6: an admin, or someone who may read every leased key.
        if self.member.auth.check_admin(user.as_ref()).is_err() {
            for id in &ids {
                let keys = self.member.leases.keys(*id).unwrap_or_default();
                self.member.auth.check_lease_keys_readable(user.as_ref(), &keys).map_err(EtcdError::from)?;
            }
        }
        ids.sort_unstable();
        let leases = ids.into_iter().map(|id| LeaseStatus { id }).collect();
        Ok(Response::new(LeaseLeasesResponse { header: self.header(), leases }))
    }
}

/// Proposes a revoke for every expired lease, through Raft (never deleting
/// keys directly), every [`lease::EXPIRY_CHECK_INTERVAL`].
pub async fn revoke_expired(member: Arc<Member>) {
    let mut tick = tokio::time::interval(lease::EXPIRY_CHECK_INTERVAL);
    loop {
        tick.tick().await;
        let expired = {
            let leases = &member.leases;
            let now = leases.now();
            leases.lessor().expired(now, lease::EXPIRED_BATCH_LIMIT)
        };
        for id in expired {
            let irr = InternalRaftRequest { lease_revoke: Some(LeaseRevokeRequest { id }), ..Default::default() };
            match member.propose(irr, Some(&auth::AuthInfo::member_itself())).await {
                Ok(_) | Err(EtcdError::LeaseNotFound) => {}
                Err(e) => {
                    tracing::warn!(lease = %format!("{id:016x}"), error = %e, "failed to revoke an expired lease")
                }
            }
        }
    }
}
