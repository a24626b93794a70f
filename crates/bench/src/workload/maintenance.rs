//! `maintenance`: what compaction and defragmentation cost the clients of a member with
//! a long history (issue 5's benchmark).
//!
//! 1. Preload: `--revisions` puts, each its own revision, spread evenly over
//!    `--key-space-size` keys (key `n % K` for the `n`-th put), `--preload-clients` in
//!    flight. Not measured but timed.
//! 2. A steady load starts and runs through every later phase: `--clients` clients each of
//!    puts, serializable gets and linearizable gets ([`load`]). After `--warmup`, the
//!    baseline is `--duration` of it.
//! 3. `Status` (sizes), then `Compact` at the current revision minus `--retain`,
//!    physical or not (`--physical`). The phase lasts until the compaction is done: the
//!    answer of a physical one; for a non-physical one, the scrape of `/metrics` that first
//!    shows the compaction histogram observed once more (polled every 50 ms).
//! 4. A settling second, `Status`, then `Defragment`; the phase lasts until it answers.
//! 5. A settling second, `Status`, a last scrape of `/metrics` (the servers' own
//!    compaction and defrag durations, and Strata's defrag write pause), and the load stops.
//!
//! Each phase's figures per kind of request are cut out of the one load by time
//! ([`window`]). Compaction and defragmentation go to the first endpoint.

mod figures;
mod load;
mod scrape;
mod window;

pub use figures::{Compaction, Defrag, MaintenanceFigures, Phase, Sizes};
pub use load::{Load, LoadRecords, LoadSpec, Op};
pub use scrape::{Scrape, scrape};
pub use window::{Sample, Window, WindowStats, window_stats};

use super::{Conn, KeyFormat, Rng};
use crate::cli::{GlobalArgs, MaintenanceArgs};
use crate::cluster::Cluster;
use crate::stats::Recorder;
use anyhow::{Context, bail, ensure};
use api::etcdserverpb::{CompactionRequest, PutRequest};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The baseline's length when `--duration` is not given.
pub const DEFAULT_BASELINE: Duration = Duration::from_secs(3);

/// The pause after the compaction and after the defragmentation before `Status`, so
/// that a server's work that trails its answer shows in the sizes and in the load
/// between the phases, not in the next phase.
const SETTLE: Duration = Duration::from_secs(1);

/// How often `/metrics` is read while waiting for a non-physical compaction to end.
const POLL: Duration = Duration::from_millis(50);

/// How long to wait for a non-physical compaction to end.
const COMPACTION_WAIT: Duration = Duration::from_secs(600);

/// The `maintenance` workload.
#[derive(Debug)]
pub struct Maintenance {
    revisions: u64,
    keys: KeyFormat,
    key_space: u64,
    value: Arc<[u8]>,
    preload_clients: u32,
    retain: u64,
    physical: bool,
    samples_csv: Option<PathBuf>,
}

/// A finished run.
#[derive(Debug)]
pub struct Outcome {
    /// Every request of the load, all phases and kinds together.
    pub recorder: Recorder,
    /// The load's length.
    pub elapsed: Duration,
    /// The phases.
    pub figures: MaintenanceFigures,
}

impl Maintenance {
    /// Checks the flags and makes the value.
    pub fn new(args: &MaintenanceArgs, seed: u64) -> anyhow::Result<Maintenance> {
        ensure!(args.revisions > 0 && args.key_space_size > 0, "--revisions and --key-space-size must be positive");
        let retain = args.retain.unwrap_or(args.revisions / 10);
        ensure!(
            retain < args.revisions,
            "--retain {retain} keeps the whole preloaded history of {} revisions: nothing to compact",
            args.revisions
        );
        Ok(Maintenance {
            revisions: args.revisions,
            keys: KeyFormat::new(args.key_size, args.key_space_size)?,
            key_space: args.key_space_size,
            value: Rng::new(seed, u64::MAX).bytes(args.val_size).into(),
            preload_clients: args.preload_clients,
            retain,
            physical: args.physical,
            samples_csv: args.samples_csv.clone(),
        })
    }

