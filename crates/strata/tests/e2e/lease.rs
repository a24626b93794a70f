//! Leases through the `etcd-client` crate: grant, attach, keep-alive,
//! time-to-live, list, revoke, expiry through Raft, restart.

use std::time::Duration;

use etcd_client::{LeaseGrantOptions, LeaseTimeToLiveOptions, PutOptions, WatchOptions};
use tonic::Code;

use crate::{client, status, strata};

#[tokio::test]
async fn revoke_deletes_attached_keys_in_one_revision() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    let l = c.lease_grant(60, None).await.expect("grant");
    assert_eq!(l.ttl(), 60);
    assert_eq!(l.header().map(|h| h.revision()), Some(1), "a grant makes no revision");
    for k in ["s/a", "s/b"] {
        c.put(k, "up", Some(PutOptions::new().with_lease(l.id()))).await.expect("put with lease");
    }
    c.put("s/c", "no lease", None).await.expect("put");
    let ttl = c.lease_time_to_live(l.id(), Some(LeaseTimeToLiveOptions::new().with_keys())).await.expect("ttl");
    assert_eq!((ttl.granted_ttl(), ttl.keys().len()), (60, 2));
    assert!(ttl.ttl() > 55 && ttl.ttl() <= 60, "remaining {}", ttl.ttl());
    let listed: Vec<i64> = c.leases().await.expect("leases").leases().iter().map(|s| s.id()).collect();
    assert_eq!(listed, [l.id()]);

    let mut w = c.watch("s/", Some(WatchOptions::new().with_prefix())).await.expect("watch");
    assert!(w.message().await.expect("ok").expect("created").created());
    let r = c.lease_revoke(l.id()).await.expect("revoke");
    assert_eq!(r.header().map(|h| h.revision()), Some(5), "both keys go in one revision");
    let deletes = w.message().await.expect("ok").expect("events");
    assert_eq!(deletes.events().len(), 2, "watchers see the deletes");
    let left = c.get("s/", Some(etcd_client::GetOptions::new().with_prefix())).await.expect("get");
    assert_eq!(left.kvs().len(), 1);
    assert_eq!(
        status(c.lease_revoke(l.id()).await.expect_err("again")),
        (Code::NotFound, "etcdserver: requested lease not found".into())
    );
    let gone = c.lease_time_to_live(l.id(), None).await.expect("ttl of a revoked lease");
    assert_eq!(gone.ttl(), -1);
}

#[tokio::test]
async fn lease_errors_follow_etcd() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    let l = c.lease_grant(1, Some(LeaseGrantOptions::new().with_id(42))).await.expect("grant id 42");
    assert_eq!((l.id(), l.ttl()), (42, 2), "TTLs below the minimum are raised to 2 s");
    assert_eq!(
        status(c.lease_grant(10, Some(LeaseGrantOptions::new().with_id(42))).await.expect_err("duplicate")),
        (Code::FailedPrecondition, "etcdserver: lease already exists".into())
    );
    assert_eq!(
        status(c.lease_grant(9_000_000_001, None).await.expect_err("too large")),
        (Code::OutOfRange, "etcdserver: too large lease TTL".into())
    );
    assert_eq!(
        status(c.put("k", "v", Some(PutOptions::new().with_lease(7))).await.expect_err("unknown lease")),
        (Code::NotFound, "etcdserver: requested lease not found".into())
    );
}

#[tokio::test]
async fn expiry_revokes_through_raft_and_keep_alive_renews() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    let short = c.lease_grant(2, None).await.expect("grant").id();
    let kept = c.lease_grant(2, None).await.expect("grant").id();
    c.put("short", "x", Some(PutOptions::new().with_lease(short))).await.expect("put");
    c.put("kept", "x", Some(PutOptions::new().with_lease(kept))).await.expect("put");
    let (mut keeper, mut responses) = c.lease_keep_alive(kept).await.expect("keep alive");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    loop {
        keeper.keep_alive().await.expect("send keep-alive");
        let r = responses.message().await.expect("ok").expect("response");
        assert_eq!((r.id(), r.ttl()), (kept, 2));
        if c.get("short", None).await.expect("get").kvs().is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the short lease never expired");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(c.get("kept", None).await.expect("get").kvs().len(), 1, "a renewed lease keeps its key");
    assert_eq!(c.lease_time_to_live(short, None).await.expect("ttl").ttl(), -1);
}

#[tokio::test]
async fn leases_and_attachments_survive_restart() {
    let mut m = strata(&[]);
    let mut c = client(&m).await;
    let l = c.lease_grant(300, None).await.expect("grant").id();
    c.put("svc", "up", Some(PutOptions::new().with_lease(l))).await.expect("put");
    c.put("svc2", "up", Some(PutOptions::new().with_lease(l))).await.expect("put");
    c.put("svc2", "no longer leased", None).await.expect("overwrite without lease");
    m.kill9().expect("kill -9");
    m.restart().expect("restart");
    let mut c = client(&m).await;
    let ttl = c.lease_time_to_live(l, Some(LeaseTimeToLiveOptions::new().with_keys())).await.expect("ttl");
    assert_eq!((ttl.granted_ttl(), ttl.keys()), (300, &[b"svc".to_vec()][..]));
    c.lease_revoke(l).await.expect("revoke after restart");
    assert!(c.get("svc", None).await.expect("get").kvs().is_empty());
    assert_eq!(c.get("svc2", None).await.expect("get").kvs().len(), 1);
}
