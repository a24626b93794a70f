//! Auto-compaction (`--auto-compaction-retention`): etcd's periodic schedule
//! and log lines, old revisions compacted as etcdctl sees them, and the
//! schedule across a restart. Revision mode ticks every 5 minutes, too slow
//! here: `server::auto_compactor`'s unit tests cover it under a fake clock.

use std::time::{Duration, Instant, SystemTime};

use testkit::MemberProcess;

use crate::{client, need_etcdctl, strata};

const COMPACTED: &str = "Error: etcdserver: mvcc: required revision has been compacted";

/// The JSON log lines of `log` with message `msg`.
fn lines(log: &str, msg: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == msg)
        .collect()
}

/// The seconds-of-day of a line's RFC 3339 timestamp.
fn secs_of_day(line: &serde_json::Value) -> f64 {
    let ts = line["timestamp"].as_str().expect("timestamp");
    let time = ts.split('T').nth(1).expect("time part").trim_end_matches('Z');
    let mut parts = time.split(':').map(|p| p.parse::<f64>().expect("number"));
    let (h, m, s) = (parts.next().expect("h"), parts.next().expect("m"), parts.next().expect("s"));
    h * 3600.0 + m * 60.0 + s
}

/// Seconds from `a` to `b`, across midnight too.
fn gap(a: &serde_json::Value, b: &serde_json::Value) -> f64 {
    (secs_of_day(b) - secs_of_day(a)).rem_euclid(86_400.0)
}

/// One put: when it was sent, its revision, when its answer came.
struct Write {
    sent: SystemTime,
    rev: i64,
    answered: SystemTime,
}

/// Puts `k` every 50 ms until the log written after `log_from` holds `n`
/// "starting auto periodic compaction" lines (at most `limit`). Returns the
/// writes and, per compaction, when the test saw it and its line.
async fn write_until_compactions(
    m: &MemberProcess,
    log_from: usize,
    n: usize,
    limit: Duration,
) -> (Vec<Write>, Vec<(SystemTime, serde_json::Value)>) {
    let mut c = client(m).await;
    let deadline = Instant::now() + limit;
    let (mut writes, mut seen) = (Vec::new(), Vec::new());
    while seen.len() < n {
        assert!(Instant::now() < deadline, "only {} auto compactions in {limit:?}; log:\n{}", seen.len(), m.log());
        let sent = SystemTime::now();
        let put = c.put("k", format!("v{}", writes.len()), None).await.expect("put");
        let rev = put.header().expect("header").revision();
        writes.push(Write { sent, rev, answered: SystemTime::now() });
        let log = m.log();
        let found = lines(&log[log_from..], "starting auto periodic compaction");
        let now = SystemTime::now();
        seen.extend(found.into_iter().skip(seen.len()).map(|line| (now, line)));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (writes, seen)
}

fn get_at(m: &MemberProcess, rev: i64) -> testkit::CtlOutput {
    testkit::etcdctl(&m.endpoint(), &["get", "k", &format!("--rev={rev}")], None).expect("etcdctl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_auto_compaction_keeps_one_retention_of_history_and_logs_like_etcd() {
    need_etcdctl!();
    let m = strata(&["--auto-compaction-retention", "2s"]);
    let (writes, seen) = write_until_compactions(&m, 0, 3, Duration::from_secs(10)).await;
    let log = m.log();

    let ready = lines(&log, "ready to serve client requests").remove(0);
    let started = lines(&log, "starting auto periodic compaction");
    let completed = lines(&log, "completed auto periodic compaction");
    assert!(completed.len() >= 2, "log:\n{log}");
    // etcd's cadence: the first one a retention after the start, then one per retention.
    assert!((1.8..3.0).contains(&gap(&ready, &started[0])), "first at {}s", gap(&ready, &started[0]));
    assert!((1.95..3.0).contains(&gap(&started[0], &started[1])), "then {}s", gap(&started[0], &started[1]));
    assert_eq!(started[0]["revision"], 1, "the first targets the revision at start, as etcd's");
    for (line, done) in started.iter().zip(&completed) {
        assert_eq!(line["compact-period"], "2s");
        assert_eq!(done["compact-period"], "2s");
        assert_eq!(done["revision"], line["revision"]);
        assert!(done["took"].as_str().is_some_and(|t| t.ends_with('s')), "{done}");
    }

    // Each target was current 2 s before its compaction: written no later
    // than that, and replaced no earlier than a second (the clock's grain)
    // and a tick before.
    for (saw, line) in &seen {
        let target = line["revision"].as_i64().expect("revision");
        let window_start = *saw - Duration::from_secs(2);
        if let Some(w) = writes.iter().find(|w| w.rev == target) {
            assert!(w.sent <= window_start, "compacted to {target}, written less than 2 s before");
        }
        if let Some(next) = writes.iter().find(|w| w.rev == target + 1) {
            let oldest = window_start - Duration::from_millis(1500);
            assert!(next.answered >= oldest, "compacted to {target}, replaced more than 3.5 s before");
        }
    }

    let last = seen.last().expect("a compaction").1["revision"].as_i64().expect("revision");
    assert!(last > 1);
    assert_eq!(get_at(&m, last - 1).error_line(), Some(COMPACTED));
    let current = writes.last().expect("a write").rev;
    let out = get_at(&m, current);
    assert_eq!((out.code, out.stdout.lines().next()), (0, Some("k")), "{out:?}");
    assert!(lines(&log, &format!("store.index: compact {last}")).len() == 1, "log:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_the_first_auto_compaction_targets_the_revision_from_before_it() {
    need_etcdctl!();
    let mut m = strata(&["--auto-compaction-retention", "2s"]);
    let (writes, _) = write_until_compactions(&m, 0, 1, Duration::from_secs(6)).await;
    let last_before = writes.last().expect("a write").rev;
    m.terminate().expect("stop");
    let log_from = m.log().len();
    m.restart().expect("start again");

    let (after, seen) = write_until_compactions(&m, log_from, 1, Duration::from_secs(6)).await;
    let log = m.log();
    let ready = lines(&log[log_from..], "ready to serve client requests").remove(0);
    let first = &seen[0].1;
    // A retention after the restart, as etcd's; the revision current 2 s
    // before that is the last one written before the stop.
    assert!((1.8..3.0).contains(&gap(&ready, first)), "first after {}s", gap(&ready, first));
    assert_eq!(first["revision"], last_before, "log:\n{log}");
    assert!(after.first().expect("a write").rev == last_before + 1);
    assert_eq!(get_at(&m, last_before - 1).error_line(), Some(COMPACTED));
    assert_eq!(get_at(&m, last_before).code, 0);
}
