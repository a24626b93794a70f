//! End-to-end tests: real `strata` processes driven by the real `etcdctl`
//! 3.4.23, by the `etcd-client` crate and by Kubernetes' kube-apiserver with
//! `kubectl`, and compared with Debian's etcd.
//!
//! Tests that need etcdctl, etcd or kubectl skip (with a message) when the
//! binary is missing; `.ci/run` installs them, so CI runs everything.

mod auth_ctl;
mod auto_compaction;
mod bad_input;
mod cluster;
mod cluster_faults;
mod ctl_cluster_maintenance;
mod defrag;
mod differential;
mod durability;
mod election;
mod etcdctl_flow;
mod http_authority;
mod http_endpoints;
mod kubernetes;
mod kv_client;
mod lease;
mod linearizability;
mod lock;
mod lock_elect_ctl;
mod maintenance_ctl;
mod member_ctl;
mod quota;
mod raw_grpc;
mod snapshot;
mod stratactl_vs_etcdctl;
mod supervision;
mod support;
mod tls;
mod tls_client;
mod watch;
mod watch_lease_ctl;
mod watch_model;
mod watch_scripts;

use testkit::MemberProcess;

/// Starts a strata member with `extra` flags.
pub fn strata(extra: &[&str]) -> MemberProcess {
    MemberProcess::start_strata(env!("CARGO_BIN_EXE_strata"), extra).expect("start strata")
}

/// Connects the etcd-client crate to `m`.
pub async fn client(m: &MemberProcess) -> etcd_client::Client {
    etcd_client::Client::connect([m.endpoint()], None).await.expect("connect")
}

/// The gRPC status of an etcd-client error.
pub fn status(e: etcd_client::Error) -> (tonic::Code, String) {
    match e {
        etcd_client::Error::GRpcStatus(s) => (s.code(), s.message().to_string()),
        other => panic!("expected a gRPC status, got {other:?}"),
    }
}

/// Skips the calling test when etcdctl is not installed.
#[macro_export]
macro_rules! need_etcdctl {
    () => {
        if !testkit::have_etcdctl() {
            eprintln!("skipped: /usr/bin/etcdctl not installed (apt-get install etcd-client)");
            return;
        }
    };
}

/// Runs `steps` (a `testkit::run_steps` file) with etcdctl against etcd 3.4.23
/// and with stratactl against a fresh strata, and fails on any difference once
/// `mask` has been applied to both.
pub fn compare_steps_with_etcd(steps: &str, mask: impl Fn(&str) -> String + Copy) {
    compare_steps(steps, mask, false);
}

/// [`compare_steps_with_etcd`] with stratactl against a fresh etcd too: the
/// CLI alone, whatever strata serves.
pub fn compare_cli_on_etcd(steps: &str, mask: impl Fn(&str) -> String + Copy) {
    compare_steps(steps, mask, true);
}

fn compare_steps(steps: &str, mask: impl Fn(&str) -> String + Copy, stratactl_on_etcd: bool) {
    if !testkit::have_etcdctl() || !testkit::have_etcd() {
        eprintln!("skipped: /usr/bin/etcdctl or /usr/bin/etcd not installed (apt-get install etcd-client etcd-server)");
        return;
    }
    let etcd = MemberProcess::start_etcd(&[]).expect("start etcd");
    let want = testkit::run_steps("/usr/bin/etcdctl", &etcd.endpoint(), steps, mask);
    drop(etcd);
    let server = if stratactl_on_etcd { MemberProcess::start_etcd(&[]).expect("start etcd") } else { strata(&[]) };
    let got = testkit::run_steps(env!("CARGO_BIN_EXE_stratactl"), &server.endpoint(), steps, mask);
    if let Some(report) = testkit::step_differences(&want, &got) {
        panic!("{report}");
    }
}
