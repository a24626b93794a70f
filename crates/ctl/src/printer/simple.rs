//! `-w simple`, etcdctl's default: `OK`, counts, key/value lines, watch events and
//! lease sentences (`printer_simple.go`). Keys and values are written as raw bytes.

use crate::command::endpoint::{EndpointHashKv, EndpointHealth, EndpointStatus};
use crate::command::prefix_end;
use crate::command::watch::WatchUpdate;
use crate::gosyntax::{hex016, quote};
use crate::printer::table;
use api::authpb::Permission;
use api::authpb::permission::Type as PermType;
use api::etcdserverpb::{
    AlarmMember, AlarmResponse, AlarmType, AuthRoleGetResponse, AuthStatusResponse, AuthUserGetResponse,
    DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseTimeToLiveResponse,
    Member, PutResponse, RangeResponse, ResponseHeader, TxnResponse, response_op::Response,
};
use api::mvccpb::KeyValue;
use api::mvccpb::event::EventType;

/// How key/value pairs are printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvStyle {
    /// `--hex`: each byte as `\xNN`.
    pub hex: bool,
    /// `--print-value-only`: skip the key line.
    pub value_only: bool,
}

/// One kv: the key line (unless value-only), then the value line.
pub fn kv(out: &mut Vec<u8>, kv: &KeyValue, style: KvStyle) {
    if !style.value_only {
        bytes_line(out, &kv.key, style.hex);
    }
    bytes_line(out, &kv.value, style.hex);
}

fn bytes_line(out: &mut Vec<u8>, b: &[u8], hex: bool) {
    if hex {
        for byte in b {
            out.extend_from_slice(format!("\\x{byte:02x}").as_bytes());
        }
    } else {
        out.extend_from_slice(b);
    }
    out.push(b'\n');
}

/// `get`: every kv; nothing at all for no result.
pub fn get(out: &mut Vec<u8>, r: &RangeResponse, style: KvStyle) {
    for k in &r.kvs {
        kv(out, k, style);
    }
}

/// `put`: `OK`, then the previous kv with `--prev-kv`.
pub fn put(out: &mut Vec<u8>, r: &PutResponse, style: KvStyle) {
    out.extend_from_slice(b"OK\n");
    if let Some(prev) = &r.prev_kv {
        kv(out, prev, style);
    }
}

/// `del`: the number deleted, then the deleted kvs with `--prev-kv`.
pub fn del(out: &mut Vec<u8>, r: &DeleteRangeResponse, style: KvStyle) {
    out.extend_from_slice(format!("{}\n", r.deleted).as_bytes());
    for k in &r.prev_kvs {
        kv(out, k, style);
    }
}

/// `txn`: `SUCCESS` or `FAILURE`, then each op's output after a blank line.
pub fn txn(out: &mut Vec<u8>, r: &TxnResponse, style: KvStyle) {
    out.extend_from_slice(if r.succeeded { b"SUCCESS\n" } else { b"FAILURE\n" });
    for op in &r.responses {
        out.push(b'\n');
        match &op.response {
            Some(Response::ResponseRange(r)) => get(out, r, style),
            Some(Response::ResponsePut(r)) => put(out, r, style),
            Some(Response::ResponseDeleteRange(r)) => del(out, r, style),
            // etcdctl prints Go's `%+v` of the op here; a nested txn cannot come from
            // the command line.
            other => out.extend_from_slice(format!("unexpected response {other:?}\n").as_bytes()),
        }
    }
}

