//! `/health` as etcd 3.4 answers it, and etcd 3.6's `/livez` and `/readyz`.
//!
//! `/health` is 200 `{"health":"true"}` or 503 `{"health":"false"}` (alarms
//! first, `?exclude=NOSPACE` ignoring one; then a leader; then a read index
//! within a second, where 3.4 ran a v2 quorum GET). etcd 3.5 added a
//! `reason` field; Strata reports 3.4.23 and keeps 3.4's body.
//!
//! `/livez` and `/readyz` run named checks and answer `ok` (with one
//! `[+]name ok` line per check first under `?verbose`), or 503 with a
//! `[-]name failed: error` line for each failure. `?exclude=name` skips a
//! check; `/readyz/<name>` runs one.

use std::time::Duration;

use ::http::{Method, StatusCode, Uri};
use api::etcdserverpb::{AlarmMember, AlarmType};
use axum::extract::{Path, State};
use axum::response::Response;
use mvcc::{KeyRange, RangeOptions};

use super::{Endpoints, go_error, not_found, only_get, query_values, text};
use crate::error::EtcdError;

/// etcd 3.4 gave its health read one second.
const HEALTH_READ_TIMEOUT: Duration = Duration::from_secs(1);

const LIVEZ: &[&str] = &["serializable_read"];
const READYZ: &[&str] = &["data_corruption", "serializable_read", "linearizable_read", "non_learner"];

