//! [`Pki`]: a certificate authority made by the test, and the PEM files a
//! TLS test hands to servers and clients (`--cert-file`, `--cacert`, …).
//!
//! Everything is generated with rcgen into a temporary directory; nothing is
//! checked in. Server certificates name `127.0.0.1` and `localhost`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A test CA and the directory its files are written to.
pub struct Pki {
    dir: tempfile::TempDir,
    ca_key: KeyPair,
    ca_params: CertificateParams,
}

impl Pki {
    /// A new CA named `name` (its certificate is `ca()`).
    pub fn new(name: &str) -> anyhow::Result<Pki> {
        let dir = tempfile::tempdir()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate()?;
        let ca_cert = params.clone().self_signed(&ca_key)?;
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem())?;
        Ok(Pki { dir, ca_key, ca_params: params })
    }

    /// The CA certificate's PEM file (`--trusted-ca-file`, `--cacert`).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A server certificate for 127.0.0.1 and localhost, stored as `<name>.pem`
    /// and `<name>-key.pem`.
    pub fn server(&self, name: &str) -> anyhow::Result<CertFiles> {
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        params.distinguished_name = dn(name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(name, params)
    }

    /// A client certificate whose common name is `common_name` (etcd takes it
    /// as the user name with `--client-cert-auth`).
    pub fn client(&self, common_name: &str) -> anyhow::Result<CertFiles> {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(&format!("client-{common_name}"), params)
    }

    /// A server certificate for 127.0.0.1 that expired an hour ago.
    pub fn expired_server(&self, name: &str) -> anyhow::Result<CertFiles> {
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        params.distinguished_name = dn(name);
        let now = std::time::SystemTime::now();
        params.not_before = (now - std::time::Duration::from_secs(7200)).into();
        params.not_after = (now - std::time::Duration::from_secs(3600)).into();
        self.issue(name, params)
    }

    fn issue(&self, name: &str, params: CertificateParams) -> anyhow::Result<CertFiles> {
        let key = KeyPair::generate()?;
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).with_context(|| format!("sign {name}"))?;
        let files = CertFiles {
            cert: self.dir.path().join(format!("{name}.pem")),
            key: self.dir.path().join(format!("{name}-key.pem")),
        };
        std::fs::write(&files.cert, cert.pem())?;
        std::fs::write(&files.key, key.serialize_pem())?;
        Ok(files)
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_ca_and_certificates_it_signed() {
        let pki = Pki::new("test-ca").expect("ca");
        let server = pki.server("server").expect("server");
        let client = pki.client("alice").expect("client");
        for f in [pki.ca(), server.cert, server.key, client.cert, client.key] {
            let pem = std::fs::read_to_string(&f).expect("read");
            assert!(pem.starts_with("-----BEGIN "), "{}: {pem}", f.display());
        }
    }
}
