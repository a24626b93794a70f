//! `endpoint status | health | hashkv [--rev N]`, each with `--cluster`
//! (`ep_command.go`).
//!
//! ```text
//! $ stratactl --endpoints 127.0.0.1:2379,127.0.0.1:22379 endpoint status
//! 127.0.0.1:2379, 8e9e05c52164694d, 3.6.14, 3.6.0, 20 kB, 16 kB, 20%, 2.1 GB, true, false, 2, 4, 4, , , false
//! 127.0.0.1:22379, 91bc3c398fb3c146, 3.6.14, 3.6.0, 20 kB, 16 kB, 20%, 2.1 GB, false, false, 2, 4, 4, , , false
//! ```
//!
//! The output is etcdctl 3.6's: etcd 3.6's status columns, the revision each hash
//! covers. `status` and `hashkv` ask each endpoint in turn, each under its own
//! `--command-timeout`; an endpoint that fails is reported on stderr and left out of the
//! output. `health` checks every endpoint at once with a linearizable `Get("health")`
//! (permission denied counts as healthy) and then the alarms (any alarm makes it
//! unhealthy), and prints them in the order they finished: healthy ones on stdout,
//! unhealthy ones on stderr. `--cluster` replaces the endpoints with the client URLs of
//! `member list`.

use super::{Ignored, Io, print_help, with_client, with_client_at, with_client_until};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, ExitCode, Result};
use crate::gosyntax::{self, format_duration};
use crate::printer::{Format, Printer};
use api::etcdserverpb::{AlarmType, HashKvResponse, MemberListResponse, RangeRequest, StatusResponse};
use clap::{ArgAction, Args, Subcommand};
use std::ffi::OsString;
use std::time::Instant;

/// `endpoint`'s flag and subcommand.
#[derive(Args, Debug, Clone)]
#[command(infer_subcommands = true, disable_help_subcommand = true)]
pub struct EndpointArgs {
    /// use all endpoints from the cluster member list
    #[arg(long, global = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub cluster: bool,
    /// The subcommand; etcdctl prints the help without one.
    #[command(subcommand)]
    pub command: Option<EndpointCommand>,
}

/// `endpoint`'s subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum EndpointCommand {
    /// Checks the healthiness of endpoints specified in `--endpoints` flag
    Health(Ignored),
    /// Prints out the status of endpoints specified in `--endpoints` flag
    Status(Ignored),
    /// Prints the KV history hash for each endpoint in --endpoints
    Hashkv(HashKvArgs),
    /// Anything else: etcdctl prints `endpoint`'s help.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// `endpoint hashkv`'s flags.
#[derive(Args, Debug, Clone)]
pub struct HashKvArgs {
    /// maximum revision to hash (default: latest revision)
    #[arg(long, default_value = "0", value_parser = super::get::go_int64, allow_negative_numbers = true)]
    pub rev: i64,
    /// Ignored.
    #[arg(hide = true)]
    pub args: Vec<OsString>,
}

/// One endpoint's `Status` (etcdctl's `epStatus`).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointStatus {
    /// The endpoint as given (or, with `--cluster`, the member's client URL).
    pub endpoint: String,
    /// Its answer.
    pub status: StatusResponse,
}

/// One endpoint's health check (etcdctl's `epHealth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointHealth {
    /// The endpoint.
    pub endpoint: String,
    /// Whether the `Get` succeeded (or was refused for permissions).
    pub health: bool,
    /// How long the check took, as Go prints a `time.Duration`.
    pub took: String,
    /// Why it failed; empty if healthy.
    pub error: String,
}

/// One endpoint's `HashKV` (etcdctl's `epHashKV`).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointHashKv {
    /// The endpoint.
    pub endpoint: String,
    /// Its answer.
    pub hash_kv: HashKvResponse,
}

/// Runs an `endpoint` subcommand.
pub async fn run(global: &GlobalFlags, a: EndpointArgs, io: &mut Io<'_>) -> Result<()> {
    match a.command {
        Some(EndpointCommand::Health(_)) => health(global, a.cluster, io).await,
        Some(EndpointCommand::Status(_)) => status(global, a.cluster, io).await,
        Some(EndpointCommand::Hashkv(h)) => hashkv(global, a.cluster, h.rev, io).await,
        None | Some(EndpointCommand::Other(_)) => {
            print_help(io, "endpoint");
            Ok(())
        }
    }
}

fn printer(global: &GlobalFlags) -> Result<Printer> {
    Ok(Printer::new(Format::parse(&global.write_out)?, global.hex))
}

/// `--endpoints`, or with `--cluster` every member's client URLs in member-list order
/// (`endpointsFromCluster`).
pub async fn endpoints(global: &GlobalFlags, cluster: bool) -> Result<Vec<String>> {
    if !cluster {
        return Ok(global.endpoints.clone());
    }
    let members = member_list(global).await?;
    Ok(members.members.into_iter().flat_map(|m| m.client_ur_ls).collect())
}

