//! `Snapshot`: streams a logical dump of this member's `state.redb`
//! (`backend::SnapshotDump`, format in `docs/storage-format.md`).
//!
//! The dump runs on the blocking pool and feeds a bounded channel, so a slow
//! client holds at most [`IN_FLIGHT`] chunks in memory and the dump waits for
//! it; a client that goes away ends the dump at its next chunk. The dump reads
//! from one redb read transaction, which never blocks writers.
//!
//! The messages are etcd's (3.4 `maintenanceServer.Snapshot`): blobs of
//! [`CHUNK_BYTES`] with `remaining_bytes` counting the content still to come
//! (0 on the last content chunk), then one last message holding the 32-byte
//! SHA-256 trailer, also with `remaining_bytes` 0. etcd sets no header on
//! these messages, and neither does Strata; etcd 3.6 sets `version` (the
//! storage version, which etcdctl 3.6 prints as "Server version") on each.

use std::io::{self, Write};
use std::time::Instant;

use api::etcdserverpb::SnapshotResponse;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::SnapshotStream;
use crate::error::EtcdError;
use crate::member::Member;

/// Blob size of one message, etcd's.
const CHUNK_BYTES: usize = 32 * 1024;
/// Messages queued for a slow client before the dump waits.
const IN_FLIGHT: usize = 16;

/// Starts the dump and hands back the stream of its messages.
pub fn snapshot(member: &Member) -> SnapshotStream {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let backend = member.store.backend().clone();
    let version = member.versions.storage().to_string();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let result = backend.snapshot().and_then(|dump| {
            tracing::info!(total_bytes = dump.size_bytes(), "sending database snapshot to client");
            let buf = Vec::with_capacity(CHUNK_BYTES);
            let mut sink = Chunks { tx: &tx, buf, taken: 0, content: dump.content_bytes(), version: &version };
            dump.write_to(&mut sink).map(|_| dump.size_bytes())
        });
        match result {
            Ok(size) => {
                tracing::info!(size_bytes = size, took = ?started.elapsed(), "sent database snapshot to client");
            }
            Err(e) if tx.is_closed() => {
                tracing::warn!(error = %e, "snapshot receiver went away; stopped the dump");
            }
            Err(e) => {
                tracing::error!(error = %e, "failed to send database snapshot");
                let _ = tx.blocking_send(Err(EtcdError::Internal(e.to_string()).into()));
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// Cuts what the dump writes into etcd's messages.
struct Chunks<'a> {
    tx: &'a mpsc::Sender<Result<SnapshotResponse, Status>>,
    buf: Vec<u8>,
    /// Bytes accepted so far.
    taken: u64,
    /// Bytes before the trailer.
    content: u64,
    /// The storage version every message carries.
    version: &'a str,
}

impl Chunks<'_> {
    fn send(&mut self) -> io::Result<()> {
        let blob = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
        let remaining_bytes = self.content.saturating_sub(self.taken);
        let msg = SnapshotResponse { remaining_bytes, blob, version: self.version.to_string(), header: None };
        self.tx.blocking_send(Ok(msg)).map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl Write for Chunks<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        while !rest.is_empty() {
            let in_content = self.taken < self.content;
            let mut room = CHUNK_BYTES - self.buf.len();
            if in_content {
                // The trailer travels alone, as etcd sends it.
                room = room.min((self.content - self.taken) as usize);
            }
            let n = room.min(rest.len());
            self.buf.extend_from_slice(&rest[..n]);
            self.taken += n as u64;
            rest = &rest[n..];
            if self.buf.len() == CHUNK_BYTES || (in_content && self.taken == self.content) {
                self.send()?;
            }
        }
        Ok(data.len())
    }

    /// Called once, after the trailer: sends what is left.
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() { Ok(()) } else { self.send() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(content: u64, writes: &[usize]) -> Vec<(u64, usize)> {
        let (tx, mut rx) = mpsc::channel(1024);
        let mut c = Chunks { tx: &tx, buf: Vec::new(), taken: 0, content, version: "3.6.0" };
        for n in writes {
            c.write_all(&vec![1u8; *n]).expect("write");
        }
        c.flush().expect("flush");
        drop(tx);
        let mut out = Vec::new();
        while let Ok(Ok(m)) = rx.try_recv() {
            assert_eq!(m.version, "3.6.0", "every message carries the storage version (etcd 3.6)");
            out.push((m.remaining_bytes, m.blob.len()));
        }
        out
    }

    #[test]
    fn content_is_cut_in_32k_blobs_counting_down_then_the_trailer_alone() {
        let content = 2 * CHUNK_BYTES as u64 + 512;
        let got = collect(content, &[64 * 1024, 100, 412, 32]);
        assert_eq!(
            got,
            [(content - 32768, 32768), (512, 32768), (0, 512), (0, 32)],
            "etcd: remaining_bytes counts the content only; the sha comes last"
        );
    }

    #[test]
    fn a_small_dump_is_one_blob_and_the_trailer() {
        assert_eq!(collect(512, &[20, 492, 32]), [(0, 512), (0, 32)]);
    }

    #[test]
    fn a_closed_receiver_fails_the_write() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut c = Chunks { tx: &tx, buf: Vec::new(), taken: 0, content: 10, version: "3.6.0" };
        let e = c.write_all(&[0; 10]).expect_err("no receiver");
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
