//! One compare line of `txn` input, e.g. `mod("a") > "0"` (`parseCompare`).
//!
//! etcdctl splits at the first `(` and reads the rest with Go's
//! `fmt.Sscanf(rest, "%q) %s %q", &key, &op, &val)`; that scanner is reproduced here
//! because its quirks decide which lines are accepted (a space is required around the
//! operator, the key and value are Go quoted strings).

use crate::error::{CtlError, Result};
use crate::gosyntax::{parse_int, quote, unquote_prefix};
use api::etcdserverpb::Compare;
use api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};

/// Parses a compare: `<target>("<key>") <op> "<value>"` with target `ver`/`version`,
/// `c`/`create`, `m`/`mod`, `val`/`value` or `lease`, and op `=`, `!=`, `>` or `<`.
///
/// Revisions and versions are decimal. A lease is hexadecimal as etcdctl prints lease
/// IDs (etcdctl 3.4 panics on `lease(…)`; 3.6 parses it as hex, as here).
pub fn parse_compare(line: &str) -> Result<Compare> {
    let malformed = || CtlError::invalid_input(format!("malformed comparison: {line}"));
    let Some((target, rest)) = line.split_once('(') else {
        return Err(malformed());
    };
    let scan = Scan::run(rest);
    if scan.n != 3 {
        return Err(CtlError::invalid_input(format!(
            "malformed comparison: {line}; got {target}({}) {} {}",
            quote(&scan.key),
            scan.op,
            quote(&scan.val)
        )));
    }
    let invalid = || CtlError::invalid_input(format!("invalid txn compare request: {line}"));
    let number = |radix| {
        let text = String::from_utf8_lossy(&scan.val);
        parse_int(&text, radix).map_err(|_| invalid())
    };
    let (target, union) = match target {
        "ver" | "version" => (CompareTarget::Version, TargetUnion::Version(number(10)?)),
        "c" | "create" => (CompareTarget::Create, TargetUnion::CreateRevision(number(10)?)),
        "m" | "mod" => (CompareTarget::Mod, TargetUnion::ModRevision(number(10)?)),
        "val" | "value" => (CompareTarget::Value, TargetUnion::Value(scan.val.clone())),
        "lease" => (CompareTarget::Lease, TargetUnion::Lease(number(16)?)),
        other => {
            return Err(CtlError::invalid_input(format!("malformed comparison: {line} (unknown target {other})")));
        }
    };
    let result = match scan.op.as_str() {
        "=" => CompareResult::Equal,
        "!=" => CompareResult::NotEqual,
        ">" => CompareResult::Greater,
        "<" => CompareResult::Less,
        // clientv3.Compare panics with "Unknown result op" here.
        op => {
            return Err(CtlError::invalid_input(format!("malformed comparison: {line} (unknown operator {op})")));
        }
    };
    Ok(Compare {
        result: result as i32,
        target: target as i32,
        key: scan.key,
        target_union: Some(union),
        range_end: Vec::new(),
    })
}

/// The state of `fmt.Sscanf(s, "%q) %s %q", …)`: how many operands were read and
/// their values so far.
#[derive(Default)]
struct Scan {
    n: usize,
    key: Vec<u8>,
    op: String,
    val: Vec<u8>,
}

impl Scan {
    fn run(s: &str) -> Scan {
        let mut scan = Scan::default();
        scan.scan(s);
        scan
    }

    fn scan(&mut self, s: &str) -> Option<()> {
        // %q skips leading spaces, then reads a quoted string.
        let (key, s) = unquote_prefix(s.trim_start())?;
        self.key = key;
        self.n = 1;
        // ")" must follow at once; a space in the format needs one in the input.
        let s = required_space(s.strip_prefix(')')?)?;
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        if end == 0 {
            return None;
        }
        self.op = s[..end].to_owned();
        self.n = 2;
        let s = required_space(&s[end..])?;
        let (val, _) = unquote_prefix(s)?;
        self.val = val;
        self.n = 3;
        Some(())
    }
}

/// Go's scanner: a space in the format must meet at least one space in the input.
fn required_space(s: &str) -> Option<&str> {
    let rest = s.trim_start();
    (rest.len() < s.len()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(result: CompareResult, target: CompareTarget, key: &[u8], u: TargetUnion) -> Compare {
        Compare {
            result: result as i32,
            target: target as i32,
            key: key.to_vec(),
            target_union: Some(u),
            range_end: vec![],
        }
    }

    #[test]
    fn parses_each_target() {
        use CompareResult::*;
        use CompareTarget as T;
        let cases = [
            (r#"value("foo2") = "x""#, cmp(Equal, T::Value, b"foo2", TargetUnion::Value(b"x".to_vec()))),
            (r#"val("k") != "a b""#, cmp(NotEqual, T::Value, b"k", TargetUnion::Value(b"a b".to_vec()))),
            (r#"ver("k") = "0""#, cmp(Equal, T::Version, b"k", TargetUnion::Version(0))),
            (r#"version("k") < "3""#, cmp(Less, T::Version, b"k", TargetUnion::Version(3))),
            (r#"mod("a") > "0""#, cmp(Greater, T::Mod, b"a", TargetUnion::ModRevision(0))),
            (r#"m("a") > "7""#, cmp(Greater, T::Mod, b"a", TargetUnion::ModRevision(7))),
            (r#"create("k") = "5""#, cmp(Equal, T::Create, b"k", TargetUnion::CreateRevision(5))),
            (r#"c("k") = "5""#, cmp(Equal, T::Create, b"k", TargetUnion::CreateRevision(5))),
            (r#"lease("k") = "1f""#, cmp(Equal, T::Lease, b"k", TargetUnion::Lease(31))),
            (r#"value("q\"\x00") = `raw`"#, cmp(Equal, T::Value, b"q\"\0", TargetUnion::Value(b"raw".to_vec()))),
        ];
        for (line, want) in cases {
            assert_eq!(parse_compare(line).as_ref(), Ok(&want), "{line}");
        }
    }

    #[test]
    fn malformed_lines_report_what_was_scanned() {
        let msg = |line| parse_compare(line).expect_err(line).message;
        assert_eq!(msg("bogus"), "malformed comparison: bogus");
        assert_eq!(msg(r#"mod("a")>"0""#), r#"malformed comparison: mod("a")>"0"; got mod("a")  """#);
        assert_eq!(msg(r#"mod("a") > "x""#), r#"invalid txn compare request: mod("a") > "x""#);
        assert_eq!(msg(r#"foo("a") = "x""#), r#"malformed comparison: foo("a") = "x" (unknown target foo)"#);
        assert_eq!(parse_compare(r#"mod("a") == "1""#).expect_err("op").code, crate::error::ExitCode::InvalidInput);
    }
}
