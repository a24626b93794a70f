//! [`Peers`]: the gRPC channels to the other members, and the requests a
//! follower forwards to its leader over them.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use api::stratapb as pb;
use api::stratapb::peer_client::PeerClient;
use tonic::transport::{Channel, Endpoint};

use crate::error::WriteError;
use crate::wire;

/// How long one attempt to open a TCP connection to a peer may take. Calls
/// are bounded by their own timeouts; this bounds the background connect, so
/// that a peer that drops SYNs is retried rather than waited on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// HTTP/2 pings on every peer connection, idle or not: a peer that vanished
/// without closing its sockets (power loss, partition) is detected and the
/// connection replaced, instead of every call on it timing out for as long as
/// TCP keeps retransmitting.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest a forwarded `Propose` or `ReadIndex` may take. The server
/// bounds its requests more tightly (7 s); this only keeps a forward from
/// waiting forever when its caller sets no deadline.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// One lazily connected channel per peer URL, shared by openraft's
/// replication, heartbeat and vote clients and by forwarded requests: HTTP/2
/// multiplexes them all on one connection. A channel connects on its first
/// call and reconnects after a failure by itself.
pub(crate) struct Peers {
    channels: Mutex<HashMap<String, Channel>>,
    /// The local address outgoing connections are bound to (None: the OS picks).
    source_ip: Option<IpAddr>,
    /// The members that refused this one's votes because their configuration
    /// does not have it: it has been removed.
    refused: Mutex<BTreeSet<u64>>,
    /// This member's cluster id, sent with every call ([`CLUSTER_ID_HEADER`]).
    cluster_id: u64,
    /// How to dial an `https://` peer URL.
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// The metadata every peer call carries: the sender's cluster id in hex, so a
/// member of another cluster (a wrong `--initial-cluster-token`, a data dir
/// from elsewhere) is refused instead of mixing two clusters' logs.
pub(crate) const CLUSTER_ID_HEADER: &str = "x-strata-cluster-id";

impl Peers {
    pub(crate) fn new(
        source_ip: Option<IpAddr>,
        cluster_id: u64,
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> Peers {
        Peers { channels: Mutex::default(), source_ip, refused: Mutex::default(), cluster_id, tls }
    }

    /// `message` as a request of this cluster (see [`CLUSTER_ID_HEADER`]).
    pub(crate) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(v) = format!("{:x}", self.cluster_id).parse() {
            request.metadata_mut().insert(CLUSTER_ID_HEADER, v);
        }
        request
    }

    /// A client for the member at `addr` (`http://host:port`, the URL in the
    /// membership). Fails only if `addr` is not a valid URI.
    pub(crate) fn client(&self, addr: &str) -> Result<PeerClient<Channel>, tonic::transport::Error> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let channel = match channels.get(addr) {
            Some(channel) => channel.clone(),
            None => {
                let endpoint = Endpoint::from_shared(addr.to_string())?
                    .connect_timeout(CONNECT_TIMEOUT)
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
                    .keep_alive_timeout(KEEPALIVE_TIMEOUT)
                    .keep_alive_while_idle(true)
                    .local_address(self.source_ip);
                let channel = match (&self.tls, addr.starts_with("https://")) {
                    (Some(config), true) => endpoint.connect_with_connector_lazy(crate::peer_tls::PeerTlsConnector {
                        config: config.clone(),
                        source_ip: self.source_ip,
                        connect_timeout: CONNECT_TIMEOUT,
                    }),
                    // Without peer TLS an https:// URL fails to connect, and
                    // the failure says so, rather than falling back to plaintext.
                    _ => endpoint.connect_lazy(),
                };
                channels.insert(addr.to_string(), channel.clone());
                channel
            }
        };
        Ok(peer_client(channel))
    }

    /// Records that member `id` does not count this one as a member.
    pub(crate) fn refused_by(&self, id: u64) {
        self.refused.lock().unwrap_or_else(PoisonError::into_inner).insert(id);
    }

    /// How many members refused this one (see [`Peers::refused_by`]).
    pub(crate) fn refusals(&self) -> usize {
        self.refused.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Has the leader at `addr` propose `data`; answers the entry's log index
    /// and the leader's apply response once the leader has applied it.
    pub(crate) async fn propose(&self, addr: &str, data: Vec<u8>) -> Result<(u64, Vec<u8>), WriteError> {
        let mut client = self.forward_client(addr)?;
        let mut request = self.request(pb::ProposeRequest { data });
        request.set_timeout(FORWARD_TIMEOUT);
        let resp = match tokio::time::timeout(FORWARD_TIMEOUT, client.propose(request)).await {
            Err(_) => return Err(WriteError::Timeout),
            Ok(result) => result.map_err(|s| forward_failed(addr, &s))?.into_inner(),
        };
        match resp.error {
            Some(e) => Err(wire::write_error_from_pb(&e)),
            None => Ok((resp.index, resp.response)),
        }
    }

    /// Asks the leader at `addr` for a read index.
    pub(crate) async fn read_index(&self, addr: &str) -> Result<u64, WriteError> {
        let mut client = self.forward_client(addr)?;
        let mut request = self.request(pb::ReadIndexRequest {});
        request.set_timeout(FORWARD_TIMEOUT);
        let resp = match tokio::time::timeout(FORWARD_TIMEOUT, client.read_index(request)).await {
            Err(_) => return Err(WriteError::Timeout),
            Ok(result) => result.map_err(|s| forward_failed(addr, &s))?.into_inner(),
        };
        match resp.error {
            Some(e) => Err(wire::write_error_from_pb(&e)),
            None => Ok(resp.index),
        }
    }

    fn forward_client(&self, addr: &str) -> Result<PeerClient<Channel>, WriteError> {
        self.client(addr).map_err(|e| {
            tracing::warn!(addr, error = %e, "raft: the leader's peer URL is not a valid URI");
            WriteError::NoLeader
        })
    }
}

/// Peers are members of the same cluster: no message size limit beyond what
/// openraft puts in one AppendEntries (`max_payload_entries` entries, each at
/// most the server's `--max-request-bytes`).
fn peer_client(channel: Channel) -> PeerClient<Channel> {
    PeerClient::new(channel).max_decoding_message_size(usize::MAX).max_encoding_message_size(usize::MAX)
}

/// A forward that failed in transport. Refused at connect, it never reached
/// the leader: no leader is reachable, and the client may retry. Otherwise it
/// may have been proposed, so the outcome is unknown: a timeout, as etcd
/// answers when a proposal's fate is unknown.
fn forward_failed(addr: &str, status: &tonic::Status) -> WriteError {
    tracing::debug!(addr, %status, "raft: forwarding to the leader failed");
    if is_connection_refused(status) { WriteError::NoLeader } else { WriteError::Timeout }
}

/// Whether `err` or an error it wraps is a refused TCP connection.
pub(crate) fn is_connection_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused) {
            return true;
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_forward_refused_at_connect_means_no_leader() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = format!("http://{}", listener.local_addr().expect("addr"));
        drop(listener);
        let peers = Peers::new(None, 0, None);
        assert_eq!(peers.propose(&addr, b"put".to_vec()).await, Err(WriteError::NoLeader));
        assert_eq!(peers.read_index(&addr).await, Err(WriteError::NoLeader));
        assert_eq!(peers.read_index("not a uri").await, Err(WriteError::NoLeader));
    }
}
