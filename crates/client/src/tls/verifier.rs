//! What a client trusts (`tlstrust::Verifier`, shared with the server's peer dialing)
//! and what it presents ([`ClientCert`]).

use rustls::SignatureScheme;
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
pub(crate) use tlstrust::{ServerTrust, Verifier};

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
