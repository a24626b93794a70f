//! The result of one run: a JSON line for machines (stdout) and a table for people (stderr).

use crate::stats::{LatencyMs, Recorder};
use crate::workload::catchup::CatchupFigures;
use crate::workload::maintenance::MaintenanceFigures;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// One run's numbers. Latencies and throughput count successful requests only; `requests`
/// counts every answered (or timed-out) request, `errors` the failed ones by gRPC code.
///
/// For `watch` a request is one event delivery: latency is put-to-event, throughput is
/// events received per second by all watchers, and `errors` holds failed puts (by code),
/// broken streams, and `MissedEvent`, `DuplicateEvent`, `OutOfOrderEvent` (one per
/// watcher and put); the writers' figures are in `watch`. For `lease` a request is one
/// keep-alive round trip on a client's stream. For `maintenance` it is one request of the
/// load, of any kind and phase; the phases are in `maintenance`. For `catchup` it is one
/// put of the load; the new member's figures are in `catchup`. With `--members`, the
/// server figures are the cluster's: CPU time and peak RSS summed over the members, and
/// start-up until the last member served.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `put`, `range`, `txn`, `watch`, `lease`, `maintenance` or `catchup`.
    pub workload: String,
    /// The flags that shaped the run.
    pub params: Map<String, Value>,
    /// Requests sent and finished, failed ones included.
    pub requests: u64,
    /// Failed requests by grpc-go's name of their code.
    pub errors: BTreeMap<String, u64>,
    /// The first message the server gave with each code of `errors`, where it gave one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub error_messages: BTreeMap<String, String>,
    /// `txn` only: updates whose compare failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<u64>,
    /// Wall time of the measured phase.
    pub duration_s: f64,
    /// Successful requests per second.
    pub throughput_rps: f64,
    /// Percentiles of successful requests.
    pub latency_ms: LatencyMs,
    /// `--launch`: server CPU time (user + system) during the measured phase (for
    /// `catchup`, the load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_s: Option<f64>,
    /// `--launch`: `server_cpu_s` per successful request, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_op: Option<f64>,
    /// `--launch`: the server's peak RSS over its whole life (`VmHWM`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_peak_rss_bytes: Option<u64>,
    /// `--launch`: from spawning the server to its first served linearizable read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_ms: Option<f64>,
    /// `watch`: the writers and the watchers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchFigures>,
    /// `maintenance`: the history, the phases and the sizes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<MaintenanceFigures>,
    /// `catchup`: the loaded cluster and the new member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catchup: Option<CatchupFigures>,
    /// `compare`: which server and round this run was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareTag>,
}

/// Where a run sits in a `compare`.
#[derive(Debug, Clone, Serialize)]
pub struct CompareTag {
    /// `a` or `b`.
    pub side: &'static str,
    /// 1-based.
    pub round: u32,
    /// The launched command.
    pub cmd: String,
}

/// `watch`'s own figures.
#[derive(Debug, Clone, Serialize)]
pub struct WatchFigures {
    /// Watchers created.
    pub watchers: u32,
    /// Watch streams they were spread over.
    pub streams: u32,
    /// Puts acknowledged.
    pub puts: u64,
    /// Puts that failed.
    pub put_errors: u64,
    /// Acknowledged puts per second of the writers' phase.
    pub puts_per_s: f64,
    /// Put latency percentiles (put sent → response).
    pub put_latency_ms: LatencyMs,
    /// Distinct puts received, summed over watchers.
    pub events: u64,
    /// `events` per second, from the first put to the last event received.
    pub events_per_s: f64,
    /// Acknowledged puts a watcher never received (within `--request-timeout` after the
    /// last put), summed over watchers.
    pub missed_events: u64,
    /// Puts a watcher received twice.
    pub duplicate_events: u64,
    /// Puts a watcher received after a later revision.
    pub out_of_order_events: u64,
    /// `--launch`: the server's RSS before the watchers were created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_before_watchers_bytes: Option<u64>,
    /// `--launch`: its RSS with the watchers created and idle (before any put).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_with_watchers_bytes: Option<u64>,
    /// `--launch`: (`rss_with_watchers_bytes` − `rss_before_watchers_bytes`) / `watchers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_per_watcher_bytes: Option<f64>,
}

