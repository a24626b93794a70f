//! `move-leader <transferee-member-id>` (`move_leader_command.go`).
//!
//! ```text
//! $ stratactl --endpoints 127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 move-leader 91bc3c398fb3c146
//! Leadership transferred from 8e9e05c52164694d to 91bc3c398fb3c146
//! ```
//!
//! As in etcdctl 3.4: the one argument is a member id in hex (`strconv.ParseUint(…, 16,
//! 64)`'s errors, exit 128); `--endpoints` are asked for their `Status` in order until one
//! says it is the leader (a `Status` that fails ends the command with its error, exit 1;
//! no leader among them is "no leader endpoint given at [ep …]", exit 128); then that
//! member is asked to move leadership. All of it shares one `--command-timeout`, as it
//! shares etcdctl's one `commandCtx`. Moving leadership to the leader itself succeeds at
//! once. An unknown output format is refused before anything is sent; `-w fields` and
//! `-w table`, which etcdctl cannot print a transfer in, only after leadership moved
//! (exit 4 either way). `-w json` and `-w protobuf` print the response, whose header
//! etcd 3.4 leaves out (`{}`, and nothing).

use super::{Io, with_client_until};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::gosyntax;
use crate::printer::{Format, Printer};
use clap::Args;
use tokio::time::Instant;

/// `move-leader`'s argument.
#[derive(Args, Debug, Clone)]
pub struct MoveLeaderArgs {
    /// <transferee-member-id>
    pub args: Vec<String>,
}

/// Runs `move-leader`.
pub async fn run(global: &GlobalFlags, a: MoveLeaderArgs, io: &mut Io<'_>) -> Result<()> {
    let target = transferee(&a.args)?;
    let printer = Printer::new(Format::parse(&global.write_out)?, global.hex);
    let deadline = Instant::now() + global.command_timeout;
    let (leader_endpoint, leader) = find_leader(global, deadline).await?;
    let one = std::slice::from_ref(&leader_endpoint);
    let resp = with_client_until(global, one, deadline, |c| async move { c.move_leader(target).await }).await?;
    let mut out = Vec::new();
    let printed = printer.move_leader(&mut out, leader, target, &resp);
    io.print(&out);
    printed
}

/// The one argument, a member id in hex.
fn transferee(args: &[String]) -> Result<u64> {
    let [id] = args else {
        return Err(CtlError::bad_args("move-leader command needs 1 argument"));
    };
    gosyntax::parse_uint(id, 16).map_err(CtlError::bad_args)
}

/// The first of `--endpoints` whose member leads, and its id.
async fn find_leader(global: &GlobalFlags, deadline: Instant) -> Result<(String, u64)> {
    for ep in &global.endpoints {
        let one = std::slice::from_ref(ep);
        let status = with_client_until(global, one, deadline, |c| async move { c.status().await }).await?;
        let id = status.header.map(|h| h.member_id).unwrap_or_default();
        if id == status.leader {
            return Ok((ep.clone(), id));
        }
    }
    Err(no_leader(&global.endpoints))
}

/// etcdctl formats the endpoints as Go prints a `[]string`.
fn no_leader(endpoints: &[String]) -> CtlError {
    CtlError::bad_args(format!("no leader endpoint given at [{}]", endpoints.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;
    use std::ffi::OsString;

    fn refused(args: &[&str]) -> (ExitCode, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let e = transferee(&args).expect_err("refused");
        (e.code, e.message)
    }

    #[test]
    fn the_transferee_is_one_hex_id_with_strconv_errors() {
        assert_eq!(transferee(&["f4634eb870980e69".into()]).ok(), Some(0xf4634eb870980e69));
        assert_eq!(transferee(&["898903983759EF".into()]).ok(), Some(0x898903983759ef));
        let needs_one = (ExitCode::BadArgs, "move-leader command needs 1 argument".to_string());
        assert_eq!(refused(&[]), needs_one);
        assert_eq!(refused(&["a", "b"]), needs_one);
        // What etcdctl 3.4.23 printed for each.
        assert_eq!(refused(&["zz"]), (ExitCode::BadArgs, r#"strconv.ParseUint: parsing "zz": invalid syntax"#.into()));
        assert_eq!(refused(&["0x12"]).1, r#"strconv.ParseUint: parsing "0x12": invalid syntax"#);
        assert_eq!(refused(&[""]).1, r#"strconv.ParseUint: parsing "": invalid syntax"#);
        assert_eq!(
            refused(&["18446744073709551616"]).1,
            r#"strconv.ParseUint: parsing "18446744073709551616": value out of range"#
        );
    }

    #[test]
    fn no_leader_lists_the_endpoints_as_go_prints_a_slice() {
        let e = no_leader(&["127.0.0.1:42379".into(), "http://127.0.0.1:42381".into()]);
        assert_eq!(e.code, ExitCode::BadArgs);
        assert_eq!(e.message, "no leader endpoint given at [127.0.0.1:42379 http://127.0.0.1:42381]");
    }

    #[test]
    fn parses_as_a_command_with_global_flags_after_it() {
        let args = ["stratactl", "move-leader", "abc", "-w", "json", "--endpoints", "a:1,b:2"];
        let cli = crate::cli::parse(args.iter().map(OsString::from).collect()).expect("parses").expect("not help");
        let Some(crate::cli::Command::MoveLeader(a)) = cli.command else { panic!("not move-leader") };
        assert_eq!(a.args, ["abc"]);
        assert_eq!((cli.global.write_out.as_str(), cli.global.endpoints.len()), ("json", 2));
        assert_eq!(crate::cli::resolve("move").ok(), Some("move-leader"));
    }
}
