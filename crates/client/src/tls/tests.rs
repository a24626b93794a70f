use super::*;
use crate::connector::tls_connector;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{Service, ServiceExt};

/// A CA and certificates it signed, as PEM files in a temporary directory.
struct Files {
    dir: tempfile::TempDir,
    ca_params: CertificateParams,
    ca_key: KeyPair,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name.push(DnType::CommonName, "test ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().expect("key");
        let ca = ca_params.clone().self_signed(&ca_key).expect("ca");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write");
        Files { dir, ca_params, ca_key }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn write(&self, name: &str, contents: &str) -> String {
        std::fs::write(self.path(name), contents).expect("write");
        self.path(name)
    }

    /// `<name>.pem` and `<name>-key.pem`, for `names` (DNS names) and 127.0.0.1 if `ip`.
    fn issue(&self, name: &str, names: &[&str], ip: bool) -> (String, String) {
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("p");
        if ip {
            params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
        }
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &Issuer::from_params(&self.ca_params, &self.ca_key)).expect("sign");
        (self.write(&format!("{name}.pem"), &cert.pem()), self.write(&format!("{name}-key.pem"), &key.serialize_pem()))
    }
}

fn build_err(options: TlsOptions) -> String {
    options.build().map(|_| ()).expect_err("should not build").to_string()
}

fn mtls(cert: &str, key: &str) -> TlsOptions {
    TlsOptions { cert_file: Some(cert.into()), key_file: Some(key.into()), ..Default::default() }
}

#[test]
fn a_certificate_needs_its_key_and_a_key_its_certificate() {
    let f = Files::new();
    let (cert, key) = f.issue("client", &["client"], false);
    let only_cert = TlsOptions { cert_file: Some(cert.clone()), ..Default::default() };
    assert_eq!(build_err(only_cert), format!("KeyFile and CertFile must both be present[key: , cert: {cert}]"));
    let only_key = TlsOptions { key_file: Some(key.clone()), ..Default::default() };
    assert_eq!(build_err(only_key), format!("KeyFile and CertFile must both be present[key: {key}, cert: ]"));
    assert!(mtls(&cert, &key).build().is_ok());
}

#[test]
fn missing_and_unreadable_files_fail_as_go_reads_them() {
    let f = Files::new();
    let (cert, key) = f.issue("client", &["client"], false);
    let missing = f.path("nope.pem");
    assert_eq!(build_err(mtls(&missing, &key)), format!("open {missing}: no such file or directory"));
    assert_eq!(build_err(mtls(&cert, &missing)), format!("open {missing}: no such file or directory"));
    let ca = |path: &str| TlsOptions { ca_file: Some(path.into()), ..Default::default() };
    assert_eq!(build_err(ca(&missing)), format!("open {missing}: no such file or directory"));
    let dir = f.dir.path().to_string_lossy().into_owned();
    assert_eq!(build_err(ca(&dir)), format!("read {dir}: is a directory"));
}

#[test]
fn pem_files_of_the_wrong_kind_fail_with_go_crypto_tls_messages() {
    let f = Files::new();
    let (cert, key) = f.issue("client", &["client"], false);
    let (_, other_key) = f.issue("other", &["other"], false);
    let garbage = f.write("garbage.pem", "not pem at all\n");
    let csr = f.write("csr.pem", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
    let cases = [
        (mtls(&garbage, &key), "tls: failed to find any PEM data in certificate input"),
        (
            mtls(&key, &key),
            "tls: failed to find certificate PEM data in certificate input, but did find a private key; \
             PEM inputs may have been switched",
        ),
        (
            mtls(&csr, &key),
            "tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks \
             of the following types: [CERTIFICATE REQUEST]",
        ),
        (mtls(&cert, &garbage), "tls: failed to find any PEM data in key input"),
        (mtls(&cert, &cert), "tls: found a certificate rather than a key in the PEM for the private key"),
        (mtls(&cert, &other_key), "tls: private key does not match public key"),
        (TlsOptions { ca_file: Some(key.clone()), ..Default::default() }, "x509: malformed tbs certificate"),
    ];
    for (options, want) in cases {
        assert_eq!(build_err(options.clone()), want, "{options:?}");
    }
}

#[test]
fn a_bundle_without_pem_blocks_builds_and_trusts_nothing() {
    let f = Files::new();
    let garbage = f.write("garbage.pem", "not pem at all\n");
    let config = TlsOptions { ca_file: Some(garbage), ..Default::default() }.build();
    assert!(config.is_ok());
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A TLS server on 127.0.0.1 that reads the HTTP/2 preface and "ping" from each client
/// it accepts and answers "hello" and "ping"; "hello" goes before it reads if
/// `speaks_first` (as grpc-go does), after otherwise (as a server that also speaks
/// HTTP/1.1 does). `client_ca` makes it demand a client certificate.
async fn serve(cert: &str, key: &str, client_ca: Option<&str>, speaks_first: bool) -> std::net::SocketAddr {
    let provider = ring_provider();
    let chain = certificate_blocks(&pem::blocks(&read(cert).expect("cert"))).expect("chain");
    let key_blocks = pem::blocks(&read(key).expect("key"));
    let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(private_key_block(&key_blocks).expect("key").der.clone()));
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        Some(ca) => {
            let roots = Arc::new(ca_bundle(ca).expect("ca"));
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider).build().expect("verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(chain, key).expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                if speaks_first {
                    let _ = tls.write_all(b"hello").await;
                }
                let mut preface = [0u8; PREFACE.len()];
                if tls.read_exact(&mut preface).await.is_err() || preface != PREFACE {
                    return;
                }
                if !speaks_first {
                    let _ = tls.write_all(b"hello").await;
                }
                let mut ping = [0u8; 4];
                if tls.read_exact(&mut ping).await.is_ok() {
                    let _ = tls.write_all(&ping).await;
                }
            });
        }
    });
    addr
}

