//! `downgrade validate <TARGET_VERSION> | enable <TARGET_VERSION> | cancel`
//! (`downgrade_command.go`, etcdctl 3.6): asks the cluster whether it can be downgraded
//! to a `major.minor` version, starts that downgrade, or cancels it.
//!
//! ```text
//! $ stratactl downgrade validate 3.5
//! Downgrade validate success, cluster version 3.6
//! $ stratactl downgrade enable 3.4
//! Error: etcdserver: invalid downgrade target version
//! ```
//!
//! The version is checked by the member, not here; `cancel` ignores arguments. JSON and
//! protobuf print the response; fields and table are refused (exit 4) once the request
//! has been done, as etcdctl does.

use super::{Io, print_help, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::printer::{Format, Printer, json, protobuf};
use api::etcdserverpb::DowngradeResponse;
use api::etcdserverpb::downgrade_request::DowngradeAction;
use clap::{Args, Subcommand};
use std::ffi::OsString;

/// `downgrade`'s subcommand.
#[derive(Args, Debug, Clone)]
#[command(infer_subcommands = true, disable_help_subcommand = true)]
pub struct DowngradeArgs {
    /// The subcommand; etcdctl prints the help without one.
    #[command(subcommand)]
    pub command: Option<DowngradeCommand>,
}

/// `downgrade`'s subcommands, in cobra's (alphabetical) order.
#[derive(Subcommand, Debug, Clone)]
pub enum DowngradeCommand {
    /// Cancel the ongoing downgrade action to cluster
    Cancel(TargetArgs),
    /// Start a downgrade action to cluster
    Enable(TargetArgs),
    /// Validate downgrade capability before starting downgrade
    Validate(TargetArgs),
    /// Anything else: etcdctl prints `downgrade`'s help.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// `<TARGET_VERSION>`.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// <TARGET_VERSION>
    pub args: Vec<String>,
}

/// Runs a `downgrade` subcommand.
pub async fn run(global: &GlobalFlags, a: DowngradeArgs, io: &mut Io<'_>) -> Result<()> {
    let (action, version) = match a.command {
        Some(DowngradeCommand::Validate(t)) => (DowngradeAction::Validate, target(&t.args)?),
        Some(DowngradeCommand::Enable(t)) => (DowngradeAction::Enable, target(&t.args)?),
        Some(DowngradeCommand::Cancel(_)) => (DowngradeAction::Cancel, String::new()),
        None | Some(DowngradeCommand::Other(_)) => {
            print_help(io, "downgrade");
            return Ok(());
        }
    };
    let printer = Printer::new(Format::parse(&global.write_out)?, global.hex);
    let resp = with_client(global, |c| async move { c.downgrade(action, &version).await }).await?;
    io.print_with(|out| print(&printer, out, action, &resp))
}

/// The one `<TARGET_VERSION>`, checked as etcdctl checks it (exit 128).
fn target(args: &[String]) -> Result<String> {
    match args {
        [] => Err(CtlError::bad_args("TARGET_VERSION not provided")),
        [v] if v.is_empty() => Err(CtlError::bad_args("target version not provided")),
        [v] => Ok(v.clone()),
        _ => Err(CtlError::bad_args("too many arguments")),
    }
}

/// `Downgrade <action> success, cluster version <version>` in the simple format.
fn print(printer: &Printer, out: &mut Vec<u8>, action: DowngradeAction, r: &DowngradeResponse) -> Result<()> {
    match printer.format {
        Format::Simple => {
            let verb = match action {
                DowngradeAction::Validate => "validate",
                DowngradeAction::Enable => "enable",
                DowngradeAction::Cancel => "cancel",
            };
            out.extend_from_slice(format!("Downgrade {verb} success, cluster version {}\n", r.version).as_bytes());
        }
        Format::Json => json::line(out, json::downgrade(r)),
        Format::Protobuf => protobuf::write(out, r),
        Format::Fields | Format::Table => return Err(printer.unsupported()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;

    #[test]
    fn the_target_version_is_checked_like_etcdctl() {
        let e = target(&[]).expect_err("none");
        assert_eq!((e.code, e.message.as_str()), (ExitCode::BadArgs, "TARGET_VERSION not provided"));
        assert_eq!(target(&["".into()]).expect_err("empty").message, "target version not provided");
        assert_eq!(target(&["a".into(), "b".into()]).expect_err("two").message, "too many arguments");
        assert_eq!(target(&["3.5".into()]).expect("one"), "3.5");
    }

    #[test]
    fn responses_print_like_etcdctl() {
        let r = DowngradeResponse { header: None, version: "3.6".into() };
        let text = |format, action| {
            let mut out = Vec::new();
            print(&Printer::new(format, false), &mut out, action, &r)
                .map(|()| String::from_utf8_lossy(&out).into_owned())
        };
        assert_eq!(
            text(Format::Simple, DowngradeAction::Validate).expect("prints"),
            "Downgrade validate success, cluster version 3.6\n"
        );
        assert_eq!(text(Format::Json, DowngradeAction::Cancel).expect("prints"), "{\"version\":\"3.6\"}\n");
        let e = text(Format::Table, DowngradeAction::Enable).expect_err("unsupported");
        assert_eq!((e.code, e.message.as_str()), (ExitCode::BadFeature, "table not supported as output format"));
    }
}
