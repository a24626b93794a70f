//! `check perf [--load s|m|l|xl] [--prefix P] [--auto-compact] [--auto-defrag]`
//! (`check.go`; `check datascale` is in [`datascale`]): a minute of rate-limited 1 KiB puts under 256-byte keys, then PASS or
//! FAIL on throughput, the slowest request and the latency's standard deviation.
//!
//! ```text
//! $ stratactl check perf
//!  60 / 60 Booooooooooooooooooooooooooooooooooooooooooooooo! 100.00% 1m0s
//! PASS: Throughput is 150 writes/s
//! PASS: Slowest request took 0.011312s
//! PASS: Stddev is 0.001049s
//! PASS
//! ```
//!
//! The workloads, checks, messages and exit codes are etcdctl's (the same in 3.4 and
//! 3.6). Two differences:
//! the progress bar (etcdctl's `Bom !` bar) is drawn only when stdout is a terminal, so a
//! piped run prints only the verdict lines; and the load's "clients" are concurrent
//! requests spread over a few connections rather than one connection each.

pub mod datascale;

use super::{Io, connect_blocking, endpoint, prefix_end};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, ExitCode, Result};
use crate::gosyntax::{self, quote};
use api::etcdserverpb::{CompactionRequest, DeleteRangeRequest, PutRequest, RangeRequest};
use clap::{ArgAction, Args, Subcommand};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `check`'s subcommand.
#[derive(Args, Debug, Clone)]
#[command(infer_subcommands = true, disable_help_subcommand = true)]
pub struct CheckArgs {
    /// The subcommand; etcdctl prints the help without one.
    #[command(subcommand)]
    pub command: Option<CheckCommand>,
}

/// `check`'s subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum CheckCommand {
    /// Check the memory usage of holding data for different workloads on a given server endpoint.
    Datascale(datascale::DatascaleArgs),
    /// Check the performance of the etcd cluster
    Perf(PerfArgs),
    /// Anything else: the help.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// `check perf`'s flags.
#[derive(Args, Debug, Clone)]
pub struct PerfArgs {
    /// The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)
    #[arg(long, default_value = "s")]
    pub load: String,
    /// The prefix for writing the performance check's keys.
    #[arg(long, default_value = "/etcdctl-check-perf/")]
    pub prefix: String,
    /// Compact storage with last revision after test is finished.
    #[arg(long = "auto-compact", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub auto_compact: bool,
    /// Defragment storage after test is finished.
    #[arg(long = "auto-defrag", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub auto_defrag: bool,
    /// Ignored.
    #[arg(hide = true)]
    pub args: Vec<OsString>,
}

/// A workload model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Puts per second.
    pub rate: u32,
    /// Requests in flight at most.
    pub clients: usize,
    /// How long puts are sent.
    pub duration: Duration,
}

/// etcdctl's models and their aliases.
pub fn load(name: &str) -> Result<Load> {
    let (rate, clients) = match name {
        "s" | "small" => (150, 50),
        "m" | "medium" => (1000, 200),
        "l" | "large" => (8000, 500),
        "xl" | "xLarge" => (15000, 1000),
        _ => return Err(CtlError::bad_feature(format!("unknown load option {name}"))),
    };
    Ok(Load { rate, clients, duration: Duration::from_secs(60) })
}

/// Connections the requests are spread over.
const CONNECTIONS: usize = 8;

/// Runs a `check` subcommand.
pub async fn run(global: &GlobalFlags, a: CheckArgs, io: &mut Io<'_>) -> Result<()> {
    match a.command {
        Some(CheckCommand::Perf(p)) => perf(global, &p, io).await,
        Some(CheckCommand::Datascale(d)) => datascale::run(global, &d, io).await,
        None | Some(CheckCommand::Other(_)) => {
            super::print_help(io, "check");
            Ok(())
        }
    }
}

/// What the requests did (etcd's `report.Stats`, the parts `check perf` reads).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Successful requests per second over the whole run.
    pub rps: f64,
    /// Seconds.
    pub slowest: f64,
    /// Seconds; NaN without a successful request, as in Go.
    pub stddev: f64,
    /// Failed requests by error text.
    pub errors: BTreeMap<String, u64>,
}

impl Stats {
    /// From per-request outcomes (latency or error) and the run's wall time.
    pub fn new(results: &[std::result::Result<Duration, String>], total: Duration) -> Stats {
        let mut errors = BTreeMap::new();
        let mut lats = Vec::new();
        for r in results {
            match r {
                Ok(d) => lats.push(d.as_secs_f64()),
                Err(e) => *errors.entry(e.clone()).or_insert(0) += 1,
            }
        }
        let n = lats.len() as f64;
        let average = lats.iter().sum::<f64>() / n;
        let stddev = (lats.iter().map(|l| (l - average).powi(2)).sum::<f64>() / n).sqrt();
        let slowest = lats.iter().copied().fold(0.0, f64::max);
        Stats { rps: n / total.as_secs_f64(), slowest, stddev, errors }
    }
}

