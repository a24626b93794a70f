//! lease: etcd's lessor — leases, their attached keys, and their expiry.
//!
//! It owns the lease table's meaning (the `leasepb.Lease` records that
//! `backend` stores under the `lease` table), the in-memory set of leases with
//! the keys attached to each, and the expiry queue the leader consults. Its
//! behaviour follows etcd 3.4's `lease/lessor.go`: grants raise TTLs to a
//! minimum, revokes hand back the keys to delete, a promoted lessor (the
//! leader) tracks expiry and reports expired leases until they are revoked,
//! and a demoted one never expires anything.
//!
//! It deliberately does not: delete keys (the server's applier deletes the
//! keys [`Lessor::revoke`] returns, in the same mvcc transaction), propose
//! anything (the server turns [`Lessor::expired`] into revoke proposals
//! through Raft), choose lease ids (the server does before proposing, so
//! every member applies the same id), lock (the caller owns the `Lessor`,
//! behind a mutex if shared), read a clock (every method that needs time
//! takes `now`, a monotonic [`Duration`](std::time::Duration) since an epoch
//! of the server's choosing), or schedule lease checkpoints (a checkpointed
//! remaining TTL found in the table is honoured; none is written yet).
//!
//! ```
//! # let dir = tempfile::tempdir()?;
//! use std::time::Duration;
//! use lease::Lessor;
//! let be = backend::Backend::open(&dir.path().join("state.redb"))?;
//! let mut lessor = Lessor::new(2);
//! lessor.promote(Duration::ZERO, Duration::ZERO); // this member leads
//!
//! let mut w = be.begin_write()?; // the applier's transaction
//! let granted = lessor.grant(&mut w, 0x1234, 1, Duration::ZERO)?;
//! w.commit(false)?;
//! assert_eq!(granted.ttl_secs, 2); // raised to the minimum
//! lessor.attach(0x1234, b"service/a")?;
//!
//! assert!(lessor.expired(Duration::from_secs(1), 500).is_empty());
//! assert_eq!(lessor.expired(Duration::from_secs(2), 500), vec![0x1234]);
//! // ... the revoke goes through Raft, then is applied:
//! let mut w = be.begin_write()?;
//! assert_eq!(lessor.revoke(&mut w, 0x1234)?, vec![b"service/a".to_vec()]);
//! w.commit(false)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
mod error;
mod expiry_queue;
mod lease_record;
mod lessor;

pub use error::{Error, Result};
pub use lessor::{
    DEFAULT_EXPIRED_RETRY_INTERVAL, EXPIRED_BATCH_LIMIT, EXPIRY_CHECK_INTERVAL, LeaseInfo, Lessor, MAX_LEASE_TTL_SECS,
    REVOKE_RATE_PER_SEC,
};
