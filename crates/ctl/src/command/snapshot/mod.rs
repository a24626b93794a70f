//! `snapshot save | status | restore` (etcdctl 3.4's `snapshot_command.go`; 3.6 kept
//! `save` and moved `status` and `restore` to etcdutl, which Strata has not: stratactl
//! keeps them, for Strata's own files).
//!
//! ```text
//! $ stratactl snapshot save backup.snap
//! Snapshot saved at backup.snap
//! $ stratactl snapshot status backup.snap -w table
//! +----------+----------+------------+------------+
//! |   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |
//! +----------+----------+------------+------------+
//! | 5d5b5e0e |       12 |         17 |     2.6 kB |
//! +----------+----------+------------+------------+
//! $ stratactl snapshot restore backup.snap --data-dir /var/lib/strata-restored
//! ```
//!
//! `save` works against etcd too (it checks only the SHA-256 trailer both
//! send); `status` and `restore` read Strata's snapshot format
//! (`docs/storage-format.md`), not etcd's bbolt files. etcdctl's zap log lines
//! on stderr are not imitated; a progress bar takes their place when stderr is
//! a terminal.

mod restore;
mod save;
mod status;

use super::{Io, print_help};
use crate::cli::GlobalFlags;
use crate::error::Result;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::ffi::OsString;

pub use restore::RestoreArgs;

/// `snapshot`'s subcommand.
#[derive(Args, Debug, Clone)]
#[command(infer_subcommands = true, disable_help_subcommand = true)]
pub struct SnapshotArgs {
    /// The subcommand; etcdctl prints the help without one.
    #[command(subcommand)]
    pub command: Option<SnapshotCommand>,
}

/// `snapshot`'s subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum SnapshotCommand {
    /// Restores an etcd member snapshot to an etcd directory
    Restore(RestoreArgs),
    /// Stores an etcd node backend snapshot to a given file
    Save(FileArgs),
    /// Gets backend snapshot status of a given file
    Status(FileArgs),
    /// Anything else: etcdctl prints `snapshot`'s help.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// The file argument (checked by the command, for etcdctl's message).
#[derive(Args, Debug, Clone)]
pub struct FileArgs {
    /// The snapshot file.
    #[arg(value_name = "filename")]
    pub args: Vec<OsString>,
}

/// Runs a `snapshot` subcommand.
pub async fn run(global: &GlobalFlags, a: SnapshotArgs, io: &mut Io<'_>) -> Result<()> {
    match a.command {
        Some(SnapshotCommand::Save(f)) => save::run(global, f, io).await,
        Some(SnapshotCommand::Status(f)) => status::run(global, f, io),
        Some(SnapshotCommand::Restore(r)) => restore::run(r),
        None | Some(SnapshotCommand::Other(_)) => {
            print_help(io, "snapshot");
            Ok(())
        }
    }
}

/// A byte-count progress bar on stderr, drawn only when stderr is a terminal.
fn progress(total: u64, verb: &str) -> ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(verb.to_owned());
    bar
}
