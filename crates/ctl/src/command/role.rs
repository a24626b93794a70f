//! `role add | get | list | delete | grant-permission | revoke-permission`
//! (`role_command.go`).
//!
//! ```text
//! $ stratactl role add reader
//! Role reader created
//! $ stratactl role grant-permission reader read --prefix /config/
//! Role reader updated
//! $ stratactl role get reader
//! Role reader
//! KV Read:
//!     [/config/, /config0) (prefix /config/)
//! KV Write:
//! ```
//!
//! (Each permission line starts with a tab.)
//!
//! A permission is a key, a range `[key, endkey)`, a prefix (`--prefix`) or every key
//! from `key` on (`--from-key`, range end `"\0"`). An empty key becomes `"\0"`: that one
//! key, or with either flag the whole key space, as etcdctl's `permRange` has it.

use super::{Io, one_arg, prefix_end, print_help, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::gosyntax;
use crate::printer::{Format, Printer, simple};
use api::authpb::Permission;
use api::authpb::permission::Type as PermType;
use api::etcdserverpb::{AuthRoleGrantPermissionRequest, AuthRoleRevokePermissionRequest};
use clap::{ArgAction, Args, Subcommand};
use std::ffi::OsString;

/// `role`'s subcommand.
#[derive(Args, Debug, Clone)]
#[command(infer_subcommands = true, disable_help_subcommand = true)]
pub struct RoleArgs {
    /// The subcommand; etcdctl prints the help without one.
    #[command(subcommand)]
    pub command: Option<RoleCommand>,
}

/// `role`'s subcommands. Any unique prefix works.
#[derive(Subcommand, Debug, Clone)]
pub enum RoleCommand {
    /// Adds a new role
    Add(NameArgs),
    /// Deletes a role
    Delete(NameArgs),
    /// Gets detailed information of a role
    Get(NameArgs),
    /// Lists all roles
    List(NameArgs),
    /// Grants a key to a role
    GrantPermission(PermArgs),
    /// Revokes a key from a role
    RevokePermission(PermArgs),
    /// Anything else: etcdctl prints `role`'s help.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// The subcommands that take only a role name.
#[derive(Args, Debug, Clone)]
pub struct NameArgs {
    /// <role name>
    pub args: Vec<String>,
}

/// `grant-permission` and `revoke-permission`: the range flags and the arguments.
#[derive(Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct PermArgs {
    /// grant (or revoke) a prefix permission
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub prefix: bool,
    /// grant (or revoke) a permission of keys that are greater than or equal to the given key using byte compare
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub from_key: bool,
    /// <role name> [permission type] <key> [endkey]
    pub args: Vec<String>,
}

/// Runs a `role` subcommand.
pub async fn run(global: &GlobalFlags, a: RoleArgs, io: &mut Io<'_>) -> Result<()> {
    match a.command {
        Some(RoleCommand::Add(a)) => {
            let role = one_arg(&a.args, "role add command requires role name as its argument")?;
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.role_add(role).await }).await?;
            let sentence = format!("Role {role} created");
            io.print_with(|out| printer.auth_changed(out, sentence.as_bytes(), resp.header.as_ref(), &resp))
        }
        Some(RoleCommand::Delete(a)) => {
            let role = one_arg(&a.args, "role delete command requires role name as its argument")?;
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.role_delete(role).await }).await?;
            let sentence = format!("Role {role} deleted");
            io.print_with(|out| printer.auth_changed(out, sentence.as_bytes(), resp.header.as_ref(), &resp))
        }
        Some(RoleCommand::Get(a)) => {
            let role = one_arg(&a.args, "role get command requires role name as its argument")?;
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.role_get(role).await }).await?;
            io.print_with(|out| printer.role_get(out, role, &resp))
        }
        Some(RoleCommand::List(a)) => {
            if !a.args.is_empty() {
                return Err(CtlError::bad_args("role list command requires no arguments"));
            }
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.role_list().await }).await?;
            io.print_with(|out| printer.role_list(out, &resp))
        }
        Some(RoleCommand::GrantPermission(a)) => grant(global, a, io).await,
        Some(RoleCommand::RevokePermission(a)) => revoke(global, a, io).await,
        None | Some(RoleCommand::Other(_)) => {
            print_help(io, "role");
            Ok(())
        }
    }
}

/// `role grant-permission [--prefix | --from-key] <role> <read|write|readwrite> <key> [endkey]`.
async fn grant(global: &GlobalFlags, a: PermArgs, io: &mut Io<'_>) -> Result<()> {
    let [role, perm_type, keys @ ..] = a.args.as_slice() else {
        return Err(grant_usage());
    };
    if keys.is_empty() {
        return Err(grant_usage());
    }
    let perm_type = parse_perm_type(perm_type)?;
    let (key, range_end) = perm_range(keys, a.prefix, a.from_key)?;
    let printer = printer(global)?;
    let perm = Permission { perm_type: perm_type as i32, key, range_end };
    let req = AuthRoleGrantPermissionRequest { name: role.clone(), perm: Some(perm) };
    let resp = with_client(global, |c| async move { c.role_grant_permission(req).await }).await?;
    let sentence = format!("Role {role} updated");
    io.print_with(|out| printer.auth_changed(out, sentence.as_bytes(), resp.header.as_ref(), &resp))
}

fn grant_usage() -> CtlError {
    CtlError::bad_args("role grant command requires role name, permission type, and key [endkey] as its argument")
}

