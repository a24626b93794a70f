use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// A task body that fails the way `script` says on its n-th run (then
/// succeeds), recording when each run started.
fn scripted(
    script: Vec<Option<TaskError>>,
    runs: Arc<std::sync::Mutex<Vec<Instant>>>,
) -> impl FnMut() -> futures::future::BoxFuture<'static, Result<(), TaskError>> + Send + 'static {
    let n = Arc::new(AtomicU32::new(0));
    move || {
        let i = n.fetch_add(1, Ordering::SeqCst) as usize;
        let outcome = script.get(i).cloned().flatten();
        runs.lock().expect("runs").push(Instant::now());
        Box::pin(async move {
            match outcome {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    }
}

async fn settle() {
    // Paused time advances only when every task waits on a timer.
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_task_is_restarted_with_doubling_pauses_until_it_succeeds() {
    let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let fail = || Some(TaskError::Transient("no leader".into()));
    let mut sup = Supervisor::new();
    sup.spawn("t", scripted(vec![fail(), fail(), fail(), None], runs.clone()));
    settle().await;
    let runs = runs.lock().expect("runs").clone();
    assert_eq!(runs.len(), 4, "three failures, then the run that succeeds; no run after it");
    let pauses: Vec<Duration> = runs.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(pauses, [Backoff::FIRST, Backoff::FIRST * 2, Backoff::FIRST * 4]);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_task_is_restarted_and_the_panic_does_not_spread() {
    let runs = Arc::new(AtomicU32::new(0));
    let mut sup = Supervisor::new();
    let counted = runs.clone();
    sup.spawn("panics", move || {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            assert!(n >= 2, "planted panic {n}");
            Ok(())
        }
    });
    settle().await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_fatal_failure_is_not_retried_and_stops_the_member() {
    let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut sup = Supervisor::new();
    let fatal = sup.fatal();
    sup.spawn("compactor", scripted(vec![Some(TaskError::Fatal("backend: disk gone".into()))], runs.clone()));
    sup.spawn("other", scripted(vec![Some(TaskError::Fatal("second".into()))], Arc::default()));
    let reason = tokio::time::timeout(Duration::from_secs(1), fatal).await.expect("fatal resolves").expect("a reason");
    assert!(reason == "compactor: backend: disk gone" || reason == "other: second", "{reason}");
    settle().await;
    assert_eq!(runs.lock().expect("runs").len(), 1, "a fatal failure is never retried");
    // The first reason stays the reason.
    assert_eq!(tokio::time::timeout(Duration::from_secs(1), sup.fatal()).await.expect("still fatal"), Some(reason));
    sup.shutdown().await;
}

#[test]
fn the_backoff_is_capped_and_starts_over_after_a_healthy_run() {
    let mut b = Backoff::new();
    let short = Duration::from_millis(1);
    let pauses: Vec<Duration> = (0..12).map(|_| b.after(short)).collect();
    assert_eq!(pauses[0], Backoff::FIRST);
    assert_eq!(*pauses.last().expect("pauses"), Backoff::MAX);
    assert!(pauses.windows(2).all(|w| w[1] >= w[0]));
    assert_eq!(b.after(Backoff::HEALTHY), Backoff::FIRST);
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_a_running_task() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut sup = Supervisor::new();
    let mut tx = Some(tx);
    sup.spawn("forever", move || {
        // Dropped, with the task, when the task is aborted.
        let guard = tx.take();
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    tokio::task::yield_now().await;
    let fatal = sup.fatal();
    sup.shutdown().await;
    assert!(rx.await.is_err(), "the task's state was dropped: the task ended");
    assert_eq!(fatal.await, None, "no fatal failure, and the wait for one ends");
}
