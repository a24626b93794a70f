//! `/version`: the etcd versions this member speaks for.

use ::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::only_get;

/// The etcd release whose API and behaviour Strata matches; reported where
/// etcd reports its own version (`/version`, the `etcd_server_version` metric).
pub const SERVER_VERSION: &str = "3.4.23";
/// The cluster version a 3.4 cluster settles on.
pub const CLUSTER_VERSION: &str = "3.4.0";

pub(super) async fn version(method: Method) -> Response {
    if let Some(refused) = only_get(&method) {
        return refused;
    }
    // etcd's field order (serde_json would sort the keys).
    let body = format!(r#"{{"etcdserver":"{SERVER_VERSION}","etcdcluster":"{CLUSTER_VERSION}"}}"#);
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
