//! The `v3electionpb.Election` service: etcd's election recipe
//! (`concurrency.Election`) run by the member on behalf of a client's lease.

use std::pin::Pin;
use std::sync::Arc;

use api::etcdserverpb::ResponseHeader;
use api::mvccpb::KeyValue;
use api::v3electionpb::election_server::Election;
use api::v3electionpb::{
    CampaignRequest, CampaignResponse, LeaderKey, LeaderRequest, LeaderResponse, ProclaimRequest, ProclaimResponse,
    ResignRequest, ResignResponse,
};
use futures::{Stream, StreamExt};
use recipes::{campaign_txn, first_created, lease_key, prefix, prefix_end, proclaim_txn, range_kvs, resign_txn};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{Cleanup, RangeWaiter, RecipeError, Recipes, revision, via_client};
use crate::kv::to_pb;
use crate::member::Member;
use crate::watch::WatchHub;

/// Leader responses queued per `Observe` stream before the observer waits
/// for its client to read.
const OBSERVE_BUFFER: usize = 16;

/// The Election service over one member.
#[derive(Clone)]
pub struct ElectionService {
    recipes: Recipes,
}

impl ElectionService {
    pub fn new(member: Arc<Member>, hub: Arc<WatchHub>) -> ElectionService {
        ElectionService { recipes: Recipes::new(member, hub) }
    }
}

type ObserveStream = Pin<Box<dyn Stream<Item = Result<LeaderResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Election for ElectionService {
    type ObserveStream = ObserveStream;

    /// Enters the lease's key under `name/` with `value` and answers once
    /// it is the oldest there, with the header of that first txn (etcd's
    /// `Election.Campaign`).
    async fn campaign(&self, req: Request<CampaignRequest>) -> Result<Response<CampaignResponse>, Status> {
        super::check_name(&self.recipes.member, &req, &req.get_ref().name, true).await?;
        super::check_lease(&self.recipes.member, &req, req.get_ref().lease).await?;
        let r = req.into_inner();
        let rc = &self.recipes;
        let lease = rc.session_lease(r.lease).await?;
        let prefix = prefix(&r.name);
        let key = lease_key(&prefix, lease);
        let resp = rc.txn(campaign_txn(&key, &r.value, lease)).await?;
        let mut rev = revision(&resp.header);
        if !resp.succeeded {
            // The lease campaigns already: keep its place, update its value.
            let kv = range_kvs(&resp, 0).first().cloned().unwrap_or_default();
            rev = kv.create_revision;
            if kv.value != r.value
                && let Err(e) = proclaim(rc, &key, rev, lease, &r.value).await
            {
                let _ = rc.txn(resign_txn(&key, rev)).await;
                return Err(e);
            }
        }
        let cleanup = Cleanup::resign(&rc.member, &key, rev);
        rc.wait_for_older(&prefix, rev, None).await?;
        cleanup.disarm();
        let leader = LeaderKey { name: r.name, key, rev, lease };
        Ok(Response::new(CampaignResponse { header: resp.header, leader: Some(leader) }))
    }

    /// Replaces the leader's value if its key is still the one it created.
    async fn proclaim(&self, req: Request<ProclaimRequest>) -> Result<Response<ProclaimResponse>, Status> {
        let key = req.get_ref().leader.as_ref().map(|l| l.key.clone()).unwrap_or_default();
        super::check_key(&self.recipes.member, &req, &key).await?;
        let lease = req.get_ref().leader.as_ref().map_or(0, |l| l.lease);
        super::check_lease(&self.recipes.member, &req, lease).await?;
        let r = req.into_inner();
        let leader = r.leader.ok_or(RecipeError::MissingLeaderKey)?;
        let lease = self.recipes.session_lease(leader.lease).await?;
        let header = proclaim(&self.recipes, &leader.key, leader.rev, lease, &r.value).await?;
        Ok(Response::new(ProclaimResponse { header }))
    }

    /// The oldest key under `name/`.
    async fn leader(&self, req: Request<LeaderRequest>) -> Result<Response<LeaderResponse>, Status> {
        super::check_name(&self.recipes.member, &req, &req.get_ref().name, false).await?;
        let rc = &self.recipes;
        rc.read_index().await?;
        let resp = rc.range(&first_created(&prefix(&req.into_inner().name)))?;
        let kv = resp.kvs.into_iter().next().ok_or(RecipeError::NoLeader)?;
        Ok(Response::new(LeaderResponse { header: resp.header, kv: Some(kv) }))
    }

    /// Streams the leader, then every new value of its key, then the next
    /// leader once the key is deleted, and so on.
    async fn observe(&self, req: Request<LeaderRequest>) -> Result<Response<ObserveStream>, Status> {
        super::check_name(&self.recipes.member, &req, &req.get_ref().name, false).await?;
        let (tx, mut rx) = mpsc::channel(OBSERVE_BUFFER);
        let rc = self.recipes.clone();
        let name = req.into_inner().name;
        tokio::spawn(async move {
            // Like etcd's, the stream ends without an error when the recipe
            // stops (a failed read, history compacted away).
            tokio::select! {
                r = observe(&rc, &name, &tx) => if let Err(e) = r {
                    tracing::debug!(error = %e, "election observer stopped");
                },
                _ = tx.closed() => {}
            }
        });
        // grpc-go sends a stream's headers with its first message, so etcd's
        // clients see the call start only once there is a leader.
        let first = rx.recv().await;
        Ok(Response::new(Box::pin(futures::stream::iter(first).chain(ReceiverStream::new(rx)))))
    }

    /// Deletes the leader's key if it is still the one it created; a leader
    /// that is not one any more resigns without an error.
    async fn resign(&self, req: Request<ResignRequest>) -> Result<Response<ResignResponse>, Status> {
        let key = req.get_ref().leader.as_ref().map(|l| l.key.clone()).unwrap_or_default();
        super::check_key(&self.recipes.member, &req, &key).await?;
        let leader = req.into_inner().leader.ok_or(RecipeError::MissingLeaderKey)?;
        self.recipes.session_lease(leader.lease).await?;
        let resp = self.recipes.txn(resign_txn(&leader.key, leader.rev)).await?;
        Ok(Response::new(ResignResponse { header: resp.header }))
    }
}

