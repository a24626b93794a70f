//! The `raft_state` blob: what the state machine stores with every applied entry.
//!
//! Layout (version 1), all integers big-endian:
//!
//! ```text
//! [0]       format version = 1
//! [1..9]    applied log id: term
//! [9..17]   applied log id: leader node id
//! [17..25]  applied log id: index
//! [25..]    the last applied membership (openraft `StoredMembership`) as JSON
//! ```
//!
//! For example, the first blank entry of a fresh single member with id 7 at
//! `http://a:2380` encodes as `01`, term 1, node 7, index 1, then
//! `{"log_id":{"leader_id":{"term":0,"node_id":7},"index":0},"membership":{...}}`.
//! The fixed header makes the applied index readable without JSON, and the
//! membership JSON is encoded once per membership change, not per entry.

use crate::type_config::{LeaderId, LogId, StoredMembership};

const VERSION: u8 = 1;
const HEADER_LEN: usize = 25;

/// The applied log id and the encoded membership that go with it.
pub(crate) struct RaftState {
    membership: StoredMembership,
    membership_json: Vec<u8>,
}

impl RaftState {
    /// A state carrying `membership`.
    pub(crate) fn new(membership: StoredMembership) -> Result<RaftState, String> {
        let membership_json = serde_json::to_vec(&membership).map_err(|e| format!("encode membership: {e}"))?;
        Ok(RaftState { membership, membership_json })
    }

    /// The membership recorded by the last membership entry applied.
    pub(crate) fn membership(&self) -> &StoredMembership {
        &self.membership
    }

    /// The blob to store with the entry `applied`.
    pub(crate) fn encode(&self, applied: &LogId) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.membership_json.len());
        out.push(VERSION);
        out.extend_from_slice(&applied.leader_id.term.to_be_bytes());
        out.extend_from_slice(&applied.leader_id.node_id.to_be_bytes());
        out.extend_from_slice(&applied.index.to_be_bytes());
        out.extend_from_slice(&self.membership_json);
        out
    }

    /// Decodes a blob written by [`RaftState::encode`]: the applied log id and the state.
    pub(crate) fn decode(blob: &[u8]) -> Result<(LogId, RaftState), String> {
        if blob.len() < HEADER_LEN || blob[0] != VERSION {
            return Err(format!("raft_state: unsupported blob of {} bytes", blob.len()));
        }
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&blob[at..at + 8]);
            u64::from_be_bytes(b)
        };
        let applied = LogId::new(LeaderId { term: u64_at(1), node_id: u64_at(9) }, u64_at(17));
        let json = &blob[HEADER_LEN..];
        let membership: StoredMembership =
            serde_json::from_slice(json).map_err(|e| format!("raft_state: decode membership: {e}"))?;
        Ok((applied, RaftState { membership, membership_json: json.to_vec() }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::type_config::Membership;

    #[test]
    fn round_trips_log_id_and_membership() {
        let nodes = BTreeMap::from([(7, openraft::BasicNode::new("http://a:2380"))]);
        let membership = Membership::new(vec![BTreeSet::from([7])], nodes).expect("membership");
        let mem_log_id = LogId::new(LeaderId { term: 0, node_id: 7 }, 0);
        let state = RaftState::new(StoredMembership::new(Some(mem_log_id), membership)).expect("new");
        let applied = LogId::new(LeaderId { term: 3, node_id: 7 }, 42);

        let blob = state.encode(&applied);
        assert_eq!(blob[0], 1);
        assert_eq!(&blob[17..25], &42u64.to_be_bytes());

        let (got, decoded) = RaftState::decode(&blob).expect("decode");
        assert_eq!(got, applied);
        assert_eq!(decoded.membership(), state.membership());
        assert_eq!(decoded.membership().voter_ids().collect::<Vec<_>>(), vec![7]);
    }

    #[test]
    fn rejects_short_or_unknown_blobs() {
        assert!(RaftState::decode(b"").is_err());
        assert!(RaftState::decode(&[2; 30]).is_err());
    }
}
