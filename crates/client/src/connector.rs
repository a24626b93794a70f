//! The TLS connector under tonic: dial TCP (with TCP_NODELAY, as tonic's own connector
//! does), then the rustls handshake, offering HTTP/2 by ALPN.
//!
//! Our own rather than tonic's TLS feature because that one takes only roots and an
//! identity: it cannot skip verification nor trust an empty bundle (see
//! `tls::verifier`). The server name is the endpoint's host; an IP address is checked
//! against the certificate's IP addresses, a name against its DNS names.
//!
//! A handshake counts as done when the member has accepted us. In TLS 1.3 a member that
//! asked for a client certificate refuses it (or its absence) only after our last
//! handshake message, so then the connector sends the HTTP/2 client preface itself and
//! waits for the member's first bytes (its SETTINGS) or its refusal. The bytes read are
//! replayed to HTTP/2 and the preface it then writes is dropped ([`Primed`]). A refused
//! connection is thus a failed dial, retried like any other, as in etcd's client
//! (grpc-go also waits for the server's SETTINGS before using a connection). Sending
//! the preface first matters: a server that also speaks HTTP/1.1 on the port (hyper's
//! automatic mode, Strata's) says nothing before it has read the client's preface.

use crate::tls::{ClientCert, TlsConfig};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tonic::transport::Uri;

/// A tower service from an endpoint's URI to a TLS connection, for
/// `Endpoint::connect_with_connector`.
pub(crate) fn tls_connector(
    tls: TlsConfig,
) -> impl tower::Service<
    Uri,
    Response = TokioIo<Primed>,
    Error = io::Error,
    Future = impl Future<Output = io::Result<TokioIo<Primed>>> + Send,
> + Send
+ Clone
+ 'static {
    tower::service_fn(move |uri: Uri| {
        let tls = tls.clone();
        async move { connect(&tls, &uri).await.map(TokioIo::new) }
    })
}

async fn connect(tls: &TlsConfig, uri: &Uri) -> io::Result<Primed> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{what} in {uri}"));
    let host = uri.host().ok_or_else(|| invalid("no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().ok_or_else(|| invalid("no port"))?;
    let server_name = ServerName::try_from(host.to_owned()).map_err(|_| invalid("an invalid server name"))?;

    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;

    let (client_cert, asked) = ClientCert::new(tls.client_cert.clone());
    let mut config = (*tls.base).clone();
    config.client_auth_cert_resolver = Arc::new(client_cert);
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(server_name, tcp).await?;

    let tls13 = stream.get_ref().1.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
    let mut primed = Primed { head: Vec::new(), pos: 0, preface_to_drop: 0, stream };
    if tls13 && asked.load(Ordering::Relaxed) {
        primed.stream.write_all(PREFACE).await?;
        primed.stream.flush().await?;
        let mut buf = [0u8; 1024];
        let n = primed.stream.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "the server closed the connection"));
        }
        primed.head.extend_from_slice(&buf[..n]);
        primed.preface_to_drop = PREFACE.len();
    }
    Ok(primed)
}

/// The HTTP/2 client connection preface (RFC 9113, section 3.4): the first bytes a
/// client writes.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A TLS stream on which the connector may already have talked HTTP/2: it replays the
/// bytes it read and drops the preface HTTP/2 writes, which it already sent.
pub(crate) struct Primed {
    head: Vec<u8>,
    pos: usize,
    /// How many bytes of [`PREFACE`] the HTTP/2 client still has to write (and we drop).
    preface_to_drop: usize,
    stream: TlsStream<TcpStream>,
}

impl Primed {
    /// Drops what `buf` starts with of the preface still to come; `None` when no
    /// preface is left to drop.
    fn drop_preface(&mut self, buf: &[u8]) -> Option<io::Result<usize>> {
        if self.preface_to_drop == 0 || buf.is_empty() {
            return None;
        }
        let sent = PREFACE.len() - self.preface_to_drop;
        let n = self.preface_to_drop.min(buf.len());
        if buf[..n] != PREFACE[sent..sent + n] {
            let e = io::Error::new(io::ErrorKind::InvalidData, "HTTP/2 did not start with its preface");
            return Some(Err(e));
        }
        self.preface_to_drop -= n;
        Some(Ok(n))
    }
}

impl AsyncRead for Primed {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.pos < self.head.len() {
            let n = (self.head.len() - self.pos).min(buf.remaining());
            let pos = self.pos;
            buf.put_slice(&self.head[pos..pos + n]);
            self.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Primed {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(dropped) = self.drop_preface(buf) {
            return Poll::Ready(dropped);
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.preface_to_drop > 0 {
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
            return self.poll_write(cx, first);
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
