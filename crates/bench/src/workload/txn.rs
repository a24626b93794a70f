//! `txn`: the optimistic update loop of Kubernetes' `GuaranteedUpdate`. One request is a
//! linearizable Range of a key, then a Txn that puts a new value if the key's
//! `mod_revision` is still the one read, and otherwise reads the key (as the apiserver
//! does, to retry from the fresh object). A failed compare is a conflict.

use super::{ClientCtx, Done, KeyFormat, Rng, preload};
use crate::cli::TxnArgs;
use api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::request_op::Request;
use api::etcdserverpb::{Compare, PutRequest, RangeRequest, RequestOp, TxnRequest};
use serde_json::json;
use tonic::transport::Channel;

/// The `txn` workload.
#[derive(Debug)]
pub struct Txn {
    keys: KeyFormat,
    /// 0: client `i` owns key `i`; otherwise the number of keys all clients share.
    key_space: u64,
    value: Vec<u8>,
}

impl Txn {
    /// Checks the flags and makes the value.
    pub fn new(args: &TxnArgs, seed: u64) -> anyhow::Result<Txn> {
        // With owned keys the key count is the client count, unknown here: the key size
        // is checked again in `prepare`.
        Ok(Txn {
            keys: KeyFormat::new(args.key_size, args.key_space_size)?,
            key_space: args.key_space_size,
            value: Rng::new(seed, u64::MAX).bytes(args.val_size),
        })
    }

    pub(super) fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        let v = json!({
            "key_size": self.keys.size(),
            "val_size": self.value.len(),
            "key_space_size": self.key_space,
        });
        v.as_object().cloned().unwrap_or_default()
    }

    /// Creates every key, so the measured updates all find an existing object.
    pub(super) async fn prepare(&self, kvs: &[KvClient<Channel>], clients: u32) -> anyhow::Result<()> {
        let count = if self.key_space == 0 { u64::from(clients) } else { self.key_space };
        let keys = KeyFormat::new(self.keys.size(), count)?;
        preload(kvs, keys, count, &self.value).await
    }

    pub(super) async fn op(&self, c: &mut ClientCtx) -> Result<Done, tonic::Status> {
        let i = if self.key_space == 0 { c.id } else { c.rng.below(self.key_space) };
        let key = self.keys.key(i);
        let read = c.kv.range(RangeRequest { key: key.clone(), ..Default::default() }).await?.into_inner();
        let mod_revision = read.kvs.first().map_or(0, |kv| kv.mod_revision);
        let put = PutRequest { key: key.clone(), value: self.value.clone(), ..Default::default() };
        let txn = TxnRequest {
            compare: vec![Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Mod as i32,
                key: key.clone(),
                target_union: Some(TargetUnion::ModRevision(mod_revision)),
                ..Default::default()
            }],
            success: vec![RequestOp { request: Some(Request::RequestPut(put)) }],
            failure: vec![RequestOp {
                request: Some(Request::RequestRange(RangeRequest { key, ..Default::default() })),
            }],
        };
        let resp = c.kv.txn(txn).await?.into_inner();
        Ok(if resp.succeeded { Done::Ok } else { Done::Conflict })
    }
}
