//! `lock` and `elect` step by step (`crates/ctl/tests/testdata/
//! lock_elect_steps.txt`, whose header explains the format, the background
//! contenders and the timing) in the columns of `ctl_columns`: etcdctl 3.4.23 and
//! 3.6.14 on strata against the same etcdctl on etcd of its version, stratactl on
//! strata against etcdctl 3.6.14 on etcd 3.6.14. Compared: stdout with member/cluster ids, terms,
//! lease ids (which end every lock and election key) and `ETCD_LOCK_REV`
//! masked, the exit code and the final `Error:` line.

use base64::Engine;
use testkit::{mask_after, mask_hex_words, mask_ids, mask_number_after};

use crate::ctl_columns::{Flags, compare_columns};

const STEPS: &str = include_str!("../../../ctl/tests/testdata/lock_elect_steps.txt");

/// Replaces what ends in a lease id: 12- to 16-hex-digit words (lease ids
/// print without leading zeros), the `\\x..` run of a `--hex` key after its
/// `/`, base64 JSON keys (decoded, masked, shown as `KEY(<name>/LEASE)`), and
/// the number after `"lease":`, `"Lease" : ` and `rev=`.
fn mask_lock_keys(s: &str) -> String {
    let mut out = mask_hex_words(s, 12..=16);
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
        out = mask_number_after(&out, key);
    }
    out
}

#[test]
fn stratactl_lock_and_elect_on_strata_print_what_etcdctl_prints_on_etcd() {
    compare_columns(STEPS, Flags::default(), |s| mask_lock_keys(&mask_ids(s)));
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
