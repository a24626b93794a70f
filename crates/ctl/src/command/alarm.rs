//! `alarm list | disarm` (`alarm_command.go`).
//!
//! ```text
//! $ stratactl alarm list
//! memberID:13195394291058371180 alarm:NOSPACE
//! $ stratactl alarm disarm
//! memberID:13195394291058371180 alarm:NOSPACE
//! ```
//!
//! `disarm` is clientv3's `AlarmDisarm` with an empty member: list the alarms, then
//! deactivate each, and print what the deactivations answered, in a response that has
//! no header (so `-w json` prints `{}` when there was nothing to disarm).

use super::{Io, print_help, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::printer::{Format, Printer};
use api::etcdserverpb::AlarmResponse;
use clap::{Args, Subcommand};
use std::ffi::OsString;

/// `alarm`'s subcommand.
#[derive(Args, Debug, Clone)]
#[command(infer_subcommands = true, disable_help_subcommand = true)]
pub struct AlarmArgs {
    /// The subcommand; etcdctl prints the help without one.
    #[command(subcommand)]
    pub command: Option<AlarmCommand>,
}

/// `alarm`'s subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum AlarmCommand {
    /// Disarms all alarms
    Disarm(NoArgs),
    /// Lists all alarms
    List(NoArgs),
    /// Anything else: etcdctl prints `alarm`'s help.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// A subcommand that takes no arguments (checked by the command, for etcdctl's message).
#[derive(Args, Debug, Clone)]
pub struct NoArgs {
    /// Refused.
    #[arg(hide = true)]
    pub args: Vec<OsString>,
}

/// Runs an `alarm` subcommand.
pub async fn run(global: &GlobalFlags, a: AlarmArgs, io: &mut Io<'_>) -> Result<()> {
    let resp = match a.command {
        Some(AlarmCommand::List(n)) => {
            if !n.args.is_empty() {
                return Err(CtlError::bad_args("alarm list command accepts no arguments"));
            }
            let printer = printer(global)?;
            (printer, with_client(global, |c| async move { c.alarm_list().await }).await?)
        }
        Some(AlarmCommand::Disarm(n)) => {
            if !n.args.is_empty() {
                return Err(CtlError::bad_args("alarm disarm command accepts no arguments"));
            }
            let printer = printer(global)?;
            (printer, with_client(global, disarm_all).await?)
        }
        None | Some(AlarmCommand::Other(_)) => {
            print_help(io, "alarm");
            return Ok(());
        }
    };
    let (printer, resp) = resp;
    let mut out = Vec::new();
    let printed = printer.alarm(&mut out, &resp);
    io.print(&out);
    printed
}

fn printer(global: &GlobalFlags) -> Result<Printer> {
    Ok(Printer::new(Format::parse(&global.write_out)?, global.hex))
}

/// Lists the alarms and deactivates each; the answer gathers the deactivated alarms.
async fn disarm_all(c: client::Client) -> client::Result<AlarmResponse> {
    let active = c.alarm_list().await?;
    let mut disarmed = AlarmResponse::default();
    for alarm in active.alarms {
        disarmed.alarms.extend(c.alarm_disarm(alarm).await?.alarms);
    }
    Ok(disarmed)
}
