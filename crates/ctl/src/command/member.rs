//! `member list | add <name> --peer-urls=URLS [--learner] | remove <id> |
//! update <id> --peer-urls=URLS | promote <id>` (`member_command.go`). Member ids are
//! hexadecimal on the command line and in simple output, decimal in JSON and fields.
//!
//! ```text
//! $ stratactl member list
//! 628170c800dbcee, started, m1, http://127.0.0.1:32380, http://127.0.0.1:32379, false
//! 85d9c989786a9942, started, m2, http://127.0.0.1:32382, http://127.0.0.1:32381, false
//! $ stratactl member add m3 --peer-urls=http://127.0.0.1:32384
//! Member  aed10895840eb27 added to cluster b88758a96215408b
//!
//! ETCD_NAME="m3"
//! ETCD_INITIAL_CLUSTER="m1=http://127.0.0.1:32380,m3=http://127.0.0.1:32384,m2=http://127.0.0.1:32382"
//! ETCD_INITIAL_ADVERTISE_PEER_URLS="http://127.0.0.1:32384"
//! ETCD_INITIAL_CLUSTER_STATE="existing"
//! ```
//!
//! As in etcdctl 3.6, `member list` ignores arguments and asks for a linearizable list
//! unless `--consistency=s`, a learner is `added as learner to cluster`, and `-w fields`
//! and `-w table` are refused (exit 4) only once `add`, `remove`, `update` or `promote`
//! has been done.

use super::{Io, print_help, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::gosyntax;
use crate::printer::{Format, Printer, simple};
use api::etcdserverpb::{MemberListResponse, RangeRequest};
use clap::{ArgAction, Args, Subcommand};
use std::ffi::OsString;

/// `member`'s subcommand.
#[derive(Args, Debug, Clone)]
#[command(infer_subcommands = true, disable_help_subcommand = true)]
pub struct MemberArgs {
    /// The subcommand; etcdctl prints the help without one.
    #[command(subcommand)]
    pub command: Option<MemberCommand>,
}

/// `member`'s subcommands, in cobra's (alphabetical) order. Any unique prefix works.
#[derive(Subcommand, Debug, Clone)]
pub enum MemberCommand {
    /// Adds a member into the cluster
    Add(AddArgs),
    /// Lists all members in the cluster
    List(ListArgs),
    /// Promotes a non-voting member in the cluster
    Promote(IdArgs),
    /// Removes a member from the cluster
    Remove(IdArgs),
    /// Updates a member in the cluster
    Update(UpdateArgs),
    /// Anything else: etcdctl prints `member`'s help.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// `member add`'s flags and arguments. A flag given twice keeps its last value, as
/// pflag does.
#[derive(Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct AddArgs {
    /// comma separated peer URLs for the new member.
    #[arg(long, default_value = "")]
    pub peer_urls: String,
    /// indicates if the new member is raft learner
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub learner: bool,
    /// <memberName>
    pub args: Vec<String>,
}

/// `member list`'s flag; arguments are ignored.
#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Linearizable(l) or Serializable(s)
    #[arg(long, default_value = "l")]
    pub consistency: String,
    /// Ignored.
    #[arg(hide = true)]
    pub args: Vec<OsString>,
}

/// `member remove` and `member promote`: the member id.
#[derive(Args, Debug, Clone)]
pub struct IdArgs {
    /// <memberID>
    pub args: Vec<String>,
}

/// `member update`'s flag and argument.
#[derive(Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct UpdateArgs {
    /// comma separated peer URLs for the updated member.
    #[arg(long, default_value = "")]
    pub peer_urls: String,
    /// <memberID>
    pub args: Vec<String>,
}

/// Runs a `member` subcommand.
pub async fn run(global: &GlobalFlags, a: MemberArgs, io: &mut Io<'_>) -> Result<()> {
    let mut out = Vec::new();
    let printed = match a.command {
        Some(MemberCommand::List(a)) => {
            let linearizable = !super::get::serializable(&a.consistency, "l")?;
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.member_list_with(linearizable).await }).await?;
            printer.member_list(&mut out, &resp)
        }
        Some(MemberCommand::Add(a)) => return add(global, a, io).await,
        Some(MemberCommand::Remove(a)) => {
            let id = member_id(&a.args)?;
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.member_remove(id).await }).await?;
            printer.member_remove(&mut out, id, &resp)
        }
        Some(MemberCommand::Update(a)) => {
            let id = member_id(&a.args)?;
            let urls = peer_urls(&a.peer_urls)?;
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.member_update(id, urls).await }).await?;
            printer.member_update(&mut out, id, &resp)
        }
        Some(MemberCommand::Promote(a)) => {
            let id = member_id(&a.args)?;
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.member_promote(id).await }).await?;
            printer.member_promote(&mut out, id, &resp)
        }
        None | Some(MemberCommand::Other(_)) => {
            print_help(io, "member");
            return Ok(());
        }
    };
    io.print(&out);
    printed
}

fn printer(global: &GlobalFlags) -> Result<Printer> {
    Ok(Printer::new(Format::parse(&global.write_out)?, global.hex))
}

