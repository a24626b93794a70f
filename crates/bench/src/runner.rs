//! The load loop: `clients` tasks, each with one request in flight, spread round-robin
//! over the connections, until a request count or a deadline; optionally paced to a
//! total rate.
//!
//! Latency is measured from sending a request to its answer. With `--rate`, a request
//! that waits for its slot does not count the wait (etcd's benchmark does the same), so
//! a server that falls behind a fixed rate shows it in throughput, not latency.
//!
//! Each client is set up ([`Workload::open`]: `lease` opens its keep-alive stream) before
//! the clock starts.

use crate::stats::Recorder;
use crate::workload::{ClientCtx, Conn, Done, Workload};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this many requests have been sent.
    Total(u64),
    /// When this much time has passed; requests in flight then are still awaited.
    After(Duration),
}

/// How to load.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Requests in flight at once.
    pub clients: u32,
    /// When to stop.
    pub stop: Stop,
    /// Requests per second across all clients; 0 for no limit.
    pub rate: u64,
    /// A request not answered within this counts as `DeadlineExceeded`.
    pub request_timeout: Duration,
    /// Seed of the clients' key generators.
    pub seed: u64,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// What a run did.
#[derive(Debug)]
pub struct Outcome {
    /// Every client's records, merged.
    pub recorder: Recorder,
    /// From the first request sent to the last answer received.
    pub elapsed: Duration,
}

/// Which requests a client may still send; shared by all clients.
#[derive(Debug)]
struct Gate {
    stop: Stop,
    deadline: Instant,
    sent: AtomicU64,
    /// With a rate limit: the start and the gap between consecutive request slots.
    pace: Option<(Instant, Duration)>,
}

impl Gate {
    /// Waits for the next request's slot, or `false` when the run is over.
    async fn admit(&self) -> bool {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        if let Stop::Total(total) = self.stop
            && n >= total
        {
            return false;
        }
        if let Some((start, gap)) = self.pace {
            let slot = start + gap.mul_f64(n as f64);
            tokio::time::sleep_until(slot).await;
        }
        Instant::now() < self.deadline
    }
}

/// Runs `workload` with `plan`, client `i` on connection `i % conns.len()`. Fails only
/// if a client cannot be set up.
pub async fn run(workload: &Arc<Workload>, conns: &[Conn], plan: &Plan) -> anyhow::Result<Outcome> {
    assert!(!conns.is_empty(), "a run needs at least one connection");
    let mut ctxs = Vec::new();
    for id in 0..u64::from(plan.clients) {
        let mut ctx = ClientCtx::new(id, &conns[id as usize % conns.len()], plan.seed);
        let opened = tokio::time::timeout(plan.request_timeout, workload.open(&mut ctx)).await;
        opened
            .with_context(|| format!("setting up client {id}: timed out"))?
            .with_context(|| format!("setting up client {id}"))?;
        ctxs.push(ctx);
    }
    let start = Instant::now();
    let far_future = start + Duration::from_secs(100 * 365 * 24 * 3600);
    let gate = Arc::new(Gate {
        stop: plan.stop,
        deadline: match plan.stop {
            Stop::After(d) => start + d,
            Stop::Total(_) => far_future,
        },
        sent: AtomicU64::new(0),
        pace: (plan.rate > 0).then(|| (start, Duration::from_secs_f64(1.0 / plan.rate as f64))),
    });
    let answered = Arc::new(AtomicU64::new(0));
    let mut clients = JoinSet::new();
    for mut ctx in ctxs {
        let (workload, gate, answered, timeout) =
            (workload.clone(), gate.clone(), answered.clone(), plan.request_timeout);
        clients.spawn(async move {
            let mut rec = Recorder::default();
            while gate.admit().await {
                let sent = Instant::now();
                match tokio::time::timeout(timeout, workload.op(&mut ctx)).await {
                    Ok(Ok(done)) => {
                        rec.ok(sent.elapsed());
                        if done == Done::Conflict {
                            rec.conflict();
                        }
                    }
                    Ok(Err(status)) => rec.failure(&status),
                    Err(_) => rec.error(tonic::Code::DeadlineExceeded),
                }
                answered.fetch_add(1, Ordering::Relaxed);
            }
            rec
        });
    }
    let bar = plan.progress.then(|| progress_bar(plan.stop, start, answered));
    let mut recorder = Recorder::default();
    while let Some(rec) = clients.join_next().await {
        recorder.merge(&rec.expect("a client task never panics"));
    }
    let elapsed = start.elapsed();
    if let Some((bar, ticker)) = bar {
        ticker.abort();
        bar.finish_and_clear();
    }
    Ok(Outcome { recorder, elapsed })
}

/// A progress bar on stderr, and the task that updates it until it is aborted.
fn progress_bar(stop: Stop, start: Instant, answered: Arc<AtomicU64>) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    let len = match stop {
        Stop::Total(n) => n,
        Stop::After(d) => d.as_millis() as u64,
    };
    let bar = ProgressBar::new(len.max(1));
    let style = ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {percent:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    let ticking = bar.clone();
    let ticker = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let n = answered.load(Ordering::Relaxed);
            ticking.set_position(match stop {
                Stop::Total(_) => n,
                Stop::After(_) => start.elapsed().as_millis() as u64,
            });
            ticking.set_message(format!("{n} requests"));
        }
    });
    (bar, ticker)
}
