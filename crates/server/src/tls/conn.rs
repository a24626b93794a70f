//! The client port's connections, plain or TLS, as one type for tonic, and
//! the accept loop that makes them.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;

use super::ServerTls;

/// How long a client has to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One accepted client connection.
pub enum ClientConn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// What a request can learn of its connection.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub remote_addr: Option<SocketAddr>,
    /// The certificate chain (leaf first) the client presented over TLS.
    pub peer_certificates: Option<Arc<Vec<CertificateDer<'static>>>>,
}

impl Connected for ClientConn {
    type ConnectInfo = ClientInfo;

    fn connect_info(&self) -> ClientInfo {
        match self {
            ClientConn::Plain(s) => ClientInfo { remote_addr: s.peer_addr().ok(), peer_certificates: None },
            ClientConn::Tls(s) => {
                let (tcp, session) = s.get_ref();
                let certs =
                    session.peer_certificates().map(|c| Arc::new(c.iter().map(|c| c.clone().into_owned()).collect()));
                ClientInfo { remote_addr: tcp.peer_addr().ok(), peer_certificates: certs }
            }
        }
    }
}

impl AsyncRead for ClientConn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientConn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ClientConn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientConn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientConn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ClientConn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientConn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ClientConn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientConn::Plain(s) => s.is_write_vectored(),
            ClientConn::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientConn::Plain(s) => Pin::new(s).poll_flush(cx),
            ClientConn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientConn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ClientConn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Accepts connections on `listener` and sends them to `out` until it is
/// closed: plain, or (with `tls`) once their handshake is done, each on a
/// task of its own, so a slow or hostile client holds up no other. A client
/// that does not complete the handshake (plaintext to a TLS port, a wrong
/// CA, no client certificate) is dropped, logged at debug level only: etcd
/// logs nothing, and anyone who can connect could fill the log otherwise.
pub async fn serve_listener(
    listener: TcpListener,
    tls: Option<Arc<ServerTls>>,
    out: mpsc::Sender<io::Result<ClientConn>>,
) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: pause, as Go's server does.
                tracing::warn!(error = %e, "accepting a client connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Small gRPC frames must not wait for Nagle's algorithm to meet the
        // client's delayed ACK (a 40 ms stall per request otherwise).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        let Some(tls) = &tls else {
            if out.send(Ok(ClientConn::Plain(stream))).await.is_err() {
                return;
            }
            continue;
        };
        let (acceptor, handed, tls) = (TlsAcceptor::from(tls.config()), out.clone(), tls.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(conn)) => {
                    // Peers: the allowed common name and host name.
                    if let Err(why) = tls.admits(conn.get_ref().1.peer_certificates()) {
                        tracing::warn!(remote = %remote, reason = %why, "rejected connection");
                        return;
                    }
                    let _ = handed.send(Ok(ClientConn::Tls(Box::new(conn)))).await;
                }
                Ok(Err(e)) => tracing::debug!(remote = %remote, error = %e, "TLS handshake error"),
                Err(_) => tracing::debug!(remote = %remote, "TLS handshake timed out"),
            }
        });
        if out.is_closed() {
            return;
        }
    }
}
