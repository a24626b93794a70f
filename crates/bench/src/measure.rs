//! One measured run: connect (or launch a server), prepare the keys (or leases), warm up,
//! load, and read the server's CPU time and peak RSS.
//!
//! `watch` has phases of its own after the warm-up (its writers' puts): read the server's
//! RSS, create the watchers and read it again, then put and drain, with the server's CPU
//! time taken over putting and draining.
//!
//! `maintenance` preloads its history, then runs its own phases under its own load
//! ([`Maintenance::run`]), with the server's CPU time taken over the phases.
//!
//! `catchup` loads its keys as the measured run, then adds a member or restarts a stopped
//! one ([`Catchup::catch_up`]).
//!
//! With `--members N` the launched server is a cluster; its CPU time, RSS and disk are the
//! members' summed.

use crate::cli::GlobalArgs;
use crate::cluster::{Cluster, client_endpoints, leader_index};
use crate::report::{Report, ServerUsage, WatchFigures};
use crate::runner::{self, Plan, Stop};
use crate::workload::catchup::Catchup;
use crate::workload::maintenance::{self, Maintenance};
use crate::workload::watch::{Watch, Watchers};
use crate::workload::{Conn, Workload};
use anyhow::{Context, ensure};
use serde_json::{Map, Value, json};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tonic::transport::Endpoint;

/// With `--launch`, the pause between creating the watchers and reading the server's RSS.
const RSS_SETTLE: Duration = Duration::from_millis(200);

/// Where the load goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// Servers already running.
    Endpoints(Vec<String>),
    /// A server (or a cluster of `--members`) this run launches and stops.
    Launch(String),
}

/// Runs `workload` against `target` as `global` says.
pub async fn measure(global: &GlobalArgs, workload: &Arc<Workload>, target: &Target) -> anyhow::Result<Report> {
    let params = params(global, workload, target);
    match target {
        Target::Endpoints(endpoints) => {
            let endpoints = if global.target_leader {
                let leader = leader_index(endpoints, global.dial_timeout, global.startup_timeout).await?;
                client_endpoints(endpoints, leader, true)
            } else {
                endpoints.clone()
            };
            load(global, workload, &endpoints, None, params).await
        }
        Target::Launch(cmd) => {
            let mut cluster = Cluster::start(cmd, global.members, global.startup_timeout).await?;
            let result = match launched_endpoints(global, &cluster).await {
                Ok(endpoints) => load(global, workload, &endpoints, Some(&mut cluster), params).await,
                Err(e) => Err(e),
            };
            cluster.stop().await?;
            result
        }
    }
}

/// A lone member's endpoint, or the cluster's as `--target-leader` says.
async fn launched_endpoints(global: &GlobalArgs, cluster: &Cluster) -> anyhow::Result<Vec<String>> {
    let endpoints = cluster.endpoints();
    if endpoints.len() == 1 {
        return Ok(endpoints);
    }
    let leader = leader_index(&endpoints, global.dial_timeout, global.startup_timeout).await?;
    Ok(client_endpoints(&endpoints, leader, global.target_leader))
}

async fn load(
    global: &GlobalArgs,
    workload: &Arc<Workload>,
    endpoints: &[String],
    server: Option<&mut Cluster>,
    params: Map<String, Value>,
) -> anyhow::Result<Report> {
    let conns = connect(endpoints, global).await?;
    match &**workload {
        Workload::Maintenance(m) => return load_maintenance(global, m, &conns, endpoints, server, params).await,
        Workload::Catchup(c) => return load_catchup(global, c, &conns, server, params).await,
        _ => {}
    }
    workload.prepare(&conns, global.clients).await.context("preparing the run")?;
    let mut plan = Plan {
        clients: global.clients,
        stop: Stop::After(global.warmup),
        rate: global.rate,
        request_timeout: global.request_timeout,
        seed: global.seed,
        progress: std::io::stderr().is_terminal(),
    };
    if let Workload::Watch(w) = &**workload {
        ensure!(global.rate == 0, "watch paces its puts with --put-rate; --rate does not apply");
        plan.rate = w.put_rate();
    }
    if !global.warmup.is_zero() {
        runner::run(workload, &conns, &plan).await?;
    }
    plan.stop = match (global.total, global.duration) {
        (_, Some(d)) => Stop::After(d),
        (Some(n), None) => Stop::Total(n),
        (None, None) => Stop::Total(10_000),
    };
    if let Workload::Watch(w) = &**workload {
        return load_watch(global, workload, w, &conns, &plan, server, params).await;
    }
    let cpu_before = server.as_ref().map(|s| s.cpu_time()).transpose()?;
    let outcome = runner::run(workload, &conns, &plan).await?;
    let usage = usage(server, cpu_before)?;
    Ok(Report::new(workload.name(), params, &outcome.recorder, outcome.elapsed, usage))
}

