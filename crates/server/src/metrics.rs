//! Metric names and the process's Prometheus recorder.
//!
//! Every metric Strata exports is named here once: etcd's names (so existing
//! dashboards and alerts work) and our own `strata_*` ones. Code that records
//! an event uses the `metrics` facade with these names, e.g.
//! `metrics::histogram!(server::metrics::DEFRAG_WRITE_PAUSE_SECONDS).record(secs)`;
//! gauges that mirror state (sizes, revisions, leadership, watchers) are set
//! when `/metrics` is scraped (`http::metrics`), not on hot paths.
//!
//! The recorder is process-wide (the facade has one global recorder): members
//! run in one process share counters and histograms. `install` is idempotent.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

// Backend and store, set at scrape time.
pub const DB_TOTAL_SIZE_BYTES: &str = "etcd_mvcc_db_total_size_in_bytes";
pub const DB_TOTAL_SIZE_IN_USE_BYTES: &str = "etcd_mvcc_db_total_size_in_use_in_bytes";
pub const QUOTA_BACKEND_BYTES: &str = "etcd_server_quota_backend_bytes";
pub const CURRENT_REVISION: &str = "etcd_debugging_mvcc_current_revision";
pub const COMPACT_REVISION: &str = "etcd_debugging_mvcc_compact_revision";
pub const KEYS_TOTAL: &str = "etcd_debugging_mvcc_keys_total";

// Compaction, recorded by the compactor.
pub const COMPACTION_KEYS_TOTAL: &str = "etcd_debugging_mvcc_db_compaction_keys_total";
pub const COMPACTION_PAUSE_MS: &str = "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds";
pub const COMPACTION_TOTAL_MS: &str = "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds";

// Raft and identity, set at scrape time (leader changes by an observer task).
pub const HAS_LEADER: &str = "etcd_server_has_leader";
pub const IS_LEADER: &str = "etcd_server_is_leader";
pub const LEADER_CHANGES_SEEN_TOTAL: &str = "etcd_server_leader_changes_seen_total";
pub const PROPOSALS_COMMITTED_TOTAL: &str = "etcd_server_proposals_committed_total";
pub const PROPOSALS_APPLIED_TOTAL: &str = "etcd_server_proposals_applied_total";
pub const SERVER_ID: &str = "etcd_server_id";
pub const SERVER_VERSION: &str = "etcd_server_version";
// The process, set at scrape time (`http/process.rs`), as Go's client exports them.
pub const PROCESS_RESIDENT_MEMORY_BYTES: &str = "process_resident_memory_bytes";
pub const PROCESS_VIRTUAL_MEMORY_BYTES: &str = "process_virtual_memory_bytes";
pub const PROCESS_CPU_SECONDS_TOTAL: &str = "process_cpu_seconds_total";
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
pub const CLUSTER_VERSION: &str = "etcd_cluster_version";
pub const HEALTH_SUCCESS: &str = "etcd_server_health_success";
pub const HEALTH_FAILURES: &str = "etcd_server_health_failures";

// Defragmentation, recorded by the defragmenter.
pub const DEFRAG_INFLIGHT: &str = "etcd_disk_defrag_inflight";
pub const DEFRAG_DURATION_SECONDS: &str = "etcd_disk_backend_defrag_duration_seconds";

// Watch load, set at scrape time from the watch hub.
pub const WATCHER_TOTAL: &str = "etcd_debugging_mvcc_watcher_total";
pub const WATCH_STREAM_TOTAL: &str = "etcd_debugging_mvcc_watch_stream_total";
pub const SLOW_WATCHER_TOTAL: &str = "etcd_debugging_mvcc_slow_watcher_total";

