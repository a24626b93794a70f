//! One watch stream: a task that owns the stream's watchers, answers the
//! client's requests (read for it by a small task of their own) and delivers
//! the watchers' events (see the module doc of `watch`).

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use api::etcdserverpb::watch_request::RequestUnion;
use api::etcdserverpb::{ResponseHeader, WatchCreateRequest, WatchRequest, WatchResponse};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::{Status, Streaming};

use super::outbox::{Item, Outbox};
use super::watcher::{self, Context, Spec, Watcher};
use super::{Counted, WatchHub, Window};
use crate::error::EtcdError;
use crate::member::Member;

/// Revisions one catching-up watcher reads per round, so that a watcher far
/// behind never holds a huge batch in memory nor its stream's other watchers
/// up for long.
const CATCH_UP_REVISIONS: i64 = 1000;
/// How often a require-leader stream checks that there is a leader.
const LEADER_CHECK: Duration = Duration::from_millis(500);
/// Requests read ahead of the stream's task.
const REQUEST_BUFFER: usize = 16;
const FILTER_NOPUT: i32 = 0;
const FILTER_NODELETE: i32 = 1;

/// The state of one client stream.
pub(super) struct WatchStream {
    credentials: Credentials,
    /// Who created the stream's watchers (auth enabled), and the auth
    /// revision their permissions were last checked at.
    user: Option<String>,
    auth_checked: u64,
    member: Arc<Member>,
    hub: Arc<WatchHub>,
    out: Outbox,
    progress_every: Duration,
    /// clientv3's WithRequireLeader: the stream must not outlive the leader.
    require_leader: bool,
    watchers: BTreeMap<i64, Watcher>,
    next_id: i64,
    /// The watcher a round starts with: the one after where the last round
    /// ran out of room, so that a slow client's watchers take turns.
    resume_at: i64,
    /// The revisions of progress requests not answered yet, in order.
    progress_requests: VecDeque<i64>,
    _counted: Counted,
}

/// What a round left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Backlog {
    /// Every watcher is at the latest revision.
    None,
    /// Some watcher is behind: another round, right away.
    More,
    /// Some watcher is behind and the outbox is full: wait for the client.
    Full,
}

/// The token metadata and connection a stream was opened with: who creates
/// its watchers.
pub(super) type Credentials = (tonic::metadata::MetadataMap, Option<crate::tls::ClientInfo>);

/// What woke the stream's task.
enum Wake {
    Request(Option<Box<WatchRequest>>),
    Published,
    Room,
    Again,
    ProgressDue,
    LeaderCheck,
    Gone,
}

impl WatchStream {
    pub(super) fn new(
        member: Arc<Member>,
        hub: Arc<WatchHub>,
        out: Outbox,
        progress_every: Duration,
        require_leader: bool,
        credentials: Credentials,
    ) -> WatchStream {
        let auth_checked = member.auth.revision();
        WatchStream {
            _counted: hub.count_stream(),
            credentials,
            user: None,
            auth_checked,
            member,
            hub,
            out,
            progress_every,
            require_leader,
            watchers: BTreeMap::new(),
            next_id: 0,
            resume_at: 0,
            progress_requests: VecDeque::new(),
        }
    }

    /// Serves the stream until the client closes it or goes away; every
    /// watcher ends with it.
    pub(super) async fn serve(mut self, inbound: Streaming<WatchRequest>) {
        let mut requests = read_requests(inbound);
        let mut published = self.hub.subscribe();
        let mut leader_check = tokio::time::interval_at(Instant::now() + LEADER_CHECK, LEADER_CHECK);
        let progress_timer = tokio::time::sleep_until(Instant::now());
        tokio::pin!(progress_timer);
        loop {
            if !self.recheck_permissions().await {
                return;
            }
            let latest = *published.borrow_and_update();
            let backlog = match self.round(latest) {
                Ok(backlog) => backlog,
                Err(()) => return,
            };
            let progress_due = self.progress_due(latest);
            if let Some(due) = progress_due {
                progress_timer.as_mut().reset(due);
            }
            let wake = tokio::select! {
                biased;
                req = requests.recv() => Wake::Request(req),
                changed = published.changed() => if changed.is_ok() { Wake::Published } else { Wake::Gone },
                room = self.out.wait_room(), if backlog == Backlog::Full => if room { Wake::Room } else { Wake::Gone },
                _ = tokio::task::yield_now(), if backlog == Backlog::More => Wake::Again,
                _ = &mut progress_timer, if progress_due.is_some() => Wake::ProgressDue,
                _ = leader_check.tick(), if self.require_leader => Wake::LeaderCheck,
            };
            let go_on = match wake {
                Wake::Request(Some(req)) => self.handle(*req).await,
                Wake::Request(None) | Wake::Gone => false,
                Wake::Published | Wake::Room | Wake::Again => true,
                Wake::ProgressDue => self.notify_progress(latest).await,
                Wake::LeaderCheck if self.member.raft.leader().is_some() => true,
                Wake::LeaderCheck => {
                    self.out.push(vec![Err(Status::unavailable("etcdserver: no leader"))]);
                    false
                }
            };
            if !go_on {
                // No watcher outlives its stream.
                return;
            }
        }
    }

