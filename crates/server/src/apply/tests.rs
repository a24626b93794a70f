//! The applier against a temporary backend, entry by entry, as etcd tests its
//! applier (`txn_test.go`, `apply_test.go`): txn rules, the NOSPACE guard,
//! lease revoke, compaction racing a read. No Raft, no process: milliseconds.

use std::sync::Arc;

use api::etcdserverpb::alarm_request::AlarmAction;
use api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use api::etcdserverpb::request_op::Request;
use api::etcdserverpb::response_op::Response as OpResponse;
use api::etcdserverpb::{
    AlarmRequest, AlarmType, CompactionRequest, Compare, DeleteRangeRequest, InternalRaftRequest, LeaseGrantRequest,
    LeaseRevokeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, TxnResponse,
};
use api::stratapb::ApplyResult;
use prost::Message;
use raft::Apply;
use tokio::sync::mpsc;

use super::*;
use crate::kv::{View, range};

/// An applier over a store in a temporary directory.
struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    applier: Applier,
    leases: Arc<Leases>,
    compactions: mpsc::UnboundedReceiver<mvcc::Compaction>,
    index: u64,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_reserve(false)
    }

    fn with_reserve(reserve: bool) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = backend::Backend::open(&dir.path().join("state.redb")).expect("backend");
        let (store, _) = Store::open(backend).expect("store");
        let (tx, compactions) = mpsc::unbounded_channel();
        let leases = Arc::new(Leases::restore(&store, 1).expect("leases"));
        let alarms = Arc::new(Alarms::restore(&store).expect("alarms"));
        let hub = WatchHub::new(store.rev());
        let auth = Arc::new(
            auth::AuthStore::load(&store.backend().begin_read().expect("read"), auth::Options::default())
                .expect("auth"),
        );
        let versions =
            Arc::new(crate::version::Versions::load(&store.backend().begin_read().expect("read")).expect("versions"));
        let shared = super::Shared { leases: leases.clone(), alarms, auth, versions };
        let applier = Applier::new(store.clone(), tx, hub, shared, reserve);
        Fixture { _dir: dir, store, applier, leases, compactions, index: 0 }
    }

    /// Applies `req` as the next log entry; the answer as the proposer gets it.
    fn apply(&mut self, req: InternalRaftRequest) -> EtcdResult<Response> {
        self.index += 1;
        let out = self.applier.apply(self.index, &req.encode_to_vec(), &self.index.to_be_bytes()).expect("apply");
        let result = ApplyResult::decode(out.as_slice()).expect("apply result");
        match result.error {
            Some(e) => Err(EtcdError::from_apply_error(&e)),
            None => Ok(result.response.expect("a response")),
        }
    }

    fn put(&mut self, key: &str, value: &str) -> EtcdResult<i64> {
        let req = PutRequest { key: key.into(), value: value.into(), ..PutRequest::default() };
        match self.apply(InternalRaftRequest { put: Some(req), ..Default::default() })? {
            Response::Put(p) => Ok(p.header.map_or(0, |h| h.revision)),
            other => panic!("put answered {other:?}"),
        }
    }

    fn txn(&mut self, t: TxnRequest) -> EtcdResult<TxnResponse> {
        match self.apply(InternalRaftRequest { txn: Some(t), ..Default::default() })? {
            Response::Txn(t) => Ok(t),
            other => panic!("txn answered {other:?}"),
        }
    }

    /// `key`'s value and mod revision at `rev` (0: now), through the read path.
    fn get(&self, key: &str, rev: i64) -> EtcdResult<Option<(String, i64)>> {
        let read = self.store.read()?;
        let r = RangeRequest { key: key.into(), revision: rev, ..RangeRequest::default() };
        let resp = range(&View::Read(&read), &r)?;
        Ok(resp.kvs.first().map(|kv| (String::from_utf8_lossy(&kv.value).into_owned(), kv.mod_revision)))
    }
}

