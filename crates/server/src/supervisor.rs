//! [`Supervisor`]: every background task of a member runs under it, with one
//! of two policies (ARCHITECTURE.md, "Supervision", lists which task has
//! which):
//!
//! - **restart**: a task that returns [`TaskError::Transient`] or panics is
//!   logged and started again after a backoff that doubles from
//!   [`Backoff::FIRST`] up to [`Backoff::MAX`], and starts over once a run
//!   lasted [`Backoff::HEALTHY`]. A job that must not be lost across a
//!   restart (the compactor's) keeps it outside the task body.
//! - **stop**: a task that returns [`TaskError::Fatal`] (broken storage, Raft
//!   stopped on a fatal error) is not restarted; the supervisor records the
//!   first such reason and [`Supervisor::fatal`] resolves with it, upon which
//!   the member raises the CORRUPT alarm if it still can and stops, as etcd
//!   does rather than serve from storage it cannot trust.
//!
//! A task that returns `Ok(())` has finished its work and is not restarted.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Why a background task ended early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// Worth another try after a pause (a proposal timed out, no leader).
    #[error("{0}")]
    Transient(String),
    /// The member cannot go on (storage failed, Raft stopped on an error).
    #[error("{0}")]
    Fatal(String),
}

impl From<mvcc::Error> for TaskError {
    /// Every mvcc failure a background task meets is the backend's or a
    /// record's that does not decode: storage the member cannot trust.
    fn from(e: mvcc::Error) -> TaskError {
        TaskError::Fatal(e.to_string())
    }
}

/// The pause before a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(100);
    pub const MAX: Duration = Duration::from_secs(30);
    /// A run this long counts as healthy: the next failure waits FIRST again.
    pub const HEALTHY: Duration = Duration::from_secs(60);

    fn new() -> Backoff {
        Backoff { next: Backoff::FIRST }
    }

    /// The pause after a run that lasted `ran`, and the one after the next.
    fn after(&mut self, ran: Duration) -> Duration {
        if ran >= Backoff::HEALTHY {
            self.next = Backoff::FIRST;
        }
        let pause = self.next;
        self.next = (self.next * 2).min(Backoff::MAX);
        pause
    }
}

/// Owns a member's background tasks; see the module doc.
pub struct Supervisor {
    tasks: Vec<(&'static str, JoinHandle<()>)>,
    fatal: watch::Sender<Option<String>>,
}

impl Default for Supervisor {
    fn default() -> Supervisor {
        Supervisor::new()
    }
}

impl Supervisor {
    pub fn new() -> Supervisor {
        Supervisor { tasks: Vec::new(), fatal: watch::channel(None).0 }
    }

    /// Runs the task `make` builds under the policies above, as `name` in the
    /// logs and in `strata_task_restarts_total`.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, mut make: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
    {
        let fatal = self.fatal.clone();
        let handle = tokio::spawn(async move {
            let mut backoff = Backoff::new();
            loop {
                let started = Instant::now();
                // A panic ends the inner task only: it is seen here as an error.
                let mut run = AbortOnDrop(tokio::spawn(make()));
                let outcome = match (&mut run.0).await {
                    Ok(result) => result,
                    Err(e) if e.is_panic() => Err(TaskError::Transient(format!("panicked: {}", panic_text(e)))),
                    // Cancelled: the supervisor itself is being aborted.
                    Err(_) => return,
                };
                match outcome {
                    Ok(()) => return,
                    Err(TaskError::Fatal(reason)) => {
                        tracing::error!(task = name, error = %reason, "background task failed; the member stops");
                        fatal.send_if_modified(|first| {
                            first.is_none() && first.replace(format!("{name}: {reason}")).is_none()
                        });
                        return;
                    }
                    Err(TaskError::Transient(reason)) => {
                        let pause = backoff.after(started.elapsed());
                        tracing::warn!(task = name, error = %reason, restart_in = ?pause, "background task failed; restarting it");
                        metrics::counter!(crate::metrics::TASK_RESTARTS_TOTAL, "task" => name).increment(1);
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        });
        self.tasks.push((name, handle));
    }

    /// Resolves with the first fatal failure of any task ("task: reason"),
    /// or with `None` once the supervisor and its tasks are gone without one.
    pub fn fatal(&self) -> impl Future<Output = Option<String>> + Send + 'static {
        let mut rx = self.fatal.subscribe();
        async move { rx.wait_for(Option::is_some).await.ok().and_then(|r| r.clone()) }
    }

    /// Stops every task (at its next await point) and waits until they have ended.
    pub async fn shutdown(self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
        for (name, task) in self.tasks {
            if let Err(e) = task.await
                && e.is_panic()
            {
                tracing::warn!(task = name, "background task panicked while stopping");
            }
        }
    }
}

/// Aborting the supervising task drops this, which ends the run it supervises.
struct AbortOnDrop(JoinHandle<Result<(), TaskError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    let payload = e.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".to_string())
}

#[cfg(test)]
mod tests;