/// `watch`: per event its type, the previous kv when there is one, then the kv (a
/// DELETE's value line is empty).
pub fn watch(out: &mut Vec<u8>, r: &WatchUpdate, style: KvStyle) {
    for e in r.events.iter().flatten() {
        out.extend_from_slice(event_type(e.r#type).as_bytes());
        out.push(b'\n');
        if let Some(prev) = &e.prev_kv {
            kv(out, prev, style);
        }
        kv(out, e.kv.as_ref().unwrap_or(&KeyValue::default()), style);
    }
}

/// An event type as Go's `%v` prints the enum: its name, or the number if unknown.
pub fn event_type(t: i32) -> String {
    EventType::try_from(t).map(|t| t.as_str_name().to_owned()).unwrap_or_else(|_| t.to_string())
}

/// `lease grant`.
pub fn lease_grant(out: &mut Vec<u8>, r: &LeaseGrantResponse) {
    line(out, format!("lease {} granted with TTL({}s)", hex016(r.id), r.ttl));
}

/// `lease revoke`: the id given, as the response carries none.
pub fn lease_revoke(out: &mut Vec<u8>, id: i64) {
    line(out, format!("lease {} revoked", hex016(id)));
}

/// `lease keep-alive`, one line per renewal.
pub fn lease_keep_alive(out: &mut Vec<u8>, r: &LeaseKeepAliveResponse) {
    line(out, format!("lease {} keepalived with TTL({})", hex016(r.id), r.ttl));
}

/// `lease timetolive [--keys]`; the keys as Go's `%v` of a string slice (`[a b]`).
pub fn lease_time_to_live(out: &mut Vec<u8>, r: &LeaseTimeToLiveResponse, keys: bool) {
    if r.granted_ttl == 0 && r.ttl == -1 {
        line(out, format!("lease {} already expired", hex016(r.id)));
        return;
    }
    out.extend_from_slice(
        format!("lease {} granted with TTL({}s), remaining({}s)", hex016(r.id), r.granted_ttl, r.ttl).as_bytes(),
    );
    if keys {
        out.extend_from_slice(b", attached keys([");
        out.extend_from_slice(&r.keys.join(&b' '));
        out.extend_from_slice(b"])");
    }
    out.push(b'\n');
}

/// `lease list`.
pub fn lease_leases(out: &mut Vec<u8>, r: &LeaseLeasesResponse) {
    line(out, format!("found {} leases", r.leases.len()));
    for l in &r.leases {
        line(out, hex016(l.id));
    }
}

/// `endpoint status`: the table's rows joined with `, ` (so a row without errors ends
/// in `, `).
pub fn endpoint_status(out: &mut Vec<u8>, list: &[EndpointStatus]) {
    for row in table::status_rows(list) {
        line(out, row.join(", "));
    }
}

/// `endpoint health`: healthy endpoints to `out`, unhealthy ones to `err` (etcdctl 3.6's
/// stdout and stderr; etcdctl 3.4 wrote both to stderr).
pub fn endpoint_health(out: &mut Vec<u8>, err: &mut Vec<u8>, list: &[EndpointHealth]) {
    for h in list {
        if h.error.is_empty() {
            line(out, format!("{} is healthy: successfully committed proposal: took = {}", h.endpoint, h.took));
        } else {
            line(err, format!("{} is unhealthy: failed to commit proposal: {}", h.endpoint, h.error));
        }
    }
}

/// `endpoint hashkv`: `<endpoint>, <hash>, <hash revision>` per endpoint.
pub fn endpoint_hashkv(out: &mut Vec<u8>, list: &[EndpointHashKv]) {
    for row in table::hashkv_rows(list) {
        line(out, row.join(", "));
    }
}

/// `alarm list` / `alarm disarm`: Go's `%+v` of each `*AlarmMember`, which is gogo's
/// compact text: `memberID:<decimal> alarm:<NAME> `, zero fields left out.
pub fn alarm(out: &mut Vec<u8>, r: &AlarmResponse) {
    for a in &r.alarms {
        line(out, alarm_member(a));
    }
}

/// gogo's compact text of an `AlarmMember` (also how etcd words a Status error).
pub fn alarm_member(a: &AlarmMember) -> String {
    let mut s = String::new();
    if a.member_id != 0 {
        s.push_str(&format!("memberID:{} ", a.member_id));
    }
    if a.alarm != 0 {
        s.push_str(&format!("alarm:{} ", alarm_type(a.alarm)));
    }
    s
}

/// An alarm type as Go's `%v` prints the enum: its name, or the number if unknown.
pub fn alarm_type(t: i32) -> String {
    AlarmType::try_from(t).map(|t| t.as_str_name().to_owned()).unwrap_or_else(|_| t.to_string())
}

/// `member list`: the table's rows joined with `, `.
pub fn member_list(out: &mut Vec<u8>, members: &[Member]) {
    for row in table::member_rows(members) {
        line(out, row.join(", "));
    }
}

/// `member add | remove | update | promote`: `Member <id> <verb> cluster <cluster id>`,
/// both ids as Go's `%16x` (padded with spaces, not zeros).
pub fn member_changed(out: &mut Vec<u8>, id: u64, verb: &str, header: Option<&ResponseHeader>) {
    let cluster_id = header.map(|h| h.cluster_id).unwrap_or_default();
    line(out, format!("Member {id:16x} {verb} cluster {cluster_id:16x}"));
}

/// `move-leader`: both ids as etcd's `types.ID` prints them (lower-case hex, unpadded).
pub fn move_leader(out: &mut Vec<u8>, leader: u64, target: u64) {
    line(out, format!("Leadership transferred from {leader:x} to {target:x}"));
}

/// What `member add` prints after its first line in the simple format: a blank line,
/// then the variables to start the new member with. `ETCD_INITIAL_CLUSTER` pairs every
/// peer URL of `members` (the list after the change) with its member's name, the new
/// member (`new_id`, still unnamed in the list) getting `name`; the advertised peer URLs
/// are the flag as given.
pub fn member_add_env(out: &mut Vec<u8>, name: &str, peer_urls_flag: &str, new_id: u64, members: &[Member]) {
    let mut cluster = Vec::new();
    for m in members {
        let member_name = if m.id == new_id { name } else { m.name.as_str() };
        for url in &m.peer_ur_ls {
            cluster.push(format!("{member_name}={url}"));
        }
    }
    out.push(b'\n');
    line(out, format!("ETCD_NAME={}", quote(name.as_bytes())));
    line(out, format!("ETCD_INITIAL_CLUSTER={}", quote(cluster.join(",").as_bytes())));
    line(out, format!("ETCD_INITIAL_ADVERTISE_PEER_URLS={}", quote(peer_urls_flag.as_bytes())));
    line(out, "ETCD_INITIAL_CLUSTER_STATE=\"existing\"".to_owned());
}

/// `user get`: the name, then its roles on one line.
pub fn user_get(out: &mut Vec<u8>, name: &str, r: &AuthUserGetResponse) {
    line(out, format!("User: {name}"));
    let mut roles = String::from("Roles:");
    for role in &r.roles {
        roles.push(' ');
        roles.push_str(role);
    }
    line(out, roles);
}

/// `user list` and `role list`: one name a line.
pub fn names(out: &mut Vec<u8>, names: &[String]) {
    for name in names {
        line(out, name.clone());
    }
}

/// `role get`: the permissions that allow reading, then those that allow writing, each
/// as its key, or as its range `[key, range_end)` (`[key, <open ended>` for `range_end`
/// `"\0"`) marked `(prefix key)` when it is exactly the keys starting with a non-empty
/// `key`. The root role without permissions (as etcd 3.4 answers) is shown with the
/// whole key space it may use, as etcdctl 3.6 does.
pub fn role_get(out: &mut Vec<u8>, role: &str, r: &AuthRoleGetResponse) {
    line(out, format!("Role {role}"));
    if role == "root" && r.perm.is_empty() {
        out.extend_from_slice(b"KV Read:\n\t[, <open ended>\nKV Write:\n\t[, <open ended>\n");
        return;
    }
    for (heading, allows) in [("KV Read:", PermType::Read), ("KV Write:", PermType::Write)] {
        line(out, heading.to_owned());
        for perm in r.perm.iter().filter(|p| p.perm_type == allows as i32 || p.perm_type == PermType::Readwrite as i32)
        {
            permission(out, perm);
        }
    }
}

fn permission(out: &mut Vec<u8>, perm: &Permission) {
    out.push(b'\t');
    if perm.range_end.is_empty() {
        out.extend_from_slice(&perm.key);
        out.push(b'\n');
        return;
    }
    out.push(b'[');
    out.extend_from_slice(&perm.key);
    if perm.range_end == b"\0" {
        out.extend_from_slice(b", <open ended>");
    } else {
        out.extend_from_slice(b", ");
        out.extend_from_slice(&perm.range_end);
        out.push(b')');
    }
    if prefix_end(&perm.key) == perm.range_end && !perm.key.is_empty() {
        out.extend_from_slice(b" (prefix ");
        out.extend_from_slice(&perm.key);
        out.push(b')');
    }
    out.push(b'\n');
}

/// `role revoke-permission`: which key or range was revoked, `key` as given on the
/// command line and `end` as sent.
pub fn permission_revoked(role: &str, key: &[u8], end: &[u8]) -> Vec<u8> {
    let mut s = Vec::new();
    if end.is_empty() {
        s.extend_from_slice(b"Permission of key ");
        s.extend_from_slice(key);
    } else {
        s.extend_from_slice(b"Permission of range [");
        s.extend_from_slice(key);
        s.extend_from_slice(b", ");
        if end == b"\0" {
            s.extend_from_slice(b"<open ended>");
        } else {
            s.extend_from_slice(end);
            s.push(b')');
        }
    }
    s.extend_from_slice(format!(" is revoked from role {role}").as_bytes());
    s
}

/// `auth status` (etcdctl 3.6's).
pub fn auth_status(out: &mut Vec<u8>, r: &AuthStatusResponse) {
    line(out, format!("Authentication Status: {}", r.enabled));
    line(out, format!("AuthRevision: {}", r.auth_revision));
}

fn line(out: &mut Vec<u8>, text: String) {
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::etcdserverpb::ResponseOp;

    fn kv_ab() -> KeyValue {
        KeyValue { key: b"a".to_vec(), value: b"1".to_vec(), create_revision: 2, mod_revision: 2, version: 1, lease: 0 }
    }

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn get_prints_key_and_value_lines() {
        let r = RangeResponse { kvs: vec![kv_ab(), kv_ab()], ..Default::default() };
        assert_eq!(text(|o| get(o, &r, KvStyle::default())), "a\n1\na\n1\n");
        let style = KvStyle { value_only: true, ..Default::default() };
        assert_eq!(text(|o| get(o, &r, style)), "1\n1\n");
        assert_eq!(text(|o| get(o, &RangeResponse::default(), style)), "");
    }

    #[test]
    fn keys_only_leaves_an_empty_value_line() {
        let mut k = kv_ab();
        k.value.clear();
        let r = RangeResponse { kvs: vec![k], ..Default::default() };
        assert_eq!(text(|o| get(o, &r, KvStyle::default())), "a\n\n");
    }

    #[test]
    fn hex_escapes_every_byte() {
        let style = KvStyle { hex: true, ..Default::default() };
        assert_eq!(text(|o| kv(o, &kv_ab(), style)), "\\x61\n\\x31\n");
    }

    #[test]
    fn put_and_del_with_prev_kv() {
        let p = PutResponse { prev_kv: Some(kv_ab()), ..Default::default() };
        assert_eq!(text(|o| put(o, &p, KvStyle::default())), "OK\na\n1\n");
        let d = DeleteRangeResponse { deleted: 1, prev_kvs: vec![kv_ab()], ..Default::default() };
        assert_eq!(text(|o| del(o, &d, KvStyle::default())), "1\na\n1\n");
    }

    #[test]
    fn txn_separates_ops_with_blank_lines() {
        let r = TxnResponse {
            succeeded: false,
            responses: vec![
                ResponseOp { response: Some(Response::ResponsePut(PutResponse::default())) },
                ResponseOp {
                    response: Some(Response::ResponseRange(RangeResponse { kvs: vec![kv_ab()], ..Default::default() })),
                },
                ResponseOp { response: Some(Response::ResponseDeleteRange(DeleteRangeResponse::default())) },
            ],
            ..Default::default()
        };
        assert_eq!(text(|o| txn(o, &r, KvStyle::default())), "FAILURE\n\nOK\n\na\n1\n\n0\n");
    }
}