/// etcd's `Election.Proclaim`: puts `value` with `lease` if `key` is still
/// the one created at `rev`.
async fn proclaim(
    rc: &Recipes,
    key: &[u8],
    rev: i64,
    lease: i64,
    value: &[u8],
) -> Result<Option<ResponseHeader>, Status> {
    let resp = rc.txn(proclaim_txn(key, rev, value, lease)).await?;
    if !resp.succeeded {
        return Err(RecipeError::NotLeader.into());
    }
    Ok(resp.header)
}

/// etcd's `Election.observe`: send the leader (or wait for the first put
/// under the prefix), follow its key's puts until it is deleted, repeat.
async fn observe(rc: &Recipes, name: &[u8], out: &mpsc::Sender<Result<LeaderResponse, Status>>) -> Result<(), Status> {
    let prefix = prefix(name);
    let mut on_prefix = RangeWaiter::new(&rc.member, &rc.hub, &prefix, &prefix_end(&prefix));
    let send = |header: Option<ResponseHeader>, kv: KeyValue| async move {
        let resp = LeaderResponse { header, kv: Some(kv) };
        out.send(Ok(resp)).await.map_err(|_| Status::cancelled("the observer went away"))
    };
    loop {
        rc.read_index().await?;
        let first = rc.range(&first_created(&prefix))?;
        let mut seen = revision(&first.header);
        let leader = match first.kvs.into_iter().next() {
            Some(kv) => kv,
            None => {
                let kv = first_put(&mut on_prefix, seen).await?;
                seen = kv.mod_revision;
                kv
            }
        };
        send(header_at(rc, seen), leader.clone()).await?;
        let mut on_leader = RangeWaiter::new(&rc.member, &rc.hub, &leader.key, &[]);
        'leader: loop {
            let (last, changes) = on_leader.changes_after(seen).await.map_err(via_client)?;
            for kv in changes {
                if kv.version == 0 {
                    break 'leader;
                }
                let rev = kv.mod_revision;
                send(header_at(rc, rev), to_pb(kv)).await?;
            }
            seen = last;
        }
    }
}

/// The first key put under the waiter's prefix after `rev`.
async fn first_put(on_prefix: &mut RangeWaiter, mut rev: i64) -> Result<KeyValue, Status> {
    loop {
        let (last, changes) = on_prefix.changes_after(rev).await.map_err(via_client)?;
        if let Some(kv) = changes.into_iter().find(|kv| kv.version != 0) {
            return Ok(to_pb(kv));
        }
        rev = last;
    }
}

fn header_at(rc: &Recipes, revision: i64) -> Option<ResponseHeader> {
    let mut h = Some(ResponseHeader { revision, ..ResponseHeader::default() });
    rc.member.fill_header(&mut h);
    h
}
