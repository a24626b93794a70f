//! The command line: etcdctl's global flags and environment variables, cobra's command
//! prefix matching and "unknown command" message, and clap errors turned into etcdctl's.

use crate::command::{
    alarm, auth, check, compaction, defrag, del, dial, downgrade, elect, endpoint, get, lease, lock, member,
    move_leader, put, role, snapshot, txn, user, watch,
};
use crate::error::{CtlError, Result};
use crate::gosyntax;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::time::Duration;

/// `stratactl`'s arguments.
#[derive(Parser, Debug)]
#[command(
    name = "stratactl",
    about = "A simple command line client for Strata (and etcd) v3.",
    disable_version_flag = true
)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalFlags,
    /// The command to run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// etcdctl's commands that stratactl implements so far.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Gets the key or a range of keys
    Get(get::GetArgs),
    /// Puts the given key into the store
    Put(put::PutArgs),
    /// Removes the specified key or range of keys [key, range_end)
    Del(del::DelArgs),
    /// Txn processes all the requests in one transaction
    Txn(txn::TxnArgs),
    /// Compacts the event history in etcd
    Compaction(compaction::CompactionArgs),
    /// Alarm related commands
    Alarm(alarm::AlarmArgs),
    /// Defragments the storage of the etcd members with given endpoints
    Defrag(defrag::DefragArgs),
    /// Endpoint related commands
    Endpoint(endpoint::EndpointArgs),
    /// Transfers leadership to another etcd cluster member.
    MoveLeader(move_leader::MoveLeaderArgs),
    /// Watches events stream on keys or prefixes
    Watch(watch::WatchArgs),
    /// Lease related commands
    Lease(lease::LeaseArgs),
    /// Membership related commands
    Member(member::MemberArgs),
    /// Acquires a named lock
    Lock(lock::LockArgs),
    /// Observes and participates in leader election
    Elect(elect::ElectArgs),
    /// Enable or disable authentication
    Auth(auth::AuthArgs),
    /// User related commands
    User(user::UserArgs),
    /// Role related commands
    Role(role::RoleArgs),
    /// Manages etcd node snapshots
    Snapshot(snapshot::SnapshotArgs),
    /// Prints the version of stratactl
    Version,
    /// commands for checking properties of the etcd cluster
    Check(check::CheckArgs),
    /// Downgrade related commands
    Downgrade(downgrade::DowngradeArgs),
}

/// etcdctl's global flags, also read from `ETCDCTL_<FLAG>` (flags win).
#[derive(Args, Debug, Clone)]
pub struct GlobalFlags {
    /// gRPC endpoints
    #[arg(long, global = true, env = "ETCDCTL_ENDPOINTS", value_delimiter = ',', default_value = "127.0.0.1:2379")]
    pub endpoints: Vec<String>,
    /// dial timeout for client connections
    #[arg(long, global = true, env = "ETCDCTL_DIAL_TIMEOUT", default_value = "2s",
          value_parser = goduration::parse_non_negative)]
    pub dial_timeout: Duration,
    /// timeout for short running command (excluding dial timeout)
    #[arg(long, global = true, env = "ETCDCTL_COMMAND_TIMEOUT", default_value = "5s",
          value_parser = goduration::parse_non_negative)]
    pub command_timeout: Duration,
    /// keepalive time for client connections (accepted, not used yet)
    #[arg(long, global = true, env = "ETCDCTL_KEEPALIVE_TIME", default_value = "2s",
          value_parser = goduration::parse_non_negative)]
    pub keepalive_time: Duration,
    /// keepalive timeout for client connections (accepted, not used yet)
    #[arg(long, global = true, env = "ETCDCTL_KEEPALIVE_TIMEOUT", default_value = "6s",
          value_parser = goduration::parse_non_negative)]
    pub keepalive_timeout: Duration,
    /// set the output format (fields, json, protobuf, simple, table)
    #[arg(short = 'w', long = "write-out", global = true, env = "ETCDCTL_WRITE_OUT", default_value = "simple")]
    pub write_out: String,
    /// print byte strings as hex encoded strings
    #[arg(long, global = true, env = "ETCDCTL_HEX", action = clap::ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_value = "false",
          default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub hex: bool,
    /// enable client-side debug logging (accepted, no effect)
    #[arg(long, global = true, env = "ETCDCTL_DEBUG", action = clap::ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_value = "false",
          default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub debug: bool,
    /// disable transport security for client connections
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_TRANSPORT", action = clap::ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_value = "true",
          default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub insecure_transport: bool,
    /// skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_SKIP_TLS_VERIFY", action = clap::ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_value = "false",
          default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub insecure_skip_tls_verify: bool,
    /// identify secure client using this TLS certificate file
    #[arg(long, global = true, env = "ETCDCTL_CERT")]
    pub cert: Option<String>,
    /// identify secure client using this TLS key file
    #[arg(long, global = true, env = "ETCDCTL_KEY")]
    pub key: Option<String>,
    /// verify certificates of TLS-enabled secure servers using this CA bundle
    #[arg(long, global = true, env = "ETCDCTL_CACERT")]
    pub cacert: Option<String>,
    /// username[:password] for authentication (prompt if password is not supplied)
    #[arg(long, global = true, env = "ETCDCTL_USER")]
    pub user: Option<String>,
    /// password for authentication (if this option is used, --user option shouldn't include password)
    #[arg(long, global = true, env = "ETCDCTL_PASSWORD")]
    pub password: Option<String>,
    /// client-side response receive limit in bytes (accepted, as etcdctl 3.6 does; not used yet)
    #[arg(long = "max-recv-bytes", global = true, env = "ETCDCTL_MAX_RECV_BYTES", default_value = "0",
          value_parser = get::go_int64, allow_negative_numbers = true)]
    pub max_recv_bytes: i64,
    /// client-side request send limit in bytes (accepted, as etcdctl 3.6 does; not used yet)
    #[arg(long = "max-request-bytes", global = true, env = "ETCDCTL_MAX_REQUEST_BYTES", default_value = "0",
          value_parser = get::go_int64, allow_negative_numbers = true)]
    pub max_request_bytes: i64,
    /// `--user` and `--password` once resolved (the password asked for at most once).
    #[arg(skip)]
    pub credentials: dial::CredentialsCell,
}

