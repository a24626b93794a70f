//! backend: the only crate that names redb.
mod raft_log;

pub use raft_log::RaftLogDb;
