//! `-w json`: Go's `encoding/json` of the gogo-generated response structs, which is not
//! the proto3 JSON mapping: snake_case names from the `json` tags, int64 and uint64 as
//! JSON numbers, bytes as base64, zero values omitted (`omitempty`), fields in
//! declaration order, and oneofs as Go interface fields holding a wrapper struct
//! (`{"Response":{"response_put":{…}}}`).

use crate::command::endpoint::{EndpointHashKv, EndpointHealth, EndpointStatus};
use crate::command::watch::WatchUpdate;
use crate::gosyntax::json_string;
use api::authpb::Permission;
use api::etcdserverpb::{
    AlarmMember, AlarmResponse, AuthRoleGetResponse, AuthRoleListResponse, AuthStatusResponse, AuthUserGetResponse,
    AuthUserListResponse, DeleteRangeResponse, DowngradeInfo, DowngradeResponse, HashKvResponse, LeaseGrantResponse,
    LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveResponse, Member,
    MemberListResponse, MoveLeaderResponse, PutResponse, RangeResponse, ResponseHeader, ResponseOp, StatusResponse,
    TxnResponse, response_op::Response,
};
use api::mvccpb::{Event, KeyValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Builds one JSON object, skipping zero values as `omitempty` does.
#[derive(Default)]
struct Obj(String);

impl Obj {
    fn raw(mut self, name: &str, json: &str) -> Self {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        self.0.push('"');
        self.0.push_str(name);
        self.0.push_str("\":");
        self.0.push_str(json);
        self
    }

    fn int(self, name: &str, v: i64) -> Self {
        if v == 0 { self } else { self.raw(name, &v.to_string()) }
    }

    fn uint(self, name: &str, v: u64) -> Self {
        if v == 0 { self } else { self.raw(name, &v.to_string()) }
    }

    fn bool(self, name: &str, v: bool) -> Self {
        if v { self.raw(name, "true") } else { self }
    }

    fn bytes(self, name: &str, v: &[u8]) -> Self {
        if v.is_empty() { self } else { self.raw(name, &format!("\"{}\"", STANDARD.encode(v))) }
    }

    fn opt(self, name: &str, v: Option<String>) -> Self {
        match v {
            Some(json) => self.raw(name, &json),
            None => self,
        }
    }

    fn list(self, name: &str, items: Vec<String>) -> Self {
        if items.is_empty() { self } else { self.raw(name, &format!("[{}]", items.join(","))) }
    }

    fn finish(mut self) -> String {
        if self.0.is_empty() {
            return "{}".to_owned();
        }
        self.0.push('}');
        self.0
    }
}

/// A field that is never omitted (no `omitempty` in its tag, or no tag at all).
fn always(obj: Obj, name: &str, v: impl ToString) -> Obj {
    obj.raw(name, &v.to_string())
}

/// Appends `json` and a newline, as `fmt.Println` does.
pub fn line(out: &mut Vec<u8>, json: String) {
    out.extend_from_slice(json.as_bytes());
    out.push(b'\n');
}

/// `ResponseHeader`.
pub fn header(h: &ResponseHeader) -> String {
    Obj::default()
        .uint("cluster_id", h.cluster_id)
        .uint("member_id", h.member_id)
        .int("revision", h.revision)
        .uint("raft_term", h.raft_term)
        .finish()
}

/// `mvccpb.KeyValue`.
pub fn kv(kv: &KeyValue) -> String {
    Obj::default()
        .bytes("key", &kv.key)
        .int("create_revision", kv.create_revision)
        .int("mod_revision", kv.mod_revision)
        .int("version", kv.version)
        .bytes("value", &kv.value)
        .int("lease", kv.lease)
        .finish()
}

/// `RangeResponse` (`get`).
pub fn range(r: &RangeResponse) -> String {
    Obj::default()
        .opt("header", r.header.as_ref().map(header))
        .list("kvs", r.kvs.iter().map(kv).collect())
        .bool("more", r.more)
        .int("count", r.count)
        .finish()
}

/// `PutResponse` (`put`).
pub fn put(r: &PutResponse) -> String {
    Obj::default().opt("header", r.header.as_ref().map(header)).opt("prev_kv", r.prev_kv.as_ref().map(kv)).finish()
}

/// `DeleteRangeResponse` (`del`).
pub fn del(r: &DeleteRangeResponse) -> String {
    Obj::default()
        .opt("header", r.header.as_ref().map(header))
        .int("deleted", r.deleted)
        .list("prev_kvs", r.prev_kvs.iter().map(kv).collect())
        .finish()
}

/// `TxnResponse` (`txn`).
pub fn txn(r: &TxnResponse) -> String {
    Obj::default()
        .opt("header", r.header.as_ref().map(header))
        .bool("succeeded", r.succeeded)
        .list("responses", r.responses.iter().map(response_op).collect())
        .finish()
}

/// clientv3's `WatchResponse` (`watch`): Go field names without json tags, so nothing is
/// omitted; `Events` is `null` for the response that reports a closed stream, `[]` when
/// a response from the member has none.
pub fn watch(r: &WatchUpdate) -> String {
    let events = match &r.events {
        Some(events) => format!("[{}]", events.iter().map(event).collect::<Vec<_>>().join(",")),
        None => "null".to_owned(),
    };
    let obj = Obj::default().raw("Header", &header(&r.header)).raw("Events", &events);
    let obj = always(obj, "CompactRevision", r.compact_revision);
    always(always(obj, "Canceled", r.canceled), "Created", r.created).finish()
}

/// `mvccpb.Event`; PUT is 0, so its type is omitted.
fn event(e: &Event) -> String {
    Obj::default()
        .int("type", i64::from(e.r#type))
        .opt("kv", e.kv.as_ref().map(kv))
        .opt("prev_kv", e.prev_kv.as_ref().map(kv))
        .finish()
}

/// clientv3's lease responses embed `*pb.ResponseHeader`, and encoding/json promotes
/// the fields of an embedded struct: the header's fields open the object, unnested.
fn embedded_header(h: Option<&ResponseHeader>) -> Obj {
    match h {
        Some(h) => Obj::default()
            .uint("cluster_id", h.cluster_id)
            .uint("member_id", h.member_id)
            .int("revision", h.revision)
            .uint("raft_term", h.raft_term),
        None => Obj::default(),
    }
}

/// clientv3's `LeaseGrantResponse` (`lease grant`).
pub fn lease_grant(r: &LeaseGrantResponse) -> String {
    let obj = always(always(embedded_header(r.header.as_ref()), "ID", r.id), "TTL", r.ttl);
    obj.raw("Error", &json_string(r.error.as_bytes())).finish()
}

/// `LeaseRevokeResponse` (`lease revoke`), the protobuf struct itself.
pub fn lease_revoke(r: &LeaseRevokeResponse) -> String {
    Obj::default().opt("header", r.header.as_ref().map(header)).finish()
}

/// clientv3's `LeaseKeepAliveResponse` (`lease keep-alive`).
pub fn lease_keep_alive(r: &LeaseKeepAliveResponse) -> String {
    always(always(embedded_header(r.header.as_ref()), "ID", r.id), "TTL", r.ttl).finish()
}

/// clientv3's `LeaseTimeToLiveResponse` (`lease timetolive`): lower-case tags without
/// `omitempty`; no keys is Go's nil slice, `null`.
pub fn lease_time_to_live(r: &LeaseTimeToLiveResponse) -> String {
    let keys = if r.keys.is_empty() {
        "null".to_owned()
    } else {
        let quoted: Vec<String> = r.keys.iter().map(|k| format!("\"{}\"", STANDARD.encode(k))).collect();
        format!("[{}]", quoted.join(","))
    };
    let obj = always(embedded_header(r.header.as_ref()), "id", r.id);
    always(always(obj, "ttl", r.ttl), "granted-ttl", r.granted_ttl).raw("keys", &keys).finish()
}

/// clientv3's `LeaseLeasesResponse` (`lease list`); its slice is never nil.
pub fn lease_leases(r: &LeaseLeasesResponse) -> String {
    let leases: Vec<String> = r.leases.iter().map(|l| format!("{{\"id\":{}}}", l.id)).collect();
    embedded_header(r.header.as_ref()).raw("leases", &format!("[{}]", leases.join(","))).finish()
}

/// `ResponseOp`: the oneof is an interface field without a json tag, so it is named
/// `Response` and never omitted; its value is the wrapper struct, whose one field
/// etcd 3.6's generated code tags with the proto name (`response_put`; etcd 3.4's had
/// no tag, so etcdctl 3.4 prints the Go name, `ResponsePut`).
fn response_op(op: &ResponseOp) -> String {
    let inner = match &op.response {
        Some(Response::ResponseRange(r)) => Obj::default().raw("response_range", &range(r)),
        Some(Response::ResponsePut(r)) => Obj::default().raw("response_put", &put(r)),
        Some(Response::ResponseDeleteRange(r)) => Obj::default().raw("response_delete_range", &del(r)),
        Some(Response::ResponseTxn(r)) => Obj::default().raw("response_txn", &txn(r)),
        None => return r#"{"Response":null}"#.to_owned(),
    };
    Obj::default().raw("Response", &inner.finish()).finish()
}

/// `StatusResponse` (clientv3's is a defined type over it, same tags).
fn status(r: &StatusResponse) -> String {
    Obj::default()
        .opt("header", r.header.as_ref().map(header))
        .opt("version", (!r.version.is_empty()).then(|| json_string(r.version.as_bytes())))
        .int("dbSize", r.db_size)
        .uint("leader", r.leader)
        .uint("raftIndex", r.raft_index)
        .uint("raftTerm", r.raft_term)
        .uint("raftAppliedIndex", r.raft_applied_index)
        .list("errors", r.errors.iter().map(|e| json_string(e.as_bytes())).collect())
        .int("dbSizeInUse", r.db_size_in_use)
        .bool("isLearner", r.is_learner)
        .opt("storageVersion", (!r.storage_version.is_empty()).then(|| json_string(r.storage_version.as_bytes())))
        .int("dbSizeQuota", r.db_size_quota)
        .opt("downgradeInfo", r.downgrade_info.as_ref().map(downgrade_info))
        .finish()
}

/// `DowngradeInfo`: a pointer in Go, so present (`{}` when both fields are zero) whenever
/// the member sent it.
fn downgrade_info(d: &DowngradeInfo) -> String {
    Obj::default()
        .bool("enabled", d.enabled)
        .opt("targetVersion", (!d.target_version.is_empty()).then(|| json_string(d.target_version.as_bytes())))
        .finish()
}

/// `HashKVResponse`.
fn hash_kv(r: &HashKvResponse) -> String {
    Obj::default()
        .opt("header", r.header.as_ref().map(header))
        .uint("hash", u64::from(r.hash))
        .int("compact_revision", r.compact_revision)
        .int("hash_revision", r.hash_revision)
        .finish()
}

/// A Go slice built by `append` from nil: `null` while nothing was appended.
fn go_slice(items: Vec<String>) -> String {
    if items.is_empty() { "null".to_owned() } else { format!("[{}]", items.join(",")) }
}

/// `endpoint status`: etcdctl's `[]epStatus`, `null` when no endpoint answered.
pub fn endpoint_status(list: &[EndpointStatus]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|s| {
            Obj::default()
                .raw("Endpoint", &json_string(s.endpoint.as_bytes()))
                .raw("Status", &status(&s.status))
                .finish()
        })
        .collect();
    go_slice(items)
}

/// `endpoint health`: etcdctl's `[]epHealth` (`error` omitted when empty); every
/// endpoint has an entry, so it is `null` only without endpoints.
pub fn endpoint_health(list: &[EndpointHealth]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|h| {
            let obj = Obj::default()
                .raw("endpoint", &json_string(h.endpoint.as_bytes()))
                .raw("health", &h.health.to_string())
                .raw("took", &json_string(h.took.as_bytes()));
            let obj = if h.error.is_empty() { obj } else { obj.raw("error", &json_string(h.error.as_bytes())) };
            obj.finish()
        })
        .collect();
    go_slice(items)
}

/// `endpoint hashkv`: etcdctl's `[]epHashKV`, `null` when no endpoint answered.
pub fn endpoint_hashkv(list: &[EndpointHashKv]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|h| {
            Obj::default()
                .raw("Endpoint", &json_string(h.endpoint.as_bytes()))
                .raw("HashKV", &hash_kv(&h.hash_kv))
                .finish()
        })
        .collect();
    go_slice(items)
}

