//! backend: the only crate that names redb.
//!
//! It owns the two files of a member's data dir — `member/state.redb` (the
//! state machine: the `key`, `meta` and `lease` tables of [`schema`]) and
//! `member/raft.redb` (the Raft log, [`RaftLogDb`]) — and nothing above it
//! sees a redb type. It knows byte layouts of table *keys* only as far as
//! ordering needs; what a value means belongs to `mvcc`, `lease` and `raft`.
//!
//! ```no_run
//! use backend::{Backend, MetaKey};
//! let be = Backend::open(std::path::Path::new("default.strata/member/state.redb"))?;
//! let mut w = be.begin_write()?;
//! w.put_meta(MetaKey::FinishedCompactRev, &[0; 17])?;
//! w.commit(true)?;
//! # Ok::<(), backend::Error>(())
//! ```
mod alarm_table;
mod auth_table;
mod backend;
mod create;
mod defrag;
mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
#[cfg(feature = "fault-injection")]
pub mod fault_fs;
mod fs;
mod hash;
mod in_use;
mod install;
mod lease_table;
mod members_table;
mod raft_log;
mod revision_clock;
pub mod schema;
mod snapshot;

pub use auth_table::AuthTable;
pub use backend::{Backend, DeleteBatch, ReadTxn, WriteTxn};
#[cfg(feature = "fault-injection")]
pub use defrag::defrag_offline_in;
pub use defrag::{DefragCopy, DefragReport, Swapped, defrag_offline};
pub use error::{Error, Result};
pub use in_use::PageStats;
pub use raft_log::RaftLogDb;
pub use schema::MetaKey;
#[cfg(feature = "fault-injection")]
pub use snapshot::load_snapshot_in;
pub use snapshot::{
    LoadOptions, SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC, SNAPSHOT_TRAILER_BYTES, SnapshotDump, SnapshotStatus,
    load_snapshot, snapshot_meta, verify_snapshot, verify_snapshot_sha256,
};
