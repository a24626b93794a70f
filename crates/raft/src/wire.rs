//! The peer wire format: openraft's messages to and from the `stratapb` peer
//! messages (`crates/api/proto/stratapb/raft.proto`), field by field.
//!
//! Why hand-written protobuf messages and not openraft's serde types in a
//! compact codec (postcard, bincode): AppendEntries is the hot path, and as
//! protobuf each entry's request is one `bytes` field, moved in and out of the
//! message without a per-byte serde walk; the format is ours, so an openraft
//! upgrade that renames or reshapes a serde field cannot split a cluster
//! running two versions; and `prost` and `tonic` are dependencies already. The
//! cost is this file: every message is mapped explicitly, and a missing field
//! that openraft requires is a decode error, never a default.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use api::stratapb as pb;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, EntryPayload};

use crate::error::WriteError;
use crate::type_config::{
    Entry, LeaderId, LogId, Membership, Request, SnapshotMeta, StoredMembership, TypeConfig, Vote,
};

/// A peer message that does not decode into openraft's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError(String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer message: {}", self.0)
    }
}

impl std::error::Error for WireError {}

type Decoded<T> = Result<T, WireError>;

fn missing(field: &str) -> WireError {
    WireError(format!("{field} is missing"))
}

pub(crate) fn log_id_to_pb(id: &LogId) -> pb::LogId {
    pb::LogId { term: id.leader_id.term, node_id: id.leader_id.node_id, index: id.index }
}

pub(crate) fn log_id_from_pb(id: &pb::LogId) -> LogId {
    LogId::new(LeaderId { term: id.term, node_id: id.node_id }, id.index)
}

fn vote_to_pb(vote: &Vote) -> pb::Vote {
    pb::Vote { term: vote.leader_id.term, node_id: vote.leader_id.node_id, committed: vote.committed }
}

fn vote_from_pb(vote: Option<pb::Vote>, field: &str) -> Decoded<Vote> {
    let v = vote.ok_or_else(|| missing(field))?;
    Ok(Vote { leader_id: LeaderId { term: v.term, node_id: v.node_id }, committed: v.committed })
}

fn membership_to_pb(m: &Membership) -> pb::Membership {
    pb::Membership {
        configs: m.get_joint_config().iter().map(|set| pb::VoterSet { ids: set.iter().copied().collect() }).collect(),
        nodes: m.nodes().map(|(id, node)| (*id, node.addr.clone())).collect(),
    }
}

fn membership_from_pb(m: pb::Membership) -> Decoded<Membership> {
    let configs: Vec<BTreeSet<u64>> = m.configs.into_iter().map(|set| set.ids.into_iter().collect()).collect();
    let nodes: BTreeMap<u64, BasicNode> = m.nodes.into_iter().map(|(id, addr)| (id, BasicNode { addr })).collect();
    Membership::new(configs, nodes).map_err(|e| WireError(format!("membership: {e}")))
}

/// Moves the entry's request bytes into the message (no copy).
fn entry_to_pb(entry: Entry) -> pb::Entry {
    let log_id = Some(log_id_to_pb(&entry.log_id));
    match entry.payload {
        EntryPayload::Blank => pb::Entry { log_id, kind: pb::entry::Kind::Blank.into(), ..pb::Entry::default() },
        EntryPayload::Normal(Request(data)) => {
            pb::Entry { log_id, kind: pb::entry::Kind::Normal.into(), data, membership: None }
        }
        EntryPayload::Membership(m) => pb::Entry {
            log_id,
            kind: pb::entry::Kind::Membership.into(),
            data: Vec::new(),
            membership: Some(membership_to_pb(&m)),
        },
    }
}

fn entry_from_pb(entry: pb::Entry) -> Decoded<Entry> {
    let log_id = log_id_from_pb(&entry.log_id.ok_or_else(|| missing("entry.log_id"))?);
    let payload = match pb::entry::Kind::try_from(entry.kind) {
        Ok(pb::entry::Kind::Blank) => EntryPayload::Blank,
        Ok(pb::entry::Kind::Normal) => EntryPayload::Normal(Request(entry.data)),
        Ok(pb::entry::Kind::Membership) => {
            EntryPayload::Membership(membership_from_pb(entry.membership.ok_or_else(|| missing("entry.membership"))?)?)
        }
        Err(_) => return Err(WireError(format!("entry {}: unknown kind {}", log_id.index, entry.kind))),
    };
    Ok(Entry { log_id, payload })
}

