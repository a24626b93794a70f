//! One module per command. Each parses its flags into a request exactly as etcdctl's
//! `*_command.go` does (same checks, same order, same messages and exit codes), sends it,
//! and prints the response with the chosen printer.

pub mod alarm;
pub mod auth;
pub mod check;
pub mod compaction;
pub mod defrag;
pub mod del;
pub mod dial;
pub mod downgrade;
pub mod elect;
pub mod endpoint;
pub mod get;
pub mod lease;
pub mod lock;
pub mod member;
pub mod move_leader;
pub mod password;
pub mod put;
pub mod role;
pub mod snapshot;
pub mod txn;
pub mod user;
pub mod version;
pub mod watch;

use crate::cli::{Command, GlobalFlags};
use crate::error::{CtlError, Result};
use std::future::Future;
use std::io::{BufRead, Write};
use tokio::time::Instant;

/// Arguments that etcdctl accepts and ignores (`member list`, `endpoint status`, …).
#[derive(clap::Args, Debug, Clone)]
pub struct Ignored {
    /// Ignored.
    #[arg(hide = true)]
    pub args: Vec<std::ffi::OsString>,
}

/// Where a command reads its input and writes its output. (`watch -i` reads the
/// process's stdin itself: see `watch::interactive`.)
pub struct Io<'a> {
    /// Standard input (put values, txn requests).
    pub stdin: &'a mut dyn BufRead,
    /// Standard output.
    pub stdout: &'a mut dyn Write,
}

impl Io<'_> {
    /// Writes `bytes` to stdout. A closed pipe is not an error worth reporting.
    pub fn print(&mut self, bytes: &[u8]) {
        let _ = self.stdout.write_all(bytes);
        let _ = self.stdout.flush();
    }

    /// Prints what `f` writes, then returns its result: a printer that refuses the
    /// output format fails after whatever was written before.
    pub fn print_with(&mut self, f: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<()> {
        let mut out = Vec::new();
        let printed = f(&mut out);
        self.print(&out);
        printed
    }
}

/// The single argument of a command that takes exactly one, else exit 128 with `usage`.
pub fn one_arg<'a>(args: &'a [String], usage: &str) -> Result<&'a str> {
    match args {
        [a] => Ok(a),
        _ => Err(CtlError::bad_args(usage)),
    }
}

/// Runs one parsed command.
pub async fn execute(global: &GlobalFlags, command: Command, io: &mut Io<'_>) -> Result<()> {
    match command {
        Command::Get(a) => get::run(global, a, io).await,
        Command::Put(a) => put::run(global, a, io).await,
        Command::Del(a) => del::run(global, a, io).await,
        Command::Txn(a) => txn::run(global, a, io).await,
        Command::Compaction(a) => compaction::run(global, a, io).await,
        Command::Alarm(a) => alarm::run(global, a, io).await,
        Command::Defrag(a) => defrag::run(global, a, io).await,
        Command::Endpoint(a) => endpoint::run(global, a, io).await,
        Command::Check(a) => check::run(global, a, io).await,
        Command::Downgrade(a) => downgrade::run(global, a, io).await,
        Command::Snapshot(a) => snapshot::run(global, a, io).await,
        Command::Watch(a) => watch::run(global, a, io).await,
        Command::Lease(a) => lease::run(global, a, io).await,
        Command::Member(a) => member::run(global, a, io).await,
        Command::MoveLeader(a) => move_leader::run(global, a, io).await,
        Command::Lock(a) => lock::run(global, a, io).await,
        Command::Elect(a) => elect::run(global, a, io).await,
        Command::Auth(a) => auth::run(global, a, io).await,
        Command::User(a) => user::run(global, a, io).await,
        Command::Role(a) => role::run(global, a, io).await,
        Command::Version => {
            version::run(io);
            Ok(())
        }
    }
}

/// Connects and runs `call`, all within `--command-timeout`.
///
/// etcdctl dials without blocking and its gRPC balancer keeps retrying unreachable
/// endpoints until the command's context expires, so an unreachable cluster fails with
/// "context deadline exceeded" after the command timeout; this does the same.
pub async fn with_client<T, F, Fut>(global: &GlobalFlags, call: F) -> Result<T>
where
    F: FnOnce(client::Client) -> Fut,
    Fut: Future<Output = client::Result<T>>,
{
    with_client_at(global, &global.endpoints, call).await
}

/// [`with_client`] connected to `endpoints` rather than `--endpoints`: the maintenance
/// commands ask each member in turn, as clientv3 dials each endpoint for them.
pub async fn with_client_at<T, F, Fut>(global: &GlobalFlags, endpoints: &[String], call: F) -> Result<T>
where
    F: FnOnce(client::Client) -> Fut,
    Fut: Future<Output = client::Result<T>>,
{
    with_client_until(global, endpoints, Instant::now() + global.command_timeout, call).await
}

/// [`with_client_at`] within a `deadline` that several calls share, as the calls of
/// `move-leader` share etcdctl's one `commandCtx`.
pub async fn with_client_until<T, F, Fut>(
    global: &GlobalFlags,
    endpoints: &[String],
    deadline: Instant,
    call: F,
) -> Result<T>
where
    F: FnOnce(client::Client) -> Fut,
    Fut: Future<Output = client::Result<T>>,
{
    let work = async {
        let client = dial::dial(global, endpoints).await?;
        call(client).await.map_err(CtlError::from)
    };
    tokio::time::timeout_at(deadline, work).await.unwrap_or_else(|_| Err(CtlError::error("context deadline exceeded")))
}

/// Prints the help of the top-level command `name`, as cobra does for a command that
/// only groups subcommands when none (or an unknown one) is given.
pub fn print_help(io: &mut Io<'_>, name: &str) {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command();
    let help = cmd.find_subcommand_mut(name).map(|c| c.render_help().to_string()).unwrap_or_default();
    io.print(help.as_bytes());
}

/// Connects as etcdctl's `mustClientFromCmd` does for the long-running commands
/// (`lock`, `elect`): a blocking dial that fails after `--dial-timeout` with
/// "context deadline exceeded" and exit code 2.
pub async fn connect_blocking(global: &GlobalFlags) -> Result<client::Client> {
    tokio::time::timeout(global.dial_timeout, dial::dial(global, &global.endpoints))
        .await
        .unwrap_or_else(|_| Err(CtlError::new(crate::error::ExitCode::BadConnection, "context deadline exceeded")))
}

/// SIGINT and SIGTERM, which `lock` and `elect` catch to clean up before exiting
/// (etcdctl's `signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)`).
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts catching both signals.
    pub fn new() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let io = |e: std::io::Error| CtlError::error(e.to_string());
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).map_err(io)?,
            terminate: signal(SignalKind::terminate()).map_err(io)?,
        })
    }

    /// Resolves when either signal arrives. Cancel safe.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

pub use client::prefix_end;
