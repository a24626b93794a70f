//! `strata-bench`: loads an etcd-v3 endpoint and reports throughput, latency and, with
//! `--launch`, the server's CPU time and memory (`strata-bench --help`).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = bench::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strata-bench: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench::run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("strata-bench: no request succeeded");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("strata-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
