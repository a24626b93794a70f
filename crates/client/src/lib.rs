//! `client`: a thin async client for etcd's v3 KV, Watch, Lease, Maintenance and Cluster
//! (member list and membership changes) APIs, over the gRPC stubs generated in `api`. It talks
//! to Strata and to etcd alike.
//!
//! It owns connecting (endpoint parsing, dial timeout, trying each endpoint in turn),
//! opening the bidirectional streams ([`Watcher`], [`LeaseKeepAlive`]), turning a
//! `tonic::Status` into [`Error`], clientv3's keep-alive schedule for one lease
//! ([`keep_alive`]) and its lock and election recipes ([`concurrency`], whose requests
//! come from the `recipes` crate). Otherwise it adds nothing on top of the wire
//! messages: requests and responses are the generated `api::etcdserverpb` types, and
//! there is no retry, watch resumption, balancing, auth or TLS.
//! Callers put their own deadline around a call (`tokio::time::timeout`), as etcdctl's
//! `--command-timeout` does.
//!
//! ```no_run
//! # async fn example() -> client::Result<()> {
//! use api::etcdserverpb::{PutRequest, RangeRequest};
//! use std::time::Duration;
//!
//! let endpoints = ["127.0.0.1:2379".to_string()];
//! let client = client::Client::connect(&endpoints, Duration::from_secs(2)).await?;
//! client.put(PutRequest { key: b"k".to_vec(), value: b"v".to_vec(), ..Default::default() }).await?;
//! let resp = client.range(RangeRequest { key: b"k".to_vec(), ..Default::default() }).await?;
//! assert_eq!(resp.kvs[0].value, b"v");
//! # Ok(())
//! # }
//! ```

pub mod concurrency;
mod duplex;
mod error;
mod keep_alive;
mod lease;
mod maintenance;
mod watch;

pub use error::{Error, Result, go_code_name};
pub use keep_alive::keep_alive;
pub use lease::LeaseKeepAlive;
pub use recipes::prefix_end;
pub use watch::Watcher;

use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse,
    RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// A connection to one member of an etcd-compatible cluster. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    channel: Channel,
    endpoint: String,
    require_leader: bool,
}

impl Client {
    /// Connects to the first of `endpoints` that accepts a connection within
    /// `dial_timeout`, trying them in order. An endpoint is `host:port` or
    /// `http://host:port` (`https` is refused until TLS is supported).
    pub async fn connect(endpoints: &[String], dial_timeout: Duration) -> Result<Client> {
        let mut last = String::from("no endpoints given");
        for ep in endpoints {
            let endpoint = endpoint(ep)?.connect_timeout(dial_timeout).timeout(Duration::from_secs(3600));
            match tokio::time::timeout(dial_timeout, endpoint.connect()).await {
                Ok(Ok(channel)) => {
                    return Ok(Client { channel, endpoint: ep.clone(), require_leader: false });
                }
                Ok(Err(e)) => last = format!("{ep}: {}", source_chain(&e)),
                Err(_) => last = format!("{ep}: dial timeout"),
            }
        }
        Err(Error::Connect { endpoints: endpoints.to_vec(), reason: last })
    }

    /// The endpoint this client is connected to, as it was given.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether the watch and keep-alive streams this client opens carry etcd's
    /// require-leader metadata (clientv3's `WithRequireLeader`, which etcdctl sets on
    /// both): a member without a leader then closes them with "etcdserver: no leader"
    /// instead of leaving them silent. Unary calls are not affected.
    pub fn require_leader(mut self, yes: bool) -> Client {
        self.require_leader = yes;
        self
    }

    /// The generated KV stub on this connection, for calls this type does not wrap.
    pub fn kv(&self) -> KvClient<Channel> {
        KvClient::new(self.channel.clone())
    }

    /// `KV.Range`: reads a key or a range of keys.
    pub async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        Ok(self.kv().range(req).await?.into_inner())
    }

    /// `KV.Put`: writes a key.
    pub async fn put(&self, req: PutRequest) -> Result<PutResponse> {
        Ok(self.kv().put(req).await?.into_inner())
    }

    /// `KV.DeleteRange`: deletes a key or a range of keys.
    pub async fn delete_range(&self, req: DeleteRangeRequest) -> Result<DeleteRangeResponse> {
        Ok(self.kv().delete_range(req).await?.into_inner())
    }

    /// `KV.Txn`: compares, then runs the success or the failure ops atomically.
    pub async fn txn(&self, req: TxnRequest) -> Result<TxnResponse> {
        Ok(self.kv().txn(req).await?.into_inner())
    }

    /// `KV.Compact`: discards history at and before a revision.
    pub async fn compact(&self, req: CompactionRequest) -> Result<CompactionResponse> {
        Ok(self.kv().compact(req).await?.into_inner())
    }
}

/// Parses `host:port` or `http://host:port` into a tonic endpoint.
fn endpoint(ep: &str) -> Result<Endpoint> {
    let invalid = |reason: &str| Error::InvalidEndpoint { endpoint: ep.to_owned(), reason: reason.to_owned() };
    let url = if ep.starts_with("https://") || ep.starts_with("unixs://") {
        return Err(invalid("TLS is not supported yet"));
    } else if ep.starts_with("http://") {
        ep.to_owned()
    } else if ep.contains("://") {
        return Err(invalid("unsupported scheme"));
    } else {
        format!("http://{ep}")
    };
    Endpoint::from_shared(url).map_err(|e| invalid(&e.to_string()))
}

/// tonic's transport error says only "transport error"; the cause is in its sources.
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_accept_bare_and_http_forms() {
        assert_eq!(
            endpoint("127.0.0.1:2379").map(|e| e.uri().to_string()).ok(),
            Some("http://127.0.0.1:2379/".to_string())
        );
        assert!(endpoint("http://localhost:2379").is_ok());
        assert!(matches!(endpoint("https://localhost:2379"), Err(Error::InvalidEndpoint { .. })));
    }

    #[tokio::test]
    async fn connect_to_a_closed_port_fails_within_the_dial_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let started = std::time::Instant::now();
        let err =
            Client::connect(&[addr.to_string()], Duration::from_millis(500)).await.expect_err("nothing listens there");
        assert!(matches!(err, Error::Connect { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
