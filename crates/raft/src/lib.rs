//! raft: the only crate that names openraft.
//!
//! It owns consensus for one member: the openraft type configuration (the
//! request and the response are opaque bytes), the Raft log in
//! `<data-dir>/member/raft.redb` (through [`backend::RaftLogDb`]), the
//! openraft state machine that hands each committed entry to an [`Apply`]
//! implemented above, and the peer network. The server sees [`RaftNode`],
//! [`RaftConfig`], [`Apply`] and the error types, never an openraft type.
//!
//! It deliberately does not decode requests or responses, keep user data,
//! build snapshots or talk to peers yet: a cluster is a single member, the
//! snapshot policy is `Never` (so the log is never purged) and every peer RPC
//! fails as unreachable. TODO(issue 6): peer gRPC, snapshots, membership changes.
//!
//! # Durability
//!
//! The log append is fsynced (one redb `Durability::Immediate` commit per
//! batch openraft hands to `append`, shared by every proposal in it) before
//! openraft's `IOFlushed` callback fires, so an entry is durable before it
//! can count as committed and before any client hears of it. The state
//! machine may commit non-durably: it stores the `raft_state` blob (applied
//! log id + membership) in the same transaction as each entry's effect, and on
//! restart openraft re-applies the log entries after the one that blob names,
//! up to the saved committed log id. An acknowledged write therefore survives
//! `kill -9` as long as `raft.redb` does.
//!
//! # Example
//!
//! ```ignore
//! use std::{sync::Arc, time::Duration};
//! use raft::{Apply, RaftConfig, RaftNode};
//!
//! let applier: Arc<dyn Apply> = Arc::new(MyApplier::open(&data_dir)?);
//! let cfg = RaftConfig::new(member_id, data_dir.join("member"), "http://10.0.0.1:2380");
//! let node = RaftNode::start(cfg, applier).await?;
//! node.wait_for_leader(Duration::from_secs(5)).await?;
//! let response = node.write(encoded_internal_raft_request).await?;
//! node.read_index().await?; // then read the local store: linearizable
//! node.shutdown().await;
//! ```
mod apply;
mod error;
mod log_store;
mod network;
mod node;
mod raft_state;
mod state_machine;
mod type_config;

pub use apply::{Apply, BatchEntry};
pub use error::{ApplyError, RaftError, Result, WriteError};
pub use node::{RaftConfig, RaftNode};
