//! TLS on strata's client port, driven by the real etcdctl 3.4.23 and curl
//! with certificates the test makes (`testkit::Pki`): an `https://` URL is
//! served with TLS beside a plain one, plaintext and unknown CAs are refused,
//! client certificates are required once a trusted CA is given (as etcd
//! does), rotated files are served without a restart, `--auto-tls` works, and
//! an `https://` URL without a certificate refuses to start.

use std::process::Command;

use testkit::{MemberProcess, Pki, etcdctl, free_port};

use crate::strata;

/// A strata member serving its usual plain URL and `https://127.0.0.1:PORT`
/// with `flags`; the https endpoint.
fn tls_member(flags: &[&str]) -> (MemberProcess, String) {
    let url = format!("https://127.0.0.1:{}", free_port().expect("port"));
    let mut all = vec!["--listen-client-urls", url.as_str()];
    all.extend_from_slice(flags);
    (strata(&all), url)
}

/// etcdctl against `endpoint` with TLS `flags`: (exit code, stdout).
fn ctl(endpoint: &str, flags: &[&str], args: &[&str]) -> (i32, String) {
    let mut all: Vec<&str> = vec!["--dial-timeout", "2s", "--command-timeout", "3s"];
    all.extend_from_slice(flags);
    all.extend_from_slice(args);
    let out = etcdctl(endpoint, &all, None).expect("run etcdctl");
    (out.code, out.stdout)
}

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[test]
fn etcdctl_reaches_strata_over_tls_and_plaintext_or_an_unknown_ca_is_refused() {
    crate::need_etcdctl!();
    let pki = Pki::new("ca").expect("ca");
    let server = pki.server("server").expect("server cert");
    let (cert, key, ca) = (path(&server.cert), path(&server.key), path(&pki.ca()));
    let (m, https) = tls_member(&["--cert-file", &cert, "--key-file", &key]);

    assert_eq!(ctl(&https, &["--cacert", &ca], &["put", "k", "over-tls"]), (0, "OK\n".into()));
    assert_eq!(ctl(&https, &["--cacert", &ca], &["get", "k", "--print-value-only"]), (0, "over-tls\n".into()));
    // The plain URL serves the same member at the same time, as etcd allows.
    assert_eq!(ctl(&m.endpoint(), &[], &["get", "k", "--print-value-only"]), (0, "over-tls\n".into()));

    let plaintext = https.replace("https://", "http://");
    assert_ne!(ctl(&plaintext, &[], &["get", "k"]).0, 0, "plaintext to the TLS port is refused");
    let other = Pki::new("another ca").expect("ca");
    assert_ne!(ctl(&https, &["--cacert", &path(&other.ca())], &["get", "k"]).0, 0, "an unknown CA is refused");

    // The HTTP endpoints are served over TLS on the same port.
    let health = Command::new("curl").args(["-sf", "--cacert", &ca, &format!("{https}/health")]).output();
    let health = health.expect("curl");
    assert!(health.status.success(), "{health:?}");
    assert!(String::from_utf8_lossy(&health.stdout).contains("\"health\":\"true\""), "{health:?}");
}

#[test]
fn a_trusted_ca_requires_a_client_certificate_it_signed() {
    crate::need_etcdctl!();
    let pki = Pki::new("ca").expect("ca");
    let server = pki.server("server").expect("server cert");
    let alice = pki.client("alice").expect("client cert");
    let ca = path(&pki.ca());
    // No --client-cert-auth: etcd requires client certificates as soon as
    // --trusted-ca-file is given (checked against etcd 3.4.23 and 3.6.14).
    let (_m, https) =
        tls_member(&["--cert-file", &path(&server.cert), "--key-file", &path(&server.key), "--trusted-ca-file", &ca]);
    assert_ne!(ctl(&https, &["--cacert", &ca], &["put", "k", "v"]).0, 0, "no client certificate");
    let mtls = ["--cacert", ca.as_str(), "--cert", &path(&alice.cert), "--key", &path(&alice.key)];
    assert_eq!(ctl(&https, &mtls, &["put", "k", "v"]), (0, "OK\n".into()));
    let stranger_ca = Pki::new("stranger").expect("ca");
    let mallory = stranger_ca.client("mallory").expect("client cert");
    let foreign = ["--cacert", ca.as_str(), "--cert", &path(&mallory.cert), "--key", &path(&mallory.key)];
    assert_ne!(ctl(&https, &foreign, &["put", "k", "v"]).0, 0, "a certificate the trusted CA did not sign");
}

