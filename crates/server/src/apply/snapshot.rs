//! Raft snapshots of the store: a logical dump of `state.redb` (the format of
//! `Maintenance.Snapshot` and `stratactl snapshot save`), taken from one read
//! transaction so it is one applied state, with that state's `raft_state`.

use std::fs::File;
use std::path::Path;

use backend::{Backend, LoadOptions, MetaKey};
use mvcc::Store;

/// Writes a dump of `store` to `path`, durable on return; answers the Raft
/// state recorded in it.
pub(super) fn build(store: &Store, path: &Path) -> Result<Vec<u8>, raft::ApplyError> {
    let dump = store.backend().snapshot()?;
    let state = dump
        .meta(MetaKey::ConsistentIndex)?
        .ok_or_else(|| raft::ApplyError::new("snapshot: nothing has been applied yet"))?;
    let io = |e: std::io::Error| raft::ApplyError::new(format!("snapshot {}: {e}", path.display()));
    let mut file = File::create(path).map_err(io)?;
    dump.write_to(&mut file)?;
    file.sync_all().map_err(io)?;
    Ok(state)
}

/// The Raft state recorded in the dump at `path`.
pub(super) fn raft_state(path: &Path) -> Result<Vec<u8>, raft::ApplyError> {
    backend::snapshot_meta(path, MetaKey::ConsistentIndex)?
        .ok_or_else(|| raft::ApplyError::new(format!("snapshot {} records no raft state", path.display())))
}

/// Loads the dump at `path` (checking its SHA-256) into a new database next to
/// the store's, keeping this member's identity, and puts it in place of the
/// store's. Answers the compaction to resume, if the dump has one pending.
pub(super) fn install(store: &Store, path: &Path) -> Result<Option<mvcc::Compaction>, raft::ApplyError> {
    let target = store.backend().install_target();
    match std::fs::remove_file(&target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(raft::ApplyError::new(format!("remove {}: {e}", target.display()))),
    }
    let identity = store.backend().begin_read()?.meta(MetaKey::MemberIdentity)?;
    let opts = LoadOptions { skip_hash_check: false, without_meta: &[MetaKey::MemberIdentity] };
    backend::load_snapshot(path, &target, &opts, |_| {})?;
    if let Some(identity) = identity {
        let loaded = Backend::open(&target)?;
        let mut w = loaded.begin_write()?;
        w.put_meta(MetaKey::MemberIdentity, &identity)?;
        w.commit(true)?;
    }
    store.install(&target).map_err(|e| raft::ApplyError::new(e.to_string()))
}
