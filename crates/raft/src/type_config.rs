//! The openraft type configuration and the aliases that keep its generics in this crate.
//!
//! The application request is opaque bytes (an encoded etcd
//! `InternalRaftRequest`) and so is the response (an encoded result): this
//! crate never looks inside either.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The payload of a normal log entry: an encoded request, opaque to Raft.
///
/// A newtype only because openraft wants `Display` on application data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Request(pub(crate) Vec<u8>);

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Request({} bytes)", self.0.len())
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

openraft::declare_raft_types!(
    /// Strata's openraft types: node ids are etcd member ids, a node's data is its advertised peer URL.
    pub(crate) TypeConfig:
        D = Request,
        R = Vec<u8>,
        NodeId = u64,
        Node = openraft::BasicNode,
);

pub(crate) type Entry = <TypeConfig as openraft::RaftTypeConfig>::Entry;
pub(crate) type LeaderId = <TypeConfig as openraft::RaftTypeConfig>::LeaderId;
pub(crate) type LogId = openraft::LogId<LeaderId>;
pub(crate) type Vote = <TypeConfig as openraft::RaftTypeConfig>::Vote;
pub(crate) type Membership = openraft::Membership<u64, openraft::BasicNode>;
pub(crate) type StoredMembership = openraft::StoredMembership<LeaderId, u64, openraft::BasicNode>;
pub(crate) type LogState = openraft::LogState<TypeConfig>;
pub(crate) type IOFlushed = openraft::storage::IOFlushed<TypeConfig>;
pub(crate) type EntryResponder = openraft::storage::EntryResponder<TypeConfig>;

/// Snapshot data: a file written by the state machine above (`snapshot.rs`).
pub(crate) type SnapshotData = crate::snapshot::SnapshotFile;
pub(crate) type Snapshot = openraft::Snapshot<LeaderId, u64, openraft::BasicNode, SnapshotData>;
pub(crate) type SnapshotMeta = openraft::SnapshotMeta<LeaderId, u64, openraft::BasicNode>;
