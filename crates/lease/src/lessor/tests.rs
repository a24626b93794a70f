use std::time::Duration;

use backend::Backend;

use super::*;

const fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

const fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn backend() -> (tempfile::TempDir, Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let be = Backend::open(&dir.path().join("state.redb")).expect("open backend");
    (dir, be)
}

/// A promoted lessor with the default 2 s minimum, as a leader has.
fn primary() -> Lessor {
    let mut l = Lessor::new(2);
    l.promote(Duration::ZERO, Duration::ZERO);
    l
}

fn grant(l: &mut Lessor, be: &Backend, id: i64, ttl_secs: i64, now: Duration) -> Result<LeaseInfo> {
    let mut w = be.begin_write().expect("begin write");
    let r = l.grant(&mut w, id, ttl_secs, now);
    w.commit(false).expect("commit");
    r
}

fn revoke(l: &mut Lessor, be: &Backend, id: i64) -> Result<Vec<Vec<u8>>> {
    let mut w = be.begin_write().expect("begin write");
    let r = l.revoke(&mut w, id);
    w.commit(false).expect("commit");
    r
}

fn stored(be: &Backend) -> Vec<LeaseRecord> {
    let mut out = Vec::new();
    be.begin_read()
        .expect("begin read")
        .scan_leases(|_, v| {
            out.push(LeaseRecord::decode(v).expect("decodes"));
            true
        })
        .expect("scan");
    out
}

#[test]
fn grant_raises_ttl_to_minimum_and_persists_id_and_ttl() {
    let (_dir, be) = backend();
    let mut l = primary();
    let info = grant(&mut l, &be, 7, 1, s(10)).expect("grant");
    assert_eq!(info, LeaseInfo { id: 7, ttl_secs: 2, remaining_secs: 2, keys: vec![] });
    assert_eq!(grant(&mut l, &be, 8, -5, s(10)).expect("negative ttl").ttl_secs, 2);
    assert_eq!(grant(&mut l, &be, 9, 60, s(10)).expect("grant").ttl_secs, 60);
    assert_eq!(
        stored(&be),
        vec![
            LeaseRecord { id: 7, ttl_secs: 2, remaining_ttl_secs: 0 },
            LeaseRecord { id: 8, ttl_secs: 2, remaining_ttl_secs: 0 },
            LeaseRecord { id: 9, ttl_secs: 60, remaining_ttl_secs: 0 },
        ]
    );
    assert!(l.contains(9) && !l.contains(10));
}

#[test]
fn grant_rejects_id_zero_then_too_large_ttl_then_duplicate() {
    let (_dir, be) = backend();
    let mut l = primary();
    assert!(matches!(grant(&mut l, &be, 0, 10, s(0)), Err(Error::NotFound { id: 0 })));
    grant(&mut l, &be, 1, MAX_LEASE_TTL_SECS, s(0)).expect("the maximum itself is allowed");
    assert!(matches!(
        grant(&mut l, &be, 1, MAX_LEASE_TTL_SECS + 1, s(0)),
        Err(Error::TtlTooLarge { ttl_secs: 9_000_000_001 })
    ));
    assert!(matches!(grant(&mut l, &be, 1, 10, s(0)), Err(Error::AlreadyExists { id: 1 })));
    assert_eq!(l.time_to_live(1, s(0), false).expect("kept").ttl_secs, MAX_LEASE_TTL_SECS);
    assert_eq!(stored(&be).len(), 1);
}

#[test]
fn revoke_returns_attached_keys_in_byte_order_and_deletes_the_record() {
    let (_dir, be) = backend();
    let mut l = primary();
    grant(&mut l, &be, 5, 10, s(0)).expect("grant");
    grant(&mut l, &be, 6, 10, s(0)).expect("grant");
    for key in [&b"zeta"[..], b"alpha", b"mid", b"alpha"] {
        l.attach(5, key).expect("attach");
    }
    assert_eq!(revoke(&mut l, &be, 5).expect("revoke"), vec![b"alpha".to_vec(), b"mid".to_vec(), b"zeta".to_vec()]);
    assert!(!l.contains(5));
    assert_eq!(stored(&be), vec![LeaseRecord { id: 6, ttl_secs: 10, remaining_ttl_secs: 0 }]);
    assert!(matches!(revoke(&mut l, &be, 5), Err(Error::NotFound { id: 5 })));
    assert_eq!(revoke(&mut l, &be, 6).expect("revoke without keys"), Vec::<Vec<u8>>::new());
    assert!(l.expired(s(100), usize::MAX).is_empty(), "a revoked lease leaves the expiry queue");
}