/// `watch`: RSS before and with the idle watchers, then the writers, then the drain.
async fn load_watch(
    global: &GlobalArgs,
    workload: &Arc<Workload>,
    w: &Watch,
    conns: &[Conn],
    plan: &Plan,
    server: Option<&mut Cluster>,
    params: Map<String, Value>,
) -> anyhow::Result<Report> {
    let rss_before = server.as_deref().map(Cluster::rss_bytes).transpose()?;
    let watchers = Watchers::create(conns, w.watchers(), w.streams(), w.epoch(), global.request_timeout).await?;
    let rss_with = match server.as_deref() {
        Some(s) => {
            tokio::time::sleep(RSS_SETTLE).await;
            Some(s.rss_bytes()?)
        }
        None => None,
    };
    let cpu_before = server.as_ref().map(|s| s.cpu_time()).transpose()?;
    let start = Instant::now();
    let puts = runner::run(workload, conns, plan).await?;
    let delivery = watchers.finish(w.acked(), global.request_timeout).await;
    let usage = usage(server, cpu_before)?;
    // Events keep arriving after the last put: they count until the last one came.
    let elapsed = delivery.last_event.map_or(puts.elapsed, |t| t.duration_since(start));
    let mut recorder = delivery.recorder;
    recorder.merge_errors(&puts.recorder);
    let mut report = Report::new("watch", params, &recorder, elapsed, usage);
    let per_s = |n: u64, d: Duration| if d.is_zero() { 0.0 } else { round3(n as f64 / d.as_secs_f64()) };
    report.watch = Some(WatchFigures {
        watchers: w.watchers(),
        streams: w.streams(),
        puts: puts.recorder.succeeded(),
        put_errors: puts.recorder.failed(),
        puts_per_s: per_s(puts.recorder.succeeded(), puts.elapsed),
        put_latency_ms: puts.recorder.latency_ms(),
        events: delivery.events,
        events_per_s: per_s(delivery.events, elapsed),
        missed_events: delivery.missed,
        duplicate_events: delivery.duplicates,
        out_of_order_events: delivery.out_of_order,
        rss_before_watchers_bytes: rss_before,
        rss_with_watchers_bytes: rss_with,
        rss_per_watcher_bytes: rss_before
            .zip(rss_with)
            .map(|(before, with)| round3((with as f64 - before as f64) / f64::from(w.watchers()))),
    });
    Ok(report)
}

/// `maintenance`: the preload, then the phases.
async fn load_maintenance(
    global: &GlobalArgs,
    m: &Maintenance,
    conns: &[Conn],
    endpoints: &[String],
    mut server: Option<&mut Cluster>,
    params: Map<String, Value>,
) -> anyhow::Result<Report> {
    ensure!(global.total.is_none(), "maintenance runs its baseline for --duration; --total does not apply");
    let endpoint = endpoints.first().context("no endpoint to maintain")?;
    let preload = m.preload(conns).await?;
    let cpu_before = server.as_ref().map(|s| s.cpu_time()).transpose()?;
    let outcome = m.run(conns, endpoint, global, server.as_deref(), preload).await?;
    if let Some(s) = server.as_deref_mut() {
        s.check_running()?;
    }
    let usage = usage(server, cpu_before)?;
    let mut report = Report::new("maintenance", params, &outcome.recorder, outcome.elapsed, usage);
    report.maintenance = Some(outcome.figures);
    Ok(report)
}