pub(crate) fn append_request_to_pb(rpc: AppendEntriesRequest<TypeConfig>) -> pb::AppendEntriesRequest {
    pb::AppendEntriesRequest {
        vote: Some(vote_to_pb(&rpc.vote)),
        prev_log_id: rpc.prev_log_id.as_ref().map(log_id_to_pb),
        entries: rpc.entries.into_iter().map(entry_to_pb).collect(),
        leader_commit: rpc.leader_commit.as_ref().map(log_id_to_pb),
    }
}

pub(crate) fn append_request_from_pb(rpc: pb::AppendEntriesRequest) -> Decoded<AppendEntriesRequest<TypeConfig>> {
    Ok(AppendEntriesRequest {
        vote: vote_from_pb(rpc.vote, "vote")?,
        prev_log_id: rpc.prev_log_id.as_ref().map(log_id_from_pb),
        entries: rpc.entries.into_iter().map(entry_from_pb).collect::<Decoded<_>>()?,
        leader_commit: rpc.leader_commit.as_ref().map(log_id_from_pb),
    })
}

pub(crate) fn append_response_to_pb(resp: &AppendEntriesResponse<TypeConfig>) -> pb::AppendEntriesResponse {
    use pb::append_entries_response::Outcome;
    let mut out = pb::AppendEntriesResponse::default();
    match resp {
        AppendEntriesResponse::Success => out.set_outcome(Outcome::Success),
        AppendEntriesResponse::PartialSuccess(upto) => {
            out.set_outcome(Outcome::PartialSuccess);
            out.partial_success = upto.as_ref().map(log_id_to_pb);
        }
        AppendEntriesResponse::Conflict => out.set_outcome(Outcome::Conflict),
        AppendEntriesResponse::HigherVote(vote) => {
            out.set_outcome(Outcome::HigherVote);
            out.higher_vote = Some(vote_to_pb(vote));
        }
    }
    out
}

pub(crate) fn append_response_from_pb(resp: pb::AppendEntriesResponse) -> Decoded<AppendEntriesResponse<TypeConfig>> {
    use pb::append_entries_response::Outcome;
    match Outcome::try_from(resp.outcome) {
        Ok(Outcome::Success) => Ok(AppendEntriesResponse::Success),
        Ok(Outcome::PartialSuccess) => {
            Ok(AppendEntriesResponse::PartialSuccess(resp.partial_success.as_ref().map(log_id_from_pb)))
        }
        Ok(Outcome::Conflict) => Ok(AppendEntriesResponse::Conflict),
        Ok(Outcome::HigherVote) => {
            Ok(AppendEntriesResponse::HigherVote(vote_from_pb(resp.higher_vote, "higher_vote")?))
        }
        Err(_) => Err(WireError(format!("unknown AppendEntries outcome {}", resp.outcome))),
    }
}

pub(crate) fn vote_request_to_pb(rpc: &VoteRequest<TypeConfig>) -> pb::VoteRequest {
    pb::VoteRequest {
        vote: Some(vote_to_pb(&rpc.vote)),
        last_log_id: rpc.last_log_id.as_ref().map(log_id_to_pb),
        leadership_transfer: rpc.leadership_transfer,
    }
}

pub(crate) fn vote_request_from_pb(rpc: pb::VoteRequest) -> Decoded<VoteRequest<TypeConfig>> {
    Ok(VoteRequest {
        vote: vote_from_pb(rpc.vote, "vote")?,
        last_log_id: rpc.last_log_id.as_ref().map(log_id_from_pb),
        leadership_transfer: rpc.leadership_transfer,
    })
}

pub(crate) fn vote_response_to_pb(resp: &VoteResponse<TypeConfig>) -> pb::VoteResponse {
    pb::VoteResponse {
        vote: Some(vote_to_pb(&resp.vote)),
        vote_granted: resp.vote_granted,
        last_log_id: resp.last_log_id.as_ref().map(log_id_to_pb),
    }
}

pub(crate) fn vote_response_from_pb(resp: pb::VoteResponse) -> Decoded<VoteResponse<TypeConfig>> {
    Ok(VoteResponse {
        vote: vote_from_pb(resp.vote, "vote")?,
        vote_granted: resp.vote_granted,
        last_log_id: resp.last_log_id.as_ref().map(log_id_from_pb),
    })
}

pub(crate) fn transfer_leader_to_pb(req: &TransferLeaderRequest<TypeConfig>) -> pb::TransferLeaderRequest {
    pb::TransferLeaderRequest {
        from_leader: Some(vote_to_pb(req.from_leader())),
        to_node_id: *req.to_node_id(),
        last_log_id: req.last_log_id().map(log_id_to_pb),
    }
}