    fn header(&self, revision: i64) -> Option<ResponseHeader> {
        let mut h = Some(ResponseHeader { revision, ..ResponseHeader::default() });
        self.member.fill_header(&mut h);
        h
    }

    async fn handle(&mut self, req: WatchRequest) -> bool {
        match req.request_union {
            Some(RequestUnion::CreateRequest(c)) => self.create(c).await,
            Some(RequestUnion::CancelRequest(c)) => self.cancel(c.watch_id).await,
            // The progress response goes out once every watcher of the
            // stream has delivered everything up to the revision it
            // reports, so it never overtakes an event (`round`).
            Some(RequestUnion::ProgressRequest(_)) => {
                self.progress_requests.push_back(self.member.store.rev());
                true
            }
            None => true,
        }
    }

    async fn create(&mut self, mut c: WatchCreateRequest) -> bool {
        if c.key.is_empty() {
            // etcd: "\x00 is the smallest key".
            c.key = vec![0];
        }
        let current = self.member.store.rev();
        let header = self.header(current);
        let refuse = |reason: &str| WatchResponse {
            header,
            watch_id: -1,
            created: true,
            canceled: true,
            cancel_reason: reason.to_string(),
            ..WatchResponse::default()
        };
        // etcd 3.4.38+/3.5.24+/3.6.6+, before the permission check.
        if c.start_revision < 0 {
            return self.out.send(refuse(&EtcdError::Compacted.to_string())).await;
        }
        // Checked at creation, with the credentials the stream opened with.
        let permitted = crate::credentials::from_parts(&self.member, &self.credentials.0, self.credentials.1.as_ref())
            .await
            .and_then(|user| {
                self.member.auth.check_range(user.as_ref(), &c.key, &c.range_end)?;
                Ok(user)
            });
        match permitted {
            Ok(Some(user)) => self.user = Some(user.username),
            Ok(None) => {}
            Err(e) => {
                let reason = match e {
                    EtcdError::InvalidAuthToken | EtcdError::AuthOldRevision | EtcdError::UserEmpty => e.to_string(),
                    _ => EtcdError::PermissionDenied.to_string(),
                };
                return self.out.send(refuse(&reason)).await;
            }
        }
        let empty_range = !c.range_end.is_empty() && c.range_end != [0] && c.key >= c.range_end;
        if empty_range {
            return self.out.send(refuse("mvcc: watcher range is empty")).await;
        }
        let id = if c.watch_id == 0 {
            while self.watchers.contains_key(&self.next_id) {
                self.next_id += 1;
            }
            self.next_id
        } else {
            c.watch_id
        };
        if self.watchers.contains_key(&id) {
            return self.out.send(refuse("mvcc: duplicate watch ID provided on the WatchStream")).await;
        }
        let spec = Spec {
            id,
            key: c.key,
            range_end: c.range_end,
            // 0 means "from now on".
            start_rev: if c.start_revision == 0 { current + 1 } else { c.start_revision },
            prev_kv: c.prev_kv,
            no_put: c.filters.contains(&FILTER_NOPUT),
            no_delete: c.filters.contains(&FILTER_NODELETE),
            progress_notify: c.progress_notify,
            fragment_limit: c.fragment.then_some(self.member.limits.max_request_bytes + 512 * 1024),
        };
        let created = WatchResponse { header: self.header(current), watch_id: id, created: true, ..Default::default() };
        if !self.out.send(created).await {
            return false;
        }
        let progress_due = spec.progress_notify.then(|| Instant::now() + self.progress_every);
        self.watchers.insert(id, Watcher::new(spec, self.hub.count_watcher(), progress_due));
        true
    }

