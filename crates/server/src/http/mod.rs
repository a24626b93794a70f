//! The HTTP/1.1 endpoints etcd serves on its client URLs, beside gRPC on the
//! same port: `/metrics`, `/health`, `/version`, and etcd 3.6's `/livez` and
//! `/readyz`. Anything else answers Go's `404 page not found`.
//!
//! One listener serves both protocols: [`serve_both`] sends a request whose
//! content type is `application/grpc…` to the tonic services and every other
//! request here, as etcd's cmux does. Like etcd (whose `--cors` defaults to
//! `*`), every HTTP answer carries the CORS headers and `OPTIONS` answers an
//! empty 200 on any path.
//!
//! Status codes, bodies and content types are etcd 3.6.14's, checked against
//! it by the e2e test `http_endpoints_match_etcd`.

mod health;
mod metrics;
mod process;
mod version;

use std::sync::{Arc, Weak};
use std::time::Duration;

use ::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::member::Member;
use crate::watch::WatchHub;

/// How often the leader observer looks for a new leader.
const LEADER_POLL: Duration = Duration::from_millis(100);

/// What the endpoints read: the member, its watch hub, and the compactor's
/// progress.
#[derive(Clone)]
pub struct Endpoints {
    pub(crate) member: Arc<Member>,
    pub(crate) hub: Arc<WatchHub>,
    /// The revision of the last finished compaction (-1 while a compaction
    /// resumed at start-up runs).
    pub(crate) compaction_finished: watch::Receiver<i64>,
}

impl Endpoints {
    /// Installs the metrics recorder, records the configured quota, and starts
    /// counting leader changes (until the member is dropped).
    pub fn new(
        member: Arc<Member>,
        hub: Arc<WatchHub>,
        compaction_finished: watch::Receiver<i64>,
        quota_backend_bytes: i64,
    ) -> Endpoints {
        crate::metrics::install();
        // etcd exports the flag as given, except 0, which means the default.
        let quota = if quota_backend_bytes == 0 { DEFAULT_QUOTA_BYTES } else { quota_backend_bytes };
        ::metrics::gauge!(crate::metrics::QUOTA_BACKEND_BYTES).set(quota as f64);
        tokio::spawn(observe_leader(Arc::downgrade(&member)));
        Endpoints { member, hub, compaction_finished }
    }

    /// The HTTP routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/metrics", any(metrics::scrape))
            .route("/health", any(health::health))
            .route("/version", any(version::version))
            .route("/livez", any(health::livez))
            .route("/readyz", any(health::readyz))
            .route("/livez/{check}", any(health::livez_check))
            .route("/readyz/{check}", any(health::readyz_check))
            .fallback(|| async { not_found() })
            .with_state(self)
    }
}

/// etcd's default `--quota-backend-bytes` (2 GiB).
const DEFAULT_QUOTA_BYTES: i64 = 2 * 1024 * 1024 * 1024;

/// One service for the client port: gRPC requests go to `grpc` (with its own
/// `Unimplemented` fallback), the rest to `http`.
pub fn serve_both(grpc: tonic::service::Routes, http: Router) -> tonic::service::Routes {
    let grpc = grpc.prepare().into_axum_router();
    let dispatch = move |req: Request<Body>| {
        let (grpc, http) = (grpc.clone(), http.clone());
        async move {
            if is_grpc(&req) {
                return grpc.oneshot(req).await.into_response();
            }
            let mut resp = if req.method() == Method::OPTIONS {
                StatusCode::OK.into_response()
            } else {
                http.oneshot(req).await.into_response()
            };
            add_cors(resp.headers_mut());
            resp
        }
    };
    tonic::service::Routes::from(Router::new().fallback(dispatch))
}

fn is_grpc(req: &Request<Body>) -> bool {
    req.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

fn add_cors(headers: &mut ::http::HeaderMap) {
    let cors = [
        ("access-control-allow-headers", "accept, content-type, authorization"),
        ("access-control-allow-methods", "POST, GET, OPTIONS, PUT, DELETE"),
        ("access-control-allow-origin", "*"),
    ];
    for (name, value) in cors {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// A body Go's `http.ResponseWriter` would label `text/plain` by sniffing.
fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, TEXT_PLAIN)], body).into_response()
}

/// Go's `http.Error`: the message and a newline, marked `nosniff`.
fn go_error(status: StatusCode, message: &str) -> Response {
    let headers = [(header::CONTENT_TYPE, TEXT_PLAIN), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")];
    (status, headers, format!("{message}\n")).into_response()
}

fn not_found() -> Response {
    go_error(StatusCode::NOT_FOUND, "404 page not found")
}

/// etcd's endpoints other than `/metrics` answer only GET.
fn only_get(method: &Method) -> Option<Response> {
    if method == Method::GET {
        return None;
    }
    let mut resp = go_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET"));
    Some(resp)
}

/// Go's `url.Values`: every value of `key` in a query string, unescaped.
/// A key without `=` has the empty value.
fn query_values(query: Option<&str>, key: &str) -> Vec<String> {
    let Some(query) = query else { return Vec::new() };
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (unescape(k)? == key).then(|| unescape(v)).flatten()
        })
        .collect()
}

/// Go's `url.QueryUnescape`; `None` for a malformed escape (Go drops the pair).
fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Counts leader changes as etcd does: each time the member learns of a
/// leader other than the last one it knew (so a first election counts).
async fn observe_leader(member: Weak<Member>) {
    let mut last = None;
    let mut tick = tokio::time::interval(LEADER_POLL);
    loop {
        tick.tick().await;
        let Some(member) = member.upgrade() else { return };
        let leader = member.raft.leader();
        if leader.is_some() && leader != last {
            ::metrics::counter!(crate::metrics::LEADER_CHANGES_SEEN_TOTAL).increment(1);
        }
        last = leader;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_unescape_and_repeat() {
        let q = Some("exclude=NOSPACE&x=1&exclude=CORR%55PT&verbose&exclude=a+b");
        assert_eq!(query_values(q, "exclude"), ["NOSPACE", "CORRUPT", "a b"]);
        assert_eq!(query_values(q, "verbose"), [""]);
        assert!(query_values(q, "serializable").is_empty());
        assert!(query_values(None, "exclude").is_empty());
        assert!(query_values(Some("exclude=%zz"), "exclude").is_empty());
    }
}
