//! `range`: linearizable or serializable reads of single keys or of prefixes, over keys
//! that `--preload` can write first.

use super::{ClientCtx, Done, KeyFormat, Rng, preload};
use crate::cli::{Consistency, RangeArgs};
use anyhow::ensure;
use api::etcdserverpb::RangeRequest;
use api::etcdserverpb::kv_client::KvClient;
use serde_json::json;
use tonic::transport::Channel;

/// The `range` workload.
#[derive(Debug)]
pub struct Range {
    keys: KeyFormat,
    key_space: u64,
    prefix_len: usize,
    consistency: Consistency,
    preload: u64,
    value: Vec<u8>,
}

impl Range {
    /// Checks the flags and makes the preload value.
    pub fn new(args: &RangeArgs, seed: u64) -> anyhow::Result<Range> {
        let keys = KeyFormat::new(args.key_size, args.key_space_size.max(args.preload))?;
        ensure!(
            args.prefix_len < args.key_size,
            "--prefix-len {} must be shorter than --key-size {}",
            args.prefix_len,
            args.key_size
        );
        Ok(Range {
            keys,
            key_space: args.key_space_size,
            prefix_len: args.prefix_len,
            consistency: args.consistency,
            preload: args.preload,
            value: Rng::new(seed, u64::MAX).bytes(args.val_size),
        })
    }

    pub(super) fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        let v = json!({
            "consistency": match self.consistency { Consistency::Linearizable => "l", Consistency::Serializable => "s" },
            "key_size": self.keys.size(),
            "val_size": self.value.len(),
            "key_space_size": self.key_space,
            "prefix_len": self.prefix_len,
            "preload": self.preload,
        });
        v.as_object().cloned().unwrap_or_default()
    }

    pub(super) async fn prepare(&self, kvs: &[KvClient<Channel>]) -> anyhow::Result<()> {
        preload(kvs, self.keys, self.preload, &self.value).await
    }

    pub(super) async fn op(&self, c: &mut ClientCtx) -> Result<Done, tonic::Status> {
        let mut key = self.keys.key(c.rng.below(self.key_space));
        let mut range_end = Vec::new();
        if self.prefix_len > 0 {
            key.truncate(self.prefix_len);
            range_end = client::prefix_end(&key);
        }
        let serializable = self.consistency == Consistency::Serializable;
        c.kv.range(RangeRequest { key, range_end, serializable, ..Default::default() }).await?;
        Ok(Done::Ok)
    }
}
