//! Three `strata` members forming a Raft cluster from `--initial-cluster`,
//! driven by the real etcdctl and the etcd-client crate: any member takes
//! writes and linearizable reads, a killed leader is replaced, a restarted
//! member catches up, and all members agree on HashKV.

use std::time::{Duration, Instant};

use etcd_client::GetOptions;
use testkit::{MemberProcess, etcdctl};

use crate::client;
use crate::support::{assert_same_hash, leader, put_eventually};

fn cluster() -> Vec<MemberProcess> {
    MemberProcess::start_strata_cluster(env!("CARGO_BIN_EXE_strata"), 3, &[]).expect("start a 3-member cluster")
}

/// How long a put may take to go through while a cluster settles.
const PUT_WITHIN: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_member_serves_and_a_killed_leader_is_replaced() {
    let mut members = cluster();
    let all = [0, 1, 2];
    let first = leader(&members, &all, Duration::from_secs(15)).await;
    let follower = (first + 1) % 3;
    let other = (first + 2) % 3;

    // A write sent to a follower is forwarded; a linearizable read on the
    // other follower sees it at once.
    let rev = put_eventually(&members[follower], "k1", "v1", PUT_WITHIN).await;
    let got = client(&members[other]).await.get("k1", None).await.expect("get on a follower");
    assert_eq!(got.kvs().first().map(|kv| kv.value()), Some(&b"v1"[..]));
    assert!(got.header().map_or(0, |h| h.revision()) >= rev);
    let out = etcdctl(&members[follower].endpoint(), &["put", "k2", "v2"], None).expect("etcdctl");
    assert_eq!(out.stdout, "OK\n", "{out:?}");
    let rev = put_eventually(&members[other], "k3", "v3", PUT_WITHIN).await;
    assert_same_hash(&members, &all, rev).await;

    // Kill the leader: the other two elect a new one and keep serving.
    members[first].kill9().expect("kill -9 the leader");
    let rest = [follower, other];
    let second = leader(&members, &rest, Duration::from_secs(20)).await;
    assert_ne!(second, first);
    for i in 0..20 {
        put_eventually(&members[rest[i % 2]], &format!("after/{i}"), "x", PUT_WITHIN).await;
    }

    // The old leader comes back and catches up from the log.
    members[first].restart().expect("restart the old leader");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut c = client(&members[second]).await;
    let want = c.get("after/", Some(GetOptions::new().with_prefix().with_count_only())).await.expect("count");
    assert_eq!(want.count(), 20);
    loop {
        let serializable = GetOptions::new().with_prefix().with_count_only().with_serializable();
        let n = client(&members[first]).await.get("after/", Some(serializable)).await.map(|r| r.count());
        if n.as_ref().is_ok_and(|n| *n == 20) {
            break;
        }
        assert!(Instant::now() < deadline, "the restarted member did not catch up: {n:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rev = put_eventually(&members[first], "back", "yes", PUT_WITHIN).await;
    assert_same_hash(&members, &all, rev).await;
}

/// `etcdctl member list` (every format) and `endpoint health --cluster` print
/// the same for a 3-member etcd 3.4.23 cluster and a 3-member strata cluster,
/// once ids, ports and terms are masked and each output's lines are sorted
/// (members are listed by id, and ids follow the ports).
#[test]
fn member_list_prints_what_etcd_prints() {
    crate::need_etcdctl!();
    if !testkit::have_etcd() {
        eprintln!("skipped: /usr/bin/etcd not installed (apt-get install etcd-server)");
        return;
    }
    let steps: &[&[&str]] = &[
        &["member", "list"],
        &["member", "list", "-w", "json"],
        &["member", "list", "-w", "table"],
        &["member", "list", "-w", "fields"],
        &["endpoint", "health", "--cluster"],
    ];
    let session = |members: &[MemberProcess]| -> Vec<String> {
        steps
            .iter()
            .map(|args| {
                let out = etcdctl(&members[1].endpoint(), args, None).expect("etcdctl");
                // health prints to stderr, in completion order, with a duration.
                let text = if args[0] == "endpoint" { out.stderr.clone() } else { out.stdout.clone() };
                let text = testkit::mask_after(&text, "took = ", |rest| {
                    (rest.find(char::is_whitespace).unwrap_or(rest.len()), "T".into())
                });
                let masked = crate::member_ctl::mask_clusters(&text);
                format!("$ etcdctl {}\n{masked}\n[exit {}]", args.join(" "), out.code)
            })
            .collect()
    };
    let etcd = MemberProcess::start_etcd_cluster(3, &[]).expect("start an etcd cluster");
    let want = session(&etcd);
    drop(etcd);
    let strata = cluster();
    let got = session(&strata);
    if let Some(report) = testkit::step_differences(&want, &got) {
        panic!("{report}");
    }
}

/// A follower that was down while the leader snapshotted and purged its log
/// catches up by the leader's snapshot: the same keys, leases, compaction and
/// HashKV as the others, and it keeps applying the log after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_behind_the_purged_log_catches_up_by_snapshot() {
    let extra = ["--snapshot-count", "100", "--experimental-snapshot-catchup-entries", "10"];
    let mut members = MemberProcess::start_strata_cluster(env!("CARGO_BIN_EXE_strata"), 3, &extra).expect("start");
    let all = [0, 1, 2];
    let first = leader(&members, &all, Duration::from_secs(15)).await;
    let lagging = (first + 1) % 3;
    put_eventually(&members[lagging], "before", "1", PUT_WITHIN).await;
    members[lagging].kill9().expect("kill -9 a follower");

    let mut c = client(&members[first]).await;
    let lease = c.lease_grant(600, None).await.expect("grant").id();
    c.put("leased", "x", Some(etcd_client::PutOptions::new().with_lease(lease))).await.expect("put with lease");
    for i in 0..400 {
        c.put(format!("k/{}", i % 50), format!("v{i}"), None).await.expect("put");
    }
    let mid = c.put("mid", "m", None).await.expect("put").header().map_or(0, |h| h.revision());
    c.compact(mid - 100, None).await.expect("compact");
    c.delete("k/7", None).await.expect("delete");
    let rev = c.put("last", "l", None).await.expect("put").header().map_or(0, |h| h.revision());
    // openraft purges only the entries no replication still has in flight:
    // wait until the leader's log starts after everything the follower has.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = crate::http_endpoints::get(&members[first], "/metrics").body;
        let purged = crate::http_endpoints::sample(&metrics, "strata_raft_log_purged_index").unwrap_or(0.0);
        if purged > 100.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the leader did not purge its log (purged up to {purged})");
        // More entries make more snapshots, each a chance to purge.
        c.put("nudge", "n", None).await.expect("put");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rev = c.get("last", None).await.expect("get").header().map_or(rev, |h| h.revision());

    members[lagging].restart().expect("restart the follower");
    assert_same_hash(&members, &all, rev).await;
    assert!(
        members[lagging].log().contains("installed a snapshot"),
        "no snapshot installed:\n{}",
        members[lagging].log()
    );
    let mut l = client(&members[lagging]).await;
    let serializable = GetOptions::new().with_prefix().with_serializable();
    let got = l.get("k/", Some(serializable)).await.expect("get on the caught-up member");
    assert_eq!(got.count(), 49);
    let old = l.get("k/1", Some(GetOptions::new().with_revision(mid - 101).with_serializable())).await;
    assert!(old.is_err_and(|e| e.to_string().contains("required revision has been compacted")));
    let ttl = l.lease_time_to_live(lease, None).await.expect("time to live");
    assert!(ttl.ttl() > 0, "lease {lease:x} lost: {ttl:?}");

    // The log after the snapshot reaches it as usual.
    let rev = put_eventually(&members[lagging], "after", "a", PUT_WITHIN).await;
    assert_same_hash(&members, &all, rev).await;
}

/// The member id etcdctl printed in "Member <id> added to cluster <id>".
fn added_id(stdout: &str) -> u64 {
    let id = stdout.split_whitespace().nth(1).unwrap_or_default();
    u64::from_str_radix(id, 16).unwrap_or_else(|_| panic!("no member id in {stdout:?}"))
}

/// A learner is added with the real etcdctl (through a follower, which hands
/// the change to the leader), refused what etcd refuses, started with
/// `--initial-cluster-state existing`, catches up by a snapshot (the log is
/// purged every 50 entries), refuses linearizable requests until promoted,
/// and is promoted; then an old member is removed and its process leaves.
/// All along a client writes to the leader: every write it was answered for
/// is there at the end, and the members agree on HashKV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_is_added_caught_up_promoted_and_an_old_member_removed() {
    crate::need_etcdctl!();
    let bin = env!("CARGO_BIN_EXE_strata");
    let extra = ["--snapshot-count", "50", "--experimental-snapshot-catchup-entries", "5"];
    let mut members = MemberProcess::start_strata_cluster(bin, 3, &extra).expect("start");
    let all = [0, 1, 2];
    let lead = leader(&members, &all, Duration::from_secs(15)).await;
    let follower = (lead + 1) % 3;
    for i in 0..50 {
        put_eventually(&members[lead], &format!("before/{i}"), "x", PUT_WITHIN).await;
    }
    // The load: puts on the leader until told to stop; the keys it was answered for.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, ep) = (stop.clone(), members[lead].endpoint());
        tokio::spawn(async move {
            let mut c = etcd_client::Client::connect([ep], None).await.expect("connect");
            let mut acked = Vec::new();
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let key = format!("load/{i:06}");
                if c.put(key.clone(), "v", None).await.is_ok() {
                    acked.push(key);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            acked
        })
    };
    let mut new = MemberProcess::new_strata(bin, "m4", &extra).expect("a fourth member");
    let entry = new.cluster_entry();
    let url = entry.split_once('=').map(|(_, u)| u.to_string()).expect("peer url");
    let ep = members[follower].endpoint();

    // Promote needs a learner that is in sync; a second learner is too many.
    let out = etcdctl(&ep, &["member", "add", "m4", "--learner", &format!("--peer-urls={url}")], None).expect("add");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\""), "{out:?}");
    let id = added_id(&out.stdout);
    let id_hex = format!("{id:x}");
    let out = etcdctl(&ep, &["member", "promote", &id_hex], None).expect("promote");
    assert!(out.stderr.contains("can only promote a learner member which is in sync with leader"), "{out:?}");
    let out = etcdctl(&ep, &["member", "add", "m5", "--learner", "--peer-urls=http://127.0.0.1:1"], None).expect("add");
    assert!(out.stderr.contains("too many learner members in cluster"), "{out:?}");
    let out = etcdctl(&ep, &["member", "add", "again", &format!("--peer-urls={url}")], None).expect("add");
    assert!(out.stderr.contains("Peer URLs already exists"), "{out:?}");
    let mut c = client(&members[follower]).await;
    let bad = c.member_add(["not-a-url"], None).await.expect_err("bad URL");
    assert!(bad.to_string().contains("given member URLs are invalid"), "{bad}");
    let list = etcdctl(&ep, &["member", "list"], None).expect("list");
    assert!(list.stdout.contains(&format!("{id_hex}, unstarted, , {url}, , true")), "{list:?}");

    // Started, it catches up and serves serializable reads only.
    let initial: Vec<String> = members.iter().map(MemberProcess::cluster_entry).chain([entry.clone()]).collect();
    new.join(&initial.join(",")).expect("start the learner");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut l = client(&new).await;
    loop {
        let got = l.get("before/", Some(GetOptions::new().with_prefix().with_count_only().with_serializable())).await;
        if got.as_ref().is_ok_and(|r| r.count() == 50) {
            break;
        }
        assert!(Instant::now() < deadline, "the learner did not catch up: {got:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = l.put("on-learner", "x", None).await.expect_err("a learner takes no writes");
    assert!(refused.to_string().contains("rpc not supported for learner"), "{refused}");
    let refused = l.get("before/1", None).await.expect_err("a learner serves no linearizable read");
    assert!(refused.to_string().contains("rpc not supported for learner"), "{refused}");
    // It says it is one, as etcd's does: tools wait for a learner by its Status.
    assert!(l.status().await.expect("status of the learner").is_learner());
    let ready = crate::http_endpoints::get(&new, "/readyz?verbose");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.contains("[-]non_learner failed: not supported for learner"), "{}", ready.body);

    let out = etcdctl(&ep, &["member", "promote", &id_hex], None).expect("promote");
    // etcdctl pads both ids to 16 characters.
    assert!(out.stdout.starts_with(&format!("Member {id:16x} promoted in cluster ")), "{out:?}");
    let out = etcdctl(&ep, &["member", "promote", &id_hex], None).expect("promote again");
    assert!(out.stderr.contains("can only promote a learner member"), "{out:?}");
    assert!(!l.status().await.expect("status of the promoted member").is_learner());
    let rev = put_eventually(&new, "on-new-voter", "x", PUT_WITHIN).await;
    members.push(new);
    assert_same_hash(&members, &[0, 1, 2, 3], rev).await;

    // Remove an old follower: the change commits and the removed process leaves.
    let gone = (lead + 2) % 3;
    let gone_id = client(&members[gone]).await.status().await.expect("status").header().map_or(0, |h| h.member_id());
    let out = etcdctl(&ep, &["member", "remove", &format!("{gone_id:x}")], None).expect("remove");
    assert!(out.stdout.starts_with(&format!("Member {gone_id:16x} removed from cluster ")), "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while members[gone].exited().is_none() {
        assert!(Instant::now() < deadline, "the removed member still runs:\n{}", members[gone].log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(members[gone].log().contains("permanently removed from the cluster"));
    // Brought back on its old data dir (it may serve its old state for an
    // election timeout, as etcd's does), it is refused again and leaves again.
    let log_before = members[gone].log().len();
    let _ = tokio::task::block_in_place(|| members[gone].restart());
    let deadline = Instant::now() + Duration::from_secs(15);
    while members[gone].exited().is_none() {
        assert!(Instant::now() < deadline, "the removed member came back and stays:\n{}", members[gone].log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(members[gone].log()[log_before..].contains("permanently removed from the cluster"));
    let out = etcdctl(&ep, &["member", "remove", &format!("{gone_id:x}")], None).expect("remove again");
    assert!(out.stderr.contains("member not found"), "{out:?}");
    let rest: Vec<usize> = (0..4).filter(|i| *i != gone).collect();
    let rev = put_eventually(&members[3], "after-remove", "x", PUT_WITHIN).await;
    assert_same_hash(&members, &rest, rev).await;
    let list = etcdctl(&ep, &["member", "list"], None).expect("list");
    assert_eq!(list.stdout.lines().count(), 3, "{list:?}");

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked = load.await.expect("load task");
    assert!(acked.len() > 100, "the load made little progress: {} puts", acked.len());
    let mut n = client(&members[3]).await;
    let got =
        n.get("load/", Some(GetOptions::new().with_prefix().with_keys_only())).await.expect("get on the new member");
    let have: std::collections::HashSet<Vec<u8>> = got.kvs().iter().map(|kv| kv.key().to_vec()).collect();
    let lost: Vec<&String> = acked.iter().filter(|k| !have.contains(k.as_bytes())).collect();
    assert!(lost.is_empty(), "acknowledged writes missing on the new member: {lost:?}");
    assert!(members[3].log().contains("installed a snapshot"), "the learner caught up without a snapshot");
    let rev = put_eventually(&members[lead], "the-end", "x", PUT_WITHIN).await;
    assert_same_hash(&members, &rest, rev).await;
}

/// Bad input from outside the cluster does no damage: a member started with
/// another `--initial-cluster-token` (so another cluster id) that lists the
/// cluster's members is refused on every peer call, and the cluster's term
/// does not move; a member started with `--initial-cluster-state existing`
/// that was never added exits with a message saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_another_cluster_or_never_added_are_refused() {
    let bin = env!("CARGO_BIN_EXE_strata");
    let members = cluster();
    let all = [0, 1, 2];
    let lead = leader(&members, &all, Duration::from_secs(15)).await;
    let term = |s: &etcd_client::StatusResponse| s.raft_term();
    let before = term(&client(&members[lead]).await.status().await.expect("status"));

    let dir = tempfile::tempdir().expect("tempdir");
    let (client_port, peer_port) = (testkit::free_port().expect("port"), testkit::free_port().expect("port"));
    let peer = format!("http://127.0.0.1:{peer_port}");
    let initial: Vec<String> =
        members.iter().map(MemberProcess::cluster_entry).chain([format!("intruder={peer}")]).collect();
    let log = std::fs::File::create(dir.path().join("log")).expect("log");
    let mut intruder = std::process::Command::new(bin)
        .args(["--name", "intruder", "--initial-cluster-token", "another-cluster"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--listen-client-urls", &format!("http://127.0.0.1:{client_port}")])
        .args(["--advertise-client-urls", &format!("http://127.0.0.1:{client_port}")])
        .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &initial.join(","), "--election-timeout", "300", "--heartbeat-interval", "50"])
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn the intruder");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
        if text.contains("cluster ID mismatch") {
            break;
        }
        assert!(Instant::now() < deadline, "the intruder was not refused:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let it campaign a few more times: the cluster neither hears it nor changes term.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = intruder.kill();
    let _ = intruder.wait();
    let after = term(&client(&members[lead]).await.status().await.expect("status"));
    assert_eq!(after, before, "the intruder moved the cluster's term");
    let rev = put_eventually(&members[lead], "undisturbed", "yes", PUT_WITHIN).await;
    assert_same_hash(&members, &all, rev).await;
    let list = etcdctl(&members[0].endpoint(), &["member", "list"], None);
    if let Ok(list) = list {
        assert_eq!(list.stdout.lines().count(), 3, "{list:?}");
    }

    let mut stranger = MemberProcess::new_strata(bin, "stranger", &[]).expect("member");
    let initial: Vec<String> =
        members.iter().map(MemberProcess::cluster_entry).chain([stranger.cluster_entry()]).collect();
    let err = stranger.join(&initial.join(",")).expect_err("a member never added does not start");
    assert!(err.to_string().contains("is not in the cluster's configuration; add it first"), "{err}");

    // A member added under a name another member already has is refused when it publishes it.
    let mut twin = MemberProcess::new_strata(bin, "m1", &[]).expect("member");
    let url = twin.cluster_entry().split_once('=').map(|(_, u)| u.to_string()).expect("url");
    client(&members[lead]).await.member_add([url.as_str()], None).await.expect("member add");
    // (`--initial-cluster` cannot list both m1s: that is refused at start, as etcd's.)
    let mut initial: Vec<String> = members[1..].iter().map(MemberProcess::cluster_entry).collect();
    initial.push(twin.cluster_entry());
    let _ = tokio::task::block_in_place(|| twin.join(&initial.join(",")));
    let deadline = Instant::now() + Duration::from_secs(15);
    while twin.exited().is_none() {
        assert!(Instant::now() < deadline, "a second m1 runs:\n{}", twin.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(twin.log().contains("member name \\\"m1\\\" is already used by member"), "{}", twin.log());
}

/// Pre-Vote (on by default, etcd 3.5's default): a member left alone
/// campaigns without raising its term (etcd 3.4 without it went from term 3
/// to 24 in the same situation), so when the others come back it does not
/// depose their leader; with `--pre-vote=false` the term climbs as in 3.4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_left_alone_does_not_raise_its_term() {
    for (pre_vote, climbs) in [("true", false), ("false", true)] {
        let extra = ["--election-timeout", "300", "--heartbeat-interval", "50", "--pre-vote", pre_vote];
        let mut members = MemberProcess::start_strata_cluster(env!("CARGO_BIN_EXE_strata"), 3, &extra).expect("start");
        let lead = leader(&members, &[0, 1, 2], Duration::from_secs(15)).await;
        let alone = (lead + 1) % 3;
        let term = |s: etcd_client::StatusResponse| s.raft_term();
        let before = term(client(&members[alone]).await.status().await.expect("status"));
        members[lead].kill9().expect("kill the leader");
        members[(lead + 2) % 3].kill9().expect("kill the other follower");
        // Ten election timeouts alone.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = term(client(&members[alone]).await.status().await.expect("status"));
        assert_eq!(after > before + 2, climbs, "--pre-vote={pre_vote}: term {before} -> {after}");
    }
}

/// A watcher on a follower that is cut off while the others write, snapshot
/// and purge their logs gets every event exactly once and in order after the
/// follower heals and installs the leader's snapshot (the store jumps ahead;
/// the watch catches up from the installed history).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_on_a_member_that_installs_a_snapshot_misses_nothing() {
    let extra = ["--snapshot-count", "50", "--experimental-snapshot-catchup-entries", "5"];
    let (members, net) =
        MemberProcess::start_strata_cluster_behind_proxies(env!("CARGO_BIN_EXE_strata"), 3, &extra).expect("start");
    let lead = leader(&members, &[0, 1, 2], Duration::from_secs(15)).await;
    let cut = (lead + 1) % 3;
    let mut w = client(&members[cut]).await;
    let start = put_eventually(&members[lead], "w/0", "0", PUT_WITHIN).await;
    let opts = etcd_client::WatchOptions::new().with_prefix().with_start_revision(start);
    let mut events = w.watch("w/", Some(opts)).await.expect("watch");
    tokio::task::block_in_place(|| net.isolate(cut)).expect("isolate a follower");
    let mut c = client(&members[lead]).await;
    for i in 1..=300 {
        c.put(format!("w/{i}"), i.to_string(), None).await.expect("put on the majority");
    }
    net.heal();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 301 {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, events.message()).await;
        let resp = msg.expect("events within 20 s").expect("watch stream").expect("stream open");
        for e in resp.events() {
            seen.push(e.kv().map(|kv| String::from_utf8_lossy(kv.value()).into_owned()).unwrap_or_default());
        }
    }
    let want: Vec<String> = (0..=300).map(|i| i.to_string()).collect();
    assert_eq!(seen, want);
    assert!(members[cut].log().contains("installed a snapshot"), "the follower caught up from the log");
}

/// `member promote` refuses as etcd 3.4.23 does, in etcd's order: the log
/// progress first (a voter added but never started is "not in sync"), then
/// whether the member exists, then whether it is a learner. The same
/// etcdctl steps run against a 3-member etcd and a 3-member strata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_promote_refuses_in_etcds_order() {
    crate::need_etcdctl!();
    if !testkit::have_etcd() {
        eprintln!("skipped: /usr/bin/etcd not installed (apt-get install etcd-server)");
        return;
    }
    let etcd = MemberProcess::start_etcd_cluster(3, &[]).expect("start etcd");
    let want = promote_refusals(&etcd).await;
    drop(etcd);
    let strata = cluster();
    let got = promote_refusals(&strata).await;
    assert_eq!(got, want, "strata (left) and etcd 3.4.23 (right) refuse differently");
    assert!(want[0].contains("which is in sync with leader"), "{want:?}");
}

/// The `Error:` lines of promoting: a voter added and never started, an id
/// no member has, and a started voter.
async fn promote_refusals(members: &[MemberProcess]) -> Vec<String> {
    let lead = leader(members, &[0, 1, 2], Duration::from_secs(15)).await;
    let ep = members[lead].endpoint();
    let voter = client(&members[(lead + 1) % 3]).await.status().await.expect("status");
    let voter = voter.header().map_or(0, |h| h.member_id());
    // etcd adds a voter only once every member has been connected for 5 s
    // ("unhealthy cluster" before).
    let deadline = Instant::now() + Duration::from_secs(20);
    let out = loop {
        let out = etcdctl(&ep, &["member", "add", "never", "--peer-urls=http://127.0.0.1:1"], None).expect("add");
        if out.code == 0 || Instant::now() > deadline {
            break out;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(out.code, 0, "{out:?}");
    let unstarted = added_id(&out.stdout);
    let mut refusals = Vec::new();
    for id in [unstarted, 0xdead_beef, voter] {
        let out = etcdctl(&ep, &["member", "promote", &format!("{id:x}")], None).expect("promote");
        let line = out.error_line().unwrap_or("no error").replace(&format!("{id:x}"), "ID");
        refusals.push(format!("{line} [exit {}]", out.code));
    }
    let out = etcdctl(&ep, &["member", "remove", &format!("{unstarted:x}")], None).expect("remove");
    assert_eq!(out.code, 0, "{out:?}");
    refusals
}
