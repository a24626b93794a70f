//! The Lock service through the `etcd-client` crate. Every scenario runs
//! against strata and, when installed, against Debian's etcd 3.4.23, with
//! the same expected revisions and errors.

use std::time::Duration;

use etcd_client::{Client, GetOptions, LockOptions};
use testkit::{MemberProcess, have_etcd};
use tonic::Code;

use crate::support::lease;
use crate::{client, status, strata};

/// A fresh strata member, and a fresh etcd when it is installed.
pub fn strata_and_etcd() -> Vec<(&'static str, MemberProcess)> {
    let mut members = vec![("strata", strata(&[]))];
    if have_etcd() {
        members.push(("etcd", MemberProcess::start_etcd(&[]).expect("start etcd")));
    } else {
        eprintln!("etcd 3.4.23 not installed: checking strata only");
    }
    members
}

/// Waits until `n` keys exist under `prefix`, and returns them.
pub async fn wait_for_keys(c: &mut Client, prefix: &str, n: usize) -> Vec<etcd_client::KeyValue> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let kvs = c.get(prefix, Some(GetOptions::new().with_prefix())).await.expect("get").kvs().to_vec();
        if kvs.len() == n {
            return kvs;
        }
        assert!(tokio::time::Instant::now() < deadline, "{} keys under {prefix}, want {n}", kvs.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn rev(h: Option<&etcd_client::ResponseHeader>) -> i64 {
    h.expect("header").revision()
}

#[tokio::test]
async fn second_contender_waits_until_the_first_unlocks() {
    for (at, m) in strata_and_etcd() {
        let mut c = client(&m).await;
        let (l1, l2) = (lease(&mut c).await, lease(&mut c).await);
        let a = c.lock("mylock", Some(LockOptions::new().with_lease(l1))).await.expect("lock");
        assert_eq!(a.key(), format!("mylock/{l1:x}").as_bytes(), "{at}");
        assert_eq!(rev(a.header()), 2, "{at}");

        let mut c2 = client(&m).await;
        let b = tokio::spawn(async move { c2.lock("mylock", Some(LockOptions::new().with_lease(l2))).await });
        let queued = wait_for_keys(&mut c, "mylock/", 2).await;
        assert_eq!(
            queued
                .iter()
                .map(|kv| (kv.key_str().expect("utf-8").to_string(), kv.create_revision()))
                .collect::<Vec<_>>(),
            [(format!("mylock/{l1:x}"), 2), (format!("mylock/{l2:x}"), 3)],
            "{at}: the second key queues behind the first"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!b.is_finished(), "{at}: the second contender must wait");

        let u = c.unlock(a.key()).await.expect("unlock");
        assert_eq!(rev(u.header()), 4, "{at}");
        let b = tokio::time::timeout(Duration::from_secs(5), b).await.expect("woken").expect("task").expect("lock");
        assert_eq!(b.key(), format!("mylock/{l2:x}").as_bytes(), "{at}");
        assert_eq!(rev(b.header()), 4, "{at}: answered after the unlock");
    }
}

#[tokio::test]
async fn revoking_the_holders_lease_passes_the_lock_on() {
    for (at, m) in strata_and_etcd() {
        let mut c = client(&m).await;
        let (l1, l2) = (lease(&mut c).await, lease(&mut c).await);
        c.lock("l", Some(LockOptions::new().with_lease(l1))).await.expect("lock");
        let mut c2 = client(&m).await;
        let b = tokio::spawn(async move { c2.lock("l", Some(LockOptions::new().with_lease(l2))).await });
        wait_for_keys(&mut c, "l/", 2).await;
        c.lease_revoke(l1).await.expect("revoke");
        let b = tokio::time::timeout(Duration::from_secs(5), b).await.expect("woken").expect("task").expect("lock");
        assert_eq!((b.key(), rev(b.header())), (format!("l/{l2:x}").as_bytes(), 4), "{at}");
    }
}

#[tokio::test]
async fn a_waiter_whose_lease_is_revoked_gets_session_expired() {
    for (at, m) in strata_and_etcd() {
        let mut c = client(&m).await;
        let (l1, l2) = (lease(&mut c).await, lease(&mut c).await);
        let a = c.lock("l", Some(LockOptions::new().with_lease(l1))).await.expect("lock");
        let mut c2 = client(&m).await;
        let b = tokio::spawn(async move { c2.lock("l", Some(LockOptions::new().with_lease(l2))).await });
        wait_for_keys(&mut c, "l/", 2).await;
        c.lease_revoke(l2).await.expect("revoke");
        c.unlock(a.key()).await.expect("unlock");
        let b = tokio::time::timeout(Duration::from_secs(5), b).await.expect("answered").expect("task");
        if at == "etcd" {
            // etcd 3.4's mutex does not look for its own key after the
            // wait and hands out a lock whose key is gone (3.5 answers
            // ErrSessionExpired, as strata does, as soon as the key goes).
            assert_eq!(rev(b.expect("3.4 locks").header()), 5);
        } else {
            assert_eq!(status(b.expect_err("expired")), (Code::Unknown, "mutex: session is expired".into()));
        }
    }
}

#[tokio::test]
async fn a_waiter_that_goes_away_leaves_the_queue() {
    for (at, m) in strata_and_etcd() {
        let mut c = client(&m).await;
        let (l1, l2) = (lease(&mut c).await, lease(&mut c).await);
        c.lock("l", Some(LockOptions::new().with_lease(l1))).await.expect("lock");
        let mut c2 = client(&m).await;
        let gave_up =
            tokio::time::timeout(Duration::from_millis(500), c2.lock("l", Some(LockOptions::new().with_lease(l2))))
                .await;
        assert!(gave_up.is_err(), "{at}: still waiting");
        let left = wait_for_keys(&mut c, "l/", 1).await;
        assert_eq!(left[0].key(), format!("l/{l1:x}").as_bytes(), "{at}");
    }
}

#[tokio::test]
async fn locking_again_with_the_same_lease_reuses_the_key() {
    for (at, m) in strata_and_etcd() {
        let mut c = client(&m).await;
        let l1 = lease(&mut c).await;
        let a = c.lock("l", Some(LockOptions::new().with_lease(l1))).await.expect("lock");
        let again = c.lock("l", Some(LockOptions::new().with_lease(l1))).await.expect("lock again");
        assert_eq!((again.key(), rev(again.header())), (a.key(), 2), "{at}: no new revision");
    }
}

#[tokio::test]
async fn lock_errors_and_lease_zero_follow_etcd() {
    for (at, m) in strata_and_etcd() {
        let mut c = client(&m).await;
        let e = c.lock("l", Some(LockOptions::new().with_lease(0x77))).await.expect_err("unknown lease");
        // etcd's handlers meet KV errors through a client: code Unknown.
        assert_eq!(status(e), (Code::Unknown, "etcdserver: requested lease not found".into()), "{at}");
        let e = c.unlock("").await.expect_err("empty key");
        assert_eq!(status(e), (Code::Unknown, "etcdserver: key is not provided".into()), "{at}");
        let u = c.unlock("nokey").await.expect("unlocking a missing key is no error");
        assert_eq!(rev(u.header()), 1, "{at}");

        // Without a lease the session grants one of 60 s.
        let a = c.lock("z", None).await.expect("lock without lease");
        let hex = a.key().strip_prefix(b"z/").expect("z/ prefix");
        let id = i64::from_str_radix(std::str::from_utf8(hex).expect("utf-8"), 16).expect("hex lease id");
        let ttl = c.lease_time_to_live(id, None).await.expect("ttl");
        assert_eq!(ttl.granted_ttl(), 60, "{at}");
        let kv = c.get(a.key(), None).await.expect("get").kvs()[0].clone();
        assert_eq!((kv.lease(), kv.create_revision()), (id, 2), "{at}");
    }
}
