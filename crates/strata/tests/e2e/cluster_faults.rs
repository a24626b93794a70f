//! A 3-member cluster under faults while clients work: `kill -9` of the
//! leader or of a follower (then a restart), and a partition that cuts the
//! leader off (testkit's proxies between the members' peer ports).
//!
//! Six clients, two on their own connection to each member, put unique keys,
//! and put, get (linearizable) and compare-and-set a few shared keys, each
//! write with a value of its own. Afterwards every acknowledged write must be
//! readable on every member, the shared keys' history must be linearizable
//! (`crate::linearizability`), and all members must agree on HashKV.
//!
//! Short timeouts (`--election-timeout 500 --heartbeat-interval 50`) keep
//! each test to seconds; every wait has a deadline.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp, TxnOpResponse};
use testkit::{MemberProcess, Network};
use tokio::task::JoinHandle;

use crate::linearizability::{self, Entry, Op};
use crate::support::{OP_TIMEOUT, assert_same_hash, connect, leader, once, put_eventually};

const ELECTION_TIMEOUT: Duration = Duration::from_millis(500);
const FLAGS: &[&str] = &["--election-timeout", "500", "--heartbeat-interval", "50"];

/// The shared keys whose history is checked for linearizability.
const REGISTERS: usize = 4;

/// Clients per member.
const CLIENTS_PER_MEMBER: usize = 2;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_strata")
}

async fn term(m: &MemberProcess) -> u64 {
    once(m, |mut c| async move { c.status().await }).await.map_or(0, |s| s.raft_term())
}

/// What one client did.
#[derive(Default)]
struct ClientLog {
    /// Its operations on the shared keys.
    history: Vec<Entry>,
    /// Its puts of unique keys: key → (value, acknowledged).
    unique: BTreeMap<String, (String, bool)>,
}

/// The clients at work, and how many writes each member has acknowledged.
struct Workload {
    stop: Arc<AtomicBool>,
    acked: Arc<Vec<AtomicUsize>>,
    tasks: Vec<JoinHandle<ClientLog>>,
}

impl Workload {
    fn start(members: &[MemberProcess]) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new((0..members.len()).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let mut tasks = Vec::new();
        for (i, m) in members.iter().enumerate() {
            for j in 0..CLIENTS_PER_MEMBER {
                let id = i * CLIENTS_PER_MEMBER + j;
                let client = Client { id, member: i, endpoint: m.endpoint(), acked: Arc::clone(&acked) };
                tasks.push(tokio::spawn(client.run(Arc::clone(&stop))));
            }
        }
        Workload { stop, acked, tasks }
    }

    fn acked(&self, member: usize) -> usize {
        self.acked[member].load(Ordering::Relaxed)
    }

