//! [`LocalMember`]: a Strata member run in the test's own process through
//! `server::run`, on listeners the test binds itself (port 0: no port is
//! ever released and taken again, so no race with other tests). Starting one
//! takes milliseconds, so logic that needs a whole member (the services,
//! watch streams, leases, clusters) is tested without processes; process
//! tests stay for what needs a process: `kill -9`, flags, CLIs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use api::etcdserverpb::StatusRequest;
use api::etcdserverpb::maintenance_client::MaintenanceClient;
use clap::Parser;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::proxy::{Network, proxied_cluster};

/// A member running in this process. Dropping it stops it (without waiting).
pub struct LocalMember {
    name: String,
    dir: tempfile::TempDir,
    client: SocketAddr,
    peer: SocketAddr,
    extra: Vec<String>,
    /// The peer URL the others reach this member at, when it is not its
    /// listener's (a proxy in front of it).
    advertised_peer: Option<String>,
    initial_cluster: Option<String>,
    /// `http` or `https` (peer TLS, configured by the caller's flags).
    peer_scheme: &'static str,
    /// The listeners bound at creation, until the first start takes them.
    bound: Option<(TcpListener, TcpListener)>,
    running: Option<Running>,
}

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), server::ServerError>>,
}

impl LocalMember {
    /// Starts a single member with `extra` flags (etcd's, as `strata` takes
    /// them) on a fresh data dir and waits until it serves.
    pub async fn start(extra: &[&str]) -> anyhow::Result<LocalMember> {
        let mut m = LocalMember::bind("default", extra, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
        m.launch().await?;
        m.wait_ready().await?;
        Ok(m)
    }

    /// Starts an `n`-member cluster (names `m1`…, one `--initial-cluster`)
    /// and waits until every member serves.
    pub async fn start_cluster(n: usize, extra: &[&str]) -> anyhow::Result<Vec<LocalMember>> {
        let mut members = Vec::with_capacity(n);
        for i in 1..=n {
            members.push(LocalMember::bind(&format!("m{i}"), extra, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?);
        }
        LocalMember::form_cluster(&mut members).await?;
        Ok(members)
    }

    /// Starts an `n`-member cluster whose peer URLs are `https://`: `extra`
    /// must carry the peer TLS flags (`--peer-cert-file`, …).
    pub async fn start_cluster_with_peer_tls(n: usize, extra: &[&str]) -> anyhow::Result<Vec<LocalMember>> {
        let mut members = Vec::with_capacity(n);
        for i in 1..=n {
            let mut m = LocalMember::bind(&format!("m{i}"), extra, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
            m.peer_scheme = "https";
            members.push(m);
        }
        LocalMember::form_cluster(&mut members).await?;
        Ok(members)
    }

    /// Starts an `n`-member cluster whose peer traffic passes through the
    /// proxies of the returned [`Network`], which can partition it, as
    /// `MemberProcess::start_strata_cluster_behind_proxies` does for processes:
    /// member `i` listens for peers on [`member_ip`]`(i)`, connects from it
    /// (`--strata-peer-source-ip`) and advertises its proxy. Clients reach
    /// every member directly on 127.0.0.1.
    pub async fn start_cluster_behind_proxies(n: usize, extra: &[&str]) -> anyhow::Result<(Vec<LocalMember>, Network)> {
        let (network, slots) = proxied_cluster(n, extra)?;
        let mut members = Vec::with_capacity(n);
        for (i, slot) in slots.into_iter().enumerate() {
            let flags: Vec<&str> = slot.flags.iter().map(String::as_str).collect();
            let mut m = LocalMember::bind(&format!("m{}", i + 1), &flags, slot.ip).await?;
            m.advertised_peer = Some(slot.advertised);
            network.proxy(i, slot.proxy, m.peer)?;
            members.push(m);
        }
        LocalMember::form_cluster(&mut members).await?;
        Ok((members, network))
    }

    /// Starts `members` as one cluster (`--initial-cluster` names their
    /// advertised peer URLs) and waits until each serves.
    async fn form_cluster(members: &mut [LocalMember]) -> anyhow::Result<()> {
        let initial: Vec<String> = members.iter().map(|m| format!("{}={}", m.name, m.advertised_peer_url())).collect();
        for m in members.iter_mut() {
            m.initial_cluster = Some(initial.join(","));
            m.launch().await?;
        }
        for m in members.iter_mut() {
            m.wait_ready().await?;
        }
        Ok(())
    }

    /// Reserves the member's addresses: listeners are bound here and handed
    /// to the server, so the ports stay this member's until it stops.
    async fn bind(name: &str, extra: &[&str], peer_ip: IpAddr) -> anyhow::Result<LocalMember> {
        let client = TcpListener::bind("127.0.0.1:0").await?;
        let peer = TcpListener::bind((peer_ip, 0)).await?;
        Ok(LocalMember {
            name: name.to_string(),
            dir: tempfile::tempdir()?,
            client: client.local_addr()?,
            peer: peer.local_addr()?,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            advertised_peer: None,
            peer_scheme: "http",
            initial_cluster: None,
            bound: Some((client, peer)),
            running: None,
        })
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let client_url = format!("http://{}", self.client);
        let peer_url = format!("{}://{}", self.peer_scheme, self.peer);
        let advertised = self.advertised_peer_url();
        let initial = self.initial_cluster.clone().unwrap_or_else(|| format!("{}={advertised}", self.name));
        let data_dir = self.data_dir();
        let mut args: Vec<String> = vec!["strata".into(), "--name".into(), self.name.clone(), "--data-dir".into()];
        args.push(data_dir.display().to_string());
        args.extend(["--listen-client-urls".into(), client_url.clone(), "--advertise-client-urls".into(), client_url]);
        args.extend(["--listen-peer-urls".into(), peer_url, "--initial-advertise-peer-urls".into(), advertised]);
        args.extend(["--initial-cluster".into(), initial]);
        args.extend(self.extra.iter().cloned());
        let cfg = server::Config::try_parse_from(&args).context("member flags")?;
        let (client, peer) = match self.bound.take() {
            Some(bound) => bound,
            // A restart binds the same ports again (tokio sets SO_REUSEADDR):
            // the other members know the member by them.
            None => (
                TcpListener::bind(self.client).await.context("bind the client port again")?,
                TcpListener::bind(self.peer).await.context("bind the peer port again")?,
            ),
        };
        let (clients, peers) = (vec![client], vec![peer]);
        let (stop, stopped) = oneshot::channel();
        let listeners = server::Listeners { client: clients, peer: peers, metrics: Vec::new() };
        let task = tokio::spawn(server::run(cfg, listeners, async {
            let _ = stopped.await;
        }));
        self.running = Some(Running { stop, task });
        Ok(())
    }

    /// Waits until the member answers `Status` (it serves clients only once
    /// it has published itself through Raft); with auth enabled, refusing it
    /// to nobody is an answer too.
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.running.as_ref().is_some_and(|r| r.task.is_finished()) {
                let outcome = self.stop().await?;
                bail!("member {} stopped before it was ready: {outcome:?}", self.name);
            }
            let status = async {
                let mut c = MaintenanceClient::connect(self.url()).await?;
                match c.status(StatusRequest {}).await {
                    Err(e) if e.message() == "etcdserver: user name is empty" => anyhow::Ok(()),
                    other => other.map(|_| ()).map_err(anyhow::Error::from),
                }
            };
            if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(1), status).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("member {} not ready after 20 s", self.name);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the member as SIGTERM would and returns what `server::run` returned.
    pub async fn stop(&mut self) -> anyhow::Result<Result<(), server::ServerError>> {
        let Some(r) = self.running.take() else { bail!("member {} is not running", self.name) };
        let _ = r.stop.send(());
        Ok(r.task.await?)
    }

    /// Stops the member and starts it again on its data dir and ports.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.running.is_some() {
            self.stop().await?.context("stopping before the restart")?;
        }
        self.launch().await?;
        self.wait_ready().await
    }

    /// Whether `server::run` has returned (stopped by itself, e.g. on a fatal failure).
    pub fn has_stopped(&self) -> bool {
        self.running.as_ref().is_none_or(|r| r.task.is_finished())
    }

    /// `127.0.0.1:PORT`, as etcdctl's `--endpoints` takes it.
    pub fn endpoint(&self) -> String {
        self.client.to_string()
    }

    /// `http://127.0.0.1:PORT`, as gRPC clients take it.
    pub fn url(&self) -> String {
        format!("http://{}", self.client)
    }

    /// `127.0.0.1:PORT` of the peer listener.
    pub fn peer_addr(&self) -> String {
        self.peer.to_string()
    }

    /// The peer URL the other members know this one by.
    fn advertised_peer_url(&self) -> String {
        self.advertised_peer.clone().unwrap_or_else(|| format!("{}://{}", self.peer_scheme, self.peer))
    }

    /// `--name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `--data-dir`.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for LocalMember {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = r.stop.send(());
        }
    }
}
