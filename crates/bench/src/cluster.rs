//! `--launch` with `--members N`: a cluster of launched servers on loopback, formed from
//! one `--initial-cluster`, read through `/proc` as one server (CPU time, RSS and disk
//! summed over the members), and grown by a member ([`Cluster::add_member`]).
//!
//! One member is named `default`, as etcd names a lone member; several are `m1`, `m2`, ….
//! Clients go to the leader only (`--target-leader`, etcd's benchmark flag) or to every
//! member, followers first ([`client_endpoints`]): with one client, or one connection,
//! that is a follower, so a spread run with fewer connections than members measures
//! forwarding to the leader rather than whichever member came first.

use crate::launch::{MemberSpec, Server};
use anyhow::{Context, bail, ensure};
use std::net::TcpListener;
use std::time::Duration;
use tokio::time::Instant;

/// Launched members, in launch order.
#[derive(Debug)]
pub struct Cluster {
    cmd: String,
    members: Vec<Server>,
    /// `--initial-cluster` as it grows: every member's `name=peer URL`.
    initial_cluster: Vec<String>,
    startup: Duration,
}

impl Cluster {
    /// Starts `size` members of `cmd` at once (etcd serves only once its cluster has a
    /// leader) and waits until each serves a linearizable read, all within `timeout`.
    pub async fn start(cmd: &str, size: u32, timeout: Duration) -> anyhow::Result<Cluster> {
        ensure!(size > 0, "a cluster needs a member");
        let names: Vec<String> =
            if size == 1 { vec!["default".into()] } else { (1..=size).map(|i| format!("m{i}")).collect() };
        let urls = free_loopback_urls(2 * names.len())?;
        let peers = &urls[names.len()..];
        let initial_cluster: Vec<String> = names.iter().zip(peers).map(|(n, p)| format!("{n}={p}")).collect();
        let spawned = Instant::now();
        let mut members = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let spec = MemberSpec {
                name: name.clone(),
                client_url: urls[i].clone(),
                peer_url: peers[i].clone(),
                initial_cluster: initial_cluster.join(","),
                existing: false,
            };
            members.push(Server::spawn(cmd, &spec)?);
        }
        for m in &mut members {
            m.wait_ready(timeout).await?;
        }
        Ok(Cluster { cmd: cmd.to_owned(), members, initial_cluster, startup: spawned.elapsed() })
    }

    /// The members' client URLs, in launch order.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.endpoint().to_owned()).collect()
    }

    /// The member at `index` (launch order).
    pub fn member(&self, index: usize) -> Option<&Server> {
        self.members.get(index)
    }

    /// The member at `index`, to pause or resume it.
    pub fn member_mut(&mut self, index: usize) -> Option<&mut Server> {
        self.members.get_mut(index)
    }

    /// Spawning the members to the last of them serving a linearizable read.
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// Adds a member through `MemberAdd` on `via` (a voter, as `etcdctl member add`
    /// adds it) and starts it with `--initial-cluster-state existing`, without waiting
    /// for it. Returns its index and how long `MemberAdd` took to answer.
    pub async fn add_member(&mut self, via: &client::Client) -> anyhow::Result<(usize, Duration)> {
        let urls = free_loopback_urls(2)?;
        let name = format!("m{}", self.members.len() + 1);
        let asked = Instant::now();
        via.member_add(vec![urls[1].clone()], false).await.with_context(|| format!("MemberAdd of {}", urls[1]))?;
        let add = asked.elapsed();
        self.initial_cluster.push(format!("{name}={}", urls[1]));
        let spec = MemberSpec {
            name,
            client_url: urls[0].clone(),
            peer_url: urls[1].clone(),
            initial_cluster: self.initial_cluster.join(","),
            existing: true,
        };
        self.members.push(Server::spawn(&self.cmd, &spec)?);
        Ok((self.members.len() - 1, add))
    }

    /// An error with the log's tail of the first member that has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        for (i, m) in self.members.iter_mut().enumerate() {
            m.check_running().with_context(|| format!("member {} of the cluster", i + 1))?;
        }
        Ok(())
    }

    /// CPU time all members have used so far (a paused one's is not counted, and a
    /// resumed one's counts from its restart).
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        self.members.iter().map(Server::cpu_time).sum()
    }

    /// The members' peak RSS, summed.
    pub fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        self.members.iter().map(Server::peak_rss_bytes).sum()
    }

    /// The members' RSS now, summed.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        self.members.iter().map(Server::rss_bytes).sum()
    }

    /// The members' data dirs on disk, summed.
    pub fn data_dir_bytes(&self) -> anyhow::Result<u64> {
        self.members.iter().map(Server::data_dir_bytes).sum()
    }

    /// Stops every member (SIGTERM, then SIGKILL after 10 s), the last added first.
    pub async fn stop(self) -> anyhow::Result<()> {
        for m in self.members.into_iter().rev() {
            m.stop().await?;
        }
        Ok(())
    }
}

