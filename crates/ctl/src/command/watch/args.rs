//! What to watch: `watch`'s flags, its arguments split into the key range and the exec
//! command (`parseWatchArgs`), the `ETCDCTL_WATCH_*` variables, and the lines of
//! interactive mode.

use crate::cli::clap_error;
use crate::command::get::go_int64;
use crate::command::prefix_end;
use crate::command::txn::argify;
use crate::error::{CtlError, Result};
use crate::gosyntax::{self, quote};
use api::etcdserverpb::WatchCreateRequest;
use clap::{ArgAction, Args, Parser};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// `watch`'s flags, on the command line and on each interactive `watch` line.
#[derive(Args, Debug, Clone, Default)]
pub struct WatchFlags {
    /// Interactive mode
    #[arg(short = 'i', long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub interactive: bool,
    /// Watch on a prefix if prefix is set
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub prefix: bool,
    /// Revision to start watching
    #[arg(long, default_value = "0", value_parser = go_int64, allow_negative_numbers = true)]
    pub rev: i64,
    /// get the previous key-value pair before the event happens
    #[arg(long = "prev-kv", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub prev_kv: bool,
    /// get periodic watch progress notification from server (etcdctl 3.5)
    #[arg(long = "progress-notify", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub progress_notify: bool,
}

/// `ETCDCTL_WATCH_KEY` and `ETCDCTL_WATCH_RANGE_END`, which stand in for the key
/// arguments (empty means unset, as Go's `os.Getenv` cannot tell them apart).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchEnv {
    /// `ETCDCTL_WATCH_KEY`.
    pub key: Vec<u8>,
    /// `ETCDCTL_WATCH_RANGE_END`.
    pub range_end: Vec<u8>,
}

impl WatchEnv {
    /// Reads the variables; a range end without a key is an error (exit 128).
    pub fn from_process() -> Result<WatchEnv> {
        let var = |name| std::env::var_os(name).map(OsString::into_vec).unwrap_or_default();
        WatchEnv { key: var("ETCDCTL_WATCH_KEY"), range_end: var("ETCDCTL_WATCH_RANGE_END") }.checked()
    }

    fn checked(self) -> Result<WatchEnv> {
        if self.key.is_empty() && !self.range_end.is_empty() {
            return Err(CtlError::bad_args(format!(
                "ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END={}",
                quote(&self.range_end)
            )));
        }
        Ok(self)
    }

    /// The key arguments the variables stand for.
    fn ranges(&self) -> Vec<Vec<u8>> {
        [&self.key, &self.range_end].into_iter().filter(|v| !v.is_empty()).cloned().collect()
    }
}

const BAD_ARGS_NUM: &str = "bad number of arguments";
const CONFLICT_ENV: &str = "bad number of arguments (found conflicting environment key)";
const NO_COMMAND: &str = "bad number of arguments (found separator --, but no commands)";

/// A watch to start: its key range and the command to run on each event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchSpec {
    /// The key arguments (environment key first): key, then range end; more are ignored.
    pub keys: Vec<Vec<u8>>,
    /// The exec command after `--`, empty for none.
    pub exec: Vec<OsString>,
}

/// Splits the command line's arguments (`parseWatchArgs`, non-interactive).
///
/// `os_args` is the whole command line and `args` the positional arguments left after
/// flag parsing (which drops the `--`). Like etcdctl, the exec command is what follows
/// the first `--` after the first literal `watch` word, and the conflict checks look at
/// that raw tail rather than at the parsed arguments, quirks included: `watch --rev 1`
/// with no key passes here and fails later with "bad number of arguments".
pub fn split_args(os_args: &[OsString], args: &[OsString], env: &WatchEnv) -> Result<WatchSpec> {
    let bytes = |v: &[OsString]| v.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>();
    let mut raw = bytes(os_args);
    if let Some(i) = raw.iter().position(|a| a == b"watch") {
        raw.drain(..=i);
    }
    let args = bytes(args);
    let sep = raw.iter().position(|a| a == b"--");
    if sep.is_some_and(|i| i + 1 == raw.len()) {
        return Err(CtlError::bad_args(NO_COMMAND));
    }
    if sep.is_none() && raw.is_empty() && env.key.is_empty() {
        return Err(CtlError::bad_args(BAD_ARGS_NUM));
    }
    if let Some(sep) = sep.filter(|_| !env.key.is_empty()) {
        // A key argument given as well as the variable: walking back from the end, the
        // parsed arguments run out of matches with the raw ones at the separator.
        let mut r = raw.len() as isize - 1;
        for a in args.iter().rev() {
            if r >= 0 && *a == raw[r as usize] {
                r -= 1;
            } else if r == sep as isize {
                return Err(CtlError::bad_args(CONFLICT_ENV));
            }
        }
    }
    if sep.is_none() && !args.is_empty() && !env.key.is_empty() {
        return Err(CtlError::bad_args(CONFLICT_ENV));
    }
    let exec = sep.map(|i| raw[i + 1..].to_vec()).unwrap_or_default();
    Ok(with_exec(env, args, exec))
}

