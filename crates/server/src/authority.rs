//! [`AuthorityFix`]: strips a URL scheme from the HTTP/2 `:authority` a client
//! sends, before the HTTP/2 server sees it.
//!
//! grpc-go (and so etcdctl 3.4) sends the endpoint exactly as it was dialled:
//! `etcdctl --endpoints http://127.0.0.1:2379`, and every `--cluster` command,
//! which dials the client URLs of the member list, send `:authority:
//! http://127.0.0.1:2379`. The `h2` crate under hyper and tonic refuses that
//! as a malformed authority and resets the stream with `PROTOCOL_ERROR`, and
//! its maintainers keep it strict (hyperium/h2#525); etcd's grpc-go server
//! accepts it. So each accepted client connection is read through this
//! adapter, which leaves the bytes alone unless the connection needs it:
//!
//! - a connection that does not open with the HTTP/2 client preface (the
//!   HTTP/1.1 `/metrics`, `/health`, `/version` on the same port) passes
//!   through untouched;
//! - otherwise frames are forwarded as they are until the first header block
//!   (HEADERS and its CONTINUATIONs) is complete. If its `:authority` has no
//!   `://`, the connection passes through from there on, the block as it was
//!   received: a plain gRPC client costs one HPACK decode per connection and
//!   nothing per byte afterwards;
//! - if it has one, the connection is rewritten: every header block from then
//!   on is decoded with the client's HPACK state (its dynamic table and table
//!   size updates) and encoded again with literals only, so the server's
//!   decoder never depends on the client's table, `:authority` losing its
//!   scheme (`http://h:1` → `h:1`). Padding and priority are dropped (priority
//!   is advisory and h2 ignores it) and the block is cut into frames of at
//!   most 16,384 bytes. The other frames pass byte for byte.
//!
//! The server-to-client direction is never touched. A malformed stream before
//! the decision passes through, so the HTTP/2 server answers it as it would
//! have; once rewriting, the adapter fails the connection instead.
//!
//! HPACK decoding (Huffman, the dynamic table, size updates) is
//! `loona-hpack`'s: the maintained fork of the `hpack` crate (last release
//! 2016, unmaintained; the fork returns errors on malformed input where it
//! could panic). `httlib-hpack` is a 0.1 without releases for years, and
//! `h2`'s own codec is private even with its `unstable` feature. The
//! fork's encoder indexes every new name, so the literals the server gets
//! are written here (`encode_literal`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use loona_hpack::Decoder;
use loona_hpack::encoder::encode_integer_into;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER_LEN: usize = 9;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The largest frame the rewritten blocks are cut into: the smallest
/// `SETTINGS_MAX_FRAME_SIZE` an HTTP/2 peer may announce (RFC 9113 §6.5.2),
/// and the server's own (hyper's default; strata never calls tonic's
/// `Server::max_frame_size`), so every peer accepts it.
const MAX_FRAME_SIZE: usize = 16_384;
/// The server's `SETTINGS_HEADER_TABLE_SIZE`: h2's default, which neither
/// hyper nor tonic changes. A client may not resize its table beyond it.
const HEADER_TABLE_SIZE: usize = 4_096;
/// The most a header block may hold while it is collected, and the largest
/// header list (RFC 7541 sizes) it may decode to. hyper refuses lists over
/// 16 KiB with a 431 of its own; this only bounds what one connection can
/// make the adapter hold.
const MAX_HEADER_BLOCK_BYTES: usize = 256 * 1024;

/// A client connection read through the `:authority` rewriter (see the
/// module doc). Writes go straight to `inner`.
pub struct AuthorityFix<S> {
    inner: S,
    /// `None` once the connection passes through (or has ended).
    rewriter: Option<Rewriter>,
    /// Bytes ready for the reader, from `ready_at` on.
    ready: Vec<u8>,
    ready_at: usize,
}

impl<S> AuthorityFix<S> {
    pub fn new(inner: S) -> Self {
        AuthorityFix { inner, rewriter: Some(Rewriter::new()), ready: Vec::new(), ready_at: 0 }
    }

