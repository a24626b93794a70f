//! `del [options] <key> [range_end]` (`del_command.go`). As etcdctl 3.6, a range given
//! as two arguments is deleted only after a 2-second warning on stderr (time to
//! interrupt) unless `--range` says it is meant.

use super::get::set_prefix_or_from_key;
use super::{Io, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::gosyntax;
use crate::printer::{Format, Printer};
use api::etcdserverpb::DeleteRangeRequest;
use clap::{ArgAction, Args};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// `del`'s flags and arguments.
#[derive(Args, Debug, Clone, Default)]
pub struct DelArgs {
    /// delete keys with matching prefix
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub prefix: bool,
    /// return deleted key-value pairs
    #[arg(long = "prev-kv", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub prev_kv: bool,
    /// delete keys that are greater than or equal to the given key using byte compare
    #[arg(long = "from-key", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub from_key: bool,
    /// delete range of keys
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub range: bool,
    /// <key> [range_end] (bytes, not necessarily UTF-8)
    pub args: Vec<OsString>,
}

/// Builds the request (`getDelOp`).
pub fn request(a: &DelArgs) -> Result<DeleteRangeRequest> {
    if a.args.is_empty() || a.args.len() > 2 {
        return Err(CtlError::bad_args("del command needs one argument as key and an optional argument as range_end"));
    }
    if a.prefix && a.from_key {
        return Err(CtlError::bad_args("`--prefix` and `--from-key` cannot be set at the same time, choose one"));
    }
    let mut req = DeleteRangeRequest { key: a.args[0].as_bytes().to_vec(), prev_kv: a.prev_kv, ..Default::default() };
    if let Some(end) = a.args.get(1) {
        if a.prefix || a.from_key {
            return Err(CtlError::bad_args(
                "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
            ));
        }
        req.range_end = end.as_bytes().to_vec();
        if !a.range {
            warn_before_deleting_range(&a.args[0], end);
        }
    }
    set_prefix_or_from_key(&mut req.key, &mut req.range_end, a.prefix, a.from_key);
    Ok(req)
}

/// etcdctl 3.6's warning, and its 2 seconds to interrupt, before a range given without
/// `--range` is deleted (also inside a txn). The process does nothing else meanwhile, so
/// the thread may block.
fn warn_before_deleting_range(key: &OsString, end: &OsString) {
    eprintln!(
        "Warning: Keys between {} and {} will be deleted. Please interrupt the command within next 2 seconds \
         to cancel. You can provide `--range` flag to avoid the delay.",
        gosyntax::quote(key.as_bytes()),
        gosyntax::quote(end.as_bytes())
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
}

/// Runs `del`.
pub async fn run(global: &GlobalFlags, a: DelArgs, io: &mut Io<'_>) -> Result<()> {
    let req = request(&a)?;
    let printer = Printer::new(Format::parse(&global.write_out)?, global.hex);
    let resp = with_client(global, |c| async move { c.delete_range(req).await }).await?;
    let mut out = Vec::new();
    printer.del(&mut out, &resp)?;
    io.print(&out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> DelArgs {
        DelArgs { args: words.iter().map(OsString::from).collect(), ..Default::default() }
    }

    #[test]
    fn ranges_like_etcdctl() {
        let mut a = args(&["a", "c"]);
        a.range = true;
        let r = request(&a).expect("valid");
        assert_eq!((r.key, r.range_end), (b"a".to_vec(), b"c".to_vec()));
        let mut a = args(&["ab"]);
        a.prefix = true;
        a.prev_kv = true;
        let r = request(&a).expect("valid");
        assert_eq!((r.range_end, r.prev_kv), (b"ac".to_vec(), true));
        assert!(request(&args(&["a", "b", "c"])).is_err());
        assert!(request(&args(&[])).is_err());
    }
}