/// etcdctl 3.6's top-level commands in cobra's order, which is the order of the "Did you
/// mean this?" suggestions. Prefix matching is against all of them, so an abbreviation
/// is ambiguous exactly when it is for etcdctl. (3.6 dropped `migrate` and added
/// `downgrade`; `completion` is cobra's.)
const ETCDCTL_COMMANDS: &[&str] = &[
    "get",
    "put",
    "del",
    "txn",
    "compaction",
    "alarm",
    "defrag",
    "endpoint",
    "move-leader",
    "watch",
    "version",
    "lease",
    "member",
    "snapshot",
    "make-mirror",
    "lock",
    "elect",
    "auth",
    "user",
    "role",
    "check",
    "completion",
    "downgrade",
];

/// Global flags that take a separate value (`--endpoints x`).
const VALUE_FLAGS: &[&str] = &[
    "--endpoints",
    "--dial-timeout",
    "--command-timeout",
    "--keepalive-time",
    "--keepalive-timeout",
    "-w",
    "--write-out",
    "--cacert",
    "--cert",
    "--key",
    "--user",
    "--password",
    "--max-recv-bytes",
    "--max-request-bytes",
];

/// Parses `args` (program name first) into a [`Cli`]. `Ok(None)` means help was printed.
pub fn parse(mut args: Vec<OsString>) -> Result<Option<Cli>> {
    let os_args = args.clone();
    if let Some(i) = command_index(&args) {
        let typed = args[i].to_string_lossy().into_owned();
        let name = resolve(&typed).inspect_err(|e| {
            eprintln!("Error: {}\nRun 'stratactl --help' for usage.", e.message);
        })?;
        if !matches!(
            name,
            "get"
                | "put"
                | "del"
                | "txn"
                | "compaction"
                | "alarm"
                | "defrag"
                | "endpoint"
                | "move-leader"
                | "watch"
                | "lease"
                | "member"
                | "lock"
                | "elect"
                | "auth"
                | "user"
                | "role"
                | "snapshot"
                | "check"
                | "downgrade"
                | "version"
                | "help"
        ) {
            return Err(CtlError::error(format!("stratactl does not implement \"{name}\" yet")));
        }
        args[i] = name.into();
    }
    use clap::{CommandFactory, FromArgMatches};
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Ok(None);
        }
        Err(e) => return Err(clap_error(&e)),
    };
    check_env_conflicts(&matches)?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(|e| clap_error(&e))?;
    if let Some(Command::Watch(w)) = &mut cli.command {
        w.os_args = os_args;
    }
    if cli.command.is_none() {
        let _ = Cli::command().print_help();
        return Ok(None);
    }
    Ok(Some(cli))
}

