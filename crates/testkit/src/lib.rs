//! testkit: start real `strata` and reference `etcd` processes on loopback
//! and drive the real `etcdctl` against them, or run Strata members inside
//! the test's own process ([`LocalMember`]). Dev-only.
//!
//! Every process gets ports on 127.0.0.1 reserved for this test process
//! (`ports.rs`) and a fresh data dir, is
//! killed when its handle drops, and its log is kept in a file that a failing
//! test prints.
//!
//! ```no_run
//! let m = testkit::MemberProcess::start_strata("target/debug/strata", &[])?;
//! let out = testkit::etcdctl(&m.endpoint(), &["put", "foo", "bar"], None)?;
//! assert_eq!(out.stdout, "OK\n");
//! # Ok::<(), anyhow::Error>(())
//! ```
mod anchors;
mod certs;
mod ctl;
mod local;
mod ports;
mod process;
mod proxy;

pub use anchors::{anchor, anchors_dir, etcdctl36, missing_anchor};
pub use certs::{CertFiles, Pki};
pub use ctl::{
    CtlOutput, etcdctl, mask_after, mask_hex_words, mask_ids, mask_number_after, run_ctl, run_steps, step_differences,
    step_differences_between,
};
pub use local::LocalMember;
pub use ports::free_port;
pub use process::{MemberProcess, have_etcd, have_etcdctl};
pub use proxy::{Network, member_ip};
