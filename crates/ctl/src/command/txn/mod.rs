//! `txn [-i]`: reads compares, success ops and failure ops from stdin, each section ended
//! by an empty line, and runs them as one transaction (`txn_command.go`).
//!
//! ```text
//! mod("key1") > "0"
//!
//! put key1 "overwrote-key1"
//!
//! put key1 "created-key1"
//! put key2 "some extra key"
//!
//! ```

mod compare;

pub use compare::parse_compare;

use super::{Io, del, get, put, with_client};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use crate::gosyntax::{self, unquote_prefix};
use crate::printer::{Format, Printer};
use api::etcdserverpb::{RequestOp, TxnRequest, request_op::Request};
use clap::{ArgAction, Args, Parser, Subcommand};
use std::ffi::OsString;
use std::io::BufRead;
use std::os::unix::ffi::OsStringExt;

/// `txn`'s flags.
#[derive(Args, Debug, Clone)]
pub struct TxnArgs {
    /// Input transaction in interactive mode
    #[arg(short = 'i', long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub interactive: bool,
    /// txn takes no arguments; any given is an error.
    #[arg(hide = true)]
    pub args: Vec<OsString>,
}

/// Runs `txn`.
///
/// etcdctl sends the txn with no deadline at all; stratactl applies `--command-timeout`
/// to it like every other request, so an unreachable cluster cannot hang it forever.
pub async fn run(global: &GlobalFlags, a: TxnArgs, io: &mut Io<'_>) -> Result<()> {
    if !a.args.is_empty() {
        return Err(CtlError::bad_args("txn command does not accept argument"));
    }
    let printer = Printer::new(Format::parse(&global.write_out)?, global.hex);
    // etcdctl makes its client, asking for the `--user` password, before reading the txn.
    super::dial::credentials(global).await?;
    let req = read_txn(io, a.interactive)?;
    let resp = with_client(global, |c| async move { c.txn(req).await }).await?;
    let mut out = Vec::new();
    printer.txn(&mut out, &resp)?;
    io.print(&out);
    Ok(())
}

/// Reads the three sections, printing etcdctl's prompts first when `interactive`.
pub fn read_txn(io: &mut Io<'_>, interactive: bool) -> Result<TxnRequest> {
    let prompt = |io: &mut Io<'_>, text: &str| {
        if interactive {
            io.print(format!("{text}\n").as_bytes());
        }
    };
    prompt(io, "compares:");
    let compare = read_section(io.stdin, parse_compare)?;
    prompt(io, "success requests (get, put, del):");
    let success = read_section(io.stdin, parse_request_op)?;
    prompt(io, "failure requests (get, put, del):");
    let failure = read_section(io.stdin, parse_request_op)?;
    Ok(TxnRequest { compare, success, failure })
}

/// Parses trimmed lines up to the first empty one, each as soon as it is read (so a bad
/// line fails before the input ends). Like Go's `ReadString('\n')`, input that ends
/// before that empty line (or without a final newline) fails with "EOF".
fn read_section<T>(stdin: &mut dyn BufRead, parse: fn(&str) -> Result<T>) -> Result<Vec<T>> {
    let mut items = Vec::new();
    loop {
        let mut buf = Vec::new();
        match stdin.read_until(b'\n', &mut buf) {
            Ok(_) if buf.last() == Some(&b'\n') => {}
            Ok(_) => return Err(CtlError::invalid_input("EOF")),
            Err(e) => return Err(CtlError::invalid_input(e.to_string())),
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim();
        if line.is_empty() {
            return Ok(items);
        }
        items.push(parse(line)?);
    }
}

/// A request line is a `get`, `put` or `del` command line (prefixes allowed, as cobra's
/// prefix matching allows them), with the same flags as the commands.
#[derive(Parser, Debug)]
#[command(no_binary_name = true, infer_subcommands = true, disable_help_subcommand = true)]
struct OpLine {
    #[command(subcommand)]
    op: OpCommand,
}

#[derive(Subcommand, Debug)]
enum OpCommand {
    Get(get::GetArgs),
    Put(put::PutArgs),
    Del(del::DelArgs),
}

/// Parses one request line (`parseRequestUnion`).
pub fn parse_request_op(line: &str) -> Result<RequestOp> {
    let args = argify(line)?;
    if args.len() < 2 {
        return Err(CtlError::invalid_input(format!("invalid txn compare request: {line}")));
    }
    let parsed =
        OpLine::try_parse_from(&args).map_err(|_| CtlError::invalid_input(format!("invalid txn request: {line}")))?;
    let request = match parsed.op {
        OpCommand::Get(a) => Request::RequestRange(get::request(&a)?),
        OpCommand::Put(a) => Request::RequestPut(put::request(&a, None)?),
        OpCommand::Del(a) => Request::RequestDeleteRange(del::request(&a)?),
    };
    Ok(RequestOp { request: Some(request) })
}

/// Splits a request line into words as etcdctl's `argify` does, with its regular
/// expression `"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?`: a double-quoted Go string
/// (unquoted), a single-quoted string (quotes removed), or a run of non-space characters
/// that does not start with a quote. A quote that opens nothing is skipped.
pub fn argify(s: &str) -> Result<Vec<OsString>> {
    let b = s.as_bytes();
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r');
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                if let Some(end) = closing_double_quote(b, i) {
                    let (word, _) =
                        unquote_prefix(&s[i..=end]).ok_or_else(|| CtlError::invalid_input("invalid syntax"))?;
                    words.push(OsString::from_vec(word));
                    i = end + 1;
                } else {
                    i += 1;
                }
            }
            b'\'' => match s[i + 1..].find('\'') {
                Some(len) => {
                    words.push(s[i + 1..i + 1 + len].into());
                    i += len + 2;
                }
                None => i += 1,
            },
            c if is_space(c) => i += 1,
            _ => {
                let end = (i..b.len()).find(|&j| is_space(b[j])).unwrap_or(b.len());
                words.push(s[i..end].into());
                i = end;
            }
        }
    }
    Ok(words)
}

fn closing_double_quote(b: &[u8], open: usize) -> Option<usize> {
    let mut j = open + 1;
    while j < b.len() {
        match b[j] {
            b'\\' if j + 1 < b.len() && b[j + 1] != b'\n' => j += 2,
            b'\\' => return None,
            b'"' => return Some(j),
            _ => j += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests;
