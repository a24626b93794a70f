//! An acknowledged write survives `kill -9`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{client, strata};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_puts_survive_kill_9_under_load() {
    kill_9_under_load(&[]).await;
}

/// The same with a Raft snapshot and a log purge every 200 entries: the log
/// behind the store's last durable commit may be gone when the member dies,
/// and the restart must take the snapshot and replay the log after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_puts_survive_kill_9_while_snapshots_purge_the_log() {
    let m = kill_9_under_load(&["--snapshot-count", "200", "--experimental-snapshot-catchup-entries", "10"]).await;
    assert!(m.log().contains("built a snapshot"), "no snapshot was taken under the load:\n{}", m.log());
}

/// Eight writers put until the member is killed; after a restart every
/// acknowledged put is there at its revision. Returns the restarted member.
async fn kill_9_under_load(extra: &[&str]) -> testkit::MemberProcess {
    let mut m = strata(extra);
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..8 {
        let mut c = client(&m).await;
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let key = format!("w{w}/{i:06}");
                match c.put(key.clone(), format!("v{i}"), None).await {
                    Ok(r) => acked.lock().expect("lock").push((key, r.header().map_or(0, |h| h.revision()))),
                    Err(_) => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    m.kill9().expect("kill -9");
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() > 50, "the load wrote only {} keys", acked.len());

    m.restart().expect("restart");
    let mut c = client(&m).await;
    let all = c.get("w", Some(etcd_client::GetOptions::new().with_prefix())).await.expect("get");
    let present: std::collections::HashMap<String, i64> =
        all.kvs().iter().map(|kv| (kv.key_str().unwrap_or("").to_string(), kv.mod_revision())).collect();
    for (key, rev) in &acked {
        assert_eq!(present.get(key), Some(rev), "acknowledged {key} at {rev} lost after kill -9");
    }
    let max_acked = acked.iter().map(|(_, r)| *r).max().unwrap_or(0);
    assert!(all.header().map_or(0, |h| h.revision()) >= max_acked);
    // Revisions stay dense: every revision from 2 up holds exactly one write.
    let mut revs: Vec<i64> = present.values().copied().collect();
    revs.sort_unstable();
    assert_eq!(revs, (2..2 + revs.len() as i64).collect::<Vec<_>>());
    m
}
