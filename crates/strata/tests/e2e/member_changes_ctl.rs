//! Membership changes on a 3-member etcd 3.6.14 cluster, where etcd makes them: stratactl
//! prints what etcdctl 3.6.14 prints for updates that change nothing and etcd's
//! refusals (the same bytes), for learners one tool adds and the other removes (their
//! ids masked), and for learners started from the `ETCD_*` lines `member add` printed
//! and then promoted. (Strata's own membership changes: `cluster::*`.)

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testkit::{MemberProcess, anchor, free_port};

use crate::ctl_columns::STRATACTL;
use crate::member_ctl::{LIST, etcdctl36, id_with_peer_url, mask_added, members, owned, run, same_cluster_differences};

/// An etcd member started from what `member add` printed, to join as a learner.
struct Joining {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Joining {
    /// Starts etcd (`bin`) with the `ETCD_*` lines of `added` (a simple `member add`
    /// output).
    fn start(bin: &Path, added: &str, client_port: u16) -> Joining {
        let var = |name: &str| -> String {
            let line = added.lines().find_map(|l| l.strip_prefix(&format!("{name}=\"")));
            line.and_then(|v| v.strip_suffix('"')).unwrap_or_else(|| panic!("no {name} in {added:?}")).to_string()
        };
        assert_eq!(var("ETCD_INITIAL_CLUSTER_STATE"), "existing");
        let dir = tempfile::tempdir().expect("tempdir");
        let log = std::fs::File::create(dir.path().join("member.log")).expect("log");
        let client = format!("http://127.0.0.1:{client_port}");
        let child = Command::new(bin)
            .env("ETCD_UNSUPPORTED_ARCH", std::env::consts::ARCH)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--name", &var("ETCD_NAME"), "--initial-cluster", &var("ETCD_INITIAL_CLUSTER")])
            .args(["--initial-cluster-state", "existing"])
            .args(["--listen-peer-urls", &var("ETCD_INITIAL_ADVERTISE_PEER_URLS")])
            .args(["--initial-advertise-peer-urls", &var("ETCD_INITIAL_ADVERTISE_PEER_URLS")])
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn etcd");
        Joining { child, _dir: dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("member.log")).unwrap_or_default()
    }
}

impl Drop for Joining {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds a learner with `tool`, starts it (etcd `bin`), and promotes it with `tool` once
/// it has caught up (etcd refuses a learner that is not in sync). Returns the add's and
/// the promotion's output, each with the new id masked.
fn add_start_promote(tool: &str, bin: &Path, endpoint: &str, name: &str) -> (String, String, Joining) {
    let (peer, client) = (free_port().expect("port"), free_port().expect("port"));
    let url = format!("http://127.0.0.1:{peer}");
    let added = run(tool, endpoint, &["member", "add", name, "--learner", &format!("--peer-urls={url}")]);
    assert_eq!(added.code, 0, "{tool} member add: {added:?}");
    let id = id_with_peer_url(endpoint, &url);
    let joining = Joining::start(bin, &String::from_utf8_lossy(&added.stdout), client);
    let deadline = Instant::now() + Duration::from_secs(15);
    let promoted = loop {
        let promoted = run(tool, endpoint, &["member", "promote", &format!("{id:x}")]);
        if promoted.code == 0 {
            break promoted;
        }
        assert!(Instant::now() < deadline, "{tool} member promote: {promoted:?}\nlearner log:\n{}", joining.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    (added.render(|s| mask_added(s, id, &url)), promoted.render(|s| mask_added(s, id, &url)), joining)
}

#[test]
fn stratactl_membership_changes_on_etcd_print_what_etcdctl_prints() {
    let (Some(etcdctl), Some(bin)) = (etcdctl36(), anchor("etcd")) else {
        eprintln!("{}", testkit::missing_anchor("etcd"));
        return;
    };
    let etcdctl = etcdctl.as_str();
    // Without the strict check, etcd adds members before its peers have been connected
    // for 5 s (and refuses nothing these steps do).
    let etcd =
        MemberProcess::start_etcd36_cluster(3, &["--strict-reconfig-check=false"]).expect("start an etcd cluster");
    let endpoint = etcd[0].endpoint();
    let m2 = &members(&endpoint)[1];
    let (m2_id, m2_peer) = (m2["ID"].as_u64().expect("id"), m2["peerURLs"][0].as_str().expect("url").to_string());

    // Changes that leave the cluster as it was, and etcd's refusals: the same bytes.
    let update = |format: &str| {
        let (id, urls) = (format!("{m2_id:x}"), format!("--peer-urls={m2_peer}"));
        ["member", "update", &id, &urls, "-w", format].iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let mut steps: Vec<Vec<String>> = ["simple", "json", "protobuf", "fields", "table"].map(update).into();
    steps.extend(owned(&[
        &["member", "remove", "123"],
        &["member", "update", "123", "--peer-urls=http://127.0.0.1:1"],
        &["member", "promote", &format!("{m2_id:x}")],
        &["member", "add", "x", &format!("--peer-urls={m2_peer}")],
    ]));
    steps.extend(owned(LIST));
    let diffs = same_cluster_differences(etcdctl, &endpoint, &steps);
    assert!(diffs.is_empty(), "{} steps differ on etcd:\n{}", diffs.len(), diffs.join("\n"));

    // Each tool adds a learner the other removes, in simple and JSON output.
    for format in ["simple", "json"] {
        let mut outputs = Vec::new();
        for (adds, removes) in [(etcdctl, STRATACTL), (STRATACTL, etcdctl)] {
            let url = format!("http://127.0.0.1:{}", free_port().expect("port"));
            let urls = format!("--peer-urls={url}");
            let added = run(adds, &endpoint, &["member", "add", "new", "--learner", &urls, "-w", format]);
            assert_eq!(added.code, 0, "{adds} member add: {added:?}");
            let id = id_with_peer_url(&endpoint, &url);
            let removed = run(removes, &endpoint, &["member", "remove", &format!("{id:x}"), "-w", format]);
            let mask = |s: &str| mask_added(s, id, &url);
            outputs.push((added.render(mask), removed.render(mask)));
        }
        assert_eq!(outputs[1].0, outputs[0].0, "stratactl member add -w {format} (left) against etcdctl's");
        assert_eq!(outputs[0].1, outputs[1].1, "stratactl member remove -w {format} (left) against etcdctl's");
    }

    // Learners started from the `ETCD_*` lines `member add` printed, promoted once in
    // sync (etcd allows one learner at a time, `--max-learners`).
    let (want_add, want_promote, _first) = add_start_promote(etcdctl, &bin, &endpoint, "l1");
    let (got_add, got_promote, _second) = add_start_promote(STRATACTL, &bin, &endpoint, "l2");
    assert!(want_promote.starts_with("Member NEW promoted in cluster "), "{want_promote}");
    assert_eq!(got_promote, want_promote, "stratactl member promote (left) against etcdctl's");
    assert!(got_add.contains("ETCD_NAME=\"l2\"") && want_add.contains("ETCD_NAME=\"l1\""), "{got_add}\n{want_add}");
}
