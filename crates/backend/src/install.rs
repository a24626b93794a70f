//! Installing a whole new database in place of the open one: how a member
//! that fell behind takes a Raft snapshot from its leader.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backend::Backend;
use crate::error::{Error, Result, storage};
use crate::fs::Fs;

/// Where a snapshot is loaded before it replaces the database at `path`.
fn target(path: &Path) -> PathBuf {
    path.with_extension("redb.install")
}

/// Removes what an install cut short left next to `path` (the database being
/// loaded, or the file redb was creating for it): the database at `path` is
/// still the complete old one.
pub(crate) fn remove_leftover(fs: &Fs, path: &Path) -> Result<()> {
    let target = target(path);
    for leftover in [crate::create::fresh_path(&target), target] {
        match fs.remove_file(&leftover) {
            Ok(()) => tracing::warn!(path = %leftover.display(), "removed the file left by an interrupted install"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { op: "remove leftover install", source }),
        }
    }
    Ok(())
}

impl Backend {
    /// Where a snapshot to install is loaded (`state.redb.install`), before
    /// [`Backend::replace_with`] puts it in place.
    pub fn install_target(&self) -> PathBuf {
        target(&self.path)
    }

    /// Puts the database at `new_path` (complete and durable, in the same
    /// directory as this one so the rename is atomic) in place of this one,
    /// under every clone at once, as a defragmentation does. The caller keeps
    /// writers out meanwhile; readers that began before go on reading the old
    /// file, which is closed on a thread of its own once they are done.
    pub fn replace_with(&self, new_path: &Path) -> Result<()> {
        let new_db = self.fs.open_db(new_path).map_err(storage("open the installed state db"))?;
        self.fs.rename(new_path, &self.path).map_err(|source| Error::Io { op: "rename installed state db", source })?;
        let old = std::mem::replace(&mut *self.db.write().unwrap_or_else(|p| p.into_inner()), Arc::new(new_db));
        self.fs.retire(old);
        self.fs.sync_dir(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Backend, MetaKey};

    #[test]
    fn an_install_cut_short_leaves_nothing_after_the_next_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.redb");
        drop(Backend::open(&path).expect("open"));
        let leftovers = [dir.path().join("state.redb.install"), dir.path().join("state.redb.install.new")];
        for f in &leftovers {
            std::fs::write(f, b"half a database").expect("write");
        }
        let backend = Backend::open(&path).expect("reopen");
        assert_eq!(backend.install_target(), leftovers[0]);
        assert!(leftovers.iter().all(|f| !f.exists()), "leftovers removed");
    }

    #[test]
    fn every_clone_sees_the_new_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = Backend::open(&dir.path().join("state.redb")).expect("open");
        let clone = live.clone();
        let next_path = dir.path().join("state.redb.install");
        let next = Backend::open(&next_path).expect("open next");
        let mut w = next.begin_write().expect("write");
        w.put_meta(MetaKey::ConsistentIndex, b"installed").expect("put");
        w.commit(true).expect("commit");
        drop(next);

        live.replace_with(&next_path).expect("replace");
        assert!(!next_path.exists());
        let got = clone.begin_read().expect("read").meta(MetaKey::ConsistentIndex).expect("meta");
        assert_eq!(got.as_deref(), Some(&b"installed"[..]));
        drop((live, clone));
        let reopened = Backend::open(&dir.path().join("state.redb")).expect("reopen");
        let got = reopened.begin_read().expect("read").meta(MetaKey::ConsistentIndex).expect("meta");
        assert_eq!(got.as_deref(), Some(&b"installed"[..]));
    }
}
