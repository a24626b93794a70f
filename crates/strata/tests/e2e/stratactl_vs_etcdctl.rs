//! `get`, `put`, `del`, `txn` and `compaction` step by step
//! (`testdata/ctl_steps.txt`: one shell line per step, `$C` is the CLI with its
//! endpoint) in the columns of `ctl_columns`: etcdctl 3.4.23 and 3.6.14 print on
//! strata what they print on etcd 3.4.23 and 3.6.14, and stratactl on strata
//! prints what etcdctl 3.6.14 prints on etcd 3.6.14. Compared: stdout with ids
//! and Raft terms masked, the exit code, and the final `Error:` line.
//! Steps left out on purpose, with the reason, are in docs/compatibility.md
//! (version text, the program name in cobra's unknown-command error, etcdctl
//! 3.4's single-quote bug, protobuf bytes that embed the Raft term, the
//! env/flag conflict that etcdctl reports as a log line).

use testkit::{mask_after, mask_ids};

use crate::ctl_columns::{Flags, compare_columns};

const STEPS: &str = include_str!("testdata/ctl_steps.txt");

/// Ids and terms, and what `check datascale` measures: the memory the member grew by
/// (any decimal, negative too) and the port of the endpoint it defragments.
fn mask(s: &str) -> String {
    let number = |rest: &str| {
        (rest.bytes().take_while(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.')).count(), "N".to_string())
    };
    mask_after(&mask_after(&mask_ids(s), "memory used : ", number), "127.0.0.1:", number)
}

#[test]
fn stratactl_on_strata_prints_what_etcdctl_prints_on_etcd() {
    compare_columns(STEPS, Flags::default(), mask);
}

#[test]
fn datascale_masking_hides_only_the_memory_and_the_port() {
    assert_eq!(
        mask("PASS: Approximate system memory used : -42.54 MB.\nDefragmenting \"127.0.0.1:4321\"\nrevision 12"),
        "PASS: Approximate system memory used : N MB.\nDefragmenting \"127.0.0.1:N\"\nrevision 12\n"
    );
}
