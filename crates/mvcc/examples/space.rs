//! Measures the state file through a load, a full compaction and a defrag, as
//! the server drives them (issue 19):
//!
//! ```text
//! cargo run --release -p mvcc --example space -- --revisions 200000
//! ```
//!
//! Loads `--revisions` puts over `--keys` keys with `--value`-byte values, one
//! store commit per put (a sequential client), with a thread making the
//! commits durable every `--sync-ms` as `server::durable` does (0: never).
//! Then schedules a compaction at the head and runs its steps of `--batch`
//! revisions with `--pause-ms` between them (`server::compactor`), and
//! defragments. After each phase it prints the file size, the bytes in use
//! (`Backend::measure_in_use`) and redb's allocated pages.
//!
//! As `strata-bench maintenance` does, the compaction is at the head minus
//! `--retain` (default a tenth of the revisions) and `--rate` puts a second
//! (default 1000, 0 for none) run from the end of the load to the end of the
//! defrag. `--apply-batch N` commits N puts per store commit during the load
//! (the applier chains the entries of a batch). `--durable-steps` adds a
//! `Store::sync` after every compaction step. `--reader-ms N` keeps a read
//! snapshot open N ms at a time, one after another, from the compaction on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mvcc::Store;

struct Args {
    revisions: u64,
    keys: u64,
    value: usize,
    batch: usize,
    pause_ms: u64,
    sync_ms: u64,
    durable_steps: bool,
    retain: Option<u64>,
    rate: u64,
    apply_batch: u64,
    reader_ms: u64,
    dir: Option<std::path::PathBuf>,
}

fn parse() -> Args {
    let mut a = Args {
        revisions: 200_000,
        keys: 1_000,
        value: 256,
        batch: mvcc::DEFAULT_BATCH_LIMIT,
        pause_ms: 10,
        sync_ms: 1000,
        durable_steps: false,
        retain: None,
        rate: 1000,
        apply_batch: 1,
        reader_ms: 0,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--revisions" => a.revisions = val().parse().expect("--revisions"),
            "--keys" => a.keys = val().parse().expect("--keys"),
            "--value" => a.value = val().parse().expect("--value"),
            "--batch" => a.batch = val().parse().expect("--batch"),
            "--pause-ms" => a.pause_ms = val().parse().expect("--pause-ms"),
            "--sync-ms" => a.sync_ms = val().parse().expect("--sync-ms"),
            "--retain" => a.retain = Some(val().parse().expect("--retain")),
            "--rate" => a.rate = val().parse().expect("--rate"),
            "--apply-batch" => a.apply_batch = val().parse().expect("--apply-batch"),
            "--reader-ms" => a.reader_ms = val().parse().expect("--reader-ms"),
            "--dir" => a.dir = Some(val().into()),
            "--durable-steps" => a.durable_steps = true,
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

fn report(phase: &str, store: &Store, took: Duration) {
    let be = store.backend();
    let file = be.size_bytes();
    let in_use = be.measure_in_use().expect("in use");
    let pages = be.page_stats().expect("page stats");
    println!(
        "{phase:<10} file {:>10}  in use {:>10}  allocated {:>10}  history {:>10}  ({:.1?})",
        mib(file),
        mib(in_use),
        mib(pages.allocated_bytes),
        mib(store.history_bytes()),
        took
    );
}

fn main() {
    let args = parse();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let path = dir.join("state.redb");
    let _ = std::fs::remove_file(&path);
    let (store, _) = Store::open(backend::Backend::open(&path).expect("open")).expect("store");

    let stop = Arc::new(AtomicBool::new(false));
    let syncer = (args.sync_ms > 0).then(|| {
        let (store, stop) = (store.clone(), stop.clone());
        let every = Duration::from_millis(args.sync_ms);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                std::thread::sleep(every);
                store.sync().expect("sync");
            }
        })
    });

    // What the applier records with every entry: a raft_state blob.
    let ci = {
        let mut b = vec![1u8; 25];
        b.extend_from_slice(
            br#"{"log_id":{"leader_id":{"term":2,"node_id":1},"index":3},"membership":{"configs":[[1]],"nodes":{"1":{"addr":"http://127.0.0.1:2380"}}}}"#,
        );
        b
    };
    let value = vec![b'v'; args.value];
    let started = Instant::now();
    let mut i = 0;
    while i < args.revisions {
        let mut w = store.write().expect("write");
        for _ in 0..args.apply_batch.min(args.revisions - i) {
            let key = format!("key-{:08}", i % args.keys);
            w.put(key.as_bytes(), &value, 0).expect("put");
            i += 1;
            // One revision per entry, as the applier chains them.
            w = w.chain(&ci).expect("chain").1;
        }
        w.end(&ci).expect("end");
    }
    store.sync().expect("sync");
    report("load", &store, started.elapsed());

    // The steady load of the bench: `--rate` puts a second from here on.
    let load_stop = Arc::new(AtomicBool::new(false));
    let loader = (args.rate > 0).then(|| {
        let (store, stop, ci, value) = (store.clone(), load_stop.clone(), ci.clone(), value.clone());
        let (keys, every) = (args.keys, Duration::from_secs_f64(1.0 / args.rate as f64));
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut n = 0u64;
            while !stop.load(Ordering::Acquire) {
                let key = format!("key-{:08}", n % keys);
                let mut w = store.write().expect("write");
                w.put(key.as_bytes(), &value, 0).expect("put");
                w.end(&ci).expect("end");
                n += 1;
                if let Some(wait) = (every * n as u32).checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            n
        })
    });

    // A reader that keeps a snapshot open for `--reader-ms` at a time (a
    // Raft snapshot being built, a slow range), one after another.
    let reader = (args.reader_ms > 0).then(|| {
        let (store, stop) = (store.clone(), load_stop.clone());
        let hold = Duration::from_millis(args.reader_ms);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let r = store.read().expect("read");
                std::thread::sleep(hold);
                drop(r);
            }
        })
    });

    let started = Instant::now();
    let mut w = store.write().expect("write");
    let retain = args.retain.unwrap_or(args.revisions / 10) as i64;
    let mut job = w.compact(store.rev() - retain).expect("compact");
    w.end(&ci).expect("end");
    let mut steps = 0u64;
    let base = store.backend().page_stats().expect("stats").allocated_bytes;
    let mut peak = base;
    while !job.step(&store, args.batch).expect("step") {
        steps += 1;
        peak = peak.max(store.backend().page_stats().expect("stats").allocated_bytes);
        if args.durable_steps {
            store.sync().expect("sync");
        }
        std::thread::sleep(Duration::from_millis(args.pause_ms));
    }
    report("compact", &store, started.elapsed());
    println!(
        "           {} revisions deleted in {} steps; allocated {} when scheduled, peak {} (+{})",
        job.deleted(),
        steps + 1,
        mib(base),
        mib(peak),
        mib(peak - base)
    );

    let started = Instant::now();
    store.defragment().expect("defrag");
    report("defrag", &store, started.elapsed());

    load_stop.store(true, Ordering::Release);
    if let Some(r) = reader {
        r.join().expect("reader");
    }
    if let Some(l) = loader {
        println!("           {} puts during compaction and defrag", l.join().expect("loader"));
    }
    stop.store(true, Ordering::Release);
    if let Some(s) = syncer {
        s.join().expect("syncer");
    }
}
