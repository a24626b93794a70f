//! Defragmentation that keeps serving, and crashes in the middle of the
//! maintenance operations: a member killed with `kill -9` at any point of a
//! defrag or a compaction starts again with all its data.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use etcd_client::GetOptions;
use testkit::MemberProcess;

use crate::support::{Tmpfs, fill_disk};
use crate::{client, strata};

/// Writes `n` values of `size` bytes over 100 keys, 8 clients at a time.
async fn load(m: &MemberProcess, n: usize, size: usize) {
    let mut tasks = Vec::new();
    for w in 0..8 {
        let mut c = client(m).await;
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(8) {
                c.put(format!("k{:03}", i % 100), vec![b'v'; size], None).await.expect("load put");
            }
        }));
    }
    for t in tasks {
        t.await.expect("load task");
    }
}

/// Revision, HashKV, and every key's (value length, mod revision).
async fn fingerprint(m: &MemberProcess) -> (i64, u32, Vec<(String, usize, i64)>) {
    let mut c = client(m).await;
    let h = c.hash_kv(0).await.expect("hashkv");
    let rev = h.header().map_or(0, |h| h.revision());
    let all = c.get("", Some(GetOptions::new().with_from_key())).await.expect("get all");
    let kvs = all
        .kvs()
        .iter()
        .map(|kv| (kv.key_str().unwrap_or("").to_string(), kv.value().len(), kv.mod_revision()))
        .collect();
    (rev, h.hash(), kvs)
}

/// The `write_pause` the member logged for its last defrag, in milliseconds.
fn logged_pause_ms(m: &MemberProcess) -> f64 {
    let log = m.log();
    let line = log.lines().rev().find(|l| l.contains("\"message\":\"defragmented\"")).expect("a defragmented line");
    let v: serde_json::Value = serde_json::from_str(line).expect("json log line");
    let pause = v["write_pause"].as_str().expect("write_pause");
    parse_debug_duration_ms(pause)
}

