//! `-w fields`: one `"Name" : value` line per field (`printer_fields.go`); strings are
//! Go-quoted (`%q`), numbers and booleans as `fmt.Println` prints them.

use crate::command::watch::WatchUpdate;
use crate::gosyntax::quote;
use crate::printer::simple::event_type;
use api::etcdserverpb::{
    DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseRevokeResponse,
    LeaseTimeToLiveResponse, PutResponse, RangeResponse, ResponseHeader, TxnResponse, response_op::Response,
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
