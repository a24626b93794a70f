//! mvcc: etcd's multi-version key-value store on the backend.
//!
//! It owns revisions and their encoding, the in-memory key index
//! ([`TreeIndex`] of [`KeyIndex`]es), reads at any retained revision, write
//! transactions (put, delete range) that share one revision, and compaction.
//! It is synchronous and knows nothing of gRPC, Raft or Tokio: the server's
//! applier turns requests into calls here, in Raft log order. Request
//! semantics that etcd implements above its mvcc package (sorting, revision
//! filters, txn compares) live in the server's applier too.
//!
//! ```
//! # let dir = tempfile::tempdir()?;
//! use mvcc::{KeyRange, RangeOptions, Store};
//! let be = backend::Backend::open(&dir.path().join("state.redb"))?;
//! let (store, _resume) = Store::open(be)?;
//! let mut w = store.write()?;
//! w.put(b"foo", b"bar", 0)?;
//! let committed = w.end(b"applied-state")?;
//! assert_eq!(committed.rev, 2);
//! let r = store.read()?.range(KeyRange::Single(b"foo"), RangeOptions::default())?;
//! assert_eq!(r.kvs[0].value, b"bar");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
mod compaction;
mod error;
mod key_index;
mod key_value;
mod maintenance;
mod revision;
mod store;
mod tree_index;
mod txn_read;
mod txn_write;

pub use compaction::{Compaction, DEFAULT_BATCH_LIMIT};
pub use error::{Error, Result};
pub use key_index::{KeyAt, KeyIndex};
pub use key_value::KeyValue;
pub use maintenance::HashKv;
pub use revision::Revision;
pub use store::Store;
pub use tree_index::{KeyRange, TreeIndex};
pub use txn_read::{RangeOptions, RangeResult, TxnRead};
pub use txn_write::{Committed, TxnWrite};
