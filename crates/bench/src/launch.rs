//! `--launch`: a server process started on loopback with a fresh data dir and etcd's
//! flags, watched through `/proc`, and stopped with SIGTERM. [`crate::cluster`] starts
//! several as one cluster.
//!
//! The same appended flags start `strata` and etcd 3.4 alike. `ETCD_UNSUPPORTED_ARCH` is
//! set to Go's name of this architecture, which etcd 3.4 needs to start on arm64 and
//! which everything else ignores.

use anyhow::{Context, bail};
use api::etcdserverpb::RangeRequest;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tempfile::TempDir;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// `--initial-cluster-token` of every launched member.
const CLUSTER_TOKEN: &str = "strata-bench";

/// Who a launched member is and which cluster it forms or joins: etcd's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    /// `--name`.
    pub name: String,
    /// `http://127.0.0.1:<port>` it serves clients on.
    pub client_url: String,
    /// `http://127.0.0.1:<port>` it serves peers on.
    pub peer_url: String,
    /// `--initial-cluster`: every member's `name=peer URL`, this one's too.
    pub initial_cluster: String,
    /// `--initial-cluster-state existing`: it joins a running cluster that has added it
    /// (`MemberAdd`) rather than forming a new one.
    pub existing: bool,
}

impl MemberSpec {
    /// The flags appended to the command, after the data dir.
    pub fn args(&self) -> Vec<String> {
        let state = if self.existing { "existing" } else { "new" };
        [
            ("--name", self.name.as_str()),
            ("--listen-client-urls", &self.client_url),
            ("--advertise-client-urls", &self.client_url),
            ("--listen-peer-urls", &self.peer_url),
            ("--initial-advertise-peer-urls", &self.peer_url),
            ("--initial-cluster", &self.initial_cluster),
            ("--initial-cluster-state", state),
            ("--initial-cluster-token", CLUSTER_TOKEN),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value.to_owned()])
        .collect()
    }
}

/// A launched server. Dropping it kills the process and deletes its directory; [`Server::stop`]
/// stops it politely first. [`Server::pause`] stops it and [`Server::resume`] starts it
/// again on the same data dir, ports and flags.
#[derive(Debug)]
pub struct Server {
    cmd: String,
    spec: MemberSpec,
    /// `None` while paused.
    child: Option<Child>,
    pid: u32,
    /// Holds the data dir and the log; deleted on drop.
    dir: TempDir,
    spawned: Instant,
    startup: Duration,
}

impl Server {
    /// Starts `cmd` (split on whitespace; no shell quoting) as `spec` says, without
    /// waiting for it to serve.
    pub fn spawn(cmd: &str, spec: &MemberSpec) -> anyhow::Result<Server> {
        let dir = tempfile::Builder::new().prefix("strata-bench-").tempdir().context("creating a temp dir")?;
        let (child, pid) = start_process(cmd, spec, dir.path())?;
        let (cmd, spec) = (cmd.to_owned(), spec.clone());
        Ok(Server { cmd, spec, child: Some(child), pid, dir, spawned: Instant::now(), startup: Duration::ZERO })
    }

    /// Stops the process (as [`Server::stop`]) and keeps its data dir for [`Server::resume`].
    /// A paused server counts no CPU time or memory and is not an exited one.
    pub async fn pause(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.take() {
            terminate(child, self.pid).await?;
        }
        Ok(())
    }

    /// Starts a paused server again, without waiting for it to serve.
    pub fn resume(&mut self) -> anyhow::Result<()> {
        if self.child.is_none() {
            let (child, pid) = start_process(&self.cmd, &self.spec, self.dir.path())?;
            (self.child, self.pid, self.spawned) = (Some(child), pid, Instant::now());
        }
        Ok(())
    }

