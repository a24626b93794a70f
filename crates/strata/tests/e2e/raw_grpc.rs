//! Requests only a raw gRPC client can send: unknown enum values.

use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::{Compare, PutRequest, RangeRequest, TxnRequest};

use crate::strata;

#[tokio::test]
async fn unknown_enum_values_are_tolerated_like_etcd() {
    let m = strata(&[]);
    let mut kv = KvClient::connect(format!("http://{}", m.endpoint())).await.expect("connect");
    for k in ["b", "a", "c"] {
        kv.put(PutRequest { key: k.into(), value: k.into(), ..Default::default() }).await.expect("put");
    }
    // etcd 3.4.23 ignores an out-of-range sort order (captured: plain result).
    let r = kv
        .range(RangeRequest { key: b"\0".to_vec(), range_end: b"\0".to_vec(), sort_order: 7, ..Default::default() })
        .await
        .expect("range")
        .into_inner();
    let keys: Vec<_> = r.kvs.iter().map(|kv| kv.key.clone()).collect();
    assert_eq!(keys, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    // An unknown compare result holds, as in etcd's compareKV.
    let t = kv
        .txn(TxnRequest {
            compare: vec![Compare { key: b"a".to_vec(), result: 9, target: 3, ..Default::default() }],
            ..Default::default()
        })
        .await
        .expect("txn")
        .into_inner();
    assert!(t.succeeded);
    let r = kv.range(RangeRequest { key: b"a".to_vec(), ..Default::default() }).await.expect("range").into_inner();
    assert_eq!(r.header.map(|h| h.revision), Some(4), "still serving, nothing half-written");
}