pub(crate) fn transfer_leader_from_pb(req: pb::TransferLeaderRequest) -> Decoded<TransferLeaderRequest<TypeConfig>> {
    let from = vote_from_pb(req.from_leader, "from_leader")?;
    Ok(TransferLeaderRequest::new(from, req.to_node_id, req.last_log_id.as_ref().map(log_id_from_pb)))
}

/// The header the first InstallSnapshot message carries.
pub(crate) fn snapshot_header_to_pb(vote: &Vote, meta: &SnapshotMeta) -> pb::SnapshotHeader {
    pb::SnapshotHeader {
        vote: Some(vote_to_pb(vote)),
        last_log_id: meta.last_log_id.as_ref().map(log_id_to_pb),
        last_membership_log_id: meta.last_membership.log_id().as_ref().map(log_id_to_pb),
        last_membership: Some(membership_to_pb(meta.last_membership.membership())),
    }
}

/// The leader's vote and the snapshot's meta from the first InstallSnapshot message.
pub(crate) fn snapshot_header_from_pb(header: Option<pb::SnapshotHeader>) -> Decoded<(Vote, SnapshotMeta)> {
    let h = header.ok_or_else(|| missing("the first snapshot chunk's header"))?;
    let membership = membership_from_pb(h.last_membership.ok_or_else(|| missing("snapshot last_membership"))?)?;
    let meta = SnapshotMeta {
        last_log_id: h.last_log_id.as_ref().map(log_id_from_pb),
        last_membership: StoredMembership::new(h.last_membership_log_id.as_ref().map(log_id_from_pb), membership),
    };
    Ok((vote_from_pb(h.vote, "snapshot vote")?, meta))
}

pub(crate) fn snapshot_response_to_pb(resp: &SnapshotResponse<TypeConfig>) -> pb::InstallSnapshotResponse {
    pb::InstallSnapshotResponse { vote: Some(vote_to_pb(&resp.vote)) }
}

pub(crate) fn snapshot_response_from_pb(resp: pb::InstallSnapshotResponse) -> Decoded<SnapshotResponse<TypeConfig>> {
    Ok(SnapshotResponse { vote: vote_from_pb(resp.vote, "vote")? })
}

pub(crate) fn write_error_to_pb(e: &WriteError) -> pb::PeerError {
    use pb::peer_error::Kind;
    let (kind, leader) = match e {
        WriteError::NoLeader => (Kind::NoLeader, None),
        WriteError::NotLeader { leader } => (Kind::NotLeader, *leader),
        WriteError::LeaderChanged { leader } => (Kind::LeaderChanged, *leader),
        WriteError::Timeout => (Kind::Timeout, None),
        WriteError::Stopped => (Kind::Stopped, None),
        WriteError::Fatal(_) => (Kind::Fatal, None),
    };
    pb::PeerError { kind: kind.into(), leader, message: e.to_string() }
}

