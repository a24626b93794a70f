//! End-to-end tests: real `strata` processes driven by the real `etcdctl`
//! 3.4.23, by the `etcd-client` crate, and compared with Debian's etcd.
//!
//! Tests that need etcdctl or etcd skip (with a message) when the binary is
//! missing; `.ci/run` installs both, so CI runs everything.

mod auto_compaction;
mod bad_input;
mod defrag;
mod differential;
mod durability;
mod election;
mod etcdctl_flow;
mod http_endpoints;
mod kv_client;
mod lease;
mod lock;
mod lock_elect_ctl;
mod maintenance_ctl;
mod quota;
mod raw_grpc;
mod snapshot;
mod stratactl_vs_etcdctl;
mod watch;
mod watch_lease_ctl;
mod watch_model;
mod watch_scripts;

use testkit::Member;

/// Starts a strata member with `extra` flags.
pub fn strata(extra: &[&str]) -> Member {
    Member::start_strata(env!("CARGO_BIN_EXE_strata"), extra).expect("start strata")
}

/// Connects the etcd-client crate to `m`.
pub async fn client(m: &Member) -> etcd_client::Client {
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
