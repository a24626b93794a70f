//! The command `watch … -- cmd args` runs once per event, with the event in its
//! environment.

use crate::error::{CtlError, ExitCode, Result};
use crate::gosyntax::quote;
use crate::printer::simple::event_type;
use api::mvccpb::Event;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;

/// Runs `exec` for `event` and waits for it. Its stdout and stderr are the process's.
/// A failure is reported as etcdctl reports it (`command ["sh" "-c" "exit 3"] error
/// (exit status 3)`) and ends stratactl with exit code 1.
pub async fn run(exec: &[OsString], revision: i64, event: &Event) -> Result<()> {
    let kv = event.kv.clone().unwrap_or_default();
    let status = tokio::process::Command::new(&exec[0])
        .args(&exec[1..])
        .env("ETCD_WATCH_REVISION", revision.to_string())
        .env("ETCD_WATCH_EVENT_TYPE", quote(event_type(event.r#type).as_bytes()))
        .env("ETCD_WATCH_KEY", OsString::from(quote(&kv.key)))
        .env("ETCD_WATCH_VALUE", OsString::from(quote(&kv.value)))
        .kill_on_drop(true)
        .status()
        .await;
    let failure = match status {
        Ok(s) if s.success() => return Ok(()),
        Ok(s) => exit_text(s),
        Err(e) => spawn_error_text(&exec[0], &e),
    };
    let words: Vec<String> = exec.iter().map(|w| quote(w.as_bytes())).collect();
    eprintln!("command [{}] error ({failure})", words.join(" "));
    Err(CtlError::quiet(ExitCode::Error))
}

/// Go's `*exec.ExitError` text.
pub(crate) fn exit_text(s: std::process::ExitStatus) -> String {
    if let Some(code) = s.code() {
        return format!("exit status {code}");
    }
    let signal = s.signal().unwrap_or_default();
    let name = match signal {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        6 => "aborted",
        9 => "killed",
        11 => "segmentation fault",
        13 => "broken pipe",
        15 => "terminated",
        n => return format!("signal {n}"),
    };
    format!("signal: {name}")
}

/// Go's text for a command that could not be started: `exec.LookPath`'s errors, or
/// `fork/exec`'s with the system's (lower-case) error message.
pub(crate) fn spawn_error_text(program: &OsString, e: &std::io::Error) -> String {
    let p = program.to_string_lossy();
    match e.kind() {
        std::io::ErrorKind::NotFound if !p.contains('/') => {
            format!("exec: {}: executable file not found in $PATH", quote(p.as_bytes()))
        }
        std::io::ErrorKind::NotFound => format!("exec: {}: stat {p}: no such file or directory", quote(p.as_bytes())),
        std::io::ErrorKind::PermissionDenied => format!("exec: {}: permission denied", quote(p.as_bytes())),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or_default();
            let mut chars = text.chars();
            let lower: String = chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default();
            format!("fork/exec {p}: {lower}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_like_go() {
        assert_eq!(exit_text(std::process::ExitStatus::from_raw(3 << 8)), "exit status 3");
        assert_eq!(exit_text(std::process::ExitStatus::from_raw(15)), "signal: terminated");
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(
            spawn_error_text(&"nosuchcmd".into(), &missing),
            r#"exec: "nosuchcmd": executable file not found in $PATH"#
        );
    }
}