/// `AlarmResponse` (`alarm list`, `alarm disarm`); the alarm type as its number.
pub fn alarm(r: &AlarmResponse) -> String {
    let member =
        |a: &AlarmMember| Obj::default().uint("memberID", a.member_id).int("alarm", i64::from(a.alarm)).finish();
    Obj::default()
        .opt("header", r.header.as_ref().map(header))
        .list("alarms", r.alarms.iter().map(member).collect())
        .finish()
}

/// `MoveLeaderResponse`: its header alone; `{}` from etcd 3.4, which sends none.
pub fn move_leader(r: &MoveLeaderResponse) -> String {
    Obj::default().opt("header", r.header.as_ref().map(header)).finish()
}

/// `Member`: the proto's own camelCase names, `ID` upper-case.
fn member(m: &Member) -> String {
    let strings = |v: &[String]| v.iter().map(|s| json_string(s.as_bytes())).collect();
    Obj::default()
        .uint("ID", m.id)
        .opt("name", (!m.name.is_empty()).then(|| json_string(m.name.as_bytes())))
        .list("peerURLs", strings(&m.peer_ur_ls))
        .list("clientURLs", strings(&m.client_ur_ls))
        .bool("isLearner", m.is_learner)
        .finish()
}

/// The member responses: `MemberListResponse`, `MemberRemoveResponse`,
/// `MemberUpdateResponse` (header, members) and `MemberAddResponse` (header, the added
/// member, members).
pub fn members(h: Option<&ResponseHeader>, added: Option<&Member>, members: &[Member]) -> String {
    Obj::default()
        .opt("header", h.map(header))
        .opt("member", added.map(member))
        .list("members", members.iter().map(member).collect())
        .finish()
}

