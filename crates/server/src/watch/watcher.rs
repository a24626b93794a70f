//! One watcher: a task that delivers the changes of a key range from its
//! position on (see the module doc of `watch`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use api::etcdserverpb::{ResponseHeader, WatchResponse};
use api::mvccpb::{Event, event::EventType};
use mvcc::{KeyRange, KeyValue, RangeOptions};
use tokio::sync::mpsc;
use tonic::Status;

use super::{RevisionChanges, WatchHub};
use crate::apply::to_pb;
use crate::member::Member;

/// Revisions read from the backend per step while catching up, so one
/// watcher far behind never holds a huge batch in memory.
const CATCH_UP_REVISIONS: i64 = 1000;

/// What a watcher watches and how.
#[derive(Debug, Clone)]
pub struct Spec {
    pub id: i64,
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    /// The first revision to deliver.
    pub start_rev: i64,
    pub prev_kv: bool,
    pub no_put: bool,
    pub no_delete: bool,
    pub progress_notify: bool,
    /// With `fragment`, responses larger than this are split (etcd:
    /// `--max-request-bytes` + 512 KiB).
    pub fragment_limit: Option<usize>,
}

pub type Outbox = mpsc::Sender<Result<WatchResponse, Status>>;

/// Runs until the stream goes away, the watcher is compacted, or the task is
/// aborted (cancel). `position` is published for progress requests: every
/// revision below it has been delivered (queued on `out`).
pub async fn run(
    spec: Spec,
    member: Arc<Member>,
    hub: Arc<WatchHub>,
    out: Outbox,
    position: Arc<AtomicI64>,
    progress_every: Duration,
) {
    let mut rev_rx = hub.subscribe();
    let mut next = spec.start_rev;
    position.store(next, Ordering::Release);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + progress_every, progress_every);
    // Held while more than one revision behind (etcd's "unsynced").
    let mut slow = None;
    loop {
        let latest = *rev_rx.borrow_and_update();
        if next <= latest {
            if latest > next && slow.is_none() {
                slow = Some(hub.count_slow());
            }
            let compacted = member.store.compact_rev();
            if next < compacted {
                let mut header = None;
                member.fill_header(&mut header);
                let resp = WatchResponse {
                    header,
                    watch_id: spec.id,
                    canceled: true,
                    compact_revision: compacted,
                    ..WatchResponse::default()
                };
                let _ = out.send(Ok(resp)).await;
                return;
            }
            let to = latest.min(next.saturating_add(CATCH_UP_REVISIONS - 1));
            let revisions = match changes(&member, &hub, next, to) {
                Ok(r) => r,
                Err(mvcc::Error::Compacted { .. }) => continue,
                Err(e) => {
                    tracing::error!(error = %e, watch_id = spec.id, "watcher cannot read history");
                    let _ = out.send(Err(Status::internal(e.to_string()))).await;
                    return;
                }
            };
            // Catching up (more than one revision pending) sends the events of
            // up to CATCH_UP_REVISIONS revisions in one response with the
            // current revision in its header, as etcd's unsynced watchers do;
            // a watcher in step gets one response per revision, headed by it.
            let replay = latest > next;
            let mut batches: Vec<(i64, Vec<Event>)> = Vec::new();
            for rc in revisions {
                let events = events_of(&spec, &member, &rc);
                if events.is_empty() {
                    continue;
                }
                match batches.last_mut() {
                    Some((_, batch)) if replay => batch.extend(events),
                    _ => batches.push((if replay { latest } else { rc.rev }, events)),
                }
            }
            for (revision, events) in batches {
                let mut header = Some(ResponseHeader { revision, ..Default::default() });
                member.fill_header(&mut header);
                let resp = WatchResponse { header, watch_id: spec.id, events, ..WatchResponse::default() };
                for part in fragments(resp, spec.fragment_limit) {
                    if out.send(Ok(part)).await.is_err() {
                        return;
                    }
                }
            }
            next = to + 1;
            position.store(next, Ordering::Release);
            continue;
        }
        slow = None;
        tokio::select! {
            changed = rev_rx.changed() => if changed.is_err() { return },
            _ = ticker.tick(), if spec.progress_notify => {
                let mut header = Some(ResponseHeader { revision: member.store.rev(), ..Default::default() });
                member.fill_header(&mut header);
                if out.send(Ok(WatchResponse { header, watch_id: spec.id, ..WatchResponse::default() })).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Splits a response whose encoding exceeds `limit` into several, each but the
/// last flagged `fragment`, each holding at least one event (etcd's
/// `sendFragments`). Without a limit the response goes whole.
fn fragments(resp: WatchResponse, limit: Option<usize>) -> Vec<WatchResponse> {
    use prost::Message;
    let Some(limit) = limit else { return vec![resp] };
    if resp.encoded_len() <= limit || resp.events.len() < 2 {
        return vec![resp];
    }
    let template = WatchResponse { events: Vec::new(), ..resp.clone() };
    let mut parts = Vec::new();
    let mut current = template.clone();
    for event in resp.events {
        let size = current.encoded_len() + event.encoded_len() + 8;
        if !current.events.is_empty() && size > limit {
            current.fragment = true;
            parts.push(std::mem::replace(&mut current, template.clone()));
        }
        current.events.push(event);
    }
    parts.push(current);
    parts
}

/// The changes of `from..=to`, grouped by revision.
fn changes(member: &Member, hub: &WatchHub, from: i64, to: i64) -> mvcc::Result<Vec<RevisionChanges>> {
    let from = from.max(1);
    if let Some(recent) = hub.recent(from, to) {
        return Ok(recent);
    }
    let mut out: Vec<RevisionChanges> = Vec::new();
    let mut current: Vec<KeyValue> = Vec::new();
    let mut current_rev = 0;
    for kv in member.store.history(from, to)? {
        if kv.mod_revision != current_rev && !current.is_empty() {
            out.push(RevisionChanges { rev: current_rev, changes: Arc::new(std::mem::take(&mut current)) });
        }
        current_rev = kv.mod_revision;
        current.push(kv);
    }
    if !current.is_empty() {
        out.push(RevisionChanges { rev: current_rev, changes: Arc::new(current) });
    }
    Ok(out)
}

/// The events of one revision this watcher wants, with previous values if asked.
fn events_of(spec: &Spec, member: &Member, rc: &RevisionChanges) -> Vec<Event> {
    let range = KeyRange::from_request(&spec.key, &spec.range_end);
    // Compaction at C removes tombstones at or below C from the backend; the
    // in-memory window must not show more than the backend would.
    let compacted = member.store.compact_rev();
    rc.changes
        .iter()
        .filter(|kv| range.contains(&kv.key))
        .filter_map(|kv| {
            let deleted = kv.version == 0;
            if (deleted && (spec.no_delete || rc.rev <= compacted)) || (!deleted && spec.no_put) {
                return None;
            }
            let prev_kv = if spec.prev_kv { previous(member, &kv.key, rc.rev) } else { None };
            let r#type = if deleted { EventType::Delete } else { EventType::Put } as i32;
            Some(Event { r#type, kv: Some(to_pb(kv.clone())), prev_kv })
        })
        .collect()
}

/// The key's value just before `rev`, if it existed and is still retained.
fn previous(member: &Member, key: &[u8], rev: i64) -> Option<api::mvccpb::KeyValue> {
    let read = member.store.read().ok()?;
    let opts = RangeOptions { rev: rev - 1, ..RangeOptions::default() };
    read.range(KeyRange::Single(key), opts).ok()?.kvs.into_iter().next().map(to_pb)
}
