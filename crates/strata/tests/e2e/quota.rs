//! The space quota and the NOSPACE alarm, driven by the real etcdctl: the
//! recovery of etcd's maintenance guide (compact, defrag, disarm) in the
//! etcd-exact mode, and Strata's default where a compaction alone makes room
//! and the alarm clears itself.

use std::time::{Duration, Instant};

use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use testkit::{CtlOutput, MemberProcess, etcdctl};

use crate::{client, need_etcdctl, status, strata};

const QUOTA: &str = "16777216";
const NOSPACE: &str = "Error: etcdserver: mvcc: database space exceeded";

/// Puts 64 KiB values under `q` until the member refuses one; returns the
/// revision of the last accepted put.
async fn fill(m: &MemberProcess) -> i64 {
    let mut c = client(m).await;
    let value = vec![b'x'; 64 * 1024];
    let mut last = 0;
    for _ in 0..2000 {
        match c.put("q", value.clone(), None).await {
            Ok(r) => last = r.header().map_or(0, |h| h.revision()),
            Err(e) => {
                let (code, msg) = status(e);
                assert_eq!(code, tonic::Code::ResourceExhausted);
                assert_eq!(msg, "etcdserver: mvcc: database space exceeded");
                return last;
            }
        }
    }
    panic!("2000 puts of 64 KiB never reached a 16 MiB quota");
}

fn ctl(m: &MemberProcess, args: &[&str]) -> CtlOutput {
    etcdctl(&m.endpoint(), args, None).expect("run etcdctl")
}

fn ctl_in(m: &MemberProcess, args: &[&str], stdin: &str) -> CtlOutput {
    etcdctl(&m.endpoint(), args, Some(stdin)).expect("run etcdctl")
}