#[test]
fn attach_needs_the_lease_and_detach_forgets_the_key() {
    let (_dir, be) = backend();
    let mut l = primary();
    assert!(matches!(l.attach(3, b"k"), Err(Error::NotFound { id: 3 })));
    grant(&mut l, &be, 3, 10, s(0)).expect("grant");
    l.attach(3, b"k").expect("attach");
    l.attach(3, b"j").expect("attach");
    l.detach(3, b"k");
    l.detach(3, b"never-attached");
    l.detach(99, b"k");
    assert_eq!(l.time_to_live(3, s(0), true).expect("exists").keys, vec![b"j".to_vec()]);
    assert!(l.time_to_live(3, s(0), false).expect("exists").keys.is_empty());
}

#[test]
fn renew_moves_the_expiry_and_answers_the_ttl() {
    let (_dir, be) = backend();
    let mut l = primary();
    grant(&mut l, &be, 1, 10, s(0)).expect("grant");
    assert_eq!(l.renew(1, s(8)).expect("renew"), 10);
    assert!(l.expired(s(10), 10).is_empty(), "the old expiry no longer counts");
    assert_eq!(l.time_to_live(1, s(10), false).expect("exists").remaining_secs, 8);
    assert_eq!(l.expired(s(18), 10), vec![1]);
    assert!(matches!(l.renew(1, s(18)), Err(Error::Expired { id: 1 })), "expired but not revoked yet");
    assert!(matches!(l.renew(2, s(18)), Err(Error::NotFound { id: 2 })));
    l.demote();
    assert!(matches!(l.renew(1, s(18)), Err(Error::NotPrimary)));
}

#[test]
fn expired_reports_due_leases_earliest_first_and_retries_after_the_interval() {
    let (_dir, be) = backend();
    let mut l = primary().with_expired_retry_interval(s(3));
    for (id, ttl) in [(1, 5), (2, 3), (3, 4), (4, 20)] {
        grant(&mut l, &be, id, ttl, s(0)).expect("grant");
    }
    assert!(l.expired(ms(2999), 10).is_empty());
    assert_eq!(l.expired(s(5), 2), vec![2, 3], "limited, earliest expiry first");
    assert_eq!(l.expired(s(5), 10), vec![1]);
    assert!(l.expired(ms(7999), 10).is_empty(), "reported leases wait for their revoke");
    assert_eq!(l.expired(s(8), 10), vec![1, 2, 3], "not revoked after 3 s: reported again");
    revoke(&mut l, &be, 2).expect("revoke");
    assert_eq!(l.expired(s(11), 10), vec![1, 3]);
    assert!(l.expired(s(11), 0).is_empty());
}

#[test]
fn a_lessor_that_is_not_primary_expires_nothing() {
    let (_dir, be) = backend();
    let mut l = Lessor::new(2);
    grant(&mut l, &be, 1, 5, s(0)).expect("followers apply grants too");
    assert!(l.expired(s(1_000_000), 10).is_empty());
    assert_eq!(l.time_to_live(1, s(0), false).expect("exists").remaining_secs, 9_223_372_036);
    assert!(!l.is_primary());
}

#[test]
fn promote_gives_every_lease_its_ttl_plus_extend_and_demote_stops_expiry() {
    let (_dir, be) = backend();
    let mut l = primary();
    grant(&mut l, &be, 1, 10, s(0)).expect("grant");
    grant(&mut l, &be, 2, 30, s(0)).expect("grant");
    l.demote();
    assert!(l.expired(s(100), 10).is_empty());
    l.promote(s(100), s(1));
    assert_eq!(l.time_to_live(1, s(100), false).expect("exists").remaining_secs, 11);
    assert_eq!(l.leases(), vec![1, 2], "soonest expiry first");
    assert!(l.expired(ms(110_999), 10).is_empty());
    assert_eq!(l.expired(s(111), 10), vec![1]);
    assert_eq!(l.expired(s(131), 10), vec![1, 2], "1 again: its revoke never came");
}

#[test]
fn time_to_live_truncates_toward_zero_like_etcd() {
    let (_dir, be) = backend();
    let mut l = primary();
    grant(&mut l, &be, 1, 10, s(0)).expect("grant");
    let remaining = |at| l.time_to_live(1, at, false).expect("exists").remaining_secs;
    assert_eq!(remaining(s(0)), 10);
    assert_eq!(remaining(ms(1)), 9);
    assert_eq!(remaining(ms(9_999)), 0);
    assert_eq!(remaining(s(10)), 0);
    assert_eq!(remaining(ms(10_500)), 0, "-0.5 s truncates to 0");
    assert_eq!(remaining(ms(11_500)), -1);
    assert_eq!(l.time_to_live(1, s(0), false).expect("exists").ttl_secs, 10);
    assert!(l.time_to_live(2, s(0), false).is_none());
}

