//! `stratactl member list | add | remove | update | promote` against etcdctl 3.4.23.
//!
//! On one 3-member strata cluster both tools print the same bytes for `member list` in
//! every format, for every argument error and for the server's answers to the
//! membership changes (which strata does not make yet); stratactl on strata prints
//! what etcdctl prints on a 3-member etcd cluster once ids and ports are masked; and on
//! the etcd cluster, where the changes are made, stratactl prints what etcdctl prints
//! for them (added members' ids masked), the `ETCD_*` lines of `member add` starting
//! learners that are then promoted.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::{MemberProcess, free_port, have_etcd, mask_hex_words, mask_ids, mask_number_after};

use crate::need_etcdctl;

const STRATACTL: &str = env!("CARGO_BIN_EXE_stratactl");
const ETCDCTL: &str = "/usr/bin/etcdctl";

/// `member list` in every format, with the arguments etcdctl ignores and a prefix.
const LIST: &[&[&str]] = &[
    &["member", "list"],
    &["member", "list", "-w", "json"],
    &["member", "list", "-w", "table"],
    &["member", "list", "-w", "fields"],
    &["member", "list", "-w", "protobuf"],
    &["member", "list", "--hex", "-w", "json"],
    &["member", "list", "extra", "args"],
    &["mem", "li"],
];

/// Refused before anything is sent. (Flag errors are left out: etcdctl also prints
/// the usage on stdout, which stratactl deliberately does not.)
const ARGUMENT_ERRORS: &[&[&str]] = &[
    &["member", "add"],
    &["member", "add", "a", "b"],
    &["member", "add", "a", "http://x", "HTTPs://y"],
    &["member", "add", "a"],
    &["member", "add", "a", "--peer-urls="],
    &["member", "add", "-w", "bogus"],
    &["member", "add", "a", "--peer-urls=http://127.0.0.1:1", "-w", "bogus"],
    &["member", "remove"],
    &["member", "remove", "zz"],
    &["member", "remove", "1", "2"],
    &["member", "remove", "18446744073709551616"],
    &["member", "remove", "123", "-w", "bogus"],
    &["member", "update"],
    &["member", "update", "123"],
    &["member", "update", "zz", "--peer-urls=http://x"],
    &["member", "promote"],
    &["member", "promote", "g"],
    &["member", "list", "-w", "bogus"],
];

/// What one run printed: stdout's bytes, the last `Error:` line, the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) stdout: Vec<u8>,
    pub(crate) error: String,
    pub(crate) code: i32,
}

impl Run {
    pub(crate) fn render(&self, mask: impl Fn(&str) -> String) -> String {
        format!("{}{}\n[exit {}]", mask(&String::from_utf8_lossy(&self.stdout)), mask(&self.error), self.code)
    }
}

/// Runs etcdctl or stratactl (`bin`) with `--endpoints endpoint` and `args`.
pub(crate) fn run(bin: &str, endpoint: &str, args: &[&str]) -> Run {
    let out = Command::new(bin)
        .env("ETCDCTL_API", "3")
        .arg("--endpoints")
        .arg(endpoint)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error = stderr.lines().rev().find(|l| l.starts_with("Error:")).unwrap_or("").to_string();
    Run { stdout: out.stdout, error, code: out.status.code().unwrap_or(-1) }
}

/// Runs each of `steps` with etcdctl and with stratactl against `endpoint`; a report of
/// every step whose stdout bytes, error line or exit code differ.
fn same_cluster_differences(endpoint: &str, steps: &[Vec<String>]) -> Vec<String> {
    let mut diffs = Vec::new();
    for step in steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        let (want, got) = (run(ETCDCTL, endpoint, &args), run(STRATACTL, endpoint, &args));
        if want != got {
            let (want, got) = (want.render(str::to_string), got.render(str::to_string));
            diffs.push(format!("$ member {}\netcdctl:\n{want}\nstratactl:\n{got}", args[1..].join(" ")));
        }
    }
    diffs
}

fn owned(steps: &[&[&str]]) -> Vec<Vec<String>> {
    steps.iter().map(|s| s.iter().map(|a| a.to_string()).collect()).collect()
}

