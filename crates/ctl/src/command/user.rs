//! `user add | get | list | delete | passwd | grant-role | revoke-role`
//! (`user_command.go`).
//!
//! ```text
//! $ stratactl user add alice:secret
//! User alice created
//! $ stratactl user grant-role alice reader
//! Role reader is granted to user alice
//! $ stratactl user get alice
//! User: alice
//! Roles: reader
//! ```
//!
//! A new password comes from `name:password`, `--new-user-password`, or is asked for
//! twice ("Password of alice: ", then "Type password of alice again for confirmation: ",
//! [`password::ask`]); with `--interactive=false` it is the first word of stdin instead,
//! as Go's `fmt.Scanf("%s")` reads it. `user get --detail` prints each of the user's
//! roles as `role get` does. Like every stratactl command (and unlike etcdctl, which
//! sends these requests without a deadline), they are bounded by `--command-timeout`.

use super::{Io, one_arg, password, print_help, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::gosyntax;
use crate::printer::{Format, Printer};
use api::authpb::UserAddOptions;
use api::etcdserverpb::AuthUserAddRequest;
use clap::{ArgAction, Args, Subcommand};
use std::ffi::OsString;
use std::io::BufRead;

/// `user`'s subcommand.
#[derive(Args, Debug, Clone)]
#[command(infer_subcommands = true, disable_help_subcommand = true)]
pub struct UserArgs {
    /// The subcommand; etcdctl prints the help without one.
    #[command(subcommand)]
    pub command: Option<UserCommand>,
}

/// `user`'s subcommands. Any unique prefix works.
#[derive(Subcommand, Debug, Clone)]
pub enum UserCommand {
    /// Adds a new user
    Add(AddArgs),
    /// Deletes a user
    Delete(NameArgs),
    /// Gets detailed information of a user
    Get(GetArgs),
    /// Lists all users
    List(NameArgs),
    /// Changes password of user
    Passwd(PasswdArgs),
    /// Grants a role to a user
    GrantRole(NameArgs),
    /// Revokes a role from a user
    RevokeRole(NameArgs),
    /// Anything else: etcdctl prints `user`'s help.
    #[command(external_subcommand)]
    Other(Vec<OsString>),
}

/// `user add`'s flags and argument. A flag given twice keeps its last value.
#[derive(Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct AddArgs {
    /// Read password from stdin instead of interactive terminal
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub interactive: bool,
    /// Supply password from the command line flag
    #[arg(long, default_value = "")]
    pub new_user_password: String,
    /// Create a user without password (CN based auth only)
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub no_password: bool,
    /// <user name or user:password>
    pub args: Vec<String>,
}

/// `user get`'s flag and argument.
#[derive(Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct GetArgs {
    /// Show permissions of roles granted to the user
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub detail: bool,
    /// <user name>
    pub args: Vec<String>,
}

/// `user passwd`'s flag and argument.
#[derive(Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct PasswdArgs {
    /// If true, read password from stdin instead of interactive terminal
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub interactive: bool,
    /// <user name>
    pub args: Vec<String>,
}

/// The subcommands that take only names.
#[derive(Args, Debug, Clone)]
pub struct NameArgs {
    /// <user name> [role name]
    pub args: Vec<String>,
}

/// Runs a `user` subcommand.
pub async fn run(global: &GlobalFlags, a: UserArgs, io: &mut Io<'_>) -> Result<()> {
    match a.command {
        Some(UserCommand::Add(a)) => add(global, a, io).await,
        Some(UserCommand::Get(a)) => get(global, a, io).await,
        Some(UserCommand::Passwd(a)) => passwd(global, a, io).await,
        Some(UserCommand::Delete(a)) => {
            let name = one_arg(&a.args, "user delete command requires user name as its argument")?;
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.user_delete(name).await }).await?;
            let sentence = format!("User {name} deleted");
            io.print_with(|out| printer.auth_changed(out, sentence.as_bytes(), resp.header.as_ref(), &resp))
        }
        Some(UserCommand::List(a)) => {
            if !a.args.is_empty() {
                return Err(CtlError::bad_args("user list command requires no arguments"));
            }
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.user_list().await }).await?;
            io.print_with(|out| printer.user_list(out, &resp))
        }
        Some(UserCommand::GrantRole(a)) => {
            let [user, role] = two(&a.args, "user grant command requires user name and role name as its argument")?;
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.user_grant_role(user, role).await }).await?;
            let sentence = format!("Role {role} is granted to user {user}");
            io.print_with(|out| printer.auth_changed(out, sentence.as_bytes(), resp.header.as_ref(), &resp))
        }
        Some(UserCommand::RevokeRole(a)) => {
            let [user, role] = two(&a.args, "user revoke-role requires user name and role name as its argument")?;
            let printer = printer(global)?;
            let resp = with_client(global, |c| async move { c.user_revoke_role(user, role).await }).await?;
            let sentence = format!("Role {role} is revoked from user {user}");
            io.print_with(|out| printer.auth_changed(out, sentence.as_bytes(), resp.header.as_ref(), &resp))
        }
        None | Some(UserCommand::Other(_)) => {
            print_help(io, "user");
            Ok(())
        }
    }
}

