//! `defrag --cluster`: every member, one at a time, followers first, never while it leads.
//!
//! The plan, and why each step differs from etcdctl 3.4 (which defragments the member
//! list's client URLs in list order, the leader among them, one right after the other):
//!
//! 1. Every member with a client URL is asked for its `Status` first. If one does not
//!    answer or knows no leader, nothing is defragmented: on etcd, whose defragmentation
//!    blocks the member, defragmenting one member of a 3-member cluster that already has
//!    one member down stops the cluster. (`--endpoints` without `--cluster` still
//!    defragments whatever it is given.) Members without a client URL (added, never
//!    started) are skipped with a note on stderr; etcdctl skips them silently.
//! 2. Followers go first, in member-list order, and the leader last.
//! 3. Before a member is defragmented, it is asked whether it leads (the leader's turn,
//!    or a follower that won an election meanwhile). If it does, leadership is moved
//!    (`MoveLeader`) to the first member already defragmented and found healthy, else to
//!    any other voter, and the member must stop leading within `--command-timeout`. So
//!    the member being defragmented never leads, and the cluster's writes go on through
//!    a member that is not busy. A cluster with one voter has nowhere to move it.
//! 4. After each member, the command waits until that member answers `Status` naming a
//!    leader and, for a voter, a linearizable `Get` (as `endpoint health`; permission
//!    denied counts as healthy), before it goes on. If it does not within
//!    `--command-timeout`, it stops with an error naming the member and those not
//!    defragmented yet.
//! 5. A failed defragmentation prints etcdctl's `Failed to defragment etcd member[<url>].
//!    took <d>. (<error>)` and stops (exit 1), where etcdctl goes on to the next member: a
//!    member whose defragmentation timed out may still be defragmenting.
//! 6. Each member is defragmented once, through its first client URL; etcdctl visits
//!    every client URL of every member.
//!
//! Each member's line is etcdctl 3.6's, and leadership moves are reported on stderr:
//!
//! ```text
//! $ stratactl --endpoints 127.0.0.1:2379 defrag --cluster
//! Finished defragmenting etcd member[http://127.0.0.1:22379]. took 1.204221s
//! Finished defragmenting etcd member[http://127.0.0.1:32379]. took 1.18701s
//! Moved leadership from 8e9e05c52164694d to 91bc3c398fb3c146 before defragmenting etcd member[http://127.0.0.1:2379]
//! Finished defragmenting etcd member[http://127.0.0.1:2379]. took 1.213412s
//! ```

use super::defragment;
use crate::cli::GlobalFlags;
use crate::command::{Io, endpoint, with_client_at, with_client_until};
use crate::error::{CtlError, ExitCode, Result};
use crate::gosyntax::format_duration;
use api::etcdserverpb::{Member, RangeRequest, StatusResponse};
use std::time::Duration;
use tokio::time::Instant;

/// How often a member that is not healthy yet, or still leads, is asked again.
const RETRY: Duration = Duration::from_millis(100);

/// A member to defragment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    id: u64,
    /// Its first client URL: where it is asked and defragmented.
    endpoint: String,
    is_learner: bool,
}

/// Runs `defrag --cluster`.
pub(super) async fn run(global: &GlobalFlags, io: &mut Io<'_>) -> Result<()> {
    let targets = targets(&endpoint::member_list(global).await?.members);
    let leader = leader_before(global, &targets).await?;
    let order = order(&targets, leader);
    let mut done: Vec<&Target> = Vec::new();
    for (i, target) in order.iter().enumerate() {
        let rest = &order[i + 1..];
        step_down(global, target, &done, &targets).await.map_err(|why| stop(why, rest))?;
        if let Err(line) = defragment(global, &target.endpoint, io).await {
            eprintln!("{line}");
            return Err(if rest.is_empty() { CtlError::quiet(ExitCode::Error) } else { stop(String::new(), rest) });
        }
        wait_healthy(global, target).await.map_err(|problem| {
            let within = format_duration(global.command_timeout);
            let why = format!(
                "etcd member[{}] is not healthy {within} after its defragmentation: {problem}",
                target.endpoint
            );
            stop(why, rest)
        })?;
        done.push(target);
    }
    Ok(())
}

/// The members with a client URL, in member-list order; the others are noted on stderr.
fn targets(members: &[Member]) -> Vec<Target> {
    let mut targets = Vec::new();
    for m in members {
        match m.client_ur_ls.first() {
            Some(url) => targets.push(Target { id: m.id, endpoint: url.clone(), is_learner: m.is_learner }),
            None => eprintln!("Skipping member {:x}: it has no client URL (it has not started)", m.id),
        }
    }
    targets
}

