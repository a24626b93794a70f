//! `compare`: two launched servers on one workload, alternated A B, B A, A B … so that
//! drift of a shared, noisy machine falls on both, reported as the ratio A/B per round
//! with its median and range.

use crate::cli::{CompareArgs, GlobalArgs};
use crate::measure::{Target, measure};
use crate::report::{CompareTag, Report};
use crate::stats::{Spread, ratios};
use crate::workload::Workload;
use crate::workload::catchup::CatchupFigures;
use crate::workload::maintenance::MaintenanceFigures;
use anyhow::bail;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// A compared figure and how to read it from a report.
struct Metric {
    name: &'static str,
    get: fn(&Report) -> Option<f64>,
}

/// `throughput_rps` and the latencies are of events for `watch`; its writers' rate and
/// the memory of its idle watchers follow, then `maintenance`'s phases (for it the first
/// ones are of its whole load), then `catchup`'s (the first ones are of its load); each
/// is left out where no run has it.
const METRICS: &[Metric] = &[
    Metric { name: "throughput_rps", get: |r| Some(r.throughput_rps) },
    Metric { name: "p50_ms", get: |r| Some(r.latency_ms.p50) },
    Metric { name: "p99_ms", get: |r| Some(r.latency_ms.p99) },
    Metric { name: "cpu_us_per_op", get: |r| r.server_cpu_us_per_op },
    Metric { name: "peak_rss_bytes", get: |r| r.server_peak_rss_bytes.map(|b| b as f64) },
    Metric { name: "startup_ms", get: |r| r.startup_ms },
    Metric { name: "puts_per_s", get: |r| r.watch.as_ref().map(|w| w.puts_per_s) },
    Metric { name: "rss_per_watcher_bytes", get: |r| r.watch.as_ref().and_then(|w| w.rss_per_watcher_bytes) },
    Metric { name: "preload_s", get: |r| maint(r, |m| m.preload_s) },
    Metric { name: "base_put_p99_ms", get: |r| maint(r, |m| m.baseline.put.p99_ms) },
    Metric { name: "base_get_l_p99_ms", get: |r| maint(r, |m| m.baseline.get_l.p99_ms) },
    Metric { name: "compact_ms", get: |r| maint(r, |m| m.compaction.phase.duration_ms) },
    Metric { name: "compact_put_p99_ms", get: |r| maint(r, |m| m.compaction.phase.put.p99_ms) },
    Metric { name: "compact_put_max_ms", get: |r| maint(r, |m| m.compaction.phase.put.max_ms) },
    Metric { name: "compact_get_l_p99_ms", get: |r| maint(r, |m| m.compaction.phase.get_l.p99_ms) },
    Metric { name: "defrag_ms", get: |r| maint(r, |m| m.defrag.phase.duration_ms) },
    Metric { name: "defrag_put_max_ms", get: |r| maint(r, |m| m.defrag.phase.put.max_ms) },
    Metric { name: "defrag_get_s_max_ms", get: |r| maint(r, |m| m.defrag.phase.get_s.max_ms) },
    Metric { name: "defrag_get_l_max_ms", get: |r| maint(r, |m| m.defrag.phase.get_l.max_ms) },
    Metric { name: "defrag_put_p99_ms", get: |r| maint(r, |m| m.defrag.phase.put.p99_ms) },
    Metric { name: "defrag_get_l_p99_ms", get: |r| maint(r, |m| m.defrag.phase.get_l.p99_ms) },
    Metric { name: "defrag_pause_ms", get: |r| r.maintenance.as_ref().and_then(|m| m.defrag.server_write_pause_ms) },
    Metric { name: "db_bytes_before", get: |r| maint(r, |m| m.before_compaction.db_size_bytes as f64) },
    Metric { name: "inuse_compacted_bytes", get: |r| maint(r, |m| m.after_compaction.db_size_in_use_bytes as f64) },
    Metric { name: "db_bytes_compacted", get: |r| maint(r, |m| m.after_compaction.db_size_bytes as f64) },
    Metric { name: "db_bytes_defragged", get: |r| maint(r, |m| m.after_defrag.db_size_bytes as f64) },
    Metric { name: "catchup_ms", get: |r| r.catchup.as_ref().map(|c| c.catchup_ms) },
    Metric { name: "catchup_cpu_s", get: |r| r.catchup.as_ref().and_then(|c| c.catchup_cpu_s) },
    Metric { name: "member_add_ms", get: |r| r.catchup.as_ref().and_then(|c| c.member_add_ms) },
    Metric { name: "settle_ms", get: |r| r.catchup.as_ref().map(|c| c.settle_ms) },
    Metric { name: "leader_db_bytes", get: |r| r.catchup.as_ref().map(|c| c.leader_db_size_bytes as f64) },
    Metric { name: "new_member_disk_bytes", get: |r| catchup(r, |c| c.new_member_data_dir_bytes) },
    Metric { name: "new_member_rss_bytes", get: |r| catchup(r, |c| c.new_member_peak_rss_bytes) },
];

