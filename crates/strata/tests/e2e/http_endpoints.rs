//! The HTTP endpoints on the client port (`/metrics`, `/health`, `/version`,
//! `/livez`, `/readyz`) next to gRPC: codes, bodies and content types, metric
//! values, watcher accounting, and a comparison with etcd 3.4.23.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use etcd_client::{CompactionOptions, WatchOptions};
use testkit::MemberProcess;

use crate::{client, strata};

/// One HTTP/1.1 answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 request on a fresh connection.
fn request(endpoint: &str, method: &str, path: &str) -> Answer {
    let mut s = TcpStream::connect(endpoint).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n").expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let raw = String::from_utf8(raw).expect("utf-8 answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a blank line after the headers");
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v == "chunked");
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Answer { status, headers, body }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&tail[..size]);
        rest = &tail[size + 2..];
    }
    out
}

pub(crate) fn get(m: &MemberProcess, path: &str) -> Answer {
    request(&m.endpoint(), "GET", path)
}

/// The value of the sample `series` (a name, with its labels if it has any).
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

pub(crate) fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
}

/// etcd's metrics Strata exports, with their Prometheus types.
const ETCD_METRICS: &[(&str, &str)] = &[
    ("etcd_mvcc_db_total_size_in_bytes", "gauge"),
    ("etcd_mvcc_db_total_size_in_use_in_bytes", "gauge"),
    ("etcd_server_quota_backend_bytes", "gauge"),
    ("etcd_debugging_mvcc_current_revision", "gauge"),
    ("etcd_debugging_mvcc_compact_revision", "gauge"),
    ("etcd_debugging_mvcc_keys_total", "gauge"),
    ("etcd_debugging_mvcc_db_compaction_keys_total", "counter"),
    ("etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds", "histogram"),
    ("etcd_debugging_mvcc_db_compaction_total_duration_milliseconds", "histogram"),
    ("etcd_server_has_leader", "gauge"),
    ("etcd_server_is_leader", "gauge"),
    ("etcd_server_leader_changes_seen_total", "counter"),
    ("etcd_server_proposals_committed_total", "gauge"),
    ("etcd_server_proposals_applied_total", "gauge"),
    ("etcd_server_id", "gauge"),
    ("etcd_server_version", "gauge"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_virtual_memory_bytes", "gauge"),
    ("process_open_fds", "gauge"),
    ("etcd_cluster_version", "gauge"),
    ("etcd_server_health_success", "counter"),
    ("etcd_server_health_failures", "counter"),
    ("etcd_disk_defrag_inflight", "gauge"),
    ("etcd_disk_backend_defrag_duration_seconds", "histogram"),
    ("etcd_debugging_mvcc_watcher_total", "gauge"),
    ("etcd_debugging_mvcc_watch_stream_total", "gauge"),
    ("etcd_debugging_mvcc_slow_watcher_total", "gauge"),
];

const STRATA_METRICS: &[(&str, &str)] = &[
    ("strata_defrag_write_pause_seconds", "histogram"),
    ("strata_compaction_backlog_revisions", "gauge"),
    ("strata_oldest_retained_revision", "gauge"),
];

#[tokio::test]
async fn metrics_follow_writes_compaction_and_leadership() {
    let m = strata(&["--quota-backend-bytes", "16777216"]);
    let mut c = client(&m).await;
    for i in 0..10 {
        c.put("k", format!("v{i}"), None).await.expect("put");
    }
    c.put("other", "x", None).await.expect("put");

    let r = get(&m, "/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8; escaping=underscores"));
    for (name, kind) in ETCD_METRICS.iter().chain(STRATA_METRICS) {
        assert!(r.body.contains(&format!("\n# TYPE {name} {kind}\n")), "no {kind} {name} in\n{}", r.body);
        assert!(r.body.contains(&format!("# HELP {name} ")), "no HELP for {name}");
    }
    let t = &r.body;
    assert_eq!(value(t, "etcd_debugging_mvcc_current_revision"), 12.0);
    assert_eq!(value(t, "etcd_debugging_mvcc_keys_total"), 2.0);
    assert!(value(t, "etcd_mvcc_db_total_size_in_bytes") > 0.0);
    // etcd 3.6 dropped 3.4's second name for it.
    assert_eq!(sample(t, "etcd_debugging_mvcc_db_total_size_in_bytes"), None);
    let in_use = value(t, "etcd_mvcc_db_total_size_in_use_in_bytes");
    assert!(in_use > 0.0 && in_use <= value(t, "etcd_mvcc_db_total_size_in_bytes"), "in use: {in_use}");
    assert_eq!(value(t, "etcd_server_quota_backend_bytes"), 16777216.0);
    assert_eq!(value(t, "etcd_server_has_leader"), 1.0);
    assert_eq!(value(t, "etcd_server_is_leader"), 1.0);
    assert_eq!(value(t, "etcd_server_leader_changes_seen_total"), 1.0);
    let applied = value(t, "etcd_server_proposals_applied_total");
    assert!(applied >= 11.0, "11 writes applied, got {applied}");
    assert!(value(t, "etcd_server_proposals_committed_total") >= applied);
    assert_eq!(value(t, "etcd_server_version{server_version=\"3.6.14\"}"), 1.0);
    assert_eq!(value(t, "etcd_cluster_version{cluster_version=\"3.6\"}"), 1.0);
    assert!(t.contains("\netcd_server_id{server_id=\""), "etcd_server_id carries the member id");
    assert_eq!(value(t, "etcd_disk_defrag_inflight"), 0.0);
    assert_eq!(value(t, "etcd_disk_backend_defrag_duration_seconds_count"), 0.0);
    assert_eq!(value(t, "etcd_debugging_mvcc_db_compaction_keys_total"), 0.0);
    assert_eq!(value(t, "strata_oldest_retained_revision"), 1.0);
    assert_eq!(value(t, "strata_compaction_backlog_revisions"), 0.0);

    // Revisions 2..=5 of "k" go; 6 stays as the value at the compacted revision.
    c.compact(6, Some(CompactionOptions::new().with_physical())).await.expect("compact");
    let t = get(&m, "/metrics").body;
    assert_eq!(value(&t, "etcd_debugging_mvcc_compact_revision"), 6.0);
    assert_eq!(value(&t, "strata_oldest_retained_revision"), 6.0);
    assert_eq!(value(&t, "strata_compaction_backlog_revisions"), 0.0);
    assert_eq!(value(&t, "etcd_debugging_mvcc_db_compaction_keys_total"), 4.0);
    assert!(value(&t, "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds_count") >= 1.0);
    assert_eq!(value(&t, "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count"), 1.0);
    assert_eq!(value(&t, "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_bucket{le=\"+Inf\"}"), 1.0);
}

