//! Data-driven tests: small scripts of store operations with their expected
//! output in `testdata/*.out`. `UPDATE_EXPECT=1 cargo test -p mvcc --test
//! scripts` rewrites the expectations after a deliberate change; review the diff.
//!
//! Commands: `put KEY VALUE`, `delete KEY [END]`, `txn OP; OP; …` (ops `put K V`,
//! `delete K`, `range K END`), `range KEY [END] [rev=N] [limit=N]`,
//! `compact REV`, `reopen`.

use std::fmt::Write;
use std::path::Path;

use expect_test::expect_file;
use mvcc::{KeyRange, RangeOptions, Store, TxnWrite};

fn open(dir: &Path) -> Store {
    let be = backend::Backend::open(&dir.join("state.redb")).expect("open");
    let (store, resume) = Store::open(be).expect("open store");
    if let Some(job) = resume {
        job.run(&store).expect("resume");
    }
    store
}

fn range_of<'a>(args: &[&'a str]) -> KeyRange<'a> {
    match args {
        [k] => KeyRange::Single(k.as_bytes()),
        [k, end, ..] if !end.contains('=') => KeyRange::from_request(k.as_bytes(), end.as_bytes()),
        [k, ..] => KeyRange::Single(k.as_bytes()),
        [] => KeyRange::from_request(b"\0", b"\0"),
    }
}

fn opts(args: &[&str]) -> RangeOptions {
    let mut o = RangeOptions::default();
    for a in args {
        if let Some(v) = a.strip_prefix("rev=") {
            o.rev = v.parse().expect("rev");
        }
        if let Some(v) = a.strip_prefix("limit=") {
            o.limit = v.parse().expect("limit");
        }
    }
    o
}

fn show(out: &mut String, r: mvcc::Result<mvcc::RangeResult>) {
    match r {
        Ok(r) => {
            let _ = writeln!(out, "  rev={} count={}", r.rev, r.count);
            for kv in r.kvs {
                let _ = writeln!(
                    out,
                    "  {}={} create={} mod={} ver={}",
                    String::from_utf8_lossy(&kv.key),
                    String::from_utf8_lossy(&kv.value),
                    kv.create_revision,
                    kv.mod_revision,
                    kv.version
                );
            }
        }
        Err(e) => {
            let _ = writeln!(out, "  error: {e}");
        }
    }
}

fn op(w: &mut TxnWrite<'_>, out: &mut String, words: &[&str]) {
    match words {
        ["put", k, v] => {
            let rev = w.put(k.as_bytes(), v.as_bytes(), 0).expect("put");
            let _ = writeln!(out, "  put {k} -> rev {rev}");
        }
        ["delete", rest @ ..] => {
            let (n, rev) = w.delete_range(range_of(rest)).expect("delete");
            let _ = writeln!(out, "  deleted {n} -> rev {rev}");
        }
        ["range", rest @ ..] => show(out, w.range(range_of(rest), opts(rest))),
        other => panic!("unknown op {other:?}"),
    }
}

fn run(script: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(dir.path());
    let mut out = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let _ = writeln!(out, "> {line}");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["range", rest @ ..] => show(&mut out, store.read().expect("read").range(range_of(rest), opts(rest))),
            ["compact", rev] => {
                let mut w = store.write().expect("write");
                let res = w.compact(rev.parse().expect("rev"));
                w.end(b"").expect("end");
                match res {
                    Ok(job) => {
                        let n = job.run(&store).expect("run");
                        let _ = writeln!(out, "  compacted, {n} revisions deleted");
                    }
                    Err(e) => {
                        let _ = writeln!(out, "  error: {e}");
                    }
                }
            }
            ["reopen"] => {
                drop(store);
                store = open(dir.path());
                let _ = writeln!(out, "  rev={} compact_rev={}", store.rev(), store.compact_rev());
            }
            ["txn", ..] => {
                let mut w = store.write().expect("write");
                for part in line["txn".len()..].split(';') {
                    let words: Vec<&str> = part.split_whitespace().collect();
                    op(&mut w, &mut out, &words);
                }
                let c = w.end(b"").expect("end");
                let _ = writeln!(out, "  committed rev {} with {} changes", c.rev, c.changes.len());
            }
            words => {
                let mut w = store.write().expect("write");
                op(&mut w, &mut out, words);
                w.end(b"").expect("end");
            }
        }
    }
    out
}

#[test]
fn revisions_and_tombstones() {
    let script = std::fs::read_to_string("tests/testdata/revisions.script").expect("script");
    expect_file!["testdata/revisions.out"].assert_eq(&run(&script));
}

#[test]
fn compaction() {
    let script = std::fs::read_to_string("tests/testdata/compaction.script").expect("script");
    expect_file!["testdata/compaction.out"].assert_eq(&run(&script));
}
