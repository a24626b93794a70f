//! Answers an oversized gRPC message as etcd (grpc-go) does.
//!
//! tonic refuses a request above `max_decoding_message_size` with
//! `OutOfRange "Error, decoded message length too large: found N bytes, the
//! limit is: M bytes"`; etcd's clients see `ResourceExhausted "grpc: received
//! message larger than max (N vs. M)"`. The refusal happens before any handler
//! runs, as a trailers-only response, so this layer rewrites the status in the
//! response headers.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::{Code, Status};
use tower::{Layer, Service};

/// The tower layer; see the module doc.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageSizeLayer;

impl<S> Layer<S> for MessageSizeLayer {
    type Service = MessageSize<S>;

    fn layer(&self, inner: S) -> MessageSize<S> {
        MessageSize { inner }
    }
}

/// The service the layer wraps around the gRPC router.
#[derive(Debug, Clone)]
pub struct MessageSize<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for MessageSize<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            rewrite(resp.headers_mut());
            Ok(resp)
        })
    }
}

fn rewrite(headers: &mut http::HeaderMap) {
    let Some(status) = Status::from_header_map(headers) else { return };
    if status.code() != Code::OutOfRange {
        return;
    }
    let Some((found, limit)) = parse_tonic_message(status.message()) else { return };
    headers.remove(Status::GRPC_STATUS);
    headers.remove(Status::GRPC_MESSAGE);
    let etcd = Status::resource_exhausted(format!("grpc: received message larger than max ({found} vs. {limit})"));
    let _ = etcd.add_header(headers);
}

fn parse_tonic_message(msg: &str) -> Option<(u64, u64)> {
    let rest = msg.strip_prefix("Error, decoded message length too large: found ")?;
    let (found, rest) = rest.split_once(" bytes, the limit is: ")?;
    let limit = rest.strip_suffix(" bytes")?;
    Some((found.parse().ok()?, limit.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_size_error() {
        let mut h = http::HeaderMap::new();
        let _ = Status::out_of_range(
            "Error, decoded message length too large: found 2200010 bytes, the limit is: 2097152 bytes",
        )
        .add_header(&mut h);
        rewrite(&mut h);
        let s = Status::from_header_map(&h).expect("status");
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(s.message(), "grpc: received message larger than max (2200010 vs. 2097152)");

        let mut h = http::HeaderMap::new();
        let _ = Status::out_of_range("etcdserver: mvcc: required revision has been compacted").add_header(&mut h);
        rewrite(&mut h);
        assert_eq!(Status::from_header_map(&h).map(|s| s.code()), Some(Code::OutOfRange));
    }
}