    /// Polls with a linearizable Range until one succeeds, at most `timeout` after the
    /// spawn, and notes the time it took.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let endpoints = [self.spec.client_url.clone()];
        let mut client = None;
        loop {
            self.check_running()?;
            if self.spawned.elapsed() > timeout {
                bail!("the server served no linearizable read within {timeout:?}\n{}", self.log_tail());
            }
            if client.is_none() {
                client = client::Client::connect(&endpoints, Duration::from_millis(200)).await.ok();
            }
            if let Some(c) = &client {
                let read = c.range(RangeRequest { key: b"strata-bench-ready".to_vec(), ..Default::default() });
                if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), read).await {
                    self.startup = self.spawned.elapsed();
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The client URL it listens on.
    pub fn endpoint(&self) -> &str {
        &self.spec.client_url
    }

    /// From spawning the process to its first served linearizable read (zero until
    /// [`Server::wait_ready`] has seen it).
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// An error with the log's tail if the process has exited (a paused one has not).
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        let Some(child) = self.child.as_mut() else { return Ok(()) };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => bail!("the server exited ({status}); its log ends with:\n{}", self.log_tail()),
            Err(e) => Err(e).context("checking the server process"),
        }
    }

    /// CPU time the process has used so far, user and system, from `/proc/<pid>/stat`.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        if self.child.is_none() {
            return Ok(Duration::ZERO);
        }
        let path = format!("/proc/{}/stat", self.pid);
        let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let ticks = parse_cpu_ticks(&stat).with_context(|| format!("parsing {path}"))?;
        Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks_per_sec()? as f64))
    }

    /// The process's peak resident set size (`VmHWM` in `/proc/<pid>/status`).
    pub fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        self.status_bytes("VmHWM")
    }

    /// The process's resident set size now (`VmRSS`).
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        self.status_bytes("VmRSS")
    }

    /// Bytes allocated on disk under the data dir (what `du` counts): the store, the log,
    /// and whatever else the server keeps there.
    pub fn data_dir_bytes(&self) -> anyhow::Result<u64> {
        let data = self.dir.path().join("data");
        disk_usage(&data).with_context(|| format!("measuring {}", data.display()))
    }

    fn status_bytes(&self, field: &str) -> anyhow::Result<u64> {
        if self.child.is_none() {
            return Ok(0);
        }
        let path = format!("/proc/{}/status", self.pid);
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        parse_status_bytes(&status, field).with_context(|| format!("no {field} in {path}"))
    }

    /// Sends SIGTERM and waits up to 10 s for the process to exit (then kills it); the
    /// directory is deleted when `self` is dropped.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.pause().await
    }

    /// The last 30 lines of the server's output.
    pub fn log_tail(&self) -> String {
        let path: PathBuf = self.dir.path().join("server.log");
        let log = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()));
        tail(&log, 30)
    }
}

/// Starts `cmd` with the data dir under `dir` and `spec`'s flags, its output appended to
/// `dir/server.log`.
fn start_process(cmd: &str, spec: &MemberSpec, dir: &std::path::Path) -> anyhow::Result<(Child, u32)> {
    let mut words = cmd.split_whitespace();
    let program = words.next().context("--launch needs a command")?;
    let log_path = dir.join("server.log");
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(&log_path).context("opening the server log")?;
    let mut command = Command::new(program);
    command
        .args(words)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(spec.args())
        .env("ETCD_UNSUPPORTED_ARCH", go_arch())
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("sharing the server log")?)
        .stderr(log)
        .kill_on_drop(true);
    let child = command.spawn().with_context(|| format!("starting {program}"))?;
    let pid = child.id().context("the server exited at once")?;
    Ok((child, pid))
}

/// Sends SIGTERM to `child` (process `pid`) and waits up to 10 s for it to exit, then
/// kills it.
async fn terminate(mut child: Child, pid: u32) -> anyhow::Result<()> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    // Once reaped, the pid may belong to another process: never signal it then.
    if let Ok(Some(_)) = child.try_wait() {
        return Ok(());
    }
    let pid = Pid::from_raw(i32::try_from(pid).context("pid out of range")?);
    if kill(pid, Signal::SIGTERM).is_ok() && tokio::time::timeout(Duration::from_secs(10), child.wait()).await.is_ok() {
        return Ok(());
    }
    child.kill().await.context("killing the server")?;
    eprintln!("strata-bench: the server ignored SIGTERM for 10 s and was killed");
    Ok(())
}

/// The last `n` lines of `log` that are not frames of a Rust backtrace (`  12: name`,
/// `      at file:line`), so that the error before a backtrace is what shows.
fn tail(log: &str, n: usize) -> String {
    let frame = |l: &str| {
        let t = l.trim_start();
        let numbered = t.split_once(": ").is_some_and(|(i, _)| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
        l.starts_with(' ') && (numbered || t.starts_with("at "))
    };
    let lines: Vec<&str> = log.lines().filter(|l| !frame(l)).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Bytes allocated to `path` and, for a directory, to everything under it. A file that
/// vanishes while it is walked (a server swapping files) counts as empty.
fn disk_usage(path: &std::path::Path) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut total = meta.blocks() * 512;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            total += disk_usage(&entry?.path())?;
        }
    }
    Ok(total)
}

/// Go's `GOARCH` for this machine, what `ETCD_UNSUPPORTED_ARCH` is compared with.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn clock_ticks_per_sec() -> anyhow::Result<u64> {
    use nix::unistd::{SysconfVar, sysconf};
    let ticks = sysconf(SysconfVar::CLK_TCK).context("sysconf(CLK_TCK)")?.context("CLK_TCK is not defined")?;
    u64::try_from(ticks).ok().filter(|&t| t > 0).context("CLK_TCK is not positive")
}

