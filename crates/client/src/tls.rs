//! TLS settings: which files to trust and present ([`TlsOptions`]), turned into a
//! rustls configuration ([`TlsConfig`]) the way etcd's `transport.TLSInfo.ClientConfig`
//! reads them, with Go's error messages ([`TlsError`]).
//!
//! What is read, in Go's order: the certificate and the key (both or neither), then the
//! CA bundle. Every PEM block of the CA bundle must be a certificate; a bundle with no
//! PEM block at all trusts nothing, so every handshake fails (unless verification is
//! skipped). Without a CA bundle the system's roots are trusted, found as Go finds them
//! on Linux: `$SSL_CERT_FILE`, else the first of the usual bundle files (directories
//! such as `$SSL_CERT_DIR` are not read).

mod pem;
mod verifier;

use crate::error::TlsError;
use pem::PemBlock;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
pub(crate) use verifier::ClientCert;
use verifier::ServerTrust;

/// The TLS flags of a client (etcdctl's `--cacert`, `--cert`, `--key`,
/// `--insecure-skip-tls-verify`). Paths are kept as given: errors name them so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM bundle of the CAs that may sign a member's certificate; `None` trusts the
    /// system's roots.
    pub ca_file: Option<String>,
    /// PEM certificate presented to members that ask for one (mutual TLS).
    pub cert_file: Option<String>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<String>,
    /// Accept any server certificate (its handshake signature is still checked).
    pub skip_verify: bool,
}

/// A ready client TLS configuration. Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) base: Arc<ClientConfig>,
    /// The client certificate and key, if any: each connection gets a resolver of its
    /// own around it, to learn whether the member asked for it (see `connector`).
    pub(crate) client_cert: Option<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig").field("client_cert", &self.client_cert.is_some()).finish_non_exhaustive()
    }
}

impl TlsOptions {
    /// Reads the files and builds the configuration; a file that is missing or not what
    /// it should be is an error here, before anything is dialed.
    pub fn build(&self) -> Result<TlsConfig, TlsError> {
        let provider = ring_provider();
        let client_cert = match (&self.cert_file, &self.key_file) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(Arc::new(certified_key(cert, key, &provider)?)),
            (cert, key) => {
                return Err(TlsError::CertWithoutKey {
                    key: key.clone().unwrap_or_default(),
                    cert: cert.clone().unwrap_or_default(),
                });
            }
        };
        let roots = match &self.ca_file {
            Some(path) => ca_bundle(path)?,
            None => system_roots(),
        };
        let trust = if self.skip_verify {
            ServerTrust::Anything
        } else if roots.is_empty() {
            ServerTrust::Nothing
        } else {
            let verifier =
                rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| TlsError::Rustls(rustls::Error::General(e.to_string())))?;
            ServerTrust::Roots(verifier)
        };
        let verifier: Arc<dyn ServerCertVerifier> = Arc::new(verifier::Verifier::new(trust, provider.clone()));
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rustls)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(TlsConfig { base: Arc::new(config), client_cert })
    }
}

/// rustls over *ring*, the workspace's one provider (`tlstrust::ring_provider`).
fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(tlstrust::ring_provider())
}

/// Go's `tls.X509KeyPair` over the two files: certificate blocks, then the key block,
/// then the leaf parsed, the key parsed, and the two compared.
fn certified_key(cert_path: &str, key_path: &str, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let cert_pem = read(cert_path)?;
    let key_pem = read(key_path)?;
    let chain = certificate_blocks(&pem::blocks(&cert_pem))?;
    let key_blocks = pem::blocks(&key_pem);
    let key = private_key_block(&key_blocks)?;
    rustls::server::ParsedCertificate::try_from(&chain[0])
        .map_err(|_| TlsError::MalformedCertificate { tbs: false })?;
    let signing_key = [
        PrivateKeyDer::from(PrivatePkcs1KeyDer::from(key.der.clone())),
        PrivateKeyDer::from(PrivatePkcs8KeyDer::from(key.der.clone())),
        PrivateKeyDer::from(PrivateSec1KeyDer::from(key.der.clone())),
    ]
    .into_iter()
    .find_map(|der| provider.key_provider.load_private_key(der).ok())
    .ok_or(TlsError::BadPrivateKey)?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(_)) => Err(TlsError::KeyMismatch),
        Err(e) => Err(TlsError::Rustls(e)),
    }
}

/// The certificate blocks of a certificate file, with Go's errors when there is none.
fn certificate_blocks(blocks: &[PemBlock]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain: Vec<CertificateDer<'static>> =
        blocks.iter().filter(|b| b.label == "CERTIFICATE").map(|b| CertificateDer::from(b.der.clone())).collect();
    if !chain.is_empty() {
        return Ok(chain);
    }
    let skipped: Vec<String> = blocks.iter().map(|b| b.label.clone()).collect();
    Err(match skipped.as_slice() {
        [] => TlsError::NoCertificatePem,
        [one] if one.ends_with("PRIVATE KEY") => TlsError::KeyInCertificateInput,
        _ => TlsError::NoCertificateBlock { skipped },
    })
}

/// The first private key block of a key file, with Go's errors when there is none.
fn private_key_block(blocks: &[PemBlock]) -> Result<&PemBlock, TlsError> {
    if let Some(key) = blocks.iter().find(|b| b.label == "PRIVATE KEY" || b.label.ends_with(" PRIVATE KEY")) {
        return Ok(key);
    }
    let skipped: Vec<String> = blocks.iter().map(|b| b.label.clone()).collect();
    Err(match skipped.as_slice() {
        [] => TlsError::NoKeyPem,
        [one] if one == "CERTIFICATE" => TlsError::CertificateInKeyInput,
        _ => TlsError::NoKeyBlock { skipped },
    })
}

/// A CA bundle: every PEM block must be a certificate (Go's `tlsutil.NewCertPool`).
fn ca_bundle(path: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for block in pem::blocks(&read(path)?) {
        roots
            .add(CertificateDer::from(block.der))
            .map_err(|_| TlsError::MalformedCertificate { tbs: block.label.ends_with("PRIVATE KEY") })?;
    }
    Ok(roots)
}

/// The bundle files Go's `crypto/x509` looks for on Linux, in its order.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The system's trusted roots; certificates that do not parse are left out, and no
/// bundle at all trusts nothing.
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let from_env = std::env::var("SSL_CERT_FILE").ok().filter(|f| !f.is_empty());
    let candidates = from_env.iter().map(String::as_str).chain(SYSTEM_BUNDLES.iter().copied());
    if let Some(pem) = candidates.map(std::fs::read).find_map(Result::ok) {
        let certs = pem::blocks(&pem).into_iter().filter(|b| b.label == "CERTIFICATE");
        roots.add_parsable_certificates(certs.map(|b| CertificateDer::from(b.der)));
    }
    roots
}

/// Reads a whole file, failing as Go's `os.ReadFile` does ("open …" or "read …").
fn read(path: &str) -> Result<Vec<u8>, TlsError> {
    let fail = |op, source| TlsError::Read { op, path: path.to_owned(), source };
    let mut file = std::fs::File::open(Path::new(path)).map_err(|e| fail("open", e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| fail("read", e))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests;
