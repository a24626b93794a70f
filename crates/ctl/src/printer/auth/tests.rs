//! Expected bytes captured from etcdctl 3.4.23 against etcd 3.4.23 (`auth status`:
//! etcdctl 3.6.14 against etcd 3.6.14).

use super::*;
use crate::error::ExitCode;
use api::authpb::Permission;
use api::etcdserverpb::AuthUserAddResponse;

fn hdr() -> Option<ResponseHeader> {
    Some(ResponseHeader { cluster_id: 324952591200643719, member_id: 3319814642761637952, revision: 1, raft_term: 2 })
}

const HDR_JSON: &str =
    r#"{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":1,"raft_term":2}"#;

const HDR_FIELDS: &str =
    "\"ClusterID\" : 324952591200643719\n\"MemberID\" : 3319814642761637952\n\"Revision\" : 1\n\"RaftTerm\" : 2\n";

fn printed_bytes(
    format: Format,
    f: impl FnOnce(&Printer, &mut Vec<u8>) -> Result<()>,
) -> Result<Vec<u8>, (ExitCode, String)> {
    let mut out = Vec::new();
    f(&Printer::new(format, false), &mut out).map_err(|e| (e.code, e.message))?;
    Ok(out)
}

fn printed(format: Format, f: impl FnOnce(&Printer, &mut Vec<u8>) -> Result<()>) -> Result<String, (ExitCode, String)> {
    printed_bytes(format, f).map(|out| String::from_utf8(out).expect("text"))
}

fn role_r1() -> AuthRoleGetResponse {
    let perm = |perm_type: i32, key: &[u8], range_end: &[u8]| Permission {
        perm_type,
        key: key.to_vec(),
        range_end: range_end.to_vec(),
    };
    AuthRoleGetResponse {
        header: hdr(),
        perm: vec![
            perm(0, b"\0", b""),
            perm(0, b"\0", b"\0"),
            perm(0, b"a", b""),
            perm(1, b"b", b"c"),
            perm(2, b"p", b"q"),
            perm(0, b"z", b"\0"),
        ],
    }
}

#[test]
fn changes_print_a_sentence_or_their_header() {
    let r = AuthUserAddResponse { header: hdr() };
    let changed = |format| printed(format, |p, out| p.auth_changed(out, b"User u created", r.header.as_ref(), &r));
    assert_eq!(changed(Format::Simple), Ok("User u created\n".into()));
    assert_eq!(changed(Format::Json), Ok(format!("{{\"header\":{HDR_JSON}}}\n")));
    assert_eq!(changed(Format::Fields), Ok(HDR_FIELDS.into()));
    assert_eq!(
        printed_bytes(Format::Protobuf, |p, out| p.auth_changed(out, b"", r.header.as_ref(), &r)),
        Ok(b"\n\x18\x08\x87\xd5\xed\xba\x8f\xd5\x9d\xc1\x04\x10\xc0\xc0\xca\xaf\xc1\xba\x96\x89.\x18\x01 \x02"
            .to_vec())
    );
    assert_eq!(changed(Format::Table), Err((ExitCode::BadFeature, "table not supported as output format".into())));
}

#[test]
fn role_get_in_every_format() {
    let r = role_r1();
    let simple = "Role r1\nKV Read:\n\t\0\n\t[\0, <open ended>\n\ta\n\t[p, q) (prefix p)\n\t[z, <open ended>\n\
                  KV Write:\n\t[b, c) (prefix b)\n\t[p, q) (prefix p)\n";
    assert_eq!(printed(Format::Simple, |p, out| p.role_get(out, "r1", &r)), Ok(simple.into()));
    let json = format!(
        "{{\"header\":{HDR_JSON},\"perm\":[{{\"key\":\"AA==\"}},{{\"key\":\"AA==\",\"range_end\":\"AA==\"}},\
         {{\"key\":\"YQ==\"}},{{\"permType\":1,\"key\":\"Yg==\",\"range_end\":\"Yw==\"}},\
         {{\"permType\":2,\"key\":\"cA==\",\"range_end\":\"cQ==\"}},{{\"key\":\"eg==\",\"range_end\":\"AA==\"}}]}}\n"
    );
    assert_eq!(printed(Format::Json, |p, out| p.role_get(out, "r1", &r)), Ok(json));
    let fields = format!(
        "{HDR_FIELDS}\"PermType\" :  READ\n\"Key\" : \"\\x00\"\n\"RangeEnd\" : \"\"\n\
         \"PermType\" :  READ\n\"Key\" : \"\\x00\"\n\"RangeEnd\" : \"\\x00\"\n\
         \"PermType\" :  READ\n\"Key\" : \"a\"\n\"RangeEnd\" : \"\"\n\
         \"PermType\" :  WRITE\n\"Key\" : \"b\"\n\"RangeEnd\" : \"c\"\n\
         \"PermType\" :  READWRITE\n\"Key\" : \"p\"\n\"RangeEnd\" : \"q\"\n\
         \"PermType\" :  READ\n\"Key\" : \"z\"\n\"RangeEnd\" : \"\\x00\"\n"
    );
    assert_eq!(printed(Format::Fields, |p, out| p.role_get(out, "r1", &r)), Ok(fields));
    let empty = AuthRoleGetResponse { header: hdr(), perm: vec![] };
    assert_eq!(
        printed(Format::Simple, |p, out| p.role_get(out, "r2", &empty)),
        Ok("Role r2\nKV Read:\nKV Write:\n".into())
    );
    assert_eq!(
        printed(Format::Json, |p, out| p.role_get(out, "r2", &empty)),
        Ok(format!("{{\"header\":{HDR_JSON}}}\n"))
    );
}