#[tokio::test]
async fn health_version_and_probes_answer_like_etcd() {
    let m = strata(&[]);
    let e = m.endpoint();

    let healthy = r#"{"health":"true","reason":""}"#;
    let r = get(&m, "/health");
    assert_eq!((r.status, r.body.as_str()), (200, healthy));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = get(&m, "/health?exclude=NOSPACE");
    assert_eq!((r.status, r.body.as_str()), (200, healthy));
    let r = get(&m, "/health?serializable=true");
    assert_eq!((r.status, r.body.as_str()), (200, healthy));
    let r = request(&e, "POST", "/health");
    assert_eq!((r.status, r.body.as_str()), (405, "Method Not Allowed\n"));
    assert_eq!(r.header("allow"), Some("GET"));

    let r = get(&m, "/version");
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"etcdserver":"3.6.14","etcdcluster":"3.6.0","storage":"3.6.0"}"#)
    );
    assert_eq!(r.header("content-type"), Some("application/json"));

    let r = get(&m, "/livez");
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(get(&m, "/livez?verbose").body, "[+]serializable_read ok\nok\n");
    assert_eq!(
        get(&m, "/readyz?verbose").body,
        "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n[+]non_learner ok\nok\n"
    );
    let r = get(&m, "/readyz?verbose&exclude=non_learner&exclude=data_corruption");
    assert_eq!(r.body, "[+]serializable_read ok\n[+]linearizable_read ok\nok\n");
    assert_eq!(get(&m, "/readyz/linearizable_read?verbose").body, "[+]linearizable_read ok\nok\n");
    assert_eq!(get(&m, "/readyz/no_such_check").status, 404);
    assert_eq!(request(&e, "PUT", "/readyz").status, 405);

    for path in ["/", "/foo", "/health/", "/metricsx", "/v2/keys"] {
        let r = get(&m, path);
        assert_eq!((r.status, r.body.as_str()), (404, "404 page not found\n"), "{path}");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }
    let r = request(&e, "OPTIONS", "/anything");
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(r.header("access-control-allow-methods"), Some("POST, GET, OPTIONS, PUT, DELETE"));

    // gRPC still answers on the same port, and its unknown methods stay gRPC's.
    let mut c = client(&m).await;
    c.put("after-http", "1", None).await.expect("put over gRPC");
    assert_eq!(value(&get(&m, "/metrics").body, "etcd_server_health_success"), 3.0);
}

