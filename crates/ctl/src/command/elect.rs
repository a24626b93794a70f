//! `elect <election-name> [proposal]` and `elect -l <election-name>`
//! (`elect_command.go`), with clientv3's election recipe
//! ([`client::concurrency::Election`]).
//!
//! ```text
//! $ stratactl elect myelection p1
//! myelection/694d7a9e8c8f2c1a
//! p1
//! ^C
//! $ stratactl elect -l myelection
//! myelection/694d7a9e8c8f2c1e
//! p2
//! ```
//!
//! A candidate campaigns, prints its key and value (as `get` does) once elected, and
//! leads until SIGINT or SIGTERM, then resigns and exits 0. An observer prints every
//! leader, and the leader's value whenever it changes, until interrupted (exit 0); if
//! its watch is lost it fails with "elect: observer lost". Both use a session with
//! clientv3's default TTL (60 s), which, as with etcdctl, is left to expire.

use super::{Io, Signals, connect_blocking};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::printer::{Format, Printer};
use api::etcdserverpb::RangeRequest;
use clap::Args;
use client::concurrency::{DEFAULT_SESSION_TTL_SECS, Election, Session};

/// `elect`'s flags and arguments.
#[derive(Args, Debug, Clone)]
pub struct ElectArgs {
    /// observation mode
    #[arg(short = 'l', long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = crate::gosyntax::parse_bool)]
    pub listen: bool,
    /// <election-name> [proposal]
    pub args: Vec<String>,
}

/// What `elect`'s arguments ask for.
#[derive(Debug, PartialEq, Eq)]
pub enum Mode<'a> {
    /// `-l <name>`.
    Observe(&'a str),
    /// `<name> <proposal>`.
    Campaign(&'a str, &'a str),
}

/// Checks the arguments in etcdctl's order, with its messages.
pub fn mode(a: &ElectArgs) -> Result<Mode<'_>> {
    match (a.args.as_slice(), a.listen) {
        ([name], true) => Ok(Mode::Observe(name)),
        ([_], false) => Err(CtlError::bad_args("no proposal argument but -l not set")),
        ([name, prop], false) => Ok(Mode::Campaign(name, prop)),
        ([_, _], true) => Err(CtlError::bad_args("proposal given but -l is set")),
        _ => Err(CtlError::bad_args("elect takes one election name argument and an optional proposal argument")),
    }
}

/// Runs `elect`.
pub async fn run(global: &GlobalFlags, a: ElectArgs, io: &mut Io<'_>) -> Result<()> {
    let mode = mode(&a)?;
    let printer = Printer::new(Format::parse(&global.write_out)?, global.hex);
    let client = connect_blocking(global).await?;
    let mut signals = Signals::new()?;
    let session = Session::new(&client, DEFAULT_SESSION_TTL_SECS).await?;
    match mode {
        Mode::Observe(name) => {
            let election = Election::new(&session, name.as_bytes());
            let mut failed = None;
            let observed = election.observe(|resp| {
                let mut out = Vec::new();
                match printer.get(&mut out, resp) {
                    Ok(()) => io.print(&out),
                    Err(e) => failed = Some(e),
                }
            });
            tokio::select! {
                _ = observed => {}
                () = signals.recv() => return Ok(()),
            }
            Err(failed.unwrap_or_else(|| CtlError::error("elect: observer lost")))
        }
        Mode::Campaign(name, prop) => {
            let mut election = Election::new(&session, name.as_bytes());
            tokio::select! {
                r = election.campaign(prop.as_bytes()) => r?,
                () = signals.recv() => {
                    let _ = tokio::time::timeout(global.command_timeout, election.resign()).await;
                    return Err(CtlError::error("context canceled"));
                }
            }
            let key = election.key().to_vec();
            let resp = tokio::select! {
                r = client.range(RangeRequest { key, ..Default::default() }) => r?,
                () = signals.recv() => return Err(CtlError::error("context canceled")),
            };
            let mut out = Vec::new();
            printer.get(&mut out, &resp)?;
            io.print(&out);
            tokio::select! {
                () = signals.recv() => {}
                () = session.done() => return Err(CtlError::error("elect: session expired")),
            }
            Ok(election.resign().await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(listen: bool, args: &[&str]) -> ElectArgs {
        ElectArgs { listen, args: args.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn arguments_are_checked_like_etcdctl() {
        assert_eq!(mode(&args(true, &["e"])).ok(), Some(Mode::Observe("e")));
        assert_eq!(mode(&args(false, &["e", "p"])).ok(), Some(Mode::Campaign("e", "p")));
        let msg = |l, a: &[&str]| mode(&args(l, a)).map(|_| ()).expect_err("bad args").message;
        assert_eq!(msg(false, &["e"]), "no proposal argument but -l not set");
        assert_eq!(msg(true, &["e", "p"]), "proposal given but -l is set");
        assert_eq!(msg(true, &[]), "elect takes one election name argument and an optional proposal argument");
        assert_eq!(
            msg(false, &["a", "b", "c"]),
            "elect takes one election name argument and an optional proposal argument"
        );
        assert_eq!(mode(&args(false, &[])).map(|_| ()).expect_err("bad").code, crate::error::ExitCode::BadArgs);
    }
}