/// What `--launch` measured of the server.
#[derive(Debug, Clone, Copy)]
pub struct ServerUsage {
    /// CPU time during the measured phase.
    pub cpu: Duration,
    /// Peak RSS in bytes.
    pub peak_rss_bytes: u64,
    /// Spawn to first linearizable read.
    pub startup: Duration,
}

impl Report {
    /// Puts a run's records together.
    pub fn new(
        workload: &str,
        params: Map<String, Value>,
        recorder: &Recorder,
        elapsed: Duration,
        server: Option<ServerUsage>,
    ) -> Report {
        let ok = recorder.succeeded();
        let secs = elapsed.as_secs_f64();
        Report {
            workload: workload.to_owned(),
            params,
            requests: ok + recorder.failed(),
            errors: recorder.errors().iter().map(|(code, n)| (code.to_string(), *n)).collect(),
            error_messages: recorder.first_messages().iter().map(|(c, m)| (c.to_string(), m.clone())).collect(),
            conflicts: (workload == "txn").then(|| recorder.conflicts()),
            duration_s: round3(secs),
            throughput_rps: round3(if secs > 0.0 { ok as f64 / secs } else { 0.0 }),
            latency_ms: recorder.latency_ms(),
            server_cpu_s: server.map(|s| round3(s.cpu.as_secs_f64())),
            server_cpu_us_per_op: server.and_then(|s| (ok > 0).then(|| round3(s.cpu.as_secs_f64() * 1e6 / ok as f64))),
            server_peak_rss_bytes: server.map(|s| s.peak_rss_bytes),
            startup_ms: server.map(|s| round3(s.startup.as_secs_f64() * 1e3)),
            watch: None,
            maintenance: None,
            catchup: None,
            compare: None,
        }
    }

    /// Requests answered without error.
    pub fn succeeded(&self) -> u64 {
        self.requests - self.errors.values().sum::<u64>()
    }

    /// The JSON line.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a report is plain data and always serializes")
    }

    /// The readable table.
    pub fn table(&self) -> String {
        let mut rows: Vec<(&str, String)> = Vec::new();
        let errors = if self.errors.is_empty() {
            "0".to_owned()
        } else {
            self.errors.iter().map(|(code, n)| format!("{code} {n}")).collect::<Vec<_>>().join(", ")
        };
        rows.push(("requests", format!("{} (errors: {errors})", self.requests)));
        for (code, message) in &self.error_messages {
            rows.push(("first error", format!("{code}: {message}")));
        }
        if let Some(c) = self.conflicts {
            rows.push(("conflicts", c.to_string()));
        }
        rows.push(("duration", format!("{:.3} s", self.duration_s)));
        let latency = |l: &LatencyMs| {
            format!("p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}", l.p50, l.p90, l.p99, l.p999, l.max)
        };
        if let Some(w) = &self.watch {
            rows.push(("watchers", format!("{} on {} streams", w.watchers, w.streams)));
            rows.push(("puts", format!("{} ({:.1}/s, errors {})", w.puts, w.puts_per_s, w.put_errors)));
            rows.push(("put latency (ms)", latency(&w.put_latency_ms)));
            rows.push(("events", format!("{} ({:.1}/s)", w.events, w.events_per_s)));
            rows.push((
                "bad events",
                format!(
                    "missed {}, duplicate {}, out of order {}",
                    w.missed_events, w.duplicate_events, w.out_of_order_events
                ),
            ));
            rows.push(("event latency", format!("{} ms (put sent → event received)", latency(&self.latency_ms))));
            if let (Some(before), Some(with), Some(per)) =
                (w.rss_before_watchers_bytes, w.rss_with_watchers_bytes, w.rss_per_watcher_bytes)
            {
                let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
                rows.push((
                    "server rss",
                    format!("{:.1} → {:.1} MiB with idle watchers ({per:.0} B/watcher)", mib(before), mib(with)),
                ));
            }
        } else {
            rows.push(("throughput", format!("{:.1} req/s", self.throughput_rps)));
            rows.push(("latency (ms)", latency(&self.latency_ms)));
        }
        if let Some(m) = &self.maintenance {
            rows.extend(m.rows());
        }
        if let Some(c) = &self.catchup {
            rows.extend(c.rows());
        }
        if let Some(cpu) = self.server_cpu_s {
            let per_op = self.server_cpu_us_per_op.map_or("-".to_owned(), |u| format!("{u:.1}"));
            rows.push(("server cpu", format!("{cpu:.2} s ({per_op} µs/op)")));
        }
        if let Some(rss) = self.server_peak_rss_bytes {
            rows.push(("server peak rss", format!("{:.1} MiB", rss as f64 / (1024.0 * 1024.0))));
        }
        if let Some(ms) = self.startup_ms {
            rows.push(("server startup", format!("{ms:.0} ms")));
        }
        let params: Vec<String> = self.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut out = format!("{} {}\n", self.workload, params.join(" "));
        for (name, value) in rows {
            out.push_str(&format!("  {name:<16} {value}\n"));
        }
        out
    }
}