/// Parses Rust's `Debug` of a `Duration` (`12.3ms`, `850µs`, `1.2s`).
fn parse_debug_duration_ms(s: &str) -> f64 {
    for (unit, scale) in [("ms", 1.0), ("µs", 1e-3), ("ns", 1e-6), ("s", 1e3)] {
        if let Some(n) = s.strip_suffix(unit) {
            return n.parse::<f64>().expect("number") * scale;
        }
    }
    panic!("unparsable duration {s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defrag_keeps_serving_reads_and_writes() {
    let m = strata(&[]);
    load(&m, 3000, 16 * 1024).await;
    let mut c = client(&m).await;
    let last = c.get("k000", None).await.expect("get").header().map_or(0, |h| h.revision());
    c.compact(last - 300, Some(etcd_client::CompactionOptions::new().with_physical())).await.expect("compact");
    let before = fingerprint(&m).await;

    // Readers and a writer run all through the defrag, recording latencies.
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for kind in ["get", "get", "put"] {
        let mut c = client(&m).await;
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Acquire) {
                let t = Instant::now();
                if kind == "get" {
                    c.get(format!("k{:03}", i % 100), Some(GetOptions::new().with_serializable()))
                        .await
                        .expect("get during defrag");
                } else {
                    c.put(format!("w{i}"), "x", None).await.expect("put during defrag");
                }
                lat.push((t, t.elapsed()));
                i += 1;
            }
            (kind, lat)
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    c.defragment().await.expect("defragment");
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Release);

    let mut reads_during = 0;
    let mut max_read = Duration::ZERO;
    for w in workers {
        let (kind, lat) = w.await.expect("worker");
        let during: Vec<_> = lat.iter().filter(|(t, _)| *t >= started && *t <= started + took).collect();
        assert!(!lat.is_empty(), "{kind} made no progress at all");
        if kind == "get" {
            reads_during += during.len();
            max_read = during.iter().map(|(_, d)| *d).max().unwrap_or_default().max(max_read);
        }
    }
    let pause = logged_pause_ms(&m);
    eprintln!("defrag took {took:?}; {reads_during} reads during it, the slowest {max_read:?}; write pause {pause} ms");
    assert!(reads_during > 0, "no read completed during a {took:?} defrag");
    // Generous bounds for a debug build on a shared 2-core machine; the
    // benchmark measures the real numbers (docs/PERFORMANCE.md).
    assert!(max_read < Duration::from_millis(500), "a read waited {max_read:?}");
    assert!(pause < 500.0, "writes paused {pause} ms");

    let after = c.hash_kv(before.0).await.expect("hashkv at the revision before");
    assert_eq!(after.hash(), before.1, "HashKV at revision {} changed across defrag", before.0);
    let status = c.status().await.expect("status");
    assert!(status.db_size() < 32 * 1024 * 1024, "the file did not shrink: {} bytes", status.db_size());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_at_any_point_of_a_defrag_loses_nothing() {
    let mut m = strata(&[]);
    load(&m, 2000, 16 * 1024).await;
    let expected = fingerprint(&m).await;
    for delay_ms in [0u64, 5, 20, 60, 150] {
        let mut c = client(&m).await;
        let defrag = tokio::spawn(async move { c.defragment().await });
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        m.kill9().expect("kill -9");
        let _ = defrag.await;
        m.restart().expect("restart after a killed defrag");
        assert_eq!(fingerprint(&m).await, expected, "data changed after a kill {delay_ms} ms into a defrag");
        let leftovers: Vec<_> = std::fs::read_dir(m.data_dir().join("member"))
            .expect("member dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".defrag"))
            .collect();
        assert!(leftovers.is_empty(), "a copy was left behind: {leftovers:?}");
    }
    client(&m).await.defragment().await.expect("defrag after the crashes");
    assert_eq!(fingerprint(&m).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_a_compaction_resumes_it_after_restart() {
    let mut m = strata(&["--experimental-compaction-batch-limit", "50"]);
    load(&m, 2000, 1024).await;
    let mut c = client(&m).await;
    let rev = c.get("k000", None).await.expect("get").header().map_or(0, |h| h.revision());
    let at = rev - 100;
    c.compact(at, None).await.expect("compact");
    // The hash is fixed once the compaction is scheduled, whether or not its
    // deletions have reached the disk.
    let expected = fingerprint(&m).await;
    tokio::time::sleep(Duration::from_millis(40)).await;
    m.kill9().expect("kill -9");
    m.restart().expect("restart");
    let log = m.log();
    assert!(log.contains(&format!("resume scheduled compaction at {at}")), "{log}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !m.log().contains(&format!("finished scheduled compaction at {at}")) {
        assert!(Instant::now() < deadline, "the resumed compaction did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fingerprint(&m).await, expected);
    let mut c = client(&m).await;
    let err = c.get("k000", Some(GetOptions::new().with_revision(at - 1))).await.expect_err("compacted");
    assert!(err.to_string().contains("required revision has been compacted"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_fills_up_during_defrag_leaves_the_old_file_and_a_clear_error() {
    let mut m = strata(&[]);
    let Some(_tmpfs) = Tmpfs::move_member(&mut m, 64) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let data = m.data_dir();
    load(&m, 400, 16 * 1024).await;
    let expected = fingerprint(&m).await;
    let mut c = client(&m).await;
    // A defrag while there is room leaves every commit durable: otherwise the
    // once-a-second durable commit could meet the full disk below, and a
    // commit that fails stops the member by design (on a loaded machine the
    // load's last commits were not yet durable when the disk filled).
    c.defragment().await.expect("defrag with room");

    // Leave less room than the copy needs.
    let ballast = fill_disk(&data, 512 * 1024);
    let err = c.defragment().await.expect_err("the copy cannot fit");
    let msg = err.to_string();
    eprintln!("defrag on a full disk: {msg}");
    assert!(msg.contains("No space left on device") || msg.contains("os error 28"), "unclear error: {msg}");
    assert!(!data.join("member/state.redb.defrag").exists(), "the failed copy was left behind");
    assert_eq!(fingerprint(&m).await, expected, "a failed defrag changed the data");

    std::fs::remove_file(&ballast).expect("remove ballast");
    c.defragment().await.expect("defrag once there is room");
    assert_eq!(fingerprint(&m).await, expected);
    m.kill9().expect("stop before unmounting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defrags_and_compactions_requested_at_once_all_complete() {
    let m = strata(&["--experimental-compaction-batch-limit", "100"]);
    load(&m, 1500, 4 * 1024).await;
    let mut c = client(&m).await;
    let rev = c.get("k000", None).await.expect("get").header().map_or(0, |h| h.revision());
    let mut tasks = Vec::new();
    for i in 0..4 {
        let mut c = client(&m).await;
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                c.defragment().await.map(|_| "defrag".to_string()).map_err(|e| e.to_string())
            } else {
                let opts = etcd_client::CompactionOptions::new().with_physical();
                c.compact(rev - 500, Some(opts)).await.map(|_| "compact".to_string()).map_err(|e| e.to_string())
            }
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("task"));
    }
    let defrags = outcomes.iter().filter(|o| o.as_deref() == Ok("defrag")).count();
    let compacts = outcomes.iter().filter(|o| o.as_deref() == Ok("compact")).count();
    let compacted_errors = outcomes
        .iter()
        .filter(|o| o.as_ref().is_err_and(|e| e.contains("required revision has been compacted")))
        .count();
    assert_eq!((defrags, compacts, compacted_errors), (2, 1, 1), "{outcomes:?}");
    let h = c.hash_kv(0).await.expect("hashkv");
    assert_eq!(h.compact_version(), rev - 500, "etcd-client names compact_revision compact_version");
    let all = c.get("k", Some(GetOptions::new().with_prefix().with_count_only())).await.expect("count");
    assert_eq!(all.count(), 100);
}
