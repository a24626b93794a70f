//! Whole members in the test's process (`testkit::LocalMember`), driven
//! through the generated gRPC clients: watch fan-out (cancel, a stream that
//! stops reading, compaction while a watcher catches up), watch progress as
//! Kubernetes relies on it, etcd 3.6's downgrade, and a cluster's writes
//! through followers. Most tests take a second or two; the downgrade waits
//! for two ticks of the 4 s version monitor.

use std::time::Duration;

use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::maintenance_client::MaintenanceClient;
use api::etcdserverpb::watch_client::WatchClient;
use api::etcdserverpb::watch_request::RequestUnion;
use api::etcdserverpb::{
    CompactionRequest, PutRequest, RangeRequest, StatusRequest, WatchCancelRequest, WatchCreateRequest, WatchRequest,
    WatchResponse,
};
use testkit::LocalMember;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::Channel;

/// Every test is bounded: a hang fails instead of stalling the suite.
const LIMIT: Duration = Duration::from_secs(30);

async fn kv(m: &LocalMember) -> KvClient<Channel> {
    KvClient::connect(m.url()).await.expect("connect")
}

async fn put(c: &mut KvClient<Channel>, key: &str, value: &[u8]) -> i64 {
    let req = PutRequest { key: key.into(), value: value.to_vec(), ..PutRequest::default() };
    c.put(req).await.expect("put").into_inner().header.map_or(0, |h| h.revision)
}

/// A watch stream: the requests it sends, the responses it gets.
struct Watch {
    requests: mpsc::Sender<WatchRequest>,
    responses: Streaming<WatchResponse>,
}

impl Watch {
    async fn open(channel: Channel) -> Watch {
        let (requests, rx) = mpsc::channel(16);
        let responses = WatchClient::new(channel).watch(ReceiverStream::new(rx)).await.expect("watch").into_inner();
        Watch { requests, responses }
    }

    /// Creates a watcher on `prefix` from `start_revision`; its id.
    async fn create(&mut self, prefix: &str, start_revision: i64) -> i64 {
        let mut end = prefix.as_bytes().to_vec();
        *end.last_mut().expect("a prefix") += 1;
        let create =
            WatchCreateRequest { key: prefix.into(), range_end: end, start_revision, ..WatchCreateRequest::default() };
        self.send(RequestUnion::CreateRequest(create)).await;
        let created = self.next().await;
        assert!(created.created, "{created:?}");
        created.watch_id
    }

    async fn send(&self, r: RequestUnion) {
        self.requests.send(WatchRequest { request_union: Some(r) }).await.expect("send");
    }

    async fn next(&mut self) -> WatchResponse {
        tokio::time::timeout(LIMIT, self.responses.next())
            .await
            .expect("a watch response in time")
            .expect("the stream is open")
            .expect("a response, not an error")
    }

