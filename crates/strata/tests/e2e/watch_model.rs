//! A randomized (seeded) interleaving of puts, deletes, txns, compactions and
//! watcher creations: every watcher must receive exactly the model history's
//! events from its start revision on, in order, once each — or a prefix of
//! them and then the compacted response. The only events a watcher may miss
//! are deletes at or below the final compacted revision (compaction removes
//! those tombstones, as in etcd).

use std::collections::BTreeMap;
use std::time::Duration;

use etcd_client::{EventType, Txn, TxnOp, WatchOptions, WatchStream};

use crate::{client, strata};

/// A small deterministic generator (no dependency needed for a test).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// (revision, key, value; None for a delete), in revision and sub-revision order.
type History = Vec<(i64, String, Option<String>)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_see_the_model_history_or_the_compacted_response() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    let mut rng = Lcg(0x5eed);
    let mut live: BTreeMap<String, String> = BTreeMap::new();
    let mut history: History = Vec::new();
    let mut rev = 1i64;
    let mut compacted = 0i64;
    let mut watchers: Vec<(i64, WatchStream)> = Vec::new();
    for step in 0..300 {
        let key = format!("m/{}", rng.below(6));
        match rng.below(20) {
            0..=8 => {
                let value = format!("v{step}");
                rev = c.put(key.clone(), value.clone(), None).await.expect("put").header().map_or(0, |h| h.revision());
                live.insert(key.clone(), value.clone());
                history.push((rev, key, Some(value)));
            }
            9..=11 => {
                let r = c.delete(key.clone(), None).await.expect("delete");
                if r.deleted() == 1 {
                    rev = r.header().map_or(0, |h| h.revision());
                    live.remove(&key);
                    history.push((rev, key, None));
                }
            }
            12..=13 => {
                let other = format!("n/{}", rng.below(3));
                let txn =
                    Txn::new().and_then([TxnOp::put(key.clone(), "t", None), TxnOp::put(other.clone(), "t", None)]);
                rev = c.txn(txn).await.expect("txn").header().map_or(0, |h| h.revision());
                live.insert(key.clone(), "t".into());
                history.push((rev, key, Some("t".into())));
                history.push((rev, other, Some("t".into())));
            }
            14 if rev > compacted + 1 => {
                let at = compacted + 1 + rng.below((rev - compacted) as u64) as i64;
                c.compact(at, None).await.expect("compact");
                compacted = at;
            }
            _ => {
                let start = 1 + rng.below(rev as u64 + 2) as i64;
                let mut stream = c
                    .watch("", Some(WatchOptions::new().with_all_keys().with_start_revision(start)))
                    .await
                    .expect("watch");
                let created = next(&mut stream).await.expect("created");
                assert!(created.created());
                watchers.push((start, stream));
            }
        }
    }
    assert!(
        watchers.len() > 10 && compacted > 0,
        "the mix exercised watchers ({}) and compaction ({compacted})",
        watchers.len()
    );
    for (start, mut stream) in watchers {
        check(start, &mut stream, &history, rev, compacted).await;
    }
}

async fn next(stream: &mut WatchStream) -> Option<etcd_client::WatchResponse> {
    tokio::time::timeout(Duration::from_secs(10), stream.message()).await.ok()?.ok()?
}

async fn check(start: i64, stream: &mut WatchStream, history: &History, last: i64, compacted: i64) {
    let mut got: History = Vec::new();
    let mut canceled_at = None;
    while got.last().map_or(start - 1, |e| e.0) < last {
        let Some(resp) = next(stream).await else { break };
        if resp.canceled() {
            canceled_at = Some(resp.compact_revision());
            break;
        }
        for e in resp.events() {
            let kv = e.kv().expect("kv");
            let value = (e.event_type() == EventType::Put).then(|| kv.value_str().unwrap_or("").to_string());
            got.push((kv.mod_revision(), kv.key_str().unwrap_or("").to_string(), value));
        }
        if got.last().is_none_or(|e| e.0 < last) && history.iter().all(|e| e.0 < start) {
            break;
        }
    }
    let want: History = history
        .iter()
        .filter(|e| e.0 >= start)
        .filter(|e| !(e.2.is_none() && e.0 <= compacted && !got.contains(e)))
        .cloned()
        .collect();
    match canceled_at {
        Some(c) => {
            assert!(c > start - 1 && c <= compacted, "watcher from {start} canceled at {c}, compacted {compacted}");
            assert_eq!(&want[..got.len()], &got[..], "watcher from {start}: a prefix of the history before the cancel");
        }
        None => assert_eq!(got, want, "watcher from {start}"),
    }
}