/// The members of `endpoint`'s cluster (etcdctl's JSON member list).
fn members(endpoint: &str) -> Vec<Value> {
    let out = run(ETCDCTL, endpoint, &["member", "list", "-w", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("member list: {e}: {out:?}"));
    list["members"].as_array().cloned().unwrap_or_default()
}

/// The id of the member with peer URL `url`.
fn id_with_peer_url(endpoint: &str, url: &str) -> u64 {
    let members = members(endpoint);
    let found = members.iter().find(|m| m["peerURLs"].as_array().is_some_and(|u| u.iter().any(|u| u == url)));
    found.and_then(|m| m["ID"].as_u64()).unwrap_or_else(|| panic!("no member with {url} in {members:?}"))
}

/// Masks what differs between two clusters: ids, ports and terms, the order of the
/// members (by id, and ids follow the ports), and the table's padding, which follows
/// the width of the ids.
pub(crate) fn mask_clusters(s: &str) -> String {
    let s = match serde_json::from_str::<Value>(s) {
        Ok(mut v) => {
            if let Some(members) = v.get_mut("members").and_then(Value::as_array_mut) {
                members.sort_by_key(|m| m["name"].as_str().unwrap_or("").to_string());
            }
            format!("{v}\n")
        }
        Err(_) => s.to_string(),
    };
    // Decimal ids first: a short one is all hex digits too, and would read as a hex word.
    let mut s = s;
    for key in ["\"ID\":", "\"ID\" : ", "127.0.0.1:"] {
        s = mask_number_after(&s, key);
    }
    let s = mask_hex_words(&mask_ids(&s), 12..=16);
    let mut lines: Vec<String> = s.lines().map(|l| collapse(l, ' ')).map(|l| collapse(&l, '-')).collect();
    lines.sort();
    lines.join("\n")
}

/// Runs of `c` as one `c`.
fn collapse(s: &str, c: char) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if !(ch == c && out.ends_with(c)) {
            out.push(ch);
        }
    }
    out
}

/// Masks a member added by one tool so that another's can be compared with it: its id
/// (hex, padded by `%16x`, and decimal) and peer URL (etcd 3.4 derives the id from the
/// URLs and the second, and refuses a removed id: each add needs a URL of its own), and
/// the order of `ETCD_INITIAL_CLUSTER` and of JSON members, which follow the id.
fn mask_added(s: &str, id: u64, url: &str) -> String {
    let s = s.replace(url, "http://NEW");
    let s = match serde_json::from_str::<Value>(&s) {
        Ok(mut v) => {
            if let Some(members) = v.get_mut("members").and_then(Value::as_array_mut) {
                members.sort_by_key(|m| m["peerURLs"].to_string());
            }
            format!("{v}\n")
        }
        Err(_) => s.to_string(),
    };
    let s = s.replace(&format!("{id:16x}"), "NEW").replace(&format!("{id:x}"), "NEW").replace(&id.to_string(), "NEW");
    s.lines()
        .map(|l| match l.strip_prefix("ETCD_INITIAL_CLUSTER=\"").and_then(|l| l.strip_suffix('"')) {
            Some(list) => {
                let mut pairs: Vec<&str> = list.split(',').collect();
                pairs.sort();
                format!("ETCD_INITIAL_CLUSTER=\"{}\"\n", pairs.join(","))
            }
            None => format!("{l}\n"),
        })
        .collect()
}

