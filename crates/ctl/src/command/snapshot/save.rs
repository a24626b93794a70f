//! `snapshot save FILE`: streams a member's snapshot into `FILE.part`, checks
//! its SHA-256 trailer, fsyncs it and renames it to `FILE`, so `FILE` exists
//! only when it is whole. Any failure (the member dies mid-stream, the trailer
//! does not match) removes `FILE.part` and exits 5, as etcdctl does. As etcdctl 3.6,
//! the member's storage version follows (`Server version 3.6.0`) when it sends one.

use super::{FileArgs, progress};
use crate::cli::GlobalFlags;
use crate::command::{Io, connect_blocking};
use crate::error::{CtlError, ExitCode, Result};
use api::etcdserverpb::SnapshotRequest;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Runs `snapshot save`.
pub async fn run(global: &GlobalFlags, f: FileArgs, io: &mut Io<'_>) -> Result<()> {
    let [path] = f.args.as_slice() else {
        return Err(CtlError::bad_args("snapshot save expects one argument <filename>"));
    };
    if global.endpoints.len() != 1 {
        return Err(interrupted(format!(
            "snapshot must be requested to one selected node, not multiple [{}]",
            global.endpoints.join(" ")
        )));
    }
    let path = PathBuf::from(path);
    let mut part = path.clone().into_os_string();
    part.push(".part");
    let part = PathBuf::from(part);
    let version = match fetch(global, &part).await {
        Ok(version) => version,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    std::fs::rename(&part, &path).map_err(|e| {
        let _ = std::fs::remove_file(&part);
        interrupted(format!("could not rename {} to {} ({e})", part.display(), path.display()))
    })?;
    sync_parent(&path);
    io.print(format!("Snapshot saved at {}\n", path.display()).as_bytes());
    if !version.is_empty() {
        io.print(format!("Server version {version}\n").as_bytes());
    }
    Ok(())
}

/// Writes the stream into `part` and checks it; the storage version of the first
/// message. The caller removes `part` on an error.
async fn fetch(global: &GlobalFlags, part: &Path) -> Result<String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(part)
        .map_err(|e| interrupted(format!("could not open {} ({e})", part.display())))?;
    let client = connect_blocking(global).await?;
    let rpc = |s: tonic::Status| interrupted(client::Error::from(s).to_string());
    let mut stream = client.maintenance().snapshot(SnapshotRequest::default()).await.map_err(rpc)?.into_inner();
    let write = |e: std::io::Error| interrupted(format!("could not write {} ({e})", part.display()));
    let mut bar = None;
    let mut version = None;
    while let Some(msg) = stream.message().await.map_err(rpc)? {
        version.get_or_insert_with(|| msg.version.clone());
        // The first message tells the size: its blob, what remains, the trailer.
        let bar = bar.get_or_insert_with(|| {
            progress(msg.remaining_bytes + msg.blob.len() as u64 + backend::SNAPSHOT_TRAILER_BYTES, "saving")
        });
        file.write_all(&msg.blob).map_err(write)?;
        bar.inc(msg.blob.len() as u64);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    file.sync_all().map_err(write)?;
    drop(file);
    backend::verify_snapshot_sha256(part).map_err(|e| {
        let why = match e {
            backend::Error::Corrupt { detail, .. } => detail,
            other => other.to_string(),
        };
        interrupted(format!("the snapshot received is incomplete or corrupt: {why}"))
    })?;
    Ok(version.unwrap_or_default())
}

fn interrupted(message: String) -> CtlError {
    CtlError::new(ExitCode::Interrupted, message)
}

/// Makes the rename durable; a failure here leaves a whole file under one of
/// the two names, so it is not reported.
fn sync_parent(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
