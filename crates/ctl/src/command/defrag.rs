//! `defrag [--cluster] [--data-dir DIR]` (`defrag_command.go`).
//!
//! ```text
//! $ stratactl --endpoints 127.0.0.1:2379,127.0.0.1:22379 defrag
//! Finished defragmenting etcd member[127.0.0.1:2379]. took 12.294437ms
//! Finished defragmenting etcd member[127.0.0.1:22379]. took 9.81362ms
//! ```
//!
//! Online, each endpoint is defragmented in turn, each under its own
//! `--command-timeout`, and its line gives the time it took (etcdctl 3.6's); a failure is
//! reported on stderr (`Failed to defragment etcd member[<ep>]. took <d>. (<error>)`),
//! the next endpoint is still done, and the exit status is 1. The output format does not
//! change the output. While a member works, a spinner runs on stderr when stderr is a
//! terminal.
//!
//! `--cluster` deliberately departs from etcdctl, which defragments every member of the
//! member list in list order, the leader among them, back to back: stratactl checks that
//! every member answers first, defragments the followers first and the leader last,
//! moves leadership to a member already defragmented before a member that leads is
//! defragmented, waits for each member to be healthy again before the next, stops at the
//! first failure:
//!
//! ```text
//! $ stratactl defrag --cluster
//! Finished defragmenting etcd member[http://127.0.0.1:22379]. took 1.204221s
//! Finished defragmenting etcd member[http://127.0.0.1:32379]. took 1.18701s
//! Moved leadership from 8e9e05c52164694d to 91bc3c398fb3c146 before defragmenting etcd member[http://127.0.0.1:2379]
//! Finished defragmenting etcd member[http://127.0.0.1:2379]. took 1.213412s
//! ```
//!
//! The `Moved leadership` line goes to stderr. The steps, and why each one, are in
//! `defrag/cluster.rs`.
//!
//! Offline (`--data-dir`, which etcdctl 3.6 moved to `etcdutl defrag`; Strata has no
//! `etcdutl`), the stopped member's `member/state.redb` is defragmented in place and
//! nothing is printed on success, as etcdctl 3.4 does. Unlike etcdctl 3.4, which waits
//! for ever for a running member to release its database and panics on a missing one,
//! both are a one-line error and exit 1.

mod cluster;

use super::{Io, with_client_at};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, ExitCode, Result};
use crate::gosyntax;
use crate::printer::Format;
use clap::{ArgAction, Args};
use indicatif::{ProgressBar, ProgressStyle};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

/// `defrag`'s flags.
#[derive(Args, Debug, Clone)]
pub struct DefragArgs {
    /// use all endpoints from the cluster member list
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub cluster: bool,
    /// Optional. If present, defragments a data directory not in use by etcd.
    #[arg(long = "data-dir", default_value = "")]
    pub data_dir: OsString,
    /// Ignored, as etcdctl does.
    #[arg(hide = true)]
    pub args: Vec<OsString>,
}

/// Runs `defrag`.
pub async fn run(global: &GlobalFlags, a: DefragArgs, io: &mut Io<'_>) -> Result<()> {
    if !a.data_dir.is_empty() {
        return offline(Path::new(&a.data_dir)).await;
    }
    Format::parse(&global.write_out)?;
    if a.cluster {
        return cluster::run(global, io).await;
    }
    let mut failures = 0;
    for ep in &global.endpoints {
        if let Err(line) = defragment(global, ep, io).await {
            eprintln!("{line}");
            failures += 1;
        }
    }
    if failures > 0 { Err(CtlError::quiet(ExitCode::Error)) } else { Ok(()) }
}

/// Defragments the member at `ep` and prints etcdctl 3.6's line with the time it took;
/// the line for stderr if it failed.
async fn defragment(global: &GlobalFlags, ep: &str, io: &mut Io<'_>) -> std::result::Result<(), String> {
    let started = Instant::now();
    let spinner = spinner(&format!("defragmenting etcd member[{ep}]"));
    let one = [ep.to_owned()];
    let result = with_client_at(global, &one, |c| async move { c.defragment().await }).await;
    spinner.finish_and_clear();
    let took = gosyntax::format_duration(started.elapsed());
    match result {
        Ok(_) => {
            io.print(format!("Finished defragmenting etcd member[{ep}]. took {took}\n").as_bytes());
            Ok(())
        }
        Err(e) => Err(format!("Failed to defragment etcd member[{ep}]. took {took}. ({})", e.message)),
    }
}

/// Defragments `<dir>/member/state.redb` of a stopped member.
async fn offline(dir: &Path) -> Result<()> {
    let failed = |why: String| {
        eprintln!("Failed to defragment etcd data[{}] ({why})", dir.display());
        CtlError::quiet(ExitCode::Error)
    };
    if !dir.is_dir() {
        return Err(failed(format!("{} is not a directory", dir.display())));
    }
    let db = dir.join("member").join("state.redb");
    if !db.is_file() {
        return Err(failed(format!("no member database at {}: not a Strata data dir", db.display())));
    }
    let spinner = spinner(&format!("defragmenting {}", db.display()));
    let job = db.clone();
    let result = tokio::task::spawn_blocking(move || backend::defrag_offline(&job)).await;
    spinner.finish_and_clear();
    match result {
        Ok(Ok(_report)) => Ok(()),
        Ok(Err(backend::Error::Locked { .. })) => {
            eprintln!(
                "The member at {} is running (its database is locked); to defragment it online, omit --data-dir",
                dir.display()
            );
            Err(CtlError::quiet(ExitCode::Error))
        }
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(e) => Err(failed(e.to_string())),
    }
}

/// A spinner on stderr with `message` and the time so far; hidden unless stderr is a
/// terminal, so scripts and pipes see exactly etcdctl's output.
fn spinner(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message.to_owned());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}
