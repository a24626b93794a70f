//! `catchup`: how long a member added to a cluster holding `--bytes` of data takes to
//! catch up (issue 6's benchmark). With a log purged by snapshots (`--snapshot-count`
//! in the launched command), that is the leader streaming its snapshot and the log
//! after it.
//!
//! 1. With `--restart-follower`, a follower is stopped first ([`Catchup::prepare`]).
//! 2. Load: `--bytes / --val-size` distinct keys, each put once, by `--clients` clients
//!    over the load's connections: a `put` run with sequential keys, reported as the run.
//! 3. Settle: wait until every running member's serializable revision is the leader's.
//! 4. `MemberAdd` through the leader and start the new member with
//!    `--initial-cluster-state existing` ([`Cluster::add_member`]); or start the stopped
//!    follower again.
//! 5. Poll that member with a serializable count of every key ([`POLL`]) until its count
//!    and revision are the leader's. The catch-up is the time from its spawn to that
//!    answer, so it includes the process's start-up.

use super::{Conn, Put, Workload};
use crate::cli::{CatchupArgs, GlobalArgs, PutArgs};
use crate::cluster::{Cluster, leader_index};
use crate::runner::{self, Plan, Stop};
use anyhow::{Context, bail, ensure};
use api::etcdserverpb::RangeRequest;
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How often the new member (and, while settling, every member) is asked for its count.
const POLL: Duration = Duration::from_millis(20);

/// How long the followers may take to apply the load once the leader has.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

/// The `catchup` workload.
#[derive(Debug)]
pub struct Catchup {
    keys: u64,
    key_size: usize,
    val_size: u64,
    timeout: Duration,
    restart_follower: bool,
    /// The load: `keys` sequential puts.
    put: Arc<Workload>,
}

/// What `catchup` measured besides the load.
#[derive(Debug, Clone, Serialize)]
pub struct CatchupFigures {
    /// Keys loaded, each once.
    pub keys: u64,
    /// Bytes of values loaded.
    pub loaded_bytes: u64,
    /// The leader's revision once the load was applied everywhere.
    pub revision: i64,
    /// The leader's `dbSize` then.
    pub leader_db_size_bytes: i64,
    /// From the last put's answer to every member at the leader's revision.
    pub settle_ms: f64,
    /// `MemberAdd` sent to answered (none with `--restart-follower`).
    pub member_add_ms: Option<f64>,
    /// The new (or restarted) member's spawn to its serializable count and revision equal
    /// to the leader's.
    pub catchup_ms: f64,
    /// CPU time of all members (the new one too) during the catch-up.
    pub catchup_cpu_s: Option<f64>,
    /// The new member's data dir once caught up.
    pub new_member_data_dir_bytes: Option<u64>,
    /// The new member's peak RSS once caught up.
    pub new_member_peak_rss_bytes: Option<u64>,
}

impl Catchup {
    /// Checks the flags and makes the load.
    pub fn new(args: &CatchupArgs, seed: u64) -> anyhow::Result<Catchup> {
        let keys = args.bytes / args.val_size;
        ensure!(keys > 0, "--bytes {} holds no value of --val-size {}", args.bytes, args.val_size);
        let put = PutArgs {
            key_size: args.key_size,
            val_size: usize::try_from(args.val_size).context("--val-size")?,
            key_space_size: keys,
            sequential_keys: true,
        };
        Ok(Catchup {
            keys,
            key_size: args.key_size,
            val_size: args.val_size,
            timeout: args.catchup_timeout,
            restart_follower: args.restart_follower,
            put: Arc::new(Workload::Put(Put::new(&put, seed)?)),
        })
    }

