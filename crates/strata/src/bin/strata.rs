//! `strata`: runs one member. Flags are etcd's (`strata --help`).

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

fn main() -> anyhow::Result<()> {
    let cfg = server::Config::parse();
    init_logging(&cfg.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(serve(cfg));
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "member failed");
    }
    result
}

async fn serve(cfg: server::Config) -> anyhow::Result<()> {
    cfg.validate()?;
    let mut listeners = Vec::new();
    for url in &cfg.listen_client_urls {
        let addr = server::config::socket_addr(url).map_err(anyhow::Error::msg)?;
        let l = TcpListener::bind(addr).await.with_context(|| format!("listen tcp {addr}"))?;
        tracing::info!(address = %addr, "listening for client requests");
        listeners.push(l);
    }
    let mut peer_listeners = Vec::new();
    for url in &cfg.listen_peer_urls {
        let addr = server::config::socket_addr(url).map_err(anyhow::Error::msg)?;
        let l = TcpListener::bind(addr).await.with_context(|| format!("listen tcp {addr}"))?;
        tracing::info!(address = %addr, "listening for peers");
        peer_listeners.push(l);
    }
    let mut term = signal(SignalKind::terminate())?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("received terminated signal, shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("received interrupt signal, shutting down"),
        }
    };
    let mut metrics = Vec::new();
    for url in &cfg.listen_metrics_urls {
        let addr = server::config::socket_addr(url).map_err(anyhow::Error::msg)?;
        let l = TcpListener::bind(addr).await.with_context(|| format!("listen tcp {addr}"))?;
        tracing::info!(address = %addr, "listening for metrics");
        metrics.push(l);
    }
    let listeners = server::Listeners { client: listeners, peer: peer_listeners, metrics };
    server::run(cfg, listeners, shutdown).await?;
    Ok(())
}

fn init_logging(level: &str) {
    let level = match level {
        "debug" => "debug",
        "warn" => "warn",
        "error" | "panic" | "fatal" => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},openraft=warn,h2=warn,tower=warn")));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
