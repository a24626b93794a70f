//! `auth enable | disable` (`auth_command.go`), and etcdctl 3.6's `auth status`.
//!
//! ```text
//! $ stratactl user add root:secret
//! User root created
//! $ stratactl auth enable
//! Authentication Enabled
//! $ stratactl --user root:secret auth status
//! Authentication Status: true
//! AuthRevision: 3
//! ```
//!
//! `enable` and `disable` print their sentence in every output format (etcdctl does not
//! pass them to a printer, though it checks the format first). When the member refuses
//! to enable auth because the `root` user lacks the `root` role, `enable` creates that
//! role, grants it to `root` and tries again, as etcdctl does.

use super::{Io, print_help, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::printer::{Format, Printer};
use clap::{Args, Subcommand};
use std::ffi::OsString;

/// `auth`'s subcommand.
#[derive(Args, Debug, Clone)]
#[command(infer_subcommands = true, disable_help_subcommand = true)]
pub struct AuthArgs {
    /// The subcommand; etcdctl prints the help without one.
    #[command(subcommand)]
    pub command: Option<AuthCommand>,
}

/// `auth`'s subcommands. Any unique prefix works.
#[derive(Subcommand, Debug, Clone)]
pub enum AuthCommand {
    /// Disables authentication
    Disable(NoArgs),
    /// Enables authentication
    Enable(NoArgs),
    /// Returns authentication status (etcdctl 3.6's; etcd 3.4 does not serve it)
    Status(NoArgs),
    /// Anything else: etcdctl prints `auth`'s help.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// The subcommands take no arguments; any given is an error.
pub use super::alarm::NoArgs;

/// etcd's `ErrGRPCRootRoleNotExist`, on which `auth enable` gives `root` its role.
const ROOT_ROLE_NOT_EXIST: &str = "etcdserver: root user does not have root role";

/// Runs an `auth` subcommand.
pub async fn run(global: &GlobalFlags, a: AuthArgs, io: &mut Io<'_>) -> Result<()> {
    match a.command {
        Some(AuthCommand::Enable(a)) => {
            no_args(&a, "enable")?;
            Format::parse(&global.write_out)?;
            with_client(global, |c| async move { enable(&c).await }).await?;
            io.print(b"Authentication Enabled\n");
            Ok(())
        }
        Some(AuthCommand::Disable(a)) => {
            no_args(&a, "disable")?;
            Format::parse(&global.write_out)?;
            with_client(global, |c| async move { c.auth_disable().await }).await?;
            io.print(b"Authentication Disabled\n");
            Ok(())
        }
        Some(AuthCommand::Status(a)) => {
            no_args(&a, "status")?;
            let printer = Printer::new(Format::parse(&global.write_out)?, global.hex);
            let resp = with_client(global, |c| async move { c.auth_status().await }).await?;
            io.print_with(|out| printer.auth_status(out, &resp))
        }
        None | Some(AuthCommand::Other(_)) => {
            print_help(io, "auth");
            Ok(())
        }
    }
}

fn no_args(a: &NoArgs, name: &str) -> Result<()> {
    if a.args.is_empty() {
        Ok(())
    } else {
        Err(CtlError::bad_args(format!("auth {name} command does not accept any arguments")))
    }
}

/// `AuthEnable`, giving `root` the `root` role first when the member asks for it.
async fn enable(c: &client::Client) -> client::Result<()> {
    loop {
        match c.auth_enable().await {
            Ok(_) => return Ok(()),
            Err(client::Error::Rpc { message, .. }) if message == ROOT_ROLE_NOT_EXIST => {
                c.role_add("root").await?;
                c.user_grant_role("root", "root").await?;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Option<AuthCommand> {
        let args = ["stratactl", "auth"].iter().chain(args).map(OsString::from).collect();
        match crate::cli::parse(args).expect("parses").expect("not help").command {
            Some(crate::cli::Command::Auth(a)) => a.command,
            other => panic!("not auth: {other:?}"),
        }
    }

    #[test]
    fn subcommands_resolve_by_prefix_and_refuse_arguments() {
        assert!(matches!(parse(&["en"]), Some(AuthCommand::Enable(_))));
        assert!(matches!(parse(&["dis"]), Some(AuthCommand::Disable(_))));
        assert!(matches!(parse(&["st"]), Some(AuthCommand::Status(_))));
        assert!(matches!(parse(&["bogus"]), Some(AuthCommand::Other(_))));
        let Some(AuthCommand::Enable(a)) = parse(&["enable", "x"]) else { panic!("not enable") };
        let e = no_args(&a, "enable").expect_err("refused");
        assert_eq!(e.message, "auth enable command does not accept any arguments");
        assert_eq!(e.code, crate::error::ExitCode::BadArgs);
    }
}