/// The index of the leader among `endpoints`, asking each for its `Status` (as etcd's
/// benchmark does for `--target-leader`). Retries for up to `timeout` while there is no
/// leader or no endpoint is it.
pub async fn leader_index(endpoints: &[String], dial_timeout: Duration, timeout: Duration) -> anyhow::Result<usize> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut last = String::from("no member answered");
        for (i, ep) in endpoints.iter().enumerate() {
            let status = async {
                let c = client::Client::connect(std::slice::from_ref(ep), dial_timeout).await?;
                c.status().await
            };
            match tokio::time::timeout(dial_timeout, status).await {
                Ok(Ok(s)) if s.leader != 0 && s.header.is_some_and(|h| h.member_id == s.leader) => return Ok(i),
                Ok(Ok(s)) => last = format!("{ep} is not the leader (leader id {:x})", s.leader),
                Ok(Err(e)) => last = format!("{ep}: {e}"),
                Err(_) => last = format!("{ep}: no Status within {dial_timeout:?}"),
            }
        }
        if Instant::now() > deadline {
            bail!("no leader among {endpoints:?} within {timeout:?}; {last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where the load's connections go: the leader alone, or every member, followers first
/// (connection `i` goes to the `i`-th, see `measure::connect`).
pub fn client_endpoints(endpoints: &[String], leader: usize, target_leader: bool) -> Vec<String> {
    if target_leader {
        return endpoints.get(leader).cloned().into_iter().collect();
    }
    let mut ordered: Vec<String> =
        endpoints.iter().enumerate().filter(|(i, _)| *i != leader).map(|(_, e)| e.clone()).collect();
    ordered.extend(endpoints.get(leader).cloned());
    ordered
}

/// `n` distinct `http://127.0.0.1:<port>` URLs on ports free a moment ago (all bound
/// at once, so no two are the same).
fn free_loopback_urls(n: usize) -> anyhow::Result<Vec<String>> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<Result<_, _>>().context("finding a free port")?;
    listeners.iter().map(|l| Ok(format!("http://{}", l.local_addr()?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_go_to_the_leader_alone_or_to_the_followers_first() {
        let eps: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(client_endpoints(&eps, 1, true), ["b"]);
        assert_eq!(client_endpoints(&eps, 1, false), ["a", "c", "b"]);
        assert_eq!(client_endpoints(&eps, 0, false), ["b", "c", "a"]);
        assert_eq!(client_endpoints(&eps[..1], 0, false), ["a"], "a lone member is its own leader");
    }

    #[test]
    fn free_urls_are_distinct_loopback_urls() {
        let urls = free_loopback_urls(8).expect("ports");
        assert!(urls.iter().all(|u| u.starts_with("http://127.0.0.1:")), "{urls:?}");
        let mut unique = urls.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 8, "{urls:?}");
    }
}
