//! KV through the `etcd-client` crate (a real third-party etcd client).

use etcd_client::{
    Compare, CompareOp, DeleteOptions, GetOptions, PutOptions, SortOrder, SortTarget, Txn, TxnOp, TxnOpResponse,
};

use crate::{client, strata};

#[tokio::test]
async fn revisions_versions_and_history() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    let r = c.get("foo", None).await.expect("get");
    assert_eq!(r.header().map(|h| h.revision()), Some(1), "a fresh member is at revision 1");
    let p = c.put("foo", "a", None).await.expect("put");
    assert_eq!(p.header().map(|h| h.revision()), Some(2));
    c.put("foo", "a", None).await.expect("put same value");
    let r = c.get("foo", None).await.expect("get");
    let kv = &r.kvs()[0];
    assert_eq!((kv.create_revision(), kv.mod_revision(), kv.version()), (2, 3, 2));
    c.delete("foo", None).await.expect("delete");
    c.put("foo", "b", None).await.expect("put");
    let kv = c.get("foo", None).await.expect("get").kvs()[0].clone();
    assert_eq!((kv.create_revision(), kv.mod_revision(), kv.version()), (5, 5, 1), "delete resets the key");
    let old = c.get("foo", Some(GetOptions::new().with_revision(3))).await.expect("get at 3");
    assert_eq!(old.kvs()[0].value(), b"a");
    assert_eq!(old.header().map(|h| h.revision()), Some(5), "header carries the current revision");
    assert!(c.get("foo", Some(GetOptions::new().with_revision(4))).await.expect("get at 4").kvs().is_empty());
    let err = c.get("foo", Some(GetOptions::new().with_revision(6))).await.expect_err("future");
    assert_eq!(
        crate::status(err),
        (tonic::Code::OutOfRange, "etcdserver: mvcc: required revision is a future revision".into())
    );
}

#[tokio::test]
async fn range_options() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    for (k, v) in [("k1", "c"), ("k2", "b"), ("k3", "a"), ("z", "z")] {
        c.put(k, v, None).await.expect("put");
    }
    c.put("k1", "c2", None).await.expect("put");
    let prefix = || GetOptions::new().with_prefix();
    let keys = |r: &etcd_client::GetResponse| {
        r.kvs().iter().map(|kv| kv.key_str().unwrap_or("").to_string()).collect::<Vec<_>>()
    };

    let r = c.get("k", Some(prefix().with_limit(2))).await.expect("limit");
    assert_eq!((keys(&r), r.more(), r.count()), (vec!["k1".to_string(), "k2".into()], true, 3));
    let r = c.get("k", Some(prefix().with_sort(SortTarget::Value, SortOrder::Ascend))).await.expect("sort");
    assert_eq!(keys(&r), ["k3", "k2", "k1"]);
    let r = c
        .get("k", Some(prefix().with_sort(SortTarget::Mod, SortOrder::Descend).with_limit(1)))
        .await
        .expect("sort mod");
    assert_eq!((keys(&r), r.more()), (vec!["k1".to_string()], true));
    let r = c.get("k", Some(prefix().with_sort(SortTarget::Create, SortOrder::None))).await.expect("create asc");
    assert_eq!(keys(&r), ["k1", "k2", "k3"]);
    let r = c.get("k", Some(prefix().with_count_only())).await.expect("count");
    assert_eq!((r.kvs().len(), r.count()), (0, 3));
    let r = c.get("k", Some(prefix().with_keys_only())).await.expect("keys only");
    assert!(r.kvs().iter().all(|kv| kv.value().is_empty()));
    let r = c.get("k", Some(prefix().with_min_mod_revision(4))).await.expect("min mod");
    assert_eq!((keys(&r), r.count()), (vec!["k1".to_string(), "k3".into()], 3), "count ignores filters");
    let r = c.get("k", Some(prefix().with_max_create_revision(3))).await.expect("max create");
    assert_eq!(keys(&r), ["k1", "k2"]);
    let r = c.get("k2", Some(GetOptions::new().with_from_key())).await.expect("from key");
    assert_eq!(keys(&r), ["k2", "k3", "z"]);
    let r = c.get("k1", Some(GetOptions::new().with_range("k3"))).await.expect("range");
    assert_eq!(keys(&r), ["k1", "k2"]);
    let r = c.get("k", Some(prefix().with_serializable())).await.expect("serializable");
    assert_eq!(r.count(), 3);
}

#[tokio::test]
async fn delete_ranges_and_prev_kv() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    for k in ["p/a", "p/b", "q"] {
        c.put(k, "v", None).await.expect("put");
    }
    let p = c.put("q", "w", Some(PutOptions::new().with_prev_key())).await.expect("put prev");
    assert_eq!(p.prev_key().map(|kv| kv.value().to_vec()), Some(b"v".to_vec()));
    let d = c.delete("p/", Some(DeleteOptions::new().with_prefix().with_prev_key())).await.expect("delete");
    assert_eq!(d.deleted(), 2);
    assert_eq!(d.prev_kvs().len(), 2);
    let rev = d.header().map(|h| h.revision());
    assert_eq!(rev, Some(6), "one revision for the whole range");
    let d = c.delete("p/", Some(DeleteOptions::new().with_prefix())).await.expect("delete none");
    assert_eq!((d.deleted(), d.header().map(|h| h.revision())), (0, Some(6)));
}