    pub(super) fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        let v = json!({
            "revisions": self.revisions,
            "key_space_size": self.key_space,
            "key_size": self.keys.size(),
            "val_size": self.value.len(),
            "preload_clients": self.preload_clients,
            "retain": self.retain,
            "physical": self.physical,
        });
        v.as_object().cloned().unwrap_or_default()
    }

    /// Puts the history: `--revisions` single puts over the keys in turn. Returns how
    /// long it took.
    pub async fn preload(&self, conns: &[Conn]) -> anyhow::Result<Duration> {
        ensure!(!conns.is_empty(), "preloading needs a connection");
        let started = Instant::now();
        let next = Arc::new(AtomicU64::new(0));
        let mut tasks = JoinSet::new();
        for i in 0..self.preload_clients as usize {
            let mut kv = conns[i % conns.len()].kv.clone();
            let (next, value, keys, key_space, total) =
                (next.clone(), self.value.clone(), self.keys, self.key_space, self.revisions);
            tasks.spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return Ok::<_, tonic::Status>(());
                    }
                    let req = PutRequest { key: keys.key(n % key_space), value: value.to_vec(), ..Default::default() };
                    kv.put(req).await?;
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.context("preload task panicked")?.context("preloading revisions")?;
        }
        Ok(started.elapsed())
    }

    /// The phases after the preload, against `endpoint` (one of the load's), with the
    /// load on `conns`. `server` is the launched member (or cluster), whose data dir is measured.
    pub async fn run(
        &self,
        conns: &[Conn],
        endpoint: &str,
        global: &GlobalArgs,
        server: Option<&Cluster>,
        preload: Duration,
    ) -> anyhow::Result<Outcome> {
        let admin = client::Client::connect(&[endpoint.to_owned()], global.dial_timeout).await?;
        let load = Load::start(conns, &self.load_spec(global));
        tokio::time::sleep(global.warmup).await;
        let start = load.now();
        tokio::time::sleep(global.duration.unwrap_or(DEFAULT_BASELINE)).await;
        let baseline = Window::new(start, load.now());

        let before_compaction = sizes(&admin, server).await?;
        let before = scrape_or_warn(endpoint, global).await;
        let revision = before_compaction.revision - self.retain as i64;
        ensure!(
            revision > 0,
            "revision {} with --retain {}: nothing to compact",
            before_compaction.revision,
            self.retain
        );
        let start = load.now();
        let req = CompactionRequest { revision, physical: self.physical };
        admin.compact(req).await.with_context(|| format!("compacting at revision {revision}"))?;
        let rpc = load.now() - start;
        let end_observed = self.physical || self.wait_compaction(endpoint, global, before).await;
        let compaction = Window::new(start, load.now());

        tokio::time::sleep(SETTLE).await;
        let after_compaction = sizes(&admin, server).await?;
        let start = load.now();
        admin.defragment().await.context("defragmenting")?;
        let defrag = Window::new(start, load.now());
        tokio::time::sleep(SETTLE).await;
        let after_defrag = sizes(&admin, server).await?;
        let after = scrape_or_warn(endpoint, global).await;

        let records = load.finish().await;
        if let Some(path) = &self.samples_csv {
            let windows = [("baseline", baseline), ("compaction", compaction), ("defrag", defrag)];
            std::fs::write(path, samples_csv(&records, &windows))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let phase = |w: Window| phase(&records, w);
        let (before, after) = (before.unwrap_or_default(), after.unwrap_or_default());
        let figures = MaintenanceFigures {
            revisions: self.revisions,
            key_space_size: self.key_space,
            preload_s: round3(preload.as_secs_f64()),
            preload_puts_per_s: round3(self.revisions as f64 / preload.as_secs_f64().max(1e-9)),
            baseline: phase(baseline),
            compaction: Compaction {
                revision,
                physical: self.physical,
                rpc_ms: window::ms(rpc),
                end_observed,
                server_ms: scrape::sum_delta(before.compactions, after.compactions),
                phase: phase(compaction),
            },
            defrag: Defrag {
                server_ms: scrape::sum_delta(before.defrags, after.defrags).map(|s| round3(s * 1e3)),
                server_write_pause_ms: scrape::sum_delta(before.defrag_pauses, after.defrag_pauses)
                    .map(|s| round3(s * 1e3)),
                phase: phase(defrag),
            },
            before_compaction,
            after_compaction,
            after_defrag,
        };
        Ok(Outcome { recorder: records.recorder, elapsed: records.elapsed, figures })
    }

    fn load_spec(&self, global: &GlobalArgs) -> LoadSpec {
        LoadSpec {
            clients_per_op: global.clients,
            rate: global.rate,
            keys: self.keys,
            key_space: self.key_space,
            value: self.value.clone(),
            request_timeout: global.request_timeout,
            seed: global.seed,
        }
    }

    /// Polls `/metrics` until the compaction histogram has one more observation than in
    /// `before`; `false` if that cannot be seen (no metrics, or no end in time).
    async fn wait_compaction(&self, endpoint: &str, global: &GlobalArgs, before: Option<Scrape>) -> bool {
        let Some((count, _)) = before.and_then(|s| s.compactions) else {
            eprintln!("strata-bench: no compaction histogram on /metrics: the compaction phase ends with its answer");
            return false;
        };
        let deadline = Instant::now() + COMPACTION_WAIT;
        while Instant::now() < deadline {
            if let Ok(Scrape { compactions: Some((now, _)), .. }) = scrape(endpoint, global.request_timeout).await
                && now > count
            {
                return true;
            }
            tokio::time::sleep(POLL).await;
        }
        eprintln!("strata-bench: the compaction did not end within {COMPACTION_WAIT:?}");
        false
    }
}

