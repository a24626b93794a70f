//! `watch -i`: watchers started by `watch …` lines on stdin, all on one stream, each
//! printing as it goes; `progress` asks for a progress notification. The command ends
//! only with an error: end of input (exit 3), or a bad `watch` line (exit 128).

use super::{Delivery, Handle, Line, WatchEnv, WatchStream, parse_line, show};
use crate::cli::GlobalFlags;
use crate::command::Io;
use crate::error::{CtlError, Result};
use crate::printer::Printer;
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::BufRead;
use tokio::sync::mpsc;

/// Lines of input without their `\n`, or why there are no more (Go's error text, `EOF`
/// for the end, including a last line without `\n`).
pub type Lines = mpsc::UnboundedReceiver<Result<Vec<u8>, String>>;

/// The process's stdin, line by line, read on a thread of its own so that watchers
/// keep printing while it waits. The thread is left blocked in its read when the
/// command ends; the process exits right after.
pub fn stdin_lines() -> Lines {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            let item = match stdin.read_until(b'\n', &mut line) {
                Ok(_) if line.last() == Some(&b'\n') => {
                    line.pop();
                    Ok(line)
                }
                Ok(_) => Err("EOF".to_owned()),
                Err(e) => Err(e.to_string()),
            };
            let last = item.is_err();
            if tx.send(item).is_err() || last {
                return;
            }
        }
    });
    rx
}

/// Runs interactive mode on `lines`.
pub async fn run(
    global: &GlobalFlags,
    printer: Printer,
    env: &WatchEnv,
    mut lines: Lines,
    io: &mut Io<'_>,
) -> Result<()> {
    let mut stream = WatchStream::new(global);
    let mut execs: HashMap<Handle, Vec<OsString>> = HashMap::new();
    loop {
        tokio::select! {
            line = lines.recv() => {
                let line = line.unwrap_or_else(|| Err("EOF".to_owned()))
                    .map_err(|e| CtlError::invalid_input(format!("error reading watch request line: {e}")))?;
                match parse_line(&line, env)? {
                    Line::Watch { req, exec } => {
                        execs.insert(stream.watch(req), exec);
                    }
                    Line::Progress => stream.request_progress(),
                    Line::Invalid(msg) => eprintln!("{msg}"),
                }
            }
            delivery = stream.next() => match delivery? {
                Delivery::Update(h, update) => {
                    let exec = execs.get(&h).cloned().unwrap_or_default();
                    show(&update, printer, &exec, io).await?;
                }
                Delivery::Closed(h) => {
                    execs.remove(&h);
                }
            },
        }
    }
}
