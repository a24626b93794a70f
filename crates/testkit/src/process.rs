//! Server processes under test.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::ports::{free_port, free_port_on};
use crate::proxy::{Network, proxied_cluster};

/// True if Debian's etcd 3.4 is installed (the reference for differential tests).
pub fn have_etcd() -> bool {
    Path::new("/usr/bin/etcd").exists()
}

/// True if the real etcdctl is installed.
pub fn have_etcdctl() -> bool {
    Path::new("/usr/bin/etcdctl").exists()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Strata,
    Etcd,
}

/// A member process (strata or the reference etcd) and its data dir.
pub struct MemberProcess {
    kind: Kind,
    bin: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub client_port: u16,
    peer_port: u16,
    /// The address the peer listener binds (127.0.0.1 unless proxied).
    peer_ip: IpAddr,
    /// The peer URL the member advertises when it is not its listener's
    /// (a proxy in front of it).
    advertised_peer: Option<String>,
    /// `--name`, and `--initial-cluster` when the member is one of several.
    name: String,
    initial_cluster: Option<String>,
}

impl MemberProcess {
    /// Starts `strata` (the binary at `bin`) with `extra` flags.
    pub fn start_strata(bin: &str, extra: &[&str]) -> anyhow::Result<MemberProcess> {
        MemberProcess::start(Kind::Strata, bin, extra)
    }

    /// Starts Debian's etcd 3.4.23 with `extra` flags.
    pub fn start_etcd(extra: &[&str]) -> anyhow::Result<MemberProcess> {
        MemberProcess::start(Kind::Etcd, "/usr/bin/etcd", extra)
    }

    /// Starts etcd 3.6.14 (the anchor binary, [`crate::anchor`]) with `extra` flags.
    pub fn start_etcd36(extra: &[&str]) -> anyhow::Result<MemberProcess> {
        let bin = crate::anchor("etcd").context(crate::missing_anchor("etcd"))?;
        MemberProcess::start(Kind::Etcd, &bin.to_string_lossy(), extra)
    }

    /// A member not started yet, on fresh ports and a fresh data dir.
    fn unstarted(kind: Kind, bin: &str, name: String, extra: &[&str]) -> anyhow::Result<MemberProcess> {
        Ok(MemberProcess {
            kind,
            bin: PathBuf::from(bin),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
            dir: tempfile::tempdir()?,
            client_port: free_port()?,
            peer_port: free_port()?,
            peer_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            advertised_peer: None,
            name,
            initial_cluster: None,
        })
    }

    fn start(kind: Kind, bin: &str, extra: &[&str]) -> anyhow::Result<MemberProcess> {
        let mut m = MemberProcess::unstarted(kind, bin, "default".to_string(), extra)?;
        m.spawn()?;
        Ok(m)
    }

    /// Starts an `n`-member cluster of the same kind, each member with
    /// `extra` flags, on fresh loopback ports (`--initial-cluster` lists them
    /// all, names `m1`…). All are launched before any is waited for: a
    /// cluster forms once a majority is up.
    fn start_cluster(kind: Kind, bin: &str, n: usize, extra: &[&str]) -> anyhow::Result<Vec<MemberProcess>> {
        let mut members = Vec::with_capacity(n);
        for i in 1..=n {
            members.push(MemberProcess::unstarted(kind, bin, format!("m{i}"), extra)?);
        }
        MemberProcess::form_cluster(&mut members)?;
        Ok(members)
    }

    /// Launches unstarted `members` as one cluster (`--initial-cluster`
    /// lists their advertised peer URLs) and waits until each is ready.
    fn form_cluster(members: &mut [MemberProcess]) -> anyhow::Result<()> {
        let initial: Vec<String> = members.iter().map(MemberProcess::cluster_entry).collect();
        // All at once: etcd says it is ready only once its cluster has a leader.
        let mut starts = Vec::with_capacity(members.len());
        for m in members.iter_mut() {
            m.initial_cluster = Some(initial.join(","));
            starts.push(m.launch()?);
        }
        for (m, start) in members.iter_mut().zip(starts) {
            m.wait_ready(start)?;
        }
        Ok(())
    }

    /// Starts an `n`-member strata cluster whose peer traffic passes through
    /// the proxies of the returned [`Network`], which can partition it.
    /// Member `i` (`members[i]`, named `m{i+1}`) uses the loopback address
    /// [`member_ip`]`(i)` for its peer listener, its proxy and, with
    /// `--strata-peer-source-ip`, its connections to the others; it
    /// advertises its proxy. Clients still reach every member directly on
    /// 127.0.0.1 ([`MemberProcess::endpoint`]).
    pub fn start_strata_cluster_behind_proxies(
        bin: &str,
        n: usize,
        extra: &[&str],
    ) -> anyhow::Result<(Vec<MemberProcess>, Network)> {
        let (network, slots) = proxied_cluster(n, extra)?;
        let mut members = Vec::with_capacity(n);
        for (i, slot) in slots.into_iter().enumerate() {
            let flags: Vec<&str> = slot.flags.iter().map(String::as_str).collect();
            let mut m = MemberProcess::unstarted(Kind::Strata, bin, format!("m{}", i + 1), &flags)?;
            m.peer_ip = slot.ip;
            m.peer_port = free_port_on(slot.ip)?;
            m.advertised_peer = Some(slot.advertised);
            network.proxy(i, slot.proxy, SocketAddr::new(slot.ip, m.peer_port))?;
            members.push(m);
        }
        MemberProcess::form_cluster(&mut members)?;
        Ok((members, network))
    }

