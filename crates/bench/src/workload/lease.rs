//! `lease`: keep-alives of `--leases` leases granted before measuring, the idea of etcd's
//! `benchmark lease-keepalive` (which renews one lease per client) with many leases.
//!
//! Each client has one `LeaseKeepAlive` stream and one request in flight: a request is
//! sending a `LeaseKeepAliveRequest` and receiving its answer on that stream. Clients take
//! the leases in turn from one shared counter, so every lease is renewed about equally
//! often. An answer with a TTL ≤ 0 means the lease is gone — etcd's client reads it as
//! `ErrLeaseNotFound` — and counts as a `NotFound` error.

use super::{ClientCtx, Conn, Done};
use crate::cli::LeaseArgs;
use anyhow::{Context, ensure};
use api::etcdserverpb::lease_client::LeaseClient;
use api::etcdserverpb::{LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse};
use serde_json::json;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
// tonic re-exports tokio-stream; using it keeps bench's dependencies as they are.
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tonic::Status;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// TTL of the granted leases: long enough that none expires during a run.
pub const LEASE_TTL_SECS: i64 = 60;

/// The `lease` workload.
#[derive(Debug)]
pub struct Lease {
    count: u64,
    /// The granted lease ids, set by `prepare`.
    ids: OnceLock<Vec<i64>>,
    /// The next lease to renew, modulo `count`.
    next: AtomicU64,
}

/// A client's keep-alive stream.
#[derive(Debug)]
pub struct KeepAliveStream {
    tx: mpsc::Sender<LeaseKeepAliveRequest>,
    rx: tonic::Streaming<LeaseKeepAliveResponse>,
    /// A request was sent and its answer not read: the runner's timeout dropped the
    /// request half-way, and the next answer on this stream would be that one's, so the
    /// stream is replaced instead.
    in_flight: bool,
}

impl KeepAliveStream {
    /// Opens a stream by renewing `id` on it. The request goes out before the call is
    /// awaited: grpc-go (etcd) sends the response headers with the first answer.
    async fn open(channel: &Channel, id: i64) -> Result<(KeepAliveStream, LeaseKeepAliveResponse), Status> {
        let (tx, requests) = mpsc::channel(1);
        tx.send(LeaseKeepAliveRequest { id }).await.map_err(|_| ended())?;
        let mut rx =
            LeaseClient::new(channel.clone()).lease_keep_alive(ReceiverStream::new(requests)).await?.into_inner();
        let resp = rx.message().await?.ok_or_else(ended)?;
        Ok((KeepAliveStream { tx, rx, in_flight: false }, resp))
    }

    /// Renews `id` and returns the answer.
    async fn renew(&mut self, id: i64) -> Result<LeaseKeepAliveResponse, Status> {
        self.in_flight = true;
        self.tx.send(LeaseKeepAliveRequest { id }).await.map_err(|_| ended())?;
        let resp = self.rx.message().await?.ok_or_else(ended)?;
        self.in_flight = false;
        Ok(resp)
    }
}

fn ended() -> Status {
    Status::unavailable("the keep-alive stream ended")
}

impl Lease {
    /// Checks the flags.
    pub fn new(args: &LeaseArgs) -> anyhow::Result<Lease> {
        ensure!(args.leases > 0, "--leases must be at least 1");
        Ok(Lease { count: args.leases, ids: OnceLock::new(), next: AtomicU64::new(0) })
    }