/// The leader, once every target has answered `Status` and named one (the one a member
/// that leads names, if they disagree during an election).
async fn leader_before(global: &GlobalFlags, targets: &[Target]) -> Result<u64> {
    let mut named = Vec::new();
    for t in targets {
        let refuse = |problem: String| {
            CtlError::error(format!(
                "etcd member[{}] {problem}; nothing was defragmented (to defragment the members that answer, \
                 give them to --endpoints without --cluster)",
                t.endpoint
            ))
        };
        let status = status(global, &t.endpoint, None).await.map_err(|e| refuse(format!("did not answer ({e})")))?;
        if status.leader == 0 {
            return Err(refuse("knows no leader".to_owned()));
        }
        named.push((t.id, status.leader));
    }
    let leading = named.iter().find(|(id, leader)| id == leader).or(named.first());
    Ok(leading.map(|(_, leader)| *leader).unwrap_or_default())
}

/// Followers in member-list order, then the leader.
fn order(targets: &[Target], leader: u64) -> Vec<&Target> {
    let (leaders, mut order): (Vec<&Target>, Vec<&Target>) = targets.iter().partition(|t| t.id == leader);
    order.extend(leaders);
    order
}

/// Who takes over from `target`: the first voter already defragmented (and found
/// healthy), else the first other voter; `None` when `target` is the only voter.
fn transferee<'a>(target: &Target, done: &[&'a Target], targets: &'a [Target]) -> Option<&'a Target> {
    let other_voter = |t: &&Target| t.id != target.id && !t.is_learner;
    done.iter().copied().find(other_voter).or_else(|| targets.iter().find(other_voter))
}

