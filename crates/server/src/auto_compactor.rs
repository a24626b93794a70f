//! Auto-compaction: etcd's `--auto-compaction-mode` and
//! `--auto-compaction-retention`, with etcd's schedule (v3compactor, 3.3.3 and
//! later) and log lines.
//!
//! Every member runs an [`AutoCompactor`]; only the leader compacts. A
//! follower's ticks do nothing (etcd pauses its compactor) and it resumes on
//! becoming leader. A compaction is an ordinary `Compact` (not physical)
//! proposed through Raft, exactly as the KV service's; a "compacted" answer
//! counts as success.
//!
//! * Periodic, retention P: `interval = min(P, 1h)`, a tick every
//!   `interval / 10`. At a tick at least `interval` after the last success
//!   (or the start) it compacts to the revision current at `now − P`; a failure
//!   is retried at the next tick. etcd keeps that revision in an in-memory
//!   ring sampled at each tick; Strata asks the backend's revision clock
//!   (written by the applier, [`crate::apply::clock`]), which survives restarts
//!   and leader changes, so the first compaction after either already keeps
//!   exactly P of history. Only when no sample is that old (a fresh member)
//!   does it fall back to etcd's first sample, the revision at start: so a
//!   fresh member compacts first after P, then every interval, like etcd.
//! * Revision, retention R: a tick every 5 minutes compacts to
//!   `current − R` unless that is ≤ 0 or the target it compacted last.
//!
//! ```text
//! retention  tick    first compaction (fresh / after restart)  then every
//! 5s         500ms   5s / 5s                                    5s
//! 30m        3m      30m / 30m                                  30m
//! 24h        6m      24h / 1h                                   1h
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use api::etcdserverpb::{CompactionRequest, InternalRaftRequest};
use backend::Backend;
use tokio::time::Instant;

use crate::apply::clock::{WallClock, unix_secs};
use crate::config::Retention;
use crate::error::EtcdError;
use crate::member::Member;
use crate::supervisor::TaskError;

/// etcd's `revInterval`: revision mode checks every 5 minutes.
const REVISION_TICK: Duration = Duration::from_secs(5 * 60);

/// The longest periodic compaction interval (etcd compacts at least hourly).
const MAX_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Runs the auto-compactor of `member` until the task is aborted. A revision
/// clock that cannot be read is a broken backend: fatal.
pub async fn run(member: Arc<Member>, retention: Retention, wall: WallClock) -> Result<(), TaskError> {
    // The revision first, then the time: the pair must not claim a revision
    // that was current only after that time.
    let start_rev = member.store.rev();
    let Some(mut ac) = AutoCompactor::new(retention, wall.now(), start_rev) else { return Ok(()) };
    let started = Instant::now();
    loop {
        // Like etcd, the next tick counts from the end of this one, so a
        // compaction that just finished is followed by exactly one interval.
        tokio::time::sleep(ac.tick_every()).await;
        let leader = member.raft.leader() == Some(member.member_id);
        let due = ac.due(started.elapsed(), wall.now(), leader, member.store.rev(), member.store.backend());
        let rev = match due {
            Ok(Some(rev)) => rev,
            Ok(None) => continue,
            Err(e) => return Err(TaskError::Fatal(format!("cannot read the revision clock: {e}"))),
        };
        ac.log_starting(rev);
        let began = Instant::now();
        let req = CompactionRequest { revision: rev, physical: false };
        match member
            .propose(
                InternalRaftRequest { compaction: Some(req), ..Default::default() },
                Some(&auth::AuthInfo::member_itself()),
            )
            .await
        {
            Ok(_) | Err(EtcdError::Compacted) => ac.succeeded(rev, started.elapsed(), began.elapsed()),
            Err(e) => ac.log_failed(rev, &e),
        }
    }
}

/// The schedule of one member's auto-compaction, driven by ticks whose time
/// is passed in.
#[derive(Debug)]
pub struct AutoCompactor {
    policy: Policy,
    /// Time since the start at the last successful compaction (0 at first).
    last_success: Duration,
    /// The revision current at start and the wall time just after reading it:
    /// etcd's first sample, used while the revision clock has none that old.
    start: (SystemTime, i64),
}

#[derive(Debug)]
enum Policy {
    /// `prev` is the last target compacted (0 before any).
    Periodic { period: Duration, prev: i64 },
    /// `prev` as in `Periodic`.
    Revisions { retention: i64, prev: i64 },
}

impl AutoCompactor {
    /// `None` when auto-compaction is disabled.
    pub fn new(retention: Retention, start_wall: SystemTime, start_rev: i64) -> Option<AutoCompactor> {
        let policy = match retention {
            Retention::Disabled => return None,
            Retention::Periodic(period) => Policy::Periodic { period, prev: 0 },
            Retention::Revisions(retention) => Policy::Revisions { retention, prev: 0 },
        };
        Some(AutoCompactor { policy, last_success: Duration::ZERO, start: (start_wall, start_rev) })
    }

