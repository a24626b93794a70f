//! A kube-apiserver process (the `kube-apiserver` anchor) in a temporary
//! directory that holds everything it reads and writes, and `kubectl`
//! pointed at it as a member of `system:masters`.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::{Pki, free_port};

/// How often the apiserver compacts the store (`--etcd-compaction-interval`):
/// short, so that a test sees a revision compacted within seconds.
pub const COMPACTION_INTERVAL: Duration = Duration::from_secs(10);

/// Enough for `/readyz` on a loaded 2-core machine (about 5 s when idle).
const READY_WITHIN: Duration = Duration::from_secs(60);

/// The apiserver's bearer token, mapped to `system:masters` by `tokens.csv`.
const TOKEN: &str = "admin-token";

/// The apiserver, killed when dropped; its log is printed then if the test
/// is failing.
pub struct KubeApiserver {
    child: Child,
    dir: tempfile::TempDir,
    /// The service-account signing key and its certificate live here.
    _pki: Pki,
}

impl KubeApiserver {
    /// Starts `bin` against the store's client URLs `etcd_servers` and waits
    /// until `/readyz` answers `ok`; answers it and how long that took.
    pub fn start(bin: &Path, etcd_servers: &[String]) -> (KubeApiserver, Duration) {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = Pki::new("service accounts").expect("pki");
        let sa = pki.client("service-account-signer").expect("service-account key");
        let port = free_port().expect("port");
        std::fs::write(dir.path().join("tokens.csv"), format!("{TOKEN},admin,uid-admin,\"system:masters\"\n"))
            .expect("tokens.csv");
        std::fs::write(dir.path().join("kubeconfig"), kubeconfig(port)).expect("kubeconfig");
        let log = File::create(dir.path().join("apiserver.log")).expect("log file");
        let started = Instant::now();
        let child = Command::new(bin)
            .arg(format!("--etcd-servers={}", etcd_servers.join(",")))
            .arg(format!("--etcd-compaction-interval={}s", COMPACTION_INTERVAL.as_secs()))
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            // A certificate is a public key file; a PKCS#8 key is not.
            .arg(format!("--service-account-key-file={}", sa.cert.display()))
            .arg(format!("--service-account-signing-key-file={}", sa.key.display()))
            .arg("--authorization-mode=RBAC")
            .arg(format!("--token-auth-file={}", dir.path().join("tokens.csv").display()))
            .args([&format!("--secure-port={port}"), "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
            .arg(format!("--cert-dir={}", dir.path().join("certs").display()))
            // One apiserver: nothing to reconcile in the `kubernetes` service's endpoints.
            .args(["--service-cluster-ip-range=10.96.0.0/16", "--endpoint-reconciler-type=none"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let mut apiserver = KubeApiserver { child, dir, _pki: pki };
        apiserver.wait_ready();
        (apiserver, started.elapsed())
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let status = self.child.try_wait().expect("poll the apiserver");
            assert!(status.is_none(), "kube-apiserver exited with {status:?} before it was ready");
            let out = self.kubectl(&["get", "--raw", "/readyz"]);
            if out.status.success() && String::from_utf8_lossy(&out.stdout) == "ok" {
                return;
            }
            assert!(Instant::now() < deadline, "/readyz not ok within {READY_WITHIN:?}: {}", text(&out));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The apiserver's log so far.
    pub fn log(&self) -> String {
        let bytes = std::fs::read(self.dir.path().join("apiserver.log")).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A `kubectl` command for this apiserver (its own discovery cache, so
    /// runs do not share one).
    fn command(&self) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.arg(format!("--kubeconfig={}", self.dir.path().join("kubeconfig").display()))
            .arg(format!("--cache-dir={}", self.dir.path().join("kube-cache").display()))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `kubectl args`, each request bounded by 10 s (kubectl still
    /// retries an answer that says "retry after", up to 10 times).
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.command().arg("--request-timeout=10s").args(args).output().expect("run kubectl")
    }

    /// `kubectl args`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(out.status.success(), "kubectl {}: {}", args.join(" "), text(&out));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// `kubectl args` (which prints one JSON document), parsed.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {}: {e}: {out}", args.join(" ")))
    }

    /// `kubectl get --raw path`: the JSON answer, or kubectl's stderr.
    pub fn get_raw(&self, path: &str) -> Result<Value, String> {
        let out = self.kubectl(&["get", "--raw", path]);
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("GET {path}: {e}: {}", text(&out))))
    }

    /// Writes `body` to a file in the temp dir and answers its path (for `-f`).
    pub fn file(&self, name: &str, body: &Value) -> PathBuf {
        let path = self.dir.path().join(name);
        File::create(&path).and_then(|mut f| f.write_all(body.to_string().as_bytes())).expect("write file");
        path
    }

    /// Starts `kubectl args` (a `get -w -o json`), whose objects arrive one
    /// by one on [`KubectlWatch::next`].
    pub fn watch(&self, args: &[&str]) -> KubectlWatch {
        let mut child = self.command().args(args).stdout(Stdio::piped()).spawn().expect("run kubectl");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, objects) = channel();
        std::thread::spawn(move || {
            let stream = serde_json::Deserializer::from_reader(BufReader::new(stdout)).into_iter::<Value>();
            for object in stream.map_while(Result::ok) {
                if tx.send(object).is_err() {
                    return;
                }
            }
        });
        KubectlWatch { child, objects }
    }
}

impl Drop for KubeApiserver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("kube-apiserver log:\n{}", self.log());
        }
    }
}

/// A running `kubectl get -w`, killed when dropped.
pub struct KubectlWatch {
    child: Child,
    objects: Receiver<Value>,
}

impl KubectlWatch {
    /// The next object kubectl printed, if one comes within `within`.
    pub fn next(&self, within: Duration) -> Option<Value> {
        self.objects.recv_timeout(within).ok()
    }
}

impl Drop for KubectlWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `kubectl` runs (`kubectl version --client`).
pub fn have_kubectl() -> bool {
    Command::new("kubectl").args(["version", "--client"]).output().is_ok_and(|o| o.status.success())
}

fn kubeconfig(port: u16) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:{port}
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: {TOKEN}
contexts:
- name: test
  context:
    cluster: test
    user: admin
current-context: test
"
    )
}

/// A command's exit status, stdout and stderr, for a failure message.
fn text(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
