//! The peer side of TLS: which certificates a member accepts from the others
//! (`--peer-cert-allowed-cn`, `--peer-cert-allowed-hostname`), and the client
//! configuration it dials them with (its peer certificate, their CA).

use std::net::IpAddr;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{Flags, TlsError, files, suites};
use crate::config::Config;

/// `--peer-cert-allowed-cn` and `--peer-cert-allowed-hostname` on the leaf of
/// `certs`, the chain a peer presented (already verified against the CA).
pub fn admits(cn: Option<&str>, hostname: Option<&str>, certs: Option<&[CertificateDer<'_>]>) -> Result<(), String> {
    if cn.is_none() && hostname.is_none() {
        return Ok(());
    }
    let leaf = certs.and_then(|c| c.first()).ok_or("no client certificate")?;
    let (_, cert) = X509Certificate::from_der(leaf).map_err(|e| format!("unreadable client certificate: {e}"))?;
    if let Some(want) = cn {
        let got: Vec<&str> = cert.subject().iter_common_name().filter_map(|a| a.as_str().ok()).collect();
        if !got.contains(&want) {
            return Err(format!("CommonName authentication failed: {got:?} is not {want:?}"));
        }
    }
    if let Some(want) = hostname
        && !names(&cert).iter().any(|name| matches(name, want))
    {
        return Err(format!("hostname authentication failed: the certificate is not valid for {want:?}"));
    }
    Ok(())
}

/// The DNS names and IP addresses a certificate is valid for.
fn names(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else { return Vec::new() };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
            GeneralName::IPAddress(b) => match b.len() {
                4 => Some(IpAddr::from(<[u8; 4]>::try_from(*b).ok()?).to_string()),
                16 => Some(IpAddr::from(<[u8; 16]>::try_from(*b).ok()?).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Go's host name match: exact (case-insensitive), or `*.` standing for one label.
fn matches(name: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if let Ok(ip) = host.parse::<IpAddr>() {
        return name == ip.to_string();
    }
    match name.strip_prefix("*.") {
        Some(rest) => host.split_once('.').is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
        None => name == host,
    }
}

/// How this member dials the others over TLS: its peer certificate as the
/// client certificate, their CA (`--peer-trusted-ca-file`) as the roots, or
/// with `--peer-auto-tls` and no CA, any certificate (etcd does not verify
/// self-signed peers either). `None` when no peer TLS flag is given.
pub fn peer_client_config(cfg: &Config) -> Result<Option<Arc<ClientConfig>>, TlsError> {
    let flags = Flags::peer(cfg);
    let has_cert = (!flags.cert.is_empty() && !flags.key.is_empty()) || flags.auto_tls;
    if !has_cert {
        return Ok(None);
    }
    let urls: Vec<&String> = cfg.listen_peer_urls.iter().collect();
    let first = urls.iter().find(|u| u.starts_with("https://")).map_or("", |u| u.as_str());
    let (cert, key) = flags.cert_and_key(cfg, first, &urls)?;
    let (provider, versions) = suites::provider(&cfg.cipher_suites, &cfg.tls_min_version, &cfg.tls_max_version)?;
    let provider = Arc::new(provider);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = if !flags.trusted_ca.is_empty() {
        builder.with_root_certificates(files::roots(std::path::Path::new(flags.trusted_ca))?)
    } else if flags.auto_tls {
        let any = tlstrust::Verifier::new(tlstrust::ServerTrust::Anything, provider);
        builder.dangerous().with_custom_certificate_verifier(Arc::new(any))
    } else {
        return Err(TlsError::Flag(
            "--peer-trusted-ca-file is needed to verify the other members' certificates (or --peer-auto-tls)".into(),
        ));
    };
    let mut config = builder
        .with_client_auth_cert(files::certificates(&cert)?, files::private_key(&key)?)
        .map_err(|e| TlsError::File { path: key.display().to_string(), reason: e.to_string() })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Some(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_match_as_go_does() {
        assert!(matches("etcd.example.com", "ETCD.example.com"));
        assert!(matches("*.example.com", "m1.example.com"));
        assert!(!matches("*.example.com", "a.m1.example.com"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(matches("127.0.0.1", "127.0.0.1"));
        assert!(!matches("127.0.0.1", "127.0.0.2"));
    }
}