/// The verdict lines and whether the check passed (the end of `newCheckPerfCommand`).
pub fn verdict(s: &Stats, load: &Load) -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    if !s.errors.is_empty() {
        out.push_str("FAIL: too many errors\n");
        for (e, n) in &s.errors {
            out.push_str(&format!("FAIL: ERROR({e}) -> {n}\n"));
        }
        ok = false;
    }
    let writes = s.rps as i64 + 1;
    if s.rps / f64::from(load.rate) <= 0.9 {
        out.push_str(&format!("FAIL: Throughput too low: {writes} writes/s\n"));
        ok = false;
    } else {
        out.push_str(&format!("PASS: Throughput is {writes} writes/s\n"));
    }
    if s.slowest > 0.5 {
        out.push_str(&format!("Slowest request took too long: {:.6}s\n", s.slowest));
        ok = false;
    } else {
        out.push_str(&format!("PASS: Slowest request took {:.6}s\n", s.slowest));
    }
    if s.stddev > 0.1 {
        out.push_str(&format!("Stddev too high: {:.6}s\n", s.stddev));
        ok = false;
    } else {
        out.push_str(&format!("PASS: Stddev is {:.6}s\n", s.stddev));
    }
    out.push_str(if ok { "PASS\n" } else { "FAIL\n" });
    (out, ok)
}

async fn perf(global: &GlobalFlags, a: &PerfArgs, io: &mut Io<'_>) -> Result<()> {
    let load = load(&a.load)?;
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        clients.push(connect_blocking(global).await?);
    }
    let first = clients[0].clone();
    let prefix = a.prefix.as_bytes().to_vec();
    let probe = RangeRequest { key: prefix.clone(), range_end: prefix_end(&prefix), limit: 1, ..Default::default() };
    let resp = tokio::time::timeout(load.duration, first.range(probe))
        .await
        .map_err(|_| CtlError::error("context deadline exceeded"))??;
    if !resp.kvs.is_empty() {
        return Err(CtlError::invalid_input(format!(
            "prefix {} has keys. Delete with etcdctl del --prefix {} first",
            quote(&prefix),
            a.prefix
        )));
    }

    let bar = progress(load.duration.as_secs());
    let (results, total) = put_load(&clients, &prefix, &load).await;
    bar.finish();
    let stats = Stats::new(&results, total);

    let delete = DeleteRangeRequest { key: prefix.clone(), range_end: prefix_end(&prefix), ..Default::default() };
    let deleted = tokio::time::timeout(Duration::from_secs(30), first.delete_range(delete))
        .await
        .map_err(|_| CtlError::error("context deadline exceeded"))??;
    if a.auto_compact {
        let revision = deleted.header.map(|h| h.revision).unwrap_or_default();
        io.print(format!("Compacting with revision {revision}\n").as_bytes());
        let compact = first.compact(CompactionRequest { revision, physical: true });
        tokio::time::timeout(Duration::from_secs(30), compact)
            .await
            .map_err(|_| CtlError::error("context deadline exceeded"))??;
        io.print(format!("Compacted with revision {revision}\n").as_bytes());
    }
    if a.auto_defrag {
        for ep in endpoint::endpoints(global, false).await? {
            io.print(format!("Defragmenting {}\n", quote(ep.as_bytes())).as_bytes());
            let one = std::slice::from_ref(&ep);
            let short = GlobalFlags { command_timeout: Duration::from_secs(30), ..global.clone() };
            super::with_client_at(&short, one, |c| async move { c.defragment().await }).await?;
            io.print(format!("Defragmented {}\n", quote(ep.as_bytes())).as_bytes());
        }
    }

    let (text, ok) = verdict(&stats, &load);
    io.print(text.as_bytes());
    if ok { Ok(()) } else { Err(CtlError::quiet(ExitCode::Error)) }
}

/// Sends puts at `load.rate` for `load.duration`, at most `load.clients` at once, and
/// returns each one's latency or error with the time until the last one answered.
async fn put_load(
    clients: &[client::Client],
    prefix: &[u8],
    load: &Load,
) -> (Vec<std::result::Result<Duration, String>>, Duration) {
    let started = Instant::now();
    let slots = Arc::new(tokio::sync::Semaphore::new(load.clients));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / load.rate);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let value = vec![0u8; 1024];
    let mut sent = 0usize;
    while started.elapsed() < load.duration {
        tick.tick().await;
        let Ok(slot) = slots.clone().acquire_owned().await else { break };
        let req = PutRequest { key: key(prefix, rand_u63(), 256), value: value.clone(), ..Default::default() };
        let (c, tx) = (clients[sent % clients.len()].clone(), tx.clone());
        sent += 1;
        tokio::spawn(async move {
            let st = Instant::now();
            let r = c.put(req).await.map(|_| st.elapsed()).map_err(|e| e.to_string());
            let _ = tx.send(r);
            drop(slot);
        });
    }
    drop(tx);
    let mut results = Vec::with_capacity(sent);
    while let Some(r) = rx.recv().await {
        results.push(r);
    }
    (results, started.elapsed())
}

