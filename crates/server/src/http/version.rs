//! `/version`: the etcd release this member answers as, the cluster version
//! and (etcd 3.6) the storage version.

use ::http::{Method, StatusCode, header};
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{Endpoints, only_get};
use crate::version::SERVER_VERSION;

pub(super) async fn version(State(e): State<Endpoints>, method: Method) -> Response {
    if let Some(refused) = only_get(&method) {
        return refused;
    }
    let versions = &e.member.versions;
    let (cluster, storage) = (versions.cluster(), versions.storage());
    // etcd's field order (serde_json would sort the keys).
    let body = format!(r#"{{"etcdserver":"{SERVER_VERSION}","etcdcluster":"{cluster}","storage":"{storage}"}}"#);
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
