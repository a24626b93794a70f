//! server: a Strata member — bootstrap, the apply pipeline and the gRPC
//! services.
//!
//! It wires `backend`, `mvcc` and `raft` together: [`run`] opens the data dir,
//! starts the Raft node over the [`apply::Applier`], starts the background
//! jobs (compaction, periodic durable commits) and serves etcd's v3 API on the
//! listeners it is given until `shutdown` resolves. It binds nothing itself,
//! so tests run members on port 0. What a request means is decided here (the
//! applier and [`validate`]); how history is stored is `mvcc`'s business.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use clap::Parser;
//! let cfg = server::Config::parse_from(["strata", "--data-dir", "/tmp/m1"]);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let listeners = server::Listeners { client: vec![listener], ..Default::default() };
//! server::run(cfg, listeners, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
mod alarms;
pub mod apply;
mod auth_service;
mod auth_token;
mod authority;
mod auto_compactor;
pub mod cluster;
mod cluster_service;
mod compactor;
mod concurrency;
pub mod config;
mod credentials;
mod data_dir;
mod durable;
pub mod error;
mod forward;
pub mod http;
pub mod kv;
mod kv_service;
mod lease_service;
pub mod leases;
mod maintenance;
pub mod member;
mod message_size;
pub mod metrics;
pub mod quota;
pub mod supervisor;
pub mod tls;
mod usage;
pub mod validate;
pub mod version;
pub mod watch;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use api::etcdserverpb::auth_server::AuthServer;
use api::etcdserverpb::cluster_server::ClusterServer;
use api::etcdserverpb::kv_server::KvServer;
use api::etcdserverpb::lease_server::LeaseServer;
use api::etcdserverpb::maintenance_server::MaintenanceServer;
use api::etcdserverpb::watch_server::WatchServer;
use api::v3electionpb::election_server::ElectionServer;
use api::v3lockpb::lock_server::LockServer;
use backend::Backend;
use futures::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub use api::identity;
pub use config::Config;
pub use error::EtcdError;

use crate::member::{Limits, Member};

/// How long a member that must stop waits for its CORRUPT alarm to commit.
const FATAL_ALARM_WAIT: Duration = Duration::from_secs(2);

