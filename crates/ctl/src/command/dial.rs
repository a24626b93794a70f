//! How every command reaches the cluster: the global TLS flags turned into the client's
//! [`client::ConnectOptions`] as etcdctl 3.4's `newClientCfg` does, and one retry loop
//! ([`dial`]) that every connection goes through.
//!
//! etcdctl's rules, measured against etcdctl 3.4.23:
//! - any of `--cert`, `--key`, `--cacert` makes a TLS configuration from the files (an
//!   unusable file exits 128 with Go's message, before anything is dialed); without
//!   them, `--insecure-transport=false` makes one that trusts the system's roots;
//! - `--insecure-skip-tls-verify` only changes such a configuration: alone (with the
//!   default `--insecure-transport`) it does nothing;
//! - the client then uses TLS as the first endpoint's scheme says (`client`'s rule:
//!   `https://` always, `http://` never, none when there is a configuration);
//! - a handshake that fails (unknown CA, wrong name, refused client certificate) is a
//!   failed dial, retried until the command's deadline: "context deadline exceeded".

use crate::cli::GlobalFlags;
use crate::error::{CtlError, Result};
use std::time::Duration;

/// The dial settings of `global`. Reads the TLS files.
pub fn connect_options(global: &GlobalFlags) -> Result<client::ConnectOptions> {
    for (flag, value) in [("cert", &global.cert), ("key", &global.key), ("cacert", &global.cacert)] {
        if value.as_deref() == Some("") {
            return Err(CtlError::bad_args(format!("empty string is passed to --{flag} option")));
        }
    }
    let files_given = global.cert.is_some() || global.key.is_some() || global.cacert.is_some();
    let tls = if files_given || !global.insecure_transport {
        let options = client::TlsOptions {
            ca_file: global.cacert.clone(),
            cert_file: global.cert.clone(),
            key_file: global.key.clone(),
            skip_verify: global.insecure_skip_tls_verify,
        };
        Some(options.build().map_err(|e| CtlError::bad_args(e.to_string()))?)
    } else {
        None
    };
    Ok(client::ConnectOptions { dial_timeout: global.dial_timeout, tls })
}

/// Connects to `endpoints`, retrying every 100 ms until one accepts; only settings that
/// can never work (a bad endpoint, unusable TLS files) fail. Callers bound it with their
/// own deadline.
pub async fn dial(global: &GlobalFlags, endpoints: &[String]) -> Result<client::Client> {
    let options = connect_options(global)?;
    loop {
        match client::Client::connect_with(endpoints, &options).await {
            Ok(c) => return Ok(c),
            Err(e @ client::Error::InvalidEndpoint { .. }) => return Err(CtlError::error(e.to_string())),
            Err(client::Error::Tls(e)) => return Err(CtlError::bad_args(e.to_string())),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;

    fn global(args: &[&str]) -> GlobalFlags {
        let mut all = vec!["stratactl"];
        all.extend_from_slice(args);
        all.push("get");
        all.push("k");
        crate::cli::parse(all.into_iter().map(Into::into).collect()).expect("parses").expect("not help").global
    }

    fn uses_tls(args: &[&str]) -> bool {
        connect_options(&global(args)).expect("options").tls.is_some()
    }

    fn refusal(args: &[&str]) -> (ExitCode, String) {
        let e = connect_options(&global(args)).expect_err("refused");
        (e.code, e.message)
    }

    #[test]
    fn tls_is_configured_by_a_file_flag_or_secure_transport() {
        assert!(!uses_tls(&[]));
        assert!(!uses_tls(&["--insecure-skip-tls-verify"]), "skip-verify alone changes nothing");
        assert!(uses_tls(&["--insecure-transport=false"]));
        assert!(uses_tls(&["--insecure-transport=false", "--insecure-skip-tls-verify"]));
    }

    #[test]
    fn unusable_files_exit_128_with_go_messages_in_etcdctls_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.pem").to_string_lossy().into_owned();
        assert_eq!(refusal(&["--cacert", ""]), (ExitCode::BadArgs, "empty string is passed to --cacert option".into()));
        assert_eq!(
            refusal(&["--cert=", "--key="]),
            (ExitCode::BadArgs, "empty string is passed to --cert option".into())
        );
        assert_eq!(
            refusal(&["--cert", "c.pem"]),
            (ExitCode::BadArgs, "KeyFile and CertFile must both be present[key: , cert: c.pem]".into())
        );
        assert_eq!(
            refusal(&["--cacert", &missing, "--cert", "c.pem"]),
            (ExitCode::BadArgs, "KeyFile and CertFile must both be present[key: , cert: c.pem]".into())
        );
        assert_eq!(
            refusal(&["--cacert", &missing]),
            (ExitCode::BadArgs, format!("open {missing}: no such file or directory"))
        );
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "garbage\n").expect("write");
        let garbage = garbage.to_string_lossy().into_owned();
        assert_eq!(
            refusal(&["--cert", &garbage, "--key", &garbage]),
            (ExitCode::BadArgs, "tls: failed to find any PEM data in certificate input".into())
        );
        assert!(uses_tls(&["--cacert", &garbage]), "a bundle without PEM blocks is no error until the handshake");
    }

    #[tokio::test]
    async fn dial_gives_up_at_once_on_bad_files_and_retries_a_refused_handshake() {
        let g = global(&["--cacert", "/nonexistent/ca.pem"]);
        let e = dial(&g, &["127.0.0.1:1".to_string()]).await.expect_err("no file");
        assert_eq!(
            (e.code, e.message.as_str()),
            (ExitCode::BadArgs, "open /nonexistent/ca.pem: no such file or directory")
        );
        let g = global(&["--insecure-transport=false", "--dial-timeout", "100ms"]);
        let retried = tokio::time::timeout(Duration::from_millis(500), dial(&g, &["127.0.0.1:1".to_string()])).await;
        assert!(retried.is_err(), "still retrying");
    }
}
