//! The `v3lockpb.Lock` service: etcd's mutex recipe (`concurrency.Mutex`)
//! run by the member on behalf of a client's lease.

use std::sync::Arc;

use api::etcdserverpb::DeleteRangeRequest;
use api::v3lockpb::lock_server::Lock;
use api::v3lockpb::{LockRequest, LockResponse, UnlockRequest, UnlockResponse};
use recipes::{holds_lock, lease_key, lock_txn, own_create_revision, prefix};
use tonic::{Request, Response, Status};

use super::{Cleanup, RecipeError, Recipes};
use crate::member::Member;
use crate::watch::WatchHub;

/// The Lock service over one member.
#[derive(Clone)]
pub struct LockService {
    recipes: Recipes,
}

impl LockService {
    pub fn new(member: Arc<Member>, hub: Arc<WatchHub>) -> LockService {
        LockService { recipes: Recipes::new(member, hub) }
    }
}

#[tonic::async_trait]
impl Lock for LockService {
    /// Queues the lease's key under `name/` and answers once it is the
    /// oldest there (etcd's `Mutex.Lock`).
    async fn lock(&self, req: Request<LockRequest>) -> Result<Response<LockResponse>, Status> {
        super::check_name(&self.recipes.member, &req, &req.get_ref().name, true).await?;
        super::check_lease(&self.recipes.member, &req, req.get_ref().lease).await?;
        let r = req.into_inner();
        let rc = &self.recipes;
        let lease = rc.session_lease(r.lease).await?;
        let prefix = prefix(&r.name);
        let key = lease_key(&prefix, lease);
        // Queue up unless this lease already is (then its key is reused),
        // and read the holder in the same revision.
        let resp = rc.txn(lock_txn(&prefix, &key, lease)).await?;
        let my_rev = own_create_revision(&resp).unwrap_or(0);
        if holds_lock(&resp, my_rev) {
            return Ok(Response::new(LockResponse { header: resp.header, key }));
        }

        // From here on, a request that ends without the lock (the client
        // went away, the member stops) takes its key out of the queue.
        let cleanup = Cleanup::delete(&rc.member, &key);
        rc.wait_for_older(&prefix, my_rev, Some(&key)).await?;
        let mine = rc.range(&recipes::get(&key))?;
        cleanup.disarm();
        if mine.kvs.is_empty() {
            return Err(RecipeError::SessionExpired.into());
        }
        Ok(Response::new(LockResponse { header: mine.header, key }))
    }

    /// Deletes the key a `Lock` answered (etcd's `Delete(key)`).
    async fn unlock(&self, req: Request<UnlockRequest>) -> Result<Response<UnlockResponse>, Status> {
        super::check_key(&self.recipes.member, &req, &req.get_ref().key).await?;
        let d = DeleteRangeRequest { key: req.into_inner().key, ..DeleteRangeRequest::default() };
        let resp = self.recipes.delete(d).await?;
        Ok(Response::new(UnlockResponse { header: resp.header }))
    }
}
