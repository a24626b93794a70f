//! [`Apply`]: the state machine above Raft, implemented by the server's applier.

use std::path::Path;

use crate::error::ApplyError;

/// What the state machine above Raft implements (the server's applier).
///
/// Raft calls it from one task at a time, in log order, with every committed
/// entry exactly once per "life" of the state machine: after a restart, Raft
/// resumes with the entry after the one recorded in [`Apply::applied_state`],
/// so an implementation that loses its last commits (non-durable commits and a
/// crash) simply gets those entries again.
///
/// Calls may block briefly: they run on the state machine's task.
pub trait Apply: Send + Sync + 'static {
    /// The opaque `raft_state` blob stored by the last successful
    /// `apply`/`apply_meta` (None on a fresh member).
    fn applied_state(&self) -> Result<Option<Vec<u8>>, ApplyError>;

    /// Applies one committed normal entry. `raft_state` is an opaque blob
    /// (encoded by this crate: the applied log id and the last membership)
    /// that the implementation MUST store in the same storage transaction as
    /// the entry's effect. Returns the encoded response for the proposer.
    fn apply(&self, index: u64, data: &[u8], raft_state: &[u8]) -> Result<Vec<u8>, ApplyError>;

    /// Records `raft_state` for a blank or membership entry (no effect on user data).
    fn apply_meta(&self, index: u64, raft_state: &[u8]) -> Result<(), ApplyError>;

    /// Writes a snapshot of the whole state to the new file `path`: one
    /// consistent state, durable when this returns, that
    /// [`Apply::install_snapshot`] on another member can take. Returns the
    /// `raft_state` blob recorded with that state (which names the last entry
    /// it includes). Runs on a blocking thread concurrently with `apply`.
    fn build_snapshot(&self, path: &Path) -> Result<Vec<u8>, ApplyError>;

    /// The `raft_state` blob recorded in the snapshot file at `path`.
    fn snapshot_state(&self, path: &Path) -> Result<Vec<u8>, ApplyError>;

    /// Replaces the whole state with the snapshot file at `path` (a leader's,
    /// received whole, or this member's own after a crash lost newer state).
    /// The file stays where it is. Called between `apply` calls, never
    /// during one; afterwards `applied_state` is the snapshot's.
    fn install_snapshot(&self, path: &Path) -> Result<(), ApplyError>;

    /// Applies a run of committed entries, in order, returning one response
    /// per entry (empty for blank and membership entries). Raft answers the
    /// proposers only after this returns, so an implementation may make the
    /// whole run visible and durable at once (one storage commit instead of
    /// one per entry), as long as each entry's effect and its `raft_state`
    /// are stored together. The default applies them one by one.
    fn apply_batch(&self, entries: &[BatchEntry<'_>]) -> Result<Vec<Vec<u8>>, ApplyError> {
        entries
            .iter()
            .map(|e| match e.data {
                Some(data) => self.apply(e.index, data, &e.raft_state),
                None => self.apply_meta(e.index, &e.raft_state).map(|()| Vec::new()),
            })
            .collect()
    }
}

/// One entry of [`Apply::apply_batch`].
#[derive(Debug)]
pub struct BatchEntry<'a> {
    pub index: u64,
    /// The proposed request; `None` for a blank or membership entry.
    pub data: Option<&'a [u8]>,
    /// The Raft state after this entry (see [`Apply::apply`]).
    pub raft_state: Vec<u8>,
}