/// What a differential comparison looks at: status, the body (the metrics
/// text is compared by its families elsewhere) and the headers that carry
/// meaning.
fn comparable(a: &Answer) -> String {
    let keep = [
        "content-type",
        "allow",
        "x-content-type-options",
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
    ];
    let mut headers: Vec<String> =
        a.headers.iter().filter(|(n, _)| keep.contains(&n.as_str())).map(|(n, v)| format!("{n}: {v}")).collect();
    headers.sort();
    format!("{}\n{}\n{}", a.status, headers.join("\n"), a.body)
}

#[test]
fn http_endpoints_match_etcd() {
    if testkit::anchor("etcd").is_none() {
        eprintln!("{}", testkit::missing_anchor("etcd"));
        return;
    }
    let requests = [
        ("GET", "/health"),
        ("GET", "/health?exclude=NOSPACE"),
        ("GET", "/health?exclude=CORRUPT&exclude=NOSPACE"),
        ("GET", "/health?serializable=true"),
        ("POST", "/health"),
        ("GET", "/livez"),
        // Not `?verbose`: etcd lists the checks in Go's map order, which varies.
        ("GET", "/readyz"),
        ("GET", "/v2/keys"),
        ("GET", "/v2/members"),
        ("GET", "/version"),
        ("PUT", "/version"),
        ("GET", "/version/"),
        ("GET", "/nothing/here"),
        ("OPTIONS", "/metrics"),
    ];
    let run = |m: &MemberProcess| {
        let mut answers: Vec<String> =
            requests.iter().map(|(method, path)| comparable(&request(&m.endpoint(), method, path))).collect();
        let metrics = request(&m.endpoint(), "GET", "/metrics");
        answers.push(comparable(&Answer { body: String::new(), ..metrics }));
        answers.push(metric_types(&get(m, "/metrics").body));
        answers
    };
    let etcd = MemberProcess::start_etcd36(&[]).expect("start etcd 3.6");
    let want = run(&etcd);
    drop(etcd);
    let s = strata(&[]);
    let got = run(&s);
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        let what = requests.get(i).map_or("/metrics".to_string(), |(m, p)| format!("{m} {p}"));
        assert_eq!(g, w, "strata answers {what} differently from etcd 3.6.14");
    }
}

/// The `# TYPE` lines of the etcd metrics Strata exports.
fn metric_types(text: &str) -> String {
    let names: Vec<&str> = ETCD_METRICS.iter().map(|(n, _)| *n).collect();
    let mut types: Vec<&str> = text
        .lines()
        .filter(|l| l.strip_prefix("# TYPE ").and_then(|t| t.split(' ').next()).is_some_and(|n| names.contains(&n)))
        .collect();
    types.sort();
    types.join("\n")
}

