//! stratactl's TLS client compared with etcdctl 3.4.23 on the same server — a real
//! etcd 3.4.23 serving TLS, then strata serving TLS with the same flags: what each
//! prints on stdout, its last `Error:` line and its exit code, for good and bad
//! certificates, mutual TLS, skipped verification and unusable files. Also the
//! `client` crate dialing over TLS.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testkit::{CertFiles, CtlOutput, Pki};

/// A member (etcd 3.4.23 or strata: the flags are the same) serving clients on
/// `https://127.0.0.1:<port>`.
struct TlsEtcd {
    child: Child,
    endpoint: String,
    _data: tempfile::TempDir,
}

impl TlsEtcd {
    /// Starts etcd with `server`'s certificate; `client_ca` turns on
    /// `--client-cert-auth` with that CA.
    fn start(bin: &str, server: &CertFiles, client_ca: Option<&std::path::Path>) -> TlsEtcd {
        let data = tempfile::tempdir().expect("tempdir");
        let (client_port, peer_port) = (testkit::free_port().expect("port"), testkit::free_port().expect("port"));
        let endpoint = format!("https://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let mut cmd = Command::new(bin);
        cmd.arg("--data-dir")
            .arg(data.path().join("data"))
            .args(["--name", "tls", "--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("tls={peer}")])
            .arg("--cert-file")
            .arg(&server.cert)
            .arg("--key-file")
            .arg(&server.key)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(ca) = client_ca {
            cmd.arg("--trusted-ca-file").arg(ca).arg("--client-cert-auth");
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {bin}: {e}"));
        TlsEtcd { child, endpoint, _data: data }
    }

    /// Waits until the member answers a range over TLS, dialing with the `client` crate.
    fn wait_ready(&self, tls: client::TlsOptions) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let tls = tls.build().expect("client TLS configuration");
        let options = client::ConnectOptions { dial_timeout: Duration::from_millis(500), tls: Some(tls) };
        let started = Instant::now();
        let endpoints = [self.endpoint.clone()];
        let ready = runtime.block_on(async {
            while started.elapsed() < Duration::from_secs(20) {
                if let Ok(c) = client::Client::connect_with(&endpoints, &options).await {
                    let req = api::etcdserverpb::RangeRequest { key: b"ready".to_vec(), ..Default::default() };
                    if c.range(req).await.is_ok() {
                        return true;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        });
        assert!(ready, "the member at {} did not answer over TLS", self.endpoint);
    }
}

impl Drop for TlsEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// What the comparison looks at: stdout, the last `Error:` line, the exit code.
fn seen(out: &CtlOutput) -> (String, Option<String>, i32) {
    (out.stdout.clone(), out.error_line().map(str::to_owned), out.code)
}

/// Runs `args` with etcdctl and with stratactl against `endpoint`, asserts that they
/// agree, and returns what they showed.
fn same(endpoint: &str, args: &[&str]) -> (String, Option<String>, i32) {
    let want = seen(&testkit::etcdctl(endpoint, args, None).expect("run etcdctl"));
    let got = seen(&testkit::run_ctl(env!("CARGO_BIN_EXE_stratactl"), endpoint, args, None).expect("run stratactl"));
    assert_eq!(got, want, "stratactl (left) and etcdctl (right) differ for {args:?}");
    want
}

/// [`same`] with `ETCDCTL_*` variables set.
fn same_with_env(endpoint: &str, env: &[(&str, &str)], args: &[&str]) -> (String, Option<String>, i32) {
    let run = |bin: &str| {
        let out = Command::new(bin)
            .env("ETCDCTL_API", "3")
            .envs(env.iter().copied())
            .args(["--endpoints", endpoint])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run");
        let out = CtlOutput {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        };
        seen(&out)
    };
    let want = run("/usr/bin/etcdctl");
    assert_eq!(run(env!("CARGO_BIN_EXE_stratactl")), want, "stratactl (left) and etcdctl (right) differ for {env:?}");
    want
}

const DEADLINE: &str = "Error: context deadline exceeded";

fn need_etcd_and_etcdctl() -> bool {
    if !testkit::have_etcd() || !testkit::have_etcdctl() {
        eprintln!("skipped: /usr/bin/etcd or /usr/bin/etcdctl not installed (apt-get install etcd-server etcd-client)");
        return false;
    }
    true
}

/// The servers every comparison runs against: etcd, then strata.
const SERVERS: [&str; 2] = ["/usr/bin/etcd", env!("CARGO_BIN_EXE_strata")];

#[test]
fn stratactl_over_tls_matches_etcdctl_for_trust_skip_verify_and_bad_files() {
    if !need_etcd_and_etcdctl() {
        return;
    }
    for bin in SERVERS {
        trust_skip_verify_and_bad_files(bin);
    }
}

fn trust_skip_verify_and_bad_files(bin: &str) {
    let pki = Pki::new("strata test ca").expect("ca");
    let other = Pki::new("another ca").expect("other ca");
    let server = pki.server("server").expect("server certificate");
    let etcd = TlsEtcd::start(bin, &server, None);
    let ca = pki.ca();
    etcd.wait_ready(client::TlsOptions { ca_file: Some(path(&ca).into()), ..Default::default() });
    let ep = etcd.endpoint.as_str();
    let ca = path(&ca);
    let wrong_ca = other.ca();
    let wrong_ca = path(&wrong_ca);
    let fast = ["--command-timeout", "1s"];

    assert_eq!(same(ep, &["--cacert", ca, "put", "k", "v"]), ("OK\n".into(), None, 0));
    assert_eq!(same(ep, &["--cacert", ca, "get", "k"]), ("k\nv\n".into(), None, 0));
    // Without a scheme, --cacert alone turns TLS on.
    let bare = ep.trim_start_matches("https://");
    assert_eq!(same(bare, &["--cacert", ca, "get", "k", "--print-value-only"]), ("v\n".into(), None, 0));
    // The host is verified as an IP address or as a name.
    let by_name = ep.replace("127.0.0.1", "localhost");
    assert_eq!(same(&by_name, &["--cacert", ca, "get", "k", "--print-value-only"]), ("v\n".into(), None, 0));

    let refused = (String::new(), Some(DEADLINE.to_string()), 1);
    assert_eq!(same(ep, &[&["--cacert", wrong_ca, "get", "k"][..], &fast].concat()), refused);
    // No CA: the system's roots do not know the test CA.
    assert_eq!(same(ep, &[&["get", "k"][..], &fast].concat()), refused);
    // Skipping verification needs a TLS configuration: alone it changes nothing.
    assert_eq!(same(ep, &[&["--insecure-skip-tls-verify", "get", "k"][..], &fast].concat()), refused);
    let skip = ["--insecure-transport=false", "--insecure-skip-tls-verify", "get", "k", "--print-value-only"];
    assert_eq!(same(ep, &skip), ("v\n".into(), None, 0));
    let skip_wrong_ca = ["--cacert", wrong_ca, "--insecure-skip-tls-verify", "get", "k", "--print-value-only"];
    assert_eq!(same(ep, &skip_wrong_ca), ("v\n".into(), None, 0));
    let env = [("ETCDCTL_INSECURE_TRANSPORT", "false"), ("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "true")];
    assert_eq!(same_with_env(ep, &env, &["get", "k", "--print-value-only"]), ("v\n".into(), None, 0));
    assert_eq!(same_with_env(ep, &[("ETCDCTL_CACERT", ca)], &["get", "k", "-w", "simple"]).2, 0);

    // Files that cannot be used: exit 128 before dialing, with Go's message.
    let missing = pki.dir().join("missing.pem");
    let missing = path(&missing);
    let (_, error, code) = same(ep, &["--cacert", missing, "get", "k"]);
    assert_eq!((error, code), (Some(format!("Error: open {missing}: no such file or directory")), 128));
    let (_, error, code) = same(ep, &["--cert", path(&server.cert), "get", "k"]);
    assert_eq!(code, 128, "{error:?}");
    let (_, error, code) = same(ep, &["--cert", path(&server.key), "--key", path(&server.key), "get", "k"]);
    assert_eq!(code, 128, "{error:?}");
    let (_, error, code) = same(ep, &["--cacert", "", "get", "k"]);
    assert_eq!((error.as_deref(), code), (Some("Error: empty string is passed to --cacert option"), 128));
}

#[test]
fn stratactl_with_client_certificates_matches_etcdctl_against_client_cert_auth() {
    if !need_etcd_and_etcdctl() {
        return;
    }
    for bin in SERVERS {
        client_certificates(bin);
    }
}

fn client_certificates(bin: &str) {
    let pki = Pki::new("strata test ca").expect("ca");
    let other = Pki::new("another ca").expect("other ca");
    let server = pki.server("server").expect("server certificate");
    let alice = pki.client("alice").expect("client certificate");
    let mallory = other.client("mallory").expect("foreign client certificate");
    let etcd = TlsEtcd::start(bin, &server, Some(&pki.ca()));
    let ca = pki.ca();
    etcd.wait_ready(client::TlsOptions {
        ca_file: Some(path(&ca).into()),
        cert_file: Some(path(&alice.cert).into()),
        key_file: Some(path(&alice.key).into()),
        skip_verify: false,
    });
    let ep = etcd.endpoint.as_str();
    let ca = path(&ca);
    let as_alice = ["--cacert", ca, "--cert", path(&alice.cert), "--key", path(&alice.key)];
    let fast = ["--command-timeout", "1s"];

    assert_eq!(same(ep, &[&as_alice[..], &["put", "m", "v"]].concat()), ("OK\n".into(), None, 0));
    assert_eq!(same(ep, &[&as_alice[..], &["get", "m"]].concat()), ("m\nv\n".into(), None, 0));
    assert_eq!(same(ep, &[&as_alice[..], &["del", "absent"]].concat()), ("0\n".into(), None, 0));

    let refused = (String::new(), Some(DEADLINE.to_string()), 1);
    assert_eq!(same(ep, &[&["--cacert", ca, "get", "m"][..], &fast].concat()), refused);
    let as_mallory = ["--cacert", ca, "--cert", path(&mallory.cert), "--key", path(&mallory.key)];
    assert_eq!(same(ep, &[&as_mallory[..], &["get", "m"], &fast].concat()), refused);

    let skip = ["--insecure-transport=false", "--insecure-skip-tls-verify", "--cert", path(&alice.cert)];
    let skip = [&skip[..], &["--key", path(&alice.key), "get", "m", "--print-value-only"]].concat();
    assert_eq!(same(ep, &skip), ("v\n".into(), None, 0));
    let env = [("ETCDCTL_CACERT", ca), ("ETCDCTL_CERT", path(&alice.cert)), ("ETCDCTL_KEY", path(&alice.key))];
    assert_eq!(same_with_env(ep, &env, &["get", "m", "--print-value-only"]), ("v\n".into(), None, 0));
}
