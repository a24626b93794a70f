//! `bench`: `strata-bench`, a load generator for any etcd-v3 endpoint, Strata or etcd —
//! the analogue of etcd's `tools/benchmark`, on our [`client`] crate.
//!
//! It owns the workloads (`put`, `range`, `txn`, `watch` with its put-to-event
//! accounting, `lease` keep-alives, `maintenance`: compaction and defragmentation of a long
//! history under a steady load), the load loop (clients, connections, a request count or a duration, a rate limit, a
//! warm-up), the statistics (HDR-histogram latency percentiles, errors by gRPC code), and
//! `--launch`, which starts a server on loopback with etcd's flags and a fresh data dir
//! and reads its CPU time and peak RSS from `/proc` (`--members N`: a cluster of N, see
//! [`cluster`]); `compare` alternates two launched servers and reports ratios. It deliberately does not judge numbers: the targets live in
//! `docs/PERFORMANCE.md`, and the CI smoke run only checks that the tool works.
//!
//! Output: one JSON line per run on stdout, a table on stderr, a progress bar on stderr
//! when it is a terminal.
//!
//! ```no_run
//! use clap::Parser;
//! # async fn example() -> anyhow::Result<()> {
//! let cli = bench::cli::Cli::parse_from([
//!     "strata-bench", "--launch", "target/release/strata", "--clients", "16", "--duration", "5s", "put",
//! ]);
//! let some_request_succeeded = bench::run(cli).await?;
//! # Ok(())
//! # }
//! ```

pub mod cli;
pub mod cluster;
pub mod compare;
pub mod launch;
pub mod measure;
pub mod report;
pub mod runner;
pub mod stats;
pub mod workload;

use cli::{Cli, Command};
use measure::{Target, measure};
use std::sync::Arc;
use workload::Workload;

/// Runs what `cli` says, printing as it goes. `Ok(false)` when no request succeeded in
/// some run, which the binary turns into a failing exit status.
pub async fn run(cli: Cli) -> anyhow::Result<bool> {
    match &cli.command {
        Command::Workload(cmd) => {
            let workload = Arc::new(Workload::new(cmd, cli.global.seed)?);
            let target = match &cli.global.launch {
                Some(cmd) => Target::Launch(cmd.clone()),
                None => Target::Endpoints(cli.global.endpoints.clone()),
            };
            let report = measure(&cli.global, &workload, &target).await?;
            println!("{}", report.json());
            eprint!("{}", report.table());
            Ok(report.succeeded() > 0)
        }
        Command::Compare(args) => compare::compare(&cli.global, args).await,
    }
}