pub(super) async fn health(State(e): State<Endpoints>, method: Method, uri: Uri) -> Response {
    if let Some(refused) = only_get(&method) {
        tracing::warn!("/health error (status code {})", StatusCode::METHOD_NOT_ALLOWED.as_u16());
        return refused;
    }
    let excluded = query_values(uri.query(), "exclude");
    let healthy = check_health(&e, &excluded).await;
    if healthy {
        ::metrics::counter!(crate::metrics::HEALTH_SUCCESS).increment(1);
        text(StatusCode::OK, r#"{"health":"true"}"#.to_string())
    } else {
        ::metrics::counter!(crate::metrics::HEALTH_FAILURES).increment(1);
        go_error(StatusCode::SERVICE_UNAVAILABLE, r#"{"health":"false"}"#)
    }
}

async fn check_health(e: &Endpoints, excluded: &[String]) -> bool {
    for alarm in e.member.active_alarms() {
        if excluded.iter().any(|x| x == alarm_name(alarm.alarm)) {
            tracing::debug!("/health excluded alarm {}", go_text(&alarm));
            continue;
        }
        tracing::warn!("/health error due to {}", go_text(&alarm));
        return false;
    }
    let unavailable = StatusCode::SERVICE_UNAVAILABLE.as_u16();
    if e.member.raft.leader().is_none() {
        tracing::warn!("/health error; no leader (status code {unavailable})");
        return false;
    }
    let read = match tokio::time::timeout(HEALTH_READ_TIMEOUT, e.member.raft.read_index()).await {
        Ok(r) => r.map_err(EtcdError::from),
        Err(_) => Err(EtcdError::Timeout),
    };
    if let Err(err) = read {
        tracing::warn!("/health error; read index failed {err} (status code {unavailable})");
        return false;
    }
    true
}

fn alarm_name(alarm: i32) -> &'static str {
    AlarmType::try_from(alarm).map_or("UNKNOWN", |a| a.as_str_name())
}

/// An alarm as Go's protobuf text prints it (etcd's logs and Status errors).
fn go_text(alarm: &AlarmMember) -> String {
    format!("memberID:{} alarm:{} ", alarm.member_id, alarm_name(alarm.alarm))
}

pub(super) async fn livez(State(e): State<Endpoints>, method: Method, uri: Uri) -> Response {
    checks_root(&e, "/livez", LIVEZ, &method, &uri).await
}

pub(super) async fn readyz(State(e): State<Endpoints>, method: Method, uri: Uri) -> Response {
    checks_root(&e, "/readyz", READYZ, &method, &uri).await
}

pub(super) async fn livez_check(
    State(e): State<Endpoints>,
    Path(check): Path<String>,
    method: Method,
    uri: Uri,
) -> Response {
    one_check(&e, "/livez", LIVEZ, &check, &method, &uri).await
}

pub(super) async fn readyz_check(
    State(e): State<Endpoints>,
    Path(check): Path<String>,
    method: Method,
    uri: Uri,
) -> Response {
    one_check(&e, "/readyz", READYZ, &check, &method, &uri).await
}

async fn checks_root(e: &Endpoints, path: &str, all: &[&str], method: &Method, uri: &Uri) -> Response {
    if let Some(refused) = only_get(method) {
        tracing::warn!(path, status_code = 405, "Health request error");
        return refused;
    }
    let excluded = query_values(uri.query(), "exclude");
    let missing: Vec<String> =
        excluded.iter().filter(|x| !all.contains(&x.as_str())).map(|x| format!("{x:?}")).collect();
    if !missing.is_empty() {
        tracing::warn!(missing_health_checks = %missing.join(","), "some health checks cannot be excluded");
    }
    let names: Vec<&str> = all.iter().copied().filter(|n| !excluded.iter().any(|x| x == n)).collect();
    respond(e, path, &names, uri).await
}

async fn one_check(e: &Endpoints, root: &str, all: &[&str], check: &str, method: &Method, uri: &Uri) -> Response {
    if !all.contains(&check) {
        return not_found();
    }
    let path = format!("{root}/{check}");
    if let Some(refused) = only_get(method) {
        tracing::warn!(path, status_code = 405, "Health request error");
        return refused;
    }
    respond(e, &path, &[check], uri).await
}

async fn respond(e: &Endpoints, path: &str, names: &[&str], uri: &Uri) -> Response {
    let mut ok = true;
    let mut reason = String::new();
    for name in names {
        match run_check(e, name).await {
            Ok(()) => reason.push_str(&format!("[+]{name} ok\n")),
            Err(err) => {
                ok = false;
                reason.push_str(&format!("[-]{name} failed: {err}\n"));
            }
        }
    }
    if !ok {
        tracing::error!(path, reason = %reason, status_code = 503, "Health check error");
        return go_error(StatusCode::SERVICE_UNAVAILABLE, &reason);
    }
    let verbose = uri.query().is_some_and(|q| !query_values(Some(q), "verbose").is_empty());
    let body = if verbose { format!("{reason}ok\n") } else { "ok\n".to_string() };
    let mut resp = text(StatusCode::OK, body);
    resp.headers_mut().insert(::http::header::X_CONTENT_TYPE_OPTIONS, ::http::HeaderValue::from_static("nosniff"));
    resp
}

async fn run_check(e: &Endpoints, name: &str) -> Result<(), String> {
    match name {
        "data_corruption" => {
            let corrupt = e.member.active_alarms().iter().any(|a| a.alarm == AlarmType::Corrupt as i32);
            if corrupt { Err("alarm activated: CORRUPT".to_string()) } else { Ok(()) }
        }
        "serializable_read" => local_read(e),
        "linearizable_read" => {
            e.member.read_index().await.map_err(|err| err.to_string())?;
            local_read(e)
        }
        // etcd 3.6's text for a learner.
        "non_learner" => {
            if e.member.raft.is_learner() {
                Err("not supported for learner".to_string())
            } else {
                Ok(())
            }
        }
        other => Err(format!("unknown check {other}")),
    }
}

/// etcd's check: a keys-only range with limit 1.
fn local_read(e: &Endpoints) -> Result<(), String> {
    let read = e.member.store.read().map_err(|err| EtcdError::from(err).to_string())?;
    read.range(KeyRange::Single(b""), RangeOptions { limit: 1, ..RangeOptions::default() })
        .map(drop)
        .map_err(|err| EtcdError::from(err).to_string())
}