/// etcdctl refuses a global flag given both on the command line and in its `ETCDCTL_*`
/// variable (pkg/flags logs this as a critical error and exits 1).
fn check_env_conflicts(matches: &clap::ArgMatches) -> Result<()> {
    use clap::CommandFactory;
    use clap::parser::ValueSource;
    let sub = matches.subcommand().map(|(_, m)| m);
    for arg in Cli::command().get_arguments() {
        let Some(env) = arg.get_env() else { continue };
        let id = arg.get_id().as_str();
        let on_command_line =
            [Some(matches), sub].into_iter().flatten().any(|m| m.value_source(id) == Some(ValueSource::CommandLine));
        if on_command_line && std::env::var_os(env).is_some() {
            return Err(CtlError::error(format!(
                "conflicting environment variable \"{}\" is shadowed by corresponding command-line flag \
                 (either unset environment variable or disable flag)",
                env.to_string_lossy()
            )));
        }
    }
    Ok(())
}

/// The index of the command word: the first argument that is neither a flag nor a
/// global flag's value.
fn command_index(args: &[OsString]) -> Option<usize> {
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if a == "--" {
            return (i + 1 < args.len()).then_some(i + 1);
        }
        if !a.starts_with('-') || a == "-" {
            return Some(i);
        }
        i += if VALUE_FLAGS.contains(&a.as_ref()) { 2 } else { 1 };
    }
    None
}

/// cobra's `findNext` with `EnablePrefixMatching`: an exact name, else the single
/// command the word is a prefix of.
pub fn resolve(typed: &str) -> Result<&'static str> {
    let all = ETCDCTL_COMMANDS.iter().copied().chain(["help"]);
    if let Some(exact) = all.clone().find(|c| *c == typed) {
        return Ok(exact);
    }
    let matches: Vec<&'static str> = all.filter(|c| c.starts_with(typed)).collect();
    match matches.as_slice() {
        [one] if !typed.is_empty() => Ok(one),
        _ => Err(unknown_command(typed)),
    }
}