/// What `etcdctl alarm list` prints for a NOSPACE alarm of `m`.
fn nospace_line(m: &MemberProcess) -> String {
    let status = ctl(m, &["endpoint", "status", "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(&status.stdout).expect("status json");
    let id = v[0]["Status"]["header"]["member_id"].as_u64().expect("member id");
    format!("memberID:{id} alarm:NOSPACE \n")
}

/// kube-apiserver's compactor step: a conditional put of `compact_rev_key`.
const K8S_TXN: &str = "ver(\"compact_rev_key\") = \"0\"\n\nput compact_rev_key 0\n\nget compact_rev_key\n\n";

/// What every mode refuses and allows while NOSPACE is active.
async fn check_capped(m: &MemberProcess) {
    assert_eq!(ctl(m, &["put", "foo", "bar"]).error_line(), Some(NOSPACE));
    let get = ctl(m, &["get", "q", "--keys-only"]);
    assert_eq!((get.code, get.stdout.as_str()), (0, "q\n\n"));
    assert_eq!(ctl(m, &["del", "nothing-here"]).stdout, "0\n");
    let txn_del = ctl_in(m, &["txn"], "\ndel q-absent\n\n\n");
    assert_eq!((txn_del.code, txn_del.stdout.as_str()), (0, "SUCCESS\n\n0\n"), "{txn_del:?}");
    assert_eq!(ctl_in(m, &["txn"], "\nput foo bar\n\n\n").error_line(), Some(NOSPACE));
    assert_eq!(
        ctl(m, &["lease", "grant", "60"]).error_line(),
        Some("Error: failed to grant lease (etcdserver: mvcc: database space exceeded)")
    );
    // etcd 3.4 lets a put inside a nested txn through; Strata does not.
    let mut c = client(m).await;
    let nested = Txn::new().and_then([TxnOp::txn(Txn::new().and_then([TxnOp::put("nested", "x", None)]))]);
    let err = c.txn(nested).await.expect_err("a nested put must be refused too");
    assert_eq!(status(err).0, tonic::Code::ResourceExhausted);
    let status_json = ctl(m, &["endpoint", "status", "-w", "json"]).stdout;
    assert!(status_json.contains("alarm:NOSPACE "), "{status_json}");
}

async fn wait_for_no_alarm(m: &MemberProcess, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if ctl(m, &["alarm", "list"]).stdout.is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compaction_alone_makes_room_and_the_alarm_clears_itself() {
    need_etcdctl!();
    let m = strata(&["--quota-backend-bytes", QUOTA]);
    let last = fill(&m).await;
    assert_eq!(ctl(&m, &["alarm", "list"]).stdout, nospace_line(&m));
    check_capped(&m).await;
    // The reserve lets kube-apiserver's compactor keep working.
    let k8s = ctl_in(&m, &["txn"], K8S_TXN);
    assert_eq!((k8s.code, k8s.stdout.as_str()), (0, "SUCCESS\n\nOK\n"), "{k8s:?}");
    // An unconditional small put does not get the reserve.
    assert_eq!(ctl(&m, &["put", "small", "1"]).error_line(), Some(NOSPACE));

    let compact = ctl(&m, &["compaction", "--physical", &last.to_string()]);
    assert_eq!(compact.stdout, format!("compacted revision {last}\n"));
    assert!(wait_for_no_alarm(&m, Duration::from_secs(10)).await, "NOSPACE did not clear after the compaction");
    assert_eq!(ctl(&m, &["put", "foo", "bar"]).stdout, "OK\n");
    assert!(m.log().contains("\"message\":\"alarm disarmed\""), "{}", m.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_exact_mode_needs_compact_defrag_and_disarm() {
    need_etcdctl!();
    let mut m = strata(&[
        "--quota-backend-bytes",
        QUOTA,
        "--strata-quota-counting=db-size",
        "--strata-nospace-auto-disarm=false",
        "--strata-quota-reserve-bytes=0",
    ]);
    let last = fill(&m).await;
    let line = nospace_line(&m);
    assert_eq!(ctl(&m, &["alarm", "list"]).stdout, line);
    check_capped(&m).await;
    assert_eq!(ctl_in(&m, &["txn"], K8S_TXN).error_line(), Some(NOSPACE), "no reserve in etcd's mode");

    // Sticky: a compaction does not clear it, nor does a restart.
    ctl(&m, &["compaction", "--physical", &last.to_string()]);
    m.terminate().expect("stop");
    m.restart().expect("restart");
    assert_eq!(ctl(&m, &["alarm", "list"]).stdout, line);
    assert_eq!(ctl(&m, &["defrag"]).stdout, format!("Finished defragmenting etcd member[{}]\n", m.endpoint()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(ctl(&m, &["alarm", "list"]).stdout, line, "defrag does not clear alarms");
    assert_eq!(ctl(&m, &["put", "foo", "bar"]).error_line(), Some(NOSPACE));

    assert_eq!(ctl(&m, &["alarm", "disarm"]).stdout, line);
    assert_eq!(ctl(&m, &["alarm", "disarm", "-w", "json"]).stdout, "{}\n", "nothing left to disarm");
    assert_eq!(ctl(&m, &["put", "foo", "bar"]).stdout, "OK\n");
    assert_eq!(ctl(&m, &["alarm", "list"]).stdout, "");
    let size: serde_json::Value =
        serde_json::from_str(&ctl(&m, &["endpoint", "status", "-w", "json"]).stdout).expect("status json");
    let db_size = size[0]["Status"]["dbSize"].as_i64().expect("dbSize");
    assert!(db_size < 4 * 1024 * 1024, "defrag left {db_size} bytes for one 64 KiB value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disarming_too_early_raises_the_alarm_again() {
    need_etcdctl!();
    let m = strata(&["--quota-backend-bytes", QUOTA, "--strata-nospace-auto-disarm=false"]);
    fill(&m).await;
    let line = nospace_line(&m);
    assert_eq!(ctl(&m, &["alarm", "disarm"]).stdout, line);
    assert_eq!(ctl(&m, &["alarm", "list"]).stdout, "");
    // The quota is exact: what did not fit still does not, and raises it again.
    let mut c = client(&m).await;
    let err = c.put("q", vec![b'x'; 64 * 1024], None).await.expect_err("still over the quota");
    assert_eq!(status(err).0, tonic::Code::ResourceExhausted);
    assert_eq!(ctl(&m, &["alarm", "list"]).stdout, line);
    assert_eq!(ctl(&m, &["put", "foo", "bar"]).error_line(), Some(NOSPACE));
    let cmp = Txn::new().when([Compare::version("compact_rev_key", CompareOp::Equal, 0)]).and_then([TxnOp::put(
        "compact_rev_key",
        "7",
        None,
    )]);
    assert!(c.txn(cmp).await.expect("reserve txn").succeeded());
}

/// The NOSPACE steps of etcd's maintenance guide, after a fill; `$C` is the
/// CLI with its endpoint.
const RECOVERY_STEPS: &str = r#"
$C alarm list
$C alarm list -w json
$C put foo bar
$C get q --keys-only
$C del nothing-here
printf '\nput foo bar\n\n\n' | $C txn
printf '\ndel nothing-here\n\n\n' | $C txn
$C lease grant 60
$C endpoint health | cut -d: -f1,2
$C alarm disarm
$C alarm list
$C put q big-enough-to-fail-$(head -c 70000 /dev/zero | tr '\0' x)
$C alarm list
$C compaction --physical $($C endpoint status -w json | egrep -o '"revision":[0-9]*' | egrep -o '[0-9]+')
$C defrag
$C alarm list
$C alarm disarm
$C alarm disarm -w json
$C put foo bar
$C alarm list
"#;

/// Masks what differs between two members: decimal member ids, the compacted
/// revision, the client port, the revision in a header and defrag's `took`.
fn mask_recovery(s: &str) -> String {
    let mut out = testkit::mask_ids(s);
    for key in ["memberID:", "\"memberID\":", "compacted revision ", "member[127.0.0.1:", "\"revision\":"] {
        out = testkit::mask_number_after(&out, key);
    }
    crate::maintenance_ctl::mask_durations(&out).0
}

/// etcd's maintenance guide with etcdctl 3.6.14, on etcd 3.6.14 and on Strata
/// (3.6 answers alarm requests with a header, which 3.4 did not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recovery_procedure_prints_what_etcd_prints() {
    let Some(etcdctl) = testkit::etcdctl36() else {
        eprintln!("{}", testkit::missing_anchor("etcdctl"));
        return;
    };
    let etcdctl = etcdctl.to_string_lossy().into_owned();
    let etcd = MemberProcess::start_etcd36(&["--quota-backend-bytes", QUOTA]).expect("start etcd 3.6");
    fill(&etcd).await;
    let want = testkit::run_steps(&etcdctl, &etcd.endpoint(), RECOVERY_STEPS, mask_recovery);
    drop(etcd);
    let s = strata(&[
        "--quota-backend-bytes",
        QUOTA,
        "--strata-quota-counting=db-size",
        "--strata-nospace-auto-disarm=false",
        "--strata-quota-reserve-bytes=0",
    ]);
    fill(&s).await;
    let got = testkit::run_steps(&etcdctl, &s.endpoint(), RECOVERY_STEPS, mask_recovery);
    if let Some(report) = testkit::step_differences(&want, &got) {
        panic!("{report}");
    }
}
