//! `/health`, `/livez` and `/readyz` as etcd 3.6 answers them.
//!
//! `/health` is 200 `{"health":"true","reason":""}` or 503 with
//! `{"health":"false","reason":…}`: alarms first (`ALARM NOSPACE`;
//! `?exclude=NOSPACE` ignores one), then a leader (`RAFT NO LEADER`), then a
//! keys-only range of limit 1, linearizable unless `?serializable=true`
//! (`RANGE ERROR:<err>`). `?serializable=true` skips the leader check, so a
//! probe can ask whether this process works whatever the cluster does.
//!
//! `/livez` and `/readyz` run named checks and answer `ok` (with one
//! `[+]name ok` line per check first under `?verbose`), or 503 with a
//! `[-]name failed: error` line for each failure. `?exclude=name` skips a
//! check; `/readyz/<name>` runs one.

use ::http::{Method, StatusCode, Uri};
use api::etcdserverpb::{AlarmMember, AlarmType};
use axum::extract::{Path, State};
use axum::response::Response;
use mvcc::{KeyRange, RangeOptions};

use super::{Endpoints, go_error, not_found, only_get, query_values, text};
use crate::error::EtcdError;

const LIVEZ: &[&str] = &["serializable_read"];
/// etcd lists them in Go's map order, which varies from run to run; this is one of them.
const READYZ: &[&str] = &["data_corruption", "serializable_read", "linearizable_read", "non_learner"];

pub(super) async fn health(State(e): State<Endpoints>, method: Method, uri: Uri) -> Response {
    if let Some(refused) = only_get(&method) {
        tracing::warn!("/health error (status code {})", StatusCode::METHOD_NOT_ALLOWED.as_u16());
        return refused;
    }
    let excluded = query_values(uri.query(), "exclude");
    let serializable = query_values(uri.query(), "serializable").first().is_some_and(|v| v == "true");
    match check_health(&e, &excluded, serializable).await {
        Ok(()) => {
            ::metrics::counter!(crate::metrics::HEALTH_SUCCESS).increment(1);
            text(StatusCode::OK, health_json("true", ""))
        }
        Err(reason) => {
            ::metrics::counter!(crate::metrics::HEALTH_FAILURES).increment(1);
            let body = health_json("false", &reason);
            tracing::warn!(output = %body, status_code = 503, "/health error");
            go_error(StatusCode::SERVICE_UNAVAILABLE, &body)
        }
    }
}

/// etcd's `Health` as Go's encoding/json writes it.
fn health_json(health: &str, reason: &str) -> String {
    serde_json::json!({ "health": health, "reason": reason }).to_string()
}

/// The reason the member is unhealthy, if it is.
async fn check_health(e: &Endpoints, excluded: &[String], serializable: bool) -> Result<(), String> {
    for alarm in e.member.active_alarms() {
        if excluded.iter().any(|x| x == alarm_name(alarm.alarm)) {
            tracing::debug!("/health excluded alarm {}", go_text(&alarm));
            continue;
        }
        tracing::warn!(alarm = %go_text(&alarm), "serving /health false due to an alarm");
        return Err(match AlarmType::try_from(alarm.alarm) {
            Ok(AlarmType::Nospace) => "ALARM NOSPACE",
            Ok(AlarmType::Corrupt) => "ALARM CORRUPT",
            _ => "ALARM UNKNOWN",
        }
        .to_string());
    }
    if !serializable && e.member.raft.leader().is_none() {
        tracing::warn!("serving /health false; no leader");
        return Err("RAFT NO LEADER".to_string());
    }
    let read = async {
        if !serializable {
            e.member.read_index().await?;
        }
        e.member
            .store
            .read()
            .and_then(|r| r.range(KeyRange::Single(b""), RangeOptions { limit: 1, ..Default::default() }))?;
        Ok::<(), EtcdError>(())
    };
    let read = tokio::time::timeout(crate::member::REQUEST_TIMEOUT, read).await.unwrap_or(Err(EtcdError::Timeout));
    read.map_err(|err| {
        tracing::warn!(error = %err, "serving /health false; Range fails");
        format!("RANGE ERROR:{err}")
    })
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