    /// Waits until the clients of each of `members` have had `n` more writes acknowledged.
    async fn progress(&self, members: &[usize], n: usize, within: Duration) {
        let start: Vec<usize> = members.iter().map(|&i| self.acked(i)).collect();
        let deadline = Instant::now() + within;
        while members.iter().zip(&start).any(|(&i, s)| self.acked(i) < s + n) {
            let now: Vec<usize> = members.iter().map(|&i| self.acked(i)).collect();
            assert!(
                Instant::now() < deadline,
                "no progress through members {members:?} in {within:?}: {start:?} → {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) -> Vec<ClientLog> {
        self.stop.store(true, Ordering::Relaxed);
        let mut logs = Vec::new();
        for t in self.tasks {
            logs.push(t.await.expect("a client task panicked"));
        }
        logs
    }
}

/// One client: its own connection to one member.
struct Client {
    id: usize,
    member: usize,
    endpoint: String,
    acked: Arc<Vec<AtomicUsize>>,
}

impl Client {
    async fn run(self, stop: Arc<AtomicBool>) -> ClientLog {
        let mut log = ClientLog::default();
        let mut conn = connect(&self.endpoint).await;
        // The last value this client saw per shared key: what its txns expect.
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut seq = 0usize;
        while !stop.load(Ordering::Relaxed) {
            seq += 1;
            let Some(c) = conn.as_mut() else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                conn = connect(&self.endpoint).await;
                continue;
            };
            let value = format!("c{}-{seq}", self.id);
            let key = format!("reg/{}", (seq / 7 + self.id) % REGISTERS);
            let call = Instant::now();
            let (op, wrote, answered) = match seq % 10 {
                0..=2 => {
                    let key = format!("w/{}/{seq}", self.id);
                    let done = timed(c.put(key.clone(), value.clone(), None)).await.is_some();
                    log.unique.insert(key, (value, done));
                    (None, true, done)
                }
                3..=5 => {
                    let done = timed(c.put(key.clone(), value.clone(), None)).await.is_some();
                    if done {
                        seen.insert(key.clone(), value.clone());
                    }
                    (Some(Op::Put { value }), true, done)
                }
                6..=7 => {
                    let read = timed(c.get(key.clone(), None)).await.map(|r| first_value(&r));
                    if let Some(Some(v)) = &read {
                        seen.insert(key.clone(), v.clone());
                    }
                    let answered = read.is_some();
                    (Some(Op::Get { read: read.flatten() }), false, answered)
                }
                _ => {
                    let expect = seen.get(&key).cloned().unwrap_or_else(|| "none".to_string());
                    let txn = Txn::new()
                        .when([Compare::value(key.clone(), CompareOp::Equal, expect.clone())])
                        .and_then([TxnOp::put(key.clone(), value.clone(), None)])
                        .or_else([TxnOp::get(key.clone(), None)]);
                    let r = timed(c.txn(txn)).await;
                    let succeeded = r.as_ref().is_some_and(|r| r.succeeded());
                    let read = r.as_ref().filter(|r| !r.succeeded()).and_then(|r| match r.op_responses().first() {
                        Some(TxnOpResponse::Get(g)) => first_value(g),
                        _ => None,
                    });
                    match (&r, succeeded, &read) {
                        (Some(_), true, _) => seen.insert(key.clone(), value.clone()),
                        (Some(_), false, Some(v)) => seen.insert(key.clone(), v.clone()),
                        _ => None,
                    };
                    (Some(Op::Cas { expect, new: value, succeeded, read }), succeeded, r.is_some())
                }
            };
            let ret = answered.then(Instant::now);
            if let Some(op) = op {
                log.history.push(Entry { client: self.id, key, call, ret, op });
            }
            if wrote && answered {
                self.acked[self.member].fetch_add(1, Ordering::Relaxed);
            }
            if !answered {
                // A fresh connection, and a pause so that a member that is
                // down is not flooded with operations of unknown outcome.
                tokio::time::sleep(Duration::from_millis(200)).await;
                conn = connect(&self.endpoint).await;
            }
        }
        log
    }
}

/// The answer of `f`, or None if it failed or did not come within `OP_TIMEOUT`.
async fn timed<T>(f: impl Future<Output = Result<T, etcd_client::Error>>) -> Option<T> {
    tokio::time::timeout(OP_TIMEOUT, f).await.ok()?.ok()
}

fn first_value(r: &etcd_client::GetResponse) -> Option<String> {
    r.kvs().first().map(|kv| String::from_utf8_lossy(kv.value()).into_owned())
}

/// After the faults: every acknowledged unique put is on every member (and
/// nothing that was never put), the shared keys' history, with a final read
/// of each through each member, is linearizable, and all members agree on
/// HashKV.
async fn verify(members: &[MemberProcess], logs: Vec<ClientLog>) {
    let unique: BTreeMap<&String, &(String, bool)> = logs.iter().flat_map(|l| &l.unique).collect();
    let acked = unique.values().filter(|(_, acked)| *acked).count();
    let mut history: Vec<Entry> = logs.iter().flat_map(|l| l.history.clone()).collect();
    let mut rev = 0;
    for (i, m) in members.iter().enumerate() {
        let r = once(m, |mut c| async move { c.get("w/", Some(GetOptions::new().with_prefix())).await })
            .await
            .unwrap_or_else(|| panic!("a linearizable read of w/ through {} failed", m.name()));
        let stored: HashMap<String, String> = r
            .kvs()
            .iter()
            .map(|kv| {
                (String::from_utf8_lossy(kv.key()).into_owned(), String::from_utf8_lossy(kv.value()).into_owned())
            })
            .collect();
        for (key, (value, was_acked)) in &unique {
            match stored.get(*key) {
                Some(v) => assert_eq!(v, value, "{key} on {}", m.name()),
                None => assert!(!was_acked, "{} lost the acknowledged put {key} = {value}", m.name()),
            }
        }
        if let Some(extra) = stored.keys().find(|k| !unique.contains_key(k)) {
            panic!("{} has {extra}, which no client put", m.name());
        }
        for k in 0..REGISTERS {
            let key = format!("reg/{k}");
            let call = Instant::now();
            let k2 = key.clone();
            let r = once(m, |mut c| async move { c.get(k2, None).await })
                .await
                .unwrap_or_else(|| panic!("a linearizable read of {key} through {} failed", m.name()));
            let ret = Some(Instant::now());
            rev = rev.max(r.header().map_or(0, |h| h.revision()));
            history.push(Entry { client: 1000 + i, key, call, ret, op: Op::Get { read: first_value(&r) } });
        }
    }
    let started = Instant::now();
    if let Err(f) = linearizability::check(&history) {
        panic!("{f}");
    }
    eprintln!(
        "{} shared-key operations ({} unknown) linearizable, checked in {:?}; {acked} of {} unique puts acknowledged",
        history.len(),
        history.iter().filter(|e| e.ret.is_none()).count(),
        started.elapsed(),
        unique.len(),
    );
    assert_same_hash(members, &(0..members.len()).collect::<Vec<_>>(), rev).await;
}

fn others(i: usize) -> Vec<usize> {
    (0..3).filter(|j| *j != i).collect()
}

/// Kills the leader (or a follower) with `kill -9` while the clients work,
/// lets the other two carry on, restarts it, and verifies.
async fn kill_and_restart(kill_leader: bool) {
    let mut members = MemberProcess::start_strata_cluster(bin(), 3, FLAGS).expect("start a 3-member cluster");
    let first = leader(&members, &[0, 1, 2], Duration::from_secs(15)).await;
    let victim = if kill_leader { first } else { (first + 1) % 3 };
    let rest = others(victim);
    let work = Workload::start(&members);
    work.progress(&[0, 1, 2], 30, Duration::from_secs(15)).await;

    members[victim].kill9().expect("kill -9");
    let killed = Instant::now();
    if kill_leader {
        let next = leader(&members, &rest, Duration::from_secs(10)).await;
        eprintln!("{} leads {:?} after the leader was killed", members[next].name(), killed.elapsed());
    }
    work.progress(&rest, 60, Duration::from_secs(20)).await;

    tokio::task::block_in_place(|| members[victim].restart()).expect("restart");
    // Its own clients are answered again: it rejoined and caught up.
    work.progress(&[0, 1, 2], 30, Duration::from_secs(20)).await;
    let logs = work.stop().await;
    verify(&members, logs).await;
}

/// `kill -9` of the leader under load: the other two elect a leader and keep
/// taking writes; restarted, it catches up and serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_leader_loses_no_acknowledged_write_and_history_is_linearizable() {
    kill_and_restart(true).await;
}

