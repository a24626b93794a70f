//! Errors of the mvcc store.

/// Why an mvcc operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The requested revision is older than the compacted revision.
    #[error("mvcc: required revision has been compacted")]
    Compacted { requested: i64, compacted: i64 },
    /// The requested revision is newer than the current revision.
    #[error("mvcc: required revision is a future revision")]
    FutureRev { requested: i64, current: i64 },
    /// The backend failed; fatal for the member.
    #[error(transparent)]
    Backend(#[from] backend::Error),
    /// A record on disk does not decode; fatal for the member.
    #[error("mvcc: corrupt record at {rev_key:?}")]
    Corrupt { rev_key: Vec<u8> },
}

/// Result alias of the mvcc store.
pub type Result<T, E = Error> = std::result::Result<T, E>;
