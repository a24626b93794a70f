//! [`WatchUpdate`]: what a watcher receives, as clientv3's `WatchResponse` shows it.

use api::etcdserverpb::{ResponseHeader, WatchResponse};
use api::mvccpb::Event;

/// clientv3's `WatchResponse`: the part of a `pb.WatchResponse` etcdctl prints, plus the
/// error that closed the watcher, if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchUpdate {
    /// The response header; empty for the update that reports a closed stream.
    pub header: ResponseHeader,
    /// The events. `None` is Go's nil slice (JSON `null`), which only the update
    /// reporting a closed stream has; a response from the member always has a slice.
    pub events: Option<Vec<Event>>,
    /// Non-zero when the watcher's start revision has been compacted away.
    pub compact_revision: i64,
    /// The watcher is gone after this update.
    pub canceled: bool,
    /// Never set on what etcdctl prints (it does not ask for created notifications).
    pub created: bool,
    /// The member's reason for canceling.
    pub cancel_reason: String,
    /// Why the watcher was closed from this side: the stream failed, or the member
    /// refused to create the watcher (clientv3's `closeErr`).
    pub close_error: Option<String>,
}

impl From<WatchResponse> for WatchUpdate {
    fn from(r: WatchResponse) -> Self {
        WatchUpdate {
            header: r.header.unwrap_or_default(),
            events: Some(r.events),
            compact_revision: r.compact_revision,
            canceled: r.canceled,
            created: r.created,
            cancel_reason: r.cancel_reason,
            close_error: None,
        }
    }
}

impl WatchUpdate {
    /// The update that tells a watcher it was closed because of `error`.
    pub fn closed(error: String) -> Self {
        WatchUpdate { canceled: true, close_error: Some(error), ..Default::default() }
    }

    /// clientv3's `Err()`: why this update ends the watcher, if it does.
    pub fn err(&self) -> Option<String> {
        if let Some(e) = &self.close_error {
            return Some(e.clone());
        }
        if self.compact_revision != 0 {
            return Some("etcdserver: mvcc: required revision has been compacted".to_owned());
        }
        if !self.canceled {
            return None;
        }
        Some(match self.cancel_reason.as_str() {
            "" => "etcdserver: mvcc: required revision is a future revision".to_owned(),
            r if r.starts_with("etcdserver: ") => r.to_owned(),
            r => format!("rpc error: code = FailedPrecondition desc = {r}"),
        })
    }

    /// clientv3's `IsProgressNotify()`: no events and nothing else to say but a revision.
    pub fn is_progress_notify(&self) -> bool {
        self.events.as_ref().is_none_or(Vec::is_empty)
            && !self.canceled
            && !self.created
            && self.compact_revision == 0
            && self.header.revision != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacted_updates_carry_the_compacted_error() {
        let u = WatchUpdate::from(WatchResponse { canceled: true, compact_revision: 9, ..Default::default() });
        assert_eq!(u.err().as_deref(), Some("etcdserver: mvcc: required revision has been compacted"));
        assert!(!u.is_progress_notify());
    }

    #[test]
    fn an_empty_update_with_a_revision_is_a_progress_notification() {
        let u = WatchUpdate::from(WatchResponse {
            header: Some(ResponseHeader { revision: 7, ..Default::default() }),
            watch_id: -1,
            ..Default::default()
        });
        assert!(u.is_progress_notify());
        assert_eq!(u.err(), None);
        assert!(!WatchUpdate::closed("EOF".into()).is_progress_notify());
        assert_eq!(WatchUpdate::closed("EOF".into()).err().as_deref(), Some("EOF"));
    }
}
