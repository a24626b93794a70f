//! `Defragment`: shrink this member's file while it keeps serving.

use std::time::Instant;

use api::etcdserverpb::DefragmentResponse;

use crate::error::{EtcdError, EtcdResult};
use crate::member::Member;
use crate::metrics as m;

/// etcd's `Defragment`, local to this member and not replicated. Reads never
/// wait; writes wait only for the final catch-up (`mvcc::Store::defragment`).
/// A second request while one runs waits for it and then runs again.
pub async fn defragment(member: &Member) -> EtcdResult<DefragmentResponse> {
    let started = Instant::now();
    let path = member.store.backend().path().display().to_string();
    let before = member.usage();
    tracing::info!("starting defragment");
    tracing::info!(
        path = %path,
        current_db_size_bytes = before.db_size,
        current_db_size_in_use_bytes = before.in_use,
        "defragmenting"
    );
    let store = member.store.clone();
    let inflight = ::metrics::gauge!(m::DEFRAG_INFLIGHT);
    inflight.increment(1.0);
    let result = tokio::task::spawn_blocking(move || store.defragment()).await;
    inflight.decrement(1.0);
    let result = result.map_err(|e| EtcdError::Internal(e.to_string()))?;
    match result {
        Ok(report) => {
            ::metrics::histogram!(m::DEFRAG_DURATION_SECONDS).record(report.took.as_secs_f64());
            ::metrics::histogram!(m::DEFRAG_WRITE_PAUSE_SECONDS).record(report.pause.as_secs_f64());
            crate::usage::remeasure(member).await;
            let after = member.usage();
            tracing::info!(
                path = %path,
                current_db_size_bytes_diff = report.size_after as i64 - report.size_before as i64,
                current_db_size_bytes = report.size_after,
                current_db_size_in_use_bytes = after.in_use,
                copied_records = report.copied,
                caught_up_records = report.caught_up,
                took = ?started.elapsed(),
                write_pause = ?report.pause,
                "defragmented"
            );
            tracing::info!("finished defragment");
            Ok(DefragmentResponse::default())
        }
        Err(e) => {
            tracing::warn!(error = %e, "failed to defragment");
            Err(EtcdError::Internal(e.to_string()))
        }
    }
}
