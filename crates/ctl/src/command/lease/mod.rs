//! `lease grant <ttl> | revoke <id> | timetolive <id> [--keys] | list |
//! keep-alive [--once] <id>` (`lease_command.go`). Lease ids are hexadecimal on the
//! command line and in simple output, decimal in JSON and fields.
//!
//! ```text
//! $ stratactl lease grant 100
//! lease 3fb3a20a86435420 granted with TTL(100s)
//! $ stratactl lease timetolive 3fb3a20a86435420 --keys
//! lease 3fb3a20a86435420 granted with TTL(100s), remaining(97s), attached keys([lk1 lk2])
//! ```
//!
//! etcdctl sends `timetolive`, `list` and `keep-alive --once` without any deadline (so
//! an unreachable cluster hangs them); stratactl gives them `--command-timeout` like the
//! other requests, and fails with exit code 2 as etcdctl does for their errors.

mod keep_alive;

use super::{Io, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, ExitCode, Result};
use crate::gosyntax::{self, parse_int};
use crate::printer::{Format, Printer};
use api::etcdserverpb::{LeaseGrantRequest, LeaseRevokeRequest, LeaseTimeToLiveRequest};
use clap::{ArgAction, Args, CommandFactory, Subcommand};
use std::ffi::OsString;

/// `lease`'s subcommand.
#[derive(Args, Debug, Clone)]
#[command(infer_subcommands = true, disable_help_subcommand = true)]
pub struct LeaseArgs {
    /// The subcommand; etcdctl prints the help without one.
    #[command(subcommand)]
    pub command: Option<LeaseCommand>,
}

