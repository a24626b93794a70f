//! `lease keep-alive [--once] <id>`, renewing as clientv3's lessor does
//! ([`client::keep_alive`]: a renewal as soon as a stream is open, then a third of the
//! TTL after each response, a broken stream reopened after 500 ms).
//!
//! It gives up when no response has come by the deadline: the dial timeout plus a
//! second at first, then the TTL after each response. Each stream is on a connection of
//! its own, made before that deadline. A response with TTL 0 (the lease is unknown,
//! expired or revoked) ends it; etcdctl then says so in simple output, and exits 0 in
//! any case.

use super::super::Io;
use crate::cli::GlobalFlags;
use crate::error::Result;
use crate::gosyntax::hex016;
use crate::printer::{Format, Printer};
use api::etcdserverpb::LeaseKeepAliveResponse;
use std::time::Duration;
use tokio::time::Instant;

/// `--once`: one renewal on a stream of its own; TTL 0 is "requested lease not found".
pub async fn once(c: client::Client, id: i64) -> client::Result<LeaseKeepAliveResponse> {
    let mut stream = c.lease_keep_alive();
    stream.keep_alive(id)?;
    match stream.message().await? {
        Some(r) if r.ttl > 0 => Ok(r),
        Some(_) => Err(client::Error::Rpc {
            code: tonic::Code::NotFound,
            message: "etcdserver: requested lease not found".to_owned(),
        }),
        None => Err(client::Error::StreamClosed),
    }
}

/// Renews lease `id` and prints every response until the lease is gone.
pub async fn run(global: &GlobalFlags, id: i64, printer: Printer, io: &mut Io<'_>) -> Result<()> {
    let first = global.dial_timeout + Duration::from_secs(1);
    let first = if first == Duration::from_secs(1) { Duration::from_secs(5) } else { first };
    let open = |deadline| async move {
        Ok(connect(global, deadline).await?.map(|client| client.require_leader(true).lease_keep_alive()))
    };
    let print = |r: &LeaseKeepAliveResponse| -> Result<()> {
        let mut out = Vec::new();
        printer.lease_keep_alive(&mut out, r)?;
        io.print(&out);
        Ok(())
    };
    client::keep_alive(id, Instant::now() + first, open, print).await?;
    if printer.format == Format::Simple {
        io.print(format!("lease {} expired or revoked.\n", hex016(id)).as_bytes());
    }
    Ok(())
}

/// A connection made before `deadline`, or `None`.
async fn connect(global: &GlobalFlags, deadline: Instant) -> Result<Option<client::Client>> {
    match tokio::time::timeout_at(deadline, crate::command::dial::dial(global, &global.endpoints)).await {
        Ok(c) => c.map(Some),
        Err(_) => Ok(None),
    }
}
