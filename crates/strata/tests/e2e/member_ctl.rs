//! `member list | add | remove | update | promote`, on 3-member clusters of strata, etcd
//! 3.6.14 and etcd 3.4.23.
//!
//! On the strata cluster stratactl prints the same bytes as etcdctl 3.6.14 for `member
//! list` in every format, for every argument error and for the server's refusals. Then
//! the columns of `ctl_columns`, ids and ports masked: stratactl and etcdctl 3.6.14 on
//! strata print what etcdctl 3.6.14 prints on etcd 3.6.14, etcdctl 3.4.23 on strata
//! what it prints on etcd 3.4.23 — once as the clusters start, and again once each has
//! an unstarted learner (added by stratactl to strata, by each etcdctl to its etcd),
//! with the adds' own output compared too. Changes that need members started from
//! `member add`'s lines are in `member_changes_ctl`.

use std::process::{Command, Stdio};

use serde_json::Value;
use testkit::{MemberProcess, anchor, free_port, have_etcd, mask_hex_words, mask_ids, mask_number_after};

use crate::ctl_columns::{ETCDCTL34, STRATACTL};

/// etcdctl 3.6.14, if its anchor is unpacked.
pub(crate) fn etcdctl36() -> Option<String> {
    anchor("etcdctl").map(|p| p.to_string_lossy().into_owned())
}

/// `member list` in every format, with the arguments etcdctl ignores and a prefix.
pub(crate) const LIST: &[&[&str]] = &[
    &["member", "list"],
    &["member", "list", "-w", "json"],
    &["member", "list", "-w", "table"],
    &["member", "list", "-w", "fields"],
    &["member", "list", "-w", "protobuf"],
    &["member", "list", "--hex", "-w", "json"],
    &["member", "list", "--hex", "-w", "fields"],
    &["member", "list", "--consistency=s", "-w", "table"],
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
    &["member", "list", "--consistency=x"],
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

/// Runs each of `steps` with `etcdctl` and with stratactl against `endpoint`; a report
/// of every step whose stdout bytes, error line or exit code differ.
pub(crate) fn same_cluster_differences(etcdctl: &str, endpoint: &str, steps: &[Vec<String>]) -> Vec<String> {
    let mut diffs = Vec::new();
    for step in steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        let (want, got) = (run(etcdctl, endpoint, &args), run(STRATACTL, endpoint, &args));
        if want != got {
            let (want, got) = (want.render(str::to_string), got.render(str::to_string));
            diffs.push(format!("$ member {}\netcdctl:\n{want}\nstratactl:\n{got}", args[1..].join(" ")));
        }
    }
    diffs
}

pub(crate) fn owned(steps: &[&[&str]]) -> Vec<Vec<String>> {
    steps.iter().map(|s| s.iter().map(|a| a.to_string()).collect()).collect()
}