/// `role revoke-permission [--prefix | --from-key] <role> <key> [endkey]`.
async fn revoke(global: &GlobalFlags, a: PermArgs, io: &mut Io<'_>) -> Result<()> {
    let [role, keys @ ..] = a.args.as_slice() else {
        return Err(revoke_usage());
    };
    if keys.is_empty() {
        return Err(revoke_usage());
    }
    let (key, range_end) = perm_range(keys, a.prefix, a.from_key)?;
    let printer = printer(global)?;
    let sentence = simple::permission_revoked(role, keys[0].as_bytes(), &range_end);
    let req = AuthRoleRevokePermissionRequest { role: role.clone(), key, range_end };
    let resp = with_client(global, |c| async move { c.role_revoke_permission(req).await }).await?;
    io.print_with(|out| printer.auth_changed(out, &sentence, resp.header.as_ref(), &resp))
}

fn revoke_usage() -> CtlError {
    CtlError::bad_args("role revoke-permission command requires role name and key [endkey] as its argument")
}

/// clientv3's `StrToPermissionType`: the type's name in any case.
fn parse_perm_type(s: &str) -> Result<PermType> {
    PermType::from_str_name(&s.to_uppercase())
        .ok_or_else(|| CtlError::bad_args(format!("invalid permission type: {s}")))
}

/// etcdctl's `permRange`: the key and range end of a permission given as `keys` (the key,
/// perhaps an end key) and the range flags.
fn perm_range(keys: &[String], prefix: bool, from_key: bool) -> Result<(Vec<u8>, Vec<u8>)> {
    let key = keys[0].as_bytes();
    if prefix && from_key && (key.is_empty() || keys.len() == 1) {
        return Err(CtlError::bad_args("--from-key and --prefix flags are mutually exclusive"));
    }
    if key.is_empty() {
        // The whole key space: ["\0", "\0") with either flag, else the key "\0" alone.
        let range_end = if prefix || from_key { vec![0] } else { Vec::new() };
        return Ok((vec![0], range_end));
    }
    let range_end = match (keys.get(1), prefix, from_key) {
        (None, true, _) => prefix_end(key),
        (None, _, true) => vec![0],
        (None, false, false) => Vec::new(),
        (Some(_), true, _) => return Err(CtlError::bad_args("unexpected endkey argument with --prefix flag")),
        (Some(_), _, true) => return Err(CtlError::bad_args("unexpected endkey argument with --from-key flag")),
        (Some(end), false, false) => end.as_bytes().to_vec(),
    };
    Ok((key.to_vec(), range_end))
}

fn printer(global: &GlobalFlags) -> Result<Printer> {
    Ok(Printer::new(Format::parse(&global.write_out)?, global.hex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    fn range(k: &[&str], prefix: bool, from_key: bool) -> std::result::Result<(Vec<u8>, Vec<u8>), (ExitCode, String)> {
        perm_range(&keys(k), prefix, from_key).map_err(|e| (e.code, e.message))
    }

    #[test]
    fn permission_ranges_follow_etcdctls_perm_range() {
        assert_eq!(range(&["a"], false, false), Ok((b"a".to_vec(), vec![])));
        assert_eq!(range(&["a", "c"], false, false), Ok((b"a".to_vec(), b"c".to_vec())));
        assert_eq!(range(&["a", "c", "z"], false, false), Ok((b"a".to_vec(), b"c".to_vec())));
        assert_eq!(range(&["dir/"], true, false), Ok((b"dir/".to_vec(), b"dir0".to_vec())));
        assert_eq!(range(&["\u{ff}"], true, false), Ok(("\u{ff}".as_bytes().to_vec(), vec![0xc3, 0xc0])));
        assert_eq!(range(&["a"], false, true), Ok((b"a".to_vec(), vec![0])));
        assert_eq!(range(&[""], false, false), Ok((vec![0], vec![])));
        assert_eq!(range(&["", "ignored"], false, false), Ok((vec![0], vec![])));
        assert_eq!(range(&[""], true, false), Ok((vec![0], vec![0])));
        assert_eq!(range(&[""], false, true), Ok((vec![0], vec![0])));
    }

    #[test]
    fn conflicting_range_flags_are_refused_with_etcdctls_words() {
        let refused = |m: &str| Err((ExitCode::BadArgs, m.to_owned()));
        assert_eq!(range(&["a"], true, true), refused("--from-key and --prefix flags are mutually exclusive"));
        assert_eq!(range(&[""], true, true), refused("--from-key and --prefix flags are mutually exclusive"));
        assert_eq!(range(&["a", "b"], true, false), refused("unexpected endkey argument with --prefix flag"));
        assert_eq!(range(&["a", "b"], false, true), refused("unexpected endkey argument with --from-key flag"));
        assert_eq!(range(&["a", "b"], true, true), refused("unexpected endkey argument with --prefix flag"));
    }

    #[test]
    fn permission_types_ignore_case() {
        assert_eq!(parse_perm_type("read").ok(), Some(PermType::Read));
        assert_eq!(parse_perm_type("Write").ok(), Some(PermType::Write));
        assert_eq!(parse_perm_type("READWRITE").ok(), Some(PermType::Readwrite));
        let e = parse_perm_type("rw").expect_err("unknown");
        assert_eq!((e.code, e.message.as_str()), (ExitCode::BadArgs, "invalid permission type: rw"));
    }

    #[test]
    fn flags_parse_like_pflag() {
        let args = ["stratactl", "role", "grant-permission", "--prefix", "r", "read", "k", "--from-key=false"];
        let cli = crate::cli::parse(args.iter().map(OsString::from).collect()).expect("parses").expect("not help");
        let Some(crate::cli::Command::Role(RoleArgs { command: Some(RoleCommand::GrantPermission(a)) })) = cli.command
        else {
            panic!("not role grant-permission");
        };
        assert_eq!((a.prefix, a.from_key, a.args), (true, false, keys(&["r", "read", "k"])));
    }
}