/// `member list --hex -w json`, which etcdctl 3.6 writes by hand: ids as quoted hex, no
/// revision and no `isLearner`, the name unescaped, and a member without URLs `null`.
pub fn member_list_hex(r: &MemberListResponse) -> String {
    let h = r.header.unwrap_or_default();
    let urls = |v: &[String]| if v.is_empty() { "null".to_owned() } else { format!("[{}]", strings(v).join(",")) };
    let mut s = format!(
        "{{\"header\":{{\"cluster_id\":\"{:x}\",\"member_id\":\"{:x}\",\"raft_term\":{}}}",
        h.cluster_id, h.member_id, h.raft_term
    );
    for (i, m) in r.members.iter().enumerate() {
        s.push_str(if i == 0 { ",\"members\":[" } else { "," });
        s.push_str(&format!(
            "{{\"ID\":\"{:x}\",\"name\":\"{}\",\"peerURLs\":{},\"clientURLs\":{}}}",
            m.id,
            m.name,
            urls(&m.peer_ur_ls),
            urls(&m.client_ur_ls)
        ));
        if i + 1 == r.members.len() {
            s.push(']');
        }
    }
    s.push('}');
    s
}

/// A response that is a header alone (most `user` and `role` changes); `{}` without one.
pub fn header_only(h: Option<&ResponseHeader>) -> String {
    Obj::default().opt("header", h.map(header)).finish()
}

