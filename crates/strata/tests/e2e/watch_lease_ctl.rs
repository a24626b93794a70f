//! `stratactl watch` and `lease` against strata print what `etcdctl` 3.4.23
//! prints against etcd 3.4.23, step by step (`crates/ctl/tests/testdata/
//! watch_lease_steps.txt`, whose header explains the format, the background
//! writers and the timing). Compared: stdout with member/cluster ids, terms
//! and lease ids masked, the exit code and the final `Error:` line.

use testkit::{Member, have_etcd, mask_ids, run_steps, step_differences};

use crate::{need_etcdctl, strata};

const STEPS: &str = include_str!("../../../ctl/tests/testdata/watch_lease_steps.txt");

/// Lease ids differ from run to run: 16-hex-digit words and the decimal after
/// an `ID` field.
fn mask_leases(s: &str) -> String {
    let words: Vec<String> = s
        .split_inclusive(|c: char| !c.is_ascii_hexdigit())
        .map(|w| {
            let body = w.trim_end_matches(|c: char| !c.is_ascii_hexdigit());
            if body.len() == 16 { w.replacen(body, "LEASE", 1) } else { w.to_string() }
        })
        .collect();
    let mut out = words.concat();
    for key in ["\"ID\" : ", "\"ID\":", "\"id\":"] {
        let mut masked = String::new();
        let mut rest = out.as_str();
        while let Some(i) = rest.find(key) {
            let (head, tail) = rest.split_at(i + key.len());
            masked.push_str(head);
            let n = tail.bytes().take_while(|b| b.is_ascii_digit() || *b == b'"' || *b == b'-').count();
            masked.push_str(if n > 0 { "N" } else { "" });
            rest = &tail[n..];
        }
        masked.push_str(rest);
        out = masked;
    }
    out
}

fn session(cli: &str, m: &Member) -> Vec<String> {
    run_steps(cli, &m.endpoint(), STEPS, |s| mask_leases(&mask_ids(s)))
}

#[test]
fn stratactl_watch_and_lease_on_strata_print_what_etcdctl_prints_on_etcd() {
    need_etcdctl!();
    if !have_etcd() {
        eprintln!("skipped: /usr/bin/etcd not installed (apt-get install etcd-server)");
        return;
    }
    // The steps with background writers race a 1 s sleep; on a loaded 2-core
    // machine a step can lose that race once. A difference that does not come
    // back on a second, fresh pair of servers is reported but not failed.
    let mut report = None;
    for attempt in 1..=2 {
        let etcd = Member::start_etcd(&[]).expect("start etcd");
        let want = session("/usr/bin/etcdctl", &etcd);
        drop(etcd);
        let s = strata(&[]);
        let got = session(env!("CARGO_BIN_EXE_stratactl"), &s);
        report = step_differences(&want, &got);
        match &report {
            None => return,
            Some(r) => eprintln!("attempt {attempt}: {r}"),
        }
    }
    if let Some(report) = report {
        panic!("{report}");
    }
}

#[test]
fn lease_masking_hides_only_lease_ids() {
    assert_eq!(mask_leases("lease 694d7a9e8c8f2c1a granted with TTL(100s)"), "lease LEASE granted with TTL(100s)");
    assert_eq!(mask_leases("{\"ID\":7587869346113063963,\"TTL\":100}"), "{\"ID\":N,\"TTL\":100}");
    assert_eq!(mask_leases("revision 12"), "revision 12");
}
