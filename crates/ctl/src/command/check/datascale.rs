//! `check datascale [--load s|m|l|xl] [--prefix P] [--auto-compact] [--auto-defrag]`
//! (`check.go`): how much memory the first endpoint's process grows by while it takes
//! a workload's puts (512-byte keys, 512-byte values), read from its `/metrics`
//! (`process_resident_memory_bytes`) before and after.
//!
//! ```text
//! $ stratactl check datascale
//! Start data scale check for work load [10000 key-value pairs, 1024 bytes per key-value, 50 concurrent clients].
//! PASS: Approximate system memory used : 37.69 MB.
//! ```
//!
//! Workloads, messages and exit codes are etcdctl 3.6's; the puts are deleted again
//! afterwards (then compacted and defragmented on request). etcdctl's progress bar goes
//! to stderr; stratactl draws it there only on a terminal. Two differences: the
//! "clients" are concurrent requests over a few connections (see `check perf`), and
//! `/metrics` is read over plain HTTP only (an `https://` endpoint fails the read).

use super::{CONNECTIONS, key, rand_u63};
use crate::cli::GlobalFlags;
use crate::command::{Io, connect_blocking, prefix_end};
use crate::error::{CtlError, ExitCode, Result};
use crate::gosyntax::{self, quote};
use api::etcdserverpb::{CompactionRequest, DeleteRangeRequest, PutRequest, RangeRequest};
use clap::{ArgAction, Args};
use indicatif::{ProgressBar, ProgressDrawTarget};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `check datascale`'s flags.
#[derive(Args, Debug, Clone)]
pub struct DatascaleArgs {
    /// The datascale check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)
    #[arg(long, default_value = "s")]
    pub load: String,
    /// The prefix for writing the datascale check's keys.
    #[arg(long, default_value = "/etcdctl-check-datascale/")]
    pub prefix: String,
    /// Compact storage with last revision after test is finished.
    #[arg(long = "auto-compact", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub auto_compact: bool,
    /// Defragment storage after test is finished.
    #[arg(long = "auto-defrag", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", value_parser = gosyntax::parse_bool)]
    pub auto_defrag: bool,
    /// Ignored.
    #[arg(hide = true)]
    pub args: Vec<OsString>,
}

/// A workload: how many puts, and how many at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    pub puts: usize,
    pub clients: usize,
}

/// etcdctl's models and their aliases.
pub fn workload(name: &str) -> Result<Workload> {
    let (puts, clients) = match name {
        "s" | "small" => (10_000, 50),
        "m" | "medium" => (100_000, 200),
        "l" | "large" => (1_000_000, 500),
        "xl" | "xLarge" => (3_000_000, 1000),
        _ => return Err(CtlError::bad_feature(format!("unknown load option {name}"))),
    };
    Ok(Workload { puts, clients })
}

/// The key and value sizes etcdctl writes (1024 bytes per key-value).
const KEY_BYTES: usize = 512;
const VALUE_BYTES: usize = 512;

/// Runs `check datascale`.
pub async fn run(global: &GlobalFlags, a: &DatascaleArgs, io: &mut Io<'_>) -> Result<()> {
    let load = workload(&a.load)?;
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        clients.push(connect_blocking(global).await?);
    }
    let first = clients[0].clone();
    let endpoint = global.endpoints.first().cloned().unwrap_or_default();
    let prefix = a.prefix.as_bytes().to_vec();
    let probe = RangeRequest { key: prefix.clone(), range_end: prefix_end(&prefix), limit: 1, ..Default::default() };
    if !first.range(probe).await?.kvs.is_empty() {
        return Err(CtlError::invalid_input(format!(
            "prefix {} has keys. Delete with etcdctl del --prefix {} first",
            quote(&prefix),
            a.prefix
        )));
    }
    let Some(before) = resident_bytes(&endpoint, io).await else {
        return fail(io, "FAIL: Could not read process_resident_memory_bytes before the put operations.\n");
    };
    io.print(
        format!(
            "Start data scale check for work load [{} key-value pairs, {} bytes per key-value, {} concurrent clients].\n",
            load.puts,
            KEY_BYTES + VALUE_BYTES,
            load.clients
        )
        .as_bytes(),
    );
    let errors = put_all(&clients, &prefix, load).await;
    let after = resident_bytes(&endpoint, io).await;
    if after.is_none() {
        return fail(io, "FAIL: Could not read process_resident_memory_bytes after the put operations.\n");
    }
    let delete = DeleteRangeRequest { key: prefix.clone(), range_end: prefix_end(&prefix), ..Default::default() };
    let deleted = first.delete_range(delete).await?;
    if a.auto_compact {
        let revision = deleted.header.map(|h| h.revision).unwrap_or_default();
        io.print(format!("Compacting with revision {revision}\n").as_bytes());
        within_30s(first.compact(CompactionRequest { revision, physical: true })).await?;
        io.print(format!("Compacted with revision {revision}\n").as_bytes());
    }
    if a.auto_defrag {
        io.print(format!("Defragmenting {}\n", quote(endpoint.as_bytes())).as_bytes());
        within_30s(first.defragment()).await?;
        io.print(format!("Defragmented {}\n", quote(endpoint.as_bytes())).as_bytes());
    }
    if !errors.is_empty() {
        let mut text = String::from("FAIL: too many errors\n");
        for (e, n) in &errors {
            text.push_str(&format!("FAIL: ERROR({e}) -> {n}\n"));
        }
        return fail(io, &text);
    }
    let used_mb = (after.unwrap_or_default() - before) / (1024.0 * 1024.0);
    io.print(format!("PASS: Approximate system memory used : {used_mb:.2} MB.\n").as_bytes());
    Ok(())
}