#[tokio::test]
async fn txn_compares_branches_and_nesting() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    c.put("a", "1", None).await.expect("put");
    let txn = Txn::new()
        .when([Compare::value("a", CompareOp::Equal, "1"), Compare::version("a", CompareOp::Greater, 0)])
        .and_then([
            TxnOp::put("b", "2", None),
            TxnOp::get("b", None),
            TxnOp::txn(
                Txn::new()
                    .when([Compare::create_revision("zz", CompareOp::Equal, 0)])
                    .and_then([TxnOp::put("c", "3", None)]),
            ),
        ])
        .or_else([TxnOp::put("fail", "x", None)]);
    let r = c.txn(txn).await.expect("txn");
    assert!(r.succeeded());
    assert_eq!(r.header().map(|h| h.revision()), Some(3));
    match &r.op_responses()[1] {
        TxnOpResponse::Get(g) => assert_eq!(g.kvs()[0].create_revision(), 3, "a read sees the txn's own write"),
        other => panic!("unexpected {other:?}"),
    }
    let c3 = c.get("c", None).await.expect("get").kvs()[0].clone();
    assert_eq!(c3.mod_revision(), 3, "nested writes share the revision");

    let r = c
        .txn(Txn::new().when([Compare::value("missing", CompareOp::Equal, "")]).and_then([TxnOp::put("x", "1", None)]))
        .await
        .expect("txn");
    assert!(!r.succeeded(), "a value compare on a missing key fails");
    let r = c
        .txn(
            Txn::new()
                .when([Compare::mod_revision("a", CompareOp::Less, 100).with_prefix()])
                .and_then([TxnOp::get("a", None)]),
        )
        .await
        .expect("read-only txn");
    assert!(r.succeeded());
    assert_eq!(r.header().map(|h| h.revision()), Some(3), "a read-only txn does not advance the revision");
}

#[tokio::test]
async fn ignore_flags_filters_and_more_compares() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    c.put("k", "v1", None).await.expect("put");
    c.put("j", "x", None).await.expect("put");
    let r = c.put("k", "", Some(PutOptions::new().with_ignore_value().with_prev_key())).await.expect("ignore value");
    assert_eq!(r.prev_key().map(|kv| kv.value().to_vec()), Some(b"v1".to_vec()));
    let kv = c.get("k", None).await.expect("get").kvs()[0].clone();
    assert_eq!((kv.value(), kv.version(), kv.mod_revision()), (&b"v1"[..], 2, 4), "value kept, new version");
    c.put("k", "v2", Some(PutOptions::new().with_ignore_lease())).await.expect("ignore lease");
    let (code, msg) = crate::status(
        c.put("nokey", "v", Some(PutOptions::new().with_ignore_lease())).await.expect_err("ignore lease on missing"),
    );
    assert_eq!((code, msg.as_str()), (tonic::Code::InvalidArgument, "etcdserver: key not found"));

    let all = || GetOptions::new().with_from_key();
    let keys = |r: &etcd_client::GetResponse| {
        r.kvs().iter().map(|kv| kv.key_str().unwrap_or("").to_string()).collect::<Vec<_>>()
    };
    let r = c.get("a", Some(all().with_max_mod_revision(3))).await.expect("max mod");
    assert_eq!(keys(&r), ["j"]);
    let r = c.get("a", Some(all().with_min_create_revision(3))).await.expect("min create");
    assert_eq!(keys(&r), ["j"]);

    let t = Txn::new()
        .when([Compare::value("k", CompareOp::NotEqual, "v1"), Compare::lease("k", CompareOp::Equal, 0)])
        .and_then([TxnOp::put("ok", "1", None)]);
    assert!(c.txn(t).await.expect("txn").succeeded());
    let t = Txn::new().and_then([TxnOp::get("k", Some(GetOptions::new().with_revision(100)))]);
    let (code, msg) = crate::status(c.txn(t).await.expect_err("future range in txn"));
    assert_eq!(
        (code, msg.as_str()),
        (tonic::Code::OutOfRange, "etcdserver: mvcc: required revision is a future revision")
    );
    let t =
        Txn::new().and_then([TxnOp::put("w", "1", None), TxnOp::get("k", Some(GetOptions::new().with_revision(100)))]);
    assert!(c.txn(t).await.is_err(), "a write txn with a bad range fails whole");
    assert!(c.get("w", None).await.expect("get").kvs().is_empty(), "and writes nothing");
}
