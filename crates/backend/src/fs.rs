//! The filesystem calls that make, replace and remove whole database files
//! (`create.rs`, `defrag.rs`, `install.rs`), behind one seam so that the
//! power-loss tests can run them on a simulated filesystem.
//!
//! [`Fs::Real`] is what production uses: each method is the one `std::fs` or
//! redb call the code made before this seam existed, nothing added. Without
//! the `fault-injection` feature it is the only variant, so every `match`
//! below has one arm. [`Fs::Faulty`] is [`crate::fault_fs::FaultyFs`]: files
//! that lose what was not synced and a directory whose changes are lost until
//! it is fsynced.

use std::io;
use std::path::Path;
use std::sync::Arc;

use redb::{Database, DatabaseError};

use crate::error::{Error, Result};

/// Where a [`crate::Backend`]'s files live.
#[derive(Clone)]
pub(crate) enum Fs {
    /// The operating system's filesystem.
    Real,
    /// A simulated one (power-loss tests).
    #[cfg(feature = "fault-injection")]
    Faulty(crate::fault_fs::FaultyFs),
}

impl Fs {
    pub(crate) fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        match self {
            Fs::Real => std::fs::create_dir_all(dir),
            #[cfg(feature = "fault-injection")]
            Fs::Faulty(fs) => fs.create_dir_all(dir),
        }
    }

    pub(crate) fn exists(&self, path: &Path) -> bool {
        match self {
            Fs::Real => path.exists(),
            #[cfg(feature = "fault-injection")]
            Fs::Faulty(fs) => fs.exists(path),
        }
    }

    /// Opens the redb database at `path`, creating the file if it is missing
    /// (redb's `create`).
    pub(crate) fn open_db(&self, path: &Path) -> Result<Database, DatabaseError> {
        match self {
            Fs::Real => Database::builder().create(path),
            #[cfg(feature = "fault-injection")]
            Fs::Faulty(fs) => fs.open_db(path),
        }
    }

    pub(crate) fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        match self {
            Fs::Real => std::fs::rename(from, to),
            #[cfg(feature = "fault-injection")]
            Fs::Faulty(fs) => fs.rename(from, to),
        }
    }

    pub(crate) fn remove_file(&self, path: &Path) -> io::Result<()> {
        match self {
            Fs::Real => std::fs::remove_file(path),
            #[cfg(feature = "fault-injection")]
            Fs::Faulty(fs) => fs.remove_file(path),
        }
    }

    /// Length of the file at `path`.
    pub(crate) fn len(&self, path: &Path) -> io::Result<u64> {
        match self {
            Fs::Real => std::fs::metadata(path).map(|m| m.len()),
            #[cfg(feature = "fault-injection")]
            Fs::Faulty(fs) => fs.len(path),
        }
    }

    /// Fsyncs the directory holding `path`, making the creations, renames
    /// and removals of names in it durable.
    pub(crate) fn sync_dir(&self, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new(""));
        let synced = match self {
            // A bare file name's parent is the empty path, which `open`
            // refuses: it means the current directory.
            Fs::Real => {
                let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
                std::fs::File::open(dir).and_then(|d| d.sync_all())
            }
            #[cfg(feature = "fault-injection")]
            Fs::Faulty(fs) => fs.sync_dir(dir),
        };
        synced.map_err(|source| Error::Io { op: "sync data dir after defrag", source })
    }

    /// Closes a replaced database once its last reader is done
    /// ([`crate::defrag::retire`]).
    pub(crate) fn retire(&self, old: Arc<Database>) {
        match self {
            Fs::Real => crate::defrag::retire(old),
            // redb's close fsyncs the old file: on a thread of its own that
            // sync would race the caller's, and the tests number sync points.
            // With no reader left (the tests' case) close it here instead.
            #[cfg(feature = "fault-injection")]
            Fs::Faulty(_) => match Arc::try_unwrap(old) {
                Ok(db) => drop(db),
                Err(shared) => crate::defrag::retire(shared),
            },
        }
    }
}
