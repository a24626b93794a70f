//! `recipes`: the requests of etcd's lock and election recipes (clientv3's
//! `concurrency` package) as plain data, and how to read their answers.
//!
//! Two crates run these recipes: `client` over gRPC (as etcdctl's `lock` and
//! `elect` do) and `server` inside the member, proposing through Raft (as
//! etcd's `Lock` and `Election` services do over their loopback client).
//! Both must send byte for byte the requests clientv3 sends, so the key names,
//! the compares, the txns and the queue reads live here once.
//!
//! It deliberately does no I/O and holds no state: how a txn is sent and how
//! a wait for deletions is woken (a watch, or the member's watch hub) is the
//! caller's. It depends on `api` only, for the generated request types.
//!
//! A contender for the lock or election `name` owns the key
//! `name/<lease in hex>`; the key under `name/` created first holds the lock
//! or leads; the others wait until every key created before theirs is gone:
//!
//! ```
//! let prefix = recipes::prefix(b"mylock");
//! let key = recipes::lease_key(&prefix, 0x1a);
//! assert_eq!(key, b"mylock/1a");
//! let txn = recipes::lock_txn(&prefix, &key, 0x1a);
//! assert_eq!(txn.success.len(), 2, "queue the key, read the holder");
//! let older = recipes::created_before(&prefix, 7);
//! assert_eq!(older.max_create_revision, 6);
//! ```

mod key_range;
mod ops;
mod queue;
mod txn;

pub use key_range::prefix_end;
pub use ops::{create_revision_is, delete_op, get, put_op, range_op};
pub use queue::{created_before, first_created, last_created, lease_key, prefix};
pub use txn::{campaign_txn, holds_lock, lock_txn, own_create_revision, proclaim_txn, range_kvs, resign_txn};

/// TTL of the lease a session grants when none is given (clientv3's
/// `concurrency.defaultSessionTTL`).
pub const DEFAULT_SESSION_TTL_SECS: i64 = 60;