/// The leader's error as the member that forwarded reports it. That member
/// is neither stopping nor broken: a leader that is (or an error it cannot
/// read) leaves the request's outcome unknown, which is a timeout.
pub(crate) fn write_error_from_pb(e: &pb::PeerError) -> WriteError {
    use pb::peer_error::Kind;
    match Kind::try_from(e.kind) {
        Ok(Kind::NoLeader) => WriteError::NoLeader,
        Ok(Kind::NotLeader) => WriteError::NotLeader { leader: e.leader },
        Ok(Kind::LeaderChanged) => WriteError::LeaderChanged { leader: e.leader },
        Ok(Kind::Timeout | Kind::Stopped | Kind::Fatal | Kind::Unspecified) | Err(_) => WriteError::Timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_id(term: u64, node_id: u64, index: u64) -> LogId {
        LogId::new(LeaderId { term, node_id }, index)
    }

    fn membership() -> Membership {
        let nodes = BTreeMap::from([
            (1, BasicNode::new("http://a:2380")),
            (2, BasicNode::new("http://b:2380")),
            (3, BasicNode::new("http://c:2380")),
            (4, BasicNode::new("http://d:2380")),
        ]);
        // A joint configuration with a learner (4).
        Membership::new(vec![BTreeSet::from([1, 2]), BTreeSet::from([1, 2, 3])], nodes).expect("membership")
    }

    #[test]
    fn append_entries_round_trip() {
        let rpc = AppendEntriesRequest::<TypeConfig> {
            vote: Vote { leader_id: LeaderId { term: 5, node_id: 2 }, committed: true },
            prev_log_id: Some(log_id(4, 1, 9)),
            entries: vec![
                Entry { log_id: log_id(5, 2, 10), payload: EntryPayload::Blank },
                Entry { log_id: log_id(5, 2, 11), payload: EntryPayload::Normal(Request(b"put a".to_vec())) },
                Entry { log_id: log_id(5, 2, 12), payload: EntryPayload::Membership(membership()) },
            ],
            leader_commit: Some(log_id(5, 2, 10)),
        };
        let back = append_request_from_pb(append_request_to_pb(rpc.clone())).expect("decode");
        assert_eq!(format!("{back:?}"), format!("{rpc:?}"));

        let empty = AppendEntriesRequest::<TypeConfig> {
            vote: Vote { leader_id: LeaderId { term: 1, node_id: 1 }, committed: false },
            prev_log_id: None,
            entries: Vec::new(),
            leader_commit: None,
        };
        let back = append_request_from_pb(append_request_to_pb(empty.clone())).expect("decode");
        assert_eq!(format!("{back:?}"), format!("{empty:?}"));

        for resp in [
            AppendEntriesResponse::Success,
            AppendEntriesResponse::PartialSuccess(None),
            AppendEntriesResponse::PartialSuccess(Some(log_id(3, 1, 7))),
            AppendEntriesResponse::Conflict,
            AppendEntriesResponse::HigherVote(Vote { leader_id: LeaderId { term: 9, node_id: 3 }, committed: false }),
        ] {
            assert_eq!(append_response_from_pb(append_response_to_pb(&resp)), Ok(resp));
        }
    }

    #[test]
    fn vote_round_trip() {
        let rpc = VoteRequest::<TypeConfig> {
            vote: Vote { leader_id: LeaderId { term: 3, node_id: 2 }, committed: false },
            last_log_id: Some(log_id(2, 1, 40)),
            leadership_transfer: true,
        };
        assert_eq!(vote_request_from_pb(vote_request_to_pb(&rpc)), Ok(rpc));
        let resp = VoteResponse::<TypeConfig> {
            vote: Vote { leader_id: LeaderId { term: 3, node_id: 2 }, committed: false },
            vote_granted: true,
            last_log_id: None,
        };
        assert_eq!(vote_response_from_pb(vote_response_to_pb(&resp)), Ok(resp));
    }

    #[test]
    fn transfer_leader_round_trips() {
        let vote = Vote { leader_id: LeaderId { term: 4, node_id: 1 }, committed: true };
        let req = TransferLeaderRequest::<TypeConfig>::new(vote, 9, Some(log_id(4, 1, 77)));
        let back = transfer_leader_from_pb(transfer_leader_to_pb(&req)).expect("decode");
        assert_eq!((back.from_leader(), back.to_node_id(), back.last_log_id()), (&vote, &9, Some(&log_id(4, 1, 77))));
    }

    #[test]
    fn snapshot_header_round_trips() {
        let vote = Vote { leader_id: LeaderId { term: 7, node_id: 1 }, committed: true };
        let meta = SnapshotMeta {
            last_log_id: Some(log_id(7, 1, 100)),
            last_membership: StoredMembership::new(Some(log_id(1, 1, 1)), membership()),
        };
        let header = snapshot_header_to_pb(&vote, &meta);
        assert_eq!(snapshot_header_from_pb(Some(header)).expect("header"), (vote, meta));
        assert!(snapshot_header_from_pb(None).is_err());
    }

    #[test]
    fn missing_vote_or_unknown_kind_is_an_error() {
        assert!(append_request_from_pb(pb::AppendEntriesRequest::default()).is_err());
        let entry = pb::Entry { log_id: Some(log_id_to_pb(&log_id(1, 1, 1))), kind: 9, ..pb::Entry::default() };
        let rpc = pb::AppendEntriesRequest {
            vote: Some(pb::Vote { term: 1, node_id: 1, committed: true }),
            entries: vec![entry],
            ..pb::AppendEntriesRequest::default()
        };
        assert!(append_request_from_pb(rpc).is_err());
    }

    #[test]
    fn write_errors_cross_the_wire() {
        for (sent, got) in [
            (WriteError::NoLeader, WriteError::NoLeader),
            (WriteError::NotLeader { leader: Some(3) }, WriteError::NotLeader { leader: Some(3) }),
            (WriteError::LeaderChanged { leader: None }, WriteError::LeaderChanged { leader: None }),
            (WriteError::Timeout, WriteError::Timeout),
            (WriteError::Stopped, WriteError::Timeout),
            (WriteError::Fatal("disk".into()), WriteError::Timeout),
        ] {
            assert_eq!(write_error_from_pb(&write_error_to_pb(&sent)), got);
        }
    }
}
