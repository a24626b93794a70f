//! Model test: the store against a plain map of snapshots, one per revision.
//!
//! proptest generates sequences of puts, deletes, multi-op transactions,
//! compactions, defragmentations and reopens; after every step the store must
//! answer reads at every revision exactly as the model does, or refuse a
//! compacted one. `HashKV` must not change when a compaction's deletions
//! reach the backend, nor with a defragmentation or a reopen.

mod common;

use common::Kv;

use std::collections::BTreeMap;
use std::path::Path;

use mvcc::{KeyRange, RangeOptions, Store};
use proptest::prelude::*;

type Snapshot = BTreeMap<Vec<u8>, Kv>;

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u8),
    Delete(u8, u8),
    Txn(Vec<(u8, Option<u8>)>),
    Compact(u8),
    Defrag,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..6, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0u8..6, 0u8..3).prop_map(|(k, w)| Op::Delete(k, w)),
        2 => proptest::collection::vec((0u8..6, proptest::option::of(any::<u8>())), 1..4).prop_map(Op::Txn),
        1 => any::<u8>().prop_map(Op::Compact),
        1 => Just(Op::Defrag),
        1 => Just(Op::Reopen),
    ]
}

fn key(k: u8) -> Vec<u8> {
    vec![b'k', b'0' + k]
}

struct Model {
    history: Vec<Snapshot>, // history[rev - 1] = state at rev
    compacted: i64,
}

impl Model {
    fn rev(&self) -> i64 {
        self.history.len() as i64
    }
    fn apply(&mut self, changes: &[(Vec<u8>, Option<Vec<u8>>)]) -> bool {
        let rev = self.rev() + 1;
        let mut next = self.history.last().cloned().unwrap_or_default();
        let changed = !common::apply(&mut next, rev, changes).is_empty();
        if changed {
            self.history.push(next);
        }
        changed
    }
}

fn open(dir: &Path) -> Store {
    let be = backend::Backend::open(&dir.join("state.redb")).expect("open backend");
    let (store, resume) = Store::open(be).expect("open store");
    if let Some(job) = resume {
        job.run(&store).expect("resume compaction");
    }
    store
}

fn check(store: &Store, model: &Model) {
    assert_eq!(store.rev(), model.rev());
    let read = store.read().expect("read");
    for rev in 1..=model.rev() {
        let opts = RangeOptions { rev, ..RangeOptions::default() };
        let got = read.range(KeyRange::from_request(b"\0", b"\0"), opts);
        if rev < model.compacted {
            assert!(matches!(got, Err(mvcc::Error::Compacted { .. })), "rev {rev} below {}", model.compacted);
            continue;
        }
        let got = got.expect("range");
        let want = &model.history[(rev - 1) as usize];
        let got: Snapshot = got.kvs.into_iter().map(common::from_store).collect();
        assert_eq!(&got, want, "state at rev {rev}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn store_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = open(dir.path());
        let mut model = Model { history: vec![Snapshot::new()], compacted: -1 };
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    let mut w = store.write().expect("write");
                    w.put(&key(k), &[v], 0).expect("put");
                    let c = w.end(b"ci").expect("end");
                    model.apply(&[(key(k), Some(vec![v]))]);
                    assert_eq!(c.rev, model.rev());
                }
                Op::Delete(k, width) => {
                    let (from, to) = (key(k), key(k + width));
                    let range = if width == 0 { KeyRange::Single(&from) } else { KeyRange::from_request(&from, &to) };
                    let mut w = store.write().expect("write");
                    let (n, _) = w.delete_range(range).expect("delete");
                    w.end(b"ci").expect("end");
                    let cur = model.history.last().cloned().unwrap_or_default();
                    let doomed: Vec<_> = cur.keys().filter(|k| range.contains(k)).cloned().map(|k| (k, None)).collect();
                    assert_eq!(n, doomed.len());
                    model.apply(&doomed);
                }
                Op::Txn(ops) => {
                    let mut seen = std::collections::HashSet::new();
                    let ops: Vec<_> = ops.into_iter().filter(|(k, _)| seen.insert(*k)).collect();
                    let mut w = store.write().expect("write");
                    let mut changes = Vec::new();
                    for (k, v) in &ops {
                        match v {
                            Some(v) => { w.put(&key(*k), &[*v], 0).expect("put"); changes.push((key(*k), Some(vec![*v]))); }
                            None => { w.delete_range(KeyRange::Single(&key(*k))).expect("delete"); changes.push((key(*k), None)); }
                        }
                    }
                    // A read inside the transaction sees its own writes.
                    let inside = w.range(KeyRange::from_request(b"\0", b"\0"), RangeOptions::default()).expect("range");
                    w.end(b"ci").expect("end");
                    model.apply(&changes);
                    assert_eq!(inside.kvs.len(), model.history.last().map_or(0, |s| s.len()));
                }
                Op::Compact(at) => {
                    let at = i64::from(at) % (model.rev() + 2);
                    let mut w = store.write().expect("write");
                    let res = w.compact(at);
                    w.end(b"ci").expect("end");
                    if at <= model.compacted {
                        assert!(matches!(res, Err(mvcc::Error::Compacted { .. })), "compact {at}");
                    } else if at > model.rev() {
                        assert!(matches!(res, Err(mvcc::Error::FutureRev { .. })), "compact {at}");
                    } else {
                        let logical = store.hash_kv(0).expect("hash before the deletions");
                        res.expect("compact").run(&store).expect("run");
                        assert_eq!(store.hash_kv(0).expect("hash after"), logical, "compaction at {at}");
                        model.compacted = at;
                    }
                }
                Op::Defrag => {
                    let before = store.hash_kv(0).expect("hash");
                    store.defragment().expect("defrag");
                    assert_eq!(store.hash_kv(0).expect("hash"), before);
                }
                Op::Reopen => {
                    let before = store.hash_kv(0).expect("hash");
                    let bytes = store.history_bytes();
                    drop(store);
                    store = open(dir.path());
                    assert_eq!(store.hash_kv(0).expect("hash"), before);
                    assert_eq!(store.history_bytes(), bytes, "the running count of history bytes is a recount");
                }
            }
            check(&store, &model);
        }
    }
}
