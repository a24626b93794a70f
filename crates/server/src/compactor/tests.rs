use backend::fault::FaultyDisk;

use super::*;

/// A store on a simulated disk with 300 revisions over 10 keys, and a
/// compaction scheduled at 250 (its index part done, its job returned).
fn compacting() -> (FaultyDisk, Store, Compaction) {
    let disk = FaultyDisk::new();
    let (store, _) = Store::open(backend::Backend::open_on(disk.clone()).expect("open")).expect("store");
    for i in 0..300 {
        let mut w = store.write().expect("write");
        w.put(format!("k{}", i % 10).as_bytes(), b"v", 0).expect("put");
        w.end(b"ci").expect("end");
    }
    let mut w = store.write().expect("write");
    let job = w.compact(250).expect("compact");
    w.end(b"ci").expect("end");
    (disk, store, job)
}

async fn run_one(store: Store, job: Compaction) -> (Result<(), TaskError>, i64) {
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(job).expect("queue");
    drop(tx);
    let (finished, seen) = watch::channel(0);
    let ran = tokio::time::timeout(Duration::from_secs(10), run(store, Arc::new(Mutex::new(rx)), finished, 10)).await;
    (ran.expect("the compactor ends"), *seen.borrow())
}

#[tokio::test]
async fn a_compaction_runs_in_batches_and_reports_its_revision() {
    let (_, store, job) = compacting();
    let before = store.history_bytes();
    let (ran, finished) = run_one(store.clone(), job).await;
    assert_eq!(ran, Ok(()));
    assert_eq!(finished, 250);
    // 300 records before; 10 kept at 250 and the 50 after it remain (records
    // differ a little in size: their revisions and versions are varints).
    let after = store.history_bytes();
    assert!(after * 4 < before && after * 6 > before, "{before} bytes of history before, {after} after");
}

/// The backend fails the compaction's final, durable commit: the compactor
/// stops as fatal (the member then stops and resumes the job at its next
/// start) and never reports the compaction finished.
#[tokio::test]
async fn a_backend_that_fails_under_the_compactor_is_fatal() {
    let (disk, store, job) = compacting();
    disk.fail_sync(disk.syncs());
    let (ran, finished) = run_one(store, job).await;
    assert!(matches!(ran, Err(TaskError::Fatal(ref m)) if m.contains("backend")), "{ran:?}");
    assert_eq!(finished, 0, "a failed compaction is not reported finished");
}
