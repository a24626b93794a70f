//! tlstrust: which server certificates a TLS client accepts, shared by the
//! client crate (etcdctl's `--cacert`, `--insecure-skip-tls-verify`) and the
//! server (dialing peers with `--peer-trusted-ca-file` or `--peer-auto-tls`),
//! and the rustls crypto provider both use.
//!
//! rustls' own verifier cannot skip verification nor trust an empty CA bundle,
//! both of which etcd's clients can (`InsecureSkipVerify`; a bundle without
//! PEM blocks makes an empty pool that fails every handshake), hence a
//! verifier of our own around it.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// rustls over ring. rustls 0.23.48 deprecates it for lacking post-quantum key
/// exchange, which only its aws-lc provider has; aws-lc is a C build the
/// project keeps out (DESIGN.md §8), so classical ECDHE it is, as Go's TLS in
/// etcd 3.4 offers.
#[allow(deprecated)]
pub fn ring_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Which server certificates are accepted.
#[derive(Debug)]
pub enum ServerTrust {
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
pub struct Verifier {
    trust: ServerTrust,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    pub fn new(trust: ServerTrust, provider: Arc<CryptoProvider>) -> Verifier {
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