/// Polls `/metrics` until the watch gauges read `want` (streams, watchers).
fn wait_for_watch_load(m: &MemberProcess, want: (f64, f64)) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let t = get(m, "/metrics").body;
        let got = (value(&t, "etcd_debugging_mvcc_watch_stream_total"), value(&t, "etcd_debugging_mvcc_watcher_total"));
        if got == want {
            return t;
        }
        assert!(Instant::now() < deadline, "watch streams and watchers stayed at {got:?}, want {want:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Streams × watchers per stream opened by a client whose runtime is then
/// torn down: its connection closes without a goodbye.
const STREAMS: usize = 4;
const WATCHERS_PER_STREAM: usize = 5;

#[test]
fn watchers_are_not_leaked_when_clients_vanish() {
    let m = strata(&[]);
    let endpoint = m.endpoint();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let streams = rt.block_on(async {
        let mut c = etcd_client::Client::connect([endpoint.as_str()], None).await.expect("connect");
        let mut streams = Vec::new();
        for s in 0..STREAMS {
            let mut ws = c.watch(format!("s{s}/0"), None).await.expect("watch");
            for w in 1..WATCHERS_PER_STREAM {
                ws.watch(format!("s{s}/{w}"), Some(WatchOptions::new().with_prev_key())).await.expect("watch");
            }
            for _ in 0..WATCHERS_PER_STREAM {
                let created = ws.message().await.expect("stream ok").expect("open");
                assert!(created.created());
            }
            streams.push(ws);
        }
        streams
    });

    // etcdctl processes, killed without warning.
    let ctl_watchers: Vec<std::process::Child> = if testkit::have_etcdctl() {
        (0..3)
            .map(|i| {
                Command::new("/usr/bin/etcdctl")
                    .args(["--endpoints", &endpoint, "watch", "--prefix", &format!("s{i}/")])
                    .env("ETCDCTL_API", "3")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("etcdctl watch")
            })
            .collect()
    } else {
        Vec::new()
    };
    let n_ctl = ctl_watchers.len();
    wait_for_watch_load(&m, ((STREAMS + n_ctl) as f64, (STREAMS * WATCHERS_PER_STREAM + n_ctl) as f64));

    // Events in flight to clients that are about to disappear.
    let writer = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let put_all = |round: usize| {
        writer.block_on(async {
            let mut c = client(&m).await;
            for s in 0..STREAMS {
                for w in 0..WATCHERS_PER_STREAM {
                    c.put(format!("s{s}/{w}"), format!("round {round}"), None).await.expect("put");
                }
            }
        })
    };
    put_all(1);
    for mut child in ctl_watchers {
        child.kill().expect("kill -9 etcdctl");
        let _ = child.wait();
    }
    rt.shutdown_background();
    drop(streams);
    put_all(2);

    let t = wait_for_watch_load(&m, (0.0, 0.0));
    assert_eq!(value(&t, "etcd_debugging_mvcc_slow_watcher_total"), 0.0);
}

/// Raises or clears an alarm of the member through `Maintenance.Alarm`.
async fn set_alarm(m: &MemberProcess, action: etcd_client::AlarmAction, alarm: etcd_client::AlarmType) {
    let mut c = client(m).await;
    let member_id = c.get("alarm-probe", None).await.expect("get").header().expect("header").member_id();
    let mut opts = etcd_client::AlarmOptions::new();
    opts.with_member(member_id);
    c.alarm(action, alarm, Some(opts)).await.expect("alarm");
}

/// `/health` under NOSPACE, with and without `?exclude=NOSPACE`.
async fn health_under_nospace(m: &MemberProcess) -> Vec<String> {
    use etcd_client::{AlarmAction, AlarmType};
    set_alarm(m, AlarmAction::Activate, AlarmType::Nospace).await;
    let paths = ["/health", "/health?exclude=NOSPACE", "/health?exclude=CORRUPT"];
    let answers = paths.iter().map(|p| comparable(&get(m, p))).collect();
    set_alarm(m, AlarmAction::Deactivate, AlarmType::Nospace).await;
    answers
}

#[tokio::test]
async fn health_fails_under_an_alarm_unless_excluded() {
    use etcd_client::{AlarmAction, AlarmType};
    let m = strata(&["--strata-nospace-auto-disarm", "false"]);
    let got = health_under_nospace(&m).await;
    assert!(got[0].starts_with("503\n"), "{}", got[0]);
    assert!(got[0].ends_with("\n{\"health\":\"false\",\"reason\":\"ALARM NOSPACE\"}\n"), "{}", got[0]);
    assert!(got[1].starts_with("200\n") && got[1].ends_with("\n{\"health\":\"true\",\"reason\":\"\"}"), "{}", got[1]);
    assert!(got[2].starts_with("503\n"), "{}", got[2]);
    assert!(m.log().contains("serving /health false due to an alarm"), "etcd's warning is logged");
    assert_eq!(get(&m, "/health").status, 200, "healthy again once disarmed");

    set_alarm(&m, AlarmAction::Activate, AlarmType::Corrupt).await;
    let r = get(&m, "/readyz");
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            503,
            "[-]data_corruption failed: alarm activated: CORRUPT\n[+]serializable_read ok\n[+]linearizable_read ok\n[+]non_learner ok\n\n"
        )
    );
    assert_eq!(get(&m, "/readyz?exclude=data_corruption").status, 200);
    assert_eq!(get(&m, "/livez").status, 200, "livez does not look at alarms");
    assert_eq!(get(&m, "/health?exclude=NOSPACE").status, 503);
    let t = get(&m, "/metrics").body;
    assert!(value(&t, "etcd_server_health_failures") >= 3.0);

    if testkit::anchor("etcd").is_some() {
        let etcd = MemberProcess::start_etcd36(&[]).expect("start etcd 3.6");
        let want = health_under_nospace(&etcd).await;
        assert_eq!(got, want, "/health under NOSPACE differs from etcd 3.6.14");
    }
}