/// Why a member could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Backend(#[from] backend::Error),
    #[error("{0}")]
    Mvcc(#[from] mvcc::Error),
    #[error("{0}")]
    Raft(#[from] raft::RaftError),
    #[error("lease: {0}")]
    Lease(String),
    #[error("auth store: {0}")]
    Auth(String),
    #[error("joining the cluster: {0}")]
    Join(String),
    #[error("the member has been permanently removed from the cluster")]
    Removed,
    /// A background task or Raft failed in a way the member cannot go on from.
    #[error("stopped on a fatal failure: {0}")]
    Fatal(String),
    #[error("serving client requests: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// The sockets a member serves, bound by the caller: `client[i]` serves
/// `--listen-client-urls[i]`, `peer` the `--listen-peer-urls`, `metrics[i]`
/// `--listen-metrics-urls[i]` (the HTTP endpoints only). Each serves its
/// URL's scheme: TLS for `https://`.
#[derive(Debug, Default)]
pub struct Listeners {
    pub client: Vec<TcpListener>,
    pub peer: Vec<TcpListener>,
    pub metrics: Vec<TcpListener>,
}

/// Runs a member until `shutdown` resolves, on `listeners`.
pub async fn run(
    cfg: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let Listeners { client: listeners, peer: peer_listeners, metrics: metrics_listeners } = listeners;
    let retention = cfg.validate()?;
    // --auth-token (and its key files, read once) is checked before anything is written.
    let auth_options = cfg.auth_options()?;
    // Before anything is written: a certificate that cannot be served stops the start.
    let client_tls = tls::ServerTls::from_config(&cfg)?;
    let peer_tls = tls::ServerTls::for_peers(&cfg)?;
    let peer_dial = tls::peer_client_config(&cfg)?;
    let data_dir = cfg.data_dir();
    let member_dir = data_dir::member_dir(&data_dir);
    let backend = Backend::open(&member_dir.join("state.redb"))?;
    let fresh = match data_dir::stored_ids(&backend)? {
        Some(ids) => ids,
        None if cfg.initial_cluster_state == "existing" => cluster::join_ids(&cfg).await.map_err(ServerError::Join)?,
        None => bootstrap_ids(&cfg),
    };
    let ids = data_dir::load_or_store_ids(&backend, fresh)?;
    tracing::info!(
        name = %cfg.name,
        data_dir = %data_dir.display(),
        member_id = %format!("{:x}", ids.0),
        cluster_id = %format!("{:x}", ids.1),
        "starting member"
    );
    let (store, resume) = mvcc::Store::open(backend)?;

    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
    let (finished_tx, finished_rx) =
        tokio::sync::watch::channel(if resume.is_some() { -1 } else { store.compact_rev() });
    let compaction_finished = finished_rx.clone();
    crate::metrics::install();
    if let Some(job) = resume {
        let _ = jobs_tx.send(job);
    }
    let mut tasks = supervisor::Supervisor::new();
    {
        let (store, jobs, limit) =
            (store.clone(), Arc::new(tokio::sync::Mutex::new(jobs_rx)), cfg.compaction_batch_limit()?);
        tasks.spawn("compactor", move || compactor::run(store.clone(), jobs.clone(), finished_tx.clone(), limit));
    }

    let hub = watch::WatchHub::new(store.rev());
    // etcd's minimum lease TTL: ceil(1.5 × election timeout).
    let min_ttl_secs = (cfg.election_timeout_ms * 3).div_ceil(2000) as i64;
    let leases = Arc::new(leases::Leases::restore(&store, min_ttl_secs)?);
    let alarms = Arc::new(alarms::Alarms::restore(&store)?);
    let auth = Arc::new(
        auth::AuthStore::load(&store.backend().begin_read()?, auth_options)
            .map_err(|e| ServerError::Auth(e.to_string()))?,
    );
    let versions = Arc::new(version::Versions::load(&store.backend().begin_read()?)?);
    let shared = apply::Shared { leases: leases.clone(), alarms, auth, versions };
    let quota = cfg.quota();
    log_quota(&quota);
    let applier = Arc::new(apply::Applier::new(store.clone(), jobs_tx, hub.clone(), shared.clone(), quota.reserve > 0));
    let peer_url = cfg.initial_advertise_peer_urls.first().cloned().unwrap_or_default();
    let mut raft_cfg = raft::RaftConfig::new(ids.0, member_dir.clone(), peer_url);
    raft_cfg.heartbeat_interval_ms = cfg.heartbeat_interval_ms;
    raft_cfg.election_timeout_ms = cfg.election_timeout_ms;
    raft_cfg.initial_members = cluster::initial_members(&cfg, ids.0);
    // `existing`: a fresh member waits to be added instead of bootstrapping.
    raft_cfg.join_existing = cfg.initial_cluster_state == "existing";
    raft_cfg.peer_source_ip = cfg.peer_source_ip;
    raft_cfg.cluster_id = ids.1;
    raft_cfg.pre_vote = cfg.pre_vote;
    raft_cfg.snapshot_count = cfg.snapshot_count;
    raft_cfg.snapshot_catchup_entries = cfg.snapshot_catchup_entries()?;
    raft_cfg.peer_tls = peer_dial;
    let node = raft::RaftNode::start(raft_cfg, applier).await?;
    {
        let node = node.clone();
        tasks.spawn("raft", move || {
            let node = node.clone();
            async move { Err(supervisor::TaskError::Fatal(format!("raft stopped: {}", node.fatal().await))) }
        });
    }
    // One signal stops both servers.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
    }
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // The peer listeners' accept loops (TCP_NODELAY: peer answers are small
    // writes that would otherwise wait 40 ms for the leader's delayed ACK;
    // TLS and the allowed name checks for an `https://` peer URL).
    let (peer_tx, peer_rx) = mpsc::channel(16);
    let mut acceptors = accept_all(peer_listeners, &cfg.listen_peer_urls, &peer_tls, &peer_tx);
    drop(peer_tx);
    let peers = tokio::spawn(
        tonic::transport::Server::builder().add_service(node.peer_service()).serve_with_incoming_shutdown(
            tokio_stream::wrappers::ReceiverStream::new(peer_rx),
            stopped(stop_rx.clone()),
        ),
    );

    let limits = Limits { max_request_bytes: cfg.max_request_bytes, max_txn_ops: cfg.max_txn_ops };
    let lease_extend = std::time::Duration::from_millis(cfg.election_timeout_ms);
    if node.leader() == Some(ids.0) {
        // A single member leads from here on; its lessor starts counting.
        leases.lessor().promote(leases.now(), lease_extend);
    }
    let mut member = Member::new(store.clone(), shared, quota, node.clone(), ids, limits, finished_rx);
    member.client_cert_auth = cfg.client_cert_auth;
    member.revoke_cancels_watches = cfg.auth_revoke_cancels_watches;
    let member = Arc::new(member);
    let fatal = stop_on_fatal(&tasks, member.clone(), stop_tx.clone());
    supervise(&mut tasks, "leadership", &member, move |m| cluster::follow_leadership(m, lease_extend));
    let (removed_tx, removed_rx) = tokio::sync::watch::channel(false);
    supervise(&mut tasks, "leaver", &member, move |m| cluster::leave_when_removed(m, removed_tx.clone()));
    {
        let (stop_tx, mut removed_rx) = (stop_tx.clone(), removed_rx.clone());
        tokio::spawn(async move {
            if removed_rx.wait_for(|r| *r).await.is_ok() {
                let _ = stop_tx.send(true);
            }
        });
    }
    // As etcd, serve clients once this member's name and client URLs are
    // published through Raft: that needs a leader, so a member without a
    // quorum does not serve (stopping still works meanwhile).
    let mut stop_wait = stop_rx.clone();
    let mut refused = None;
    tokio::select! {
        published = cluster::publish_attributes(member.clone(), cfg.name.clone(), cfg.advertise_client_urls.clone()) => {
            if let Err(e) = published {
                tracing::error!(error = %e, "this member cannot join the cluster");
                let _ = stop_tx.send(true);
                refused = Some(e);
            }
        }
        _ = stop_wait.wait_for(|s| *s) => tracing::info!("stopped before the member could publish itself"),
    }
    supervise(&mut tasks, "nospace-disarmer", &member, maintenance::disarm_when_below_low_water);
    supervise(&mut tasks, "usage", &member, usage::keep_measured);
    supervise(&mut tasks, "version-monitor", &member, maintenance::monitor_cluster_version);
    supervise(&mut tasks, "lease-expiry", &member, lease_service::revoke_expired);
    {
        let store = store.clone();
        tasks.spawn("durable-commit", move || durable::sync_periodically(store.clone()));
        let member = member.clone();
        tasks.spawn("auto-compactor", move || {
            auto_compactor::run(member.clone(), retention, apply::clock::WallClock::system())
        });
    }

    let kv = KvServer::new(kv_service::KvService::new(member.clone()))
        .max_decoding_message_size(cfg.max_request_bytes + 512 * 1024)
        .max_encoding_message_size(usize::MAX);
    let progress_every = cfg.watch_progress_notify_interval()?;
    let watch = WatchServer::new(watch::WatchService::new(member.clone(), hub.clone(), progress_every))
        .max_decoding_message_size(cfg.max_request_bytes + 512 * 1024)
        .max_encoding_message_size(usize::MAX);
    // Each client listener serves the scheme of its URL (`listeners[i]` is
    // `--listen-client-urls[i]`'s); its accept loop TLS-handshakes what needs
    // it and hands the connections over. Each connection is read through
    // `AuthorityFix`, which lets etcdctl's `:authority: http://host:port`
    // reach h2 as `host:port`.
    let (conn_tx, conn_rx) = mpsc::channel(64);
    acceptors.extend(accept_all(listeners, &cfg.listen_client_urls, &client_tls, &conn_tx));
    drop(conn_tx);
    let incoming =
        tokio_stream::wrappers::ReceiverStream::new(conn_rx).map(|conn| conn.map(authority::AuthorityFix::new));
    if refused.is_none() {
        tracing::info!("ready to serve client requests");
    }
    let endpoints = http::Endpoints::new(member.clone(), hub.clone(), compaction_finished, cfg.quota_backend_bytes);
    let endpoints = endpoints.router();
    let metrics_server = (!metrics_listeners.is_empty()).then(|| {
        let (tx, rx) = mpsc::channel(16);
        acceptors.extend(accept_all(metrics_listeners, &cfg.listen_metrics_urls, &client_tls, &tx));
        tokio::spawn(
            tonic::transport::Server::builder()
                .accept_http1(true)
                .add_routes(tonic::service::Routes::from(endpoints.clone()))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::ReceiverStream::new(rx),
                    stopped(stop_rx.clone()),
                ),
        )
    });
    let grpc = tonic::service::Routes::new(kv)
        .add_service(watch)
        .add_service(AuthServer::new(auth_service::AuthService::new(member.clone())))
        .add_service(LeaseServer::new(lease_service::LeaseService::new(member.clone())))
        .add_service(MaintenanceServer::new(maintenance::MaintenanceService::new(member.clone())))
        .add_service(ClusterServer::new(cluster_service::ClusterService::new(member.clone())))
        .add_service(LockServer::new(concurrency::LockService::new(member.clone(), hub.clone())))
        .add_service(ElectionServer::new(concurrency::ElectionService::new(member.clone(), hub)));
    let served = tonic::transport::Server::builder()
        // gRPC is h2c; /metrics, /health and /version are HTTP/1.1 on the same port.
        .accept_http1(true)
        .layer(message_size::MessageSizeLayer)
        .add_routes(http::serve_both(grpc, endpoints))
        .serve_with_incoming_shutdown(incoming, stopped(stop_rx))
        .await;

    tracing::info!("stopping member");
    for a in &acceptors {
        a.abort();
    }
    tasks.shutdown().await;
    node.shutdown().await;
    if let Some(Ok(Err(e))) = match metrics_server {
        Some(s) => Some(s.await),
        None => None,
    } {
        tracing::warn!(error = %e, "serving metrics");
    }
    match peers.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "serving peers"),
        Err(e) => tracing::warn!(error = %e, "serving peers"),
        Ok(Ok(())) => {}
    }
    let synced = store.sync();
    if let Some(reason) = fatal.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(ServerError::Fatal(reason));
    }
    served?;
    synced?;
    if *removed_rx.borrow() {
        return Err(ServerError::Removed);
    }
    if let Some(e) = refused {
        return Err(ServerError::Join(e));
    }
    tracing::info!("stopped member");
    Ok(())
}

