//! `move-leader` and `defrag --cluster` on 3-member clusters, with real processes.
//!
//! `move-leader` from etcdctl 3.4.23 and from stratactl moves leadership on a strata
//! cluster (every member's Status names the new leader) and both print the same bytes
//! for every argument error, server refusal and output format; stratactl on strata
//! prints what etcdctl prints on an etcd 3.4.23 cluster once ids and ports are masked.
//! `stratactl defrag --cluster` under a light put load defragments every member once,
//! followers first, moves leadership off the leader before defragmenting it, never
//! defragments a member while it leads, and no put fails or is refused, not even while
//! leadership moves.

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testkit::{MemberProcess, free_port, have_etcd};

use crate::member_ctl::{Run, run};
use crate::{client, need_etcdctl};

const STRATACTL: &str = env!("CARGO_BIN_EXE_stratactl");
const ETCDCTL: &str = "/usr/bin/etcdctl";

fn endpoints(members: &[MemberProcess]) -> String {
    members.iter().map(MemberProcess::endpoint).collect::<Vec<_>>().join(",")
}

/// Each member's (id, leader) from its own Status.
async fn statuses(members: &[MemberProcess]) -> Vec<Result<(u64, u64), String>> {
    let mut all = Vec::new();
    for m in members {
        let status = match etcd_client::Client::connect([m.endpoint()], None).await {
            Ok(mut c) => c.status().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        all.push(status.map(|s| (s.header().map_or(0, |h| h.member_id()), s.leader())));
    }
    all
}

/// The index of the member every member names as leader, once they agree (within 15 s).
async fn agreed_leader(members: &[MemberProcess]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let all = statuses(members).await;
        if let Some(Ok((_, leader))) = all.first()
            && all.iter().all(|s| matches!(s, Ok((_, l)) if l == leader))
            && let Some(i) = all.iter().position(|s| matches!(s, Ok((id, _)) if id == leader))
        {
            return i;
        }
        assert!(Instant::now() < deadline, "the members do not agree on a leader: {all:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ids(members: &[MemberProcess], rt: &tokio::runtime::Runtime) -> Vec<u64> {
    rt.block_on(statuses(members)).into_iter().map(|s| s.expect("status").0).collect()
}

/// Masks what differs between two clusters: each member id (as `ID`) and the ports.
fn mask(ids: &[u64]) -> impl Fn(&str) -> String + Copy + '_ {
    move |s: &str| {
        let mut s = s.to_string();
        for id in ids {
            s = s.replace(&format!("{id:x}"), "ID");
        }
        testkit::mask_number_after(&s, "127.0.0.1:")
    }
}

/// Steps refused before anything moves, or answered without moving anything, each with
/// what the rendered output must contain; `LEADER`, `FOLLOWERS`, `LEARNER` and `NOWHERE`
/// (an endpoint nobody listens on) are filled in.
const STEPS: &[(&[&str], &str)] = &[
    (&["move-leader"], "Error: move-leader command needs 1 argument\n[exit 128]"),
    (&["move-leader", "a", "b"], "Error: move-leader command needs 1 argument\n[exit 128]"),
    (&["move-leader", "zz"], "Error: strconv.ParseUint: parsing \"zz\": invalid syntax\n[exit 128]"),
    (&["move-leader", "0x12"], "Error: strconv.ParseUint: parsing \"0x12\": invalid syntax\n[exit 128]"),
    (&["move-leader", ""], "Error: strconv.ParseUint: parsing \"\": invalid syntax\n[exit 128]"),
    (&["move-leader", "18446744073709551616"], "\"18446744073709551616\": value out of range\n[exit 128]"),
    (&["move-leader", "-w", "bogus"], "Error: move-leader command needs 1 argument\n[exit 128]"),
    (&["move-leader", "LEADER", "-w", "bogus"], "Error: unsupported output format\n[exit 4]"),
    (&["move-leader", "123"], "Error: etcdserver: bad leader transferee\n[exit 1]"),
    (&["--endpoints", "FOLLOWERS", "move-leader", "LEADER"], "Error: no leader endpoint given at ["),
    (
        &["--endpoints", "NOWHERE,ALL", "--command-timeout", "1s", "move-leader", "LEADER"],
        "Error: context deadline exceeded\n[exit 1]",
    ),
    (&["move-leader", "LEADER"], "Leadership transferred from ID to ID\n\n[exit 0]"),
    (&["move-leader", "LEADER", "-w", "table"], "Error: table not supported as output format\n[exit 4]"),
    (&["move-leader", "LEADER", "-w", "fields"], "Error: fields not supported as output format\n[exit 4]"),
    (&["mov", "LEADER"], "Leadership transferred from ID to ID\n\n[exit 0]"),
    // MoveLeader answers without a header, as etcd 3.4.23's: `{}` and no protobuf bytes.
    (&["move-leader", "LEADER", "-w", "json"], "{}"),
    (&["move-leader", "LEADER", "-w", "protobuf"], "[exit 0]"),
];

/// Same-cluster only: `LEARNER`, which only the strata cluster has.
const SAME_CLUSTER_STEPS: &[(&[&str], &str)] =
    &[(&["move-leader", "LEARNER"], "Error: etcdserver: bad leader transferee\n[exit 1]")];

/// Fills in a step's placeholders for a cluster whose leader is `members[leader]`:
/// the endpoints (every member's unless the step gives its own) and the arguments.
fn step(args: &[&str], members: &[MemberProcess], leader: usize, id: &[u64], learner: u64) -> (String, Vec<String>) {
    let followers: Vec<String> = (0..members.len()).filter(|i| *i != leader).map(|i| members[i].endpoint()).collect();
    let nowhere = format!("127.0.0.1:{}", free_port().expect("port"));
    let mut filled: Vec<String> = args
        .iter()
        .map(|a| match *a {
            "LEADER" => format!("{:x}", id[leader]),
            "LEARNER" => format!("{learner:x}"),
            "FOLLOWERS" => followers.join(","),
            "NOWHERE,ALL" => format!("{nowhere},{}", endpoints(members)),
            other => other.to_string(),
        })
        .collect();
    // pflag appends a second --endpoints to the first, so a step's own replaces ours.
    if filled.first().is_some_and(|a| a == "--endpoints") {
        let rest = filled.split_off(2);
        return (filled.pop().unwrap_or_default(), rest);
    }
    (endpoints(members), filled)
}

fn run_step(bin: &str, (endpoints, args): &(String, Vec<String>)) -> Run {
    run(bin, endpoints, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Runs `tool move-leader` to the follower after the leader and checks that every
/// member's Status then names it; returns what the tool printed, ids masked.
fn move_to_next(tool: &str, members: &[MemberProcess], id: &[u64], rt: &tokio::runtime::Runtime) -> String {
    let from = rt.block_on(agreed_leader(members));
    let to = (from + 1) % members.len();
    let started = Instant::now();
    let out = run(tool, &endpoints(members), &["move-leader", &format!("{:x}", id[to])]);
    assert_eq!(out.code, 0, "{tool} move-leader: {out:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{tool} move-leader took {:?}", started.elapsed());
    let want = format!("Leadership transferred from {:x} to {:x}\n", id[from], id[to]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{tool}");
    // The old leader answers once it sees the new leader; the others follow shortly.
    let now = rt.block_on(agreed_leader(members));
    assert_eq!(now, to, "{tool} move-leader did not move leadership to member {to}");
    let s = out.render(mask(id));
    assert_eq!(s, "Leadership transferred from ID to ID\n\n[exit 0]");
    s
}

#[test]
fn move_leader_moves_leadership_and_prints_what_etcdctl_prints() {
    need_etcdctl!();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let with_etcd = have_etcd();
    let (strata, etcd) = std::thread::scope(|s| {
        let etcd =
            s.spawn(|| with_etcd.then(|| MemberProcess::start_etcd_cluster(3, &[]).expect("start an etcd cluster")));
        let strata = MemberProcess::start_strata_cluster(env!("CARGO_BIN_EXE_strata"), 3, &[]).expect("start strata");
        (strata, etcd.join().expect("etcd cluster thread"))
    });
    let id = ids(&strata, &rt);

    // Both tools move leadership, and print the same line.
    let by_etcdctl = move_to_next(ETCDCTL, &strata, &id, &rt);
    let by_stratactl = move_to_next(STRATACTL, &strata, &id, &rt);
    assert_eq!(by_stratactl, by_etcdctl);

    // A learner (added, never started) is no transferee.
    let learner_url = format!("http://127.0.0.1:{}", free_port().expect("port"));
    let add = run(ETCDCTL, &strata[0].endpoint(), &["member", "add", "l", "--learner", "--peer-urls", &learner_url]);
    assert_eq!(add.code, 0, "member add: {add:?}");
    let added = String::from_utf8_lossy(&add.stdout).into_owned();
    let learner = added.split_whitespace().nth(1).and_then(|w| u64::from_str_radix(w, 16).ok());
    let learner = learner.unwrap_or_else(|| panic!("no member id in {added:?}"));

    // Errors, refusals and the formats: the same bytes from both tools.
    let leader = rt.block_on(agreed_leader(&strata));
    let mut diffs = Vec::new();
    for (args, expected) in STEPS.iter().chain(SAME_CLUSTER_STEPS) {
        let filled = step(args, &strata, leader, &id, learner);
        let (want, got) = (run_step(ETCDCTL, &filled), run_step(STRATACTL, &filled));
        let rendered = got.render(mask(&id));
        assert!(rendered.contains(expected), "$ stratactl {args:?}\n{rendered}\nwants {expected:?}");
        if want != got {
            let (want, got) = (want.render(str::to_string), got.render(str::to_string));
            diffs.push(format!("$ {} {}\netcdctl:\n{want}\nstratactl:\n{got}", filled.0, filled.1.join(" ")));
        }
    }
    assert!(diffs.is_empty(), "{} steps differ on strata:\n{}", diffs.len(), diffs.join("\n"));
    assert_eq!(rt.block_on(agreed_leader(&strata)), leader, "a step that moves nothing moved leadership");

    // stratactl on strata against etcdctl on etcd, ids and ports masked.
    let Some(etcd) = etcd else {
        eprintln!("skipped the comparison with etcd: /usr/bin/etcd not installed (apt-get install etcd-server)");
        return;
    };
    let etcd_id = ids(&etcd, &rt);
    let etcd_leader = rt.block_on(agreed_leader(&etcd));
    let mut diffs = Vec::new();
    for (args, _) in STEPS {
        let want = run_step(ETCDCTL, &step(args, &etcd, etcd_leader, &etcd_id, 0));
        let got = run_step(STRATACTL, &step(args, &strata, leader, &id, learner));
        let (want, got) = (want.render(mask(&etcd_id)), got.render(mask(&id)));
        if want != got {
            diffs.push(format!("$ {}\netcdctl on etcd:\n{want}\nstratactl on strata:\n{got}", args.join(" ")));
        }
    }
    assert!(diffs.is_empty(), "{} steps differ from etcd:\n{}", diffs.len(), diffs.join("\n"));
    let on_etcd = move_to_next(STRATACTL, &etcd, &etcd_id, &rt);
    assert_eq!(on_etcd, by_etcdctl, "stratactl moving leadership on etcd");
}

/// Seconds since the epoch, now.
fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// An RFC 3339 UTC timestamp as the member logs it (`2026-11-24T03:06:16.041486Z`),
/// in seconds since the epoch.
fn epoch_secs(timestamp: &str) -> f64 {
    let parse = |range: std::ops::Range<usize>| -> i64 {
        timestamp.get(range).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("bad timestamp {timestamp}"))
    };
    let (y, m, d) = (parse(0..4), parse(5..7), parse(8..10));
    // Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs: f64 = timestamp[17..timestamp.len() - 1].parse().unwrap_or_else(|_| panic!("bad timestamp {timestamp}"));
    (days * 86400 + parse(11..13) * 3600 + parse(14..16) * 60) as f64 + secs
}

/// When `m` logged `message`, each time, in seconds since the epoch.
fn logged_at(m: &MemberProcess, message: &str) -> Vec<f64> {
    let needle = format!("\"message\":\"{message}\"");
    m.log()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            epoch_secs(v["timestamp"].as_str().expect("timestamp"))
        })
        .collect()
}

/// One Status answer: sent and answered when (seconds since the epoch), by which
/// member, and whether it said it leads.
#[derive(Debug, Clone, Copy)]
struct Sample {
    sent: f64,
    answered: f64,
    member: usize,
    leads: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defrag_cluster_goes_follower_by_follower_and_never_defragments_a_leader() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let members = Arc::new(MemberProcess::start_strata_cluster(env!("CARGO_BIN_EXE_strata"), 3, &[]).expect("start"));
    let first = agreed_leader(&members).await;

    // Something to copy: 6.4 MB live, three times that written, then compacted.
    let preload = Instant::now();
    let mut writers = Vec::new();
    for w in 0..6 {
        let mut c = client(&members[w % 3]).await;
        writers.push(tokio::spawn(async move {
            for i in (w..600).step_by(6) {
                c.put(format!("pre/{:03}", i % 200), vec![b'x'; 32 * 1024], None).await.expect("preload put");
            }
        }));
    }
    for w in writers {
        w.await.expect("preload writer");
    }
    let mut c = client(&members[first]).await;
    let rev = c.put("pre/done", "1", None).await.expect("put").header().map_or(0, |h| h.revision());
    c.compact(rev, Some(etcd_client::CompactionOptions::new().with_physical())).await.expect("compact");
    eprintln!("preloaded in {:?}", preload.elapsed());

    // A light put load on every member in turn, and Status asked of every member.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, members) = (stop.clone(), members.clone());
        tokio::spawn(async move {
            let mut clients = Vec::new();
            for m in members.iter() {
                clients.push(client(m).await);
            }
            let (mut done, mut refused, mut failed) = (0, Vec::new(), Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let member = done % 3;
                match clients[member].put(format!("load/{done}"), "v", None).await {
                    Ok(_) => done += 1,
                    // Nothing was appended (the server's contract for this answer):
                    // the same put is sent again, and the refusal is kept.
                    Err(e) if e.to_string().contains("etcdserver: no leader") && refused.len() < 100 => {
                        refused.push((now_secs(), member));
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                    Err(e) => {
                        failed.push(format!("put load/{done} on member {member} at {:.3}: {e}", now_secs()));
                        done += 1;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (done, refused, failed)
        })
    };
    let poller = {
        let (stop, members) = (stop.clone(), members.clone());
        tokio::spawn(async move {
            let mut clients = Vec::new();
            for m in members.iter() {
                clients.push(client(m).await);
            }
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                for (member, c) in clients.iter_mut().enumerate() {
                    let sent = now_secs();
                    if let Ok(s) = c.status().await {
                        let leads = s.leader() == s.header().map_or(0, |h| h.member_id());
                        samples.push(Sample { sent, answered: now_secs(), member, leads });
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            samples
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let out = tokio::process::Command::new(STRATACTL)
        .args(["--endpoints", &members[(first + 1) % 3].endpoint(), "--command-timeout", "10s"])
        .args(["defrag", "--cluster"])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run stratactl");
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let (puts, refused, failed) = load.await.expect("load task");
    let samples = poller.await.expect("poller task");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("defrag --cluster took {took:?}, {puts} puts, {} samples:\n{stdout}{stderr}", samples.len());
    assert_eq!(out.status.code(), Some(0), "stratactl defrag --cluster:\n{stdout}{stderr}");

    // One line per member, the first leader's last, each with its time.
    let url = |i: usize| format!("http://{}", members[i].endpoint());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let mut order = Vec::new();
    for line in &lines {
        let rest = line.strip_prefix("Finished defragmenting etcd member[").unwrap_or_else(|| panic!("{line}"));
        let (ep, took) = rest.split_once("]. took ").unwrap_or_else(|| panic!("{line}"));
        assert!(took.ends_with('s'), "{line}");
        order.push((0..3).find(|i| url(*i) == ep).unwrap_or_else(|| panic!("{ep} is no member's")));
    }
    assert_eq!(order.last(), Some(&first), "the leader was not last: {stdout}");
    let mut distinct = order.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "a member was defragmented twice: {stdout}");
    let id = {
        let all = statuses(&members).await;
        all.into_iter().map(|s| s.expect("status").0).collect::<Vec<_>>()
    };
    let moved = format!("Moved leadership from {:x} to ", id[first]);
    let moved = stderr.lines().find_map(|l| l.strip_prefix(&moved)).unwrap_or_else(|| panic!("no move: {stderr}"));
    let to = moved.split_whitespace().next().unwrap_or_default();
    assert!(order[..2].iter().any(|i| format!("{:x}", id[*i]) == to), "moved to {to}, not defragmented before");
    let now = agreed_leader(&members).await;
    assert_ne!(now, first, "the first leader leads again");

    // Each member defragmented once, one after the other, never while it led.
    let windows: Vec<(f64, f64)> = (0..3)
        .map(|i| {
            let (start, end) =
                (logged_at(&members[i], "starting defragment"), logged_at(&members[i], "finished defragment"));
            assert_eq!((start.len(), end.len()), (1, 1), "member {i} defragmented {} times", start.len());
            (start[0], end[0])
        })
        .collect();
    for pair in order.windows(2) {
        assert!(windows[pair[0]].1 <= windows[pair[1]].0, "defragmentations overlap: {windows:?}");
    }
    let move_logged = logged_at(&members[first], "moved leadership");
    assert!(
        move_logged.iter().any(|t| *t <= windows[first].0),
        "the first leader did not move leadership before its defragmentation: {move_logged:?} {windows:?}"
    );
    let inside = |s: &Sample| s.sent >= windows[s.member].0 && s.answered <= windows[s.member].1;
    let led = samples.iter().filter(|s| inside(s) && s.leads).collect::<Vec<_>>();
    assert!(led.is_empty(), "members led while they were defragmented: {led:?}, windows {windows:?}");
    let seen = samples.iter().filter(|s| inside(s) && s.member == first).count();
    eprintln!("{seen} Status answers from the first leader during its defragmentation; windows {windows:?}");

    // No put fails, not even while leadership moves: a member that finds no leader
    // waits for the new one (nothing was appended) instead of refusing.
    assert!(failed.is_empty(), "{} of {puts} puts failed: {failed:?}", failed.len());
    assert!(refused.is_empty(), "puts refused with \"etcdserver: no leader\": {refused:?}");
    assert!(puts >= 10, "only {puts} puts ran");
}