    /// After an auth change (a new auth revision), ends the watchers whose
    /// user may no longer read their keys, with etcd's refusal reason
    /// (`--strata-auth-revoke-cancels-watches`; etcd keeps serving them).
    /// The token the stream opened with is not asked again: it may have
    /// expired while the watch ran; the user it named is.
    async fn recheck_permissions(&mut self) -> bool {
        let auth = &self.member.auth;
        if !self.member.revoke_cancels_watches || self.watchers.is_empty() || auth.revision() == self.auth_checked {
            return true;
        }
        self.auth_checked = auth.revision();
        let user = self.user.clone().map(|username| auth::AuthInfo { username, revision: u64::MAX });
        let lost: Vec<i64> = self
            .watchers
            .iter()
            .filter(|(_, w)| auth.check_range(user.as_ref(), &w.spec.key, &w.spec.range_end).is_err())
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            self.watchers.remove(&id);
            let current = self.member.store.rev();
            tracing::info!(watch_id = id, user = ?self.user, "permission revoked; canceling the watch");
            let resp = WatchResponse {
                header: self.header(current),
                watch_id: id,
                canceled: true,
                cancel_reason: EtcdError::PermissionDenied.to_string(),
                ..Default::default()
            };
            if !self.out.send(resp).await {
                return false;
            }
        }
        true
    }

    async fn cancel(&mut self, id: i64) -> bool {
        if self.watchers.remove(&id).is_none() {
            return true;
        }
        let current = self.member.store.rev();
        self.out
            .send(WatchResponse { header: self.header(current), watch_id: id, canceled: true, ..Default::default() })
            .await
    }

    /// Moves every watcher behind `latest` forward by one step (one revision
    /// for a watcher in step, up to `CATCH_UP_REVISIONS` for one catching up)
    /// as far as the outbox has room, then answers the progress requests
    /// this made answerable; queues all of it with one send. `Err` once the
    /// stream is over.
    fn round(&mut self, latest: i64) -> Result<Backlog, ()> {
        let mut batch = Vec::new();
        let backlog = match self.deliver(latest, &mut batch) {
            Ok(backlog) => backlog,
            Err(status) => {
                batch.push(Err(status));
                self.out.push(batch);
                return Err(());
            }
        };
        // etcd 3.6 answers a progress request only while every watcher of
        // the stream is synced (`progressIfSync`), reporting the current
        // revision: each has delivered every event up to it, and none starts
        // after it (a report below a watcher's explicit start would move the
        // client backwards). Unlike etcd, which drops a request made while a
        // watcher is behind, Strata answers it once they are in step.
        while let Some(&target) = self.progress_requests.front() {
            let synced = self.watchers.values().all(|w| w.next > latest && w.spec.start_rev <= latest + 1);
            if latest < target || !synced {
                break;
            }
            self.progress_requests.pop_front();
            batch.push(Ok(WatchResponse { header: self.header(latest), watch_id: -1, ..WatchResponse::default() }));
        }
        if self.out.push(batch) { Ok(backlog) } else { Err(()) }
    }

    fn deliver(&mut self, latest: i64, batch: &mut Vec<Item>) -> Result<Backlog, Status> {
        let Some(from) = self.watchers.values().map(|w| w.next).filter(|&next| next <= latest).min() else {
            return Ok(Backlog::None);
        };
        let member = self.member.clone();
        let mut round = Round {
            hub: &self.hub,
            ctx: Context {
                member: &member,
                header: self.header(0).unwrap_or_default(),
                compacted: member.store.compact_rev(),
            },
            window: self.hub.window(from.max(1), latest),
            latest,
            room: self.out.room(),
            batch,
            backlog: Backlog::None,
            compacted: Vec::new(),
            full_at: None,
        };
        let start = self.resume_at;
        for (&id, w) in self.watchers.range_mut(start..) {
            round.step(id, w)?;
        }
        for (&id, w) in self.watchers.range_mut(..start) {
            round.step(id, w)?;
        }
        let (backlog, full_at) = (round.backlog, round.full_at);
        for id in std::mem::take(&mut round.compacted) {
            self.watchers.remove(&id);
        }
        if let Some(id) = full_at {
            self.resume_at = id;
        }
        Ok(backlog)
    }

    /// The earliest progress notification due to a watcher in step.
    fn progress_due(&self, latest: i64) -> Option<Instant> {
        self.watchers.values().filter(|w| w.next > latest).filter_map(|w| w.progress_due).min()
    }

    /// Sends the progress notifications that are due to watchers in step
    /// (a watcher behind gets its own once it is in step again).
    async fn notify_progress(&mut self, latest: i64) -> bool {
        let now = Instant::now();
        let header = self.header(self.member.store.rev());
        let mut batch = Vec::new();
        for (&id, w) in self.watchers.iter_mut().filter(|(_, w)| w.next > latest) {
            let Some(due) = w.progress_due.filter(|due| *due <= now) else { continue };
            // Missed notifications are skipped, not sent in a burst.
            let next_due = Some(due + self.progress_every).filter(|d| *d > now).unwrap_or(now + self.progress_every);
            w.progress_due = Some(next_due);
            batch.push(Ok(WatchResponse { header, watch_id: id, ..WatchResponse::default() }));
        }
        self.out.wait_room().await && self.out.push(batch)
    }
}

