//! `client`: a thin async client for etcd's v3 KV, Watch, Lease, Maintenance, Cluster
//! (member list and membership changes) and Auth APIs, over the gRPC stubs generated in
//! `api`. It talks to Strata and to etcd alike.
//!
//! It owns connecting (endpoint parsing, dial timeout, trying each endpoint in turn,
//! TLS with rustls: [`TlsOptions`], [`ConnectOptions`]), opening the bidirectional streams ([`Watcher`], [`LeaseKeepAlive`]), turning a
//! `tonic::Status` into [`Error`], clientv3's keep-alive schedule for one lease
//! ([`keep_alive`]), its lock and election recipes ([`concurrency`], whose requests
//! come from the `recipes` crate), and its login ([`Client::authenticate`]: the token in
//! every request's metadata, a new login when the member refuses it as stale). Otherwise
//! it adds nothing on top of the wire messages: requests and responses are the generated
//! `api::etcdserverpb` types, and there is no other retry, no watch resumption and no
//! balancing.
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

mod auth;
pub mod concurrency;
mod connector;
mod duplex;
mod error;
mod keep_alive;
mod lease;
mod maintenance;
mod tls;
mod watch;

pub use auth::{Token, Transport};
pub use error::{Error, Result, TlsError, go_code_name};
pub use keep_alive::keep_alive;
pub use lease::LeaseKeepAlive;
pub use recipes::prefix_end;
pub use tls::{TlsConfig, TlsOptions};
pub use watch::Watcher;

use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse,
    RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};
use auth::Login;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

/// How to dial: etcd clientv3's `Config.DialTimeout` and `Config.TLS`.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long each endpoint gets to accept the connection (TCP, TLS and HTTP/2).
    pub dial_timeout: Duration,
    /// The TLS configuration, `None` for none. Whether it is used depends on the first
    /// endpoint's scheme, as in clientv3: `http://` dials every endpoint in plaintext
    /// even with a configuration; `https://` dials every endpoint over TLS, with the
    /// system's roots when there is no configuration; no scheme uses TLS exactly when
    /// there is a configuration.
    pub tls: Option<TlsConfig>,
}

/// A connection to one member of an etcd-compatible cluster. Cheap to clone; clones share
/// the login and its token.
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    endpoint: String,
    require_leader: bool,
    /// Sent with every request once logged in.
    token: Token,
    /// Who logged in, to log in again when the token goes stale.
    login: Option<Arc<Login>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("require_leader", &self.require_leader)
            .field("authenticated", &self.login.is_some())
            .finish()
    }
}

impl Client {
    /// Connects to the first of `endpoints` that accepts a connection within
    /// `dial_timeout`, trying them in order. An endpoint is `host:port`, `http://host:port`
    /// or `https://host:port` (TLS trusting the system's roots).
    pub async fn connect(endpoints: &[String], dial_timeout: Duration) -> Result<Client> {
        Client::connect_with(endpoints, &ConnectOptions { dial_timeout, tls: None }).await
    }

