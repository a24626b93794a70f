//! `version`: prints the client and API versions (etcdctl 3.6 prints `etcdctl version:
//! 3.6.14` and `API version: 3.6`).

use super::Io;

/// The etcd API version stratactl speaks: etcdctl 3.6's.
pub const API_VERSION: &str = "3.6";

/// Prints `stratactl version: <crate version>` and `API version: 3.6`.
pub fn run(io: &mut Io<'_>) {
    let text = format!("stratactl version: {}\nAPI version: {API_VERSION}\n", env!("CARGO_PKG_VERSION"));
    io.print(text.as_bytes());
}