/// The member list `--cluster` works from, failing with etcdctl's message.
pub async fn member_list(global: &GlobalFlags) -> Result<MemberListResponse> {
    with_client(global, |c| async move { c.member_list().await })
        .await
        .map_err(|e| CtlError::error(format!("failed to fetch endpoints from etcd cluster member list: {}", e.message)))
}

async fn status(global: &GlobalFlags, cluster: bool, io: &mut Io<'_>) -> Result<()> {
    let printer = printer(global)?;
    let mut list = Vec::new();
    let mut failed = false;
    for ep in endpoints(global, cluster).await? {
        let one = std::slice::from_ref(&ep);
        match with_client_at(global, one, |c| async move { c.status().await }).await {
            Ok(status) => list.push(EndpointStatus { endpoint: ep, status }),
            Err(e) => {
                eprintln!("Failed to get the status of endpoint {ep} ({})", e.message);
                failed = true;
            }
        }
    }
    let mut out = Vec::new();
    let printed = printer.endpoint_status(&mut out, &list);
    io.print(&out);
    printed?;
    if failed { Err(CtlError::quiet(ExitCode::Error)) } else { Ok(()) }
}

async fn hashkv(global: &GlobalFlags, cluster: bool, rev: i64, io: &mut Io<'_>) -> Result<()> {
    let printer = printer(global)?;
    let mut list = Vec::new();
    let mut last_error = None;
    for ep in endpoints(global, cluster).await? {
        let one = std::slice::from_ref(&ep);
        match with_client_at(global, one, |c| async move { c.hash_kv(rev).await }).await {
            Ok(hash_kv) => list.push(EndpointHashKv { endpoint: ep, hash_kv }),
            Err(e) => {
                eprintln!("Failed to get the hash of endpoint {ep} ({})", e.message);
                last_error = Some(e);
            }
        }
    }
    let mut out = Vec::new();
    let printed = printer.endpoint_hashkv(&mut out, &list);
    io.print(&out);
    printed?;
    last_error.map_or(Ok(()), Err)
}

async fn health(global: &GlobalFlags, cluster: bool, io: &mut Io<'_>) -> Result<()> {
    let printer = printer(global)?;
    let endpoints = endpoints(global, cluster).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for ep in endpoints {
        let (tx, global) = (tx.clone(), global.clone());
        tokio::spawn(async move {
            let _ = tx.send(check_health(&global, ep).await);
        });
    }
    drop(tx);
    let mut list = Vec::new();
    while let Some(h) = rx.recv().await {
        list.push(h);
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let printed = printer.endpoint_health(&mut out, &mut err, &list);
    io.print(&out);
    eprint!("{}", String::from_utf8_lossy(&err));
    printed?;
    if list.iter().any(|h| !h.error.is_empty()) {
        return Err(CtlError::error("unhealthy cluster"));
    }
    Ok(())
}

/// One endpoint's check: a linearizable `Get("health")`, timed from before the
/// connection (etcdctl's client connects lazily, inside the Get), then, if it worked,
/// the alarm list, both within one `--command-timeout`. The time is the Get's alone.
async fn check_health(global: &GlobalFlags, endpoint: String) -> EndpointHealth {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + global.command_timeout;
    let one = std::slice::from_ref(&endpoint);
    let (got, took) = with_client_until(global, one, deadline, |c| async move {
        let get = RangeRequest { key: b"health".to_vec(), ..Default::default() };
        let got = c.range(get).await;
        let took = format_duration(started.elapsed());
        let got = match got {
            Err(e) if e.to_string() != "etcdserver: permission denied" => Err(e.to_string()),
            _ => Ok(c.alarm_list().await),
        };
        Ok((got, took))
    })
    .await
    .unwrap_or_else(|e| (Err(e.message), format_duration(started.elapsed())));
    let error = match got {
        Ok(Ok(alarms)) if alarms.alarms.is_empty() => String::new(),
        Ok(Ok(alarms)) => {
            let names: String = alarms.alarms.iter().map(|a| format!("{} ", alarm_name(a.alarm))).collect();
            format!("Active Alarm(s): {names}")
        }
        Ok(Err(_)) => "Unable to fetch the alarm list".to_owned(),
        Err(e) => e,
    };
    EndpointHealth { endpoint, health: error.is_empty(), took, error }
}

/// How etcdctl 3.6 names an alarm in a health error: NOSPACE, CORRUPT or UNKNOWN.
fn alarm_name(alarm: i32) -> &'static str {
    match AlarmType::try_from(alarm) {
        Ok(AlarmType::Nospace) => "NOSPACE",
        Ok(AlarmType::Corrupt) => "CORRUPT",
        _ => "UNKNOWN",
    }
}