/// The client's requests, read by a task of their own until the client
/// closes its side or goes away (the channel then ends) or the stream is over.
/// Polling the HTTP/2 stream takes the connection's lock, which the stream's
/// task, woken on every published revision, would otherwise take every time.
/// (Boxed: the channel allocates its slots up front, 32 at a time.)
fn read_requests(mut inbound: Streaming<WatchRequest>) -> mpsc::Receiver<Box<WatchRequest>> {
    let (tx, rx) = mpsc::channel(REQUEST_BUFFER);
    tokio::spawn(async move {
        loop {
            let req = tokio::select! {
                req = inbound.next() => req,
                _ = tx.closed() => return,
            };
            let Some(Ok(req)) = req else { return };
            if tx.send(Box::new(req)).await.is_err() {
                return;
            }
        }
    });
    rx
}

/// One round of deliveries: what its watchers share and what it produced.
struct Round<'a> {
    hub: &'a WatchHub,
    ctx: Context<'a>,
    window: Window,
    latest: i64,
    /// How many responses the outbox takes this round.
    room: usize,
    batch: &'a mut Vec<Item>,
    backlog: Backlog,
    /// Watchers answered with the compacted response, to remove.
    compacted: Vec<i64>,
    /// The watcher the outbox had no room for.
    full_at: Option<i64>,
}

impl Round<'_> {
    /// Moves one watcher forward if the outbox has room.
    fn step(&mut self, id: i64, w: &mut Watcher) -> Result<(), Status> {
        if w.next > self.latest {
            return Ok(());
        }
        if self.full_at.is_some() || self.batch.len() >= self.room {
            // No room: the watcher waits for the client, behind.
            self.full_at.get_or_insert(id);
            self.backlog = Backlog::Full;
            w.note_lag(self.hub, self.latest);
            return Ok(());
        }
        let compacted = self.ctx.compacted;
        if w.next < compacted {
            let mut header = None;
            self.ctx.member.fill_header(&mut header);
            let resp = WatchResponse {
                header,
                watch_id: id,
                canceled: true,
                compact_revision: compacted,
                ..Default::default()
            };
            self.batch.push(Ok(resp));
            self.compacted.push(id);
            return Ok(());
        }
        w.note_lag(self.hub, self.latest);
        let from = w.next.max(1);
        let to = self.latest.min(w.next.saturating_add(CATCH_UP_REVISIONS - 1));
        let revisions = match self.window.covering(from, to) {
            Some(revisions) => Cow::Borrowed(revisions),
            None => match watcher::history(self.ctx.member, from, to) {
                Ok(revisions) => Cow::Owned(revisions),
                // Compacted meanwhile: the next round answers it.
                Err(mvcc::Error::Compacted { .. }) => {
                    self.backlog = self.backlog.max(Backlog::More);
                    return Ok(());
                }
                Err(e) => {
                    tracing::error!(error = %e, watch_id = id, "watcher cannot read history");
                    return Err(Status::internal(e.to_string()));
                }
            },
        };
        w.respond(&revisions, self.latest, &self.ctx, self.batch);
        w.next = to + 1;
        w.note_lag(self.hub, self.latest);
        if w.next <= self.latest {
            self.backlog = self.backlog.max(Backlog::More);
        }
        Ok(())
    }
}