#[test]
fn stratactl_member_list_and_errors_print_what_etcdctl_prints() {
    need_etcdctl!();
    if !have_etcd() {
        eprintln!("skipped: /usr/bin/etcd not installed (apt-get install etcd-server)");
        return;
    }
    let (strata, etcd) = std::thread::scope(|s| {
        let etcd = s.spawn(|| MemberProcess::start_etcd_cluster(3, &[]).expect("start an etcd cluster"));
        let strata = MemberProcess::start_strata_cluster(env!("CARGO_BIN_EXE_strata"), 3, &[]).expect("start strata");
        (strata, etcd.join().expect("etcd cluster thread"))
    });
    let endpoint = strata[1].endpoint();

    // The same cluster: the same bytes. Membership changes are refused by strata for
    // now (and once they are built, these are refused for what they ask).
    let taken = members(&endpoint)[0]["peerURLs"][0].as_str().expect("a peer URL").to_string();
    let mut steps = owned(LIST);
    steps.extend(owned(ARGUMENT_ERRORS));
    steps.extend(owned(&[
        &["member", "remove", "123"],
        &["member", "update", "123", "--peer-urls=http://127.0.0.1:1"],
        &["member", "promote", "123"],
    ]));
    for learner in [false, true] {
        let mut add = vec!["member".to_string(), "add".into(), "x".into(), format!("--peer-urls={taken}")];
        add.extend(learner.then(|| "--learner".to_string()));
        steps.push(add);
    }
    let diffs = same_cluster_differences(&endpoint, &steps);
    assert!(diffs.is_empty(), "{} steps differ on strata:\n{}", diffs.len(), diffs.join("\n"));

    // stratactl on strata, etcdctl on etcd.
    let mut diffs = Vec::new();
    for args in LIST.iter().chain(ARGUMENT_ERRORS).filter(|a| !a.contains(&"protobuf")) {
        let want = run(ETCDCTL, &etcd[1].endpoint(), args).render(mask_clusters);
        let got = run(STRATACTL, &endpoint, args).render(mask_clusters);
        if want != got {
            diffs.push(format!("$ {}\netcdctl on etcd:\n{want}\nstratactl on strata:\n{got}", args.join(" ")));
        }
    }
    assert!(diffs.is_empty(), "{} steps differ from etcd:\n{}", diffs.len(), diffs.join("\n"));
}

/// An etcd member started from what `member add` printed, to join as a learner.
struct Joining {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Joining {
    /// Starts etcd with the `ETCD_*` lines of `added` (a simple `member add` output).
    fn start(added: &str, client_port: u16) -> Joining {
        let var = |name: &str| -> String {
            let line = added.lines().find_map(|l| l.strip_prefix(&format!("{name}=\"")));
            line.and_then(|v| v.strip_suffix('"')).unwrap_or_else(|| panic!("no {name} in {added:?}")).to_string()
        };
        assert_eq!(var("ETCD_INITIAL_CLUSTER_STATE"), "existing");
        let dir = tempfile::tempdir().expect("tempdir");
        let log = std::fs::File::create(dir.path().join("member.log")).expect("log");
        let client = format!("http://127.0.0.1:{client_port}");
        let child = Command::new("/usr/bin/etcd")
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

/// Adds a learner with `tool`, starts it, and promotes it with `tool` once it has
/// caught up (etcd refuses a learner that is not in sync). Returns the add's and the
/// promotion's output, each with the new id masked.
fn add_start_promote(tool: &str, endpoint: &str, name: &str) -> (String, String, Joining) {
    let (peer, client) = (free_port().expect("port"), free_port().expect("port"));
    let url = format!("http://127.0.0.1:{peer}");
    let added = run(tool, endpoint, &["member", "add", name, "--learner", &format!("--peer-urls={url}")]);
    assert_eq!(added.code, 0, "{tool} member add: {added:?}");
    let id = id_with_peer_url(endpoint, &url);
    let joining = Joining::start(&String::from_utf8_lossy(&added.stdout), client);
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
    need_etcdctl!();
    if !have_etcd() {
        eprintln!("skipped: /usr/bin/etcd not installed (apt-get install etcd-server)");
        return;
    }
    // Without the strict check, etcd adds members before its peers have been connected
    // for 5 s (and refuses nothing these steps do).
    let etcd = MemberProcess::start_etcd_cluster(3, &["--strict-reconfig-check=false"]).expect("start an etcd cluster");
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
    let diffs = same_cluster_differences(&endpoint, &steps);
    assert!(diffs.is_empty(), "{} steps differ on etcd:\n{}", diffs.len(), diffs.join("\n"));

    // Each tool adds a learner the other removes, in simple and JSON output.
    for format in ["simple", "json"] {
        let mut outputs = Vec::new();
        for (adds, removes) in [(ETCDCTL, STRATACTL), (STRATACTL, ETCDCTL)] {
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
    // sync (3.4 allows one learner at a time).
    let (want_add, want_promote, _first) = add_start_promote(ETCDCTL, &endpoint, "l1");
    let (got_add, got_promote, _second) = add_start_promote(STRATACTL, &endpoint, "l2");
    assert!(want_promote.starts_with("Member NEW promoted in cluster "), "{want_promote}");
    assert_eq!(got_promote, want_promote, "stratactl member promote (left) against etcdctl's");
    assert!(got_add.contains("ETCD_NAME=\"l2\"") && want_add.contains("ETCD_NAME=\"l1\""), "{got_add}\n{want_add}");
}
