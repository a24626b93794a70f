//! One measured run: connect (or launch a server), prepare the keys, warm up, load, and
//! read the server's CPU time and peak RSS.

use crate::cli::GlobalArgs;
use crate::launch::Server;
use crate::report::{Report, ServerUsage};
use crate::runner::{self, Plan, Stop};
use crate::workload::Workload;
use anyhow::Context;
use api::etcdserverpb::kv_client::KvClient;
use serde_json::{Map, Value, json};
use std::io::IsTerminal;
use std::sync::Arc;
use tonic::transport::Channel;

/// Where the load goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// Servers already running.
    Endpoints(Vec<String>),
    /// A server this run launches and stops.
    Launch(String),
}

/// Runs `workload` against `target` as `global` says.
pub async fn measure(global: &GlobalArgs, workload: &Arc<Workload>, target: &Target) -> anyhow::Result<Report> {
    let params = params(global, workload, target);
    match target {
        Target::Endpoints(endpoints) => load(global, workload, endpoints, None, params).await,
        Target::Launch(cmd) => {
            let mut server = Server::start(cmd, global.startup_timeout).await?;
            let endpoints = [server.endpoint().to_owned()];
            let result = load(global, workload, &endpoints, Some(&mut server), params).await;
            server.stop().await?;
            result
        }
    }
}

async fn load(
    global: &GlobalArgs,
    workload: &Arc<Workload>,
    endpoints: &[String],
    server: Option<&mut Server>,
    params: Map<String, Value>,
) -> anyhow::Result<Report> {
    let kvs = connect(endpoints, global).await?;
    workload.prepare(&kvs, global.clients).await.context("preparing keys")?;
    let mut plan = Plan {
        clients: global.clients,
        stop: Stop::After(global.warmup),
        rate: global.rate,
        request_timeout: global.request_timeout,
        seed: global.seed,
        progress: std::io::stderr().is_terminal(),
    };
    if !global.warmup.is_zero() {
        runner::run(workload, &kvs, &plan).await;
    }
    plan.stop = match (global.total, global.duration) {
        (_, Some(d)) => Stop::After(d),
        (Some(n), None) => Stop::Total(n),
        (None, None) => Stop::Total(10_000),
    };
    let cpu_before = server.as_ref().map(|s| s.cpu_time()).transpose()?;
    let outcome = runner::run(workload, &kvs, &plan).await;
    let usage = match (server, cpu_before) {
        (Some(s), Some(before)) => {
            s.check_running()?;
            Some(ServerUsage {
                cpu: s.cpu_time()?.saturating_sub(before),
                peak_rss_bytes: s.peak_rss_bytes()?,
                startup: s.startup(),
            })
        }
        _ => None,
    };
    Ok(Report::new(workload.name(), params, &outcome.recorder, outcome.elapsed, usage))
}

/// `--conns` connections, connection `i` trying the endpoints from the `i`-th on.
async fn connect(endpoints: &[String], global: &GlobalArgs) -> anyhow::Result<Vec<KvClient<Channel>>> {
    let mut kvs = Vec::new();
    for i in 0..global.conns as usize {
        let mut rotated = endpoints.to_vec();
        rotated.rotate_left(i % endpoints.len().max(1));
        let client = client::Client::connect(&rotated, global.dial_timeout).await?;
        kvs.push(client.kv());
    }
    Ok(kvs)
}

/// The run's flags: the load's, then the workload's.
fn params(global: &GlobalArgs, workload: &Workload, target: &Target) -> Map<String, Value> {
    let mut p = Map::new();
    match target {
        Target::Endpoints(e) => p.insert("endpoints".into(), json!(e.join(","))),
        Target::Launch(cmd) => p.insert("launch".into(), json!(cmd)),
    };
    p.insert("clients".into(), json!(global.clients));
    p.insert("conns".into(), json!(global.conns));
    match (global.total, global.duration) {
        (_, Some(d)) => p.insert("duration_s".into(), json!(d.as_secs_f64())),
        (total, None) => p.insert("total".into(), json!(total.unwrap_or(10_000))),
    };
    p.insert("rate".into(), json!(global.rate));
    p.insert("warmup_s".into(), json!(global.warmup.as_secs_f64()));
    p.extend(workload.params());
    p
}
