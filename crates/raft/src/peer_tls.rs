//! Dialing a member whose peer URL is `https://`: TCP (from the configured
//! source address, TCP_NODELAY, bounded by the connect timeout), then the
//! rustls handshake the server set up (`RaftConfig::peer_tls`: this member's
//! peer certificate, the peers' CA), as a connector under tonic's channel.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tonic::codegen::http::Uri;

/// A tower service from a peer's URI to a TLS connection to it.
#[derive(Clone)]
pub(crate) struct PeerTlsConnector {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) source_ip: Option<IpAddr>,
    pub(crate) connect_timeout: Duration,
}

impl tower::Service<Uri> for PeerTlsConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let host = uri.host().ok_or_else(|| invalid(format!("no host in {uri}")))?;
            let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
            let port = uri.port_u16().unwrap_or(443);
            let ip: IpAddr = host.parse().map_err(|_| invalid(format!("peer URL host {host} is not an IP address")))?;
            let name = ServerName::IpAddress(ip.into());
            let connect = async {
                let socket = if ip.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
                if let Some(source) = this.source_ip {
                    socket.bind(SocketAddr::new(source, 0))?;
                }
                let tcp = socket.connect(SocketAddr::new(ip, port)).await?;
                tcp.set_nodelay(true)?;
                TlsConnector::from(this.config.clone()).connect(name, tcp).await
            };
            let stream = tokio::time::timeout(this.connect_timeout, connect)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("connecting to {uri}")))??;
            Ok(TokioIo::new(stream))
        })
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