/// Moves leadership off `target` if it leads, and waits until it no longer does.
async fn step_down(global: &GlobalFlags, target: &Target, done: &[&Target], targets: &[Target]) -> Result<(), String> {
    let ep = &target.endpoint;
    let leads = status(global, ep, None).await.map_err(|e| format!("etcd member[{ep}] did not answer ({e})"))?.leader;
    if leads != target.id {
        return Ok(());
    }
    let Some(to) = transferee(target, done, targets) else { return Ok(()) };
    let (from_hex, to_hex) = (format!("{:x}", target.id), format!("{:x}", to.id));
    let one = std::slice::from_ref(ep);
    with_client_at(global, one, |c| async move { c.move_leader(to.id).await }).await.map_err(|e| {
        format!(
            "could not move leadership from {from_hex} to {to_hex} before defragmenting etcd member[{ep}]: {}",
            e.message
        )
    })?;
    eprintln!("Moved leadership from {from_hex} to {to_hex} before defragmenting etcd member[{ep}]");
    // The member answers MoveLeader once it sees the new leader; checked all the same,
    // since defragmenting a leader is what this command is built to avoid.
    let deadline = Instant::now() + global.command_timeout;
    loop {
        let leader = status(global, ep, Some(deadline)).await.map(|s| s.leader);
        if matches!(leader, Ok(l) if l != 0 && l != target.id) {
            return Ok(());
        }
        if Instant::now() + RETRY >= deadline {
            let now = leader.map_or_else(|e| e, |l| format!("its leader is {l:x}"));
            return Err(format!("etcd member[{ep}] still leads after moving leadership to {to_hex} ({now})"));
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Waits within `--command-timeout` until `target` names a leader and, if it votes,
/// serves a linearizable read; the last problem seen if it does not.
async fn wait_healthy(global: &GlobalFlags, target: &Target) -> Result<(), String> {
    let deadline = Instant::now() + global.command_timeout;
    loop {
        let problem = match healthy(global, target, deadline).await {
            Ok(()) => return Ok(()),
            Err(problem) => problem,
        };
        if Instant::now() + RETRY >= deadline {
            return Err(problem);
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn healthy(global: &GlobalFlags, target: &Target, deadline: Instant) -> Result<(), String> {
    let status = status(global, &target.endpoint, Some(deadline)).await?;
    if status.leader == 0 {
        return Err("it knows no leader".to_owned());
    }
    if target.is_learner {
        return Ok(());
    }
    let one = std::slice::from_ref(&target.endpoint);
    let get = RangeRequest { key: b"health".to_vec(), ..Default::default() };
    match with_client_until(global, one, deadline, |c| async move { c.range(get).await }).await {
        Ok(_) => Ok(()),
        Err(e) if e.message == "etcdserver: permission denied" => Ok(()),
        Err(e) => Err(format!("a linearizable get failed: {}", e.message)),
    }
}

/// `Status` of the member at `ep`, within `deadline` or else `--command-timeout`.
async fn status(global: &GlobalFlags, ep: &str, deadline: Option<Instant>) -> Result<StatusResponse, String> {
    let deadline = deadline.unwrap_or_else(|| Instant::now() + global.command_timeout);
    let one = [ep.to_owned()];
    with_client_until(global, &one, deadline, |c| async move { c.status().await }).await.map_err(|e| e.message)
}

/// The error that ends the run: `why`, and the members left alone.
fn stop(why: String, rest: &[&Target]) -> CtlError {
    if rest.is_empty() {
        return CtlError::error(why);
    }
    let left: Vec<String> = rest.iter().map(|t| format!("etcd member[{}]", t.endpoint)).collect();
    let left = format!("stopped before defragmenting {}", left.join(", "));
    CtlError::error(if why.is_empty() { left } else { format!("{why}; {left}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, clients: &[&str], is_learner: bool) -> Member {
        let urls = |v: &[&str]| v.iter().map(|u| format!("http://127.0.0.1:{u}")).collect();
        Member { id, name: format!("m{id}"), peer_ur_ls: urls(&["1"]), client_ur_ls: urls(clients), is_learner }
    }

    fn cluster() -> Vec<Target> {
        targets(&[
            member(0xa, &["2379", "2479"], false),
            member(0xb, &[], false),
            member(0xc, &["22379"], true),
            member(0xd, &["32379"], false),
        ])
    }

    fn ids(targets: &[&Target]) -> Vec<u64> {
        targets.iter().map(|t| t.id).collect()
    }

    #[test]
    fn each_started_member_once_through_its_first_client_url() {
        let targets = cluster();
        assert_eq!(
            targets.iter().map(|t| (t.id, t.endpoint.as_str())).collect::<Vec<_>>(),
            [(0xa, "http://127.0.0.1:2379"), (0xc, "http://127.0.0.1:22379"), (0xd, "http://127.0.0.1:32379")]
        );
        assert!(targets[1].is_learner);
    }

    #[test]
    fn followers_in_list_order_then_the_leader() {
        let targets = cluster();
        assert_eq!(ids(&order(&targets, 0xa)), [0xc, 0xd, 0xa]);
        assert_eq!(ids(&order(&targets, 0xd)), [0xa, 0xc, 0xd]);
        // A leader that is not among them (no client URL) leaves the list order.
        assert_eq!(ids(&order(&targets, 0xb)), [0xa, 0xc, 0xd]);
    }

    #[test]
    fn leadership_goes_to_a_defragmented_voter_first() {
        let list = cluster();
        let (a, c, d) = (&list[0], &list[1], &list[2]);
        // The leader's turn: d was defragmented (c is a learner and cannot lead).
        assert_eq!(transferee(a, &[c, d], &list).map(|t| t.id), Some(0xd));
        // A follower that leads before anyone was defragmented: any other voter.
        assert_eq!(transferee(d, &[], &list).map(|t| t.id), Some(0xa));
        assert_eq!(transferee(a, &[c], &list).map(|t| t.id), Some(0xd));
        // The only voter has nowhere to go.
        let alone = targets(&[member(1, &["2379"], false), member(2, &["2479"], true)]);
        assert_eq!(transferee(&alone[0], &[&alone[1]], &alone), None);
    }

    #[test]
    fn stopping_names_the_members_left_alone() {
        let targets = cluster();
        let rest: Vec<&Target> = targets[1..].iter().collect();
        assert_eq!(
            stop("etcd member[x] is not healthy 5s after its defragmentation: it knows no leader".into(), &rest)
                .message,
            "etcd member[x] is not healthy 5s after its defragmentation: it knows no leader; stopped before \
             defragmenting etcd member[http://127.0.0.1:22379], etcd member[http://127.0.0.1:32379]"
        );
        assert_eq!(
            stop(String::new(), &rest[1..]).message,
            "stopped before defragmenting etcd member[http://127.0.0.1:32379]"
        );
        let last = stop("why".into(), &[]);
        assert_eq!((last.code, last.message.as_str()), (ExitCode::Error, "why"));
    }
}
