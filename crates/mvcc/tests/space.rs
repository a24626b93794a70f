//! A compaction gives space back; it must not grow the file (issue 19).
//!
//! redb reuses the pages a commit frees only after a durable commit, once no
//! reader can see them, and it doubles a file below 4 GiB whenever it needs a
//! page it does not have. Compaction batches that committed without fsync
//! kept everything they freed unusable until the next `Store::sync`, so the
//! writes and batches in between took new pages and the file doubled.
//! `crates/mvcc/examples/space.rs` measures the same at full size.

use mvcc::Store;

const VALUE: [u8; 256] = [b'v'; 256];

fn put(store: &Store, n: u64, keys: u64) {
    let mut w = store.write().expect("write");
    w.put(format!("key-{:04}", n % keys).as_bytes(), &VALUE, 0).expect("put");
    w.end(b"consistent-index").expect("end");
}

#[test]
fn a_compaction_under_writes_and_readers_does_not_grow_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = Store::open(backend::Backend::open(&dir.path().join("state.redb")).expect("open")).expect("store");
    let (revisions, keys) = (4000u64, 40u64);
    for n in 0..revisions {
        put(&store, n, keys);
    }
    store.sync().expect("sync");
    let file_before = store.backend().size_bytes();
    let allocated_before = store.backend().page_stats().expect("stats").allocated_bytes;

    // Compact away nine tenths, as the server does: batches with writes in
    // between, each batch overlapped by a reader (a range, a snapshot being
    // built), and no periodic sync (the compaction is faster than a second).
    let mut w = store.write().expect("write");
    let mut job = w.compact(store.rev() - (revisions / 10) as i64).expect("compact");
    w.end(b"consistent-index").expect("end");
    let (mut n, mut peak) = (revisions, allocated_before);
    let mut reader = store.read().expect("read");
    while !job.step(&store, 100).expect("step") {
        for _ in 0..10 {
            put(&store, n, keys);
            n += 1;
        }
        reader = store.read().expect("read");
        peak = peak.max(store.backend().page_stats().expect("stats").allocated_bytes);
    }
    drop(reader);
    let file_after = store.backend().size_bytes();
    let page = store.backend().page_stats().expect("stats").page_size;
    eprintln!("file {file_before} -> {file_after}; allocated {allocated_before}, peak {peak}");
    assert!(
        file_after as f64 <= file_before as f64 * 1.05,
        "the file grew from {file_before} to {file_after} bytes during the compaction"
    );
    // The pages the compaction freed were reused: its batches and the writes
    // among them took no more than a few pages beyond what the file held.
    assert!(
        peak <= allocated_before + 32 * page,
        "allocated {allocated_before} bytes before the compaction, {peak} at its peak"
    );
    assert!(store.backend().measure_in_use().expect("in use") < allocated_before / 4);
}
