//! A member whose storage fails stops, as etcd does, instead of serving from
//! files it cannot trust: the supervisor sees Raft stop on a fatal error,
//! the member logs why and exits non-zero, and a restart once the disk has
//! room again finds every write that was acknowledged.

use std::time::{Duration, Instant};

use crate::support::{Tmpfs, fill_disk};
use crate::{client, strata};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_disk_fills_stops_with_the_reason_and_keeps_every_acknowledged_write() {
    let mut m = strata(&[]);
    let Some(_tmpfs) = Tmpfs::move_member(&mut m, 32) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let ballast = fill_disk(&m.data_dir(), 2 << 20);

    // Write until the disk refuses; keep what was acknowledged.
    let mut c = client(&m).await;
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..2000 {
        let key = format!("k{i:05}");
        match c.put(key.clone(), vec![b'v'; 16 * 1024], None).await {
            Ok(_) => acked.push(key),
            Err(e) => {
                refused = Some(e.to_string());
                break;
            }
        }
    }
    let refused = refused.expect("a full disk refuses a write");
    assert!(!acked.is_empty(), "some writes fit before the disk filled");
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(code) = m.exited() {
            break code;
        }
        assert!(Instant::now() < deadline, "the member kept running on a failed disk ({refused}):\n{}", m.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let log = m.log();
    eprintln!("{} writes acknowledged, then: {refused}; exit {code:?}", acked.len());
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("fatal failure; raising the CORRUPT alarm and stopping the member"), "{log}");
    assert!(log.contains("stopped on a fatal failure: raft: raft stopped"), "{log}");

    std::fs::remove_file(&ballast).expect("remove ballast");
    m.restart().expect("start again with room");
    let mut c = client(&m).await;
    for key in &acked {
        let got = c.get(key.as_str(), None).await.expect("get after restart");
        assert_eq!(got.kvs().len(), 1, "acknowledged {key} is gone ({} acknowledged, then: {refused})", acked.len());
    }
    m.kill9().expect("stop before unmounting");
}