/// `member add`: the response in the chosen format; in the simple format also the
/// variables the new member starts with, from a member list of the member that added it.
async fn add(global: &GlobalFlags, a: AddArgs, io: &mut Io<'_>) -> Result<()> {
    let name = member_name(&a.args)?;
    let urls = peer_urls(&a.peer_urls)?;
    let printer = printer(global)?;
    let learner = a.learner;
    let resp = with_client(global, |c| async move { c.member_add(urls, learner).await }).await?;
    let mut out = Vec::new();
    let printed = printer.member_add(&mut out, &resp);
    io.print(&out);
    printed?;
    if printer.format != Format::Simple {
        return Ok(());
    }
    let added_by = resp.header.map(|h| h.member_id).unwrap_or_default();
    let list = with_client(global, |c| async move { list_from(&c, added_by).await }).await?;
    let new_id = resp.member.map(|m| m.id).unwrap_or_default();
    let mut out = Vec::new();
    simple::member_add_env(&mut out, &name, &a.peer_urls, new_id, &list.members);
    io.print(&out);
    Ok(())
}

/// A member list answered by `member_id` (or by whichever member answers a quorum read
/// once the list came from another), so that it includes the member just added. This is
/// etcdctl's loop, which only ends when the ids match.
async fn list_from(c: &client::Client, mut member_id: u64) -> client::Result<MemberListResponse> {
    loop {
        let list = c.member_list().await?;
        if list.header.map(|h| h.member_id).unwrap_or_default() == member_id {
            return Ok(list);
        }
        let get = c.range(RangeRequest { key: b"_".to_vec(), ..Default::default() }).await?;
        member_id = get.header.map(|h| h.member_id).unwrap_or_default();
    }
}

/// `member add`'s one argument; with more, a hint for each that looks like a URL.
fn member_name(args: &[String]) -> Result<String> {
    match args {
        [] => Err(CtlError::bad_args("member name not provided")),
        [name] => Ok(name.clone()),
        _ => {
            let mut message = "too many arguments".to_owned();
            for arg in args.iter().filter(|a| a.to_lowercase().starts_with("http")) {
                message.push_str(&format!(", did you mean --peer-urls={arg}"));
            }
            Err(CtlError::bad_args(message))
        }
    }
}

/// `--peer-urls` split at commas (not trimmed, not parsed: the server judges them).
fn peer_urls(flag: &str) -> Result<Vec<String>> {
    if flag.is_empty() {
        return Err(CtlError::bad_args("member peer urls not provided"));
    }
    Ok(flag.split(',').map(str::to_owned).collect())
}

/// The one argument of `remove`, `update` and `promote`, in hex.
fn member_id(args: &[String]) -> Result<u64> {
    let [id] = args else {
        return Err(CtlError::bad_args("member ID is not provided"));
    };
    gosyntax::parse_uint(id, 16)
        .map_err(|e| CtlError::bad_args(format!("bad member ID arg ({e}), expecting ID in Hex")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    fn refused<T: std::fmt::Debug>(r: Result<T>) -> (ExitCode, String) {
        let e = r.expect_err("refused");
        (e.code, e.message)
    }

    #[test]
    fn ids_are_hex_with_go_errors() {
        assert_eq!(member_id(&words(&["aed10895840eb27"])).ok(), Some(0xaed10895840eb27));
        assert_eq!(member_id(&words(&["FFFFFFFFFFFFFFFF"])).ok(), Some(u64::MAX));
        assert_eq!(
            refused(member_id(&words(&["zz"]))),
            (
                ExitCode::BadArgs,
                r#"bad member ID arg (strconv.ParseUint: parsing "zz": invalid syntax), expecting ID in Hex"#.into()
            )
        );
        assert_eq!(
            refused(member_id(&words(&["18446744073709551616"]))).1,
            r#"bad member ID arg (strconv.ParseUint: parsing "18446744073709551616": value out of range), expecting ID in Hex"#
        );
        assert_eq!(refused(member_id(&words(&[]))), (ExitCode::BadArgs, "member ID is not provided".into()));
        assert_eq!(refused(member_id(&words(&["1", "2"]))).1, "member ID is not provided");
    }

    #[test]
    fn add_wants_one_name_and_suggests_peer_urls() {
        assert_eq!(member_name(&words(&["m4"])).ok().as_deref(), Some("m4"));
        assert_eq!(refused(member_name(&words(&[]))), (ExitCode::BadArgs, "member name not provided".into()));
        assert_eq!(refused(member_name(&words(&["a", "b"]))).1, "too many arguments");
        assert_eq!(
            refused(member_name(&words(&["a", "http://x", "HTTPs://y"]))).1,
            "too many arguments, did you mean --peer-urls=http://x, did you mean --peer-urls=HTTPs://y"
        );
    }

    #[test]
    fn peer_urls_split_at_commas_and_must_be_given() {
        assert_eq!(peer_urls("http://a:1,http://b:2").ok(), Some(words(&["http://a:1", "http://b:2"])));
        assert_eq!(peer_urls(",").ok(), Some(words(&["", ""])));
        assert_eq!(refused(peer_urls("")), (ExitCode::BadArgs, "member peer urls not provided".into()));
    }

    #[test]
    fn flags_parse_like_pflag() {
        let parse = |args: &[&str]| {
            let args = ["stratactl", "member"].iter().chain(args).map(OsString::from).collect();
            crate::cli::parse(args).expect("parses").expect("not help").command
        };
        let Some(crate::cli::Command::Member(MemberArgs { command: Some(MemberCommand::Add(a)) })) =
            parse(&["add", "m4", "--peer-urls", "http://a:1", "--peer-urls=http://b:2", "--learner"])
        else {
            panic!("not member add");
        };
        assert_eq!((a.peer_urls.as_str(), a.learner, a.args), ("http://b:2", true, words(&["m4"])));
        let Some(crate::cli::Command::Member(MemberArgs { command: Some(MemberCommand::List(_)) })) =
            parse(&["li", "extra"])
        else {
            panic!("not member list");
        };
    }
}
