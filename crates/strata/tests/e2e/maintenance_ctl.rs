//! `endpoint status | health | hashkv`, `alarm list | disarm`, `defrag`, `compaction
//! --physical`, `downgrade` and `snapshot save`, step by step
//! (`testdata/maintenance_steps.txt`, whose header explains the format), in the columns
//! of `ctl_columns` (etcdctl 3.4.23 and 3.6.14 on strata against the same etcdctl on
//! etcd of its version, stratactl on strata against etcdctl 3.6.14 on etcd 3.6.14), with
//! Raft terms and indexes and database sizes masked; and stratactl against etcdctl
//! 3.6.14 on etcd 3.6.14 itself, where only ids, ports, sizes and timings are masked, so
//! the printers are checked on identical answers. Offline defrag has its own test:
//! etcd's data dir is not Strata's.

use testkit::{mask_ids, mask_number_after};

use crate::ctl_columns::{COLUMN_36, COLUMN_STRATACTL, Column, Flags, Run, run_all, version_as_34};
use crate::strata;

const STEPS: &str = include_str!("testdata/maintenance_steps.txt");
const QUOTA: &str = "1000000";
const STRATACTL: &str = env!("CARGO_BIN_EXE_stratactl");

/// Strata with etcd's quota: the file size counts, the alarm stays until disarmed, no
/// reserve.
const ETCD_QUOTA: [&str; 8] = [
    "--quota-backend-bytes",
    QUOTA,
    "--strata-quota-counting",
    "db-size",
    "--strata-nospace-auto-disarm",
    "false",
    "--strata-quota-reserve-bytes",
    "0",
];

/// Every endpoint's port (`127.0.0.1:1`, the dead one, stays): `EP`.
fn mask_endpoints(s: &str) -> String {
    testkit::mask_after(s, "127.0.0.1:", |rest| {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if &rest[..n] == "1" { (0, String::new()) } else { (n, "PORT".to_string()) }
    })
    .replace("127.0.0.1:PORT", "EP")
}

/// Replaces the number (digits, with a `.` or one of `"`) right after each `key`.
/// Go durations (`2.46ms`, `850µs`, `5.0007s`) become `T`; says whether there were any.
pub(crate) fn mask_durations(s: &str) -> (String, bool) {
    let mut out = String::new();
    let mut found = false;
    let mut chars = s.char_indices().peekable();
    let mut prev_word = false;
    while let Some((i, c)) = chars.next() {
        if c.is_ascii_digit() && !prev_word {
            let number_end = s[i..].find(|c: char| !(c.is_ascii_digit() || c == '.')).map_or(s.len(), |n| i + n);
            let after = &s[number_end..];
            let unit = ["ns", "µs", "ms", "s"]
                .into_iter()
                .find(|u| after.starts_with(u) && !after[u.len()..].starts_with(|c: char| c.is_alphanumeric()));
            if let Some(unit) = unit {
                out.push('T');
                found = true;
                let end = number_end + unit.len();
                while chars.peek().is_some_and(|(j, _)| *j < end) {
                    chars.next();
                }
                prev_word = true;
                continue;
            }
        }
        prev_word = c.is_alphanumeric() || c == '.';
        out.push(c);
    }
    (out, found)
}

/// The steps after this line mask HashKV's hash when etcd and strata are compared.
const HASH_MARKER: &str = "# ---- hashes masked from here";

/// How many steps come before [`HASH_MARKER`].
fn exact_hash_steps() -> usize {
    STEPS
        .lines()
        .take_while(|l| *l != HASH_MARKER)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .count()
}