/// What the load saw of each kind of request in `w`.
fn phase(records: &LoadRecords, w: Window) -> Phase {
    let [put, get_s, get_l] = &records.samples;
    Phase {
        duration_ms: window::ms(w.len()),
        put: window_stats(put, w),
        get_s: window_stats(get_s, w),
        get_l: window_stats(get_l, w),
    }
}

/// The load's requests as CSV, after the phases' windows as `#` lines; times in
/// microseconds since the load started.
fn samples_csv(records: &LoadRecords, windows: &[(&str, Window)]) -> String {
    let us = |d: Duration| d.as_micros();
    let mut out = String::new();
    for (name, w) in windows {
        out.push_str(&format!("# {name} {} {}\n", us(w.start), us(w.end)));
    }
    out.push_str("op,sent_us,latency_us,ok\n");
    for (op, samples) in Op::ALL.iter().zip(&records.samples) {
        for s in samples {
            out.push_str(&format!("{},{},{},{}\n", op.name(), us(s.start), us(s.latency), u8::from(s.ok)));
        }
    }
    out
}

/// `Status` of the member, and its data dir's size when it was launched.
async fn sizes(admin: &client::Client, server: Option<&Cluster>) -> anyhow::Result<Sizes> {
    let status = admin.status().await.context("Status")?;
    let Some(header) = status.header else { bail!("Status answered without a header") };
    Ok(Sizes {
        revision: header.revision,
        db_size_bytes: status.db_size,
        db_size_in_use_bytes: status.db_size_in_use,
        data_dir_bytes: server.map(Cluster::data_dir_bytes).transpose()?,
    })
}

async fn scrape_or_warn(endpoint: &str, global: &GlobalArgs) -> Option<Scrape> {
    match scrape(endpoint, global.request_timeout).await {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("strata-bench: reading /metrics: {e:#}; the servers' own durations are left out");
            None
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(revisions: u64, retain: Option<u64>) -> MaintenanceArgs {
        MaintenanceArgs {
            revisions,
            key_space_size: 10,
            key_size: 8,
            val_size: 16,
            preload_clients: 4,
            retain,
            physical: true,
            samples_csv: None,
        }
    }

    #[test]
    fn retention_defaults_to_a_tenth_and_must_leave_something_to_compact() {
        assert_eq!(Maintenance::new(&args(1_000_000, None), 1).expect("valid").retain, 100_000);
        assert_eq!(Maintenance::new(&args(1000, Some(0)), 1).expect("valid").retain, 0);
        assert!(Maintenance::new(&args(1000, Some(1000)), 1).is_err());
        assert!(Maintenance::new(&args(0, None), 1).is_err());
        let m = Maintenance::new(&args(1000, None), 1).expect("valid");
        assert_eq!(m.params()["val_size"], 16);
    }

    #[test]
    fn phases_are_cut_from_each_kind_of_request_by_time() {
        let ms = Duration::from_millis;
        let s = |start, latency| Sample { start: ms(start), latency: ms(latency), ok: true };
        let records = LoadRecords {
            samples: [vec![s(0, 1), s(10, 40)], vec![s(12, 1)], vec![]],
            recorder: Recorder::default(),
            elapsed: ms(100),
        };
        let p = phase(&records, Window::new(ms(20), ms(30)));
        assert_eq!((p.duration_ms, p.put.requests, p.put.max_ms), (10.0, 1, 40.0));
        assert_eq!((p.get_s.requests, p.get_l.requests, p.get_l.longest_gap_ms), (0, 0, 10.0));
        let csv = samples_csv(&records, &[("defrag", Window::new(ms(20), ms(30)))]);
        assert_eq!(
            csv,
            "# defrag 20000 30000\nop,sent_us,latency_us,ok\nput,0,1000,1\nput,10000,40000,1\nget_s,12000,1000,1\n"
        );
    }
}
