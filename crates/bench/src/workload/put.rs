//! `put`: writes `--val-size`-byte values to keys drawn at random (or in order) from
//! `--key-space-size` keys, as etcd's `benchmark put` does.

use super::{ClientCtx, Done, KeyFormat, Rng};
use crate::cli::PutArgs;
use api::etcdserverpb::PutRequest;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

/// The `put` workload.
#[derive(Debug)]
pub struct Put {
    keys: KeyFormat,
    key_space: u64,
    value: Vec<u8>,
    /// The next key number with `--sequential-keys`, shared by all clients.
    sequential: Option<AtomicU64>,
}

impl Put {
    /// Checks the flags and makes the value.
    pub fn new(args: &PutArgs, seed: u64) -> anyhow::Result<Put> {
        Ok(Put {
            keys: KeyFormat::new(args.key_size, args.key_space_size)?,
            key_space: args.key_space_size,
            value: Rng::new(seed, u64::MAX).bytes(args.val_size),
            sequential: args.sequential_keys.then(|| AtomicU64::new(0)),
        })
    }

    pub(super) fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        let v = json!({
            "key_size": self.keys.size(),
            "val_size": self.value.len(),
            "key_space_size": self.key_space,
            "sequential_keys": self.sequential.is_some(),
        });
        v.as_object().cloned().unwrap_or_default()
    }

    pub(super) async fn op(&self, c: &mut ClientCtx) -> Result<Done, tonic::Status> {
        let i = match &self.sequential {
            Some(next) => next.fetch_add(1, Ordering::Relaxed) % self.key_space,
            None => c.rng.below(self.key_space),
        };
        let req = PutRequest { key: self.keys.key(i), value: self.value.clone(), ..Default::default() };
        c.kv.put(req).await?;
        Ok(Done::Ok)
    }
}