    /// [`Client::connect`] with TLS settings. A failed TLS handshake is a failed dial
    /// ([`Error::Connect`], whose reason says why).
    pub async fn connect_with(endpoints: &[String], options: &ConnectOptions) -> Result<Client> {
        let tls = transport(endpoints, options.tls.as_ref())?;
        let dial_timeout = options.dial_timeout;
        let mut last = String::from("no endpoints given");
        for ep in endpoints {
            let (endpoint, origin) = endpoint(ep)?;
            let endpoint = endpoint.connect_timeout(dial_timeout).timeout(Duration::from_secs(3600));
            let connecting = async {
                match &tls {
                    None => endpoint.connect().await,
                    Some(tls) => {
                        endpoint.origin(origin).connect_with_connector(connector::tls_connector(tls.clone())).await
                    }
                }
            };
            match tokio::time::timeout(dial_timeout, connecting).await {
                Ok(Ok(channel)) => {
                    return Ok(Client {
                        channel,
                        endpoint: ep.clone(),
                        require_leader: false,
                        token: Token::default(),
                        login: None,
                    });
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

    /// The generated KV stub on the bare connection, for calls this type does not wrap.
    /// It does not carry the auth token: for clients that never log in (strata-bench).
    pub fn kv(&self) -> KvClient<Channel> {
        KvClient::new(self.channel.clone())
    }

    /// The connection with the auth token added to every request: what the stubs behind
    /// this type's methods are built on.
    pub fn transport(&self) -> Transport {
        Transport::new(self.channel.clone(), self.token.clone())
    }

    /// A generated stub (`KvClient::new`, …) on [`Client::transport`].
    pub(crate) fn stub<T>(&self, new: impl FnOnce(Transport) -> T) -> T {
        new(self.transport())
    }

    /// `KV.Range`: reads a key or a range of keys.
    pub async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        self.unary(|t| {
            let req = req.clone();
            async move { KvClient::new(t).range(req).await }
        })
        .await
    }

    /// `KV.Put`: writes a key.
    pub async fn put(&self, req: PutRequest) -> Result<PutResponse> {
        self.unary(|t| {
            let req = req.clone();
            async move { KvClient::new(t).put(req).await }
        })
        .await
    }

    /// `KV.DeleteRange`: deletes a key or a range of keys.
    pub async fn delete_range(&self, req: DeleteRangeRequest) -> Result<DeleteRangeResponse> {
        self.unary(|t| {
            let req = req.clone();
            async move { KvClient::new(t).delete_range(req).await }
        })
        .await
    }

    /// `KV.Txn`: compares, then runs the success or the failure ops atomically.
    pub async fn txn(&self, req: TxnRequest) -> Result<TxnResponse> {
        self.unary(|t| {
            let req = req.clone();
            async move { KvClient::new(t).txn(req).await }
        })
        .await
    }

    /// `KV.Compact`: discards history at and before a revision.
    pub async fn compact(&self, req: CompactionRequest) -> Result<CompactionResponse> {
        self.unary(|t| async move { KvClient::new(t).compact(req).await }).await
    }
}

/// The scheme of an endpoint, `None` for a bare `host:port`.
fn scheme(ep: &str) -> Option<&str> {
    ep.find("://").map(|i| &ep[..i])
}

/// clientv3's choice of transport (`dialWithBalancerCreds`): the first endpoint's
/// scheme decides for all of them.
fn transport(endpoints: &[String], tls: Option<&TlsConfig>) -> Result<Option<TlsConfig>> {
    match endpoints.first().and_then(|ep| scheme(ep)) {
        Some("http") => Ok(None),
        Some("https") => match tls {
            Some(tls) => Ok(Some(tls.clone())),
            None => Ok(Some(TlsOptions::default().build()?)),
        },
        _ => Ok(tls.cloned()),
    }
}

/// Parses `host:port`, `http://host:port` or `https://host:port` into the tonic endpoint
/// to dial (always `http://`: TLS, when used, is our connector's, not tonic's) and the
/// origin requests carry over TLS (`https://host:port`).
fn endpoint(ep: &str) -> Result<(Endpoint, Uri)> {
    let invalid = |reason: &str| Error::InvalidEndpoint { endpoint: ep.to_owned(), reason: reason.to_owned() };
    let address = match scheme(ep) {
        None => ep,
        Some("http" | "https") => &ep[ep.find("://").map_or(0, |i| i + 3)..],
        Some("unix" | "unixs") => return Err(invalid("unix sockets are not supported")),
        Some(_) => return Err(invalid("unsupported scheme")),
    };
    let endpoint = Endpoint::from_shared(format!("http://{address}")).map_err(|e| invalid(&e.to_string()))?;
    let origin = format!("https://{address}").parse::<Uri>().map_err(|e| invalid(&e.to_string()))?;
    Ok((endpoint, origin))
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

    fn uris(ep: &str) -> Option<(String, String)> {
        endpoint(ep).ok().map(|(e, origin)| (e.uri().to_string(), origin.to_string()))
    }

    #[test]
    fn endpoints_accept_bare_http_and_https_forms() {
        let want = Some(("http://127.0.0.1:2379/".to_string(), "https://127.0.0.1:2379/".to_string()));
        assert_eq!(uris("127.0.0.1:2379"), want);
        assert_eq!(uris("http://127.0.0.1:2379"), want);
        assert_eq!(uris("https://127.0.0.1:2379"), want);
        assert!(matches!(endpoint("unixs://x"), Err(Error::InvalidEndpoint { .. })));
        assert!(matches!(endpoint("ftp://x:1"), Err(Error::InvalidEndpoint { .. })));
    }

    #[test]
    fn the_first_endpoint_chooses_the_transport_like_clientv3() {
        let given = TlsOptions { skip_verify: true, ..Default::default() }.build().expect("build");
        let eps = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let uses_tls =
            |list: &[&str], tls: Option<&TlsConfig>| transport(&eps(list), tls).expect("transport").is_some();
        assert!(!uses_tls(&["http://a:1", "https://b:2"], Some(&given)));
        assert!(uses_tls(&["https://a:1", "http://b:2"], None));
        assert!(uses_tls(&["a:1"], Some(&given)));
        assert!(!uses_tls(&["a:1", "https://b:2"], None));
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