fn fail(io: &mut Io<'_>, text: &str) -> Result<()> {
    io.print(text.as_bytes());
    Err(CtlError::quiet(ExitCode::Error))
}

async fn within_30s<T>(call: impl Future<Output = client::Result<T>>) -> Result<T> {
    tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .map_err(|_| CtlError::error("context deadline exceeded"))?
        .map_err(CtlError::from)
}

/// Puts `load.puts` keys under `prefix`, `load.clients` at a time; the failures by error.
async fn put_all(clients: &[client::Client], prefix: &[u8], load: Workload) -> BTreeMap<String, u64> {
    let bar = progress(load.puts as u64);
    let slots = Arc::new(tokio::sync::Semaphore::new(load.clients));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..load.puts {
        let Ok(slot) = slots.clone().acquire_owned().await else { break };
        let req =
            PutRequest { key: key(prefix, rand_u63(), KEY_BYTES), value: vec![0; VALUE_BYTES], ..Default::default() };
        let (c, bar) = (clients[i % clients.len()].clone(), bar.clone());
        tasks.spawn(async move {
            let r = c.put(req).await.map(drop).map_err(|e| e.to_string());
            bar.inc(1);
            drop(slot);
            r
        });
    }
    let mut errors = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        if let Ok(Err(e)) = r {
            *errors.entry(e).or_insert(0) += 1;
        }
    }
    bar.finish_and_clear();
    errors
}

/// A count of puts on stderr, drawn only when stderr is a terminal.
fn progress(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
}

/// The member's `process_resident_memory_bytes`, from `http://<endpoint>/metrics`; on
/// failure etcdctl's line saying why is printed and there is none.
async fn resident_bytes(endpoint: &str, io: &mut Io<'_>) -> Option<f64> {
    const KEY: &str = "process_resident_memory_bytes";
    let body = match metrics(endpoint).await {
        Ok(body) => body,
        Err(why) => {
            io.print(format!("fetch error: {why}\n").as_bytes());
            return None;
        }
    };
    let Some(value) = body.lines().find_map(|l| l.strip_prefix(KEY)) else {
        io.print(format!("could not find: {KEY}\n").as_bytes());
        return None;
    };
    match value.trim().parse::<f64>() {
        Ok(v) => Some(v),
        Err(e) => {
            io.print(format!("parse error: {e}\n").as_bytes());
            None
        }
    }
}

/// `GET /metrics` over plain HTTP/1.0; the body.
async fn metrics(endpoint: &str) -> std::result::Result<String, String> {
    let url = format!("http://{}/metrics", endpoint.trim_start_matches("http://"));
    if endpoint.starts_with("https://") {
        return Err(format!("Get {}: stratactl reads /metrics over http only", quote(endpoint.as_bytes())));
    }
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let get = async {
        let mut conn = tokio::net::TcpStream::connect(host).await?;
        conn.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).await?;
        let mut reply = Vec::new();
        conn.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(Duration::from_secs(10), get)
        .await
        .map_err(|_| format!("Get {}: timeout", quote(url.as_bytes())))?
        .map_err(|e| format!("Get {}: {e}", quote(url.as_bytes())))?;
    // Go's http.Get hands back the body whatever the status.
    let reply = String::from_utf8_lossy(&reply);
    Ok(reply.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_and_aliases() {
        assert_eq!(workload("small").expect("alias"), Workload { puts: 10_000, clients: 50 });
        assert_eq!(workload("xLarge").expect("alias"), workload("xl").expect("name"));
        let e = workload("huge").expect_err("unknown");
        assert_eq!((e.code, e.message.as_str()), (ExitCode::BadFeature, "unknown load option huge"));
    }
}
