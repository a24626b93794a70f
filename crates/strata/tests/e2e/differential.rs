//! The same etcdctl steps against Debian's etcd 3.4.23 and against strata
//! must print the same, once member ids, cluster ids and Raft terms are masked.

use testkit::{CtlOutput, MemberProcess, etcdctl, have_etcd, mask_ids};

use crate::{need_etcdctl, strata};

/// Steps of a session: arguments and optional stdin.
const STEPS: &[(&[&str], Option<&str>)] = &[
    (&["get", "foo", "-w", "json"], None),
    (&["put", "foo", "bar", "-w", "json"], None),
    (&["put", "foo", "baz", "--prev-kv"], None),
    (&["put", "foo2", "x"], None),
    (&["put", "foo3", "y", "-w", "fields"], None),
    (&["get", "foo", "--prefix", "-w", "json"], None),
    (&["get", "foo", "--prefix", "-w", "fields"], None),
    (&["get", "foo", "--prefix", "--keys-only"], None),
    (&["get", "foo", "--prefix", "--limit=2", "--sort-by=MODIFY", "--order=DESCEND", "-w", "json"], None),
    (&["get", "foo", "--rev=2"], None),
    (&["get", "", "--prefix", "--print-value-only"], None),
    (&["txn", "-w", "json"], Some("value(\"foo\") = \"baz\"\n\nput t1 a\nget foo\ndel foo3\n\nput t2 b\n\n")),
    (&["txn"], Some("ver(\"nokey\") > \"0\"\n\nput t3 a\n\nget t1\nget nokey\n\n")),
    (&["del", "foo", "--prefix", "--prev-kv", "-w", "json"], None),
    (&["del", "foo"], None),
    (&["compaction", "3"], None),
    (&["get", "foo", "--rev=2"], None),
    (&["compaction", "3"], None),
    (&["compaction", "100"], None),
    (&["put", "", "x"], None),
    (&["get", "t1", "-w", "fields"], None),
];

fn session(m: &MemberProcess) -> Vec<String> {
    STEPS
        .iter()
        .map(|(args, stdin)| {
            let out: CtlOutput = etcdctl(&m.endpoint(), args, *stdin).expect("etcdctl");
            format!(
                "$ etcdctl {}\n{}{}[exit {}]\n",
                args.join(" "),
                mask_ids(&out.stdout),
                out.error_line().unwrap_or(""),
                out.code
            )
        })
        .collect()
}

#[test]
fn etcdctl_prints_the_same_against_etcd_and_strata() {
    need_etcdctl!();
    if !have_etcd() {
        eprintln!("skipped: /usr/bin/etcd not installed (apt-get install etcd-server)");
        return;
    }
    let etcd = MemberProcess::start_etcd(&[]).expect("start etcd");
    let want = session(&etcd);
    drop(etcd);
    let s = strata(&[]);
    let got = session(&s);
    assert_eq!(want.len(), STEPS.len());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g, w, "strata differs from etcd 3.4.23");
    }
}
