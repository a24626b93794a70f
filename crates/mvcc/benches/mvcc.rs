//! Criterion benchmarks of the store alone: put (one txn per put, as the
//! apply loop does) and single-key and prefix range reads.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mvcc::{KeyRange, RangeOptions, Store};

fn store_with(keys: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = Store::open(backend::Backend::open(&dir.path().join("state.redb")).expect("open")).expect("store");
    let mut w = store.write().expect("write");
    for i in 0..keys {
        w.put(format!("key/{i:08}").as_bytes(), &[7u8; 256], 0).expect("put");
    }
    w.end(b"").expect("end");
    (dir, store)
}

fn put(c: &mut Criterion) {
    let (_dir, store) = store_with(10_000);
    let value = [1u8; 256];
    let mut i = 0u64;
    c.bench_function("put 256B value, 10k keys", |b| {
        b.iter(|| {
            i += 1;
            let mut w = store.write().expect("write");
            w.put(format!("key/{:08}", i % 10_000).as_bytes(), &value, 0).expect("put");
            w.end(b"consistent-index").expect("end")
        })
    });
}

fn range(c: &mut Criterion) {
    let (_dir, store) = store_with(10_000);
    c.bench_function("range single key, 10k keys", |b| {
        b.iter(|| {
            store
                .read()
                .expect("read")
                .range(KeyRange::Single(b"key/00005000"), RangeOptions::default())
                .expect("range")
        })
    });
    c.bench_function("range prefix of 100 keys, 10k keys", |b| {
        b.iter_batched(
            || (),
            |_| {
                store
                    .read()
                    .expect("read")
                    .range(KeyRange::from_request(b"key/000051", b"key/000052"), RangeOptions::default())
                    .expect("range")
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, put, range);
criterion_main!(benches);