    pub(super) fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        let v = json!({
            "keys": self.keys,
            "key_size": self.key_size,
            "val_size": self.val_size,
            "catchup_timeout_s": self.timeout.as_secs_f64(),
            "restart_follower": self.restart_follower,
        });
        v.as_object().cloned().unwrap_or_default()
    }

    /// Puts every key once over `conns`.
    pub async fn load(&self, global: &GlobalArgs, conns: &[Conn]) -> anyhow::Result<runner::Outcome> {
        let plan = Plan {
            clients: global.clients,
            stop: Stop::Total(self.keys),
            rate: global.rate,
            request_timeout: global.request_timeout,
            seed: global.seed,
            progress: false,
        };
        let outcome = runner::run(&self.put, conns, &plan).await?;
        let failed = outcome.recorder.failed();
        ensure!(failed == 0, "{failed} of {} puts of the load failed: {:?}", self.keys, outcome.recorder.errors());
        Ok(outcome)
    }

    /// Step 1: with `--restart-follower`, stops a follower and returns its index.
    pub async fn prepare(&self, global: &GlobalArgs, cluster: &mut Cluster) -> anyhow::Result<Option<usize>> {
        if !self.restart_follower {
            return Ok(None);
        }
        ensure!(
            global.target_leader,
            "catchup --restart-follower needs --target-leader: the stopped follower takes no load"
        );
        let endpoints = cluster.endpoints();
        ensure!(endpoints.len() > 1, "--restart-follower needs --members 2 or more");
        let leader = leader_index(&endpoints, global.dial_timeout, global.startup_timeout).await?;
        let follower = (leader + 1) % endpoints.len();
        cluster.member_mut(follower).context("the follower")?.pause().await?;
        Ok(Some(follower))
    }

    /// Steps 3 to 5, once the load is in; `stopped` is what [`Catchup::prepare`] returned.
    pub async fn catch_up(
        &self,
        global: &GlobalArgs,
        cluster: &mut Cluster,
        stopped: Option<usize>,
    ) -> anyhow::Result<CatchupFigures> {
        let loaded = Instant::now();
        let endpoints = cluster.endpoints();
        let running: Vec<String> =
            endpoints.iter().enumerate().filter(|(i, _)| Some(*i) != stopped).map(|(_, e)| e.clone()).collect();
        let leader_ep = &running[leader_index(&running, global.dial_timeout, global.startup_timeout).await?];
        let leader = endpoints.iter().position(|e| e == leader_ep).context("the leader")?;
        let admin = client::Client::connect(std::slice::from_ref(leader_ep), global.dial_timeout).await?;
        let (count, revision) = count_and_revision(&admin).await.context("reading the leader")?;
        ensure!(count == self.keys as i64, "the leader holds {count} keys, not the {} loaded", self.keys);
        for ep in &running {
            wait_until_at(ep, count, revision, SETTLE_TIMEOUT, global, cluster).await?;
        }
        let settle = loaded.elapsed();
        let db_size = admin.status().await.context("Status of the leader")?.db_size;

        let cpu_before = cluster.cpu_time()?;
        let (member, member_add) = match stopped {
            Some(i) => {
                cluster.member_mut(i).context("the stopped follower")?.resume()?;
                (i, None)
            }
            None => {
                let (i, took) = cluster.add_member(&admin).await?;
                (i, Some(ms(took)))
            }
        };
        let spawned = Instant::now();
        let member_ep = cluster.member(member).context("the catching-up member")?.endpoint().to_owned();
        if let Err(e) = wait_until_at(&member_ep, count, revision, self.timeout, global, cluster).await {
            let log = |i: usize| cluster.member(i).map(|m| m.log_tail()).unwrap_or_default();
            bail!(
                "{e:#}\nthe catching-up member's log ends with:\n{}\nthe leader's log ends with:\n{}",
                log(member),
                log(leader)
            );
        }
        let catchup = spawned.elapsed();
        let catchup_cpu = cluster.cpu_time()?.saturating_sub(cpu_before);
        let m = cluster.member(member);
        Ok(CatchupFigures {
            keys: self.keys,
            loaded_bytes: self.keys * self.val_size,
            revision,
            leader_db_size_bytes: db_size,
            settle_ms: ms(settle),
            member_add_ms: member_add,
            catchup_ms: ms(catchup),
            catchup_cpu_s: Some(round3(catchup_cpu.as_secs_f64())),
            new_member_data_dir_bytes: m.map(|m| m.data_dir_bytes()).transpose()?,
            new_member_peak_rss_bytes: m.map(|m| m.peak_rss_bytes()).transpose()?,
        })
    }
}

