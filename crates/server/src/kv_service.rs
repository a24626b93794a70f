//! The `etcdserverpb.KV` gRPC service.
//!
//! Writes are validated, encoded as an `InternalRaftRequest` and proposed
//! through Raft; the applier's answer comes back with the commit. Reads and
//! read-only txns are served locally: after a read index unless every range
//! in them is serializable.

use std::sync::Arc;

use api::etcdserverpb::kv_server::Kv;
use api::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, InternalRaftRequest, PutRequest,
    PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};
use api::stratapb::apply_result::Response;
use tonic::{Request, Response as GrpcResponse, Status};

use auth::AuthInfo;

use crate::credentials;
use crate::error::EtcdError;
use crate::kv::{self, View};
use crate::member::Member;
use crate::validate;

/// The KV service over one member.
#[derive(Clone)]
pub struct KvService {
    member: Arc<Member>,
}

impl KvService {
    pub fn new(member: Arc<Member>) -> KvService {
        KvService { member }
    }

    /// Serves a read locally, after a read index unless `serializable`:
    /// `check` decides whether `user` may, and a change of the auth store
    /// while reading refuses the answer (etcd's `doSerialize`).
    async fn read<T>(
        &self,
        serializable: bool,
        user: Option<&AuthInfo>,
        check: impl FnOnce(&auth::AuthStore) -> auth::AuthResult<()>,
        f: impl FnOnce(&View<'_, '_>) -> Result<T, EtcdError>,
    ) -> Result<T, Status> {
        if !serializable {
            self.member.read_index().await?;
        }
        check(&self.member.auth).map_err(EtcdError::from)?;
        let read = self.member.store.read().map_err(EtcdError::from)?;
        let out = f(&View::Read(&read))?;
        if let Some(u) = user
            && u.revision != self.member.auth.revision()
        {
            return Err(EtcdError::AuthOldRevision.into());
        }
        Ok(out)
    }
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(&self, req: Request<RangeRequest>) -> Result<GrpcResponse<RangeResponse>, Status> {
        let user = credentials::user(&self.member, &req).await?;
        let r = req.into_inner();
        validate::range(&r)?;
        let u = user.as_ref();
        let check = |a: &auth::AuthStore| a.check_range(u, &r.key, &r.range_end);
        let mut resp = self.read(r.serializable, u, check, |v| kv::range(v, &r)).await?;
        self.member.fill_header(&mut resp.header);
        Ok(GrpcResponse::new(resp))
    }

    async fn put(&self, req: Request<PutRequest>) -> Result<GrpcResponse<PutResponse>, Status> {
        let user = credentials::user(&self.member, &req).await?;
        let p = req.into_inner();
        validate::put(&p)?;
        let irr = InternalRaftRequest { put: Some(p), ..Default::default() };
        match self.member.propose(irr, user.as_ref()).await? {
            Response::Put(mut resp) => {
                self.member.fill_header(&mut resp.header);
                Ok(GrpcResponse::new(resp))
            }
            _ => Err(EtcdError::Internal("unexpected apply result".into()).into()),
        }
    }

    async fn delete_range(
        &self,
        req: Request<DeleteRangeRequest>,
    ) -> Result<GrpcResponse<DeleteRangeResponse>, Status> {
        let user = credentials::user(&self.member, &req).await?;
        let d = req.into_inner();
        validate::delete_range(&d)?;
        let irr = InternalRaftRequest { delete_range: Some(d), ..Default::default() };
        match self.member.propose(irr, user.as_ref()).await? {
            Response::DeleteRange(mut resp) => {
                self.member.fill_header(&mut resp.header);
                Ok(GrpcResponse::new(resp))
            }
            _ => Err(EtcdError::Internal("unexpected apply result".into()).into()),
        }
    }

    async fn txn(&self, req: Request<TxnRequest>) -> Result<GrpcResponse<TxnResponse>, Status> {
        let user = credentials::user(&self.member, &req).await?;
        let t = req.into_inner();
        validate::txn(&t, self.member.limits.max_txn_ops)?;
        let mut resp = if kv::is_read_only(&t) {
            let u = user.as_ref();
            let leases = &self.member.leases;
            let check = |a: &auth::AuthStore| a.check_txn(u, &t, &|id| leases.keys(id));
            self.read(kv::is_serializable(&t), u, check, |v| {
                let View::Read(read) = v else { return Err(EtcdError::Internal("not a read view".into())) };
                kv::txn(&mut View::Read(read), &t, &|_| false)
            })
            .await?
        } else {
            let irr = InternalRaftRequest { txn: Some(t), ..Default::default() };
            match self.member.propose(irr, user.as_ref()).await? {
                Response::Txn(resp) => resp,
                _ => return Err(EtcdError::Internal("unexpected apply result".into()).into()),
            }
        };
        self.member.fill_header(&mut resp.header);
        Ok(GrpcResponse::new(resp))
    }

    async fn compact(&self, req: Request<CompactionRequest>) -> Result<GrpcResponse<CompactionResponse>, Status> {
        // etcd lets anyone compact; Strata asks for a user while auth is on.
        let user = credentials::user(&self.member, &req).await?;
        self.member.auth.require_user(user.as_ref()).map_err(EtcdError::from)?;
        let c = req.into_inner();
        let physical = c.physical;
        let rev = c.revision;
        let irr = InternalRaftRequest { compaction: Some(c), ..Default::default() };
        match self.member.propose(irr, user.as_ref()).await? {
            Response::Compaction(mut resp) => {
                if physical {
                    self.member.wait_compaction(rev).await?;
                }
                self.member.fill_header(&mut resp.header);
                Ok(GrpcResponse::new(resp))
            }
            _ => Err(EtcdError::Internal("unexpected apply result".into()).into()),
        }
    }
}
