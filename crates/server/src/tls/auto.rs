//! `--auto-tls`: a self-signed certificate for the client URLs' hosts, kept
//! in `<data-dir>/fixtures/client` (etcd's place and file names) and reused
//! by later starts, as etcd does.

use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

use super::TlsError;

/// The certificate and key files, made if missing.
pub fn self_signed(dir: &Path, urls: &[String], validity_years: u32) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let io = |e: std::io::Error| TlsError::File { path: dir.display().to_string(), reason: e.to_string() };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "etcd");
    params.distinguished_name = dn;
    for host in urls.iter().filter_map(|u| host(u)) {
        params.subject_alt_names.push(match host.parse() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.try_into().map_err(|e| TlsError::Flag(format!("auto-tls host: {e}")))?),
        });
    }
    let now = std::time::SystemTime::now();
    params.not_before = now.into();
    params.not_after =
        (now + std::time::Duration::from_secs(365 * 24 * 3600 * u64::from(validity_years.max(1)))).into();
    let rcgen = |e: rcgen::Error| TlsError::Flag(format!("auto-tls: {e}"));
    let key_pair = KeyPair::generate().map_err(rcgen)?;
    let made = params.self_signed(&key_pair).map_err(rcgen)?;
    write_private(&key, key_pair.serialize_pem().as_bytes()).map_err(io)?;
    std::fs::write(&cert, made.pem()).map_err(io)?;
    tracing::info!(cert = %cert.display(), "created a self-signed certificate (--auto-tls)");
    Ok((cert, key))
}

/// The host of `https://host:port`.
fn host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?.trim_end_matches('/');
    let (host, _) = rest.rsplit_once(':')?;
    Some(host.trim_start_matches('[').trim_end_matches(']').to_string())
}

/// A key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
