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
mod peer;
mod suites;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;

pub use conn::{ClientConn, ClientInfo, serve_listener};
pub use peer::peer_client_config;

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
    /// Peers only: the common name and host name their certificates must have.
    allowed_cn: Option<String>,
    allowed_hostname: Option<String>,
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

/// The flags of one listener kind, client or peer.
struct Flags<'a> {
    what: &'static str,
    cert: &'a str,
    key: &'a str,
    trusted_ca: &'a str,
    client_cert_auth: bool,
    crl: &'a str,
    auto_tls: bool,
    allowed_cn: &'a str,
    allowed_hostname: &'a str,
}

impl<'a> Flags<'a> {
    fn peer(cfg: &'a Config) -> Flags<'a> {
        Flags {
            what: "peer",
            cert: &cfg.peer_cert_file,
            key: &cfg.peer_key_file,
            trusted_ca: &cfg.peer_trusted_ca_file,
            client_cert_auth: cfg.peer_client_cert_auth,
            crl: &cfg.peer_crl_file,
            auto_tls: cfg.peer_auto_tls,
            allowed_cn: &cfg.peer_cert_allowed_cn,
            allowed_hostname: &cfg.peer_cert_allowed_hostname,
        }
    }

    /// The certificate and key files: given, or made by `--auto-tls` /
    /// `--peer-auto-tls` in `<data-dir>/fixtures/<client|peer>`.
    fn cert_and_key(&self, cfg: &Config, first: &str, urls: &[&String]) -> Result<(PathBuf, PathBuf), TlsError> {
        if !self.cert.is_empty() && !self.key.is_empty() {
            return Ok((PathBuf::from(self.cert), PathBuf::from(self.key)));
        }
        if self.auto_tls {
            let hosts: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
            let dir = cfg.data_dir().join("fixtures").join(self.what);
            return auto::self_signed(&dir, &hosts, cfg.self_signed_cert_validity);
        }
        let flags = if self.what == "peer" { "--peer-cert-file, --peer-key-file" } else { "--cert-file, --key-file" };
        Err(TlsError::Flag(format!(
            "TLS key/cert ({flags}) must be provided for {} url {first} with HTTPS scheme",
            self.what
        )))
    }
}

/// Modification time and length of each file a configuration was built
/// from (None: it could not be read).
type Stamps = Vec<Option<(SystemTime, u64)>>;

/// A listener's TLS configuration (the client port's, or the peer port's),
/// rebuilt when its files change.
pub struct ServerTls {
    settings: Settings,
    current: Mutex<(Stamps, Arc<ServerConfig>)>,
}

impl ServerTls {
    /// The client port's TLS, or `None` when no client or metrics URL is
    /// `https://`. Refuses an `https://` URL without a certificate, as etcd does.
    pub fn from_config(cfg: &Config) -> Result<Option<Arc<ServerTls>>, TlsError> {
        let urls: Vec<&String> = cfg.listen_client_urls.iter().chain(&cfg.listen_metrics_urls).collect();
        let flags = Flags {
            what: "client",
            cert: &cfg.cert_file,
            key: &cfg.key_file,
            trusted_ca: &cfg.trusted_ca_file,
            client_cert_auth: cfg.client_cert_auth,
            crl: &cfg.client_crl_file,
            auto_tls: cfg.auto_tls,
            allowed_cn: "",
            allowed_hostname: "",
        };
        ServerTls::build(cfg, &urls, &flags)
    }

    /// The peer port's TLS, or `None` when no peer URL is `https://`.
    pub fn for_peers(cfg: &Config) -> Result<Option<Arc<ServerTls>>, TlsError> {
        let urls: Vec<&String> = cfg.listen_peer_urls.iter().collect();
        ServerTls::build(cfg, &urls, &Flags::peer(cfg))
    }

    fn build(cfg: &Config, urls: &[&String], flags: &Flags<'_>) -> Result<Option<Arc<ServerTls>>, TlsError> {
        let Some(first) = urls.iter().find(|u| u.starts_with("https://")) else {
            if !flags.cert.is_empty() || !flags.key.is_empty() {
                tracing::warn!(
                    what = flags.what,
                    "scheme is HTTP while key and cert files are present; ignoring key and cert files"
                );
            }
            return Ok(None);
        };
        let (cert, key) = flags.cert_and_key(cfg, first, urls)?;
        let (provider, versions) = suites::provider(&cfg.cipher_suites, &cfg.tls_min_version, &cfg.tls_max_version)?;
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let settings = Settings {
            cert,
            key,
            trusted_ca: nonempty(flags.trusted_ca).map(PathBuf::from),
            client_cert_auth: flags.client_cert_auth,
            crl: nonempty(flags.crl).map(PathBuf::from),
            provider: Arc::new(provider),
            versions,
            allowed_cn: nonempty(flags.allowed_cn),
            allowed_hostname: nonempty(flags.allowed_hostname),
        };
        let built = Arc::new(settings.build()?);
        let stamps = stamps(&settings.files());
        Ok(Some(Arc::new(ServerTls { settings, current: Mutex::new((stamps, built)) })))
    }

    /// Whether a peer whose handshake succeeded may talk to this member:
    /// `--peer-cert-allowed-cn` and `--peer-cert-allowed-hostname`.
    pub fn admits(&self, certs: Option<&[rustls_pki_types::CertificateDer<'_>]>) -> Result<(), String> {
        peer::admits(self.settings.allowed_cn.as_deref(), self.settings.allowed_hostname.as_deref(), certs)
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