fn cmp(key: &str, target: TargetUnion, result: CompareResult) -> Compare {
    let t = match target {
        TargetUnion::Version(_) => CompareTarget::Version,
        TargetUnion::CreateRevision(_) => CompareTarget::Create,
        TargetUnion::ModRevision(_) => CompareTarget::Mod,
        TargetUnion::Value(_) => CompareTarget::Value,
        TargetUnion::Lease(_) => CompareTarget::Lease,
    };
    Compare {
        key: key.into(),
        target: t as i32,
        result: result as i32,
        target_union: Some(target),
        ..Compare::default()
    }
}

fn put_op(key: &str, value: &str) -> RequestOp {
    let put = PutRequest { key: key.into(), value: value.into(), ..PutRequest::default() };
    RequestOp { request: Some(Request::RequestPut(put)) }
}

fn get_op(key: &str) -> RequestOp {
    RequestOp { request: Some(Request::RequestRange(RangeRequest { key: key.into(), ..RangeRequest::default() })) }
}

fn when(compare: Vec<Compare>) -> TxnRequest {
    TxnRequest { compare, success: vec![put_op("ok", "1")], failure: vec![put_op("ok", "0")] }
}

#[test]
fn every_compare_target_and_result_chooses_the_branch_etcd_chooses() {
    use CompareResult::*;
    use TargetUnion::*;
    let mut f = Fixture::new();
    let rev = f.put("k", "v").expect("put");
    let cases = [
        (cmp("k", Version(1), Equal), true),
        (cmp("k", Version(1), Greater), false),
        (cmp("k", Version(2), Less), true),
        (cmp("k", Version(1), NotEqual), false),
        (cmp("k", CreateRevision(rev), Equal), true),
        (cmp("k", ModRevision(rev - 1), Greater), true),
        (cmp("k", ModRevision(rev), Less), false),
        (cmp("k", Value(b"v".to_vec()), Equal), true),
        (cmp("k", Value(b"w".to_vec()), Less), true),
        (cmp("k", Value(b"u".to_vec()), Less), false),
        (cmp("k", Value(b"x".to_vec()), NotEqual), true),
        (cmp("k", Lease(0), Equal), true),
        // A missing key has version, revisions and lease 0; a value compare on it fails.
        (cmp("missing", Version(0), Equal), true),
        (cmp("missing", CreateRevision(0), Equal), true),
        (cmp("missing", ModRevision(1), Less), true),
        (cmp("missing", Lease(0), Equal), true),
        (cmp("missing", Value(Vec::new()), Equal), false),
        (cmp("missing", Value(b"x".to_vec()), NotEqual), false),
    ];
    for (c, want) in cases {
        let got = f.txn(when(vec![c.clone()])).expect("txn");
        assert_eq!(got.succeeded, want, "{c:?}");
    }
    // All compares must hold.
    let both = vec![cmp("k", Version(1), Equal), cmp("k", Value(b"v".to_vec()), NotEqual)];
    assert!(!f.txn(when(both)).expect("txn").succeeded);
}

#[test]
fn a_compare_over_a_range_holds_only_if_every_key_in_it_matches() {
    use CompareResult::*;
    let mut f = Fixture::new();
    f.put("a1", "x").expect("put");
    f.put("a2", "x").expect("put");
    f.put("a3", "y").expect("put");
    let over = |end: &str, value: &str| Compare {
        range_end: end.into(),
        ..cmp("a1", TargetUnion::Value(value.into()), Equal)
    };
    assert!(f.txn(when(vec![over("a3", "x")])).expect("txn").succeeded, "a1, a2");
    assert!(!f.txn(when(vec![over("a4", "x")])).expect("txn").succeeded, "a3 differs");
}