/// A `maintenance` figure of a report, if it is a maintenance run.
fn maint(r: &Report, get: fn(&MaintenanceFigures) -> f64) -> Option<f64> {
    r.maintenance.as_ref().map(get)
}

/// A `catchup` byte count of a report, if it is a catchup run that measured it.
fn catchup(r: &Report, get: fn(&CatchupFigures) -> Option<u64>) -> Option<f64> {
    r.catchup.as_ref().and_then(get).map(|b| b as f64)
}

/// The metrics some run has a value of.
fn metrics_of<'m>(a: &[Report], b: &[Report]) -> impl Iterator<Item = &'m Metric> {
    let present: Vec<bool> = METRICS.iter().map(|m| a.iter().chain(b).any(|r| (m.get)(r).is_some())).collect();
    METRICS.iter().zip(present).filter(|(_, p)| *p).map(|(m, _)| m)
}

/// Runs the rounds, printing each run's JSON line as it ends, then the table of ratios
/// (stderr) and their JSON line. `Ok(false)` if some run had no successful request.
pub async fn compare(global: &GlobalArgs, args: &CompareArgs) -> anyhow::Result<bool> {
    if global.launch.is_some() {
        bail!("compare launches --a and --b itself; --launch does not apply");
    }
    let workload = Workload::new(&args.workload, global.seed)?;
    let name = workload.name();
    let mut workload = Arc::new(workload);
    let mut a: Vec<Report> = Vec::new();
    let mut b: Vec<Report> = Vec::new();
    for round in 1..=args.rounds {
        let order = if round % 2 == 1 { ["a", "b"] } else { ["b", "a"] };
        for side in order {
            let cmd = if side == "a" { &args.a } else { &args.b };
            let mut report = measure(global, &workload, &Target::Launch(cmd.clone())).await?;
            report.compare = Some(CompareTag { side, round, cmd: cmd.clone() });
            println!("{}", report.json());
            eprintln!("round {round} {}: {}", side.to_uppercase(), one_line(&report));
            if side == "a" {
                a.push(report)
            } else {
                b.push(report)
            }
            // A fresh workload per run, so `--sequential-keys` starts at key 0 each time.
            workload = Arc::new(Workload::new(&args.workload, global.seed)?);
        }
    }
    eprint!("{}", table(&a, &b));
    let mut out = Map::new();
    for m in metrics_of(&a, &b) {
        let per_round = ratios(&values(&a, m), &values(&b, m));
        let spread = Spread::of(&per_round);
        out.insert(
            m.name.into(),
            json!({
                "per_round": per_round.iter().map(|&r| round4(r)).collect::<Vec<_>>(),
                "median": spread.map(|s| round4(s.median)),
                "min": spread.map(|s| round4(s.min)),
                "max": spread.map(|s| round4(s.max)),
            }),
        );
    }
    let params = a.first().map(|r| r.params.clone()).unwrap_or_default();
    let summary = json!({
        "compare": { "a": args.a, "b": args.b, "rounds": args.rounds, "workload": name, "params": strip_launch(params) },
        "ratios": Value::Object(out),
    });
    println!("{summary}");
    Ok(a.iter().chain(&b).all(|r| r.succeeded() > 0))
}

/// Four decimals of a ratio are more than the noise allows; NaN (no ratio) stays NaN,
/// which serde_json writes as `null`.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn values(reports: &[Report], m: &Metric) -> Vec<Option<f64>> {
    reports.iter().map(m.get).collect()
}

fn strip_launch(mut params: Map<String, Value>) -> Map<String, Value> {
    params.remove("launch");
    params
}

