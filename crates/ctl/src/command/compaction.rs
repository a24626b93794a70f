//! `compaction [options] <revision>` (`compaction_command.go`); `compact` reaches it
//! through prefix matching.

use super::{Io, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::gosyntax;
use crate::printer::Format;
use api::etcdserverpb::CompactionRequest;
use clap::{ArgAction, Args};
use std::ffi::OsString;

/// `compaction`'s flags and arguments.
#[derive(Args, Debug, Clone)]
pub struct CompactionArgs {
    /// 'true' to wait for compaction to physically remove all old revisions
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub physical: bool,
    /// <revision>
    #[arg(allow_negative_numbers = true)]
    pub args: Vec<OsString>,
}

/// Builds the request. A bad revision is a plain error (exit 1), not a bad argument.
pub fn request(a: &CompactionArgs) -> Result<CompactionRequest> {
    let [rev] = a.args.as_slice() else {
        return Err(CtlError::bad_args("compaction command needs 1 argument"));
    };
    let revision = gosyntax::parse_int(&rev.to_string_lossy(), 10).map_err(CtlError::error)?;
    Ok(CompactionRequest { revision, physical: a.physical })
}

/// Runs `compaction`: prints `compacted revision <rev>` whatever the output format.
pub async fn run(global: &GlobalFlags, a: CompactionArgs, io: &mut Io<'_>) -> Result<()> {
    let req = request(&a)?;
    Format::parse(&global.write_out)?;
    let revision = req.revision;
    with_client(global, |c| async move { c.compact(req).await }).await?;
    io.print(format!("compacted revision {revision}\n").as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_decimal_revision() {
        let a = |words: &[&str]| CompactionArgs { physical: true, args: words.iter().map(OsString::from).collect() };
        assert_eq!(request(&a(&["13"])).expect("valid"), CompactionRequest { revision: 13, physical: true });
        let e = request(&a(&["abc"])).expect_err("not a number");
        assert_eq!(
            (e.code, e.message.as_str()),
            (crate::error::ExitCode::Error, r#"strconv.ParseInt: parsing "abc": invalid syntax"#)
        );
        assert_eq!(request(&a(&[])).expect_err("none").code, crate::error::ExitCode::BadArgs);
    }
}
