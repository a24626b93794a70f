//! `/metrics`: the Prometheus text format, any method (etcd's promhttp
//! handler does not look at it).
//!
//! Gauges that mirror the member's state are set here, at scrape time, so
//! the write and watch paths never touch them; events (compaction batches,
//! defrags, leader changes) are recorded where they happen. See
//! [`crate::metrics`] for the names.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use ::http::{StatusCode, header};
use ::metrics::gauge;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::Endpoints;
use crate::metrics as m;
use crate::version::{SERVER_MINOR, SERVER_VERSION};

/// Prometheus' text exposition format, as etcd 3.6's promhttp labels it.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores";

/// The recorder is process-wide: setting the gauges and rendering them is
/// one step, so concurrent scrapes of members in one process (tests) each
/// see their own member.
static SCRAPE: Mutex<()> = Mutex::new(());

/// Whether a downgrade ever moved the cluster version in this process: from
/// then on the label not current reads 0 (etcd resets the metric instead).
static CLUSTER_VERSION_MOVED: AtomicBool = AtomicBool::new(false);

pub(super) async fn scrape(State(e): State<Endpoints>) -> Response {
    let handle = m::install();
    let text = {
        let _one_at_a_time = SCRAPE.lock().unwrap_or_else(|p| p.into_inner());
        set_state_gauges(&e);
        handle.render()
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], m::sorted(&text)).into_response()
}

fn set_state_gauges(e: &Endpoints) {
    super::process::set_gauges();
    let member = &e.member;
    let store = &member.store;
    // The same numbers as Status's dbSize and dbSizeInUse (an estimate).
    let usage = member.usage();
    gauge!(m::DB_TOTAL_SIZE_BYTES).set(usage.db_size as f64);
    gauge!(m::DB_TOTAL_SIZE_IN_USE_BYTES).set(usage.in_use as f64);

    let rev = store.rev();
    let compacted = store.compact_rev();
    gauge!(m::CURRENT_REVISION).set(rev as f64);
    gauge!(m::COMPACT_REVISION).set(compacted as f64);
    gauge!(m::KEYS_TOTAL).set(store.key_count() as f64);
    // Reads below the compacted revision fail; before any compaction, every
    // revision from 1 on is there.
    gauge!(m::OLDEST_RETAINED_REVISION).set(compacted.max(1) as f64);
    let finished = *e.compaction_finished.borrow();
    gauge!(m::COMPACTION_BACKLOG_REVISIONS).set((compacted - finished.max(0)).max(0) as f64);

    let leader = member.raft.leader();
    gauge!(m::HAS_LEADER).set(if leader.is_some() { 1.0 } else { 0.0 });
    gauge!(m::IS_LEADER).set(if leader == Some(member.member_id) { 1.0 } else { 0.0 });
    gauge!(m::PROPOSALS_COMMITTED_TOTAL).set(member.raft.commit_index() as f64);
    gauge!(m::RAFT_LOG_PURGED_INDEX).set(member.raft.purged_index() as f64);
    gauge!(m::PROPOSALS_APPLIED_TOTAL).set(member.raft.applied_index() as f64);
    gauge!(m::SERVER_ID, "server_id" => format!("{:x}", member.member_id)).set(1.0);
    gauge!(m::SERVER_VERSION, "server_version" => SERVER_VERSION).set(1.0);
    let cluster = member.versions.cluster();
    if cluster != SERVER_MINOR {
        CLUSTER_VERSION_MOVED.store(true, Ordering::Relaxed);
    }
    if CLUSTER_VERSION_MOVED.load(Ordering::Relaxed) {
        for v in [Some(SERVER_MINOR), SERVER_MINOR.downgrade_target()].into_iter().flatten() {
            gauge!(m::CLUSTER_VERSION, "cluster_version" => v.label()).set(0.0);
        }
    }
    gauge!(m::CLUSTER_VERSION, "cluster_version" => cluster.label()).set(1.0);

    let load = e.hub.load();
    gauge!(m::WATCH_STREAM_TOTAL).set(load.streams as f64);
    gauge!(m::WATCHER_TOTAL).set(load.watchers as f64);
    gauge!(m::SLOW_WATCHER_TOTAL).set(load.slow as f64);
}