/// `catchup`: the load, then the new member.
async fn load_catchup(
    global: &GlobalArgs,
    c: &Catchup,
    conns: &[Conn],
    server: Option<&mut Cluster>,
    params: Map<String, Value>,
) -> anyhow::Result<Report> {
    ensure!(
        global.total.is_none() && global.duration.is_none(),
        "catchup puts --bytes / --val-size keys; --total and --duration do not apply"
    );
    let cluster = server.context("catchup adds a member: it needs --launch")?;
    let stopped = c.prepare(global, cluster).await?;
    let cpu_before = cluster.cpu_time()?;
    let outcome = c.load(global, conns).await?;
    let usage = usage(Some(&mut *cluster), Some(cpu_before))?;
    let figures = c.catch_up(global, cluster, stopped).await?;
    let mut report = Report::new("catchup", params, &outcome.recorder, outcome.elapsed, usage);
    report.catchup = Some(figures);
    Ok(report)
}

/// The server's CPU time since `cpu_before` and its peak RSS, with `--launch`.
fn usage(server: Option<&mut Cluster>, cpu_before: Option<Duration>) -> anyhow::Result<Option<ServerUsage>> {
    Ok(match (server, cpu_before) {
        (Some(s), Some(before)) => {
            s.check_running()?;
            Some(ServerUsage {
                cpu: s.cpu_time()?.saturating_sub(before),
                peak_rss_bytes: s.peak_rss_bytes()?,
                startup: s.startup(),
            })
        }
        _ => None,
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `--conns` connections, connection `i` trying the endpoints from the `i`-th on.
async fn connect(endpoints: &[String], global: &GlobalArgs) -> anyhow::Result<Vec<Conn>> {
    let mut conns = Vec::new();
    for i in 0..global.conns as usize {
        let mut rotated = endpoints.to_vec();
        rotated.rotate_left(i % endpoints.len().max(1));
        let client = client::Client::connect(&rotated, global.dial_timeout).await?;
        conns.push(Conn { kv: client.kv(), channel: stream_channel(client.endpoint(), global.dial_timeout)? });
    }
    Ok(conns)
}

/// A second connection to `endpoint` (which `client` has just reached), opened on first
/// use. `client::Client` does not hand out its channel, and the streaming services want
/// a connection of their own anyway.
fn stream_channel(endpoint: &str, dial_timeout: Duration) -> anyhow::Result<tonic::transport::Channel> {
    let url = if endpoint.contains("://") { endpoint.to_owned() } else { format!("http://{endpoint}") };
    let endpoint = Endpoint::from_shared(url).with_context(|| format!("invalid endpoint {endpoint:?}"))?;
    Ok(endpoint.connect_timeout(dial_timeout).connect_lazy())
}

/// The run's flags: the load's, then the workload's.
fn params(global: &GlobalArgs, workload: &Workload, target: &Target) -> Map<String, Value> {
    let mut p = Map::new();
    match target {
        Target::Endpoints(e) => p.insert("endpoints".into(), json!(e.join(","))),
        Target::Launch(cmd) => p.insert("launch".into(), json!(cmd)),
    };
    if let Target::Launch(_) = target {
        p.insert("members".into(), json!(global.members));
    }
    p.insert("target_leader".into(), json!(global.target_leader));
    p.insert("clients".into(), json!(global.clients));
    p.insert("conns".into(), json!(global.conns));
    match (global.total, global.duration) {
        _ if matches!(workload, Workload::Catchup(_)) => None,
        (_, Some(d)) => p.insert("duration_s".into(), json!(d.as_secs_f64())),
        (None, None) if matches!(workload, Workload::Maintenance(_)) => {
            p.insert("duration_s".into(), json!(maintenance::DEFAULT_BASELINE.as_secs_f64()))
        }
        (total, None) => p.insert("total".into(), json!(total.unwrap_or(10_000))),
    };
    p.insert("rate".into(), json!(global.rate));
    p.insert("warmup_s".into(), json!(global.warmup.as_secs_f64()));
    p.extend(workload.params());
    p
}
