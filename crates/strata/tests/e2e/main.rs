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
mod ctl_columns;
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
mod member_changes_ctl;
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
