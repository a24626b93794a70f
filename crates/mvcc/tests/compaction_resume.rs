//! A compaction interrupted after its first batch resumes when the store reopens.

use mvcc::{KeyRange, RangeOptions, Store};

#[test]
fn interrupted_compaction_resumes_on_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.redb");
    {
        let (store, resume) = Store::open(backend::Backend::open(&path).expect("open")).expect("store");
        assert!(resume.is_none());
        for i in 0..50 {
            let mut w = store.write().expect("write");
            w.put(b"k", format!("v{i}").as_bytes(), 0).expect("put");
            w.end(b"").expect("end");
        }
        let mut w = store.write().expect("write");
        let mut job = w.compact(40).expect("compact");
        w.end(b"").expect("end");
        // One batch of 5 revisions, then the process "dies".
        assert!(!job.step(&store, 5).expect("step"));
        store.sync().expect("sync");
    }
    let (store, resume) = Store::open(backend::Backend::open(&path).expect("reopen")).expect("store");
    let job = resume.expect("the unfinished compaction is handed back");
    assert_eq!(job.rev(), 40);
    assert_eq!(store.compact_rev(), 40, "reads below the compaction fail at once");
    let deleted = job.run(&store).expect("resume");
    assert_eq!(deleted, 38 - 5, "revisions 2..=39 go, minus the first batch");
    let r = store.read().expect("read").range(KeyRange::Single(b"k"), RangeOptions { rev: 40, ..Default::default() });
    assert_eq!(r.expect("read at 40").kvs[0].value, b"v38");
    drop(store);
    let (_, resume) = Store::open(backend::Backend::open(&path).expect("reopen")).expect("store");
    assert!(resume.is_none(), "finished compactions are not resumed");
}