/// Dials `host:port` with `options`, writes the HTTP/2 preface and "ping" (as an
/// HTTP/2 client would start), and returns all the server said.
async fn talk(options: TlsOptions, host: &str, port: u16) -> Result<String, String> {
    let config = options.build().map_err(|e| e.to_string())?;
    let uri: Uri = format!("http://{host}:{port}").parse().expect("uri");
    let mut connector = tls_connector(config);
    let io = connector.ready().await.map_err(|e| e.to_string())?.call(uri).await.map_err(|e| e.to_string())?;
    let mut stream = io.into_inner();
    stream.write_all(&[PREFACE, b"ping"].concat()).await.map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    while got.len() < b"helloping".len() {
        let mut buf = [0u8; 16];
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Ok(String::from_utf8_lossy(&got).into_owned())
}

use tonic::transport::Uri;

#[tokio::test]
async fn server_certificates_are_verified_against_the_bundle_and_the_host() {
    let f = Files::new();
    let (cert, key) = f.issue("server", &["localhost"], true);
    let port = serve(&cert, &key, None, true).await.port();
    let trusting = TlsOptions { ca_file: Some(f.path("ca.pem")), ..Default::default() };
    assert_eq!(talk(trusting.clone(), "127.0.0.1", port).await, Ok("helloping".to_string()));
    assert_eq!(talk(trusting.clone(), "localhost", port).await, Ok("helloping".to_string()));

    let other = Files::new();
    let wrong_ca = TlsOptions { ca_file: Some(other.path("ca.pem")), ..Default::default() };
    // Both CAs are called "test ca", so rustls finds the issuer and then a bad signature.
    let err = talk(wrong_ca.clone(), "127.0.0.1", port).await.expect_err("another CA");
    assert!(err.starts_with("invalid peer certificate"), "{err}");
    let skipping = TlsOptions { skip_verify: true, ..wrong_ca };
    assert_eq!(talk(skipping, "127.0.0.1", port).await, Ok("helloping".to_string()));

    let empty = TlsOptions { ca_file: Some(f.write("empty.pem", "no blocks\n")), ..Default::default() };
    assert!(talk(empty.clone(), "127.0.0.1", port).await.is_err());
    assert!(talk(TlsOptions { skip_verify: true, ..empty }, "127.0.0.1", port).await.is_ok());

    let (named, named_key) = f.issue("named", &["example.com"], false);
    let port = serve(&named, &named_key, None, true).await.port();
    let err = talk(trusting, "127.0.0.1", port).await.expect_err("127.0.0.1 is not in the certificate");
    assert!(err.contains("not valid for name \"127.0.0.1\""), "{err}");
}

#[tokio::test]
async fn a_server_demanding_a_client_certificate_refuses_the_dial_without_one() {
    let f = Files::new();
    let (cert, key) = f.issue("server", &["localhost"], true);
    let (client, client_key) = f.issue("client", &["client"], false);
    let ca = Some(f.path("ca.pem"));
    let without = TlsOptions { ca_file: ca.clone(), ..Default::default() };
    let with = TlsOptions { ca_file: ca, cert_file: Some(client), key_file: Some(client_key), skip_verify: false };
    for speaks_first in [true, false] {
        let port = serve(&cert, &key, Some(&f.path("ca.pem")), speaks_first).await.port();
        assert!(talk(without.clone(), "127.0.0.1", port).await.is_err(), "dial without a client certificate");
        // The connector sent the preface and read "hello" while checking the handshake:
        // the client's own preface is dropped and "hello" replayed.
        assert_eq!(talk(with.clone(), "127.0.0.1", port).await, Ok("helloping".to_string()));
    }
    let port = serve(&cert, &key, Some(&f.path("ca.pem")), true).await.port();

    let other = Files::new();
    let (stranger, stranger_key) = other.issue("stranger", &["stranger"], false);
    let foreign = TlsOptions {
        ca_file: Some(f.path("ca.pem")),
        cert_file: Some(stranger),
        key_file: Some(stranger_key),
        skip_verify: false,
    };
    assert!(talk(foreign, "127.0.0.1", port).await.is_err(), "dial with a certificate of another CA");
}