fn one_line(r: &Report) -> String {
    let errors: u64 = r.errors.values().sum();
    let unit = if r.watch.is_some() { "events/s" } else { "req/s" };
    let puts = r.watch.as_ref().map_or(String::new(), |w| format!("{:.1} puts/s, ", w.puts_per_s));
    let catchup = r.catchup.as_ref().map_or(String::new(), |c| {
        let add = c.member_add_ms.map_or(String::new(), |ms| format!(", add {ms:.1} ms"));
        format!("caught up in {:.0} ms ({:.1} s CPU){add}, load: ", c.catchup_ms, c.catchup_cpu_s.unwrap_or(0.0))
    });
    let phases = r.maintenance.as_ref().map_or(String::new(), |m| {
        let d = &m.defrag.phase;
        format!(
            "compact {:.0} ms, defrag {:.0} ms (longest put {:.1}, get_s {:.1}, get_l {:.1} ms), ",
            m.compaction.phase.duration_ms, d.duration_ms, d.put.max_ms, d.get_s.max_ms, d.get_l.max_ms
        )
    });
    format!(
        "{puts}{phases}{catchup}{:.1} {unit}, p50 {:.3} ms, p99 {:.3} ms, cpu {} µs/op, peak rss {:.1} MiB, startup {} ms, errors {errors}",
        r.throughput_rps,
        r.latency_ms.p50,
        r.latency_ms.p99,
        r.server_cpu_us_per_op.map_or("-".into(), |u| format!("{u:.1}")),
        r.server_peak_rss_bytes.unwrap_or(0) as f64 / (1024.0 * 1024.0),
        r.startup_ms.map_or("-".into(), |s| format!("{s:.0}")),
    )
}

/// Per metric: A, B and A/B for each round, then the median, min and max of A/B.
fn table(a: &[Report], b: &[Report]) -> String {
    let mut out = format!("{:<21} {:>5} {:>14} {:>14} {:>8}\n", "metric", "round", "A", "B", "A/B");
    for m in metrics_of(a, b) {
        let (va, vb) = (values(a, m), values(b, m));
        let r = ratios(&va, &vb);
        for (i, ((x, y), ratio)) in va.iter().zip(&vb).zip(&r).enumerate() {
            let cell = |v: &Option<f64>| match v {
                None => "-".to_owned(),
                Some(v) if v.abs() >= 1e5 => format!("{v:.0}"),
                Some(v) => format!("{v:.3}"),
            };
            let name = if i == 0 { m.name } else { "" };
            out.push_str(&format!("{name:<21} {:>5} {:>14} {:>14} {ratio:>8.3}\n", i + 1, cell(x), cell(y)));
        }
        if let Some(s) = Spread::of(&r) {
            out.push_str(&format!(
                "{:<21} {:>5} median {:.3}, min {:.3}, max {:.3}\n",
                "", "A/B", s.median, s.min, s.max
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Recorder;
    use std::time::Duration;

    fn report(rps_secs: u64, rss: u64) -> Report {
        let mut rec = Recorder::default();
        for _ in 0..100 {
            rec.ok(Duration::from_millis(1));
        }
        let usage = crate::report::ServerUsage {
            cpu: Duration::from_millis(100),
            peak_rss_bytes: rss,
            startup: Duration::from_millis(10),
        };
        Report::new("put", Map::new(), &rec, Duration::from_secs(rps_secs), Some(usage))
    }

    #[test]
    fn table_shows_each_round_and_the_ratio_spread() {
        let a = [report(1, 200), report(2, 200)];
        let b = [report(2, 100), report(2, 100)];
        let t = table(&a, &b);
        assert!(t.contains("throughput_rps            1        100.000         50.000    2.000"), "{t}");
        assert!(t.contains("A/B median 1.500, min 1.000, max 2.000"), "{t}");
        assert!(t.contains("peak_rss_bytes            1        200.000        100.000    2.000"), "{t}");
        let big = table(&[report(1, 300_000)], &[report(1, 100_000)]);
        assert!(!t.contains("puts_per_s") && !t.contains("rss_per_watcher"), "watch metrics only for watch: {t}");
        assert!(big.contains("peak_rss_bytes            1         300000         100000    3.000"), "{big}");
    }

    #[test]
    fn watch_runs_compare_writers_and_memory_per_watcher_too() {
        let watch = |puts_per_s, per_watcher| {
            let mut r = report(1, 100);
            r.watch = Some(crate::report::WatchFigures {
                watchers: 10,
                streams: 1,
                puts: 100,
                put_errors: 0,
                puts_per_s,
                put_latency_ms: r.latency_ms,
                events: 1000,
                events_per_s: 1000.0,
                missed_events: 0,
                duplicate_events: 0,
                out_of_order_events: 0,
                rss_before_watchers_bytes: Some(0),
                rss_with_watchers_bytes: Some(0),
                rss_per_watcher_bytes: Some(per_watcher),
            });
            r
        };
        let t = table(&[watch(100.0, 3000.0)], &[watch(50.0, 1000.0)]);
        assert!(
            t.contains(&format!("{:<21} {:>5} {:>14} {:>14} {:>8}", "puts_per_s", 1, "100.000", "50.000", "2.000")),
            "{t}"
        );
        assert!(t.contains("rss_per_watcher_bytes     1"), "{t}");
        assert!(t.contains("3.000\n"), "{t}");
    }
}
