//! `-w fields`: one `"Name" : value` line per field (`printer_fields.go`); strings are
//! Go-quoted (`%q`), numbers and booleans as `fmt.Println` prints them.

use crate::command::endpoint::{EndpointHashKv, EndpointHealth, EndpointStatus};
use crate::command::watch::WatchUpdate;
use crate::gosyntax::quote;
use crate::printer::simple::{alarm_type, event_type};
use api::authpb::permission::Type as PermType;
use api::etcdserverpb::{
    AlarmResponse, AuthRoleGetResponse, AuthRoleListResponse, DeleteRangeResponse, LeaseGrantResponse,
    LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveResponse, MemberListResponse,
    PutResponse, RangeResponse, ResponseHeader, TxnResponse, response_op::Response,
};
use api::mvccpb::KeyValue;
use std::fmt::Display;

fn field(out: &mut Vec<u8>, name: &str, v: impl Display) {
    out.extend_from_slice(format!("\"{name}\" : {v}\n").as_bytes());
}

fn header(out: &mut Vec<u8>, h: Option<&ResponseHeader>) {
    let h = h.copied().unwrap_or_default();
    field(out, "ClusterID", h.cluster_id);
    field(out, "MemberID", h.member_id);
    field(out, "Revision", h.revision);
    field(out, "RaftTerm", h.raft_term);
}

fn kv(out: &mut Vec<u8>, prefix: &str, kv: &KeyValue) {
    field(out, &format!("{prefix}Key"), quote(&kv.key));
    field(out, &format!("{prefix}CreateRevision"), kv.create_revision);
    field(out, &format!("{prefix}ModRevision"), kv.mod_revision);
    field(out, &format!("{prefix}Version"), kv.version);
    field(out, &format!("{prefix}Value"), quote(&kv.value));
    field(out, &format!("{prefix}Lease"), kv.lease);
}

/// `get`.
pub fn get(out: &mut Vec<u8>, r: &RangeResponse) {
    header(out, r.header.as_ref());
    for k in &r.kvs {
        kv(out, "", k);
    }
    field(out, "More", r.more);
    field(out, "Count", r.count);
}

/// `put`.
pub fn put(out: &mut Vec<u8>, r: &PutResponse) {
    header(out, r.header.as_ref());
    if let Some(prev) = &r.prev_kv {
        kv(out, "Prev", prev);
    }
}

/// `del`.
pub fn del(out: &mut Vec<u8>, r: &DeleteRangeResponse) {
    header(out, r.header.as_ref());
    field(out, "Deleted", r.deleted);
    for k in &r.prev_kvs {
        kv(out, "Prev", k);
    }
}

/// `txn`: the txn header and `Succeeded`, then each op printed as its own command would.
pub fn txn(out: &mut Vec<u8>, r: &TxnResponse) {
    header(out, r.header.as_ref());
    field(out, "Succeeded", r.succeeded);
    for op in &r.responses {
        match &op.response {
            Some(Response::ResponseDeleteRange(r)) => del(out, r),
            Some(Response::ResponsePut(r)) => put(out, r),
            Some(Response::ResponseRange(r)) => get(out, r),
            other => field(out, "Unknown", quote(format!("{other:?}").as_bytes())),
        }
    }
}

