//! Watch, lease and maintenance (endpoint, alarm) output in every format, against etcdctl
//! 3.4.23's (captured from etcd 3.4.23 with the same responses).

use super::*;
use crate::command::endpoint::{EndpointHashKv, EndpointHealth, EndpointStatus};
use crate::error::ExitCode;
use api::etcdserverpb::{
    AlarmMember, AlarmType, DowngradeInfo, HashKvResponse, LeaseStatus, ResponseHeader, StatusResponse,
};
use api::mvccpb::{Event, KeyValue};

const HDR: ResponseHeader =
    ResponseHeader { cluster_id: 2375181864447732657, member_id: 9368506742490709939, revision: 4, raft_term: 2 };
const LEASE: i64 = 0x3fb3a20a86435420;

/// What `f` prints with a printer of `format` (shared with `member_tests`).
pub(super) fn print(format: Format, f: impl FnOnce(&Printer, &mut Vec<u8>) -> Result<()>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    f(&Printer::new(format, false), &mut out)?;
    Ok(out)
}

/// [`print`] as text.
pub(super) fn text(format: Format, f: impl FnOnce(&Printer, &mut Vec<u8>) -> Result<()>) -> String {
    String::from_utf8(print(format, f).expect("prints")).expect("utf-8")
}

fn fields_header(revision: i64) -> String {
    format!(
        "\"ClusterID\" : 2375181864447732657\n\"MemberID\" : 9368506742490709939\n\"Revision\" : {revision}\n\"RaftTerm\" : 2\n"
    )
}