/// The error cobra gives for a word that names no command (printed twice, as etcdctl
/// does: once by cobra with "Run '… --help' for usage.", once by `ExitWithError`).
fn unknown_command(typed: &str) -> CtlError {
    let mut msg = format!("unknown command {} for \"stratactl\"", gosyntax::quote(typed.as_bytes()));
    let suggestions: Vec<&str> = ETCDCTL_COMMANDS
        .iter()
        .copied()
        .filter(|c| levenshtein(&typed.to_lowercase(), c) <= 2 || c.starts_with(&typed.to_lowercase()))
        .collect();
    if !suggestions.is_empty() {
        msg.push_str("\n\nDid you mean this?\n");
        for s in suggestions {
            msg.push_str(&format!("\t{s}\n"));
        }
    }
    CtlError::error(msg)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// pflag's wording for flag errors (cobra exits 1 on them).
pub fn clap_error(e: &clap::Error) -> CtlError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let ctx = |k| match e.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let flag = |s: String| s.split([' ', '=', '[']).next().unwrap_or_default().to_owned();
    let msg = match e.kind() {
        ErrorKind::UnknownArgument => {
            let arg = ctx(ContextKind::InvalidArg);
            match arg.strip_prefix('-') {
                Some(short) if !short.starts_with('-') => {
                    format!("unknown shorthand flag: '{}' in {arg}", &short[..1.min(short.len())])
                }
                _ => format!("unknown flag: {}", flag(arg)),
            }
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let source = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default();
            format!(
                "invalid argument {} for \"{}\" flag: {source}",
                gosyntax::quote(ctx(ContextKind::InvalidValue).as_bytes()),
                flag(ctx(ContextKind::InvalidArg)),
            )
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_owned()
        }
    };
    CtlError::error(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn prefixes_resolve_like_cobra() {
        assert_eq!(resolve("compact").ok(), Some("compaction"));
        assert_eq!(resolve("g").ok(), Some("get"));
        assert_eq!(resolve("del").ok(), Some("del"));
        assert_eq!(resolve("help").ok(), Some("help"));
        assert!(resolve("de").is_err());
        assert!(resolve("c").is_err());
        assert!(resolve("co").is_err(), "compaction or completion");
        assert_eq!(resolve("do").ok(), Some("downgrade"));
        assert!(resolve("migrate").is_err(), "etcdctl 3.6 has no migrate");
    }

    #[test]
    fn unknown_command_suggests_like_cobra() {
        let e = resolve("de").expect_err("ambiguous");
        assert_eq!(
            e.message,
            "unknown command \"de\" for \"stratactl\"\n\nDid you mean this?\n\tget\n\tdel\n\tdefrag\n"
        );
        assert_eq!(resolve("foo").expect_err("unknown").message, "unknown command \"foo\" for \"stratactl\"");
    }

    #[test]
    fn the_command_word_skips_global_flags_and_their_values() {
        assert_eq!(command_index(&os(&["x", "--endpoints", "a:1", "-w", "json", "g", "k"])), Some(5));
        assert_eq!(command_index(&os(&["x", "--hex", "--write-out=json", "put"])), Some(3));
        assert_eq!(command_index(&os(&["x", "--hex"])), None);
    }

    #[test]
    fn global_flags_parse_anywhere_with_go_values() {
        let cli =
            parse(os(&["x", "get", "k", "-w", "json", "--hex", "--dial-timeout", "500ms", "--endpoints", "a:1,b:2"]))
                .expect("parses")
                .expect("not help");
        assert_eq!(cli.global.write_out, "json");
        assert!(cli.global.hex);
        assert_eq!(cli.global.dial_timeout, Duration::from_millis(500));
        assert_eq!(cli.global.endpoints, ["a:1", "b:2"]);
        assert_eq!(cli.global.command_timeout, Duration::from_secs(5));
    }

    #[test]
    fn tls_flags_parse_with_go_booleans_and_take_a_separate_value() {
        let cli = parse(os(&[
            "x",
            "--cacert",
            "ca.pem",
            "--cert=c.pem",
            "--key",
            "k.pem",
            "--insecure-skip-tls-verify",
            "--insecure-transport=false",
            "get",
            "k",
        ]))
        .expect("parses")
        .expect("not help");
        let g = &cli.global;
        assert_eq!(
            (g.cacert.as_deref(), g.cert.as_deref(), g.key.as_deref()),
            (Some("ca.pem"), Some("c.pem"), Some("k.pem"))
        );
        assert!(g.insecure_skip_tls_verify);
        assert!(!g.insecure_transport);
        assert!(matches!(cli.command, Some(Command::Get(_))));
        assert_eq!(command_index(&os(&["x", "--cacert", "get", "put"])), Some(3));

        let cli = parse(os(&["x", "get", "k", "--cacert", ""])).expect("parses").expect("not help");
        assert_eq!(cli.global.cacert.as_deref(), Some(""), "an empty value is kept, to be refused when dialing");
        let e = parse(os(&["x", "get", "k", "--insecure-skip-tls-verify=yes"])).expect_err("bad bool");
        assert_eq!(
            e.message,
            r#"invalid argument "yes" for "--insecure-skip-tls-verify" flag: strconv.ParseBool: parsing "yes": invalid syntax"#
        );
    }

    #[test]
    fn flag_errors_read_like_pflag() {
        let e = parse(os(&["x", "get", "k", "--bogus"])).expect_err("unknown flag");
        assert_eq!(e.message, "unknown flag: --bogus");
        let e = parse(os(&["x", "get", "k", "--rev", "x"])).expect_err("bad int");
        assert_eq!(
            e.message,
            r#"invalid argument "x" for "--rev" flag: strconv.ParseInt: parsing "x": invalid syntax"#
        );
        let e = parse(os(&["x", "lease", "timetolive", "1", "--keys=maybe"])).expect_err("bad bool");
        assert_eq!(
            e.message,
            r#"invalid argument "maybe" for "--keys" flag: strconv.ParseBool: parsing "maybe": invalid syntax"#
        );
        let e = parse(os(&["x", "get", "k", "--dial-timeout", "5"])).expect_err("no unit");
        assert_eq!(e.message, r#"invalid argument "5" for "--dial-timeout" flag: time: missing unit in duration "5""#);
        let e = parse(os(&["x", "get", "k", "--command-timeout=1m3x"])).expect_err("bad unit");
        assert_eq!(
            e.message,
            r#"invalid argument "1m3x" for "--command-timeout" flag: time: unknown unit "x" in duration "1m3x""#
        );
    }
}
