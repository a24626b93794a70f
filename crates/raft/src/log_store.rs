//! [`LogStore`]: openraft's log storage over [`backend::RaftLogDb`].
//!
//! Entry layout in the `log` table (the index is the key), integers big-endian:
//!
//! ```text
//! [0]       kind: 0 blank, 1 normal, 2 membership
//! [1..9]    term of the leader that proposed it
//! [9..17]   node id of that leader
//! [17..]    normal: the request bytes as proposed; membership: openraft `Membership` as JSON
//! ```
//!
//! Vote, committed and last-purged log ids are stored as openraft's JSON.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};

use backend::RaftLogDb;
use openraft::storage::{RaftLogReader, RaftLogStorage};
use openraft::{EntryPayload, OptionalSend};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::io_err;
use crate::node::InUse;
use crate::type_config::{Entry, IOFlushed, LeaderId, LogId, LogState, Membership, Request, TypeConfig, Vote};

const KIND_BLANK: u8 = 0;
const KIND_NORMAL: u8 = 1;
const KIND_MEMBERSHIP: u8 = 2;
const HEADER_LEN: usize = 17;

/// The Raft log store; clones share the database and serve as log readers.
#[derive(Clone)]
pub(crate) struct LogStore {
    db: RaftLogDb,
    /// The committed log id last handed to `save_committed`, written with the
    /// next append rather than in a transaction of its own.
    committed: Option<Vec<u8>>,
    _in_use: InUse,
}

impl LogStore {
    pub(crate) fn new(db: RaftLogDb, in_use: InUse) -> LogStore {
        LogStore { db, committed: None, _in_use: in_use }
    }
}

/// Runs a durable (fsyncing) write on the blocking pool so the Raft core task
/// waits without holding a runtime worker thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> backend::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io_err)?.map_err(io_err)
}

