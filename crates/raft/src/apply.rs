//! [`Apply`]: the state machine above Raft, implemented by the server's applier.

use crate::error::ApplyError;

/// What the state machine above Raft implements (the server's applier).
///
/// Raft calls it from one task at a time, in log order, with every committed
/// entry exactly once per "life" of the state machine: after a restart, Raft
/// resumes with the entry after the one recorded in [`Apply::applied_state`],
/// so an implementation that loses its last commits (non-durable commits and a
/// crash) simply gets those entries again.
///
/// Calls may block (they run on Tokio's blocking pool).
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
}
