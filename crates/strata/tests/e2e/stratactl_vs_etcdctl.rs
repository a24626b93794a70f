//! `stratactl` against strata prints what `etcdctl` 3.4.23 prints against
//! etcd 3.4.23, step by step (`testdata/ctl_steps.txt`: one shell line per
//! step, `$C` is the CLI with its endpoint). Compared: stdout with ids and
//! Raft terms masked, the exit code, and the final `Error:` line.
//! Steps left out on purpose, with the reason, are in docs/compatibility.md
//! (version text, the program name in cobra's unknown-command error, 3.5+
//! flags that 3.4 rejects, etcdctl 3.4's single-quote bug, protobuf bytes that
//! embed the Raft term, the env/flag conflict that etcdctl reports as a log
//! line).

use testkit::{MemberProcess, have_etcd, mask_ids, run_steps, step_differences};

use crate::{need_etcdctl, strata};

const STEPS: &str = include_str!("testdata/ctl_steps.txt");

fn session(cli: &str, m: &MemberProcess) -> Vec<String> {
    run_steps(cli, &m.endpoint(), STEPS, mask_ids)
}

#[test]
fn stratactl_on_strata_prints_what_etcdctl_prints_on_etcd() {
    need_etcdctl!();
    if !have_etcd() {
        eprintln!("skipped: /usr/bin/etcd not installed (apt-get install etcd-server)");
        return;
    }
    let etcd = MemberProcess::start_etcd(&[]).expect("start etcd");
    let want = session("/usr/bin/etcdctl", &etcd);
    drop(etcd);
    let s = strata(&[]);
    let got = session(env!("CARGO_BIN_EXE_stratactl"), &s);
    if let Some(report) = step_differences(&want, &got) {
        panic!("{report}");
    }
}