    /// How often to call [`AutoCompactor::due`]: a tenth of the compaction
    /// interval (periodic) or 5 minutes (revision).
    pub fn tick_every(&self) -> Duration {
        match self.policy {
            Policy::Periodic { period, .. } => period.min(MAX_INTERVAL) / 10,
            Policy::Revisions { .. } => REVISION_TICK,
        }
    }

    /// At a tick, `since_start` after the compactor started: the revision to
    /// compact to now, if any. A follower never compacts.
    pub fn due(
        &self,
        since_start: Duration,
        wall: SystemTime,
        leader: bool,
        current_rev: i64,
        backend: &Backend,
    ) -> backend::Result<Option<i64>> {
        if !leader {
            return Ok(None);
        }
        match self.policy {
            Policy::Periodic { period, prev } => {
                if since_start.saturating_sub(self.last_success) < period.min(MAX_INTERVAL) {
                    return Ok(None);
                }
                let Some(then) = wall.checked_sub(period) else { return Ok(None) };
                let sampled = backend.begin_read()?.revision_at(unix_secs(then))?;
                let at_start = (self.start.0 <= then).then_some(self.start.1);
                // etcd 3.6 skips a compaction to the revision it compacted last
                // (an idle cluster no longer repeats the same one).
                Ok(sampled.max(at_start).filter(|&rev| rev > 0 && rev != prev))
            }
            Policy::Revisions { retention, prev } => {
                let target = current_rev - retention;
                Ok((target > 0 && target != prev).then_some(target))
            }
        }
    }

    /// Records a successful compaction to `rev` (or one that found `rev`
    /// already compacted) and logs it. `took` is how long the request took.
    pub fn succeeded(&mut self, rev: i64, since_start: Duration, took: Duration) {
        match &mut self.policy {
            Policy::Periodic { period, prev } => {
                *prev = rev;
                // The request's duration, as etcd 3.5+ (3.4 reported the time
                // since the previous success).
                tracing::info!(
                    revision = rev,
                    "compact-period" = %go_duration(*period),
                    took = %go_duration(took),
                    "completed auto periodic compaction"
                );
            }
            Policy::Revisions { retention, prev } => {
                *prev = rev;
                tracing::info!(
                    revision = rev,
                    "revision-compaction-retention" = *retention,
                    took = %go_duration(took),
                    "completed auto revision compaction"
                );
            }
        }
        self.last_success = since_start;
    }

    fn log_starting(&self, rev: i64) {
        match self.policy {
            Policy::Periodic { period, .. } => tracing::info!(
                revision = rev,
                "compact-period" = %go_duration(period),
                "starting auto periodic compaction"
            ),
            Policy::Revisions { retention, .. } => tracing::info!(
                revision = rev,
                "revision-compaction-retention" = retention,
                "starting auto revision compaction"
            ),
        }
    }

    fn log_failed(&self, rev: i64, err: &EtcdError) {
        let retry = go_duration(self.tick_every());
        match self.policy {
            Policy::Periodic { period, .. } => tracing::warn!(
                revision = rev,
                "compact-period" = %go_duration(period),
                "retry-interval" = %retry,
                error = %err,
                "failed auto periodic compaction"
            ),
            Policy::Revisions { retention, .. } => tracing::warn!(
                revision = rev,
                "revision-compaction-retention" = retention,
                "retry-interval" = %retry,
                error = %err,
                "failed auto revision compaction"
            ),
        }
    }
}

/// Go's `time.Duration.String`: `500ms`, `20s`, `5m0s`, `1h0m0s`, `1.5µs`.
fn go_duration(d: Duration) -> String {
    fn decimal(n: u128, unit: u128, digits: usize, suffix: &str) -> String {
        let (whole, frac) = (n / unit, n % unit);
        if frac == 0 {
            return format!("{whole}{suffix}");
        }
        let frac = format!("{frac:0digits$}");
        format!("{whole}.{}{suffix}", frac.trim_end_matches('0'))
    }
    let ns = d.as_nanos();
    match ns {
        0 => "0s".to_string(),
        1..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => decimal(ns, 1_000, 3, "µs"),
        1_000_000..1_000_000_000 => decimal(ns, 1_000_000, 6, "ms"),
        _ => {
            let secs = d.as_secs();
            let (h, m) = (secs / 3600, secs % 3600 / 60);
            let s =
                decimal(u128::from(secs % 60) * 1_000_000_000 + u128::from(d.subsec_nanos()), 1_000_000_000, 9, "s");
            match (h, m) {
                (0, 0) => s,
                (0, m) => format!("{m}m{s}"),
                (h, m) => format!("{h}h{m}m{s}"),
            }
        }
    }
}

#[cfg(test)]
mod tests;
