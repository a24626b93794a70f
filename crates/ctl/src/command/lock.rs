//! `lock <lockname> [exec-command arg1 arg2 ...] [--ttl N]` (`lock_command.go`):
//! acquires a named lock with clientv3's mutex recipe ([`client::concurrency::Mutex`]).
//!
//! ```text
//! $ stratactl lock mylock
//! mylock/694d7a9e8c8f2c1a
//!
//! ^C
//! $ stratactl lock mylock -- sh -c 'echo $ETCD_LOCK_KEY $ETCD_LOCK_REV'
//! mylock/694d7a9e8c8f2c1f 5
//! ```
//!
//! Without a command it prints the lock's key (as `get` prints it) and holds the lock
//! until SIGINT or SIGTERM, then deletes the key and exits 0. With a command it runs it
//! holding the lock, with `ETCD_LOCK_KEY` and `ETCD_LOCK_REV` in its environment, then
//! deletes the key; the command's failure is the error, and its exit status stratactl's
//! (`Error: exit status 3`, exit 3, as etcdctl 3.6; etcdctl 3.4 exited 1). A signal
//! while waiting for the lock leaves the queue and fails with "context canceled". As
//! with etcdctl, the session's lease is not revoked on the way out: it expires after
//! `--ttl` seconds.

use super::{Io, Signals, connect_blocking};
use crate::cli::GlobalFlags;
use crate::error::{CtlError, ExitCode, Result};
use crate::printer::{Format, Printer};
use api::etcdserverpb::RangeRequest;
use clap::Args;
use client::concurrency::{Mutex, Session};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// `lock`'s flags and arguments.
#[derive(Args, Debug, Clone)]
pub struct LockArgs {
    /// timeout for session
    #[arg(long, default_value = "10", value_parser = super::get::go_int64, allow_negative_numbers = true)]
    pub ttl: i64,
    /// <lockname> [exec-command arg1 arg2 ...]
    pub args: Vec<OsString>,
}

/// Runs `lock`.
pub async fn run(global: &GlobalFlags, a: LockArgs, io: &mut Io<'_>) -> Result<()> {
    let Some((name, exec)) = a.args.split_first() else {
        return Err(CtlError::bad_args("lock takes a lock name argument and an optional command to execute"));
    };
    let printer = Printer::new(Format::parse(&global.write_out)?, global.hex);
    let client = connect_blocking(global).await?;
    let mut signals = Signals::new()?;
    let session = Session::new(&client, a.ttl).await?;
    let mut mutex = Mutex::new(&session, name.as_bytes());
    tokio::select! {
        r = mutex.lock() => r?,
        () = signals.recv() => {
            let _ = tokio::time::timeout(global.command_timeout, mutex.unlock()).await;
            return Err(CtlError::error("context canceled"));
        }
    }
    if !exec.is_empty() {
        let rev = mutex.header().map(|h| h.revision).unwrap_or_default();
        let status = tokio::process::Command::new(&exec[0])
            .args(&exec[1..])
            .env("ETCD_LOCK_KEY", std::ffi::OsStr::from_bytes(mutex.key()))
            .env("ETCD_LOCK_REV", rev.to_string())
            .status()
            .await;
        let unlocked = unlock(global, &mut mutex).await;
        return match status {
            Ok(s) if s.success() => unlocked,
            Ok(s) => Err(CtlError::new(ExitCode::Command(s.code().unwrap_or(-1)), super::watch::exec::exit_text(s))),
            Err(e) => Err(CtlError::error(spawn_error_text(&exec[0], &e))),
        };
    }
    let key = mutex.key().to_vec();
    let resp = tokio::select! {
        r = client.range(RangeRequest { key, ..Default::default() }) => r?,
        () = signals.recv() => return Err(CtlError::error("context canceled")),
    };
    if resp.kvs.is_empty() {
        return Err(CtlError::error("lock lost on init"));
    }
    let mut out = Vec::new();
    printer.get(&mut out, &resp)?;
    io.print(&out);
    tokio::select! {
        () = signals.recv() => unlock(global, &mut mutex).await,
        () = session.done() => Err(CtlError::error("session expired")),
    }
}

/// Go's error for a command that could not be started. Go looks up only a bare name in
/// `$PATH`; a path fails in `fork/exec` itself.
fn spawn_error_text(program: &OsString, e: &std::io::Error) -> String {
    let p = program.to_string_lossy();
    if e.kind() == std::io::ErrorKind::NotFound && p.contains('/') {
        return format!("fork/exec {p}: no such file or directory");
    }
    super::watch::exec::spawn_error_text(program, e)
}

/// Deletes the lock's key within `--command-timeout`.
async fn unlock(global: &GlobalFlags, mutex: &mut Mutex) -> Result<()> {
    match tokio::time::timeout(global.command_timeout, mutex.unlock()).await {
        Ok(r) => r.map_err(CtlError::from),
        Err(_) => Err(CtlError::error("context deadline exceeded")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_errors_read_like_go() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(spawn_error_text(&"/no/such".into(), &missing), "fork/exec /no/such: no such file or directory");
        assert_eq!(
            spawn_error_text(&"nosuch".into(), &missing),
            r#"exec: "nosuch": executable file not found in $PATH"#
        );
    }
}
