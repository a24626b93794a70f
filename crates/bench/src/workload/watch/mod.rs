//! `watch`: `--watchers` watchers on one prefix, spread over `--streams` watch streams,
//! and `--clients` writers putting under that prefix at `--put-rate` — the idea of etcd's
//! `benchmark watch-latency` (which times put → event for every watcher) with many
//! watchers per stream as its `benchmark watch` has.
//!
//! Each put's value starts with its sequence number and the time it was sent (since the
//! workload's epoch, big-endian nanoseconds), so a watcher computes put-to-event latency
//! from the event alone and [`Tally`] can tell a missed or duplicated put. The writers
//! are an ordinary request loop ([`Watch::op`]); the watchers are [`Watchers`].

mod tally;
mod watchers;

pub use tally::{Seen, SeqSet, Tally};
pub use watchers::{Delivery, Watchers};

use super::{ClientCtx, Done, KeyFormat, Rng};
use crate::cli::WatchArgs;
use anyhow::ensure;
use api::etcdserverpb::PutRequest;
use serde_json::json;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Every key the writers put starts with this, and the watchers watch it.
pub const PREFIX: &[u8] = b"strata-bench/watch/";

/// Bytes of a value the workload reads back: sequence number, then send time.
const STAMP_BYTES: usize = 16;

/// The `watch` workload.
#[derive(Debug)]
pub struct Watch {
    watchers: u32,
    streams: u32,
    put_rate: u64,
    keys: KeyFormat,
    key_space: u64,
    /// The value's bytes after the stamp.
    padding: Vec<u8>,
    /// Time zero of the send times in values.
    epoch: Instant,
    next_seq: AtomicU64,
    /// Puts the server acknowledged.
    acked: Mutex<SeqSet>,
}

impl Watch {
    /// Checks the flags and makes the value's padding.
    pub fn new(args: &WatchArgs, seed: u64) -> anyhow::Result<Watch> {
        ensure!(args.val_size >= STAMP_BYTES, "--val-size must be at least {STAMP_BYTES} for watch");
        let streams = args.streams.unwrap_or(args.watchers.min(100));
        ensure!(
            streams <= args.watchers,
            "--streams {streams} is more than --watchers {}: a stream would be empty",
            args.watchers
        );
        Ok(Watch {
            watchers: args.watchers,
            streams,
            put_rate: args.put_rate,
            keys: KeyFormat::new(args.key_size, args.key_space_size)?,
            key_space: args.key_space_size,
            padding: Rng::new(seed, u64::MAX).bytes(args.val_size - STAMP_BYTES),
            epoch: Instant::now(),
            next_seq: AtomicU64::new(0),
            acked: Mutex::new(SeqSet::default()),
        })
    }

    pub(super) fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        let v = json!({
            "watchers": self.watchers,
            "streams": self.streams,
            "put_rate": self.put_rate,
            "key_size": self.keys.size(),
            "val_size": self.padding.len() + STAMP_BYTES,
            "key_space_size": self.key_space,
        });
        v.as_object().cloned().unwrap_or_default()
    }

    /// Watchers to create.
    pub fn watchers(&self) -> u32 {
        self.watchers
    }

    /// Streams to spread them over.
    pub fn streams(&self) -> u32 {
        self.streams
    }

    /// Puts per second across writers; 0 for no limit.
    pub fn put_rate(&self) -> u64 {
        self.put_rate
    }

    /// Time zero of the send times in values.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The puts acknowledged so far.
    pub fn acked(&self) -> SeqSet {
        self.acked.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// One put under the prefix, stamped with its number and send time.
    pub(super) async fn op(&self, c: &mut ClientCtx) -> Result<Done, tonic::Status> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let mut key = PREFIX.to_vec();
        key.extend(self.keys.key(seq % self.key_space));
        let value = stamp(seq, self.epoch.elapsed(), &self.padding);
        c.kv.put(PutRequest { key, value, ..Default::default() }).await?;
        self.acked.lock().unwrap_or_else(|p| p.into_inner()).insert(seq);
        Ok(Done::Ok)
    }
}

/// A value: `seq` and `sent` (since the epoch) big-endian, then `padding`.
pub fn stamp(seq: u64, sent: Duration, padding: &[u8]) -> Vec<u8> {
    let sent_ns = u64::try_from(sent.as_nanos()).unwrap_or(u64::MAX);
    let mut v = Vec::with_capacity(STAMP_BYTES + padding.len());
    v.extend(seq.to_be_bytes());
    v.extend(sent_ns.to_be_bytes());
    v.extend(padding);
    v
}

/// The sequence number and send time of a value [`stamp`] made; `None` for a value
/// that is too short (a key someone else put under the prefix).
pub fn read_stamp(value: &[u8]) -> Option<(u64, Duration)> {
    let seq = u64::from_be_bytes(value.get(..8)?.try_into().ok()?);
    let sent_ns = u64::from_be_bytes(value.get(8..STAMP_BYTES)?.try_into().ok()?);
    Some((seq, Duration::from_nanos(sent_ns)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_and_keeps_the_value_size() {
        let v = stamp(42, Duration::from_micros(1_500), &[7; 16]);
        assert_eq!(v.len(), 32);
        assert_eq!(read_stamp(&v), Some((42, Duration::from_micros(1_500))));
        assert_eq!(read_stamp(&v[..15]), None);
        assert_eq!(read_stamp(b""), None);
    }

    fn args(watchers: u32, streams: Option<u32>, val_size: usize) -> WatchArgs {
        WatchArgs { watchers, streams, put_rate: 100, key_size: 8, val_size, key_space_size: 1000 }
    }

    #[test]
    fn streams_default_to_at_most_a_hundred_and_never_exceed_the_watchers() {
        assert_eq!(Watch::new(&args(1, None, 32), 1).expect("ok").streams(), 1);
        assert_eq!(Watch::new(&args(10_000, None, 32), 1).expect("ok").streams(), 100);
        assert_eq!(Watch::new(&args(10, Some(3), 32), 1).expect("ok").streams(), 3);
        assert!(Watch::new(&args(2, Some(3), 32), 1).is_err());
        assert!(Watch::new(&args(1, None, 15), 1).is_err(), "no room for the stamp");
    }
}