// Strata's own.
/// How long a defrag held writes back for its final catch-up and swap.
pub const DEFRAG_WRITE_PAUSE_SECONDS: &str = "strata_defrag_write_pause_seconds";
/// Scheduled compaction revision minus the last finished one.
pub const COMPACTION_BACKLOG_REVISIONS: &str = "strata_compaction_backlog_revisions";
/// The oldest revision reads may still ask for.
pub const OLDEST_RETAINED_REVISION: &str = "strata_oldest_retained_revision";
/// The index of the last Raft log entry purged behind a snapshot (0 before any).
pub const RAFT_LOG_PURGED_INDEX: &str = "strata_raft_log_purged_index";
/// Restarts of a background task after it failed (label `task`).
pub const TASK_RESTARTS_TOTAL: &str = "strata_task_restarts_total";

/// How often buffered histogram samples are folded in when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the global recorder once (with etcd's histogram buckets and the
/// descriptions above) and returns the handle that renders it. If another
/// recorder was installed first, facade metrics go there and this handle
/// renders only what `/metrics` sets itself.
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        match ::metrics::set_global_recorder(recorder) {
            Ok(()) => {
                describe();
                register_zeroes();
            }
            Err(e) => tracing::warn!(error = %e, "a metrics recorder is already installed; /metrics shows scrape-time gauges only"),
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let h = handle.clone();
            rt.spawn(async move {
                let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
                loop {
                    tick.tick().await;
                    h.run_upkeep();
                }
            });
        }
        handle
    })
}

fn builder() -> PrometheusBuilder {
    // etcd's buckets: prometheus.ExponentialBuckets(start, 2, count).
    let buckets = [
        (COMPACTION_PAUSE_MS, exponential(1.0, 13)),
        (COMPACTION_TOTAL_MS, exponential(100.0, 14)),
        (DEFRAG_DURATION_SECONDS, exponential(0.1, 13)),
        (DEFRAG_WRITE_PAUSE_SECONDS, exponential(0.001, 14)),
    ];
    buckets.into_iter().fold(PrometheusBuilder::new(), |b, (name, values)| {
        b.set_buckets_for_metric(Matcher::Full(name.to_string()), &values).expect("bucket lists are not empty")
    })
}

fn exponential(start: f64, count: i32) -> Vec<f64> {
    (0..count).map(|i| start * 2f64.powi(i)).collect()
}

/// HELP lines: etcd's texts for etcd's metrics.
pub fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(DB_TOTAL_SIZE_BYTES, "Total size of the underlying database physically allocated in bytes.");
    describe_gauge!(DB_TOTAL_SIZE_IN_USE_BYTES, "Total size of the underlying database logically in use in bytes.");
    describe_gauge!(QUOTA_BACKEND_BYTES, "Current backend storage quota size in bytes.");
    describe_gauge!(CURRENT_REVISION, "The current revision of store.");
    describe_gauge!(COMPACT_REVISION, "The revision of the last compaction in store.");
    describe_gauge!(KEYS_TOTAL, "Total number of keys.");
    describe_counter!(COMPACTION_KEYS_TOTAL, "Total number of db keys compacted.");
    describe_histogram!(COMPACTION_PAUSE_MS, "Bucketed histogram of db compaction pause duration.");
    describe_histogram!(COMPACTION_TOTAL_MS, "Bucketed histogram of db compaction total duration.");
    describe_gauge!(HAS_LEADER, "Whether or not a leader exists. 1 is existence, 0 is not.");
    describe_gauge!(IS_LEADER, "Whether or not this member is a leader. 1 if is, 0 otherwise.");
    describe_counter!(LEADER_CHANGES_SEEN_TOTAL, "The number of leader changes seen.");
    describe_gauge!(PROPOSALS_COMMITTED_TOTAL, "The total number of consensus proposals committed.");
    describe_gauge!(PROPOSALS_APPLIED_TOTAL, "The total number of consensus proposals applied.");
    describe_gauge!(SERVER_ID, "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.");
    describe_gauge!(SERVER_VERSION, "Which version is running. 1 for 'server_version' label with current version.");
    describe_gauge!(PROCESS_RESIDENT_MEMORY_BYTES, "Resident memory size in bytes.");
    describe_gauge!(PROCESS_VIRTUAL_MEMORY_BYTES, "Virtual memory size in bytes.");
    describe_gauge!(PROCESS_CPU_SECONDS_TOTAL, "Total user and system CPU time spent in seconds.");
    describe_gauge!(PROCESS_OPEN_FDS, "Number of open file descriptors.");
    describe_gauge!(
        CLUSTER_VERSION,
        "Which version is running. 1 for 'cluster_version' label with current cluster version"
    );
    describe_counter!(HEALTH_SUCCESS, "The total number of successful health checks");
    describe_counter!(HEALTH_FAILURES, "The total number of failed health checks");
    describe_gauge!(DEFRAG_INFLIGHT, "Whether or not defrag is active on the member. 1 means active, 0 means not.");
    describe_histogram!(DEFRAG_DURATION_SECONDS, "The latency distribution of backend defragmentation.");
    describe_gauge!(WATCHER_TOTAL, "Total number of watchers.");
    describe_gauge!(WATCH_STREAM_TOTAL, "Total number of watch streams.");
    describe_gauge!(SLOW_WATCHER_TOTAL, "Total number of unsynced slow watchers.");
    describe_histogram!(
        DEFRAG_WRITE_PAUSE_SECONDS,
        "How long a defragmentation held writes back for its final catch-up and file swap."
    );
    describe_gauge!(
        COMPACTION_BACKLOG_REVISIONS,
        "Revisions between the scheduled compaction and the last finished one (0 when compaction is idle)."
    );
    describe_gauge!(OLDEST_RETAINED_REVISION, "The oldest revision that reads and watches may still ask for.");
    describe_gauge!(
        RAFT_LOG_PURGED_INDEX,
        "The index of the last Raft log entry purged behind a snapshot: a member behind it catches up by snapshot."
    );
    describe_counter!(TASK_RESTARTS_TOTAL, "Restarts of a member's background task after it failed, by task.");
}

