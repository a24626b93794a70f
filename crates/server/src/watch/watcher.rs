//! One watcher: what it watches, how far it has delivered, and the responses
//! it makes of a run of revisions. It has no task of its own; its stream's
//! task moves it forward (see the module doc of `watch`).

use std::sync::Arc;

use api::etcdserverpb::{ResponseHeader, WatchResponse};
use api::mvccpb::{Event, event::EventType};
use mvcc::{KeyRange, KeyValue, RangeOptions};
use tokio::time::Instant;

use super::outbox::Item;
use super::{Changes, Counted, RevisionChanges, WatchHub};
use crate::kv::to_pb;
use crate::member::Member;

/// What a watcher watches and how.
#[derive(Debug, Clone)]
pub(super) struct Spec {
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

pub(super) struct Watcher {
    pub spec: Spec,
    /// The first revision not yet delivered: every revision below it has
    /// been queued on the stream's outbox.
    pub next: i64,
    /// With `progress_notify`: when the next progress response is due.
    pub progress_due: Option<Instant>,
    /// Held while more than one revision behind (etcd's "unsynced").
    slow: Option<Counted>,
    _counted: Counted,
}

impl Watcher {
    pub(super) fn new(spec: Spec, counted: Counted, progress_due: Option<Instant>) -> Watcher {
        Watcher { next: spec.start_rev, spec, progress_due, slow: None, _counted: counted }
    }

    /// Counts the watcher as slow while `latest` is more than one revision
    /// ahead of it.
    pub(super) fn note_lag(&mut self, hub: &WatchHub, latest: i64) {
        if latest > self.next {
            self.slow.get_or_insert_with(|| hub.count_slow());
        } else {
            self.slow = None;
        }
    }

    /// Appends to `out` this watcher's responses for `revisions` (all of its
    /// position's next revisions up to some revision, none skipped), given
    /// that `latest` is the newest revision published.
    ///
    /// A watcher in step (`latest` is its next revision) gets one response
    /// per revision, headed by that revision. One catching up gets the events
    /// of all of `revisions` in one response headed by `latest`, as etcd's
    /// unsynced watchers do. Either may be split into fragments.
    pub(super) fn respond(&self, revisions: &[RevisionChanges], latest: i64, ctx: &Context<'_>, out: &mut Vec<Item>) {
        let replay = latest > self.next;
        let mut batches: Vec<(i64, Vec<Event>)> = Vec::new();
        for rc in revisions {
            let events = self.events_of(rc, ctx);
            if events.is_empty() {
                continue;
            }
            match batches.last_mut() {
                Some((_, batch)) if replay => batch.extend(events),
                _ => batches.push((if replay { latest } else { rc.rev }, events)),
            }
        }
        for (revision, events) in batches {
            let header = Some(ResponseHeader { revision, ..ctx.header });
            let resp = WatchResponse { header, watch_id: self.spec.id, events, ..WatchResponse::default() };
            out.extend(fragments(resp, self.spec.fragment_limit).into_iter().map(Ok));
        }
    }

    /// The events of one revision this watcher wants, with previous values if
    /// asked.
    fn events_of(&self, rc: &RevisionChanges, ctx: &Context<'_>) -> Vec<Event> {
        let spec = &self.spec;
        let range = KeyRange::from_request(&spec.key, &spec.range_end);
        let mut events = Vec::new();
        for (i, kv) in rc.changes.iter().enumerate() {
            if !range.contains(&kv.key) {
                continue;
            }
            // Compaction at C removes tombstones at or below C from the
            // backend; the in-memory window must not show more than the
            // backend would.
            let deleted = kv.version == 0;
            if (deleted && (spec.no_delete || rc.rev <= ctx.compacted)) || (!deleted && spec.no_put) {
                continue;
            }
            let prev_kv =
                if spec.prev_kv { rc.changes.prev_kv(i, || previous(ctx.member, &kv.key, rc.rev)) } else { None };
            let r#type = if deleted { EventType::Delete } else { EventType::Put } as i32;
            events.push(Event { r#type, kv: Some(kv.clone()), prev_kv });
        }
        events
    }
}

/// What every watcher of a round shares.
pub(super) struct Context<'a> {
    pub member: &'a Member,
    /// The member's header fields; each response sets its revision.
    pub header: ResponseHeader,
    pub compacted: i64,
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

/// The changes of `from..=to` from the backend, grouped by revision.
pub(super) fn history(member: &Member, from: i64, to: i64) -> mvcc::Result<Vec<RevisionChanges>> {
    let mut out: Vec<RevisionChanges> = Vec::new();
    let mut current: Vec<KeyValue> = Vec::new();
    let mut current_rev = 0;
    for kv in member.store.history(from, to)? {
        if kv.mod_revision != current_rev && !current.is_empty() {
            let changes = Arc::new(Changes::new(std::mem::take(&mut current)));
            out.push(RevisionChanges { rev: current_rev, changes });
        }
        current_rev = kv.mod_revision;
        current.push(kv);
    }
    if !current.is_empty() {
        out.push(RevisionChanges { rev: current_rev, changes: Arc::new(Changes::new(current)) });
    }
    Ok(out)
}

/// The key's value just before `rev`, if it existed and is still retained.
fn previous(member: &Member, key: &[u8], rev: i64) -> Option<api::mvccpb::KeyValue> {
    let read = member.store.read().ok()?;
    let opts = RangeOptions { rev: rev - 1, ..RangeOptions::default() };
    read.range(KeyRange::Single(key), opts).ok()?.kvs.into_iter().next().map(to_pb)
}
