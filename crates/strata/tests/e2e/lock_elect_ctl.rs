//! `stratactl lock` and `elect` against strata print what `etcdctl` 3.4.23
//! prints against etcd 3.4.23, step by step (`crates/ctl/tests/testdata/
//! lock_elect_steps.txt`, whose header explains the format, the background
//! contenders and the timing). Compared: stdout with member/cluster ids, terms,
//! lease ids (which end every lock and election key) and `ETCD_LOCK_REV`
//! masked, the exit code and the final `Error:` line.

use base64::Engine;
use testkit::{Member, have_etcd, mask_ids, run_steps, step_differences};

use crate::{need_etcdctl, strata};

const STEPS: &str = include_str!("../../../ctl/tests/testdata/lock_elect_steps.txt");

/// Replaces what ends in a lease id: 12- to 16-hex-digit words, the `\x..` run of a
/// `--hex` key after its `/`, base64 JSON keys (decoded, masked, re-encoded
/// as `KEY(<name>/LEASE)`), the number after `"lease":` and after `rev=`.
fn mask_lock_keys(s: &str) -> String {
    let words: Vec<String> = s
        .split_inclusive(|c: char| !c.is_ascii_hexdigit())
        .map(|w| {
            let body = w.trim_end_matches(|c: char| !c.is_ascii_hexdigit());
            // Lease ids print in hex without leading zeros: 16 digits, or fewer.
            if (12..=16).contains(&body.len()) { w.replacen(body, "LEASE", 1) } else { w.to_string() }
        })
        .collect();
    let mut out = words.concat();
    out = mask_after(&out, "\\x2f", |rest| {
        let mut n = 0;
        while rest[n..].starts_with("\\x") && rest.len() >= n + 4 {
            n += 4;
        }
        (n, "LEASE".to_string())
    });
    out = mask_after(&out, "\"key\":\"", |rest| {
        let end = rest.find('"').unwrap_or(rest.len());
        let decoded = base64::engine::general_purpose::STANDARD.decode(&rest[..end]).unwrap_or_default();
        let text = String::from_utf8_lossy(&decoded).to_string();
        let name = text.rsplit_once('/').map_or(text.as_str(), |(n, _)| n).to_string();
        (end, format!("KEY({name}/LEASE)"))
    });
    for key in ["\"lease\":", "\"Lease\" : ", "rev="] {
        out = mask_after(&out, key, |rest| (rest.bytes().take_while(u8::is_ascii_digit).count(), "N".to_string()));
    }
    out
}

/// Replaces, after each `key`, the text `f` measures with what it returns.
fn mask_after(s: &str, key: &str, f: impl Fn(&str) -> (usize, String)) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(key) {
        let (head, tail) = rest.split_at(i + key.len());
        out.push_str(head);
        let (n, with) = f(tail);
        if n > 0 {
            out.push_str(&with);
        }
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

fn session(cli: &str, m: &Member) -> Vec<String> {
    run_steps(cli, &m.endpoint(), STEPS, |s| mask_lock_keys(&mask_ids(s)))
}

#[test]
fn stratactl_lock_and_elect_on_strata_print_what_etcdctl_prints_on_etcd() {
    need_etcdctl!();
    if !have_etcd() {
        eprintln!("skipped: /usr/bin/etcd not installed (apt-get install etcd-server)");
        return;
    }
    // Contenders are staggered by half-second sleeps; as for the watch/lease
    // session, a difference that does not come back on a second, fresh pair of
    // servers is reported but not failed.
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
fn lock_key_masking_hides_only_lease_ids() {
    assert_eq!(mask_lock_keys("l1/694d7a9e8c8f2c1a"), "l1/LEASE");
    assert_eq!(mask_lock_keys("l2\\x2f\\x69\\x4d\\x7a\\x9e\\x8c\\x8f\\x2c\\x1a\n"), "l2\\x2fLEASE\n");
    let key = base64::engine::general_purpose::STANDARD.encode("e1/694d7a9e8c8f2c1a");
    assert_eq!(
        mask_lock_keys(&format!("{{\"key\":\"{key}\",\"lease\":7587}}")),
        "{\"key\":\"KEY(e1/LEASE)\",\"lease\":N}"
    );
    assert_eq!(mask_lock_keys("key=l1/694d7a9e8c8f2c1a rev=12"), "key=l1/LEASE rev=N");
    assert_eq!(mask_lock_keys("e5/c2ba20af75069a0\n\"Lease\" : 87697"), "e5/LEASE\n\"Lease\" : N");
    assert_eq!(mask_lock_keys("revision 12"), "revision 12");
}
