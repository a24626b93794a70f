//! The `strata-bench` binary as a user runs it: flags, exit statuses and messages. (Its
//! runs against real servers are the smoke run in `.ci/run`, which uses the binary this
//! test makes cargo build.)

use std::process::{Command, Output};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata-bench")).args(args).output().expect("strata-bench runs")
}

#[test]
fn help_lists_the_workloads_and_compare() {
    let out = bench(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let words =
        ["put", "range", "txn", "watch", "lease", "catchup", "compare", "--launch", "--members", "--target-leader"];
    for word in words.into_iter().chain(["--duration", "--warmup"]) {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
}

#[test]
fn an_unreachable_endpoint_fails_with_status_1_and_says_why() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let out = bench(&["--endpoints", &closed.to_string(), "--dial-timeout", "500ms", "--total", "1", "put"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(out.stdout.is_empty(), "no report without a run");
}

#[test]
fn watch_and_lease_check_their_flags_before_connecting() {
    let out = bench(&["watch", "--watchers", "2", "--streams", "3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--streams 3 is more than --watchers 2"));
    assert_eq!(bench(&["watch", "--val-size", "8"]).status.code(), Some(1), "no room for the stamp");
    assert_eq!(bench(&["lease", "--leases", "0"]).status.code(), Some(2));
}

#[test]
fn bad_flags_are_usage_errors() {
    assert_eq!(bench(&["--duration", "soon", "put"]).status.code(), Some(2));
    assert_eq!(bench(&["range", "--prefix-len", "8"]).status.code(), Some(1), "prefix as long as the key");
}
