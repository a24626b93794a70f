//! `-w fields`: one `"Name" : value` line per field (`printer_fields.go`); strings are
//! Go-quoted (`%q`), numbers and booleans as `fmt.Println` prints them. With `--hex`
//! (etcdctl 3.6) member and cluster ids print as etcd's `types.ID` (lower-case hex) and
//! lease ids as `%016x`.

use crate::command::endpoint::{EndpointHashKv, EndpointHealth, EndpointStatus};
use crate::command::watch::WatchUpdate;
use crate::gosyntax::{hex016, quote};
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

/// A member or cluster id: decimal, or with `--hex` as `types.ID` prints it.
fn member_id(id: u64, hex: bool) -> String {
    if hex { format!("{id:x}") } else { id.to_string() }
}

/// A lease id: decimal, or with `--hex` as `%016x`.
fn lease_id(id: i64, hex: bool) -> String {
    if hex { hex016(id) } else { id.to_string() }
}

/// The header; `Revision` only when positive (etcdctl 3.6 hides the 0 of responses that
/// carry no revision, such as `member list`'s).
fn header(out: &mut Vec<u8>, h: Option<&ResponseHeader>, hex: bool) {
    let h = h.copied().unwrap_or_default();
    field(out, "ClusterID", member_id(h.cluster_id, hex));
    field(out, "MemberID", member_id(h.member_id, hex));
    if h.revision > 0 {
        field(out, "Revision", h.revision);
    }
    field(out, "RaftTerm", h.raft_term);
}

fn kv(out: &mut Vec<u8>, prefix: &str, kv: &KeyValue, hex: bool) {
    field(out, &format!("{prefix}Key"), quote(&kv.key));
    field(out, &format!("{prefix}CreateRevision"), kv.create_revision);
    field(out, &format!("{prefix}ModRevision"), kv.mod_revision);
    field(out, &format!("{prefix}Version"), kv.version);
    field(out, &format!("{prefix}Value"), quote(&kv.value));
    field(out, &format!("{prefix}Lease"), lease_id(kv.lease, hex));
}

/// `get`.
pub fn get(out: &mut Vec<u8>, r: &RangeResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
    for k in &r.kvs {
        kv(out, "", k, hex);
    }
    field(out, "More", r.more);
    field(out, "Count", r.count);
}

/// `put`.
pub fn put(out: &mut Vec<u8>, r: &PutResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
    if let Some(prev) = &r.prev_kv {
        kv(out, "Prev", prev, hex);
    }
}

/// `del`.
pub fn del(out: &mut Vec<u8>, r: &DeleteRangeResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
    field(out, "Deleted", r.deleted);
    for k in &r.prev_kvs {
        kv(out, "Prev", k, hex);
    }
}

/// `txn`: the txn header and `Succeeded`, then each op printed as its own command would.
pub fn txn(out: &mut Vec<u8>, r: &TxnResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
    field(out, "Succeeded", r.succeeded);
    for op in &r.responses {
        match &op.response {
            Some(Response::ResponseDeleteRange(r)) => del(out, r, hex),
            Some(Response::ResponsePut(r)) => put(out, r, hex),
            Some(Response::ResponseRange(r)) => get(out, r, hex),
            other => field(out, "Unknown", quote(format!("{other:?}").as_bytes())),
        }
    }
}

