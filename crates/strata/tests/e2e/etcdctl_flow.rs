//! The etcd maintenance tutorial and everyday KV commands with the real etcdctl.

use testkit::etcdctl;

use crate::{need_etcdctl, strata};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn maintenance_tutorial_history_and_compaction() {
    need_etcdctl!();
    let m = strata(&[]);
    let ep = m.endpoint();
    for (i, v) in ["101", "102", "103"].iter().enumerate() {
        let out = etcdctl(&ep, &["put", "demo", v, "-w", "json"], None).expect("put");
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(json(&out.stdout)["header"]["revision"], i as i64 + 2);
    }
    let out = etcdctl(&ep, &["get", "demo", "--rev=2"], None).expect("get");
    assert_eq!(out.stdout, "demo\n101\n");
    let out = etcdctl(&ep, &["get", "demo", "-w", "json"], None).expect("get");
    let v = json(&out.stdout);
    assert_eq!(v["kvs"][0]["create_revision"], 2);
    assert_eq!(v["kvs"][0]["mod_revision"], 4);
    assert_eq!(v["kvs"][0]["version"], 3);
    assert_eq!(v["count"], 1);

    let out = etcdctl(&ep, &["compaction", "3"], None).expect("compact");
    assert_eq!((out.code, out.stdout.as_str()), (0, "compacted revision 3\n"));
    let out = etcdctl(&ep, &["get", "demo", "--rev=2"], None).expect("get");
    assert_eq!(out.code, 1);
    assert_eq!(out.error_line(), Some("Error: etcdserver: mvcc: required revision has been compacted"));
    let out = etcdctl(&ep, &["get", "demo", "--rev=3"], None).expect("get");
    assert_eq!(out.stdout, "demo\n102\n");
    let out = etcdctl(&ep, &["compaction", "3"], None).expect("compact again");
    assert_eq!(out.error_line(), Some("Error: etcdserver: mvcc: required revision has been compacted"));
    let out = etcdctl(&ep, &["compaction", "1000"], None).expect("compact future");
    assert_eq!(
        (out.code, out.error_line()),
        (1, Some("Error: etcdserver: mvcc: required revision is a future revision"))
    );
    let out = etcdctl(&ep, &["compact", "--physical", "4"], None).expect("compact physical");
    assert_eq!(out.stdout, "compacted revision 4\n");
    assert!(m.log().contains("finished scheduled compaction at 4"), "{}", m.log());
    assert!(m.log().contains("store.index: compact 4"));
}

#[test]
fn get_options_and_delete() {
    need_etcdctl!();
    let m = strata(&[]);
    let ep = m.endpoint();
    for (k, v) in [("a", "3"), ("b", "2"), ("c", "1"), ("d", "0")] {
        assert_eq!(etcdctl(&ep, &["put", k, v], None).expect("put").stdout, "OK\n");
    }
    let get = |args: &[&str]| etcdctl(&ep, args, None).expect("get").stdout;
    assert_eq!(get(&["get", "a", "c"]), "a\n3\nb\n2\n");
    assert_eq!(get(&["get", "b", "--from-key", "--keys-only"]), "b\n\nc\n\nd\n\n");
    assert_eq!(get(&["get", "", "--prefix", "--print-value-only", "--sort-by=VALUE"]), "0\n1\n2\n3\n");
    assert_eq!(get(&["get", "", "--prefix", "--limit=2", "--order=DESCEND"]), "d\n0\nc\n1\n");
    let v = json(&get(&["get", "", "--prefix", "--limit=1", "-w", "json"]));
    assert_eq!((v["more"].clone(), v["count"].clone()), (serde_json::json!(true), serde_json::json!(4)));
    assert_eq!(get(&["get", "--consistency=s", "c"]), "c\n1\n");

    let out = etcdctl(&ep, &["del", "a", "c", "--prev-kv"], None).expect("del");
    assert_eq!(out.stdout, "2\na\n3\nb\n2\n");
    assert_eq!(etcdctl(&ep, &["del", "nothing"], None).expect("del").stdout, "0\n");
    let v = json(&get(&["get", "c", "-w", "json"]));
    assert_eq!(v["header"]["revision"], 6, "deleting nothing does not advance the revision");
    let out = etcdctl(&ep, &["put", "c", "x", "--prev-kv"], None).expect("put");
    assert_eq!(out.stdout, "OK\nc\n1\n");
}

#[test]
fn txn_from_stdin() {
    need_etcdctl!();
    let m = strata(&[]);
    let ep = m.endpoint();
    etcdctl(&ep, &["put", "a", "1"], None).expect("put");
    let script = "mod(\"a\") > \"0\"\nvalue(\"a\") = \"1\"\n\nput x 1\nput y 2\nget a\n\nput z 3\n\n";
    let out = etcdctl(&ep, &["txn"], Some(script)).expect("txn");
    assert_eq!((out.code, out.stdout.as_str()), (0, "SUCCESS\n\nOK\n\nOK\n\na\n1\n"));
    let v = json(&etcdctl(&ep, &["get", "y", "-w", "json"], None).expect("get").stdout);
    assert_eq!(v["kvs"][0]["mod_revision"], 3, "one revision for the whole txn");
    let out = etcdctl(&ep, &["txn"], Some("value(\"missing\") = \"\"\n\n\nput f 1\n\n")).expect("txn");
    assert_eq!(out.stdout, "FAILURE\n\nOK\n");
}

#[test]
fn restart_keeps_data_and_ids() {
    need_etcdctl!();
    let mut m = strata(&[]);
    let ep = m.endpoint();
    etcdctl(&ep, &["put", "k", "v1"], None).expect("put");
    etcdctl(&ep, &["put", "k", "v2"], None).expect("put");
    etcdctl(&ep, &["compaction", "2"], None).expect("compact");
    let before = json(&etcdctl(&ep, &["get", "k", "-w", "json"], None).expect("get").stdout);
    assert_eq!(m.terminate().expect("sigterm"), Some(0), "SIGTERM exits cleanly; log:\n{}", m.log());
    assert!(m.log().contains("stopped member"));
    m.restart().expect("restart");
    let after = json(&etcdctl(&ep, &["get", "k", "-w", "json"], None).expect("get").stdout);
    assert_eq!(before["kvs"], after["kvs"]);
    assert_eq!(before["header"]["cluster_id"], after["header"]["cluster_id"]);
    assert_eq!(before["header"]["member_id"], after["header"]["member_id"]);
    assert_eq!(after["header"]["revision"], 3);
    let out = etcdctl(&ep, &["get", "k", "--rev=1"], None).expect("get");
    assert_eq!(out.error_line(), Some("Error: etcdserver: mvcc: required revision has been compacted"));
}
