//! etcdctl 3.4.23 dialling endpoints written as URLs: `--endpoints
//! http://127.0.0.1:PORT`, and the client URLs every `--cluster` command
//! takes from the member list. Its grpc-go sends the URL as the HTTP/2
//! `:authority`, which the Rust HTTP/2 server refuses unless
//! `server::authority` has cut the scheme off first.

use std::collections::BTreeSet;

use testkit::{MemberProcess, etcdctl};

use crate::{need_etcdctl, strata};

fn url(m: &MemberProcess) -> String {
    format!("http://{}", m.endpoint())
}

/// Runs etcdctl, which must succeed, and returns what it printed.
fn ok(endpoints: &str, args: &[&str]) -> String {
    let out = etcdctl(endpoints, args, None).expect("run etcdctl");
    assert_eq!(out.code, 0, "etcdctl --endpoints {endpoints} {args:?}: {}{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("PROTOCOL_ERROR"), "etcdctl {args:?}: {}", out.stderr);
    out.stdout
}

#[test]
fn etcdctl_with_a_url_endpoint_is_served() {
    need_etcdctl!();
    let m = strata(&[]);
    let ep = url(&m);

    let status = ok(&ep, &["endpoint", "status"]);
    assert_eq!(status.lines().count(), 1, "{status}");
    assert!(status.starts_with(&format!("{ep}, ")) && status.contains(", 3.6.14, "), "{status}");
    let hash = ok(&ep, &["endpoint", "hashkv"]);
    let hash = hash.trim_end().strip_prefix(&format!("{ep}, ")).unwrap_or_else(|| panic!("{hash}"));
    assert!(hash.parse::<u32>().is_ok(), "{hash}");
    assert_eq!(ok(&ep, &["put", "k", "v"]), "OK\n");
    assert_eq!(ok(&ep, &["get", "k"]), "k\nv\n");
}

#[test]
fn etcdctl_cluster_commands_reach_every_member_by_its_client_url() {
    need_etcdctl!();
    let members =
        MemberProcess::start_strata_cluster(env!("CARGO_BIN_EXE_strata"), 3, &[]).expect("start a 3-member cluster");
    let urls: BTreeSet<String> = members.iter().map(url).collect();
    let all = urls.iter().cloned().collect::<Vec<_>>().join(",");
    assert_eq!(ok(&all, &["put", "k", "v"]), "OK\n");
    assert_eq!(ok(&all, &["get", "k"]), "k\nv\n");

    // Dialled by host:port; the --cluster commands then use the member list's URLs.
    let seed = members[0].endpoint();
    let endpoint = |line: &str| line.split(", ").next().unwrap_or_default().to_string();
    let status = ok(&seed, &["endpoint", "status", "--cluster"]);
    assert_eq!(status.lines().map(endpoint).collect::<BTreeSet<_>>(), urls, "{status}");
    assert_eq!(status.lines().count(), 3, "{status}");
    let hashes = ok(&seed, &["endpoint", "hashkv", "--cluster"]);
    assert_eq!(hashes.lines().map(endpoint).collect::<BTreeSet<_>>(), urls, "{hashes}");
    assert_eq!(hashes.lines().count(), 3, "{hashes}");
    let defrag = ok(&seed, &["defrag", "--cluster"]);
    let defragged: BTreeSet<String> = defrag
        .lines()
        .map(|l| l.strip_prefix("Finished defragmenting etcd member[").and_then(|l| l.strip_suffix(']')))
        .map(|u| u.unwrap_or_else(|| panic!("{defrag}")).to_string())
        .collect();
    assert_eq!(defragged, urls, "{defrag}");
    assert_eq!(defrag.lines().count(), 3, "{defrag}");
}