#[test]
fn a_txn_is_one_revision_whose_reads_see_its_own_earlier_writes() {
    let mut f = Fixture::new();
    let before = f.put("seed", "s").expect("put");
    let t = TxnRequest { success: vec![put_op("a", "1"), put_op("b", "2"), get_op("a")], ..TxnRequest::default() };
    let resp = f.txn(t).expect("txn");
    let rev = resp.header.as_ref().map_or(0, |h| h.revision);
    assert_eq!(rev, before + 1, "one revision for the whole txn");
    assert_eq!(f.get("a", 0).expect("get"), Some(("1".into(), rev)));
    assert_eq!(f.get("b", 0).expect("get"), Some(("2".into(), rev)));
    match &resp.responses[2].response {
        Some(OpResponse::ResponseRange(r)) => assert_eq!(r.kvs[0].value, b"1"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn nested_txns_compare_on_the_state_before_the_outer_txn_wrote() {
    use CompareResult::*;
    let mut f = Fixture::new();
    let inner = TxnRequest {
        compare: vec![cmp("k", TargetUnion::Version(0), Equal)],
        success: vec![put_op("inner", "saw-no-k")],
        failure: vec![put_op("inner", "saw-k")],
    };
    let outer = TxnRequest {
        success: vec![put_op("k", "1"), RequestOp { request: Some(Request::RequestTxn(inner)) }],
        ..TxnRequest::default()
    };
    f.txn(outer).expect("txn");
    assert_eq!(f.get("inner", 0).expect("get").map(|(v, _)| v).as_deref(), Some("saw-no-k"));
}

#[test]
fn a_txn_whose_op_would_fail_writes_nothing() {
    let mut f = Fixture::new();
    let rev = f.put("exists", "v").expect("put");
    let missing = PutRequest { key: b"missing".to_vec(), ignore_value: true, ..PutRequest::default() };
    let t = TxnRequest {
        success: vec![put_op("first", "x"), RequestOp { request: Some(Request::RequestPut(missing)) }],
        ..TxnRequest::default()
    };
    assert_eq!(f.txn(t), Err(EtcdError::KeyNotFound));
    let leased = PutRequest { key: b"l".to_vec(), value: b"v".to_vec(), lease: 42, ..PutRequest::default() };
    let t = TxnRequest {
        success: vec![put_op("first", "x"), RequestOp { request: Some(Request::RequestPut(leased)) }],
        ..TxnRequest::default()
    };
    assert_eq!(f.txn(t), Err(EtcdError::LeaseNotFound));
    assert_eq!(f.store.rev(), rev, "no revision for a refused txn");
    assert_eq!(f.get("first", 0).expect("get"), None);
}

#[test]
fn nospace_refuses_what_adds_data_and_lets_deletes_and_compaction_through() {
    let mut f = Fixture::new();
    f.put("k", "v").expect("put");
    let rev = f.put("k", "v2").expect("put");
    let raise = AlarmRequest { action: AlarmAction::Activate as i32, member_id: 1, alarm: AlarmType::Nospace as i32 };
    f.apply(InternalRaftRequest { alarm: Some(raise), ..Default::default() }).expect("raise NOSPACE");
    assert_eq!(f.put("k", "v3"), Err(EtcdError::NoSpace));
    let grant = LeaseGrantRequest { ttl: 60, id: 7 };
    assert_eq!(
        f.apply(InternalRaftRequest { lease_grant: Some(grant), ..Default::default() }),
        Err(EtcdError::NoSpace)
    );
    // A put nested in a txn adds data too.
    let nested = TxnRequest {
        success: vec![RequestOp { request: Some(Request::RequestTxn(when(Vec::new()))) }],
        ..TxnRequest::default()
    };
    assert_eq!(f.txn(nested), Err(EtcdError::NoSpace));
    // A small conditional txn needs the reserve, which this member lacks.
    let small = when(vec![cmp("k", TargetUnion::Version(2), CompareResult::Equal)]);
    assert_eq!(f.txn(small.clone()), Err(EtcdError::NoSpace));
    assert!(
        f.apply(InternalRaftRequest {
            compaction: Some(CompactionRequest { revision: rev, physical: false }),
            ..Default::default()
        })
        .is_ok()
    );
    let del = DeleteRangeRequest { key: b"k".to_vec(), ..DeleteRangeRequest::default() };
    assert!(f.apply(InternalRaftRequest { delete_range: Some(del), ..Default::default() }).is_ok());

    let mut reserved = Fixture::with_reserve(true);
    let raise = AlarmRequest { action: AlarmAction::Activate as i32, member_id: 1, alarm: AlarmType::Nospace as i32 };
    reserved.apply(InternalRaftRequest { alarm: Some(raise), ..Default::default() }).expect("raise NOSPACE");
    reserved.put("k", "v").expect_err("a plain put is still refused");
    let small = when(vec![cmp("k", TargetUnion::Version(0), CompareResult::Equal)]);
    assert!(reserved.txn(small).expect("the reserve admits it").succeeded);
}

#[test]
fn revoking_a_lease_deletes_its_keys_in_one_revision() {
    let mut f = Fixture::new();
    let grant = LeaseGrantRequest { ttl: 60, id: 7 };
    f.apply(InternalRaftRequest { lease_grant: Some(grant), ..Default::default() }).expect("grant");
    for key in ["l1", "l2"] {
        let put = PutRequest { key: key.into(), value: b"v".to_vec(), lease: 7, ..PutRequest::default() };
        f.apply(InternalRaftRequest { put: Some(put), ..Default::default() }).expect("put with lease");
    }
    f.put("other", "v").expect("put");
    let before = f.store.rev();
    let revoke = || InternalRaftRequest { lease_revoke: Some(LeaseRevokeRequest { id: 7 }), ..Default::default() };
    f.apply(revoke()).expect("revoke");
    assert_eq!(f.store.rev(), before + 1, "both keys go in one revision");
    assert_eq!(f.get("l1", 0).expect("get"), None);
    assert_eq!(f.get("l2", 0).expect("get"), None);
    assert!(f.get("other", 0).expect("get").is_some());
    assert!(!f.leases.exists(7));
    assert_eq!(f.apply(revoke()), Err(EtcdError::LeaseNotFound));
}

#[test]
fn a_read_open_across_a_compaction_keeps_what_it_may_read() {
    let mut f = Fixture::new();
    let r1 = f.put("k", "v1").expect("put");
    let r2 = f.put("k", "v2").expect("put");
    f.put("k", "v3").expect("put");
    let open = f.store.read().expect("read");
    f.apply(InternalRaftRequest {
        compaction: Some(CompactionRequest { revision: r2, physical: false }),
        ..Default::default()
    })
    .expect("compact");
    let at = |rev| {
        let r = RangeRequest { key: b"k".to_vec(), revision: rev, ..RangeRequest::default() };
        range(&View::Read(&open), &r).map(|resp| resp.kvs.first().map(|kv| kv.value.clone()))
    };
    // From the moment the compaction is applied, older revisions are gone,
    // even for a read that began before it.
    assert_eq!(at(r1), Err(EtcdError::Compacted));
    assert_eq!(at(r2), Ok(Some(b"v2".to_vec())));
    // The physical deletion runs while the read is open: it still sees r2.
    let job = f.compactions.try_recv().expect("the compaction job was queued");
    job.run(&f.store).expect("delete");
    assert_eq!(at(r2), Ok(Some(b"v2".to_vec())));
    assert_eq!(f.get("k", r2).expect("new read at r2").map(|(v, _)| v).as_deref(), Some("v2"));
    assert_eq!(
        f.apply(InternalRaftRequest {
            compaction: Some(CompactionRequest { revision: r1, physical: false }),
            ..Default::default()
        }),
        Err(EtcdError::Compacted)
    );
}