/// Starts the accept loop of each listener, serving its URL's scheme, all
/// handing their connections to `out`.
fn accept_all(
    listeners: Vec<TcpListener>,
    urls: &[String],
    tls: &Option<Arc<tls::ServerTls>>,
    out: &mpsc::Sender<std::io::Result<tls::ClientConn>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let https = urls.get(i).is_some_and(|u| u.starts_with("https://"));
            tokio::spawn(tls::serve_listener(l, tls.clone().filter(|_| https), out.clone()))
        })
        .collect()
}

/// etcd's start-up line about the quota.
fn log_quota(q: &quota::Quota) {
    match q.limit {
        None => tracing::warn!("disabled backend quota"),
        Some(bytes) => tracing::info!(
            quota_name = "v3-applier",
            quota_size_bytes = bytes,
            counting = ?q.counting,
            auto_disarm = q.auto_disarm,
            reserve_bytes = q.reserve,
            "enabled backend quota"
        ),
    }
}

/// The ids etcd would give this member at bootstrap.
fn bootstrap_ids(cfg: &Config) -> (u64, u64) {
    identity::bootstrap_ids(
        &cfg.name,
        &cfg.initial_advertise_peer_urls,
        cfg.initial_cluster.as_deref(),
        &cfg.initial_cluster_token,
    )
}