/// Masks what differs between two members, database sizes included (they move with
/// etcd's background commits even between two fresh etcds). `servers`: the two are
/// different servers (etcd and strata), so Raft terms and indexes differ too;
/// `hashes`: so do their HashKV hashes.
fn mask(rendered: &str, servers: bool, hashes: bool) -> String {
    let mut s = mask_ids(rendered);
    if hashes {
        for key in ["\"hash\":", "\"Hash\" : "] {
            s = mask_number_after(&s, key);
        }
    }
    for key in [
        "\"leader\":",
        "\"memberID\":",
        "memberID:",
        "\"Leader\" : ",
        "\"dbSizeInUse\":",
        "\"dbSize\":",
        "\"DBSize\" : ",
        "\"DBSizeInUse\" : ",
    ] {
        s = mask_number_after(&s, key);
    }
    if servers {
        for key in
            ["\"raftIndex\":", "\"raftTerm\":", "\"raftAppliedIndex\":", "\"RaftIndex\" : ", "\"RaftAppliedIndex\" : "]
        {
            s = mask_number_after(&s, key);
        }
    }
    let (s, _) = mask_durations(&s);
    // etcdctl 3.4's 10 columns, 3.6's 16 (sizes: db size, in use, percentage not in use).
    let status_34: &[usize] = if servers { &[1, 3, 6, 7, 8] } else { &[1, 3] };
    let status_36: &[usize] = if servers { &[1, 4, 5, 6, 10, 11, 12] } else { &[1, 4, 5, 6] };
    let mut header: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for line in s.lines() {
        let parts: Vec<&str> = line.split(", ").collect();
        if hashes && line.starts_with("EP, ") && (parts.len() == 2 || parts.len() == 3) {
            let masked: Vec<&str> = parts.iter().enumerate().map(|(i, p)| if i == 1 { "N" } else { p }).collect();
            lines.push(masked.join(", "));
        } else if line.starts_with("EP, ") && parts.len() >= 10 {
            let volatile = if parts.len() >= 16 { status_36 } else { status_34 };
            let masked: Vec<&str> =
                parts.iter().enumerate().map(|(i, p)| if volatile.contains(&i) { "N" } else { p }).collect();
            lines.push(masked.join(", "));
        } else if line.starts_with("+-") {
            lines.push("+-+".to_owned());
        } else if line.starts_with('|') {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            if header.is_empty() {
                header = cells.iter().map(|c| c.to_string()).collect();
            }
            let masked: Vec<&str> = cells
                .iter()
                .zip(header.iter().chain(std::iter::repeat(&String::new())))
                .map(|(c, h)| {
                    let volatile = h == "ID"
                        || h == "DB SIZE"
                        || h == "IN USE"
                        || h == "PERCENTAGE NOT IN USE"
                        || (hashes && h == "HASH")
                        || (servers && ["RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX"].contains(&h.as_str()));
                    if volatile && !c.is_empty() && c != h { "N" } else { c }
                })
                .collect();
            lines.push(format!("| {} |", masked.join(" | ")));
        } else {
            header.clear();
            lines.push(line.to_owned());
        }
    }
    lines.join("\n") + "\n"
}

/// Step `index` masked: `servers` as in [`mask`], the hashes too past [`HASH_MARKER`].
fn masked(index: usize, rendered: &str, servers: bool) -> String {
    mask(rendered, servers, servers && index >= exact_hash_steps())
}