    /// Starts an `n`-member strata cluster (see `start_cluster`).
    pub fn start_strata_cluster(bin: &str, n: usize, extra: &[&str]) -> anyhow::Result<Vec<MemberProcess>> {
        MemberProcess::start_cluster(Kind::Strata, bin, n, extra)
    }

    /// Starts an `n`-member etcd 3.4.23 cluster (see `start_cluster`).
    pub fn start_etcd_cluster(n: usize, extra: &[&str]) -> anyhow::Result<Vec<MemberProcess>> {
        MemberProcess::start_cluster(Kind::Etcd, "/usr/bin/etcd", n, extra)
    }

    /// Starts an `n`-member etcd 3.6.14 cluster (see `start_cluster`).
    pub fn start_etcd36_cluster(n: usize, extra: &[&str]) -> anyhow::Result<Vec<MemberProcess>> {
        let bin = crate::anchor("etcd").context(crate::missing_anchor("etcd"))?;
        MemberProcess::start_cluster(Kind::Etcd, &bin.to_string_lossy(), n, extra)
    }

    /// A strata member not started yet, on fresh ports and a fresh data dir:
    /// `member add` its [`MemberProcess::cluster_entry`] URL to a running cluster,
    /// then [`MemberProcess::join`] it.
    pub fn new_strata(bin: &str, name: &str, extra: &[&str]) -> anyhow::Result<MemberProcess> {
        MemberProcess::unstarted(Kind::Strata, bin, name.to_string(), extra)
    }

    /// Starts this member with `--initial-cluster-state existing` and
    /// `initial_cluster` (every member's `name=peer URL`, this one's too),
    /// and waits until it serves.
    pub fn join(&mut self, initial_cluster: &str) -> anyhow::Result<()> {
        self.initial_cluster = Some(initial_cluster.to_string());
        self.extra.extend(["--initial-cluster-state".to_string(), "existing".to_string()]);
        self.spawn()
    }

    /// `name=peer URL`, this member's entry of `--initial-cluster`.
    pub fn cluster_entry(&self) -> String {
        format!("{}={}", self.name, self.advertised_peer_url())
    }

    /// Whether the process has exited (and with what code).
    pub fn exited(&mut self) -> Option<Option<i32>> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        Some(status.code())
    }

    /// The member's `--name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `127.0.0.1:PORT`, as etcdctl's `--endpoints` takes it.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// The peer URL the member's listener binds.
    fn peer_url(&self) -> String {
        format!("http://{}:{}", self.peer_ip, self.peer_port)
    }

    /// The peer URL the member advertises to the others.
    fn advertised_peer_url(&self) -> String {
        self.advertised_peer.clone().unwrap_or_else(|| self.peer_url())
    }

    /// The member's data dir.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The member's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("member.log")).unwrap_or_default()
    }

    /// Starts the process; returns where its log was, for [`MemberProcess::wait_ready`].
    fn launch(&mut self) -> anyhow::Result<usize> {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = self.peer_url();
        let advertised = self.advertised_peer_url();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("member.log"))?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &advertised])
            .args(["--name", &self.name])
            .arg("--initial-cluster")
            .arg(self.initial_cluster.clone().unwrap_or_else(|| format!("{}={advertised}", self.name)))
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if self.kind == Kind::Etcd {
            cmd.env("ETCD_UNSUPPORTED_ARCH", std::env::consts::ARCH);
        }
        let log_start = self.log().len();
        self.child = Some(cmd.spawn().with_context(|| format!("spawn {}", self.bin.display()))?);
        Ok(log_start)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log_start = self.launch()?;
        self.wait_ready(log_start)
    }

    /// Waits until the log written since `log_start` says the member serves
    /// (both etcd and strata log "ready to serve client requests").
    fn wait_ready(&mut self, log_start: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("member exited with {status} before it was ready; log:\n{}", self.log());
            }
            let log = self.log();
            if log.get(log_start..).is_some_and(|l| l.contains("ready to serve client requests"))
                && TcpStream::connect(("127.0.0.1", self.client_port)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("member not ready after 20 s; log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Sends SIGKILL and waits for the process to die.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Sends SIGTERM and waits for a clean exit; returns its exit code.
    pub fn terminate(&mut self) -> anyhow::Result<Option<i32>> {
        let Some(mut child) = self.child.take() else { return Ok(None) };
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status.code());
            }
            if Instant::now() > deadline {
                child.kill()?;
                bail!("member ignored SIGTERM for 20 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the process again on the same data dir and ports.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9()?;
        self.spawn()
    }
}

impl Drop for MemberProcess {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}
