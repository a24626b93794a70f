//! Snapshots end to end: `Maintenance.Snapshot` saved by `stratactl` and by the
//! real `etcdctl`, checked and restored by `stratactl`, and a `strata` started
//! on the restored data dir with every key, revision, lease and the compacted
//! revision of the original; corrupt and truncated files refused; a member
//! that dies mid-stream; and `snapshot save`'s output against etcd 3.6.14.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use etcd_client::{GetOptions, PutOptions};
use testkit::{CtlOutput, MemberProcess, etcdctl, have_etcd, mask_ids, run_ctl};

use crate::{client, need_etcdctl, strata};

const STRATACTL: &str = env!("CARGO_BIN_EXE_stratactl");

fn ctl(m: &MemberProcess, args: &[&str]) -> CtlOutput {
    run_ctl(STRATACTL, &m.endpoint(), args, None).expect("run stratactl")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Keys of every kind: plain, overwritten, deleted and re-created, binary,
/// attached to a lease, written in one txn; a physical compaction in the
/// middle so that the restored member must keep the compacted revision.
async fn fill(m: &MemberProcess) -> i64 {
    let mut c = client(m).await;
    for i in 0..50 {
        c.put(format!("key/{i:02}"), format!("value {i}"), None).await.expect("put");
    }
    c.put("key/07", "overwritten", None).await.expect("put");
    c.delete("key/08", None).await.expect("delete");
    let compact_at = c.put("key/08", "again", None).await.expect("put").header().map_or(0, |h| h.revision());
    c.put(vec![0u8, 0xff, 0x80], vec![0xfeu8; 3000], None).await.expect("binary put");
    let lease = c.lease_grant(600, None).await.expect("grant").id();
    c.put("leased/a", "1", Some(PutOptions::new().with_lease(lease))).await.expect("put");
    c.put("leased/b", "2", Some(PutOptions::new().with_lease(lease))).await.expect("put");
    c.lease_grant(900, None).await.expect("grant an unused lease");
    let ops = vec![etcd_client::TxnOp::put("txn/1", "x", None), etcd_client::TxnOp::put("txn/2", "y", None)];
    c.txn(etcd_client::Txn::new().and_then(ops)).await.expect("txn");
    c.compact(compact_at, Some(etcd_client::CompactionOptions::new().with_physical())).await.expect("compact");
    c.put("key/00", "after the compaction", None).await.expect("put");
    compact_at
}

/// What must survive a snapshot: every key with its revisions and lease, the
/// revision, HashKV and its compacted revision, the leases and their keys.
#[derive(Debug, PartialEq)]
struct State {
    kvs: String,
    revision: i64,
    hash: u32,
    compact_revision: i64,
    leases: Vec<(i64, i64, Vec<Vec<u8>>)>,
}

async fn state(m: &MemberProcess) -> State {
    let mut c = client(m).await;
    let all = etcdctl_or_stratactl(m, &["get", "", "--prefix", "-w", "json"]);
    let h = c.hash_kv(0).await.expect("hashkv");
    let mut leases = Vec::new();
    for l in c.leases().await.expect("lease list").leases() {
        let ttl = c
            .lease_time_to_live(l.id(), Some(etcd_client::LeaseTimeToLiveOptions::new().with_keys()))
            .await
            .expect("time to live");
        let mut keys = ttl.keys().to_vec();
        keys.sort();
        leases.push((l.id(), ttl.granted_ttl(), keys));
    }
    leases.sort();
    State {
        kvs: mask_ids(&all),
        revision: h.header().map_or(0, |h| h.revision()),
        hash: h.hash(),
        compact_revision: h.compact_version(),
        leases,
    }
}

/// `get -w json` by the real etcdctl when installed (the reference printer),
/// else by stratactl.
fn etcdctl_or_stratactl(m: &MemberProcess, args: &[&str]) -> String {
    let out = if testkit::have_etcdctl() { etcdctl(&m.endpoint(), args, None) } else { Ok(ctl(m, args)) };
    let out = out.expect("run get");
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout
}

/// Restores `snap` with `args` and starts strata on the result.
fn restore_and_start(snap: &Path, args: &[&str]) -> MemberProcess {
    // A member whose data dir is then replaced by the restored one; it keeps
    // its ports and flags, so the restored identity must win over its flags.
    let mut m = strata(&[]);
    m.terminate().expect("stop");
    std::fs::remove_dir_all(m.data_dir()).expect("remove data dir");
    let data_dir = m.data_dir();
    let mut all = vec!["snapshot", "restore", path_str(snap), "--data-dir", path_str(&data_dir)];
    all.extend_from_slice(args);
    let out = ctl(&m, &all);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{out:?}");
    m.restart().expect("start strata on the restored data dir");
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn save_then_restore_gives_a_member_with_the_same_keys_revisions_leases_and_hashkv() {
    need_etcdctl!();
    let m = strata(&[]);
    let compact_at = fill(&m).await;
    let before = state(&m).await;
    assert_eq!(before.compact_revision, compact_at);
    assert_eq!(before.leases.len(), 2);

    let dir = tempfile::tempdir().expect("tempdir");
    let ours = dir.path().join("stratactl.snap");
    let theirs = dir.path().join("etcdctl.snap");
    let out = ctl(&m, &["snapshot", "save", path_str(&ours)]);
    let saved = format!("Snapshot saved at {}\nServer version 3.6.0\n", ours.display());
    assert_eq!((out.code, out.stdout.clone()), (0, saved), "{out:?}");
    let out = etcdctl(&m.endpoint(), &["snapshot", "save", path_str(&theirs)], None).expect("etcdctl");
    assert_eq!((out.code, out.stdout.clone()), (0, format!("Snapshot saved at {}\n", theirs.display())), "{out:?}");
    assert!(!dir.path().join("stratactl.snap.part").exists());

    let status = ctl(&m, &["snapshot", "status", path_str(&ours), "-w", "json"]);
    assert_eq!(status.code, 0, "{status:?}");
    let json: serde_json::Value = serde_json::from_str(&status.stdout).expect("status json");
    assert_eq!(json["revision"], before.revision);
    assert_eq!(json["totalSize"], std::fs::metadata(&ours).expect("stat").len());
    let theirs_status = ctl(&m, &["snapshot", "status", path_str(&theirs), "-w", "json"]);
    assert_eq!(theirs_status.code, 0, "etcdctl's file is a Strata snapshot too: {theirs_status:?}");

    // The restore flags pick the identity; the member's own flags do not.
    let peer = "http://127.0.0.1:1";
    let restore_flags =
        ["--name", "m1", "--initial-advertise-peer-urls", peer, "--initial-cluster", "m1=http://127.0.0.1:1"];
    let (member_id, cluster_id) =
        api::identity::bootstrap_ids("m1", &[peer.to_string()], Some("m1=http://127.0.0.1:1"), "etcd-cluster");
    for snap in [&ours, &theirs] {
        let restored = restore_and_start(snap, &restore_flags);
        let after = state(&restored).await;
        assert_eq!(after, before, "restored from {}", snap.display());
        let mut c = client(&restored).await;
        let header = c.status().await.expect("status").header().cloned().expect("header");
        assert_eq!((header.member_id(), header.cluster_id()), (member_id, cluster_id));
        let e = c.get("key/01", Some(GetOptions::new().with_revision(compact_at - 1))).await.expect_err("compacted");
        assert!(e.to_string().contains("required revision has been compacted"), "{e}");
        let put = c.put("new", "write", None).await.expect("a restored member takes writes");
        assert_eq!(put.header().map_or(0, |h| h.revision()), before.revision + 1);
    }
}

/// etcd's exact output where both refuse the same thing, Strata's own
/// explanation where etcd has none (etcdctl's `status` trusts any file).
#[test]
fn corrupt_truncated_and_foreign_snapshots_are_refused_by_status_and_restore() {
    let m = strata(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let snap = dir.path().join("good.snap");
    let value = "v".repeat(3000);
    let out = ctl(&m, &["put", "k", &value]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = ctl(&m, &["snapshot", "save", path_str(&snap)]);
    assert_eq!(out.code, 0, "{out:?}");
    let good = std::fs::read(&snap).expect("read");

    let mut flipped = good.clone();
    flipped[100] ^= 1;
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("truncated", good[..good.len() - 100].to_vec(), "truncated: "),
        ("trailer-cut", good[..good.len() - 512].to_vec(), "sha256 mismatch"),
        ("flipped", flipped, "sha256 mismatch"),
        ("foreign", vec![0u8; 8192 + 32], "not a Strata snapshot"),
    ];
    for (name, bytes, why) in cases {
        let path = dir.path().join(format!("{name}.snap"));
        std::fs::write(&path, bytes).expect("write");
        let status = ctl(&m, &["snapshot", "status", path_str(&path)]);
        assert_eq!(status.code, 1, "{name}: {status:?}");
        let line = status.error_line().unwrap_or_default().to_string();
        assert!(line.starts_with(&format!("Error: invalid snapshot {}: ", path.display())), "{name}: {line}");
        assert!(line.contains(why), "{name}: {line}");
        let target = dir.path().join(format!("{name}.restored"));
        let restore = ctl(&m, &["snapshot", "restore", path_str(&path), "--data-dir", path_str(&target)]);
        assert_eq!((restore.code, restore.error_line()), (1, Some(line.as_str())), "{name}");
        assert!(!target.exists(), "{name}: a refused restore leaves no data dir");
    }

    let missing = dir.path().join("missing.snap");
    let out = ctl(&m, &["snapshot", "status", path_str(&missing)]);
    assert_eq!(
        (out.code, out.error_line()),
        (1, Some(format!("Error: stat {}: no such file or directory", missing.display()).as_str()))
    );

    // Refusing an existing data dir, in etcdctl's words (it checks before reading the file).
    let existing = dir.path().join("existing");
    std::fs::create_dir(&existing).expect("mkdir");
    let args = ["snapshot", "restore", path_str(&snap), "--data-dir", path_str(&existing)];
    let out = ctl(&m, &args);
    assert_eq!(
        (out.code, out.error_line()),
        (1, Some(format!("Error: data-dir {:?} exists", path_str(&existing)).as_str()))
    );
    if testkit::have_etcdctl() {
        let theirs = etcdctl(&m.endpoint(), &args, None).expect("etcdctl");
        assert_eq!((theirs.code, theirs.error_line()), (out.code, out.error_line()));
    }
}

/// A member killed while it streams: `stratactl` reports the broken stream,
/// exits 5 like etcdctl's failed save, and leaves neither FILE nor FILE.part.
/// Until then, writes go on while the dump's reader is stalled.
#[tokio::test(flavor = "multi_thread")]
async fn a_member_that_dies_mid_stream_leaves_no_file() {
    let mut m = strata(&[]);
    let mut c = client(&m).await;
    // Far more than the socket and HTTP/2 buffers hold, so the stream is
    // still going when the member dies.
    for i in 0..64 {
        c.put(format!("big/{i}"), vec![b'x'; 1 << 20], None).await.expect("put");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("s.snap");
    let part = dir.path().join("s.snap.part");
    let save = Command::new(STRATACTL)
        .args(["--endpoints", &m.endpoint(), "snapshot", "save", path_str(&file)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stratactl");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&part).map_or(0, |md| md.len()) == 0 {
        assert!(Instant::now() < deadline, "no data arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Pause the reader so the stream cannot finish, kill the member, resume.
    let pid = save.id().to_string();
    signal("-STOP", &pid);
    // The dump's read transaction, held open by the stalled reader, does not
    // hold writers up.
    let put = tokio::time::timeout(Duration::from_secs(2), c.put("during", "the dump", None)).await;
    assert!(matches!(put, Ok(Ok(_))), "a write during the dump: {put:?}");
    m.kill9().expect("kill the member");
    signal("-CONT", &pid);
    let out = save.wait_with_output().expect("stratactl exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.starts_with("Error: rpc error: code = "), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    assert!(!file.exists() && !part.exists(), "{:?}", std::fs::read_dir(dir.path()).map(|d| d.count()));
}

fn signal(sig: &str, pid: &str) {
    let ok = Command::new("kill").args([sig, pid]).status().expect("kill").success();
    assert!(ok, "kill {sig} {pid}");
}

/// `snapshot save` and its argument errors print and exit as etcdctl 3.6.14 does,
/// against etcd 3.6.14 itself: the storage version line included. (`snapshot status`
/// and `restore` moved to etcdutl in 3.6; stratactl keeps them for Strata's files.)
#[test]
fn snapshot_save_output_matches_etcdctl_against_etcd() {
    let (Some(etcdctl), true) = (testkit::etcdctl36(), testkit::anchor("etcd").is_some()) else {
        eprintln!("{}", testkit::missing_anchor("etcd"));
        return;
    };
    let etcdctl = etcdctl.to_string_lossy().into_owned();
    let etcd = MemberProcess::start_etcd36(&[]).expect("start etcd 3.6.14");
    let ep = etcd.endpoint();
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |bin: &str, args: &[&str]| {
        let out = run_ctl(bin, &ep, args, None).expect("run");
        (out.code, out.stdout.clone(), out.error_line().map(str::to_owned))
    };
    for (tag, bin) in [("a", STRATACTL), ("b", etcdctl.as_str())] {
        let file = dir.path().join(format!("{tag}.db"));
        let (code, stdout, _) = run(bin, &["snapshot", "save", path_str(&file)]);
        let saved = format!("Snapshot saved at {}\nServer version 3.6.0\n", file.display());
        assert_eq!((code, stdout), (0, saved), "{bin}");
        let size = std::fs::metadata(&file).expect("saved").len();
        assert_eq!(size % 512, 32, "{bin}: etcd's bbolt file and its SHA-256 trailer");
        sha256_trailer_holds(&file);
    }
    let two = format!("{ep},127.0.0.1:1");
    for args in [
        vec!["snapshot", "save"],
        vec!["snapshot", "save", "a", "b"],
        vec!["--endpoints", two.as_str(), "snapshot", "save", "x.db"],
    ] {
        assert_eq!(run(STRATACTL, &args), run(&etcdctl, &args), "{args:?}");
    }
}

/// The last 32 bytes are the SHA-256 of the rest.
fn sha256_trailer_holds(file: &Path) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c -32 '{0}' | sha256sum | cut -c1-64; tail -c 32 '{0}' | od -An -tx1 | tr -d ' \\n'",
            file.display()
        ))
        .output()
        .expect("sha256sum");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), lines.next(), "{}", file.display());
}

/// The messages of `Maintenance.Snapshot`: (remaining_bytes, blob length,
/// has a header) each.
async fn snapshot_messages(m: &MemberProcess) -> Vec<(u64, usize, bool)> {
    let mut c = client(m).await;
    let mut stream = c.snapshot().await.expect("snapshot");
    let mut out = Vec::new();
    while let Some(msg) = stream.message().await.expect("message") {
        out.push((msg.remaining_bytes(), msg.blob().len(), msg.header().is_some()));
    }
    out
}

/// etcd's shape: content blobs of 32 KiB counting down to 0, then the
/// SHA-256 alone with 0, and no header; the same from Strata.
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_messages_are_shaped_like_etcds() {
    let mut members = vec![("strata", strata(&[]))];
    if have_etcd() {
        members.push(("etcd", MemberProcess::start_etcd(&[]).expect("start etcd")));
    }
    for (name, m) in &members {
        let mut c = client(m).await;
        for i in 0..40 {
            c.put(format!("k{i}"), vec![b'v'; 4000], None).await.expect("put");
        }
        let msgs = snapshot_messages(m).await;
        let (last, content) = msgs.split_last().expect("messages");
        assert_eq!(*last, (0, 32, false), "{name}: the trailer comes alone");
        let total: u64 = content.iter().map(|(_, n, _)| *n as u64).sum();
        let mut sent = 0u64;
        for (i, (remaining, n, header)) in content.iter().enumerate() {
            sent += *n as u64;
            assert_eq!(*remaining, total - sent, "{name}: message {i}");
            assert!(!header, "{name}: message {i} has a header");
            if i + 1 < content.len() {
                assert_eq!(*n, 32 * 1024, "{name}: message {i}");
            }
        }
        assert!(content.len() > 1, "{name}: {msgs:?}");
    }
}