#[test]
fn rotated_certificate_files_are_served_without_a_restart() {
    crate::need_etcdctl!();
    let first = Pki::new("first").expect("ca");
    let server = first.server("server").expect("server cert");
    let (cert, key) = (path(&server.cert), path(&server.key));
    let (_m, https) = tls_member(&["--cert-file", &cert, "--key-file", &key]);
    assert_eq!(ctl(&https, &["--cacert", &path(&first.ca())], &["put", "k", "v"]).0, 0);

    let second = Pki::new("second").expect("ca");
    let renewed = second.server("server").expect("renewed cert");
    std::fs::copy(&renewed.key, &key).expect("replace key");
    std::fs::copy(&renewed.cert, &cert).expect("replace cert");
    assert_eq!(ctl(&https, &["--cacert", &path(&second.ca())], &["get", "k", "--print-value-only"]), (0, "v\n".into()));
    assert_ne!(ctl(&https, &["--cacert", &path(&first.ca())], &["get", "k"]).0, 0, "the old certificate is gone");
}

#[test]
fn auto_tls_serves_a_self_signed_certificate() {
    crate::need_etcdctl!();
    let (m, https) = tls_member(&["--auto-tls"]);
    // etcdctl 3.4 applies --insecure-skip-tls-verify only with --insecure-transport=false.
    let skip = ["--insecure-transport=false", "--insecure-skip-tls-verify"];
    assert_eq!(ctl(&https, &skip, &["put", "k", "v"]), (0, "OK\n".into()));
    assert!(m.data_dir().join("fixtures/client/cert.pem").exists());
}

#[test]
fn an_expired_server_certificate_is_refused_by_the_client() {
    crate::need_etcdctl!();
    let pki = Pki::new("ca").expect("ca");
    let expired = pki.expired_server("server").expect("expired cert");
    let (_m, https) = tls_member(&["--cert-file", &path(&expired.cert), "--key-file", &path(&expired.key)]);
    assert_ne!(ctl(&https, &["--cacert", &path(&pki.ca())], &["get", "k"]).0, 0);
}

#[test]
fn an_https_url_without_a_certificate_never_starts() {
    let url = format!("https://127.0.0.1:{}", free_port().expect("port"));
    let started = MemberProcess::start_strata(env!("CARGO_BIN_EXE_strata"), &["--listen-client-urls", &url]);
    let err = started.err().map(|e| format!("{e:#}")).unwrap_or_default();
    let want =
        format!("TLS key/cert (--cert-file, --key-file) must be provided for client url {url} with HTTPS scheme");
    assert!(err.contains(&want), "{err}");
    let peer = ["--listen-peer-urls", "https://127.0.0.1:1"];
    let err = MemberProcess::start_strata(env!("CARGO_BIN_EXE_strata"), &peer).err().map(|e| format!("{e:#}"));
    let want = "TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url https://127.0.0.1:1";
    assert!(err.unwrap_or_default().contains(want), "an https peer URL is not served in plaintext either");
}

#[test]
fn the_metrics_url_serves_probes_without_a_client_certificate() {
    crate::need_etcdctl!();
    let pki = Pki::new("ca").expect("ca");
    let server = pki.server("server").expect("server cert");
    let ca = path(&pki.ca());
    let metrics = format!("http://127.0.0.1:{}", free_port().expect("port"));
    let flags = ["--cert-file", &path(&server.cert), "--key-file", &path(&server.key), "--trusted-ca-file", &ca];
    let (_m, https) = tls_member(&[&flags[..], &["--listen-metrics-urls", &metrics]].concat());
    for (path, want) in [("/metrics", "etcd_server_has_leader 1"), ("/health", "\"health\":\"true\"")] {
        let out = Command::new("curl").args(["-sf", &format!("{metrics}{path}")]).output().expect("curl");
        assert!(String::from_utf8_lossy(&out.stdout).contains(want), "{path}: {out:?}");
    }
    // The client port still wants a client certificate for the same paths.
    let out = Command::new("curl").args(["-sf", "--cacert", &ca, &format!("{https}/health")]).output().expect("curl");
    assert!(!out.status.success(), "{out:?}");
}