#[test]
fn stratactl_maintenance_commands_print_what_etcdctl_prints() {
    let flags = Flags { etcd: &["--quota-backend-bytes", QUOTA], strata: &ETCD_QUOTA };
    let runs = [
        Run::Etcdctl34OnEtcd34,
        Run::Etcdctl34OnStrata,
        Run::Etcdctl36OnEtcd36,
        Run::Etcdctl36OnStrata,
        Run::StratactlOnStrata,
        Run::StratactlOnEtcd36,
    ];
    let rendered = run_all(STEPS, flags, &runs, mask_endpoints);
    let printers = Column { want: Run::Etcdctl36OnEtcd36, got: Run::StratactlOnEtcd36 };
    let reports: Vec<String> = [
        rendered.differences(printers, |i, s| masked(i, s, false)),
        rendered.differences_34(|i, s| version_as_34(&masked(i, s, true))),
        rendered.differences(COLUMN_36, |i, s| masked(i, s, true)),
        rendered.differences(COLUMN_STRATACTL, |i, s| masked(i, s, true)),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(reports.is_empty(), "{}", reports.join("\n\n"));
}

#[test]
fn offline_defrag_of_a_stopped_member_keeps_its_data_and_refuses_a_running_one() {
    let mut m = strata(&[]);
    let data_dir = m.data_dir();
    let dir = data_dir.to_str().expect("utf-8 path").to_owned();
    let ctl = |args: &[&str]| testkit::run_ctl(STRATACTL, &m.endpoint(), args, None).expect("run stratactl");
    for i in 0..200 {
        let out = ctl(&["put", &format!("k{}", i % 10), &"v".repeat(10_000)]);
        assert_eq!(out.code, 0, "{out:?}");
    }
    let rev = 201.to_string();
    assert_eq!(ctl(&["compaction", "--physical", &rev]).stdout, "compacted revision 201\n");
    let hash = ctl(&["endpoint", "hashkv"]).stdout;

    let running = ctl(&["defrag", "--data-dir", &dir]);
    assert_eq!(running.code, 1, "{running:?}");
    assert_eq!(running.stdout, "");
    assert_eq!(
        running.stderr,
        format!("The member at {dir} is running (its database is locked); to defragment it online, omit --data-dir\n")
    );

    m.terminate().expect("stop strata");
    let db = data_dir.join("member").join("state.redb");
    let before = std::fs::metadata(&db).expect("state.redb").len();
    let offline = testkit::run_ctl(STRATACTL, "127.0.0.1:1", &["defrag", "--data-dir", &dir], None).expect("run");
    assert_eq!((offline.code, offline.stdout.as_str(), offline.stderr.as_str()), (0, "", ""), "{offline:?}");
    let after = std::fs::metadata(&db).expect("state.redb").len();
    assert!(after < before, "state.redb did not shrink: {before} -> {after} bytes");

    m.restart().expect("restart strata");
    let ctl = |args: &[&str]| testkit::run_ctl(STRATACTL, &m.endpoint(), args, None).expect("run stratactl");
    assert_eq!(ctl(&["endpoint", "hashkv"]).stdout, hash);
    assert_eq!(ctl(&["get", "k3", "--print-value-only"]).stdout, format!("{}\n", "v".repeat(10_000)));

    let missing = testkit::run_ctl(STRATACTL, "127.0.0.1:1", &["defrag", "--data-dir", "/nonexistent/strata"], None)
        .expect("run");
    assert_eq!(missing.code, 1);
    assert_eq!(
        missing.stderr,
        "Failed to defragment etcd data[/nonexistent/strata] (/nonexistent/strata is not a directory)\n"
    );
}

#[test]
fn masks_hide_only_what_differs_between_members() {
    assert_eq!(
        mask_durations("took = 2.469046ms, 5.000685821s, 850µs; 5.7 MB 7d07b6 1s0"),
        ("took = T, T, T; 5.7 MB 7d07b6 1s0".to_owned(), true)
    );
    let row = "$ x\nEP, 7d07b6b9bfeb346a, 3.4.23, 74 kB, true, false, 1, 4, 4, memberID:123 alarm:NOSPACE \n[exit 0]\n";
    assert_eq!(
        mask(row, true, false),
        "$ x\nEP, N, 3.4.23, N, true, false, N, N, N, memberID:N alarm:NOSPACE \n[exit 0]\n"
    );
    assert_eq!(mask("$ x\nEP, 2788028894\n[exit 0]\n", true, true), "$ x\nEP, N\n[exit 0]\n");
    assert_eq!(mask("$ x\nEP, 2788028894, 5\n[exit 0]\n", true, true), "$ x\nEP, N, 5\n[exit 0]\n");
    let row36 =
        "$ x\nEP, 32238f34c4abac93, 3.6.14, 3.6.0, 20 kB, 16 kB, 20%, 1.0 MB, true, false, 2, 35, 35, , , false\n";
    assert_eq!(
        mask(row36, true, false),
        "$ x\nEP, N, 3.6.14, 3.6.0, N, N, N, 1.0 MB, true, false, N, N, N, , , false\n"
    );
    assert_eq!(
        mask(row36, false, false),
        "$ x\nEP, N, 3.6.14, 3.6.0, N, N, N, 1.0 MB, true, false, 2, 35, 35, , , false\n"
    );
    assert_eq!(
        mask(row, false, false),
        "$ x\nEP, N, 3.4.23, N, true, false, 1, 4, 4, memberID:N alarm:NOSPACE \n[exit 0]\n"
    );
}