/// `utime + stime` in clock ticks from the text of `/proc/<pid>/stat`. The command name
/// (field 2) is in parentheses and may hold spaces and parentheses itself, so fields are
/// counted from the last `)`: utime and stime are fields 14 and 15.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11); // field 3 (state) is index 0
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A memory figure such as `VmHWM` (peak RSS) or `VmRSS` in bytes from the text of
/// `/proc/<pid>/status`, where it is in kB.
pub fn parse_status_bytes(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))?;
    let mut words = line[field.len() + 1..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => Some(value * 1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 12051 0 3 0 \
                        1234 567 0 0 20 0 9 0 885123 1049341952 10765 18446744073709551615 1 1 0 0 0 0 0 \
                        4096 17663 0 0 0 17 1 0 0 0 0 0";

    const STATUS: &str = "Name:\tetcd\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t4242\n\
                          VmPeak:\t 11218700 kB\nVmSize:\t 11218700 kB\nVmHWM:\t   43960 kB\nVmRSS:\t   43060 kB\nThreads:\t9\n";

    #[test]
    fn a_member_gets_etcds_flags_for_a_new_or_an_existing_cluster() {
        let mut spec = MemberSpec {
            name: "m1".into(),
            client_url: "http://127.0.0.1:1".into(),
            peer_url: "http://127.0.0.1:2".into(),
            initial_cluster: "m1=http://127.0.0.1:2,m2=http://127.0.0.1:4".into(),
            existing: false,
        };
        assert_eq!(
            spec.args().join(" "),
            "--name m1 --listen-client-urls http://127.0.0.1:1 --advertise-client-urls http://127.0.0.1:1 \
             --listen-peer-urls http://127.0.0.1:2 --initial-advertise-peer-urls http://127.0.0.1:2 \
             --initial-cluster m1=http://127.0.0.1:2,m2=http://127.0.0.1:4 --initial-cluster-state new \
             --initial-cluster-token strata-bench"
        );
        spec.existing = true;
        assert!(spec.args().join(" ").contains("--initial-cluster-state existing"));
    }

    #[test]
    fn a_log_tail_leaves_out_backtrace_frames() {
        let log = "ready\nError: removed\n\nStack backtrace:\n   0: anyhow::error::x\n             at /a.rs:1:2\n  12: main\n";
        assert_eq!(tail(log, 3), "Error: removed\n\nStack backtrace:");
        assert_eq!(tail("a\nb\n", 30), "a\nb");
        assert_eq!(tail("x: 1\n", 1), "x: 1", "only indented lines can be frames");
    }

    #[test]
    fn cpu_ticks_are_utime_plus_stime_counted_after_the_command_name() {
        assert_eq!(parse_cpu_ticks(STAT), Some(1234 + 567));
        assert_eq!(parse_cpu_ticks("1 (x) S 1 2"), None, "truncated");
        assert_eq!(parse_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn peak_rss_is_vmhwm_and_rss_is_vmrss_in_bytes() {
        assert_eq!(parse_status_bytes(STATUS, "VmHWM"), Some(43960 * 1024));
        assert_eq!(parse_status_bytes(STATUS, "VmRSS"), Some(43060 * 1024));
        assert_eq!(parse_status_bytes("VmRSS:\t 1 kB\n", "VmHWM"), None);
        assert_eq!(parse_status_bytes("VmHWM:\t 12 MB\n", "VmHWM"), None, "an unknown unit is not guessed");
        assert_eq!(parse_status_bytes("VmHWMx:\t 12 kB\n", "VmHWM"), None, "the whole field name");
    }

    #[test]
    fn disk_usage_counts_allocated_blocks_of_a_tree() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/a"), vec![1u8; 64 * 1024]).expect("write");
        let used = disk_usage(dir.path()).expect("walk");
        assert!(used >= 64 * 1024, "{used}");
        assert_eq!(disk_usage(&dir.path().join("missing")).expect("absent is empty"), 0);
    }

    #[test]
    fn this_process_can_be_read_the_same_way() {
        let me = std::process::id();
        let stat = std::fs::read_to_string(format!("/proc/{me}/stat")).expect("procfs");
        let status = std::fs::read_to_string(format!("/proc/{me}/status")).expect("procfs");
        assert!(parse_cpu_ticks(&stat).is_some(), "{stat}");
        assert!(parse_status_bytes(&status, "VmHWM").is_some_and(|b| b > 0), "{status}");
        assert!(clock_ticks_per_sec().is_ok());
    }
}
