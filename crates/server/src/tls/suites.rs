//! `--cipher-suites`, `--tls-min-version` and `--tls-max-version`: Go's names
//! mapped to what rustls implements.

use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::cipher_suite;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};

use super::TlsError;

/// Go's name of each TLS 1.2 suite rustls offers (Go accepts the
/// CHACHA20 names with and without the `_SHA256` suffix).
const TLS12: &[(&str, SupportedCipherSuite)] = &[
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
];

/// Suites Go (and so etcd) knows that rustls does not implement: CBC modes,
/// RSA key exchange, RC4 and 3DES.
fn known_to_go(name: &str) -> bool {
    name.starts_with("TLS_RSA_WITH_")
        || name.starts_with("TLS_ECDHE_RSA_WITH_")
        || name.starts_with("TLS_ECDHE_ECDSA_WITH_")
}

/// The crypto provider with the suites `cipher_suites` names (all of ring's
/// when empty) and the protocol versions between `min` and `max`.
pub fn provider(
    cipher_suites: &[String],
    min: &str,
    max: &str,
) -> Result<(CryptoProvider, Vec<&'static SupportedProtocolVersion>), TlsError> {
    let min = version(min, "--tls-min-version")?.unwrap_or(Version::Tls12);
    let max = version(max, "--tls-max-version")?.unwrap_or(Version::Tls13);
    if max < min {
        return Err(TlsError::Flag(
            "min version (--tls-min-version) is greater than max version (--tls-max-version)".into(),
        ));
    }
    let versions: Vec<&'static SupportedProtocolVersion> =
        [(Version::Tls12, &rustls::version::TLS12), (Version::Tls13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (min..=max).contains(v))
            .map(|(_, p)| p)
            .collect();
    let mut provider = ring_provider();
    let names: Vec<&str> = cipher_suites.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    if !names.is_empty() {
        if min == Version::Tls13 {
            return Err(TlsError::Flag(
                "cipher suites cannot be configured when only TLS1.3 or greater is supported".into(),
            ));
        }
        let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
        for name in names {
            match TLS12.iter().find(|(n, _)| *n == name) {
                Some((_, suite)) => chosen.push(*suite),
                None if known_to_go(name) => {
                    return Err(TlsError::Flag(format!(
                        "TLS cipher suite {name:?} is not supported by Strata (rustls offers only ECDHE with AES-GCM or ChaCha20-Poly1305)"
                    )));
                }
                None => return Err(TlsError::Flag(format!("unexpected TLS cipher suite {name:?}"))),
            }
        }
        // TLS 1.3's suites are not configurable, in Go as here.
        chosen.extend(provider.cipher_suites.iter().filter(|s| s.version() == &rustls::version::TLS13).copied());
        provider.cipher_suites = chosen;
    }
    Ok((provider, versions))
}

use tlstrust::ring_provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Version {
    Tls12,
    Tls13,
}

fn version(value: &str, flag: &str) -> Result<Option<Version>, TlsError> {
    match value {
        "" => Ok(None),
        "TLS1.2" => Ok(Some(Version::Tls12)),
        "TLS1.3" => Ok(Some(Version::Tls13)),
        "TLS1.0" | "TLS1.1" => Err(TlsError::Flag(format!(
            "{flag} {value} is not supported by Strata: rustls implements TLS1.2 and TLS1.3 only"
        ))),
        other => Err(TlsError::Flag(format!("unexpected TLS version {other:?} (supported: TLS1.2, TLS1.3)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_tls12_and_13_with_every_suite() {
        let (p, v) = provider(&[], "", "").expect("default");
        assert_eq!(v.len(), 2);
        assert_eq!(p.cipher_suites.len(), ring_provider().cipher_suites.len());
    }

    #[test]
    fn named_suites_restrict_tls12_only() {
        let (p, _) = provider(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()], "", "").expect("one suite");
        let tls12: Vec<_> = p.cipher_suites.iter().filter(|s| s.version() == &rustls::version::TLS12).collect();
        assert_eq!(tls12.len(), 1);
        assert!(p.cipher_suites.iter().any(|s| s.version() == &rustls::version::TLS13));
    }

    #[test]
    fn refusals_say_why() {
        let err = |suites: &[&str], min: &str, max: &str| {
            let suites: Vec<String> = suites.iter().map(|s| s.to_string()).collect();
            provider(&suites, min, max).err().map(|e| e.to_string()).unwrap_or_default()
        };
        assert_eq!(err(&["nope"], "", ""), "unexpected TLS cipher suite \"nope\"");
        assert!(err(&["TLS_RSA_WITH_AES_128_CBC_SHA"], "", "").contains("not supported by Strata"));
        assert!(err(&[], "TLS1.1", "").contains("TLS1.2 and TLS1.3 only"));
        assert!(err(&[], "TLS1.3", "TLS1.2").contains("greater than max version"));
        assert!(err(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "TLS1.3", "").contains("only TLS1.3"));
        let (_, v) = provider(&[], "TLS1.3", "").expect("1.3 only");
        assert_eq!(v.len(), 1);
    }
}