/// `watch`: the header, then per event its type, the previous kv and the kv.
pub fn watch(out: &mut Vec<u8>, r: &WatchUpdate) {
    header(out, Some(&r.header));
    for e in r.events.iter().flatten() {
        field(out, "Type", event_type(e.r#type));
        if let Some(prev) = &e.prev_kv {
            kv(out, "Prev", prev);
        }
        kv(out, "", e.kv.as_ref().unwrap_or(&KeyValue::default()));
    }
}

/// `lease grant`.
pub fn lease_grant(out: &mut Vec<u8>, r: &LeaseGrantResponse) {
    header(out, r.header.as_ref());
    field(out, "ID", r.id);
    field(out, "TTL", r.ttl);
}

/// `lease revoke`.
pub fn lease_revoke(out: &mut Vec<u8>, r: &LeaseRevokeResponse) {
    header(out, r.header.as_ref());
}

/// `lease keep-alive`.
pub fn lease_keep_alive(out: &mut Vec<u8>, r: &LeaseKeepAliveResponse) {
    header(out, r.header.as_ref());
    field(out, "ID", r.id);
    field(out, "TTL", r.ttl);
}

/// `lease timetolive`: the keys are listed whenever the response has them.
pub fn lease_time_to_live(out: &mut Vec<u8>, r: &LeaseTimeToLiveResponse) {
    header(out, r.header.as_ref());
    field(out, "ID", r.id);
    field(out, "TTL", r.ttl);
    field(out, "GrantedTTL", r.granted_ttl);
    for k in &r.keys {
        field(out, "Key", quote(k));
    }
}

/// `lease list`.
pub fn lease_leases(out: &mut Vec<u8>, r: &LeaseLeasesResponse) {
    header(out, r.header.as_ref());
    for l in &r.leases {
        field(out, "ID", l.id);
    }
}

/// `endpoint status`: one block per endpoint, each ending with a blank line; the errors
/// as Go's `%v` of a string slice (`[a b]`).
pub fn endpoint_status(out: &mut Vec<u8>, list: &[EndpointStatus]) {
    for s in list {
        let r = &s.status;
        header(out, r.header.as_ref());
        field(out, "Version", quote(r.version.as_bytes()));
        field(out, "DBSize", r.db_size);
        field(out, "Leader", r.leader);
        field(out, "IsLearner", r.is_learner);
        field(out, "RaftIndex", r.raft_index);
        field(out, "RaftTerm", r.raft_term);
        field(out, "RaftAppliedIndex", r.raft_applied_index);
        field(out, "Errors", format!("[{}]", r.errors.join(" ")));
        field(out, "Endpoint", quote(s.endpoint.as_bytes()));
        out.push(b'\n');
    }
}

/// `endpoint health`: one block per endpoint, in the order the checks finished.
pub fn endpoint_health(out: &mut Vec<u8>, list: &[EndpointHealth]) {
    for h in list {
        field(out, "Endpoint", quote(h.endpoint.as_bytes()));
        field(out, "Health", h.health);
        field(out, "Took", &h.took);
        field(out, "Error", &h.error);
        out.push(b'\n');
    }
}

/// `endpoint hashkv`: one block per endpoint.
pub fn endpoint_hashkv(out: &mut Vec<u8>, list: &[EndpointHashKv]) {
    for h in list {
        header(out, h.hash_kv.header.as_ref());
        field(out, "Endpoint", quote(h.endpoint.as_bytes()));
        field(out, "Hash", h.hash_kv.hash);
        out.push(b'\n');
    }
}

/// `alarm list` / `alarm disarm`: the header, then a block per alarm. (The caller refuses
/// a response without a header, on which etcdctl 3.4 crashes.)
pub fn alarm(out: &mut Vec<u8>, r: &AlarmResponse) {
    header(out, r.header.as_ref());
    for a in &r.alarms {
        field(out, "MemberID", a.member_id);
        field(out, "AlarmType", alarm_type(a.alarm));
        out.push(b'\n');
    }
}

/// `member list`: the header, then a block per member: id (decimal), name, one line per
/// peer URL and per client URL, is learner, and a blank line.
pub fn member_list(out: &mut Vec<u8>, r: &MemberListResponse) {
    header(out, r.header.as_ref());
    for m in &r.members {
        field(out, "ID", m.id);
        field(out, "Name", quote(m.name.as_bytes()));
        for url in &m.peer_ur_ls {
            field(out, "PeerURL", quote(url.as_bytes()));
        }
        for url in &m.client_ur_ls {
            field(out, "ClientURL", quote(url.as_bytes()));
        }
        field(out, "IsLearner", m.is_learner);
        out.push(b'\n');
    }
}

/// The `user` and `role` changes: their header alone.
pub fn header_only(out: &mut Vec<u8>, h: Option<&ResponseHeader>) {
    header(out, h);
}

/// `role get`: the header, then three lines per permission. etcdctl prints the type with
/// `fmt.Println` of two values, hence the two spaces.
pub fn role_get(out: &mut Vec<u8>, r: &AuthRoleGetResponse) {
    header(out, r.header.as_ref());
    for p in &r.perm {
        let perm_type =
            PermType::try_from(p.perm_type).map_or_else(|_| p.perm_type.to_string(), |t| t.as_str_name().to_owned());
        field(out, "PermType", format!(" {perm_type}"));
        field(out, "Key", quote(&p.key));
        field(out, "RangeEnd", quote(&p.range_end));
    }
}

/// `role list`: the header, then every role quoted on one line.
pub fn role_list(out: &mut Vec<u8>, r: &AuthRoleListResponse) {
    header(out, r.header.as_ref());
    out.extend_from_slice(b"\"Roles\" :");
    for role in &r.roles {
        out.push(b' ');
        out.extend_from_slice(quote(role.as_bytes()).as_bytes());
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::etcdserverpb::ResponseOp;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn get_lists_header_kvs_more_and_count() {
        let r = RangeResponse {
            header: Some(ResponseHeader { cluster_id: 1, member_id: 2, revision: 3, raft_term: 4 }),
            kvs: vec![KeyValue {
                key: b"k".to_vec(),
                create_revision: 2,
                mod_revision: 3,
                version: 2,
                value: b"a \"q\"\n".to_vec(),
                lease: 7,
            }],
            more: true,
            count: 2,
        };
        let expected = r#""ClusterID" : 1
"MemberID" : 2
"Revision" : 3
"RaftTerm" : 4
"Key" : "k"
"CreateRevision" : 2
"ModRevision" : 3
"Version" : 2
"Value" : "a \"q\"\n"
"Lease" : 7
"More" : true
"Count" : 2
"#;
        assert_eq!(text(|o| get(o, &r)), expected);
    }

    #[test]
    fn txn_prints_each_op_with_its_own_header() {
        let r = TxnResponse {
            header: Some(ResponseHeader { revision: 5, ..Default::default() }),
            succeeded: true,
            responses: vec![ResponseOp {
                response: Some(Response::ResponseDeleteRange(DeleteRangeResponse {
                    header: Some(ResponseHeader { revision: 5, ..Default::default() }),
                    deleted: 0,
                    prev_kvs: vec![],
                })),
            }],
        };
        let expected = r#""ClusterID" : 0
"MemberID" : 0
"Revision" : 5
"RaftTerm" : 0
"Succeeded" : true
"ClusterID" : 0
"MemberID" : 0
"Revision" : 5
"RaftTerm" : 0
"Deleted" : 0
"#;
        assert_eq!(text(|o| txn(o, &r)), expected);
    }
}
