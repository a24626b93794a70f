//! `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]`
//! (`watch_command.go`): prints every event on a key or range until the server cancels
//! the watch (exit 5), optionally running a command per event; `-i` reads `watch …` and
//! `progress` lines from stdin instead.
//!
//! ```text
//! $ stratactl watch w --prefix --prev-kv      (while another client puts w1 a, then w1 b)
//! PUT
//! w1
//! a
//! PUT
//! w1
//! a
//! w1
//! b
//! ```

mod args;
pub(crate) mod exec;
mod interactive;
mod stream;
mod update;

pub use args::{Line, WatchEnv, WatchFlags, WatchSpec, create_request, parse_line, split_args};
pub use stream::{Delivery, Handle, WatchStream};
pub use update::WatchUpdate;

use super::Io;
use crate::cli::GlobalFlags;
use crate::error::{CtlError, ExitCode, Result};
use crate::printer::{Format, Printer};
use clap::Args;
use std::ffi::OsString;

/// `watch`'s flags and arguments.
#[derive(Args, Debug, Clone, Default)]
pub struct WatchArgs {
    /// The flags.
    #[command(flatten)]
    pub flags: WatchFlags,
    /// [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]
    pub args: Vec<OsString>,
    /// The whole command line, which etcdctl searches for the exec command's `--`.
    #[arg(skip)]
    pub os_args: Vec<OsString>,
}

/// Runs `watch`. It ends only when the server cancels the watch (or stdin ends, with
/// `-i`), so it always returns an error.
pub async fn run(global: &GlobalFlags, a: WatchArgs, io: &mut Io<'_>) -> Result<()> {
    let env = WatchEnv::from_process()?;
    if a.flags.interactive {
        let printer = Printer::new(Format::parse(&global.write_out)?, global.hex);
        // The `--user` password comes first on stdin: ask before the reader thread locks it.
        crate::command::dial::credentials(global).await?;
        return interactive::run(global, printer, &env, interactive::stdin_lines(), io).await;
    }
    let spec = split_args(&a.os_args, &a.args, &env)?;
    let printer = Printer::new(Format::parse(&global.write_out)?, global.hex);
    let req = create_request(&a.flags, &spec.keys).map_err(CtlError::bad_args)?;
    let mut stream = WatchStream::new(global);
    stream.watch(req);
    while let Delivery::Update(_, update) = stream.next().await? {
        show(&update, printer, &spec.exec, io).await?;
    }
    Err(CtlError::new(ExitCode::Interrupted, "watch is canceled by the server"))
}

/// Prints one update as etcdctl's `printWatchCh` does: the cancel reason on stderr, a
/// progress notification's revision, the update in the chosen format, then the exec
/// command once per event.
pub async fn show(update: &WatchUpdate, printer: Printer, exec: &[OsString], io: &mut Io<'_>) -> Result<()> {
    if update.canceled {
        eprintln!("watch was canceled ({})", update.err().unwrap_or_default());
    }
    if update.is_progress_notify() {
        io.print(format!("progress notify: {}\n", update.header.revision).as_bytes());
    }
    let mut out = Vec::new();
    printer.watch(&mut out, update)?;
    io.print(&out);
    if !exec.is_empty() {
        for event in update.events.iter().flatten() {
            exec::run(exec, update.header.revision, event).await?;
        }
    }
    Ok(())
}
