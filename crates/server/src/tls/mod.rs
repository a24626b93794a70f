//! TLS on the client port, with etcd's flags (`--cert-file`, `--key-file`,
//! `--trusted-ca-file`, `--client-cert-auth`, `--client-crl-file`,
//! `--auto-tls`, `--cipher-suites`, `--tls-min-version`, `--tls-max-version`).
//!
//! [`ServerTls`] hands out the rustls configuration for each new connection.
//! It checks the files it was built from before each handshake and rebuilds
//! the configuration when one changed, so rotated certificates are served
//! without a restart, as etcd reads its files per handshake. A rebuild that
//! fails (a half-written file) keeps the previous configuration and logs why.
//!
//! rustls, with the ring provider, implements TLS 1.2 and 1.3 only, and of
//! TLS 1.2 only the AEAD cipher suites with ECDHE key exchange: the suites
//! Go also prefers. Older versions and suites etcd would accept are refused
//! at start with a message that says so (`suites.rs`).

mod auto;
mod conn;
mod files;
mod suites;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;

pub use conn::{ClientConn, ClientInfo, serve_listener};

use crate::config::Config;

/// Why TLS could not be set up (at start, or on a rebuild after rotation).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{0}")]
    Flag(String),
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

/// What the TLS configuration is built from.
#[derive(Debug, Clone)]
struct Settings {
    cert: PathBuf,
    key: PathBuf,
    trusted_ca: Option<PathBuf>,
    /// etcd requires a client certificate with `--client-cert-auth`, or as
    /// soon as `--trusted-ca-file` is given.
    client_cert_auth: bool,
    crl: Option<PathBuf>,
    provider: Arc<CryptoProvider>,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
}

impl Settings {
    fn files(&self) -> Vec<PathBuf> {
        [Some(&self.cert), Some(&self.key), self.trusted_ca.as_ref(), self.crl.as_ref()]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    fn build(&self) -> Result<ServerConfig, TlsError> {
        let certs = files::certificates(&self.cert)?;
        let key = files::private_key(&self.key)?;
        let builder = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&self.versions)
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        let builder = match (&self.trusted_ca, self.client_cert_auth) {
            (Some(ca), _) => {
                let roots = files::roots(ca)?;
                let crls = match &self.crl {
                    Some(crl) => files::crls(crl)?,
                    None => Vec::new(),
                };
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                    .with_crls(crls)
                    .build()
                    .map_err(|e| TlsError::Rustls(format!("client certificate verifier: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
            (None, true) => {
                return Err(TlsError::Flag(
                    "--client-cert-auth needs --trusted-ca-file: the CA that signs client certificates".into(),
                ));
            }
            (None, false) => builder.with_no_client_auth(),
        };
        let mut cfg = builder
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::File { path: self.key.display().to_string(), reason: e.to_string() })?;
        // gRPC is HTTP/2; /metrics, /health and /version are HTTP/1.1 too.
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(cfg)
    }
}

/// Modification time and length of each file a configuration was built
/// from (None: it could not be read).
type Stamps = Vec<Option<(SystemTime, u64)>>;

/// The client port's TLS configuration, rebuilt when its files change.
pub struct ServerTls {
    settings: Settings,
    current: Mutex<(Stamps, Arc<ServerConfig>)>,
}

impl ServerTls {
    /// The TLS the flags ask for, or `None` when no client URL is `https://`.
    /// Refuses an `https://` URL without a certificate, as etcd does.
    pub fn from_config(cfg: &Config) -> Result<Option<Arc<ServerTls>>, TlsError> {
        let https: Vec<&String> = cfg
            .listen_client_urls
            .iter()
            .chain(&cfg.listen_metrics_urls)
            .filter(|u| u.starts_with("https://"))
            .collect();
        let Some(first) = https.first() else {
            if !cfg.cert_file.is_empty() || !cfg.key_file.is_empty() {
                tracing::warn!("scheme is HTTP while key and cert files are present; ignoring key and cert files");
            }
            return Ok(None);
        };
        let (cert, key) = if !cfg.cert_file.is_empty() && !cfg.key_file.is_empty() {
            (PathBuf::from(&cfg.cert_file), PathBuf::from(&cfg.key_file))
        } else if cfg.auto_tls {
            auto::self_signed(
                &cfg.data_dir().join("fixtures").join("client"),
                &cfg.listen_client_urls,
                cfg.self_signed_cert_validity,
            )?
        } else {
            return Err(TlsError::Flag(format!(
                "TLS key/cert (--cert-file, --key-file) must be provided for client url {first} with HTTPS scheme"
            )));
        };
        let (provider, versions) = suites::provider(&cfg.cipher_suites, &cfg.tls_min_version, &cfg.tls_max_version)?;
        let nonempty = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        let settings = Settings {
            cert,
            key,
            trusted_ca: nonempty(&cfg.trusted_ca_file),
            client_cert_auth: cfg.client_cert_auth,
            crl: nonempty(&cfg.client_crl_file),
            provider: Arc::new(provider),
            versions,
        };
        let built = Arc::new(settings.build()?);
        let stamps = stamps(&settings.files());
        Ok(Some(Arc::new(ServerTls { settings, current: Mutex::new((stamps, built)) })))
    }

    /// The configuration for a new connection: rebuilt first if a file changed.
    pub fn config(&self) -> Arc<ServerConfig> {
        let now = stamps(&self.settings.files());
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.0 != now {
            match self.settings.build() {
                Ok(cfg) => {
                    tracing::info!("TLS files changed; serving the new certificate");
                    *current = (now, Arc::new(cfg));
                }
                Err(e) => {
                    // Tried again on the next connection: the files may be
                    // mid-rotation.
                    tracing::warn!(error = %e, "TLS files changed but cannot be loaded; keeping the previous ones");
                }
            }
        }
        current.1.clone()
    }
}

fn stamps(files: &[PathBuf]) -> Stamps {
    files.iter().map(|f| std::fs::metadata(f).ok().and_then(|m| Some((m.modified().ok()?, m.len())))).collect()
}

#[cfg(test)]
mod tests;
