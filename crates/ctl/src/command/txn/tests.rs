use super::*;
use api::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest};

fn op(r: Request) -> RequestOp {
    RequestOp { request: Some(r) }
}

#[test]
fn argify_splits_and_unquotes() {
    let words = argify(r#"put k "a \"b\" c" 'single quoted'  x'y"#).expect("valid");
    assert_eq!(words, ["put", "k", "a \"b\" c", "single quoted", "x'y"]);
    assert_eq!(argify(r#"put "open k"#).expect("valid"), ["put", "open", "k"]);
}

#[test]
fn request_lines_are_get_put_del_with_flags() {
    assert_eq!(
        parse_request_op("put k v --prev-kv").expect("valid"),
        op(Request::RequestPut(PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            prev_kv: true,
            ..Default::default()
        }))
    );
    assert_eq!(
        parse_request_op("get a --prefix --keys-only").expect("valid"),
        op(Request::RequestRange(RangeRequest {
            key: b"a".to_vec(),
            range_end: b"b".to_vec(),
            keys_only: true,
            ..Default::default()
        }))
    );
    assert_eq!(
        parse_request_op("del a c").expect("valid"),
        op(Request::RequestDeleteRange(DeleteRangeRequest {
            key: b"a".to_vec(),
            range_end: b"c".to_vec(),
            ..Default::default()
        }))
    );
    assert_eq!(
        parse_request_op("g k --rev=3").expect("prefix of get"),
        op(Request::RequestRange(RangeRequest { key: b"k".to_vec(), revision: 3, ..Default::default() }))
    );
}

#[test]
fn bad_request_lines_fail_like_etcdctl() {
    let err = |line| parse_request_op(line).expect_err(line);
    assert_eq!(err("put").message, "invalid txn compare request: put");
    assert_eq!(err("foo a").message, "invalid txn request: foo a");
    assert_eq!(err("get a --bogus").message, "invalid txn request: get a --bogus");
    let e = err("put a");
    assert_eq!(e.code, crate::error::ExitCode::BadArgs);
    assert_eq!(e.code.value(), 128);
}

fn read(input: &str, interactive: bool) -> (Result<TxnRequest>, String) {
    let mut stdin = input.as_bytes();
    let mut stdout = Vec::new();
    let mut io = Io { stdin: &mut stdin, stdout: &mut stdout };
    let r = read_txn(&mut io, interactive);
    (r, String::from_utf8(stdout).expect("utf-8"))
}

#[test]
fn sections_end_at_empty_lines() {
    let (r, out) = read("mod(\"a\") > \"0\"\n\nput c 3\nget a\n\ndel zz\n\n", false);
    let r = r.expect("valid");
    assert_eq!((r.compare.len(), r.success.len(), r.failure.len()), (1, 2, 1));
    assert_eq!(out, "");
}

#[test]
fn interactive_mode_prompts_for_each_section() {
    let (r, out) = read("\n\n\n", true);
    assert_eq!(r.expect("empty txn"), TxnRequest::default());
    assert_eq!(out, "compares:\nsuccess requests (get, put, del):\nfailure requests (get, put, del):\n");
}

#[test]
fn input_ending_early_is_eof() {
    let (r, _) = read("mod(\"a\") > \"0\"\n\nput c 3\n", false);
    let e = r.expect_err("no terminating lines");
    assert_eq!((e.code.value(), e.message.as_str()), (3, "EOF"));
}

#[test]
fn a_bad_line_fails_before_the_input_ends() {
    let (r, _) = read("bogus\n", false);
    assert_eq!(r.expect_err("bad compare").message, "malformed comparison: bogus");
}
