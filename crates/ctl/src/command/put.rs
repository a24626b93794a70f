//! `put [options] <key> <value>`, the value read from stdin when absent (`put_command.go`).

use super::{Io, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::gosyntax;
use crate::printer::{Format, Printer};
use api::etcdserverpb::PutRequest;
use clap::{ArgAction, Args};
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;

/// `put`'s flags and arguments.
#[derive(Args, Debug, Clone)]
pub struct PutArgs {
    /// lease ID (in hexadecimal) to attach to the key
    #[arg(long, default_value = "0")]
    pub lease: String,
    /// return the previous key-value pair before modification
    #[arg(long = "prev-kv", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub prev_kv: bool,
    /// updates the key using its current value
    #[arg(long = "ignore-value", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub ignore_value: bool,
    /// updates the key using its current lease
    #[arg(long = "ignore-lease", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub ignore_lease: bool,
    /// <key> <value> (bytes, not necessarily UTF-8)
    pub args: Vec<OsString>,
}

const NEEDS_ARGS: &str = "put command needs 1 argument and input from stdin or 2 arguments";

/// Builds the request (`getPutOp`). Without a value argument the value is all of
/// `stdin`; `None` (inside a txn) counts as an empty stdin.
pub fn request(a: &PutArgs, stdin: Option<&mut dyn Read>) -> Result<PutRequest> {
    let Some(key) = a.args.first() else {
        return Err(CtlError::bad_args(NEEDS_ARGS));
    };
    if a.ignore_value && a.args.len() > 1 {
        return Err(CtlError::bad_args("put command needs only 1 argument when 'ignore-value' is set"));
    }
    let mut value = Vec::new();
    if !a.ignore_value {
        match a.args.get(1) {
            Some(v) => value = v.as_bytes().to_vec(),
            None => {
                let read = stdin.map(|s| s.read_to_end(&mut value));
                if value.is_empty() || !matches!(read, Some(Ok(_))) {
                    return Err(CtlError::bad_args(NEEDS_ARGS));
                }
            }
        }
    }
    let lease = gosyntax::parse_int(&a.lease, 16)
        .map_err(|e| CtlError::bad_args(format!("bad lease ID ({e}), expecting ID in Hex")))?;
    Ok(PutRequest {
        key: key.as_bytes().to_vec(),
        value,
        lease,
        prev_kv: a.prev_kv,
        ignore_value: a.ignore_value,
        ignore_lease: a.ignore_lease,
    })
}

/// Runs `put`.
pub async fn run(global: &GlobalFlags, a: PutArgs, io: &mut Io<'_>) -> Result<()> {
    let req = request(&a, Some(&mut io.stdin))?;
    let printer = Printer::new(Format::parse(&global.write_out)?, global.hex);
    let resp = with_client(global, |c| async move { c.put(req).await }).await?;
    let mut out = Vec::new();
    printer.put(&mut out, &resp)?;
    io.print(&out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> PutArgs {
        PutArgs {
            lease: "0".into(),
            prev_kv: false,
            ignore_value: false,
            ignore_lease: false,
            args: words.iter().map(OsString::from).collect(),
        }
    }

    #[test]
    fn value_from_argument_or_stdin() {
        let r = request(&args(&["k", "v"]), None).expect("valid");
        assert_eq!((r.key, r.value), (b"k".to_vec(), b"v".to_vec()));
        let mut stdin: &[u8] = b"from stdin\n";
        let r = request(&args(&["k"]), Some(&mut stdin)).expect("valid");
        assert_eq!(r.value, b"from stdin\n");
        let mut empty: &[u8] = b"";
        let e = request(&args(&["k"]), Some(&mut empty)).expect_err("no value");
        assert_eq!(e.message, NEEDS_ARGS);
        assert!(request(&args(&["k"]), None).is_err());
    }

    #[test]
    fn lease_is_hex() {
        let mut a = args(&["k", "v"]);
        a.lease = "1f".into();
        assert_eq!(request(&a, None).expect("valid").lease, 31);
        a.lease = "zz".into();
        assert_eq!(
            request(&a, None).expect_err("bad lease").message,
            r#"bad lease ID (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex"#
        );
    }

    #[test]
    fn ignore_value_takes_one_argument() {
        let mut a = args(&["k", "v"]);
        a.ignore_value = true;
        assert!(request(&a, None).is_err());
        a.args.pop();
        assert!(request(&a, None).expect("valid").value.is_empty());
    }
}
