//! Errors of the lessor.
//!
//! The messages are those of etcd's `lease` package; the server maps each
//! variant to etcd's gRPC code and `etcdserver: …` message.

/// Why a lessor operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No lease has this id (also: grant with id 0, as etcd's lessor answers).
    /// etcd: `NotFound` "etcdserver: requested lease not found"; a keep-alive
    /// answers TTL 0 and `LeaseTimeToLive` TTL -1 instead.
    #[error("lease not found")]
    NotFound { id: i64 },
    /// Grant of an id that is in use. etcd: `FailedPrecondition`
    /// "etcdserver: lease already exists".
    #[error("lease already exists")]
    AlreadyExists { id: i64 },
    /// Grant with a TTL above [`crate::MAX_LEASE_TTL_SECS`]. etcd:
    /// `OutOfRange` "etcdserver: too large lease TTL".
    #[error("too large lease TTL")]
    TtlTooLarge { ttl_secs: i64 },
    /// Renew on a lessor that is not the primary (not promoted, or demoted).
    /// etcd forwards the keep-alive to the leader on this error.
    #[error("not a primary lessor")]
    NotPrimary,
    /// Renew of a lease whose expiry has passed but which is not revoked yet.
    /// etcd's renew blocks here until the revoke is applied (then answers
    /// "not found") or leadership is lost (then retries on the new leader);
    /// the server does the waiting, since this crate never blocks.
    #[error("lease expired")]
    Expired { id: i64 },
    /// A record of the `lease` table does not decode; fatal for the member.
    #[error("lease: corrupt record for lease {id:016x}")]
    Corrupt { id: i64 },
    /// The backend failed; fatal for the member.
    #[error(transparent)]
    Backend(#[from] backend::Error),
}

/// Result alias of the lessor.
pub type Result<T, E = Error> = std::result::Result<T, E>;