    /// Hands out what is ready; false if nothing is.
    fn take_ready(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        if self.ready_at == self.ready.len() {
            return false;
        }
        let n = buf.remaining().min(self.ready.len() - self.ready_at);
        buf.put_slice(&self.ready[self.ready_at..self.ready_at + n]);
        self.ready_at += n;
        if self.ready_at == self.ready.len() {
            self.ready.clear();
            self.ready_at = 0;
            if self.rewriter.is_none() {
                self.ready = Vec::new();
            }
        }
        true
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AuthorityFix<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.take_ready(buf) {
                return Poll::Ready(Ok(()));
            }
            let Some(rewriter) = this.rewriter.as_mut() else {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            };
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                rewriter.finish(&mut this.ready);
                this.rewriter = None;
                continue;
            }
            if let Err(e) = rewriter.push(read.filled(), &mut this.ready) {
                tracing::debug!(error = %e, "closing a client connection whose headers cannot be rewritten");
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
            if rewriter.passes_through() {
                this.rewriter = None;
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for AuthorityFix<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The inner stream's connection info (for a `TcpStream`, its addresses).
impl<S: Connected> Connected for AuthorityFix<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// Why a rewritten connection is closed.
#[derive(Debug, thiserror::Error)]
enum RewriteError {
    #[error("{0}")]
    Frame(&'static str),
    #[error("HPACK: {0}")]
    Hpack(loona_hpack::decoder::DecoderError),
    #[error("header list larger than {MAX_HEADER_BLOCK_BYTES} bytes")]
    TooLarge,
}

/// Where the rewriter is in the client's byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the first 24 bytes are known to be the HTTP/2 preface.
    Preface,
    /// At the start of a frame.
    FrameHeader,
    /// Inside the payload of a frame forwarded as it is: this many bytes left.
    Payload(usize),
    /// Forwarding everything without looking.
    PassThrough,
}

/// The sans-I/O state machine of [`AuthorityFix`]: bytes from the client in,
/// bytes for the server out.
struct Rewriter {
    phase: Phase,
    /// Set by a first header block whose `:authority` has a scheme.
    rewriting: bool,
    /// Received bytes not consumed yet (an incomplete preface, frame header
    /// or header frame).
    input: Vec<u8>,
    /// The header block being collected.
    block: Option<HeaderBlock>,
    /// The client's HPACK state, kept from the first block on.
    decoder: Decoder<'static>,
}

/// A header block between its HEADERS frame and END_HEADERS.
struct HeaderBlock {
    stream_id: u32,
    end_stream: bool,
    /// The HPACK fragments, without padding and priority.
    fragment: Vec<u8>,
    /// The frames as received, forwarded instead if the connection turns out
    /// to pass through (kept only before the decision).
    original: Vec<u8>,
}

/// The 9-byte frame header.
#[derive(Debug, Clone, Copy)]
struct FrameHead {
    len: usize,
    kind: u8,
    flags: u8,
    stream_id: u32,
}

impl FrameHead {
    fn parse(b: &[u8]) -> Option<FrameHead> {
        let b: &[u8; FRAME_HEADER_LEN] = b.get(..FRAME_HEADER_LEN)?.try_into().ok()?;
        Some(FrameHead {
            len: usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]),
            kind: b[3],
            flags: b[4],
            stream_id: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.len).expect("frames are cut to MAX_FRAME_SIZE").to_be_bytes();
        out.extend_from_slice(&len[1..]);
        out.extend_from_slice(&[self.kind, self.flags]);
        out.extend_from_slice(&self.stream_id.to_be_bytes());
    }
}

impl Rewriter {
    fn new() -> Self {
        let mut decoder = Decoder::new();
        decoder.set_max_allowed_table_size(HEADER_TABLE_SIZE);
        Rewriter { phase: Phase::Preface, rewriting: false, input: Vec::new(), block: None, decoder }
    }

    /// True once everything from here on is forwarded as it is.
    fn passes_through(&self) -> bool {
        self.phase == Phase::PassThrough
    }

    /// Takes `data` from the client and appends to `out` what can be
    /// forwarded so far.
    fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), RewriteError> {
        if self.passes_through() {
            out.extend_from_slice(data);
            return Ok(());
        }
        let mut input = std::mem::take(&mut self.input);
        input.extend_from_slice(data);
        let used = self.consume(&input, out)?;
        input.drain(..used);
        self.input = input;
        Ok(())
    }

    /// The client closed its side: forwards whatever was held back as it
    /// came (an incomplete frame is the server's to complain about).
    fn finish(&mut self, out: &mut Vec<u8>) {
        if let Some(block) = self.block.take() {
            out.extend_from_slice(&block.original);
        }
        out.append(&mut self.input);
        self.phase = Phase::PassThrough;
    }

    /// Processes `input` as far as it is complete; returns how much of it
    /// was used.
    fn consume(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, RewriteError> {
        let mut at = 0;
        loop {
            let rest = &input[at..];
            match self.phase {
                Phase::PassThrough => {
                    out.extend_from_slice(rest);
                    return Ok(input.len());
                }
                Phase::Preface => {
                    let n = rest.len().min(PREFACE.len());
                    if rest[..n] != PREFACE[..n] {
                        self.phase = Phase::PassThrough;
                    } else if n < PREFACE.len() {
                        return Ok(at);
                    } else {
                        out.extend_from_slice(PREFACE);
                        at += n;
                        self.phase = Phase::FrameHeader;
                    }
                }
                Phase::Payload(left) => {
                    let n = left.min(rest.len());
                    out.extend_from_slice(&rest[..n]);
                    at += n;
                    if n < left {
                        self.phase = Phase::Payload(left - n);
                        return Ok(at);
                    }
                    self.phase = Phase::FrameHeader;
                }
                Phase::FrameHeader => {
                    let Some(head) = FrameHead::parse(rest) else { return Ok(at) };
                    let step = if head.kind == HEADERS || head.kind == CONTINUATION {
                        self.header_frame(head, rest, out)
                    } else if self.block.is_some() {
                        Err(RewriteError::Frame("a header block interrupted by another frame"))
                    } else {
                        out.extend_from_slice(&rest[..FRAME_HEADER_LEN]);
                        self.phase = Phase::Payload(head.len);
                        Ok(FRAME_HEADER_LEN)
                    };
                    match step {
                        Ok(0) => return Ok(at),
                        Ok(used) => at += used,
                        Err(e) if self.rewriting => return Err(e),
                        // The server will answer this malformed stream itself.
                        Err(_) => self.give_up(out),
                    }
                }
            }
        }
    }

    /// Stops looking at this connection (not rewriting yet): what was held
    /// back is forwarded as it came, and so is everything after.
    fn give_up(&mut self, out: &mut Vec<u8>) {
        if let Some(block) = self.block.take() {
            out.extend_from_slice(&block.original);
        }
        self.phase = Phase::PassThrough;
    }

    /// Takes a HEADERS or CONTINUATION frame at the start of `rest`; returns
    /// the bytes used, 0 while the frame is incomplete. An error leaves the
    /// frame unused.
    fn header_frame(&mut self, head: FrameHead, rest: &[u8], out: &mut Vec<u8>) -> Result<usize, RewriteError> {
        let held = self.block.as_ref().map_or(0, |b| b.fragment.len());
        if held + head.len > MAX_HEADER_BLOCK_BYTES {
            return Err(RewriteError::TooLarge);
        }
        let Some(frame) = rest.get(..FRAME_HEADER_LEN + head.len) else { return Ok(0) };
        let payload = &frame[FRAME_HEADER_LEN..];
        match (head.kind, self.block.as_mut()) {
            (HEADERS, None) => {
                let fragment = strip_padding_and_priority(head.flags, payload)?;
                self.block = Some(HeaderBlock {
                    stream_id: head.stream_id,
                    end_stream: head.flags & END_STREAM != 0,
                    fragment: fragment.to_vec(),
                    original: Vec::new(),
                });
            }
            (CONTINUATION, Some(block)) if block.stream_id == head.stream_id => {
                block.fragment.extend_from_slice(payload);
            }
            _ => return Err(RewriteError::Frame("a header block frame out of order")),
        }
        if !self.rewriting
            && let Some(block) = self.block.as_mut()
        {
            block.original.extend_from_slice(frame);
        }
        if head.flags & END_HEADERS != 0
            && let Some(block) = self.block.take()
        {
            self.end_block(block, out)?;
        }
        Ok(frame.len())
    }

    /// A complete header block: decides the connection's fate on the first
    /// one, and forwards it rewritten or as it came.
    fn end_block(&mut self, block: HeaderBlock, out: &mut Vec<u8>) -> Result<(), RewriteError> {
        let reencoded = reencode(&mut self.decoder, &block.fragment);
        match reencoded {
            Ok((encoded, stripped)) if self.rewriting || stripped => {
                self.rewriting = true;
                write_block(out, block.stream_id, block.end_stream, &encoded);
                Ok(())
            }
            Err(e) if self.rewriting => Err(e),
            // No scheme, or a block the server will refuse on its own.
            _ => {
                out.extend_from_slice(&block.original);
                self.phase = Phase::PassThrough;
                Ok(())
            }
        }
    }
}

/// The header block fragment of a HEADERS frame's payload.
fn strip_padding_and_priority(flags: u8, payload: &[u8]) -> Result<&[u8], RewriteError> {
    let mut fragment = payload;
    if flags & PADDED != 0 {
        let (&pad, rest) = fragment.split_first().ok_or(RewriteError::Frame("a PADDED frame without a pad length"))?;
        let end =
            rest.len().checked_sub(usize::from(pad)).ok_or(RewriteError::Frame("padding longer than the frame"))?;
        fragment = &rest[..end];
    }
    if flags & PRIORITY != 0 {
        fragment = fragment.get(5..).ok_or(RewriteError::Frame("a PRIORITY frame too short for its priority"))?;
    }
    Ok(fragment)
}

/// Decodes `fragment` with the client's `decoder` and encodes the same
/// header list with literals only (never indexed: the forwarded block must
/// not touch the server's dynamic table, and the flag of a field the client
/// marked sensitive is not known here, so every field keeps it), with the
/// scheme cut off `:authority`. Returns the block and whether a scheme was
/// cut.
fn reencode(decoder: &mut Decoder<'static>, fragment: &[u8]) -> Result<(Vec<u8>, bool), RewriteError> {
    let mut encoded = Vec::with_capacity(fragment.len() + 64);
    let mut stripped = false;
    let mut list_bytes = 0usize;
    decoder
        .decode_with_cb(fragment, |name, value| {
            list_bytes = list_bytes.saturating_add(name.len() + value.len() + 32);
            if list_bytes > MAX_HEADER_BLOCK_BYTES {
                return;
            }
            let authority = strip_scheme(&name, &value);
            stripped |= authority.is_some();
            encode_literal(&mut encoded, &name, authority.unwrap_or(&value));
        })
        .map_err(RewriteError::Hpack)?;
    if list_bytes > MAX_HEADER_BLOCK_BYTES {
        return Err(RewriteError::TooLarge);
    }
    Ok((encoded, stripped))
}

/// `h:1` for an `:authority` of `http://h:1` or `http://h:1/`; `None` for
/// any other header, or an authority without a scheme.
fn strip_scheme<'a>(name: &[u8], value: &'a [u8]) -> Option<&'a [u8]> {
    if name != b":authority" {
        return None;
    }
    let scheme_end = value.windows(3).position(|w| w == b"://")? + 3;
    let rest = &value[scheme_end..];
    let path = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
    Some(&rest[..path])
}

/// A "literal header field never indexed — new name" (RFC 7541 §6.2.3),
/// strings without Huffman coding.
fn encode_literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    // The pattern 0001 and a name index of 0: the name follows as a string.
    out.push(0x10);
    for s in [name, value] {
        encode_integer_into(s.len(), 7, 0, out).expect("writing to a Vec cannot fail");
        out.extend_from_slice(s);
    }
}

/// `block` as a HEADERS frame and as many CONTINUATIONs as it needs.
fn write_block(out: &mut Vec<u8>, stream_id: u32, end_stream: bool, block: &[u8]) {
    let mut chunks: Vec<&[u8]> = block.chunks(MAX_FRAME_SIZE).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.into_iter().enumerate() {
        let (kind, mut flags) =
            if i == 0 { (HEADERS, if end_stream { END_STREAM } else { 0 }) } else { (CONTINUATION, 0) };
        if i == last {
            flags |= END_HEADERS;
        }
        FrameHead { len: chunk.len(), kind, flags, stream_id }.write(out);
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
mod tests;