impl CatchupFigures {
    /// Rows of the readable table.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let opt_mib = |b: Option<u64>| b.map_or("-".to_owned(), |b| format!("{:.1} MiB", mib(b)));
        vec![
            (
                "loaded",
                format!("{} keys, {:.1} MiB of values, revision {}", self.keys, mib(self.loaded_bytes), self.revision),
            ),
            ("leader db size", format!("{:.1} MiB", self.leader_db_size_bytes as f64 / (1024.0 * 1024.0))),
            ("settled after", format!("{:.0} ms", self.settle_ms)),
            ("member add", self.member_add_ms.map_or("- (a follower restarted)".to_owned(), |m| format!("{m:.1} ms"))),
            ("caught up after", format!("{:.0} ms (spawn to the leader's count and revision)", self.catchup_ms)),
            ("catch-up cpu", self.catchup_cpu_s.map_or("-".to_owned(), |s| format!("{s:.2} s (all members)"))),
            ("new member disk", opt_mib(self.new_member_data_dir_bytes)),
            ("new member rss", opt_mib(self.new_member_peak_rss_bytes)),
        ]
    }
}

/// A serializable count of every key: the member's count and its revision.
async fn count_and_revision(c: &client::Client) -> client::Result<(i64, i64)> {
    let req =
        RangeRequest { key: vec![0], range_end: vec![0], count_only: true, serializable: true, ..Default::default() };
    let resp = c.range(req).await?;
    Ok((resp.count, resp.header.map_or(0, |h| h.revision)))
}

/// Polls `endpoint` until it holds `count` keys at `revision` or later, at most `timeout`;
/// fails early if a member exits.
async fn wait_until_at(
    endpoint: &str,
    count: i64,
    revision: i64,
    timeout: Duration,
    global: &GlobalArgs,
    cluster: &mut Cluster,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut client = None;
    let mut seen = String::from("no answer");
    loop {
        cluster.check_running()?;
        if client.is_none() {
            client = client::Client::connect(&[endpoint.to_owned()], global.dial_timeout).await.ok();
        }
        if let Some(c) = &client {
            match tokio::time::timeout(global.request_timeout, count_and_revision(c)).await {
                Ok(Ok((n, rev))) if n == count && rev >= revision => return Ok(()),
                Ok(Ok((n, rev))) => seen = format!("{n} keys at revision {rev}"),
                Ok(Err(e)) => seen = e.to_string(),
                Err(_) => seen = format!("no answer within {:?}", global.request_timeout),
            }
        }
        if Instant::now() > deadline {
            bail!("{endpoint} did not reach {count} keys at revision {revision} within {timeout:?}; last: {seen}");
        }
        tokio::time::sleep(POLL).await;
    }
}

fn ms(d: Duration) -> f64 {
    round3(d.as_secs_f64() * 1e3)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(bytes: u64, val_size: u64) -> CatchupArgs {
        CatchupArgs { bytes, val_size, key_size: 8, catchup_timeout: Duration::from_secs(1), restart_follower: false }
    }

    #[test]
    fn the_load_is_bytes_over_value_size_keys_that_must_fit_the_key_size() {
        let c = Catchup::new(&args(1 << 30, 65536), 1).expect("valid");
        assert_eq!(c.keys, 16384);
        assert_eq!((c.params()["keys"].as_u64(), c.params()["val_size"].as_u64()), (Some(16384), Some(65536)));
        assert!(Catchup::new(&args(100, 256), 1).is_err(), "no whole value");
        assert!(Catchup::new(&args(1 << 40, 1), 1).is_err(), "2^40 keys need 13 digits, not 8");
    }
}
