//! Watch through the `etcd-client` crate: replay, live events, ids,
//! compaction, filters, progress and cancel (etcd 3.4's protocol).

use std::time::Duration;

use etcd_client::{EventType, WatchFilterType, WatchOptions};

use futures::StreamExt;

use crate::support::next_watch_response;
use crate::{client, strata};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_then_live_without_gap_or_duplicate() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    for i in 0..50 {
        c.put(format!("p/{i:03}"), "old", None).await.expect("put");
    }
    let mut stream =
        c.watch("p/", Some(WatchOptions::new().with_prefix().with_start_revision(2))).await.expect("watch");
    let created = next_watch_response(&mut stream).await;
    assert!(created.created());
    assert_eq!(created.watch_id(), 0, "ids start at 0");
    assert_eq!(created.header().map(|h| h.revision()), Some(51));
    let mut writer = client(&m).await;
    let writes = tokio::spawn(async move {
        for i in 0..50 {
            writer.put(format!("p/{i:03}"), "new", None).await.expect("put");
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 100 {
        let resp = next_watch_response(&mut stream).await;
        for e in resp.events() {
            let kv = e.kv().expect("kv");
            seen.push(kv.mod_revision());
        }
    }
    writes.await.expect("writer");
    assert_eq!(seen, (2..102).collect::<Vec<_>>(), "every revision exactly once, in order");
}

#[tokio::test]
async fn compacted_start_cancels_only_that_watcher() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    for v in ["1", "2", "3", "4"] {
        c.put("k", v, None).await.expect("put");
    }
    c.compact(4, None).await.expect("compact");
    let mut stream = c.watch("k", Some(WatchOptions::new().with_start_revision(4))).await.expect("watch");
    assert!(next_watch_response(&mut stream).await.created());
    let replay = next_watch_response(&mut stream).await;
    assert_eq!(
        replay.events()[0].kv().map(|kv| kv.value()),
        Some(&b"3"[..]),
        "from exactly the compacted revision works"
    );
    assert_eq!(replay.header().map(|h| h.revision()), Some(5), "a replay carries the current revision");
    assert_eq!(replay.events()[1].kv().map(|kv| kv.mod_revision()), Some(5), "a replay batches revisions");
    stream.watch("k", Some(WatchOptions::new().with_start_revision(2))).await.expect("second watcher");
    let created = next_watch_response(&mut stream).await;
    assert_eq!((created.created(), created.watch_id()), (true, 1));
    let canceled = next_watch_response(&mut stream).await;
    assert_eq!((canceled.watch_id(), canceled.canceled(), canceled.compact_revision()), (1, true, 4));
    assert_eq!(canceled.header().map(|h| h.revision()), Some(0), "the compacted response has no revision");
    c.put("k", "5", None).await.expect("put");
    let live = next_watch_response(&mut stream).await;
    assert_eq!(
        (live.watch_id(), live.events()[0].kv().map(|kv| kv.mod_revision())),
        (0, Some(6)),
        "the stream stays open"
    );
}

#[tokio::test]
async fn ids_filters_prev_kv_progress_and_cancel() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    c.put("f", "0", None).await.expect("put");
    let opts = WatchOptions::new().with_watch_id(100).with_prev_key().with_filters([WatchFilterType::NoDelete]);
    let mut stream = c.watch("f", Some(opts)).await.expect("watch");
    assert_eq!(next_watch_response(&mut stream).await.watch_id(), 100);
    stream.watch("g", Some(WatchOptions::new().with_watch_id(100))).await.expect("duplicate");
    let dup = next_watch_response(&mut stream).await;
    assert_eq!((dup.watch_id(), dup.created(), dup.canceled()), (-1, true, true));
    assert_eq!(dup.cancel_reason(), "mvcc: duplicate watch ID provided on the WatchStream");
    stream.watch("z", Some(WatchOptions::new().with_range("a"))).await.expect("empty range");
    let empty = next_watch_response(&mut stream).await;
    assert_eq!((empty.watch_id(), empty.cancel_reason()), (-1, "mvcc: watcher range is empty"));

    c.put("f", "1", None).await.expect("put");
    c.delete("f", None).await.expect("delete");
    c.put("f", "2", None).await.expect("put");
    let first = next_watch_response(&mut stream).await;
    let e = &first.events()[0];
    assert_eq!(
        (e.event_type(), e.kv().map(|kv| kv.value()), e.prev_kv().map(|kv| kv.value())),
        (EventType::Put, Some(&b"1"[..]), Some(&b"0"[..]))
    );
    let second = next_watch_response(&mut stream).await;
    let e = &second.events()[0];
    assert_eq!(e.kv().map(|kv| kv.mod_revision()), Some(5), "NODELETE skipped the delete at 4");
    assert!(e.prev_kv().is_none(), "no previous value after a delete");

    stream.request_progress().await.expect("progress");
    let progress = next_watch_response(&mut stream).await;
    assert_eq!((progress.watch_id(), progress.header().map(|h| h.revision())), (-1, Some(5)));
    stream.cancel(100).await.expect("cancel");
    let canceled = next_watch_response(&mut stream).await;
    assert_eq!((canceled.watch_id(), canceled.canceled()), (100, true));
    c.put("f", "3", None).await.expect("put");
    stream.request_progress().await.expect("progress");
    let after = next_watch_response(&mut stream).await;
    assert_eq!((after.watch_id(), after.events().len()), (-1, 0), "no event after cancel");
}

