//! Data-driven watch tests: scripts of writes, compactions and watchers with
//! the event streams they must produce, in `testdata/watch/*.script` /
//! `*.out`. `UPDATE_EXPECT=1 cargo test -p strata --test e2e watch_scripts`
//! rewrites the expectations after a deliberate change; review the diff.
//!
//! Commands: `put K V`, `del K [END]`, `txn put K V; put K V; del K`,
//! `compact REV`, `watch NAME KEY [END] [rev=N] [prev_kv] [noput] [nodelete]`
//! (END `\0` = from KEY on), `cancel NAME`, `events NAME` (prints what NAME
//! received since the last `events`, after a progress request has drained it).

use std::collections::BTreeMap;
use std::fmt::Write;

use etcd_client::{DeleteOptions, EventType, Txn, TxnOp, WatchFilterType, WatchOptions, WatchResponse, WatchStream};
use expect_test::expect_file;

use crate::support::next_watch_response;
use crate::{client, strata};

fn show(out: &mut String, resp: &WatchResponse) {
    if resp.canceled() {
        let _ =
            writeln!(out, "  canceled compact_revision={} reason={:?}", resp.compact_revision(), resp.cancel_reason());
        return;
    }
    let _ = writeln!(out, "  response header_rev={}", resp.header().map_or(0, |h| h.revision()));
    for e in resp.events() {
        let kv = e.kv().expect("kv");
        let kind = if e.event_type() == EventType::Put { "PUT" } else { "DELETE" };
        let prev = e.prev_kv().map(|p| format!(" prev={}", p.value_str().unwrap_or(""))).unwrap_or_default();
        let _ = writeln!(
            out,
            "    {kind} {}={} mod={} create={} ver={}{prev}",
            kv.key_str().unwrap_or(""),
            kv.value_str().unwrap_or(""),
            kv.mod_revision(),
            kv.create_revision(),
            kv.version()
        );
    }
}

async fn run(script: &str) -> String {
    let m = strata(&[]);
    let mut c = client(&m).await;
    let mut watchers: BTreeMap<String, WatchStream> = BTreeMap::new();
    let mut out = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let _ = writeln!(out, "> {line}");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["put", k, v] => {
                c.put(*k, *v, None).await.expect("put");
            }
            ["del", k] => {
                c.delete(*k, None).await.expect("del");
            }
            ["del", k, end] => {
                c.delete(*k, Some(DeleteOptions::new().with_range(*end))).await.expect("del");
            }
            ["txn", ..] => {
                let ops: Vec<TxnOp> = line["txn".len()..]
                    .split(';')
                    .map(|op| match op.split_whitespace().collect::<Vec<_>>().as_slice() {
                        ["put", k, v] => TxnOp::put(*k, *v, None),
                        ["del", k] => TxnOp::delete(*k, None),
                        other => panic!("unknown txn op {other:?}"),
                    })
                    .collect();
                c.txn(Txn::new().and_then(ops)).await.expect("txn");
            }
            ["compact", rev] => {
                c.compact(rev.parse::<i64>().expect("rev"), None).await.expect("compact");
            }
            ["watch", name, key, rest @ ..] => {
                let mut opts = WatchOptions::new();
                for w in rest {
                    opts = match *w {
                        "prev_kv" => opts.with_prev_key(),
                        "noput" => opts.with_filters([WatchFilterType::NoPut]),
                        "nodelete" => opts.with_filters([WatchFilterType::NoDelete]),
                        w if w.starts_with("rev=") => opts.with_start_revision(w[4..].parse().expect("rev")),
                        "\\0" => opts.with_from_key(),
                        end => opts.with_range(end),
                    };
                }
                let mut stream = c.watch(*key, Some(opts)).await.expect("watch");
                let created = next_watch_response(&mut stream).await;
                let _ = writeln!(
                    out,
                    "  created id={} header_rev={}",
                    created.watch_id(),
                    created.header().map_or(0, |h| h.revision())
                );
                watchers.insert(name.to_string(), stream);
            }
            ["events", name] => {
                let stream = watchers.get_mut(*name).expect("known watcher");
                stream.request_progress().await.expect("progress");
                loop {
                    let resp = next_watch_response(stream).await;
                    if resp.watch_id() == -1 && resp.events().is_empty() && !resp.canceled() {
                        break;
                    }
                    show(&mut out, &resp);
                }
            }
            other => panic!("unknown command {other:?}"),
        }
    }
    out
}

#[tokio::test]
async fn history_replay_and_live() {
    let script = std::fs::read_to_string("tests/e2e/testdata/watch/history.script").expect("script");
    expect_file!["testdata/watch/history.out"].assert_eq(&run(&script).await);
}

#[tokio::test]
async fn compaction_and_filters() {
    let script = std::fs::read_to_string("tests/e2e/testdata/watch/compaction.script").expect("script");
    expect_file!["testdata/watch/compaction.out"].assert_eq(&run(&script).await);
}