fn strings(v: &[String]) -> Vec<String> {
    v.iter().map(|s| json_string(s.as_bytes())).collect()
}

/// `AuthUserGetResponse` (`user get`).
pub fn user_get(r: &AuthUserGetResponse) -> String {
    Obj::default().opt("header", r.header.as_ref().map(header)).list("roles", strings(&r.roles)).finish()
}

/// `AuthUserListResponse` (`user list`).
pub fn user_list(r: &AuthUserListResponse) -> String {
    Obj::default().opt("header", r.header.as_ref().map(header)).list("users", strings(&r.users)).finish()
}

/// `AuthRoleListResponse` (`role list`).
pub fn role_list(r: &AuthRoleListResponse) -> String {
    Obj::default().opt("header", r.header.as_ref().map(header)).list("roles", strings(&r.roles)).finish()
}

/// `AuthRoleGetResponse` (`role get`): each permission's type as its number (`READ`, 0,
/// left out), key and range end in base64.
pub fn role_get(r: &AuthRoleGetResponse) -> String {
    let perm = |p: &Permission| {
        Obj::default()
            .int("permType", i64::from(p.perm_type))
            .bytes("key", &p.key)
            .bytes("range_end", &p.range_end)
            .finish()
    };
    Obj::default().opt("header", r.header.as_ref().map(header)).list("perm", r.perm.iter().map(perm).collect()).finish()
}