    pub(super) fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        let v = json!({ "leases": self.count, "ttl_s": LEASE_TTL_SECS });
        v.as_object().cloned().unwrap_or_default()
    }

    /// Grants the leases, 16 requests in flight over the connections.
    pub(super) async fn prepare(&self, conns: &[Conn]) -> anyhow::Result<()> {
        let next = std::sync::Arc::new(AtomicU64::new(0));
        let mut tasks = JoinSet::new();
        for conn in conns.iter().cycle().take(conns.len().max(16)) {
            let (mut lease, next, count) = (LeaseClient::new(conn.channel.clone()), next.clone(), self.count);
            tasks.spawn(async move {
                let mut ids = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let resp = lease.lease_grant(LeaseGrantRequest { ttl: LEASE_TTL_SECS, id: 0 }).await?.into_inner();
                    if !resp.error.is_empty() {
                        return Err(Status::unknown(resp.error));
                    }
                    ids.push(resp.id);
                }
                Ok::<_, Status>(ids)
            });
        }
        let mut ids = Vec::new();
        while let Some(done) = tasks.join_next().await {
            ids.extend(done.context("grant task panicked")?.context("granting leases")?);
        }
        ids.sort_unstable();
        ensure!(ids.len() as u64 == self.count, "granted {} leases, not {}", ids.len(), self.count);
        self.ids.set(ids).map_err(|_| anyhow::anyhow!("the leases were already granted"))
    }

    fn ids(&self) -> Result<&[i64], Status> {
        self.ids.get().map(Vec::as_slice).ok_or_else(|| Status::failed_precondition("no leases were granted"))
    }

    /// The next lease in turn.
    fn pick(&self) -> Result<i64, Status> {
        let ids = self.ids()?;
        Ok(ids[(self.next.fetch_add(1, Ordering::Relaxed) % ids.len() as u64) as usize])
    }

    /// Opens the client's stream (with one keep-alive, not measured).
    pub(super) async fn open(&self, c: &mut ClientCtx) -> Result<(), Status> {
        let ids = self.ids()?;
        let id = ids[(c.id % ids.len() as u64) as usize];
        let (stream, resp) = KeepAliveStream::open(&c.channel, id).await?;
        c.keep_alive = Some(stream);
        check(id, &resp)
    }

    pub(super) async fn op(&self, c: &mut ClientCtx) -> Result<Done, Status> {
        let id = self.pick()?;
        let resp = match c.keep_alive.as_mut().filter(|s| !s.in_flight) {
            Some(stream) => match stream.renew(id).await {
                Ok(resp) => resp,
                Err(status) => {
                    c.keep_alive = None;
                    return Err(status);
                }
            },
            None => {
                c.keep_alive = None;
                let (stream, resp) = KeepAliveStream::open(&c.channel, id).await?;
                c.keep_alive = Some(stream);
                resp
            }
        };
        check(id, &resp)?;
        Ok(Done::Ok)
    }
}

/// An answer renews the lease asked for with a positive TTL.
fn check(id: i64, resp: &LeaseKeepAliveResponse) -> Result<(), Status> {
    if resp.ttl <= 0 {
        return Err(Status::not_found(format!("etcdserver: requested lease not found ({id:x})")));
    }
    if resp.id != id {
        return Err(Status::internal(format!("asked to renew lease {id:x}, the answer is for {:x}", resp.id)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_without_ttl_or_for_another_lease_is_an_error() {
        let resp = |id, ttl| LeaseKeepAliveResponse { id, ttl, ..Default::default() };
        assert!(check(7, &resp(7, 60)).is_ok());
        assert_eq!(check(7, &resp(7, 0)).map_err(|s| s.code()), Err(tonic::Code::NotFound));
        assert_eq!(check(7, &resp(7, -1)).map_err(|s| s.code()), Err(tonic::Code::NotFound));
        assert_eq!(check(7, &resp(8, 60)).map_err(|s| s.code()), Err(tonic::Code::Internal));
    }

    #[test]
    fn leases_are_renewed_in_turn() {
        let lease = Lease::new(&LeaseArgs { leases: 3 }).expect("valid");
        assert!(lease.pick().is_err(), "nothing granted yet");
        lease.ids.set(vec![10, 20, 30]).expect("first set");
        let picked: Vec<i64> = (0..7).map(|_| lease.pick().expect("granted")).collect();
        assert_eq!(picked, [10, 20, 30, 10, 20, 30, 10]);
    }
}
