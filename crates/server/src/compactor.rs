//! Runs scheduled compactions off the apply path, in bounded batches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mvcc::{Compaction, Store};
use tokio::sync::{Mutex, mpsc, watch};

use crate::supervisor::TaskError;

/// Pause between two batches, so writers get the backend in between (etcd
/// 3.4 hard-codes the same 10 ms).
const BATCH_PAUSE: Duration = Duration::from_millis(10);

/// Receives jobs from the applier and runs them one after another. `finished`
/// carries the revision of the last finished compaction, which `Compact` with
/// `physical=true` waits on. Ends when the applier is gone.
///
/// Every failure is fatal: a step fails only when the backend does, and a
/// step that panicked left its job half done where nothing can resume it
/// but a restart of the member, which finds `scheduledCompactRev` ahead of
/// `finishedCompactRev` and runs the job again (`mvcc::Store::open`).
pub async fn run(
    store: Store,
    jobs: Arc<Mutex<mpsc::UnboundedReceiver<Compaction>>>,
    finished: watch::Sender<i64>,
    batch_limit: usize,
) -> Result<(), TaskError> {
    let mut jobs = jobs.lock().await;
    while let Some(mut job) = jobs.recv().await {
        let started = Instant::now();
        let rev = job.rev();
        loop {
            let s = store.clone();
            let step = tokio::task::spawn_blocking(move || {
                let deleted = job.deleted();
                let started = Instant::now();
                let done = job.step(&s, batch_limit);
                // The step held the store's writer for this long.
                metrics::histogram!(crate::metrics::COMPACTION_PAUSE_MS).record(millis(started.elapsed()));
                metrics::counter!(crate::metrics::COMPACTION_KEYS_TOTAL).increment(job.deleted() - deleted);
                (job, done)
            })
            .await;
            let (j, done) = step.map_err(|e| TaskError::Fatal(format!("compaction at {rev}: {e}")))?;
            job = j;
            if done? {
                break;
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
        metrics::histogram!(crate::metrics::COMPACTION_TOTAL_MS).record(millis(started.elapsed()));
        tracing::info!(
            compact_revision = rev,
            keys = job.deleted(),
            "finished scheduled compaction at {rev} (took {:?})",
            started.elapsed()
        );
        finished.send_replace(rev);
    }
    Ok(())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests;