/// put w1 a (rev 8), then delete w1 (rev 10) seen with --prev-kv.
fn updates() -> (WatchUpdate, WatchUpdate) {
    let a = KeyValue {
        key: b"w1".to_vec(),
        create_revision: 8,
        mod_revision: 8,
        version: 1,
        value: b"a".to_vec(),
        lease: 0,
    };
    let put = WatchUpdate {
        header: ResponseHeader { revision: 8, ..HDR },
        events: Some(vec![Event { r#type: 0, kv: Some(a.clone()), prev_kv: None }]),
        ..Default::default()
    };
    let gone = KeyValue { key: b"w1".to_vec(), mod_revision: 10, ..Default::default() };
    let del = WatchUpdate {
        header: ResponseHeader { revision: 10, ..HDR },
        events: Some(vec![Event { r#type: 1, kv: Some(gone), prev_kv: Some(a) }]),
        ..Default::default()
    };
    (put, del)
}

#[test]
fn watch_simple_prints_type_prev_kv_and_kv() {
    let (put, del) = updates();
    assert_eq!(text(Format::Simple, |p, o| p.watch(o, &put)), "PUT\nw1\na\n");
    assert_eq!(text(Format::Simple, |p, o| p.watch(o, &del)), "DELETE\nw1\na\nw1\n\n");
    let hex = Printer::new(Format::Simple, true);
    let mut out = Vec::new();
    hex.watch(&mut out, &put).expect("prints");
    assert_eq!(out, b"PUT\n\\x77\\x31\n\\x61\n");
}

#[test]
fn watch_json_is_clientv3s_struct() {
    let (_, del) = updates();
    assert_eq!(
        text(Format::Json, |p, o| p.watch(o, &del)),
        r#"{"Header":{"cluster_id":2375181864447732657,"member_id":9368506742490709939,"revision":10,"raft_term":2},"Events":[{"type":1,"kv":{"key":"dzE=","mod_revision":10},"prev_kv":{"key":"dzE=","create_revision":8,"mod_revision":8,"version":1,"value":"YQ=="}}],"CompactRevision":0,"Canceled":false,"Created":false}
"#
    );
    let compacted = WatchUpdate {
        header: ResponseHeader { revision: 0, ..HDR },
        events: Some(vec![]),
        compact_revision: 9,
        canceled: true,
        ..Default::default()
    };
    assert_eq!(
        text(Format::Json, |p, o| p.watch(o, &compacted)),
        r#"{"Header":{"cluster_id":2375181864447732657,"member_id":9368506742490709939,"raft_term":2},"Events":[],"CompactRevision":9,"Canceled":true,"Created":false}
"#
    );
    let refused = WatchUpdate::closed("mvcc: watcher range is empty".into());
    assert_eq!(
        text(Format::Json, |p, o| p.watch(o, &refused)),
        "{\"Header\":{},\"Events\":null,\"CompactRevision\":0,\"Canceled\":true,\"Created\":false}\n"
    );
}

#[test]
fn watch_fields_lists_header_then_events() {
    let (_, del) = updates();
    let expected = fields_header(10)
        + r#""Type" : DELETE
"PrevKey" : "w1"
"PrevCreateRevision" : 8
"PrevModRevision" : 8
"PrevVersion" : 1
"PrevValue" : "a"
"PrevLease" : 0
"Key" : "w1"
"CreateRevision" : 0
"ModRevision" : 10
"Version" : 0
"Value" : ""
"Lease" : 0
"#;
    assert_eq!(text(Format::Fields, |p, o| p.watch(o, &del)), expected);
}

#[test]
fn watch_protobuf_rebuilds_the_response_without_the_watch_id() {
    let compacted = WatchUpdate {
        header: ResponseHeader { revision: 0, ..HDR },
        events: Some(vec![]),
        compact_revision: 9,
        canceled: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    Printer::new(Format::Protobuf, false).watch(&mut out, &compacted).expect("prints");
    assert_eq!(&out[out.len() - 4..], [0x20, 0x01, 0x28, 0x09]);
    let mut out = Vec::new();
    Printer::new(Format::Protobuf, false).watch(&mut out, &WatchUpdate::closed("x".into())).expect("prints");
    assert_eq!(out, [0x0a, 0x00, 0x20, 0x01]);
}

#[test]
fn unsupported_formats_fail_when_printing() {
    let (put, _) = updates();
    let e = print(Format::Table, |p, o| p.watch(o, &put)).expect_err("table");
    assert_eq!((e.code, e.message.as_str()), (ExitCode::BadFeature, "table not supported as output format"));
    let e = print(Format::Table, |p, o| p.lease_leases(o, &LeaseLeasesResponse::default())).expect_err("table");
    assert_eq!(e.message, "table not supported as output format");
}

#[test]
fn lease_grant_in_every_format() {
    let r = LeaseGrantResponse { header: Some(HDR), id: LEASE, ttl: 100, error: String::new() };
    assert_eq!(text(Format::Simple, |p, o| p.lease_grant(o, &r)), "lease 3fb3a20a86435420 granted with TTL(100s)\n");
    assert_eq!(
        text(Format::Json, |p, o| p.lease_grant(o, &r)),
        "{\"cluster_id\":2375181864447732657,\"member_id\":9368506742490709939,\"revision\":4,\"raft_term\":2,\"ID\":4590190611306599456,\"TTL\":100,\"Error\":\"\"}\n"
    );
    assert_eq!(
        text(Format::Fields, |p, o| p.lease_grant(o, &r)),
        fields_header(4) + "\"ID\" : 4590190611306599456\n\"TTL\" : 100\n"
    );
    let mut header_only = Vec::new();
    protobuf::write(&mut header_only, &HDR);
    assert_eq!(print(Format::Protobuf, |p, o| p.lease_grant(o, &r)).expect("prints"), header_only);
}

#[test]
fn lease_revoke_in_every_format() {
    let r = LeaseRevokeResponse { header: Some(HDR) };
    assert_eq!(text(Format::Simple, |p, o| p.lease_revoke(o, LEASE, &r)), "lease 3fb3a20a86435420 revoked\n");
    assert_eq!(
        text(Format::Json, |p, o| p.lease_revoke(o, LEASE, &r)),
        "{\"header\":{\"cluster_id\":2375181864447732657,\"member_id\":9368506742490709939,\"revision\":4,\"raft_term\":2}}\n"
    );
    assert_eq!(text(Format::Fields, |p, o| p.lease_revoke(o, LEASE, &r)), fields_header(4));
    let e = print(Format::Protobuf, |p, o| p.lease_revoke(o, LEASE, &r)).expect_err("cannot marshal");
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ExitCode::BadFeature,
            "marshal unsupported for type clientv3.LeaseRevokeResponse ({cluster_id:2375181864447732657 member_id:9368506742490709939 revision:4 raft_term:2 })"
        )
    );
}

#[test]
fn lease_time_to_live_in_every_format() {
    let r = LeaseTimeToLiveResponse {
        header: Some(HDR),
        id: LEASE,
        ttl: 299,
        granted_ttl: 300,
        keys: vec![b"lk1".to_vec(), b"lk2".to_vec()],
    };
    assert_eq!(
        text(Format::Simple, |p, o| p.lease_time_to_live(o, &r, true)),
        "lease 3fb3a20a86435420 granted with TTL(300s), remaining(299s), attached keys([lk1 lk2])\n"
    );
    assert_eq!(
        text(Format::Simple, |p, o| p.lease_time_to_live(o, &r, false)),
        "lease 3fb3a20a86435420 granted with TTL(300s), remaining(299s)\n"
    );
    assert_eq!(
        text(Format::Json, |p, o| p.lease_time_to_live(o, &r, true)),
        "{\"cluster_id\":2375181864447732657,\"member_id\":9368506742490709939,\"revision\":4,\"raft_term\":2,\"id\":4590190611306599456,\"ttl\":299,\"granted-ttl\":300,\"keys\":[\"bGsx\",\"bGsy\"]}\n"
    );
    assert_eq!(
        text(Format::Fields, |p, o| p.lease_time_to_live(o, &r, true)),
        fields_header(4)
            + "\"ID\" : 4590190611306599456\n\"TTL\" : 299\n\"GrantedTTL\" : 300\n\"Key\" : \"lk1\"\n\"Key\" : \"lk2\"\n"
    );
    let expired = LeaseTimeToLiveResponse { header: Some(HDR), id: 0x1234, ttl: -1, granted_ttl: 0, keys: vec![] };
    assert_eq!(
        text(Format::Simple, |p, o| p.lease_time_to_live(o, &expired, true)),
        "lease 0000000000001234 already expired\n"
    );
    assert_eq!(
        text(Format::Json, |p, o| p.lease_time_to_live(o, &expired, false)),
        "{\"cluster_id\":2375181864447732657,\"member_id\":9368506742490709939,\"revision\":4,\"raft_term\":2,\"id\":4660,\"ttl\":-1,\"granted-ttl\":0,\"keys\":null}\n"
    );
}

#[test]
fn lease_list_and_keep_alive_in_every_format() {
    let list =
        LeaseLeasesResponse { header: Some(HDR), leases: vec![LeaseStatus { id: LEASE }, LeaseStatus { id: 6 }] };
    assert_eq!(
        text(Format::Simple, |p, o| p.lease_leases(o, &list)),
        "found 2 leases\n3fb3a20a86435420\n0000000000000006\n"
    );
    assert_eq!(
        text(Format::Json, |p, o| p.lease_leases(o, &list)),
        "{\"cluster_id\":2375181864447732657,\"member_id\":9368506742490709939,\"revision\":4,\"raft_term\":2,\"leases\":[{\"id\":4590190611306599456},{\"id\":6}]}\n"
    );
    assert_eq!(
        text(Format::Json, |p, o| p.lease_leases(o, &LeaseLeasesResponse { header: Some(HDR), leases: vec![] })),
        "{\"cluster_id\":2375181864447732657,\"member_id\":9368506742490709939,\"revision\":4,\"raft_term\":2,\"leases\":[]}\n"
    );
    assert_eq!(
        text(Format::Fields, |p, o| p.lease_leases(o, &list)),
        fields_header(4) + "\"ID\" : 4590190611306599456\n\"ID\" : 6\n"
    );
    let ka = LeaseKeepAliveResponse { header: Some(HDR), id: LEASE, ttl: 30 };
    assert_eq!(
        text(Format::Simple, |p, o| p.lease_keep_alive(o, &ka)),
        "lease 3fb3a20a86435420 keepalived with TTL(30)\n"
    );
    assert_eq!(
        text(Format::Json, |p, o| p.lease_keep_alive(o, &ka)),
        "{\"cluster_id\":2375181864447732657,\"member_id\":9368506742490709939,\"revision\":4,\"raft_term\":2,\"ID\":4590190611306599456,\"TTL\":30}\n"
    );
    assert_eq!(
        text(Format::Fields, |p, o| p.lease_keep_alive(o, &ka)),
        fields_header(4) + "\"ID\" : 4590190611306599456\n\"TTL\" : 30\n"
    );
}

/// etcd 3.6.14 under NOSPACE with a 1 MB quota, as `maintenance_steps.txt` leaves it
/// (the cluster id from another capture).
fn nospace_status() -> EndpointStatus {
    const ID: u64 = 3612888782881926291;
    EndpointStatus {
        endpoint: "127.0.0.1:23791".to_owned(),
        status: StatusResponse {
            header: Some(ResponseHeader { cluster_id: 2037210783374497686, member_id: ID, revision: 5, raft_term: 2 }),
            version: "3.6.14".to_owned(),
            db_size: 20480,
            leader: ID,
            raft_index: 35,
            raft_term: 2,
            raft_applied_index: 35,
            errors: vec![format!("memberID:{ID} alarm:NOSPACE ")],
            db_size_in_use: 16384,
            is_learner: false,
            storage_version: "3.6.0".to_owned(),
            db_size_quota: 1_000_000,
            downgrade_info: Some(DowngradeInfo::default()),
        },
    }
}

#[test]
fn endpoint_status_matches_etcdctl_captures() {
    let list = [nospace_status()];
    assert_eq!(
        text(Format::Simple, |p, o| p.endpoint_status(o, &list)),
        "127.0.0.1:23791, 32238f34c4abac93, 3.6.14, 3.6.0, 20 kB, 16 kB, 20%, 1.0 MB, true, false, 2, 35, 35, \
         memberID:3612888782881926291 alarm:NOSPACE , , false\n"
    );
    assert_eq!(
        text(Format::Json, |p, o| p.endpoint_status(o, &list)),
        r#"[{"Endpoint":"127.0.0.1:23791","Status":{"header":{"cluster_id":2037210783374497686,"member_id":3612888782881926291,"revision":5,"raft_term":2},"version":"3.6.14","dbSize":20480,"leader":3612888782881926291,"raftIndex":35,"raftTerm":2,"raftAppliedIndex":35,"errors":["memberID:3612888782881926291 alarm:NOSPACE "],"dbSizeInUse":16384,"storageVersion":"3.6.0","dbSizeQuota":1000000,"downgradeInfo":{}}}]
"#
    );
    let table = "\
+-----------------+------------------+---------+-----------------+---------+--------+-----------------------+--------+-----------+------------+-----------+------------+--------------------+--------------------------------+--------------------------+-------------------+
|    ENDPOINT     |        ID        | VERSION | STORAGE VERSION | DB SIZE | IN USE | PERCENTAGE NOT IN USE | QUOTA  | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX |             ERRORS             | DOWNGRADE TARGET VERSION | DOWNGRADE ENABLED |
+-----------------+------------------+---------+-----------------+---------+--------+-----------------------+--------+-----------+------------+-----------+------------+--------------------+--------------------------------+--------------------------+-------------------+
| 127.0.0.1:23791 | 32238f34c4abac93 |  3.6.14 |           3.6.0 |   20 kB |  16 kB |                   20% | 1.0 MB |      true |      false |         2 |         35 |                 35 |   memberID:3612888782881926291 |                          |             false |
|                 |                  |         |                 |         |        |                       |        |           |            |           |            |                    |                 alarm:NOSPACE  |                          |                   |
+-----------------+------------------+---------+-----------------+---------+--------+-----------------------+--------+-----------+------------+-----------+------------+--------------------+--------------------------------+--------------------------+-------------------+
";
    assert_eq!(text(Format::Table, |p, o| p.endpoint_status(o, &list)), table);
    let fields = text(Format::Fields, |p, o| p.endpoint_status(o, &list));
    assert!(
        fields.ends_with(
            "\"Version\" : \"3.6.14\"\n\"StorageVersion\" : \"3.6.0\"\n\"DBSize\" : 20480\n\"DBSizeInUse\" : 16384\n\
             \"DBSizeQuota\" : 1000000\n\"Leader\" : 3612888782881926291\n\"IsLearner\" : false\n\"RaftIndex\" : 35\n\
             \"RaftTerm\" : 2\n\"RaftAppliedIndex\" : 35\n\"Errors\" : [memberID:3612888782881926291 alarm:NOSPACE ]\n\
             \"Endpoint\" : \"127.0.0.1:23791\"\n\"DowngradeTargetVersion\" : \"\"\n\"DowngradeEnabled\" : false\n\n"
        ),
        "{fields}"
    );
    let e = print(Format::Protobuf, |p, o| p.endpoint_status(o, &list)).expect_err("unsupported");
    assert_eq!((e.code, e.message.as_str()), (ExitCode::BadFeature, "protobuf not supported as output format"));
    assert_eq!(text(Format::Json, |p, o| p.endpoint_status(o, &[])), "null\n");
}

#[test]
fn endpoint_health_and_hashkv_match_etcdctl_captures() {
    let health = [
        EndpointHealth {
            endpoint: "127.0.0.1:23791".into(),
            health: true,
            took: "2.469046ms".into(),
            error: "".into(),
        },
        EndpointHealth {
            endpoint: "127.0.0.1:1".into(),
            health: false,
            took: "5.000685821s".into(),
            error: "context deadline exceeded".into(),
        },
    ];
    assert_eq!(
        text(Format::Json, |p, o| p.endpoint_health(o, &mut Vec::new(), &health)),
        r#"[{"endpoint":"127.0.0.1:23791","health":true,"took":"2.469046ms"},{"endpoint":"127.0.0.1:1","health":false,"took":"5.000685821s","error":"context deadline exceeded"}]
"#
    );
    let (mut out, mut err) = (Vec::new(), Vec::new());
    Printer::new(Format::Simple, false).endpoint_health(&mut out, &mut err, &health).expect("prints");
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        "127.0.0.1:23791 is healthy: successfully committed proposal: took = 2.469046ms\n"
    );
    assert_eq!(
        String::from_utf8(err).expect("utf-8"),
        "127.0.0.1:1 is unhealthy: failed to commit proposal: context deadline exceeded\n"
    );

    let hash = [EndpointHashKv {
        endpoint: "127.0.0.1:2319".into(),
        hash_kv: HashKvResponse {
            header: Some(ResponseHeader {
                cluster_id: 1159504945681152893,
                member_id: 5797580157192204759,
                revision: 1,
                raft_term: 2,
            }),
            hash: 1084519789,
            compact_revision: -1,
            hash_revision: 1,
        },
    }];
    assert_eq!(text(Format::Simple, |p, o| p.endpoint_hashkv(o, &hash)), "127.0.0.1:2319, 1084519789, 1\n");
    assert_eq!(
        text(Format::Json, |p, o| p.endpoint_hashkv(o, &hash)),
        r#"[{"Endpoint":"127.0.0.1:2319","HashKV":{"header":{"cluster_id":1159504945681152893,"member_id":5797580157192204759,"revision":1,"raft_term":2},"hash":1084519789,"compact_revision":-1,"hash_revision":1}}]
"#
    );
    assert_eq!(
        text(Format::Fields, |p, o| p.endpoint_hashkv(o, &hash)),
        "\"ClusterID\" : 1159504945681152893\n\"MemberID\" : 5797580157192204759\n\"Revision\" : 1\n\"RaftTerm\" : 2\n\
         \"Endpoint\" : \"127.0.0.1:2319\"\n\"Hash\" : 1084519789\n\"HashRevision\" : 1\n\n"
    );
    assert_eq!(text(Format::Json, |p, o| p.endpoint_hashkv(o, &[])), "null\n");
}

#[test]
fn alarms_print_like_etcdctl_and_fields_refuses_a_headerless_response() {
    let nospace = AlarmResponse {
        header: None,
        alarms: vec![AlarmMember { member_id: 13195394291058371180, alarm: AlarmType::Nospace as i32 }],
    };
    assert_eq!(text(Format::Simple, |p, o| p.alarm(o, &nospace)), "memberID:13195394291058371180 alarm:NOSPACE \n");
    assert_eq!(
        text(Format::Json, |p, o| p.alarm(o, &nospace)),
        "{\"alarms\":[{\"memberID\":13195394291058371180,\"alarm\":1}]}\n"
    );
    assert_eq!(text(Format::Json, |p, o| p.alarm(o, &AlarmResponse::default())), "{}\n");
    let e = print(Format::Fields, |p, o| p.alarm(o, &nospace)).expect_err("no header");
    assert_eq!((e.code, e.quiet), (ExitCode::BadConnection, true));
    let e = print(Format::Table, |p, o| p.alarm(o, &nospace)).expect_err("unsupported");
    assert_eq!((e.code, e.message.as_str()), (ExitCode::BadFeature, "table not supported as output format"));
    let with_header = AlarmResponse { header: Some(HDR), ..nospace };
    assert!(
        text(Format::Fields, |p, o| p.alarm(o, &with_header))
            .ends_with("\"MemberID\" : 13195394291058371180\n\"AlarmType\" : NOSPACE\n\n")
    );
}