    /// The mod revisions of the events of `id` until `count` have arrived.
    async fn events(&mut self, id: i64, count: usize) -> Vec<i64> {
        let mut revs = Vec::new();
        while revs.len() < count {
            let r = self.next().await;
            assert!(!r.canceled, "canceled while waiting for events: {r:?}");
            if r.watch_id == id {
                revs.extend(r.events.iter().filter_map(|e| e.kv.as_ref()).map(|kv| kv.mod_revision));
            }
        }
        revs
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_every_change_in_order_until_it_is_canceled() {
    let m = LocalMember::start(&[]).await.expect("start");
    let mut c = kv(&m).await;
    let mut w = Watch::open(Channel::from_shared(m.url()).expect("url").connect().await.expect("connect")).await;
    let id = w.create("w/", 0).await;
    let mut written = Vec::new();
    for i in 0..50 {
        written.push(put(&mut c, &format!("w/{i}"), b"v").await);
        put(&mut c, "other", b"v").await;
    }
    assert_eq!(w.events(id, 50).await, written);
    w.send(RequestUnion::CancelRequest(WatchCancelRequest { watch_id: id })).await;
    let canceled = w.next().await;
    assert!(canceled.canceled && canceled.watch_id == id, "{canceled:?}");
    // A second watcher on the same stream hears of a later put; the canceled one does not.
    let again = w.create("w/", 0).await;
    let rev = put(&mut c, "w/after", b"v").await;
    let r = w.next().await;
    assert_eq!((r.watch_id, r.events.len()), (again, 1), "{r:?}");
    assert_eq!(r.events[0].kv.as_ref().map(|kv| kv.mod_revision), Some(rev));
}

/// A stream whose client stops reading (HTTP/2 windows of 64 KiB fill up)
/// holds back no writer and no other stream, and later gets every event,
/// once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_stops_reading_holds_back_no_one_and_then_catches_up() {
    let m = LocalMember::start(&[]).await.expect("start");
    let slow_channel = tonic::transport::Endpoint::from_shared(m.url())
        .expect("url")
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .expect("connect");
    let mut slow = Watch::open(slow_channel).await;
    let slow_id = slow.create("s/", 0).await;
    let mut fast = Watch::open(Channel::from_shared(m.url()).expect("url").connect().await.expect("connect")).await;
    let fast_id = fast.create("s/", 0).await;
    let reader = tokio::spawn(async move {
        let revs = fast.events(fast_id, 400).await;
        (fast, revs)
    });
    let mut c = kv(&m).await;
    let value = vec![b'x'; 16 * 1024];
    let mut written = Vec::new();
    let started = std::time::Instant::now();
    for i in 0..400 {
        written.push(put(&mut c, &format!("s/{i}"), &value).await);
    }
    let writing = started.elapsed();
    let (_fast, fast_revs) = tokio::time::timeout(LIMIT, reader).await.expect("the reader keeps up").expect("reader");
    assert_eq!(fast_revs, written, "the reading stream got every event in order");
    // 6.4 MB went to a stream that read nothing: the writes did not wait for it.
    assert!(writing < LIMIT / 2, "writes took {writing:?}");
    assert_eq!(slow.events(slow_id, 400).await, written, "the slow stream catches up in order, once");
}

/// A watcher that starts far behind reads history while a compaction passes
/// it: it either gets every event from its start, in order, or etcd's
/// compacted answer (canceled, with the compaction revision): never a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_while_a_watcher_catches_up_leaves_no_silent_gap() {
    let m = LocalMember::start(&[]).await.expect("start");
    let mut c = kv(&m).await;
    let mut written = Vec::new();
    for i in 0..2000 {
        written.push(put(&mut c, &format!("c/{}", i % 50), b"v").await);
    }
    let mut w = Watch::open(Channel::from_shared(m.url()).expect("url").connect().await.expect("connect")).await;
    let id = w.create("c/", written[0]).await;
    let compact_to = written[1500];
    let compact = CompactionRequest { revision: compact_to, physical: false };
    c.compact(compact).await.expect("compact");
    let mut seen = Vec::new();
    while seen.len() < written.len() {
        let r = w.next().await;
        if r.compact_revision != 0 {
            assert!(r.canceled, "{r:?}");
            assert_eq!(r.compact_revision, compact_to);
            break;
        }
        assert_eq!(r.watch_id, id);
        seen.extend(r.events.iter().filter_map(|e| e.kv.as_ref()).map(|kv| kv.mod_revision));
    }
    assert_eq!(seen[..], written[..seen.len()], "what arrived is a prefix of history, in order");
    // A watcher created below the compaction now is refused at once.
    let create = WatchCreateRequest {
        key: b"c/".to_vec(),
        range_end: b"c0".to_vec(),
        start_revision: written[10],
        ..WatchCreateRequest::default()
    };
    w.send(RequestUnion::CreateRequest(create)).await;
    // As etcd's: created first, then canceled with the compaction revision.
    let created = w.next().await;
    assert!(created.created && created.watch_id != id, "{created:?}");
    let refused = w.next().await;
    assert_eq!(refused.watch_id, created.watch_id);
    assert!(refused.canceled && refused.compact_revision == compact_to, "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_in_process_takes_writes_on_every_member() {
    let members = LocalMember::start_cluster(3, &[]).await.expect("start a cluster");
    let mut revs = Vec::new();
    for (i, m) in members.iter().enumerate() {
        revs.push(put(&mut kv(m).await, &format!("from/{i}"), b"v").await);
    }
    for m in &members {
        let got = kv(m)
            .await
            .range(RangeRequest { key: b"from/".to_vec(), range_end: b"from0".to_vec(), ..RangeRequest::default() })
            .await
            .expect("linearizable range")
            .into_inner();
        let mods: Vec<i64> = got.kvs.iter().map(|kv| kv.mod_revision).collect();
        assert_eq!(mods, revs, "member {} reads every write", m.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_keeps_its_data() {
    let mut m = LocalMember::start(&[]).await.expect("start");
    let rev = put(&mut kv(&m).await, "k", b"v").await;
    m.restart().await.expect("restart");
    let got = kv(&m).await.range(RangeRequest { key: b"k".to_vec(), ..RangeRequest::default() }).await.expect("get");
    assert_eq!(got.into_inner().kvs.first().map(|kv| kv.mod_revision), Some(rev));
    assert!(matches!(m.stop().await.expect("stop"), Ok(())));
}

/// The index of the member that says it leads, waiting for one.
async fn leader(members: &[LocalMember]) -> usize {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        for (i, m) in members.iter().enumerate() {
            let Ok(mut c) = MaintenanceClient::connect(m.url()).await else { continue };
            if let Ok(s) = c.status(StatusRequest {}).await.map(tonic::Response::into_inner)
                && s.leader != 0
                && Some(s.leader) == s.header.map(|h| h.member_id)
            {
                return i;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many keys under `p/` member `m` holds, read locally (serializable).
async fn local_count(m: &LocalMember) -> i64 {
    let r = RangeRequest {
        key: b"p/".to_vec(),
        range_end: b"p0".to_vec(),
        serializable: true,
        count_only: true,
        ..RangeRequest::default()
    };
    kv(m).await.range(r).await.expect("serializable range").into_inner().count
}

/// A follower cut off by the proxies misses the writes the other two commit,
/// and has them all once the network heals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_cut_off_by_the_proxies_catches_up_once_healed() {
    let (members, network) = LocalMember::start_cluster_behind_proxies(3, &[]).await.expect("start");
    let lead = leader(&members).await;
    let cut = (lead + 1) % 3;
    tokio::task::block_in_place(|| network.isolate(cut)).expect("isolate");
    let mut c = kv(&members[lead]).await;
    for i in 0..20 {
        put(&mut c, &format!("p/{i}"), b"v").await;
    }
    // The other follower applies them once it hears the commit index.
    eventually_holds(&members[(lead + 2) % 3], 20).await;
    assert_eq!(local_count(&members[cut]).await, 0, "the cut-off follower cannot have them");
    network.heal();
    eventually_holds(&members[cut], 20).await;
}

async fn eventually_holds(m: &LocalMember, keys: i64) {
    let deadline = std::time::Instant::now() + LIMIT;
    while local_count(m).await < keys {
        assert!(std::time::Instant::now() < deadline, "{} does not hold {keys} keys", m.name());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Kubernetes' property of `RequestWatchProgress` (etcd 3.5.13+/3.6): once a
/// progress response reports revision R, no event at or below R is still to
/// come on that stream. Checked while a watcher replays 600 revisions of
/// history and writers keep writing, with a progress request after every
/// response; every request is answered, with a revision no older than the
/// store's when it was asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progress_response_never_overtakes_an_event_of_its_stream() {
    let m = LocalMember::start(&[]).await.expect("start");
    let mut c = kv(&m).await;
    for i in 0..600 {
        put(&mut c, &format!("g/{}", i % 7), b"history").await;
    }
    let writer = {
        let mut c = kv(&m).await;
        tokio::spawn(async move {
            for i in 0..300 {
                put(&mut c, &format!("g/{}", i % 5), b"live").await;
            }
        })
    };
    let mut w = Watch::open(Channel::from_shared(m.url()).expect("url").connect().await.expect("connect")).await;
    let id = w.create("g/", 2).await;
    let (mut last_event, mut reported, mut asked, mut answered) = (0, 0, Vec::new(), 0);
    while last_event < 900 + 1 {
        asked.push(status_rev(&m).await);
        w.send(RequestUnion::ProgressRequest(Default::default())).await;
        let r = w.next().await;
        if r.watch_id == -1 {
            let rev = r.header.map_or(0, |h| h.revision);
            assert!(rev >= asked[answered], "progress {rev} is older than the request ({})", asked[answered]);
            assert!(rev >= reported, "progress went back from {reported} to {rev}");
            (reported, answered) = (rev, answered + 1);
            continue;
        }
        assert_eq!(r.watch_id, id, "{r:?}");
        for kv in r.events.iter().filter_map(|e| e.kv.as_ref()) {
            assert!(kv.mod_revision > reported, "event {} after a progress of {reported}", kv.mod_revision);
            last_event = kv.mod_revision;
        }
    }
    writer.await.expect("writer");
    while answered < asked.len() {
        let r = w.next().await;
        assert_eq!(r.watch_id, -1, "an event after the last write: {r:?}");
        answered += 1;
    }
}

/// A watcher that starts at a revision the store has not reached holds
/// progress back (etcd 3.6's `rev < w.startRev`): reporting the current
/// revision would move the client below where it asked to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_waits_for_a_watcher_that_starts_in_the_future() {
    let m = LocalMember::start(&[]).await.expect("start");
    let mut c = kv(&m).await;
    let now = put(&mut c, "f/a", b"v").await;
    let mut w = Watch::open(Channel::from_shared(m.url()).expect("url").connect().await.expect("connect")).await;
    w.create("f/", now + 3).await;
    w.send(RequestUnion::ProgressRequest(Default::default())).await;
    let early = tokio::time::timeout(Duration::from_millis(300), w.responses.next()).await;
    assert!(early.is_err(), "answered before the store reached the watcher's start: {early:?}");
    put(&mut c, "other", b"v").await;
    let at = put(&mut c, "other", b"v").await;
    let r = w.next().await;
    assert_eq!((r.watch_id, r.header.map(|h| h.revision)), (-1, Some(at)), "{r:?}");
}

async fn status_rev(m: &LocalMember) -> i64 {
    status_when(m, |_| true).await.header.map_or(0, |h| h.revision)
}

/// etcd 3.6's downgrade on a cluster of one version: validate and enable a
/// target one minor below, the version monitor lowers the cluster (and
/// storage) version through Raft, the state survives a restart, and a cancel
/// brings the version back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downgrade_lowers_the_cluster_version_until_it_is_cancelled() {
    use api::etcdserverpb::DowngradeRequest;
    use api::etcdserverpb::downgrade_request::DowngradeAction;
    let mut m = LocalMember::start(&[]).await.expect("start");
    let downgrade = |m: &LocalMember, action: DowngradeAction, version: &str| {
        let req = DowngradeRequest { action: action as i32, version: version.to_string() };
        let url = m.url();
        async move {
            let mut c = MaintenanceClient::connect(url).await.expect("connect");
            c.downgrade(req).await.map(|r| r.into_inner().version).map_err(|s| s.message().to_string())
        }
    };
    assert_eq!(downgrade(&m, DowngradeAction::Validate, "3.5").await, Ok("3.6".to_string()));
    let invalid = Err("etcdserver: invalid downgrade target version".to_string());
    assert_eq!(downgrade(&m, DowngradeAction::Validate, "3.6").await, invalid);
    assert_eq!(downgrade(&m, DowngradeAction::Enable, "3.5.0").await, Ok("3.6".to_string()));
    let in_progress = Err("etcdserver: cluster has a downgrade job in progress".to_string());
    assert_eq!(downgrade(&m, DowngradeAction::Enable, "3.5").await, in_progress);
    let status = status_when(&m, |s| s.storage_version == "3.5.0").await;
    let info = status.downgrade_info.expect("downgrade info");
    assert!(info.enabled && info.target_version == "3.5.0", "{info:?}");
    m.restart().await.expect("restart");
    let status = status_when(&m, |s| s.downgrade_info.as_ref().is_some_and(|d| d.enabled)).await;
    assert_eq!((status.version.as_str(), status.storage_version.as_str()), ("3.6.14", "3.5.0"));
    assert_eq!(downgrade(&m, DowngradeAction::Cancel, "").await, Ok("3.5".to_string()));
    let status = status_when(&m, |s| s.storage_version == "3.6.0").await;
    assert_eq!(status.downgrade_info.map(|d| d.enabled), Some(false));
}

/// Status once `ready` holds of it (within [`LIMIT`]).
async fn status_when(
    m: &LocalMember,
    ready: impl Fn(&api::etcdserverpb::StatusResponse) -> bool,
) -> api::etcdserverpb::StatusResponse {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let mut c = MaintenanceClient::connect(m.url()).await.expect("connect");
        let s = c.status(StatusRequest {}).await.expect("status").into_inner();
        if ready(&s) {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "status never got there: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// etcd 3.6.6+ refuses a watch from a negative revision at once, as compacted
/// (3.4.23 kept it until something was compacted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_negative_revision_is_refused_as_compacted() {
    let m = LocalMember::start(&[]).await.expect("start");
    let mut w = Watch::open(Channel::from_shared(m.url()).expect("url").connect().await.expect("connect")).await;
    let create = WatchCreateRequest { key: b"k".to_vec(), start_revision: -1, ..WatchCreateRequest::default() };
    w.send(RequestUnion::CreateRequest(create)).await;
    let r = w.next().await;
    assert_eq!(
        (r.watch_id, r.created, r.canceled, r.cancel_reason.as_str()),
        (-1, true, true, "etcdserver: mvcc: required revision has been compacted")
    );
    assert!(w.create("k", 0).await >= 0, "the stream stays open");
}