#[tokio::test]
async fn txn_events_arrive_in_one_response_and_future_start_waits() {
    let m = strata(&[]);
    let mut c = client(&m).await;
    let mut stream = c.watch("t", Some(WatchOptions::new().with_prefix().with_start_revision(3))).await.expect("watch");
    assert!(next_watch_response(&mut stream).await.created());
    c.put("t/skip", "x", None).await.expect("put at 2");
    let txn = etcd_client::Txn::new().and_then([
        etcd_client::TxnOp::put("t/a", "1", None),
        etcd_client::TxnOp::put("t/b", "2", None),
        etcd_client::TxnOp::delete("t/skip", None),
    ]);
    c.txn(txn).await.expect("txn at 3");
    let resp = next_watch_response(&mut stream).await;
    let keys: Vec<_> = resp.events().iter().map(|e| (e.event_type(), e.kv().map(|kv| kv.key().to_vec()))).collect();
    assert_eq!(
        keys,
        [
            (EventType::Put, Some(b"t/a".to_vec())),
            (EventType::Put, Some(b"t/b".to_vec())),
            (EventType::Delete, Some(b"t/skip".to_vec()))
        ],
        "revision 2 is before the start; revision 3's events come together in sub-revision order"
    );
}

#[tokio::test]
async fn large_responses_are_fragmented_on_request() {
    use api::etcdserverpb::watch_client::WatchClient;
    use api::etcdserverpb::{WatchCreateRequest, WatchRequest, watch_request::RequestUnion};
    let m = strata(&[]);
    let mut c = client(&m).await;
    for i in 0..5 {
        c.put(format!("big/{i}"), vec![b'x'; 1_000_000], None).await.expect("put 1 MB");
    }
    let create = |fragment| WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: b"big/".to_vec(),
            range_end: b"big0".to_vec(),
            prev_kv: true,
            fragment,
            ..Default::default()
        })),
    };
    let mut raw = WatchClient::connect(format!("http://{}", m.endpoint())).await.expect("connect");
    raw = raw.max_decoding_message_size(64 << 20);
    let mut whole = raw.watch(futures_stream(create(false))).await.expect("watch").into_inner();
    let mut split = raw.watch(futures_stream(create(true))).await.expect("watch").into_inner();
    assert!(whole.message().await.expect("ok").expect("created").created);
    assert!(split.message().await.expect("ok").expect("created").created);
    // One revision whose five delete events carry ~1 MB previous values each.
    c.delete("big/", Some(etcd_client::DeleteOptions::new().with_prefix())).await.expect("delete");
    let one = whole.message().await.expect("ok").expect("events");
    assert_eq!((one.events.len(), one.fragment), (5, false), "without the flag the response goes whole");
    let mut flags = Vec::new();
    let mut events = 0;
    while events < 5 {
        let part = split.message().await.expect("ok").expect("fragment");
        events += part.events.len();
        flags.push(part.fragment);
    }
    assert_eq!(events, 5);
    assert!(flags.len() >= 2, "split into {} responses", flags.len());
    assert_eq!(flags.last(), Some(&false), "the last fragment is unflagged");
    assert!(flags[..flags.len() - 1].iter().all(|f| *f), "the others are flagged: {flags:?}");
}