/// Three decimals are plenty and keep the JSON lines short.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder() -> Recorder {
        let mut r = Recorder::default();
        for _ in 0..99 {
            r.ok(Duration::from_millis(2));
        }
        r.failure(&tonic::Status::unavailable("etcdserver: request timed out"));
        r
    }

    #[test]
    fn json_has_the_agreed_fields_and_server_fields_only_when_launched() {
        let report = Report::new("put", Map::new(), &recorder(), Duration::from_secs(2), None);
        let v: Value = serde_json::from_str(&report.json()).expect("json");
        assert_eq!(v["requests"], 100);
        assert_eq!(v["errors"]["Unavailable"], 1);
        assert_eq!(v["error_messages"]["Unavailable"], "etcdserver: request timed out");
        assert!(report.table().contains("first error      Unavailable: etcdserver: request timed out"));
        assert_eq!(v["throughput_rps"], 49.5);
        assert_eq!(v["latency_ms"]["p99"], 2.0);
        assert!(v.get("server_cpu_s").is_none() && v.get("conflicts").is_none());

        let usage = ServerUsage {
            cpu: Duration::from_millis(990),
            peak_rss_bytes: 1 << 20,
            startup: Duration::from_millis(50),
        };
        let report = Report::new("txn", Map::new(), &recorder(), Duration::from_secs(2), Some(usage));
        let v: Value = serde_json::from_str(&report.json()).expect("json");
        assert_eq!(v["server_cpu_us_per_op"], 10000.0, "per successful request");
        assert_eq!(v["server_peak_rss_bytes"], 1 << 20);
        assert_eq!(v["startup_ms"], 50.0);
        assert_eq!(v["conflicts"], 0);
        assert!(report.table().contains("server peak rss  1.0 MiB"), "{}", report.table());
    }

    #[test]
    fn a_watch_report_carries_its_figures_in_json_and_table() {
        let mut report = Report::new("watch", Map::new(), &recorder(), Duration::from_secs(1), None);
        report.watch = Some(WatchFigures {
            watchers: 100,
            streams: 10,
            puts: 300,
            put_errors: 0,
            puts_per_s: 100.0,
            put_latency_ms: recorder().latency_ms(),
            events: 30_000,
            events_per_s: 10_000.0,
            missed_events: 0,
            duplicate_events: 0,
            out_of_order_events: 0,
            rss_before_watchers_bytes: Some(10 << 20),
            rss_with_watchers_bytes: Some(11 << 20),
            rss_per_watcher_bytes: Some(10485.76),
        });
        let v: Value = serde_json::from_str(&report.json()).expect("json");
        assert_eq!(v["watch"]["events_per_s"], 10_000.0);
        assert_eq!(v["watch"]["rss_per_watcher_bytes"], 10485.76);
        let t = report.table();
        assert!(t.contains("watchers         100 on 10 streams"), "{t}");
        assert!(t.contains("server rss       10.0 → 11.0 MiB with idle watchers (10486 B/watcher)"), "{t}");
        assert!(!t.contains("req/s"), "{t}");
    }
}