/// etcdctl's key: the prefix, then `size` bytes (256 for `perf`, 512 for `datascale`)
/// holding a random number as a Go varint (zig-zag, 7 bits per byte) followed by zeros.
fn key(prefix: &[u8], n: u64, size: usize) -> Vec<u8> {
    let mut k = prefix.to_vec();
    let mut buf = vec![0u8; size];
    let mut zz = n << 1; // n < 2^63 is non-negative, so zig-zag is a shift
    let mut i = 0;
    while zz >= 0x80 {
        buf[i] = (zz as u8) | 0x80;
        zz >>= 7;
        i += 1;
    }
    buf[i] = zz as u8;
    k.extend_from_slice(&buf);
    k
}

/// A random number below 2^63 (the key's uniqueness is all that matters; std's
/// randomly seeded hasher is random enough for it).
fn rand_u63() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish() >> 1
}

/// etcdctl's bar: counters, `B`, `o`s ending in `m`, spaces, `!`, the percentage and
/// the time left, on stdout; drawn only when stdout is a terminal.
fn progress(secs: u64) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(secs), indicatif::ProgressDrawTarget::stdout());
    let style = ProgressStyle::with_template(" {pos} / {len} B{bar:50}! {pct}% {left}").map(|s| {
        s.progress_chars("om ")
            .with_key("pct", |st: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:6.2}", st.fraction() * 100.0);
            })
            .with_key("left", |st: &ProgressState, w: &mut dyn std::fmt::Write| {
                let left = st.len().unwrap_or(0).saturating_sub(st.pos());
                let _ = write!(w, "{:02}m{:02}s", left / 60, left % 60);
            })
    });
    if let Ok(style) = style {
        bar.set_style(style);
    }
    let ticking = bar.clone();
    tokio::spawn(async move {
        for _ in 0..secs {
            tokio::time::sleep(Duration::from_secs(1)).await;
            ticking.inc(1);
        }
    });
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_aliases() {
        assert_eq!(load("small").expect("alias"), load("s").expect("name"));
        assert_eq!(load("xLarge").expect("alias").clients, 1000);
        let e = load("huge").expect_err("unknown");
        assert_eq!((e.code, e.message.as_str()), (ExitCode::BadFeature, "unknown load option huge"));
    }

    #[test]
    fn keys_are_the_prefix_and_a_256_byte_varint() {
        let k = key(b"/p/", 1, 256);
        assert_eq!(k.len(), 3 + 256);
        assert_eq!(&k[..5], b"/p/\x02\x00");
        let k = key(b"", 300, 512);
        assert_eq!(k.len(), 512);
        assert_eq!(&k[..3], &[0xd8, 0x04, 0x00]);
    }

    #[test]
    fn verdict_lines_match_etcdctl() {
        let s = load("s").expect("load");
        let fast = Stats { rps: 149.8, slowest: 0.011312, stddev: 0.001049, errors: BTreeMap::new() };
        assert_eq!(
            verdict(&fast, &s),
            (
                "PASS: Throughput is 150 writes/s\nPASS: Slowest request took 0.011312s\nPASS: Stddev is 0.001049s\nPASS\n"
                    .to_owned(),
                true
            )
        );
        let slow = Stats {
            rps: 20.0,
            slowest: 0.75,
            stddev: 0.2,
            errors: BTreeMap::from([("etcdserver: too many requests".to_owned(), 3)]),
        };
        let (text, ok) = verdict(&slow, &s);
        assert!(!ok);
        assert_eq!(
            text,
            "FAIL: too many errors\nFAIL: ERROR(etcdserver: too many requests) -> 3\nFAIL: Throughput too low: 21 writes/s\n\
             Slowest request took too long: 0.750000s\nStddev too high: 0.200000s\nFAIL\n"
        );
    }

    #[test]
    fn stats_without_successes_are_nan_like_go() {
        let s = Stats::new(&[Err("x".to_owned())], Duration::from_secs(60));
        assert_eq!(s.rps, 0.0);
        assert!(s.stddev.is_nan());
        let (text, _) = verdict(&s, &load("s").expect("load"));
        assert!(text.contains("PASS: Stddev is NaNs\n"), "{text}");
    }
}