#[test]
fn restore_rebuilds_leases_without_expiry_until_promoted() {
    let (_dir, be) = backend();
    let mut before = primary();
    grant(&mut before, &be, 1, 10, s(0)).expect("grant");
    grant(&mut before, &be, 2, 100, s(0)).expect("grant");
    grant(&mut before, &be, 3, 10, s(0)).expect("grant");
    revoke(&mut before, &be, 3).expect("revoke");

    let mut after = Lessor::new(5);
    after.restore(&be.begin_read().expect("read"), s(500)).expect("restore");
    let mut ids = after.leases();
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 2]);
    after.attach(1, b"k").expect("the caller re-attaches keys");
    assert_eq!(after.time_to_live(2, s(500), false).expect("restored").ttl_secs, 100);
    assert!(after.expired(s(10_000), 10).is_empty(), "not primary yet");

    after.promote(s(500), Duration::ZERO);
    let info = after.time_to_live(1, s(500), true).expect("restored");
    assert_eq!(info, LeaseInfo { id: 1, ttl_secs: 10, remaining_secs: 10, keys: vec![b"k".to_vec()] });
    assert_eq!(after.expired(s(510), 10), vec![1], "the full TTL again, counted from promotion");
}

#[test]
fn restore_on_a_primary_raises_to_the_minimum_and_uses_a_checkpointed_remaining_ttl() {
    let (_dir, be) = backend();
    let mut w = be.begin_write().expect("begin write");
    w.put_lease(1, &LeaseRecord { id: 1, ttl_secs: 1, remaining_ttl_secs: 0 }.encode()).expect("put");
    w.put_lease(2, &LeaseRecord { id: 2, ttl_secs: 600, remaining_ttl_secs: 42 }.encode()).expect("put");
    w.commit(false).expect("commit");

    let mut l = primary();
    l.restore(&be.begin_read().expect("read"), s(100)).expect("restore");
    assert_eq!(l.time_to_live(1, s(100), false).expect("restored").ttl_secs, 2);
    assert_eq!(l.time_to_live(2, s(100), false).expect("restored").remaining_secs, 42);
    assert_eq!(l.expired(s(102), 10), vec![1]);
    assert_eq!(l.renew(2, s(110)).expect("renew"), 600);
    assert_eq!(l.time_to_live(2, s(110), false).expect("renewed").remaining_secs, 600);
}

#[test]
fn restore_refuses_a_corrupt_record() {
    let (_dir, be) = backend();
    let mut w = be.begin_write().expect("begin write");
    w.put_lease(4, &[0x10]).expect("put");
    w.commit(false).expect("commit");
    let mut l = Lessor::new(2);
    let err = l.restore(&be.begin_read().expect("read"), s(0)).expect_err("corrupt");
    assert!(matches!(err, Error::Corrupt { id: 4 }), "{err:?}");

    let mut w = be.begin_write().expect("begin write");
    w.put_lease(4, &LeaseRecord { id: 5, ttl_secs: 3, remaining_ttl_secs: 0 }.encode()).expect("put");
    w.commit(false).expect("commit");
    assert!(matches!(l.restore(&be.begin_read().expect("read"), s(0)), Err(Error::Corrupt { id: 4 })));
}

#[test]
fn promote_spreads_a_pile_up_at_three_quarters_of_the_revoke_rate() {
    let (_dir, be) = backend();
    let mut l = Lessor::new(2).with_expired_retry_interval(s(100));
    let mut w = be.begin_write().expect("begin write");
    for id in 1..=2000 {
        l.grant(&mut w, id, 60, s(0)).expect("grant");
    }
    w.commit(false).expect("commit");
    l.promote(s(0), s(1));
    let per_second: Vec<usize> = (61..=64).map(|t| l.expired(s(t), usize::MAX).len()).collect();
    // The 751st to 2000th are delayed by 751/750 s … 2000/750 s.
    assert_eq!(per_second, vec![750, 0, 750, 500]);
    assert_eq!(l.expired(s(1000), usize::MAX).len(), 2000, "all come back after the retry interval");
}

#[test]
fn ten_thousand_leases_renewed_and_expired() {
    let (_dir, be) = backend();
    let mut l = primary();
    let mut w = be.begin_write().expect("begin write");
    for id in 1..=10_000 {
        l.grant(&mut w, id, 5, s(0)).expect("grant");
    }
    w.commit(false).expect("commit");
    for round in 1..=3 {
        for id in 1..=10_000 {
            assert_eq!(l.renew(id, s(round)).expect("renew"), 5);
        }
        assert!(l.expired(s(round), EXPIRED_BATCH_LIMIT).is_empty());
    }
    assert_eq!(l.queue.len(), 10_000, "renewals move entries, they do not pile up");
    let mut total = 0;
    while let batch @ 1.. = l.expired(s(8), EXPIRED_BATCH_LIMIT).len() {
        assert!(batch <= EXPIRED_BATCH_LIMIT);
        total += batch;
    }
    assert_eq!(total, 10_000);
    assert!(l.expired(s(8), EXPIRED_BATCH_LIMIT).is_empty());
}
