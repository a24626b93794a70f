//! The delivery rules, fed responses directly (no member).

use super::*;
use api::etcdserverpb::ResponseHeader;
use api::mvccpb::{Event, KeyValue};

fn stream() -> WatchStream {
    let global = crate::cli::parse(vec!["x".into(), "version".into()]).expect("parses").expect("not help").global;
    WatchStream::new(&global)
}

fn header(revision: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader { cluster_id: 1, member_id: 2, revision, raft_term: 3 })
}

fn created(id: i64, revision: i64) -> WatchResponse {
    WatchResponse { header: header(revision), watch_id: id, created: true, ..Default::default() }
}

fn put(id: i64, key: &str, revision: i64) -> WatchResponse {
    let kv = KeyValue { key: key.into(), mod_revision: revision, ..Default::default() };
    WatchResponse {
        header: header(revision),
        watch_id: id,
        events: vec![Event { kv: Some(kv), ..Default::default() }],
        ..Default::default()
    }
}

fn drain(s: &mut WatchStream) -> Vec<Delivery> {
    s.ready.drain(..).collect()
}

#[test]
fn created_responses_are_not_delivered_and_events_go_to_their_watcher() {
    let mut s = stream();
    let a = s.watch(WatchCreateRequest { key: b"a".to_vec(), ..Default::default() });
    let b = s.watch(WatchCreateRequest { key: b"b".to_vec(), start_revision: 3, ..Default::default() });
    s.on_response(created(0, 5));
    s.on_response(created(1, 5));
    assert!(drain(&mut s).is_empty());
    s.on_response(put(1, "b", 6));
    s.on_response(put(0, "a", 7));
    let got = drain(&mut s);
    assert!(matches!(&got[..], [Delivery::Update(x, _), Delivery::Update(y, _)] if (*x, *y) == (b, a)));
    assert_eq!(s.subs[&a].req.start_revision, 8, "resumes after the last event");
    assert_eq!(s.subs[&b].req.start_revision, 7);
}

#[test]
fn a_refused_create_closes_the_watcher_with_the_reason() {
    let mut s = stream();
    let h = s.watch(WatchCreateRequest { key: b"b".to_vec(), range_end: b"a".to_vec(), ..Default::default() });
    s.on_response(WatchResponse {
        header: header(5),
        watch_id: -1,
        created: true,
        canceled: true,
        cancel_reason: "mvcc: watcher range is empty".into(),
        ..Default::default()
    });
    let got = drain(&mut s);
    assert_eq!(got.len(), 2);
    let Delivery::Update(_, u) = &got[0] else { panic!("{got:?}") };
    assert_eq!(u.err().as_deref(), Some("mvcc: watcher range is empty"));
    assert_eq!((u.events.clone(), u.header), (None, ResponseHeader::default()));
    assert_eq!(got[1], Delivery::Closed(h));
}

#[test]
fn a_compacted_watcher_gets_the_response_then_closes() {
    let mut s = stream();
    let h = s.watch(WatchCreateRequest { key: b"k".to_vec(), start_revision: 2, ..Default::default() });
    s.on_response(created(0, 20));
    s.on_response(WatchResponse {
        header: Some(ResponseHeader { revision: 0, ..header(0).expect("header") }),
        watch_id: 0,
        canceled: true,
        compact_revision: 9,
        ..Default::default()
    });
    let got = drain(&mut s);
    let Delivery::Update(_, u) = &got[0] else { panic!("{got:?}") };
    assert_eq!((u.compact_revision, u.events.clone()), (9, Some(vec![])));
    assert_eq!(got[1], Delivery::Closed(h));
    assert!(s.subs.is_empty());
}

#[test]
fn a_plain_cancel_closes_silently() {
    let mut s = stream();
    let h = s.watch(WatchCreateRequest { key: b"k".to_vec(), ..Default::default() });
    s.on_response(created(4, 20));
    s.on_response(WatchResponse { header: header(20), watch_id: 4, canceled: true, ..Default::default() });
    assert_eq!(drain(&mut s), vec![Delivery::Closed(h)]);
}

#[test]
fn a_stream_progress_notification_goes_to_every_watcher() {
    let mut s = stream();
    let a = s.watch(WatchCreateRequest { key: b"a".to_vec(), ..Default::default() });
    let b = s.watch(WatchCreateRequest { key: b"b".to_vec(), ..Default::default() });
    s.on_response(created(0, 5));
    s.on_response(created(1, 5));
    s.on_response(WatchResponse { header: header(9), watch_id: -1, ..Default::default() });
    let got = drain(&mut s);
    let handles: Vec<Handle> = got
        .iter()
        .map(|d| match d {
            Delivery::Update(h, u) if u.is_progress_notify() => *h,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(handles, vec![a, b]);
}

#[test]
fn fragments_are_joined() {
    let mut s = stream();
    let h = s.watch(WatchCreateRequest { key: b"k".to_vec(), ..Default::default() });
    s.on_response(created(0, 5));
    let mut first = put(0, "k1", 6);
    first.fragment = true;
    s.on_response(first);
    assert!(drain(&mut s).is_empty());
    s.on_response(put(0, "k2", 6));
    let got = drain(&mut s);
    let [Delivery::Update(x, u)] = &got[..] else { panic!("{got:?}") };
    assert_eq!((*x, u.events.as_ref().map(Vec::len)), (h, Some(2)));
}

#[test]
fn a_halted_stream_closes_every_watcher_with_its_error() {
    let mut s = stream();
    let a = s.watch(WatchCreateRequest { key: b"a".to_vec(), ..Default::default() });
    s.on_response(created(0, 5));
    let b = s.watch(WatchCreateRequest { key: b"b".to_vec(), ..Default::default() });
    s.halt("rpc error: code = Unimplemented desc = unknown service etcdserverpb.Watch".into());
    let got = drain(&mut s);
    assert_eq!(got.len(), 4);
    assert_eq!((&got[1], &got[3]), (&Delivery::Closed(a), &Delivery::Closed(b)));
    let Delivery::Update(_, u) = &got[2] else { panic!("{got:?}") };
    assert_eq!(u.err().as_deref(), Some("rpc error: code = Unimplemented desc = unknown service etcdserverpb.Watch"));
    assert!(s.subs.is_empty() && s.creating.is_empty());
}