fn encode_entry(entry: &Entry) -> io::Result<Vec<u8>> {
    let (kind, body) = match &entry.payload {
        EntryPayload::Blank => (KIND_BLANK, Vec::new()),
        EntryPayload::Normal(req) => (KIND_NORMAL, req.0.clone()),
        EntryPayload::Membership(m) => (KIND_MEMBERSHIP, serde_json::to_vec(m).map_err(io_err)?),
    };
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.push(kind);
    out.extend_from_slice(&entry.log_id.leader_id.term.to_be_bytes());
    out.extend_from_slice(&entry.log_id.leader_id.node_id.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

fn decode_log_id(index: u64, bytes: &[u8]) -> io::Result<LogId> {
    if bytes.len() < HEADER_LEN {
        return Err(io_err(format!("raft log: entry {index} is {} bytes, shorter than its header", bytes.len())));
    }
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_be_bytes(b)
    };
    Ok(LogId::new(LeaderId { term: u64_at(1), node_id: u64_at(9) }, index))
}

fn decode_entry(index: u64, mut bytes: Vec<u8>) -> io::Result<Entry> {
    let log_id = decode_log_id(index, &bytes)?;
    let payload = match bytes[0] {
        KIND_BLANK => EntryPayload::Blank,
        KIND_NORMAL => EntryPayload::Normal(Request(bytes.split_off(HEADER_LEN))),
        KIND_MEMBERSHIP => {
            let m: Membership = serde_json::from_slice(&bytes[HEADER_LEN..]).map_err(io_err)?;
            EntryPayload::Membership(m)
        }
        kind => return Err(io_err(format!("raft log: entry {index} has unknown kind {kind}"))),
    };
    Ok(Entry { log_id, payload })
}

fn encode_json<T: Serialize>(v: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(io_err)
}

fn decode_json<T: DeserializeOwned>(bytes: Option<Vec<u8>>) -> io::Result<Option<T>> {
    bytes.map(|b| serde_json::from_slice(&b).map_err(io_err)).transpose()
}

/// `range` as the half-open `[start, end)` redb reads; `end == None` is unbounded.
fn to_half_open(range: &impl RangeBounds<u64>) -> (u64, Option<u64>) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => Some(e.saturating_add(1)),
        Bound::Excluded(&e) => Some(e),
        Bound::Unbounded => None,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<Entry>> {
        // Reads take no fsync and hit redb's cache: done inline.
        let rows = match to_half_open(&range) {
            (start, Some(end)) if start >= end => return Ok(Vec::new()),
            (start, Some(end)) => self.db.range(start..end),
            (start, None) => self.db.range(start..),
        }
        .map_err(io_err)?;
        rows.into_iter().map(|(index, bytes)| decode_entry(index, bytes)).collect()
    }

    async fn read_vote(&mut self) -> io::Result<Option<Vote>> {
        decode_json(self.db.vote().map_err(io_err)?)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> io::Result<LogState> {
        let last_purged_log_id: Option<LogId> = decode_json(self.db.last_purged().map_err(io_err)?)?;
        let last_log_id = match self.db.last_entry().map_err(io_err)? {
            Some((index, bytes)) => Some(decode_log_id(index, &bytes)?),
            None => last_purged_log_id,
        };
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> io::Result<()> {
        let bytes = encode_json(vote)?;
        let db = self.db.clone();
        blocking(move || db.save_vote(&bytes)).await
    }

    /// Kept in memory and written with the next append: it only shortens the
    /// re-apply at start-up, it is not needed for safety, and a redb commit of
    /// its own per batch cost more CPU than the rest of the log write.
    async fn save_committed(&mut self, committed: Option<LogId>) -> io::Result<()> {
        self.committed = committed.as_ref().map(encode_json).transpose()?;
        Ok(())
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogId>> {
        match &self.committed {
            Some(bytes) => decode_json(Some(bytes.clone())),
            None => decode_json(self.db.committed().map_err(io_err)?),
        }
    }

    /// Writes the whole batch in one durable redb transaction, then reports it
    /// flushed: openraft's IOFlushed callback fires only after the fsync, which
    /// is what lets a leader count its own vote for the entries and answer the
    /// client. Concurrent proposals that queued up during one fsync arrive here
    /// as the next batch and share the next one (group commit).
    async fn append<I>(&mut self, entries: I, callback: IOFlushed) -> io::Result<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let rows = entries
            .into_iter()
            .map(|e| Ok((e.log_id.index, encode_entry(&e)?)))
            .collect::<io::Result<Vec<(u64, Vec<u8>)>>>()?;
        let db = self.db.clone();
        let committed = self.committed.clone();
        blocking(move || db.append_with_committed(rows.iter().map(|(i, b)| (*i, b.as_slice())), committed.as_deref()))
            .await?;
        callback.io_completed(Ok(()));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> io::Result<()> {
        let from = last_log_id.map_or(0, |id| id.index + 1);
        let db = self.db.clone();
        blocking(move || db.truncate_from(from)).await
    }

    /// openraft calls this once a snapshot covering `log_id` is durable (and
    /// keeps `snapshot_catchup_entries` behind it); the deletion and the new
    /// `last_purged` commit together.
    async fn purge(&mut self, log_id: LogId) -> io::Result<()> {
        let bytes = encode_json(&log_id)?;
        let db = self.db.clone();
        blocking(move || db.purge_to(log_id.index, &bytes)).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn entry(term: u64, index: u64, payload: EntryPayload<Request, u64, openraft::BasicNode>) -> Entry {
        Entry { log_id: LogId::new(LeaderId { term, node_id: 7 }, index), payload }
    }

    #[test]
    fn entries_round_trip() {
        let nodes = BTreeMap::from([(7, openraft::BasicNode::new("http://a:2380"))]);
        let membership = Membership::new(vec![BTreeSet::from([7])], nodes).expect("membership");
        for e in [
            entry(1, 1, EntryPayload::Blank),
            entry(2, 2, EntryPayload::Normal(Request(b"put foo".to_vec()))),
            entry(3, 3, EntryPayload::Membership(membership)),
        ] {
            let bytes = encode_entry(&e).expect("encode");
            assert_eq!(decode_entry(e.log_id.index, bytes).expect("decode"), e);
        }
    }

    #[test]
    fn ranges_become_half_open() {
        assert_eq!(to_half_open(&(3..=5)), (3, Some(6)));
        assert_eq!(to_half_open(&(3..5)), (3, Some(5)));
        assert_eq!(to_half_open(&(..)), (0, None));
    }
}