#[test]
fn user_get_and_lists() {
    let user = AuthUserGetResponse { header: hdr(), roles: vec!["r1".into(), "r2".into()] };
    assert_eq!(printed(Format::Simple, |p, out| p.user_get(out, "u", &user)), Ok("User: u\nRoles: r1 r2\n".into()));
    let lonely = AuthUserGetResponse { header: hdr(), roles: vec![] };
    assert_eq!(printed(Format::Simple, |p, out| p.user_get(out, "f2", &lonely)), Ok("User: f2\nRoles:\n".into()));
    assert_eq!(
        printed(Format::Json, |p, out| p.user_get(out, "u", &user)),
        Ok(format!("{{\"header\":{HDR_JSON},\"roles\":[\"r1\",\"r2\"]}}\n"))
    );
    assert_eq!(
        printed(Format::Fields, |p, out| p.user_get(out, "u", &user)),
        Err((ExitCode::BadFeature, "fields not supported as output format".into()))
    );

    let users = AuthUserListResponse { header: hdr(), users: vec!["f2".into(), "j2".into()] };
    assert_eq!(printed(Format::Simple, |p, out| p.user_list(out, &users)), Ok("f2\nj2\n".into()));
    assert_eq!(
        printed(Format::Json, |p, out| p.user_list(out, &users)),
        Ok(format!("{{\"header\":{HDR_JSON},\"users\":[\"f2\",\"j2\"]}}\n"))
    );
    assert_eq!(
        printed(Format::Fields, |p, out| p.user_list(out, &users)),
        Err((ExitCode::BadFeature, "fields not supported as output format".into()))
    );

    let roles = AuthRoleListResponse { header: hdr(), roles: vec!["r1".into(), "r2".into()] };
    assert_eq!(printed(Format::Simple, |p, out| p.role_list(out, &roles)), Ok("r1\nr2\n".into()));
    assert_eq!(
        printed(Format::Fields, |p, out| p.role_list(out, &roles)),
        Ok(format!("{HDR_FIELDS}\"Roles\" : \"r1\" \"r2\"\n"))
    );
    assert_eq!(
        printed(Format::Table, |p, out| p.role_list(out, &roles)),
        Err((ExitCode::BadFeature, "table not supported as output format".into()))
    );
}

#[test]
fn revoked_permissions_name_the_key_or_range_as_given() {
    let said = |key: &str, end: &[u8]| {
        String::from_utf8_lossy(&simple::permission_revoked("r1", key.as_bytes(), end)).into_owned()
    };
    assert_eq!(said("a", b""), "Permission of key a is revoked from role r1");
    assert_eq!(said("b", b"c"), "Permission of range [b, c) is revoked from role r1");
    assert_eq!(said("z", b"\0"), "Permission of range [z, <open ended> is revoked from role r1");
    assert_eq!(said("", b"\0"), "Permission of range [, <open ended> is revoked from role r1");
    assert_eq!(said("", b""), "Permission of key  is revoked from role r1");
}

#[test]
fn auth_status_prints_as_etcdctl_3_6() {
    let r = AuthStatusResponse { header: hdr(), enabled: true, auth_revision: 4 };
    assert_eq!(
        printed(Format::Simple, |p, out| p.auth_status(out, &r)),
        Ok("Authentication Status: true\nAuthRevision: 4\n".into())
    );
    assert_eq!(
        printed(Format::Json, |p, out| p.auth_status(out, &r)),
        Ok(format!("{{\"header\":{HDR_JSON},\"enabled\":true,\"authRevision\":4}}\n"))
    );
    let off = AuthStatusResponse { header: hdr(), enabled: false, auth_revision: 1 };
    assert_eq!(
        printed(Format::Json, |p, out| p.auth_status(out, &off)),
        Ok(format!("{{\"header\":{HDR_JSON},\"authRevision\":1}}\n"))
    );
    assert_eq!(
        printed(Format::Fields, |p, out| p.auth_status(out, &r)),
        Err((ExitCode::BadFeature, "fields not supported as output format".into()))
    );
}