/// Runs one of the member's never-ending loops under the restart policy:
/// it handles its own errors, so only a panic ends it early.
fn supervise<F, Fut>(tasks: &mut supervisor::Supervisor, name: &'static str, member: &Arc<Member>, task: F)
where
    F: Fn(Arc<Member>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let member = member.clone();
    tasks.spawn(name, move || {
        let run = task(member.clone());
        async move {
            run.await;
            Ok(())
        }
    });
}

/// When a task fails fatally: raise the CORRUPT alarm while Raft may still
/// take it (so the other members and `alarm list` show why this one
/// stopped), then stop the member; `run` returns the reason.
fn stop_on_fatal(
    tasks: &supervisor::Supervisor,
    member: Arc<Member>,
    stop: Arc<tokio::sync::watch::Sender<bool>>,
) -> Arc<std::sync::Mutex<Option<String>>> {
    let reason = Arc::new(std::sync::Mutex::new(None));
    let (fatal, slot) = (tasks.fatal(), reason.clone());
    tokio::spawn(async move {
        let Some(why) = fatal.await else { return };
        tracing::error!(error = %why, "fatal failure; raising the CORRUPT alarm and stopping the member");
        let raised = tokio::time::timeout(
            FATAL_ALARM_WAIT,
            member.set_alarm(
                api::etcdserverpb::alarm_request::AlarmAction::Activate,
                api::etcdserverpb::AlarmType::Corrupt,
            ),
        )
        .await;
        if !matches!(raised, Ok(Ok(_))) {
            tracing::warn!("the CORRUPT alarm could not be raised before stopping");
        }
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        let _ = stop.send(true);
    });
    reason
}
