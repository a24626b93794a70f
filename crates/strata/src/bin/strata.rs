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
    let listeners = server::Listeners {
        client: bind_all(&cfg.listen_client_urls, "listening for client requests").await?,
        peer: bind_all(&cfg.listen_peer_urls, "listening for peers").await?,
        metrics: bind_all(&cfg.listen_metrics_urls, "listening for metrics").await?,
    };
    let mut term = signal(SignalKind::terminate())?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("received terminated signal, shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("received interrupt signal, shutting down"),
        }
    };
    server::run(cfg, listeners, shutdown).await?;
    Ok(())
}

/// One listener per URL, in order (`server::Listeners` pairs them by index).
async fn bind_all(urls: &[String], what: &'static str) -> anyhow::Result<Vec<TcpListener>> {
    let mut listeners = Vec::with_capacity(urls.len());
    for url in urls {
        let addr = server::config::socket_addr(url).map_err(anyhow::Error::msg)?;
        let l = TcpListener::bind(addr).await.with_context(|| format!("listen tcp {addr}"))?;
        tracing::info!(address = %addr, "{what}");
        listeners.push(l);
    }
    Ok(listeners)
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