/// `lease`'s subcommands. Any unique prefix works, as with cobra.
#[derive(Subcommand, Debug, Clone)]
pub enum LeaseCommand {
    /// Creates leases
    Grant(Positional),
    /// Revokes leases
    Revoke(Positional),
    /// Get lease information
    Timetolive(TimeToLiveArgs),
    /// List all active leases
    List(Positional),
    /// Keeps leases alive (renew)
    #[command(name = "keep-alive")]
    KeepAlive(KeepAliveArgs),
    /// Anything else: etcdctl prints `lease`'s help.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// Positional arguments only.
#[derive(Args, Debug, Clone)]
pub struct Positional {
    /// The arguments.
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// `lease timetolive`'s flags and arguments.
#[derive(Args, Debug, Clone)]
pub struct TimeToLiveArgs {
    /// Get keys attached to this lease
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub keys: bool,
    /// <leaseID>
    pub args: Vec<String>,
}

/// `lease keep-alive`'s flags and arguments.
#[derive(Args, Debug, Clone)]
pub struct KeepAliveArgs {
    /// Resets the keep-alive time to its original value and exits immediately
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub once: bool,
    /// <leaseID>
    pub args: Vec<String>,
}

/// Runs a `lease` subcommand.
pub async fn run(global: &GlobalFlags, a: LeaseArgs, io: &mut Io<'_>) -> Result<()> {
    match a.command {
        Some(LeaseCommand::Grant(p)) => grant(global, &p.args, io).await,
        Some(LeaseCommand::Revoke(p)) => revoke(global, &p.args, io).await,
        Some(LeaseCommand::Timetolive(t)) => time_to_live(global, &t, io).await,
        Some(LeaseCommand::List(_)) => list(global, io).await,
        Some(LeaseCommand::KeepAlive(k)) => keep_alive(global, &k, io).await,
        None | Some(LeaseCommand::Other(_)) => {
            let mut cmd = crate::cli::Cli::command();
            let help = cmd.find_subcommand_mut("lease").map(|c| c.render_help().to_string()).unwrap_or_default();
            io.print(help.as_bytes());
            Ok(())
        }
    }
}

/// A lease id argument, in hex (`leaseFromArgs`).
pub fn lease_id(arg: &str) -> Result<i64> {
    parse_int(arg, 16).map_err(|e| CtlError::bad_args(format!("bad lease ID arg ({e}), expecting ID in Hex")))
}

fn printer(global: &GlobalFlags) -> Result<Printer> {
    Ok(Printer::new(Format::parse(&global.write_out)?, global.hex))
}

/// The error of a call etcdctl makes without a deadline: the bare message, exit 2.
fn bad_connection(e: CtlError) -> CtlError {
    CtlError::new(ExitCode::BadConnection, e.message)
}

async fn grant(global: &GlobalFlags, args: &[String], io: &mut Io<'_>) -> Result<()> {
    let [ttl] = args else { return Err(CtlError::bad_args("lease grant command needs TTL argument")) };
    let ttl = parse_int(ttl, 10).map_err(|e| CtlError::bad_args(format!("bad TTL ({e})")))?;
    let printer = printer(global)?;
    let resp = with_client(global, |c| async move { c.lease_grant(LeaseGrantRequest { ttl, id: 0 }).await })
        .await
        .map_err(|e| CtlError::error(format!("failed to grant lease ({})", e.message)))?;
    let mut out = Vec::new();
    printer.lease_grant(&mut out, &resp)?;
    io.print(&out);
    Ok(())
}

async fn revoke(global: &GlobalFlags, args: &[String], io: &mut Io<'_>) -> Result<()> {
    let [id] = args else { return Err(CtlError::bad_args("lease revoke command needs 1 argument")) };
    let id = lease_id(id)?;
    let printer = printer(global)?;
    let resp = with_client(global, |c| async move { c.lease_revoke(LeaseRevokeRequest { id }).await })
        .await
        .map_err(|e| CtlError::error(format!("failed to revoke lease ({})", e.message)))?;
    let mut out = Vec::new();
    printer.lease_revoke(&mut out, id, &resp)?;
    io.print(&out);
    Ok(())
}

async fn time_to_live(global: &GlobalFlags, a: &TimeToLiveArgs, io: &mut Io<'_>) -> Result<()> {
    let [id] = a.args.as_slice() else {
        return Err(CtlError::bad_args("lease timetolive command needs lease ID as argument"));
    };
    // etcdctl creates the client (and checks the output format) before it parses the id.
    let printer = printer(global)?;
    let req = LeaseTimeToLiveRequest { id: lease_id(id)?, keys: a.keys };
    let resp = with_client(global, |c| async move { c.lease_time_to_live(req).await }).await.map_err(bad_connection)?;
    let mut out = Vec::new();
    printer.lease_time_to_live(&mut out, &resp, a.keys)?;
    io.print(&out);
    Ok(())
}

async fn list(global: &GlobalFlags, io: &mut Io<'_>) -> Result<()> {
    let printer = printer(global)?;
    let resp = with_client(global, |c| async move { c.lease_leases().await }).await.map_err(bad_connection)?;
    let mut out = Vec::new();
    printer.lease_leases(&mut out, &resp)?;
    io.print(&out);
    Ok(())
}

async fn keep_alive(global: &GlobalFlags, a: &KeepAliveArgs, io: &mut Io<'_>) -> Result<()> {
    let [id] = a.args.as_slice() else {
        return Err(CtlError::bad_args("lease keep-alive command needs lease ID as argument"));
    };
    let id = lease_id(id)?;
    let printer = printer(global)?;
    if a.once {
        let resp = with_client(global, |c| keep_alive::once(c, id)).await.map_err(bad_connection)?;
        let mut out = Vec::new();
        printer.lease_keep_alive(&mut out, &resp)?;
        io.print(&out);
        return Ok(());
    }
    keep_alive::run(global, id, printer, io).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids_are_hex() {
        assert_eq!(lease_id("3fb3a20a86435420").expect("valid"), 0x3fb3a20a86435420);
        assert_eq!(lease_id("-1").expect("valid"), -1);
        let e = lease_id("zz").expect_err("not hex");
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                ExitCode::BadArgs,
                r#"bad lease ID arg (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex"#
            )
        );
        let e = lease_id("ffffffffffffffff").expect_err("too big");
        assert!(e.message.contains("value out of range"), "{}", e.message);
    }
}