/// `watch`: the header, then per event its type, the previous kv and the kv.
pub fn watch(out: &mut Vec<u8>, r: &WatchUpdate, hex: bool) {
    header(out, Some(&r.header), hex);
    for e in r.events.iter().flatten() {
        field(out, "Type", event_type(e.r#type));
        if let Some(prev) = &e.prev_kv {
            kv(out, "Prev", prev, hex);
        }
        kv(out, "", e.kv.as_ref().unwrap_or(&KeyValue::default()), hex);
    }
}

/// `lease grant`.
pub fn lease_grant(out: &mut Vec<u8>, r: &LeaseGrantResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
    field(out, "ID", lease_id(r.id, hex));
    field(out, "TTL", r.ttl);
}

/// `lease revoke`.
pub fn lease_revoke(out: &mut Vec<u8>, r: &LeaseRevokeResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
}

/// `lease keep-alive`.
pub fn lease_keep_alive(out: &mut Vec<u8>, r: &LeaseKeepAliveResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
    field(out, "ID", lease_id(r.id, hex));
    field(out, "TTL", r.ttl);
}

/// `lease timetolive`: the keys are listed whenever the response has them.
pub fn lease_time_to_live(out: &mut Vec<u8>, r: &LeaseTimeToLiveResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
    field(out, "ID", lease_id(r.id, hex));
    field(out, "TTL", r.ttl);
    field(out, "GrantedTTL", r.granted_ttl);
    for k in &r.keys {
        field(out, "Key", quote(k));
    }
}

/// `lease list`.
pub fn lease_leases(out: &mut Vec<u8>, r: &LeaseLeasesResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
    for l in &r.leases {
        field(out, "ID", lease_id(l.id, hex));
    }
}

/// `endpoint status`: one block per endpoint, each ending with a blank line; the errors
/// as Go's `%v` of a string slice (`[a b]`); etcd 3.6's fields included.
pub fn endpoint_status(out: &mut Vec<u8>, list: &[EndpointStatus], hex: bool) {
    for s in list {
        let r = &s.status;
        let downgrade = r.downgrade_info.clone().unwrap_or_default();
        header(out, r.header.as_ref(), hex);
        field(out, "Version", quote(r.version.as_bytes()));
        field(out, "StorageVersion", quote(r.storage_version.as_bytes()));
        field(out, "DBSize", r.db_size);
        field(out, "DBSizeInUse", r.db_size_in_use);
        field(out, "DBSizeQuota", r.db_size_quota);
        field(out, "Leader", r.leader);
        field(out, "IsLearner", r.is_learner);
        field(out, "RaftIndex", r.raft_index);
        field(out, "RaftTerm", r.raft_term);
        field(out, "RaftAppliedIndex", r.raft_applied_index);
        field(out, "Errors", format!("[{}]", r.errors.join(" ")));
        field(out, "Endpoint", quote(s.endpoint.as_bytes()));
        field(out, "DowngradeTargetVersion", quote(downgrade.target_version.as_bytes()));
        field(out, "DowngradeEnabled", downgrade.enabled);
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
pub fn endpoint_hashkv(out: &mut Vec<u8>, list: &[EndpointHashKv], hex: bool) {
    for h in list {
        header(out, h.hash_kv.header.as_ref(), hex);
        field(out, "Endpoint", quote(h.endpoint.as_bytes()));
        field(out, "Hash", h.hash_kv.hash);
        field(out, "HashRevision", h.hash_kv.hash_revision);
        out.push(b'\n');
    }
}

/// `alarm list` / `alarm disarm`: the header, then a block per alarm. (The caller refuses
/// a response without a header, on which etcdctl crashes.)
pub fn alarm(out: &mut Vec<u8>, r: &AlarmResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
    for a in &r.alarms {
        field(out, "MemberID", member_id(a.member_id, hex));
        field(out, "AlarmType", alarm_type(a.alarm));
        out.push(b'\n');
    }
}

/// `member list`: the header, then a block per member: id, name, one line per peer URL
/// and per client URL, is learner, and a blank line.
pub fn member_list(out: &mut Vec<u8>, r: &MemberListResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
    for m in &r.members {
        field(out, "ID", member_id(m.id, hex));
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
pub fn header_only(out: &mut Vec<u8>, h: Option<&ResponseHeader>, hex: bool) {
    header(out, h, hex);
}

/// `role get`: the header, then three lines per permission. etcdctl prints the type with
/// `fmt.Println` of two values, hence the two spaces.
pub fn role_get(out: &mut Vec<u8>, r: &AuthRoleGetResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
    for p in &r.perm {
        let perm_type =
            PermType::try_from(p.perm_type).map_or_else(|_| p.perm_type.to_string(), |t| t.as_str_name().to_owned());
        field(out, "PermType", format!(" {perm_type}"));
        field(out, "Key", quote(&p.key));
        field(out, "RangeEnd", quote(&p.range_end));
    }
}

/// `role list`: the header, then every role quoted on one line.
pub fn role_list(out: &mut Vec<u8>, r: &AuthRoleListResponse, hex: bool) {
    header(out, r.header.as_ref(), hex);
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
        assert_eq!(text(|o| get(o, &r, false)), expected);
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
        assert_eq!(text(|o| txn(o, &r, false)), expected);
    }

    #[test]
    fn hex_prints_ids_in_hex_and_hides_a_zero_revision() {
        let r = LeaseGrantResponse {
            header: Some(ResponseHeader { cluster_id: 255, member_id: 16, revision: 0, raft_term: 2 }),
            id: 0x1234,
            ttl: 5,
            error: String::new(),
        };
        assert_eq!(
            text(|o| lease_grant(o, &r, true)),
            "\"ClusterID\" : ff\n\"MemberID\" : 10\n\"RaftTerm\" : 2\n\"ID\" : 0000000000001234\n\"TTL\" : 5\n"
        );
        assert_eq!(
            text(|o| lease_grant(o, &r, false)),
            "\"ClusterID\" : 255\n\"MemberID\" : 16\n\"RaftTerm\" : 2\n\"ID\" : 4660\n\"TTL\" : 5\n"
        );
    }
}