/// A request stream that sends `first` and then stays open.
fn futures_stream(
    first: api::etcdserverpb::WatchRequest,
) -> impl futures::Stream<Item = api::etcdserverpb::WatchRequest> {
    futures::stream::iter([first]).chain(futures::stream::pending())
}

#[tokio::test]
async fn require_leader_streams_are_served_while_there_is_a_leader() {
    use api::etcdserverpb::watch_client::WatchClient;
    use api::etcdserverpb::{WatchCreateRequest, WatchRequest, watch_request::RequestUnion};
    let m = strata(&[]);
    let mut raw = WatchClient::connect(format!("http://{}", m.endpoint())).await.expect("connect");
    let create = WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: b"x".to_vec(),
            ..Default::default()
        })),
    };
    let mut req = tonic::Request::new(futures_stream(create));
    req.metadata_mut().insert("hasleader", "true".parse().expect("metadata"));
    let mut stream = raw.watch(req).await.expect("a member with a leader accepts the stream").into_inner();
    assert!(stream.message().await.expect("ok").expect("created").created);
}

/// A client that stops reading its watch stream blocks nobody: the writer
/// goes on, a watcher that reads keeps up, the one that does not read falls
/// behind (counted as slow on /metrics), and once it reads again it gets every
/// event, once and in order, having caught up from the backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_blocks_no_one_and_catches_up() {
    use api::etcdserverpb::watch_client::WatchClient;
    use api::etcdserverpb::{WatchCreateRequest, WatchRequest, watch_request::RequestUnion};
    let m = strata(&[]);
    let create = WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: b"s/".to_vec(),
            range_end: b"s0".to_vec(),
            ..Default::default()
        })),
    };
    // Small HTTP/2 windows, so that a reader that stops is felt at once.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", m.endpoint()))
        .expect("endpoint")
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .expect("connect");
    let mut raw = WatchClient::new(channel).max_decoding_message_size(usize::MAX);
    let mut slow = raw.watch(futures_stream(create.clone())).await.expect("watch").into_inner();
    assert!(slow.message().await.expect("ok").expect("created").created);

    let n = 2000usize;
    let mut fast = client(&m).await.watch("s/", Some(WatchOptions::new().with_prefix())).await.expect("watch");
    assert!(next_watch_response(&mut fast).await.created());
    let reader = tokio::spawn(async move {
        let mut revs = Vec::new();
        while revs.len() < n {
            for e in next_watch_response(&mut fast).await.events() {
                revs.push(e.kv().map_or(0, |kv| kv.mod_revision()));
            }
        }
        revs
    });
    let mut c = client(&m).await;
    let mut revs = Vec::new();
    for i in 0..n {
        let r = c.put(format!("s/{i:04}"), vec![b'x'; 16 * 1024], None).await.expect("put while a watcher stalls");
        revs.push(r.header().map_or(0, |h| h.revision()));
    }
    assert_eq!(reader.await.expect("reader"), revs, "the reading watcher missed or repeated events");
    let metrics = crate::http_endpoints::get(&m, "/metrics").body;
    let behind = crate::http_endpoints::value(&metrics, "etcd_debugging_mvcc_slow_watcher_total");
    assert!(behind >= 1.0, "the watcher that does not read never fell behind: the test tested nothing");

    let mut slow_revs = Vec::new();
    while slow_revs.len() < n {
        let resp = tokio::time::timeout(Duration::from_secs(20), slow.message())
            .await
            .expect("the slow watcher gets its events once it reads")
            .expect("ok")
            .expect("open");
        slow_revs.extend(resp.events.iter().map(|e| e.kv.as_ref().map_or(0, |kv| kv.mod_revision)));
    }
    assert_eq!(slow_revs, revs, "the slow watcher did not catch up exactly");
}
