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

    async fn read<T>(
        &self,
        serializable: bool,
        f: impl FnOnce(&View<'_, '_>) -> Result<T, EtcdError>,
    ) -> Result<T, Status> {
        if !serializable {
            self.member.read_index().await?;
        }
        let read = self.member.store.read().map_err(EtcdError::from)?;
        Ok(f(&View::Read(&read))?)
    }
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(&self, req: Request<RangeRequest>) -> Result<GrpcResponse<RangeResponse>, Status> {
        let r = req.into_inner();
        validate::range(&r)?;
        let mut resp = self.read(r.serializable, |v| kv::range(v, &r)).await?;
        self.member.fill_header(&mut resp.header);
        Ok(GrpcResponse::new(resp))
    }

    async fn put(&self, req: Request<PutRequest>) -> Result<GrpcResponse<PutResponse>, Status> {
        let p = req.into_inner();
        validate::put(&p)?;
        let irr = InternalRaftRequest { put: Some(p), ..Default::default() };
        match self.member.propose(irr).await? {
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
        let d = req.into_inner();
        validate::delete_range(&d)?;
        let irr = InternalRaftRequest { delete_range: Some(d), ..Default::default() };
        match self.member.propose(irr).await? {
            Response::DeleteRange(mut resp) => {
                self.member.fill_header(&mut resp.header);
                Ok(GrpcResponse::new(resp))
            }
            _ => Err(EtcdError::Internal("unexpected apply result".into()).into()),
        }
    }

    async fn txn(&self, req: Request<TxnRequest>) -> Result<GrpcResponse<TxnResponse>, Status> {
        let t = req.into_inner();
        validate::txn(&t, self.member.limits.max_txn_ops)?;
        let mut resp = if kv::is_read_only(&t) {
            let serializable = kv::is_serializable(&t);
            let read = {
                if !serializable {
                    self.member.read_index().await?;
                }
                self.member.store.read().map_err(EtcdError::from)?
            };
            kv::txn(&mut View::Read(&read), &t, &|_| false)?
        } else {
            let irr = InternalRaftRequest { txn: Some(t), ..Default::default() };
            match self.member.propose(irr).await? {
                Response::Txn(resp) => resp,
                _ => return Err(EtcdError::Internal("unexpected apply result".into()).into()),
            }
        };
        self.member.fill_header(&mut resp.header);
        Ok(GrpcResponse::new(resp))
    }

    async fn compact(&self, req: Request<CompactionRequest>) -> Result<GrpcResponse<CompactionResponse>, Status> {
        let c = req.into_inner();
        let physical = c.physical;
        let rev = c.revision;
        let irr = InternalRaftRequest { compaction: Some(c), ..Default::default() };
        match self.member.propose(irr).await? {
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