/// Event metrics appear from the start, at zero, as etcd's do.
fn register_zeroes() {
    ::metrics::counter!(COMPACTION_KEYS_TOTAL).absolute(0);
    ::metrics::counter!(LEADER_CHANGES_SEEN_TOTAL).absolute(0);
    ::metrics::counter!(HEALTH_SUCCESS).absolute(0);
    ::metrics::counter!(HEALTH_FAILURES).absolute(0);
    ::metrics::gauge!(DEFRAG_INFLIGHT).set(0.0);
    for name in [COMPACTION_PAUSE_MS, COMPACTION_TOTAL_MS, DEFRAG_DURATION_SECONDS, DEFRAG_WRITE_PAUSE_SECONDS] {
        let _registered = ::metrics::histogram!(name);
    }
}

/// The rendered text with its metric families in name order, as Go's client
/// writes them (the exporter's own order varies from one scrape to the next).
pub fn sorted(text: &str) -> String {
    let mut families: Vec<&str> = text.split("\n\n").map(str::trim_end).filter(|f| !f.is_empty()).collect();
    families.sort_by_key(|f| family_name(f));
    let mut out = String::with_capacity(text.len() + 1);
    for f in families {
        out.push_str(f);
        out.push('\n');
    }
    out
}

fn family_name(family: &str) -> &str {
    family.lines().find_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).unwrap_or(family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_orders_families_by_name() {
        let text =
            "# TYPE b gauge\nb 1\n\n# HELP a x\n# TYPE a histogram\na_bucket{le=\"1\"} 0\na_sum 0\na_count 0\n\n";
        assert_eq!(
            sorted(text),
            "# HELP a x\n# TYPE a histogram\na_bucket{le=\"1\"} 0\na_sum 0\na_count 0\n# TYPE b gauge\nb 1\n"
        );
    }

    #[test]
    fn buckets_are_etcds() {
        assert_eq!(exponential(1.0, 13).last(), Some(&4096.0));
        assert_eq!(exponential(100.0, 14).last(), Some(&819200.0));
        assert_eq!(exponential(0.1, 13).len(), 13);
    }
}
