//! Opening a redb file that may not exist yet, so that a crash while it is
//! being created never leaves a file the next start refuses.
//!
//! redb writes a new file's header in steps, its magic number last: a crash
//! in between (found by the power-loss tests) leaves a non-empty file that
//! redb rejects for good ("magic number mismatch"), and the member could not
//! start until someone deleted it. So a missing file is created whole under
//! `<name>.new`, closed (redb syncs it), and renamed into place; the name
//! only ever points at a complete file. A `.new` left by a crash is removed.

use std::path::{Path, PathBuf};

use redb::{Database, DatabaseError};

use crate::error::{Error, Result, storage};
use crate::fs::Fs;

/// Opens the redb database at `path`, creating it first if it is missing.
/// `what` names it in errors ("state db", "raft log").
pub(crate) fn open_or_create(fs: &Fs, path: &Path, what: &'static str) -> Result<Database> {
    if let Some(dir) = path.parent() {
        create_dirs(fs, dir)?;
    }
    if !fs.exists(path) {
        let fresh = fresh_path(path);
        remove_if_present(fs, &fresh)?;
        drop(fs.open_db(&fresh).map_err(storage(what))?);
        fs.rename(&fresh, path).map_err(|source| Error::Io { op: "rename new database", source })?;
        fs.sync_dir(path)?;
    }
    fs.open_db(path).map_err(|e| match e {
        DatabaseError::DatabaseAlreadyOpen => Error::Locked { path: path.display().to_string() },
        other => storage(what)(other),
    })
}

/// Creates `dir` and its missing parents, then fsyncs the directory each new
/// one was made in: a new directory's name is durable only once its parent
/// is synced (POSIX), and the files about to be made in it go with it. Found
/// by the power-loss tests (`tests/file_power_loss`): a first start that
/// created `member/` could lose it, and every durable commit in it, to a
/// power cut. When `dir` exists this costs one `stat`.
pub(crate) fn create_dirs(fs: &Fs, dir: &Path) -> Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|a| !a.as_os_str().is_empty() && !fs.exists(a)).collect();
    fs.create_dir_all(dir).map_err(|source| Error::Io { op: "create data dir", source })?;
    // Outermost first: each sync makes the next one's directory reachable.
    for new in missing.iter().rev() {
        fs.sync_dir(new)?;
    }
    Ok(())
}

pub(crate) fn fresh_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

fn remove_if_present(fs: &Fs, path: &Path) -> Result<()> {
    match fs.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io { op: "remove unfinished new database", source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_creation_cut_short_is_redone_and_the_leftover_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("member").join("state.redb");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        // What a crash during redb's creation leaves: a header without its magic.
        std::fs::write(fresh_path(&path), vec![0u8; 4096]).expect("write");
        let db = open_or_create(&Fs::Real, &path, "state db").expect("open");
        assert!(db.begin_write().is_ok());
        assert!(!fresh_path(&path).exists(), "the unfinished file is gone");
        drop(db);
        assert!(open_or_create(&Fs::Real, &path, "state db").is_ok(), "reopens");
    }
}
