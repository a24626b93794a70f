//! `version`: prints the client and API versions (etcdctl prints `etcdctl version: 3.4.23`).

use super::Io;

/// The etcd API version stratactl speaks.
pub const API_VERSION: &str = "3.4";

/// Prints `stratactl version: <crate version>` and `API version: 3.4`.
pub fn run(io: &mut Io<'_>) {
    let text = format!("stratactl version: {}\nAPI version: {API_VERSION}\n", env!("CARGO_PKG_VERSION"));
    io.print(text.as_bytes());
}