/// `DowngradeResponse` (`downgrade`, etcdctl 3.6's).
pub fn downgrade(r: &DowngradeResponse) -> String {
    Obj::default()
        .opt("header", r.header.as_ref().map(header))
        .opt("version", (!r.version.is_empty()).then(|| json_string(r.version.as_bytes())))
        .finish()
}

/// `AuthStatusResponse` (`auth status`, etcdctl 3.6's).
pub fn auth_status(r: &AuthStatusResponse) -> String {
    Obj::default()
        .opt("header", r.header.as_ref().map(header))
        .bool("enabled", r.enabled)
        .uint("authRevision", r.auth_revision)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: 2037210783374497686,
            member_id: 13195394291058371180,
            revision,
            raft_term: 2,
        })
    }

    #[test]
    fn range_matches_etcdctl_capture() {
        let r = RangeResponse {
            header: hdr(15),
            kvs: vec![KeyValue {
                key: b"k".to_vec(),
                create_revision: 11,
                mod_revision: 15,
                version: 5,
                value: b"v5".to_vec(),
                lease: 0,
            }],
            more: false,
            count: 1,
        };
        assert_eq!(
            range(&r),
            r#"{"header":{"cluster_id":2037210783374497686,"member_id":13195394291058371180,"revision":15,"raft_term":2},"kvs":[{"key":"aw==","create_revision":11,"mod_revision":15,"version":5,"value":"djU="}],"count":1}"#
        );
    }

    #[test]
    fn empty_range_has_only_the_header() {
        let r = RangeResponse { header: hdr(1), ..Default::default() };
        assert_eq!(
            range(&r),
            r#"{"header":{"cluster_id":2037210783374497686,"member_id":13195394291058371180,"revision":1,"raft_term":2}}"#
        );
        assert_eq!(range(&RangeResponse::default()), "{}");
    }

    #[test]
    fn txn_uses_go_oneof_wrappers() {
        let sub = Some(ResponseHeader { revision: 6, ..Default::default() });
        let r = TxnResponse {
            header: hdr(6),
            succeeded: true,
            responses: vec![
                ResponseOp { response: Some(Response::ResponsePut(PutResponse { header: sub, prev_kv: None })) },
                ResponseOp {
                    response: Some(Response::ResponseDeleteRange(DeleteRangeResponse {
                        header: sub,
                        deleted: 1,
                        prev_kvs: vec![],
                    })),
                },
            ],
        };
        assert_eq!(
            txn(&r),
            r#"{"header":{"cluster_id":2037210783374497686,"member_id":13195394291058371180,"revision":6,"raft_term":2},"succeeded":true,"responses":[{"Response":{"response_put":{"header":{"revision":6}}}},{"Response":{"response_delete_range":{"header":{"revision":6},"deleted":1}}}]}"#
        );
    }

    #[test]
    fn put_with_prev_kv_and_negative_lease() {
        let r = PutResponse {
            header: Some(ResponseHeader::default()),
            prev_kv: Some(KeyValue { key: b"a".to_vec(), lease: -1, ..Default::default() }),
        };
        assert_eq!(put(&r), r#"{"header":{},"prev_kv":{"key":"YQ==","lease":-1}}"#);
    }
}