/// The members of `endpoint`'s cluster (stratactl's JSON member list).
pub(crate) fn members(endpoint: &str) -> Vec<Value> {
    let out = run(STRATACTL, endpoint, &["member", "list", "-w", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("member list: {e}: {out:?}"));
    list["members"].as_array().cloned().unwrap_or_default()
}

/// The id of the member with peer URL `url`.
pub(crate) fn id_with_peer_url(endpoint: &str, url: &str) -> u64 {
    let members = members(endpoint);
    let found = members.iter().find(|m| m["peerURLs"].as_array().is_some_and(|u| u.iter().any(|u| u == url)));
    found.and_then(|m| m["ID"].as_u64()).unwrap_or_else(|| panic!("no member with {url} in {members:?}"))
}

/// Masks what differs between two clusters: ids, ports and terms, the order of the
/// members (by id, and ids follow the ports), and the table's padding, which follows
/// the width of the ids. (JSON ids in hex, `--hex`'s, become `HEX`.)
pub(crate) fn mask_clusters(s: &str) -> String {
    let s = match serde_json::from_str::<Value>(s) {
        Ok(mut v) => {
            if let Some(members) = v.get_mut("members").and_then(Value::as_array_mut) {
                members.sort_by_key(|m| m["name"].as_str().unwrap_or("").to_string());
                members.iter_mut().for_each(|m| hex_id(&mut m["ID"]));
            }
            if let Some(header) = v.get_mut("header") {
                hex_id(&mut header["cluster_id"]);
                hex_id(&mut header["member_id"]);
            }
            format!("{v}\n")
        }
        Err(_) => s.lines().map(|l| format!("{}\n", mask_fields_id(l))).collect(),
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

/// A fields line holding an id, decimal or (with `--hex`) hex, with the id as `N`.
fn mask_fields_id(line: &str) -> String {
    for key in ["\"ClusterID\" : ", "\"MemberID\" : ", "\"ID\" : "] {
        if line.starts_with(key) {
            return format!("{key}N");
        }
    }
    line.to_string()
}

/// An id that is a string (etcdctl 3.6's `--hex` JSON) as `HEX`.
fn hex_id(v: &mut Value) {
    if v.is_string() {
        *v = Value::from("HEX");
    }
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
pub(crate) fn mask_added(s: &str, id: u64, url: &str) -> String {
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

/// Each of `steps` by `want` on `want_ep` and by `got` on `got_ep`, both masked with
/// [`mask_clusters`]; a report of every step that differs.
fn cross_differences(want: (&str, &str), got: (&str, &str), steps: &[Vec<String>]) -> Vec<String> {
    let mut diffs = Vec::new();
    for step in steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        let w = run(want.0, want.1, &args).render(mask_clusters);
        let g = run(got.0, got.1, &args).render(mask_clusters);
        if w != g {
            diffs.push(format!("$ {}\n{} on {}:\n{w}\n{} on {}:\n{g}", args.join(" "), want.0, want.1, got.0, got.1));
        }
    }
    diffs
}

/// Adds an unstarted learner to `endpoint`'s cluster with `tool`: its id, and what the
/// add printed with its id, its peer URL and every port masked.
fn add_learner(tool: &str, endpoint: &str) -> (u64, String) {
    let url = format!("http://127.0.0.1:{}", free_port().expect("port"));
    let add = || run(tool, endpoint, &["member", "add", "l1", "--learner", &format!("--peer-urls={url}")]);
    // A cluster refuses additions with "unhealthy cluster" until its members have
    // been connected for a while (etcd's strict reconfiguration check), which a
    // fresh cluster on a loaded machine may not have been yet.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut added = add();
    while added.error.contains("unhealthy cluster") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(500));
        added = add();
    }
    assert_eq!(added.code, 0, "{tool} member add: {added:?}");
    let id = id_with_peer_url(endpoint, &url);
    (id, added.render(|s| mask_clusters(&mask_added(s, id, &url))))
}

/// The clusters of the comparison, started side by side: strata's, etcd 3.6.14's (if
/// its anchor is there) and etcd 3.4.23's (if installed).
fn clusters() -> (Vec<MemberProcess>, Option<Vec<MemberProcess>>, Option<Vec<MemberProcess>>) {
    std::thread::scope(|s| {
        let etcd36 = s.spawn(|| {
            etcdctl36().map(|_| MemberProcess::start_etcd36_cluster(3, &[]).expect("start an etcd 3.6.14 cluster"))
        });
        let etcd34 = s.spawn(|| {
            (have_etcd() && testkit::have_etcdctl())
                .then(|| MemberProcess::start_etcd_cluster(3, &[]).expect("start an etcd 3.4.23 cluster"))
        });
        let strata = MemberProcess::start_strata_cluster(env!("CARGO_BIN_EXE_strata"), 3, &[]).expect("start strata");
        (strata, etcd36.join().expect("etcd 3.6.14 thread"), etcd34.join().expect("etcd 3.4.23 thread"))
    })
}

#[test]
fn member_list_errors_and_learners_print_what_etcdctl_prints() {
    let Some(etcdctl) = etcdctl36() else {
        eprintln!("{}", testkit::missing_anchor("etcdctl"));
        return;
    };
    let (strata, etcd36, etcd34) = clusters();
    let endpoint = strata[1].endpoint();

    // The same cluster: the same bytes, refusals of membership changes included.
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
    let diffs = same_cluster_differences(&etcdctl, &endpoint, &steps);
    assert!(diffs.is_empty(), "{} steps differ on strata:\n{}", diffs.len(), diffs.join("\n"));

    // The columns, as the clusters started and again with a learner each.
    let lists: Vec<Vec<String>> = owned(LIST).into_iter().filter(|a| !a.contains(&"protobuf".to_string())).collect();
    let mut listed = lists.clone();
    listed.extend(owned(ARGUMENT_ERRORS));
    let mut diffs = columns(&etcdctl, &strata, etcd36.as_deref(), etcd34.as_deref(), &listed);

    let (strata_learner, got) = add_learner(STRATACTL, &endpoint);
    let mut learners = vec![(STRATACTL.to_string(), endpoint.clone(), strata_learner, got)];
    if let Some(etcd) = &etcd36 {
        let (id, added) = add_learner(&etcdctl, &etcd[1].endpoint());
        learners.push((etcdctl.clone(), etcd[1].endpoint(), id, added));
    }
    if let Some(etcd) = &etcd34 {
        add_learner(ETCDCTL34, &etcd[1].endpoint());
    }
    // What the adds printed, and the refusal to promote a learner that is not in sync.
    let promote = |(tool, ep, id, _): &(String, String, u64, String)| {
        run(tool, ep, &["member", "promote", &format!("{id:x}")]).render(mask_clusters)
    };
    if let [(.., got), (.., want)] = learners.as_slice()
        && want != got
    {
        diffs
            .push(format!("member add --learner\netcdctl 3.6.14 on etcd 3.6.14:\n{want}\nstratactl on strata:\n{got}"));
    }
    if let [ours, theirs] = learners.as_slice()
        && promote(ours) != promote(theirs)
    {
        diffs.push(format!(
            "member promote\netcdctl on etcd:\n{}\nstratactl on strata:\n{}",
            promote(theirs),
            promote(ours)
        ));
    }
    diffs.extend(columns(&etcdctl, &strata, etcd36.as_deref(), etcd34.as_deref(), &lists));
    assert!(diffs.is_empty(), "{} steps differ:\n{}", diffs.len(), diffs.join("\n"));
}

/// The columns on `steps`, ids and ports masked: stratactl and etcdctl 3.6.14 on strata
/// against etcdctl 3.6.14 on etcd 3.6.14, and etcdctl 3.4.23 on strata against it on
/// etcd 3.4.23 (each where that cluster runs).
fn columns(
    etcdctl: &str,
    strata: &[MemberProcess],
    etcd36: Option<&[MemberProcess]>,
    etcd34: Option<&[MemberProcess]>,
    steps: &[Vec<String>],
) -> Vec<String> {
    let ours = strata[1].endpoint();
    let mut diffs = Vec::new();
    if let Some(etcd) = etcd36 {
        let theirs = etcd[1].endpoint();
        diffs.extend(cross_differences((etcdctl, &theirs), (STRATACTL, &ours), steps));
        diffs.extend(cross_differences((etcdctl, &theirs), (etcdctl, &ours), steps));
    }
    if let Some(etcd) = etcd34 {
        diffs.extend(cross_differences((ETCDCTL34, &etcd[1].endpoint()), (ETCDCTL34, &ours), steps));
    }
    diffs
}
