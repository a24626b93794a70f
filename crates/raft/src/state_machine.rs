//! [`StateMachine`]: openraft's state machine, delegating every entry to [`Apply`].
//!
//! Snapshots (`snapshot.rs`): openraft builds one every `snapshot_count`
//! applied entries (etcd's `--snapshot-count`) through [`Apply::build_snapshot`]
//! and then purges the log up to `snapshot_catchup_entries` before it; a
//! member that needs purged entries gets the current snapshot file streamed
//! and installs it through [`Apply::install_snapshot`].

use std::io;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend};
use tokio::sync::watch;

use crate::apply::{Apply, BatchEntry};
use crate::error::io_err;
use crate::node::InUse;
use crate::raft_state::RaftState;
use crate::snapshot::{self, SnapshotDir};
use crate::type_config::{EntryResponder, LogId, Snapshot, SnapshotData, SnapshotMeta, StoredMembership, TypeConfig};

/// Entries handed to the blocking pool at once. Bounds the memory of a long
/// re-apply after restart; a normal batch is whatever was committed together.
const APPLY_CHUNK: usize = 256;

/// The openraft state machine. It keeps the last membership in memory so the
/// `raft_state` blob of each entry costs one small copy, not a JSON encode.
pub(crate) struct StateMachine {
    apply: Arc<dyn Apply>,
    /// `None` only while a chunk is being applied on the blocking pool.
    state: Option<RaftState>,
    /// The index of the last entry applied, published before its proposer is
    /// answered (openraft's metrics publish it a little later); a follower
    /// that forwarded a request waits on it.
    applied_index: Arc<watch::Sender<u64>>,
    dir: SnapshotDir,
    _in_use: InUse,
}

impl StateMachine {
    /// Loads the applied index and the membership last recorded by `apply`.
    pub(crate) fn new(
        apply: Arc<dyn Apply>,
        applied_index: Arc<watch::Sender<u64>>,
        dir: SnapshotDir,
        in_use: InUse,
    ) -> io::Result<StateMachine> {
        let state = match apply.applied_state().map_err(io_err)? {
            Some(blob) => {
                let (applied, state) = RaftState::decode(&blob).map_err(io_err)?;
                applied_index.send_replace(applied.index);
                state
            }
            None => RaftState::new(StoredMembership::default()).map_err(io_err)?,
        };
        Ok(StateMachine { apply, state: Some(state), applied_index, dir, _in_use: in_use })
    }
}

/// Applies `chunk` in log order with one [`Apply::apply_batch`] call, then
/// publishes the applied index and answers the proposers. A failure is fatal.
fn apply_chunk(
    apply: &dyn Apply,
    state: &mut RaftState,
    applied_index: &watch::Sender<u64>,
    chunk: Vec<EntryResponder>,
) -> Result<(), String> {
    let Some(last) = chunk.last().map(|(e, _)| e.log_id.index) else { return Ok(()) };
    let mut batch = Vec::with_capacity(chunk.len());
    for (entry, _) in &chunk {
        let data = match &entry.payload {
            EntryPayload::Normal(req) => Some(req.0.as_slice()),
            EntryPayload::Blank => None,
            EntryPayload::Membership(m) => {
                *state = RaftState::new(StoredMembership::new(Some(entry.log_id), m.clone()))?;
                None
            }
        };
        batch.push(BatchEntry { index: entry.log_id.index, data, raft_state: state.encode(&entry.log_id) });
    }
    let responses = apply.apply_batch(&batch).map_err(|e| e.to_string())?;
    if responses.len() != chunk.len() {
        return Err(format!("apply_batch answered {} of {} entries", responses.len(), chunk.len()));
    }
    applied_index.send_replace(last);
    for ((_, responder), response) in chunk.into_iter().zip(responses) {
        if let Some(responder) = responder {
            responder.send(response);
        }
    }
    Ok(())
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        match self.apply.applied_state().map_err(io_err)? {
            Some(blob) => {
                let (applied, state) = RaftState::decode(&blob).map_err(io_err)?;
                Ok((Some(applied), state.membership().clone()))
            }
            None => Ok((None, StoredMembership::default())),
        }
    }

    /// Responses go to proposers as soon as their entry is applied.
    async fn apply<Strm>(&mut self, entries: Strm) -> io::Result<()>
    where
        Strm: Stream<Item = io::Result<EntryResponder>> + Unpin + OptionalSend,
    {
        let mut chunks = entries.ready_chunks(APPLY_CHUNK);
        while let Some(items) = chunks.next().await {
            let mut chunk = Vec::with_capacity(items.len());
            let mut read_error = None;
            for item in items {
                match item {
                    Ok(e) => chunk.push(e),
                    Err(e) => {
                        read_error = Some(e);
                        break;
                    }
                }
            }
            // Applied inline on the state machine's task: an entry costs tens
            // of microseconds (a non-durable commit), less than the two thread
            // hops a blocking-pool round trip adds per chunk.
            let state = self.state.as_mut().ok_or_else(|| io_err("state machine: an apply task panicked"))?;
            apply_chunk(self.apply.as_ref(), state, &self.applied_index, chunk).map_err(io_err)?;
            if let Some(e) = read_error {
                return Err(e);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder { apply: Arc::clone(&self.apply), dir: self.dir.clone() }
    }

    /// Replaces the state with the snapshot's (on the blocking pool: it reads
    /// the whole file), then makes the file the current snapshot.
    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotData) -> io::Result<()> {
        let apply = Arc::clone(&self.apply);
        let dir = self.dir.clone();
        let meta_owned = meta.clone();
        let started = std::time::Instant::now();
        tokio::task::spawn_blocking(move || {
            apply.install_snapshot(&snapshot.path).map_err(io_err)?;
            dir.promote(apply.as_ref(), &snapshot.path, &meta_owned)
        })
        .await
        .map_err(io_err)??;
        self.state = Some(RaftState::new(meta.last_membership.clone()).map_err(io_err)?);
        if let Some(last) = &meta.last_log_id {
            self.applied_index.send_replace(last.index);
        }
        tracing::info!(
            index = meta.last_log_id.as_ref().map_or(0, |id| id.index),
            took_ms = started.elapsed().as_millis() as u64,
            "raft: installed a snapshot"
        );
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> io::Result<Option<Snapshot>> {
        let apply = Arc::clone(&self.apply);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || dir.load_current(apply.as_ref())).await.map_err(io_err)?
    }
}

/// Builds a snapshot from the state machine's current state, concurrently
/// with applies (the state machine dumps one consistent read view).
pub(crate) struct SnapshotBuilder {
    apply: Arc<dyn Apply>,
    dir: SnapshotDir,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> io::Result<Snapshot> {
        let apply = Arc::clone(&self.apply);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || snapshot::build(apply.as_ref(), &dir)).await.map_err(io_err)?
    }
}
