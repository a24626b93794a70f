//! Raft snapshots on disk, in `<raft_dir>/snap/`.
//!
//! A snapshot is a file the state machine above writes ([`Apply::build_snapshot`])
//! and reads back ([`Apply::install_snapshot`]); this crate only names, moves and
//! streams it. The file records the `raft_state` it was taken at, so its openraft
//! meta (last log id, membership) is read from the file itself and a crash
//! between writing a snapshot and recording its meta cannot pair the two wrongly.
//!
//! ```text
//! snap/current.snap     the latest snapshot: sent to lagging members, and
//!                       installed at start if the state machine lost newer state
//! snap/building.snap    being written by the builder (removed at start)
//! snap/recv-<n>.snap    being received from the leader (removed at start)
//! ```
//!
//! A snapshot replaces `current.snap` by an atomic rename, and only if it is
//! newer: a build that finishes after an install of a newer snapshot is dropped.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::apply::Apply;
use crate::error::io_err;
use crate::raft_state::RaftState;
use crate::type_config::{Snapshot, SnapshotMeta};

/// Snapshot data as openraft carries it: a file and the path it was opened at
/// (a handle stays readable when the file is replaced meanwhile).
#[derive(Debug)]
pub(crate) struct SnapshotFile {
    pub(crate) path: PathBuf,
    pub(crate) file: File,
}

/// The snapshot directory; clones share it.
#[derive(Clone)]
pub(crate) struct SnapshotDir {
    dir: PathBuf,
    /// Serialises replacing `current.snap`.
    promote: Arc<Mutex<()>>,
    receiving: Arc<AtomicU64>,
}

impl SnapshotDir {
    /// Creates `<raft_dir>/snap` if needed and removes what an interrupted
    /// build or transfer left.
    pub(crate) fn open(raft_dir: &Path) -> io::Result<SnapshotDir> {
        let dir = raft_dir.join("snap");
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if name == "building.snap" || name.starts_with("recv-") {
                tracing::info!(file = %name, "raft: removing an unfinished snapshot");
                std::fs::remove_file(dir.join(&*name))?;
            }
        }
        Ok(SnapshotDir { dir, promote: Arc::default(), receiving: Arc::default() })
    }

    pub(crate) fn current(&self) -> PathBuf {
        self.dir.join("current.snap")
    }

    pub(crate) fn building(&self) -> PathBuf {
        self.dir.join("building.snap")
    }

    /// A fresh name for a snapshot being received.
    pub(crate) fn receiving(&self) -> PathBuf {
        self.dir.join(format!("recv-{}.snap", self.receiving.fetch_add(1, Ordering::Relaxed)))
    }

    /// The current snapshot and its meta, if there is one.
    pub(crate) fn load_current(&self, apply: &dyn Apply) -> io::Result<Option<Snapshot>> {
        let path = self.current();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = meta_of(apply, &path)?;
        Ok(Some(Snapshot { meta, snapshot: SnapshotFile { path, file } }))
    }

    /// Makes the snapshot at `path` (with `meta`) the current one, unless the
    /// current one is at least as new; either way `path` is gone afterwards
    /// (unless it is the current file itself).
    pub(crate) fn promote(&self, apply: &dyn Apply, path: &Path, meta: &SnapshotMeta) -> io::Result<()> {
        let current = self.current();
        if path == current {
            return Ok(());
        }
        let _one = self.promote.lock().unwrap_or_else(PoisonError::into_inner);
        let newer = match self.load_current(apply)? {
            Some(cur) => cur.meta.last_log_id < meta.last_log_id,
            None => true,
        };
        if !newer {
            return std::fs::remove_file(path);
        }
        std::fs::rename(path, &current)?;
        File::open(&self.dir)?.sync_all()
    }
}

/// The openraft meta of the snapshot file at `path`, from the `raft_state`
/// recorded in it.
pub(crate) fn meta_of(apply: &dyn Apply, path: &Path) -> io::Result<SnapshotMeta> {
    let blob = apply.snapshot_state(path).map_err(io_err)?;
    let (applied, state) = RaftState::decode(&blob).map_err(io_err)?;
    Ok(SnapshotMeta { last_log_id: Some(applied), last_membership: state.membership().clone() })
}

/// Builds a snapshot into `building.snap` and makes it current.
pub(crate) fn build(apply: &dyn Apply, dir: &SnapshotDir) -> io::Result<Snapshot> {
    let building = dir.building();
    let started = std::time::Instant::now();
    let blob = apply.build_snapshot(&building).map_err(io_err)?;
    let (applied, state) = RaftState::decode(&blob).map_err(io_err)?;
    let meta = SnapshotMeta { last_log_id: Some(applied), last_membership: state.membership().clone() };
    dir.promote(apply, &building, &meta)?;
    tracing::info!(
        index = applied.index,
        term = applied.leader_id.term,
        took_ms = started.elapsed().as_millis() as u64,
        "raft: built a snapshot"
    );
    // The current file may be a newer one installed meanwhile: hand out that.
    dir.load_current(apply)?.ok_or_else(|| io_err("the snapshot just built is gone"))
}
