//! A chain of write transactions is one storage commit: each keeps its own
//! revision, and readers see none of them until the last one ends.

use mvcc::{KeyRange, RangeOptions, Store};

#[test]
fn chained_transactions_commit_together_with_their_own_revisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = Store::open(backend::Backend::open(&dir.path().join("state.redb")).expect("open")).expect("store");
    let mut w = store.write().expect("write");
    w.put(b"a", b"1", 0).expect("put");
    let (first, mut w) = w.chain(b"ci-2").expect("chain");
    assert_eq!(first.rev, 2);
    assert_eq!(store.rev(), 1, "nothing is visible before the chain ends");
    w.put(b"a", b"2", 0).expect("put");
    let seen = w.range(KeyRange::Single(b"a"), RangeOptions::default()).expect("range in chain");
    assert_eq!((seen.rev, seen.kvs[0].version), (3, 2), "a later link sees the earlier ones");
    let (empty, w) = w.chain(b"ci-3").expect("chain");
    assert_eq!(empty.rev, 3);
    let last = w.end(b"ci-4").expect("end");
    assert_eq!(last.rev, 3, "a link without changes makes no revision");
    assert_eq!(store.rev(), 3);
    assert_eq!(store.consistent_index().expect("ci"), Some(b"ci-4".to_vec()));
    let r = store.read().expect("read");
    let at2 = r.range(KeyRange::Single(b"a"), RangeOptions { rev: 2, ..Default::default() }).expect("at 2");
    assert_eq!(at2.kvs[0].value, b"1");
}
