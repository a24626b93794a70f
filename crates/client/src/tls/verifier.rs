//! What a client trusts ([`Verifier`]) and what it presents ([`ClientCert`]).
//!
//! rustls' own verifier cannot skip verification nor trust an empty CA bundle, both of
//! which etcd's client can (`InsecureSkipVerify`; a bundle without PEM blocks makes an
//! empty pool that fails every handshake), hence a verifier of our own around it.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Which server certificates are accepted.
#[derive(Debug)]
pub(crate) enum ServerTrust {
    /// Those that chain to these roots and name the server.
    Roots(Arc<WebPkiServerVerifier>),
    /// Any (`--insecure-skip-tls-verify`).
    Anything,
    /// None: the CA bundle held no certificate.
    Nothing,
}

/// A [`ServerCertVerifier`] for each [`ServerTrust`]. Whatever the trust, the server
/// must prove it holds the key of the certificate it sent (the handshake signature).
#[derive(Debug)]
pub(crate) struct Verifier {
    trust: ServerTrust,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    pub(crate) fn new(trust: ServerTrust, provider: Arc<CryptoProvider>) -> Verifier {
        Verifier { trust, provider }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.trust {
            ServerTrust::Roots(webpki) => {
                webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            ServerTrust::Anything => Ok(ServerCertVerified::assertion()),
            ServerTrust::Nothing => Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The client certificate of one connection, which records whether the server asked
/// for a certificate: in TLS 1.3 a server refuses the client's certificate (or its
/// absence) only after the client has finished its handshake, so the connector must
/// then wait for the server's first word before calling the connection made.
#[derive(Debug)]
pub(crate) struct ClientCert {
    key: Option<Arc<CertifiedKey>>,
    asked: Arc<AtomicBool>,
}

impl ClientCert {
    /// A resolver presenting `key`, and the flag it raises when the server asks.
    pub(crate) fn new(key: Option<Arc<CertifiedKey>>) -> (ClientCert, Arc<AtomicBool>) {
        let asked = Arc::new(AtomicBool::new(false));
        (ClientCert { key, asked: asked.clone() }, asked)
    }
}

impl ResolvesClientCert for ClientCert {
    fn resolve(&self, _root_hint_subjects: &[&[u8]], _sigschemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.asked.store(true, Ordering::Relaxed);
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}
