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
//!
//! And clientv3's login, with `--user` and `--password` ([`credentials`]): given both a
//! user name and a password, the client logs in once connected, within `--dial-timeout`;
//! a refused login ("etcdserver: authentication failed, invalid user ID or password") or
//! no member within that time ("context deadline exceeded") exits 2, as etcdctl does when
//! `clientv3.New` fails.

use super::password;
use crate::cli::GlobalFlags;
use crate::error::{CtlError, ExitCode, Result};
use std::sync::Arc;
use std::time::Duration;

/// A user name and password to log in with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("user", &self.user).finish_non_exhaustive()
    }
}

/// Where [`credentials`] keeps `--user` and `--password` once resolved, so that the
/// password is asked for at most once however many connections a command opens. Clones
/// (of the global flags) share it.
#[derive(Clone, Debug, Default)]
pub struct CredentialsCell(Arc<tokio::sync::OnceCell<Option<Credentials>>>);

/// `--user` and `--password` as etcdctl's `authCfgFromCmd` reads them: none without
/// `--user`; with `--password`, the whole `--user` is the name; otherwise `name:password`
/// split at the first colon, or a bare name and the password asked for on the terminal
/// ("Password: ", [`password::ask`]) or read as the next line of stdin. Resolved on first
/// use, as etcdctl does when it makes its client, and kept for the run.
pub async fn credentials(global: &GlobalFlags) -> Result<Option<&Credentials>> {
    let resolved = global.credentials.0.get_or_try_init(|| resolve(global)).await?;
    Ok(resolved.as_ref())
}

async fn resolve(global: &GlobalFlags) -> Result<Option<Credentials>> {
    let Some(user) = global.user.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let (user, password) = match (global.password.as_deref().filter(|p| !p.is_empty()), user.split_once(':')) {
        (Some(password), _) => (user, password.to_owned()),
        (None, Some((user, password))) => (user, password.to_owned()),
        (None, None) => {
            let asked = password::ask("Password: ", &mut std::io::stdin()).await;
            (user, asked.map_err(|e| CtlError::error(e.to_string()))?)
        }
    };
    Ok(Some(Credentials { user: user.to_owned(), password }))
}

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
/// own deadline. With a user name and a password, it then logs in (see the module's
/// documentation), all within `--dial-timeout`.
pub async fn dial(global: &GlobalFlags, endpoints: &[String]) -> Result<client::Client> {
    let options = connect_options(global)?;
    let login = credentials(global).await?.filter(|c| !c.user.is_empty() && !c.password.is_empty());
    let connecting = async {
        loop {
            match client::Client::connect_with(endpoints, &options).await {
                Ok(c) => return Ok(c),
                Err(e @ client::Error::InvalidEndpoint { .. }) => return Err(CtlError::error(e.to_string())),
                Err(client::Error::Tls(e)) => return Err(CtlError::bad_args(e.to_string())),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    };
    let Some(login) = login else {
        return connecting.await;
    };
    let logging_in = async {
        let client = connecting.await?;
        let refused = |e: client::Error| CtlError::new(ExitCode::BadConnection, e.to_string());
        client.authenticate(&login.user, &login.password).await.map_err(refused)
    };
    if options.dial_timeout.is_zero() {
        return logging_in.await; // clientv3: no dial timeout at all
    }
    tokio::time::timeout(options.dial_timeout, logging_in)
        .await
        .unwrap_or_else(|_| Err(CtlError::new(ExitCode::BadConnection, "context deadline exceeded")))
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

    async fn login(args: &[&str]) -> Option<(String, String)> {
        let g = global(args);
        credentials(&g).await.expect("no prompt").map(|c| (c.user.clone(), c.password.clone()))
    }

    fn pair(user: &str, password: &str) -> Option<(String, String)> {
        Some((user.to_owned(), password.to_owned()))
    }

    #[tokio::test]
    async fn user_and_password_are_read_as_etcdctl_reads_them() {
        assert_eq!(login(&[]).await, None);
        assert_eq!(login(&["--password", "pw"]).await, None, "a password alone is ignored");
        assert_eq!(login(&["--user", ""]).await, None);
        assert_eq!(login(&["--user", "root:pw"]).await, pair("root", "pw"));
        assert_eq!(login(&["--user=root:p:w"]).await, pair("root", "p:w"), "split at the first colon");
        assert_eq!(login(&["--user", "root:"]).await, pair("root", ""));
        assert_eq!(login(&["--user", "root", "--password", "pw"]).await, pair("root", "pw"));
        assert_eq!(login(&["--user", "a:b", "--password=pw"]).await, pair("a:b", "pw"), "the whole --user is the name");
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
