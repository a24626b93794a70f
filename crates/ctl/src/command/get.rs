//! `get [options] <key> [range_end]` (`get_command.go`, with 3.5's `--count-only` and
//! 3.6's revision filters).

use super::{Io, prefix_end, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::gosyntax::{self, quote};
use crate::printer::{Format, Printer};
use api::etcdserverpb::RangeRequest;
use api::etcdserverpb::range_request::{SortOrder, SortTarget};
use clap::{ArgAction, Args};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// `get`'s flags and arguments.
#[derive(Args, Debug, Clone, Default)]
pub struct GetArgs {
    /// Linearizable(l) or Serializable(s)
    #[arg(long, default_value = "l")]
    pub consistency: String,
    /// Order of results; ASCEND or DESCEND (ASCEND by default)
    #[arg(long, default_value = "")]
    pub order: String,
    /// Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION
    #[arg(long = "sort-by", default_value = "")]
    pub sort_by: String,
    /// Maximum number of results
    #[arg(long, default_value = "0", value_parser = go_int64, allow_negative_numbers = true)]
    pub limit: i64,
    /// Get keys with matching prefix
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub prefix: bool,
    /// Get keys that are greater than or equal to the given key using byte compare
    #[arg(long = "from-key", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub from_key: bool,
    /// Specify the kv revision
    #[arg(long, default_value = "0", value_parser = go_int64, allow_negative_numbers = true)]
    pub rev: i64,
    /// Get only the keys
    #[arg(long = "keys-only", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub keys_only: bool,
    /// Get only the count
    #[arg(long = "count-only", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub count_only: bool,
    /// Only write values when using the "simple" output format
    #[arg(long = "print-value-only", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub print_value_only: bool,
    /// Minimum create revision
    #[arg(long = "min-create-rev", default_value = "0", value_parser = go_int64, allow_negative_numbers = true)]
    pub min_create_rev: i64,
    /// Maximum create revision
    #[arg(long = "max-create-rev", default_value = "0", value_parser = go_int64, allow_negative_numbers = true)]
    pub max_create_rev: i64,
    /// Minimum modification revision
    #[arg(long = "min-mod-rev", default_value = "0", value_parser = go_int64, allow_negative_numbers = true)]
    pub min_mod_rev: i64,
    /// Maximum modification revision
    #[arg(long = "max-mod-rev", default_value = "0", value_parser = go_int64, allow_negative_numbers = true)]
    pub max_mod_rev: i64,
    /// <key> [range_end] (bytes, not necessarily UTF-8)
    pub args: Vec<OsString>,
}

/// pflag's int64 parsing, with strconv's error text.
pub fn go_int64(s: &str) -> Result<i64, String> {
    gosyntax::parse_int(s, 10)
}

/// `--consistency`: `s` is serializable, `l` linearizable, anything else refused (exit
/// 4; etcdctl's `IsSerializable`, shared by `get` and `member list`). etcdctl's message
/// names `get`'s flag whichever command asked, so `member list` shows `get`'s default:
/// `shown` is the value the message quotes.
pub fn serializable(consistency: &str, shown: &str) -> Result<bool> {
    match consistency {
        "s" => Ok(true),
        "l" => Ok(false),
        _ => Err(CtlError::bad_feature(format!("unknown consistency flag {}", quote(shown.as_bytes())))),
    }
}

/// Builds the request, with etcdctl's checks in etcdctl's order (`getGetOp`).
pub fn request(a: &GetArgs) -> Result<RangeRequest> {
    let Some(key) = a.args.first() else {
        return Err(CtlError::bad_args("get command needs one argument as key and an optional argument as range_end"));
    };
    if a.prefix && a.from_key {
        return Err(CtlError::bad_args("`--prefix` and `--from-key` cannot be set at the same time, choose one"));
    }
    if a.keys_only && a.count_only {
        return Err(CtlError::bad_args("`--keys-only` and `--count-only` cannot be set at the same time, choose one"));
    }
    let serializable = serializable(&a.consistency, &a.consistency)?;
    let mut req = RangeRequest {
        key: key.as_bytes().to_vec(),
        limit: a.limit,
        revision: a.rev.max(0),
        serializable,
        keys_only: a.keys_only,
        count_only: a.count_only,
        ..Default::default()
    };
    if let Some(end) = a.args.get(1) {
        if a.prefix || a.from_key {
            return Err(CtlError::bad_args(
                "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
            ));
        }
        req.range_end = end.as_bytes().to_vec();
    }
    let (target, order) = sort(&a.sort_by, &a.order)?;
    req.sort_target = target as i32;
    req.sort_order = order as i32;
    set_prefix_or_from_key(&mut req.key, &mut req.range_end, a.prefix, a.from_key);
    (req.min_create_revision, req.max_create_revision) =
        revision_filter("CreateRev", a.min_create_rev, a.max_create_rev)?;
    (req.min_mod_revision, req.max_mod_revision) = revision_filter("ModRev", a.min_mod_rev, a.max_mod_rev)?;
    Ok(req)
}

/// `--min-*-rev` and `--max-*-rev` as etcdctl 3.6 sends them: only positive bounds, and
/// a maximum below the minimum refused (exit 4, in etcdctl's words).
fn revision_filter(what: &str, min: i64, max: i64) -> Result<(i64, i64)> {
    if max > 0 && min > max {
        return Err(CtlError::bad_feature(format!("getMin{what}(={min}) > getMax{what}(={max})")));
    }
    Ok((min.max(0), max.max(0)))
}

/// `--sort-by` and `--order`; KEY with ASCEND is sent as NONE, the server's natural order.
fn sort(sort_by: &str, order: &str) -> Result<(SortTarget, SortOrder)> {
    let order = match order.to_uppercase().as_str() {
        "ASCEND" => SortOrder::Ascend,
        "DESCEND" => SortOrder::Descend,
        "" => SortOrder::None,
        _ => return Err(CtlError::bad_feature(format!("bad sort order {order}"))),
    };
    let target = match sort_by.to_uppercase().as_str() {
        "CREATE" => SortTarget::Create,
        "KEY" | "" => SortTarget::Key,
        "MODIFY" => SortTarget::Mod,
        "VALUE" => SortTarget::Value,
        "VERSION" => SortTarget::Version,
        _ => return Err(CtlError::bad_feature(format!("bad sort target {sort_by}"))),
    };
    let order = if target == SortTarget::Key && order == SortOrder::Ascend { SortOrder::None } else { order };
    Ok((target, order))
}

/// `--prefix` / `--from-key`; an empty key with either means the whole keyspace.
pub fn set_prefix_or_from_key(key: &mut Vec<u8>, end: &mut Vec<u8>, prefix: bool, from_key: bool) {
    if prefix {
        if key.is_empty() {
            *key = vec![0];
            *end = vec![0];
        } else {
            *end = prefix_end(key);
        }
    }
    if from_key {
        if key.is_empty() {
            *key = vec![0];
        }
        *end = vec![0];
    }
}

/// Runs `get`.
pub async fn run(global: &GlobalFlags, a: GetArgs, io: &mut Io<'_>) -> Result<()> {
    let req = request(&a)?;
    let mut printer = Printer::new(Format::parse(&global.write_out)?, global.hex);
    let resp = with_client(global, |c| async move { c.range(req).await }).await?;
    if a.count_only && printer.format != Format::Fields {
        return Err(CtlError::bad_args("--count-only is only for `--write-out=fields`"));
    }
    if a.print_value_only {
        if printer.format != Format::Simple {
            return Err(CtlError::bad_args("print-value-only is only for `--write-out=simple`"));
        }
        printer.value_only = true;
    }
    let mut out = Vec::new();
    printer.get(&mut out, &resp)?;
    io.print(&out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> GetArgs {
        GetArgs { consistency: "l".into(), args: words.iter().map(OsString::from).collect(), ..Default::default() }
    }

    #[test]
    fn prefix_and_from_key_set_the_range_end() {
        let mut a = args(&["foo"]);
        a.prefix = true;
        let r = request(&a).expect("valid");
        assert_eq!((r.key, r.range_end), (b"foo".to_vec(), b"fop".to_vec()));

        let mut a = args(&[""]);
        a.prefix = true;
        let r = request(&a).expect("valid");
        assert_eq!((r.key, r.range_end), (vec![0], vec![0]));

        let mut a = args(&["k"]);
        a.from_key = true;
        let r = request(&a).expect("valid");
        assert_eq!((r.key, r.range_end), (b"k".to_vec(), vec![0]));
    }

    #[test]
    fn sort_key_ascend_is_sent_as_none() {
        let mut a = args(&["a"]);
        a.order = "ascend".into();
        let r = request(&a).expect("valid");
        assert_eq!((r.sort_target, r.sort_order), (0, 0));
        a.sort_by = "modify".into();
        let r = request(&a).expect("valid");
        assert_eq!((r.sort_target, r.sort_order), (SortTarget::Mod as i32, 1));
    }

    #[test]
    fn bad_input_fails_with_etcdctl_codes() {
        let e = request(&args(&[])).expect_err("no key");
        assert_eq!(e.code, crate::error::ExitCode::BadArgs);
        let mut a = args(&["a", "b"]);
        a.prefix = true;
        assert_eq!(request(&a).expect_err("two args").code, crate::error::ExitCode::BadArgs);
        let mut a = args(&["a"]);
        a.order = "foo".into();
        let e = request(&a).expect_err("bad order");
        assert_eq!((e.code, e.message.as_str()), (crate::error::ExitCode::BadFeature, "bad sort order foo"));
        let mut a = args(&["a"]);
        a.consistency = "x".into();
        assert_eq!(request(&a).expect_err("bad").message, "unknown consistency flag \"x\"");
        let mut a = args(&["a"]);
        (a.min_mod_rev, a.max_mod_rev) = (5, 4);
        let e = request(&a).expect_err("min above max");
        assert_eq!(
            (e.code, e.message.as_str()),
            (crate::error::ExitCode::BadFeature, "getMinModRev(=5) > getMaxModRev(=4)")
        );
        (a.min_mod_rev, a.max_mod_rev, a.min_create_rev) = (5, 0, -3);
        let r = request(&a).expect("a minimum alone");
        assert_eq!((r.min_mod_revision, r.max_mod_revision, r.min_create_revision), (5, 0, 0));
    }
}