/// Prepends the environment's key range and cuts the exec command off the end of the
/// parsed arguments (from the last occurrence of its first word).
fn with_exec(env: &WatchEnv, args: Vec<Vec<u8>>, exec: Vec<Vec<u8>>) -> WatchSpec {
    let mut keys = env.ranges();
    keys.extend(args);
    if let Some(first) = exec.first() {
        let end = keys.iter().rposition(|a| a == first).unwrap_or(0);
        keys.truncate(end);
    }
    WatchSpec { keys, exec: exec.into_iter().map(OsString::from_vec).collect() }
}

/// Builds the create request (`getWatchChan`): the first argument is the key, a second
/// the range end (and more are ignored, as etcdctl ignores them). The error is the
/// message alone; its exit code depends on the mode.
pub fn create_request(flags: &WatchFlags, keys: &[Vec<u8>]) -> Result<WatchCreateRequest, String> {
    let Some(key) = keys.first() else { return Err(BAD_ARGS_NUM.to_owned()) };
    let mut req = WatchCreateRequest {
        key: key.clone(),
        start_revision: flags.rev,
        prev_kv: flags.prev_kv,
        progress_notify: flags.progress_notify,
        ..Default::default()
    };
    if keys.len() == 2 {
        if flags.prefix {
            return Err("`range_end` and `--prefix` are mutually exclusive".to_owned());
        }
        req.range_end = keys[1].clone();
    }
    if flags.prefix {
        if req.key.is_empty() {
            req.key = vec![0];
            req.range_end = vec![0];
        } else {
            req.range_end = prefix_end(&req.key);
        }
    }
    Ok(req)
}

/// One line of interactive mode, understood.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// Start a watcher.
    Watch {
        /// What to watch.
        req: WatchCreateRequest,
        /// The command to run on each of its events.
        exec: Vec<OsString>,
    },
    /// Ask for a progress notification.
    Progress,
    /// Print this on stderr and read the next line.
    Invalid(String),
}

/// The flags of an interactive `watch` line: the watch command's own, no global ones.
#[derive(Parser, Debug)]
#[command(no_binary_name = true, disable_help_flag = true)]
struct WatchLine {
    #[command(flatten)]
    flags: WatchFlags,
    args: Vec<OsString>,
}

/// Parses one line of interactive mode (`watchInteractiveFunc`), without its `\n`.
/// An error ends the command (exit 128), as a bad flag does in etcdctl.
pub fn parse_line(line: &[u8], env: &WatchEnv) -> Result<Line> {
    let text = String::from_utf8_lossy(line);
    let words: Vec<Vec<u8>> = argify(&text)?.into_iter().map(OsString::into_vec).collect();
    let Some(first) = words.first() else {
        return Ok(Line::Invalid(format!("Invalid command: {text} (watch and progress supported)")));
    };
    match first.as_slice() {
        b"watch" if words.len() < 2 && env.key.is_empty() => {
            Ok(Line::Invalid(format!("Invalid command {text} (command type or key is not provided)")))
        }
        b"watch" => {
            let (flags, spec) = split_line(&words[1..], env)?;
            match create_request(&flags, &spec.keys) {
                Ok(req) => Ok(Line::Watch { req, exec: spec.exec }),
                Err(e) => Ok(Line::Invalid(format!("Invalid command {text} ({e})"))),
            }
        }
        b"progress" => Ok(Line::Progress),
        _ => Ok(Line::Invalid(format!("Invalid command {text} (only support watch)"))),
    }
}

/// `parseWatchArgs` for an interactive line, after its `watch` word.
fn split_line(words: &[Vec<u8>], env: &WatchEnv) -> Result<(WatchFlags, WatchSpec)> {
    let sep = words.iter().position(|a| a == b"--");
    if sep.is_some_and(|i| i + 1 == words.len()) {
        return Err(CtlError::bad_args(NO_COMMAND));
    }
    let os: Vec<OsString> = words.iter().cloned().map(OsString::from_vec).collect();
    let parsed = WatchLine::try_parse_from(&os).map_err(|e| {
        let mut e = clap_error(&e);
        e.code = crate::error::ExitCode::BadArgs;
        e
    })?;
    let args: Vec<Vec<u8>> = parsed.args.into_iter().map(OsString::into_vec).collect();
    if sep.is_none() && env.key.is_empty() && args.is_empty() {
        return Err(CtlError::bad_args(BAD_ARGS_NUM));
    }
    if sep.is_none() && !args.is_empty() && !env.key.is_empty() {
        return Err(CtlError::bad_args(CONFLICT_ENV));
    }
    let exec = sep.map(|i| words[i + 1..].to_vec()).unwrap_or_default();
    Ok((parsed.flags, with_exec(env, args, exec)))
}

#[cfg(test)]
mod tests;
