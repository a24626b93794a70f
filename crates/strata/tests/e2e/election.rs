//! The Election service through the `etcd-client` crate, against strata
//! and (when installed) Debian's etcd 3.4.23 with the same expectations.

use std::time::Duration;

use etcd_client::{LeaderKey, ProclaimOptions, ResignOptions};
use tokio::sync::mpsc;
use tonic::Code;

use crate::lock::{strata_and_etcd, wait_for_keys};
use crate::support::lease;
use crate::{client, status};

/// Observes `name` on its own connection. etcd sends the stream's headers
/// with the first leader only, so opening the stream waits for one.
async fn observe(m: &testkit::MemberProcess, name: &str) -> mpsc::UnboundedReceiver<(String, i64, i64)> {
    let mut c = client(m).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let name = name.to_string();
    tokio::spawn(async move {
        let mut o = c.observe(name).await.expect("observe");
        while let Some(r) = o.message().await.expect("observation") {
            let kv = r.kv().expect("kv");
            let seen = (
                kv.value_str().expect("utf-8").to_string(),
                kv.create_revision(),
                r.header().expect("header").revision(),
            );
            if tx.send(seen).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next observed leader: (value, create revision, header revision).
async fn observed(o: &mut mpsc::UnboundedReceiver<(String, i64, i64)>) -> (String, i64, i64) {
    tokio::time::timeout(Duration::from_secs(5), o.recv()).await.expect("an observation in time").expect("open")
}

fn leader_at(k: &LeaderKey, rev: i64) -> LeaderKey {
    LeaderKey::new().with_name(k.name()).with_key(k.key()).with_rev(rev).with_lease(k.lease())
}

#[tokio::test]
async fn campaign_leader_proclaim_observe_resign() {
    for (at, m) in strata_and_etcd() {
        let mut c = client(&m).await;
        let (l1, l2) = (lease(&mut c).await, lease(&mut c).await);
        let e = c.leader("e").await.expect_err("no leader yet");
        assert_eq!(status(e), (Code::Unknown, "election: no leader".into()), "{at}");
        let mut obs = observe(&m, "e").await;

        let first = c.campaign("e", "v1", l1).await.expect("campaign");
        let k1 = first.leader().expect("leader key").clone();
        assert_eq!(
            (k1.name(), k1.key(), k1.rev(), k1.lease()),
            (&b"e"[..], format!("e/{l1:x}").as_bytes(), 2, l1),
            "{at}"
        );
        assert_eq!(first.header().expect("header").revision(), 2, "{at}");
        assert_eq!(observed(&mut obs).await, ("v1".into(), 2, 2), "{at}: the first leader");

        let mut c2 = client(&m).await;
        let second = tokio::spawn(async move { c2.campaign("e", "v2", l2).await });
        wait_for_keys(&mut c, "e/", 2).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "{at}: the second candidate waits");
        let l = c.leader("e").await.expect("leader");
        assert_eq!((l.kv().expect("kv").value(), l.header().expect("header").revision()), (&b"v1"[..], 3), "{at}");

        let p = c.proclaim("v1b", Some(ProclaimOptions::new().with_leader(k1.clone()))).await.expect("proclaim");
        assert_eq!(p.header().expect("header").revision(), 4, "{at}");
        assert_eq!(observed(&mut obs).await, ("v1b".into(), 2, 4), "{at}: the new value");
        let e = c.proclaim("x", Some(ProclaimOptions::new().with_leader(leader_at(&k1, 3)))).await;
        assert_eq!(status(e.expect_err("wrong rev")), (Code::Unknown, "election: not leader".into()), "{at}");
        let e = c.proclaim("x", None).await.expect_err("no leader key");
        assert_eq!(status(e), (Code::Unknown, "\"leader\" field must be provided".into()), "{at}");

        let r = c.resign(Some(ResignOptions::new().with_leader(k1.clone()))).await.expect("resign");
        assert_eq!(r.header().expect("header").revision(), 5, "{at}");
        let second = tokio::time::timeout(Duration::from_secs(5), second).await.expect("elected").expect("task");
        let second = second.expect("campaign");
        let k2 = second.leader().expect("leader key");
        assert_eq!((k2.key(), k2.rev()), (format!("e/{l2:x}").as_bytes(), 3), "{at}");
        assert_eq!(second.header().expect("header").revision(), 3, "{at}: the header of the campaign's own txn");
        assert_eq!(observed(&mut obs).await, ("v2".into(), 3, 5), "{at}: the next leader");

        let again = c.resign(Some(ResignOptions::new().with_leader(k1.clone()))).await.expect("resign again");
        assert_eq!(again.header().expect("header").revision(), 5, "{at}: a former leader resigns quietly");
        let e = c.resign(None).await.expect_err("no leader key");
        assert_eq!(status(e), (Code::Unknown, "\"leader\" field must be provided".into()), "{at}");

        // The leader's lease ends: no leader until someone campaigns.
        c.lease_revoke(l2).await.expect("revoke");
        let e = c.leader("e").await.expect_err("no leader");
        assert_eq!(status(e), (Code::Unknown, "election: no leader".into()), "{at}");
        let third = c.campaign("e", "v3", l1).await.expect("campaign");
        assert_eq!(third.leader().expect("leader key").rev(), 7, "{at}");
        assert_eq!(observed(&mut obs).await, ("v3".into(), 7, 7), "{at}: the leader after a gap");

        // Campaigning again with the same lease keeps the place and
        // proclaims the new value; the header is the first txn's.
        let fourth = c.campaign("e", "v3b", l1).await.expect("campaign again");
        assert_eq!(
            (fourth.leader().expect("leader key").rev(), fourth.header().expect("header").revision()),
            (7, 7),
            "{at}"
        );
        assert_eq!(observed(&mut obs).await, ("v3b".into(), 7, 8), "{at}");
    }
}

#[tokio::test]
async fn campaign_errors_and_abandoned_campaigns_follow_etcd() {
    for (at, m) in strata_and_etcd() {
        let mut c = client(&m).await;
        let e = c.campaign("e", "v", 0x77).await.expect_err("unknown lease");
        assert_eq!(status(e), (Code::Unknown, "etcdserver: requested lease not found".into()), "{at}");

        let (l1, l2) = (lease(&mut c).await, lease(&mut c).await);
        c.campaign("e", "v1", l1).await.expect("campaign");
        let mut c2 = client(&m).await;
        let gave_up = tokio::time::timeout(Duration::from_millis(500), c2.campaign("e", "v2", l2)).await;
        assert!(gave_up.is_err(), "{at}: still waiting");
        let left = wait_for_keys(&mut c, "e/", 1).await;
        assert_eq!(left[0].key(), format!("e/{l1:x}").as_bytes(), "{at}: the candidate that left resigned");
    }
}