/// `kill -9` of a follower under load: the other two keep taking writes;
/// restarted, it catches up and serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_follower_loses_no_acknowledged_write_and_history_is_linearizable() {
    kill_and_restart(false).await;
}

/// Whether a request through a member cut off from the others got an answer.
async fn answered<T>(what: &str, f: impl Future<Output = Result<T, etcd_client::Error>>) -> bool {
    let start = Instant::now();
    let outcome = match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(Ok(_)) => "answered".to_string(),
        Ok(Err(e)) => format!("failed ({e})"),
        Err(_) => "timed out".to_string(),
    };
    eprintln!("{what} through the cut-off leader: {outcome} after {:?}", start.elapsed());
    outcome == "answered"
}

/// The leader cut off from both followers under load: the majority elects a
/// new leader (in a higher term) within a few election timeouts and keeps
/// taking writes; the old leader answers no linearizable read, put or txn
/// and acknowledges none of its clients' writes, but serves a serializable
/// read from its own state, without the majority's new write. Healed, it
/// catches up and serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_leader_serves_no_linearizable_read_or_write_and_catches_up_after_heal() {
    let (members, net): (Vec<MemberProcess>, Network) =
        MemberProcess::start_strata_cluster_behind_proxies(bin(), 3, FLAGS).expect("start a proxied cluster");
    let old = leader(&members, &[0, 1, 2], Duration::from_secs(15)).await;
    let old_term = term(&members[old]).await;
    let majority = others(old);
    put_eventually(&members[old], "fence", "before", Duration::from_secs(10)).await;
    let work = Workload::start(&members);
    work.progress(&[0, 1, 2], 30, Duration::from_secs(15)).await;

    tokio::task::block_in_place(|| net.isolate(old)).expect("isolate the leader");
    let cut = Instant::now();
    // openraft's followers refuse to vote for 2 election timeouts (its
    // election_timeout_max, the leader lease) after they last heard from the
    // leader, and a candidate waits 1-2 of them: 1.5-2.6 s here.
    let new = leader(&members, &majority, 10 * ELECTION_TIMEOUT).await;
    let elected = cut.elapsed();
    let new_term = term(&members[new]).await;
    eprintln!("{} leads the majority (term {old_term} → {new_term}) {elected:?} after the cut", members[new].name());
    assert!(new_term > old_term, "the new leader's term {new_term} is not past {old_term}");
    put_eventually(&members[new], "fence", "after", Duration::from_secs(10)).await;

    // The old leader cannot confirm it still leads: no linearizable read, no
    // write, no txn. Its own state still answers a serializable read, which
    // cannot have the majority's write.
    let mut c = connect(&members[old].endpoint()).await.expect("connect");
    let (mut c2, mut c3) = (c.clone(), c.clone());
    let txn = Txn::new()
        .when([Compare::value("fence", CompareOp::Equal, "before")])
        .and_then([TxnOp::put("fence", "minority", None)]);
    let (read, write, cas) = tokio::join!(
        answered("a linearizable get", c.get("fence", None)),
        answered("a put", c2.put("minority", "x", None)),
        answered("a txn", c3.txn(txn)),
    );
    assert!(!read && !write && !cas, "the cut-off old leader answered (read, put, txn) = {:?}", (read, write, cas));
    let local =
        once(&members[old], |mut c| async move { c.get("fence", Some(GetOptions::new().with_serializable())).await })
            .await
            .expect("a serializable read through the cut-off member");
    assert_eq!(first_value(&local).as_deref(), Some("before"), "the cut-off member's own state");
    // The majority carries on; the old leader's clients get no write
    // acknowledged (those in flight at the cut have timed out by now).
    let acked_by_old = work.acked(old);
    work.progress(&majority, 60, Duration::from_secs(15)).await;
    assert_eq!(work.acked(old), acked_by_old, "the cut-off old leader acknowledged writes");
    // The members' peer traffic does go through the proxies: they refused
    // the members' attempts to reconnect across the cut.
    let (forwarded, refused) = net.counts();
    assert!(refused > 0, "the proxies refused no connection ({forwarded} forwarded)");

    net.heal();
    let healed = Instant::now();
    work.progress(&[old], 5, Duration::from_secs(20)).await;
    eprintln!("the old leader's clients are answered again {:?} after the heal", healed.elapsed());
    work.progress(&[0, 1, 2], 30, Duration::from_secs(20)).await;
    let logs = work.stop().await;
    verify(&members, logs).await;
}
