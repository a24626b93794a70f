//! raft: the only crate that names openraft.
//!
//! It owns consensus for one member: the openraft type configuration (the
//! request and the response are opaque bytes), the Raft log in
//! `<data-dir>/member/raft.redb` (through [`backend::RaftLogDb`]), the
//! openraft state machine that hands each committed entry to an [`Apply`]
//! implemented above, and the peer transport between members. The server sees
//! [`RaftNode`], [`RaftConfig`], [`Apply`], the error types and the
//! [`PeerService`] it mounts on its peer listener, never an openraft type.
//!
//! It deliberately does not decode requests or responses or keep user data:
//! snapshots are files the [`Apply`] above writes and installs; this crate
//! schedules them (every [`RaftConfig::snapshot_count`] entries), purges the
//! log behind them and streams them to members that need purged entries.
//!
//! # Members and the peer transport
//!
//! Members talk gRPC (`stratapb.Peer` in `crates/api/proto/stratapb/raft.proto`)
//! on their peer URLs, the URLs the membership stores: AppendEntries, Vote and
//! a chunked snapshot stream for openraft, plus `Propose` and `ReadIndex`, with
//! which a follower serves its clients' writes and linearizable reads through
//! the leader. openraft's types travel as protobuf messages written out field
//! by field (`wire.rs`), not as serde bytes: the hot AppendEntries path is one
//! protobuf decode with each entry's request as an opaque `bytes` field, and
//! the wire format stays ours across openraft upgrades.
//!
//! A fresh member initializes the cluster with [`RaftConfig::initial_members`]
//! (the same on every member, as etcd's `--initial-cluster`), unless
//! [`RaftConfig::join_existing`] says a leader will fill its log; a restarted
//! one rejoins with the membership in its log.
//!
//! # Durability
//!
//! The log append is fsynced (one redb `Durability::Immediate` commit per
//! batch openraft hands to `append`, shared by every proposal in it) before
//! openraft's `IOFlushed` callback fires, so an entry is durable before it
//! can count towards a quorum (on the leader and on every follower) and before
//! any client hears of it. The state machine may commit non-durably: it stores
//! the `raft_state` blob (applied log id + membership) in the same transaction
//! as each entry's effect, and on restart openraft re-applies the log entries
//! after the one that blob names, up to the saved committed log id. An
//! acknowledged write therefore survives `kill -9` of any minority of members.
//!
//! # Example
//!
//! ```ignore
//! use std::{sync::Arc, time::Duration};
//! use raft::{Apply, RaftConfig, RaftNode};
//!
//! let applier: Arc<dyn Apply> = Arc::new(MyApplier::open(&data_dir)?);
//! let mut cfg = RaftConfig::new(member_id, data_dir.join("member"), "http://10.0.0.1:2380");
//! cfg.initial_members = initial_cluster; // {id: peer URL} of every member, this one included
//! let node = RaftNode::start(cfg, applier).await?;
//! tokio::spawn(
//!     tonic::transport::Server::builder()
//!         .add_service(node.peer_service())
//!         .serve_with_incoming_shutdown(peer_listener, stopped),
//! );
//! node.wait_for_leader(Duration::from_secs(5)).await?;
//! let response = node.write(encoded_internal_raft_request).await?; // on any member
//! node.read_index().await?; // then read the local store: linearizable
//! node.shutdown().await;
//! ```
mod apply;
mod config;
#[cfg(test)]
mod conformance;
mod error;
mod log_store;
mod membership;
mod network;
mod node;
mod peer_service;
mod peer_tls;
mod peers;
mod proposal;
mod raft_state;
mod snapshot;
mod state_machine;
mod status;
mod type_config;
mod wire;

pub use apply::{Apply, BatchEntry};
pub use config::RaftConfig;
pub use error::{ApplyError, RaftError, Result, WriteError};
pub use membership::{MembershipError, fetch_cluster};
pub use node::{RaftChanges, RaftMember, RaftNode};
pub use peer_service::PeerService;
