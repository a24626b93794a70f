//! Errors of the storage backend.
//!
//! Every redb error is folded into [`Error::Storage`] with the operation that
//! failed: callers above the backend never match on redb's types, and a storage
//! error is fatal for the member (it stops serving rather than guess).

/// A backend failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// redb failed; the member cannot trust its files any more.
    #[error("backend: {op}: {source}")]
    Storage {
        op: &'static str,
        #[source]
        source: redb::Error,
    },
    /// A value read from disk does not decode.
    #[error("backend: corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// The data dir is held by another process.
    #[error("backend: database {path} is locked by another process")]
    Locked { path: String },
    /// Filesystem error outside redb (creating dirs, renaming files).
    #[error("backend: {op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of the backend.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps any redb error type with the operation name.
pub(crate) fn storage<E: Into<redb::Error>>(op: &'static str) -> impl FnOnce(E) -> Error {
    move |e| {
        let source: redb::Error = e.into();
        if let redb::Error::DatabaseAlreadyOpen = source {
            return Error::Locked { path: op.to_string() };
        }
        Error::Storage { op, source }
    }
}