/// `user add`: the name and password (see the module's documentation), then the request.
async fn add(global: &GlobalFlags, a: AddArgs, io: &mut Io<'_>) -> Result<()> {
    let (name, password) = new_user(&a, io).await?;
    let printer = printer(global)?;
    let options = Some(UserAddOptions { no_password: a.no_password });
    let req = AuthUserAddRequest { name: name.clone(), password, options, ..Default::default() };
    let resp = with_client(global, |c| async move { c.user_add(req).await }).await?;
    let sentence = format!("User {name} created");
    io.print_with(|out| printer.auth_changed(out, sentence.as_bytes(), resp.header.as_ref(), &resp))
}

/// `user add`'s name and password, in etcdctl's order of precedence: `--no-password`,
/// `--new-user-password`, `name:password`, then asking.
async fn new_user(a: &AddArgs, io: &mut Io<'_>) -> Result<(String, String)> {
    let arg = one_arg(&a.args, "user add command requires user name as its argument")?;
    if a.no_password {
        return Ok((arg.to_owned(), String::new()));
    }
    if !a.new_user_password.is_empty() {
        return Ok((arg.to_owned(), a.new_user_password.clone()));
    }
    match arg.split_once(':') {
        Some(("", _)) => Err(CtlError::bad_args("empty user name is not allowed")),
        Some((name, password)) => Ok((name.to_owned(), password.to_owned())),
        None => Ok((arg.to_owned(), new_password(arg, a.interactive, io).await?)),
    }
}

/// `user get [--detail]`.
async fn get(global: &GlobalFlags, a: GetArgs, io: &mut Io<'_>) -> Result<()> {
    let name = one_arg(&a.args, "user get command requires user name as its argument")?;
    let printer = printer(global)?;
    if !a.detail {
        let resp = with_client(global, |c| async move { c.user_get(name).await }).await?;
        return io.print_with(|out| printer.user_get(out, name, &resp));
    }
    // etcdctl prints as it goes: the name, then each role as it comes, until a failure.
    let (user, roles) = with_client(global, |c| async move {
        let user = c.user_get(name).await?;
        let mut roles = Vec::new();
        for role in &user.roles {
            let got = c.role_get(role).await;
            let failed = got.is_err();
            roles.push(got);
            if failed {
                break;
            }
        }
        Ok((user, roles))
    })
    .await?;
    io.print(format!("User: {name}\n").as_bytes());
    for (role, got) in user.roles.iter().zip(roles) {
        io.print(b"\n");
        let resp = got?;
        io.print_with(|out| printer.role_get(out, role, &resp))?;
    }
    Ok(())
}

/// `user passwd`.
async fn passwd(global: &GlobalFlags, a: PasswdArgs, io: &mut Io<'_>) -> Result<()> {
    let name = one_arg(&a.args, "user passwd command requires user name as its argument")?;
    let password = new_password(name, a.interactive, io).await?;
    let printer = printer(global)?;
    let resp = with_client(global, |c| async move { c.user_change_password(name, &password).await }).await?;
    io.print_with(|out| printer.auth_changed(out, b"Password updated", resp.header.as_ref(), &resp))
}

/// A new password for `name`: asked for twice ([`password::ask`], etcdctl's
/// `readPasswordInteractive`), or with `interactive` false the first word of stdin.
async fn new_password(name: &str, interactive: bool, io: &mut Io<'_>) -> Result<String> {
    if !interactive {
        return Ok(scan_word(io.stdin));
    }
    let failed = |e: std::io::Error| CtlError::bad_args(format!("failed to ask password: {e}"));
    let first = password::ask(&format!("Password of {name}: "), io.stdin).await.map_err(failed)?;
    if first.is_empty() {
        return Err(CtlError::bad_args("empty password"));
    }
    let again = password::ask(&format!("Type password of {name} again for confirmation: "), io.stdin).await;
    if again.map_err(failed)? != first {
        return Err(CtlError::bad_args("given passwords are different"));
    }
    Ok(first)
}

/// Go's `fmt.Scanf("%s", &s)` on stdin, errors ignored as etcdctl ignores them: spaces
/// skipped, then the word up to the next white space, which is consumed too (Go reads
/// one character past what it returns). A line that is empty or blank gives "".
fn scan_word(stdin: &mut dyn BufRead) -> String {
    let mut next = || {
        let mut b = [0u8; 1];
        matches!(stdin.read(&mut b), Ok(1)).then_some(b[0])
    };
    let mut word = Vec::new();
    loop {
        match next() {
            None | Some(b'\n') => return String::new(),
            Some(b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c') => {}
            Some(b) => {
                word.push(b);
                break;
            }
        }
    }
    while let Some(b) = next() {
        if b.is_ascii_whitespace() || b == b'\x0b' {
            break;
        }
        word.push(b);
    }
    String::from_utf8_lossy(&word).into_owned()
}

fn printer(global: &GlobalFlags) -> Result<Printer> {
    Ok(Printer::new(Format::parse(&global.write_out)?, global.hex))
}

/// Exactly two arguments, else exit 128 with `usage`.
fn two<'a>(args: &'a [String], usage: &str) -> Result<[&'a str; 2]> {
    match args {
        [a, b] => Ok([a.as_str(), b.as_str()]),
        _ => Err(CtlError::bad_args(usage)),
    }
}

#[cfg(test)]
mod tests;
