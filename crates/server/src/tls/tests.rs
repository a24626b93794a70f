use clap::Parser;

use super::*;

fn config(args: &[&str]) -> Config {
    let mut all = vec!["strata"];
    all.extend_from_slice(args);
    Config::parse_from(all)
}

fn error(cfg: &Config) -> String {
    ServerTls::from_config(cfg).err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn plain_urls_need_no_tls() {
    assert!(ServerTls::from_config(&config(&[])).expect("plain").is_none());
}

#[test]
fn an_https_url_without_a_certificate_is_refused_with_etcds_message() {
    let cfg = config(&["--listen-client-urls", "http://127.0.0.1:2379,https://127.0.0.1:2381"]);
    assert_eq!(
        error(&cfg),
        "TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:2381 with HTTPS scheme"
    );
    assert_eq!(cfg.validate().err().map(|e| e.to_string()), Some(error(&cfg)), "checked before anything starts");
}

#[test]
fn unreadable_or_bad_files_name_the_file() {
    let pki = testkit_free::Pki::new();
    let missing = config(&[
        "--listen-client-urls",
        "https://127.0.0.1:2379",
        "--cert-file",
        "/nope/c.pem",
        "--key-file",
        "/nope/k.pem",
    ]);
    assert!(error(&missing).starts_with("/nope/c.pem: "), "{}", error(&missing));
    let garbage = pki.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").expect("write");
    let g = garbage.display().to_string();
    let bad = config(&["--listen-client-urls", "https://127.0.0.1:2379", "--cert-file", &g, "--key-file", &g]);
    assert!(error(&bad).contains("no PEM certificate"), "{}", error(&bad));
    let (cert, key) = pki.server();
    let no_ca = config(&[
        "--listen-client-urls",
        "https://127.0.0.1:2379",
        "--cert-file",
        &cert,
        "--key-file",
        &key,
        "--client-cert-auth",
    ]);
    assert!(error(&no_ca).contains("needs --trusted-ca-file"), "{}", error(&no_ca));
}

#[test]
fn auto_tls_makes_a_certificate_once_and_reuses_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data").display().to_string();
    let cfg = config(&["--listen-client-urls", "https://127.0.0.1:2379", "--auto-tls", "--data-dir", &data]);
    assert!(ServerTls::from_config(&cfg).expect("auto-tls").is_some());
    let cert = dir.path().join("data/fixtures/client/cert.pem");
    let first = std::fs::read(&cert).expect("cert written");
    ServerTls::from_config(&cfg).expect("again");
    assert_eq!(std::fs::read(&cert).expect("cert"), first, "reused, not remade");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("data/fixtures/client/key.pem")).expect("key").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the key is its owner's only");
}

#[test]
fn changed_files_are_served_from_the_next_connection_on() {
    let pki = testkit_free::Pki::new();
    let (cert, key) = pki.server();
    let cfg = config(&["--listen-client-urls", "https://127.0.0.1:2379", "--cert-file", &cert, "--key-file", &key]);
    let tls = ServerTls::from_config(&cfg).expect("tls").expect("https");
    let before = tls.config();
    assert!(Arc::ptr_eq(&before, &tls.config()), "unchanged files: the same configuration");
    // A half-written file keeps the old configuration.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").expect("truncate");
    assert!(Arc::ptr_eq(&before, &tls.config()));
    pki.rewrite_server(&cert, &key);
    assert!(!Arc::ptr_eq(&before, &tls.config()), "a new certificate is picked up");
}

/// Certificates made in place, without testkit (which depends on this crate).
mod testkit_free {
    use rcgen::{CertificateParams, KeyPair};

    pub struct Pki {
        pub dir: tempfile::TempDir,
    }

    impl Pki {
        pub fn new() -> Pki {
            Pki { dir: tempfile::tempdir().expect("tempdir") }
        }

        /// A self-signed server certificate for 127.0.0.1: (cert, key) paths.
        pub fn server(&self) -> (String, String) {
            let (cert, key) = (self.dir.path().join("s.pem"), self.dir.path().join("s-key.pem"));
            let (cert, key) = (cert.display().to_string(), key.display().to_string());
            self.rewrite_server(&cert, &key);
            (cert, key)
        }

        pub fn rewrite_server(&self, cert: &str, key: &str) {
            let pair = KeyPair::generate().expect("key");
            let made = CertificateParams::new(vec!["127.0.0.1".to_string()])
                .expect("params")
                .self_signed(&pair)
                .expect("sign");
            std::fs::write(cert, made.pem()).expect("cert");
            std::fs::write(key, pair.serialize_pem()).expect("key");
        }
    }
}
