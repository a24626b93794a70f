//! Peer TLS, members in the test's process: a cluster whose peer URLs are
//! `https://` with mutual TLS replicates writes, and a client holding a
//! certificate the peers' CA did not sign, or one whose common name is not
//! the allowed one, is refused at the peer port.

use std::sync::Arc;
use std::time::Duration;

use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::{PutRequest, RangeRequest};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use testkit::{CertFiles, LocalMember, Pki};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn flags(pki: &Pki, cert: &CertFiles) -> Vec<String> {
    let p = |p: &std::path::Path| p.display().to_string();
    vec![
        "--peer-cert-file".into(),
        p(&cert.cert),
        "--peer-key-file".into(),
        p(&cert.key),
        "--peer-trusted-ca-file".into(),
        p(&pki.ca()),
        "--peer-client-cert-auth".into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_with_peer_mtls_replicates_writes() {
    let pki = Pki::new("peers").expect("ca");
    let cert = pki.server("peer").expect("cert");
    let flags = flags(&pki, &cert);
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let members = LocalMember::start_cluster_with_peer_tls(3, &args).await.expect("start over peer TLS");
    let mut revs = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let mut c = KvClient::connect(m.url()).await.expect("connect");
        let put = PutRequest { key: format!("k{i}").into_bytes(), value: b"v".to_vec(), ..PutRequest::default() };
        revs.push(c.put(put).await.expect("put").into_inner().header.map_or(0, |h| h.revision));
    }
    for m in &members {
        let mut c = KvClient::connect(m.url()).await.expect("connect");
        let r = RangeRequest { key: b"k".to_vec(), range_end: b"l".to_vec(), ..RangeRequest::default() };
        let mods: Vec<i64> =
            c.range(r).await.expect("range").into_inner().kvs.iter().map(|kv| kv.mod_revision).collect();
        assert_eq!(mods, revs, "{} has every write", m.name());
    }
}

/// Whether a TLS client with `client` (signed by `signer`) gets an HTTP/2
/// answer from the peer port at `addr` (which trusts `pki`'s CA).
async fn peer_port_answers(addr: &str, pki: &Pki, client: &CertFiles) -> bool {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki.ca()).expect("ca") {
        roots.add(c.expect("ca cert")).expect("root");
    }
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(&client.cert).expect("cert").map(|c| c.expect("cert")).collect();
    let key = PrivateKeyDer::from_pem_file(&client.key).expect("key");
    let provider = Arc::new(tlstrust::ring_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .expect("client cert");
    config.alpn_protocols = vec![b"h2".to_vec()];
    let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else { return false };
    let name = ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into());
    let Ok(mut tls) = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await else { return false };
    // The HTTP/2 preface and an empty SETTINGS frame: a server that accepted
    // the client answers with its own SETTINGS; a refused one closes.
    let hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    if tls.write_all(hello).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 9];
    matches!(tokio::time::timeout(Duration::from_secs(5), tls.read_exact(&mut buf)).await, Ok(Ok(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_port_refuses_certificates_of_another_ca_or_another_common_name() {
    let pki = Pki::new("peers").expect("ca");
    let cert = pki.server("peer").expect("cert");
    let mut args = flags(&pki, &cert);
    args.extend(["--peer-cert-allowed-cn".to_string(), "peer".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let members = LocalMember::start_cluster_with_peer_tls(1, &args).await.expect("start");
    let addr = members[0].peer_addr();
    assert!(peer_port_answers(&addr, &pki, &cert).await, "a peer with the cluster's certificate is served");
    let stranger_ca = Pki::new("stranger").expect("ca");
    let stranger = stranger_ca.client("peer").expect("cert");
    assert!(!peer_port_answers(&addr, &pki, &stranger).await, "a certificate of another CA is refused");
    let other_name = pki.client("intruder").expect("cert");
    assert!(!peer_port_answers(&addr, &pki, &other_name).await, "another common name is refused");
}
