//! Helpers that several test files use: reaching a member whatever its state
//! (the cluster tests), waiting for a leader, a write or agreement, the lease
//! and watch calls the service tests repeat, and a small disk for the tests
//! of what a full disk does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use etcd_client::{ConnectOptions, WatchResponse, WatchStream};
use testkit::MemberProcess;

/// The longest a helper waits for one answer; past it the outcome is unknown.
pub const OP_TIMEOUT: Duration = Duration::from_secs(2);

/// A client of `endpoint` whose connect and calls are bounded, so that a
/// member that is down or cut off costs a timeout, not a hang.
pub async fn connect(endpoint: &str) -> Option<etcd_client::Client> {
    let options = ConnectOptions::new().with_connect_timeout(Duration::from_secs(1)).with_timeout(OP_TIMEOUT);
    etcd_client::Client::connect([endpoint], Some(options)).await.ok()
}

/// Runs `f` on a fresh client of `m`, within `OP_TIMEOUT`; why not, if it
/// fails or times out.
pub async fn try_once<T, F, Fut>(m: &MemberProcess, f: F) -> Result<T, String>
where
    F: FnOnce(etcd_client::Client) -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    let c = connect(&m.endpoint()).await.ok_or_else(|| format!("cannot connect to {}", m.name()))?;
    match tokio::time::timeout(OP_TIMEOUT, f(c)).await {
        Ok(answer) => answer.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer from {} within {OP_TIMEOUT:?}", m.name())),
    }
}

/// [`try_once`], when why does not matter.
pub async fn once<T, F, Fut>(m: &MemberProcess, f: F) -> Option<T>
where
    F: FnOnce(etcd_client::Client) -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    try_once(m, f).await.ok()
}

/// The index of the member among `among` that says in its own Status that
/// it leads, waiting up to `within`. Asks only `among`: a member that is cut
/// off may still think it leads.
pub async fn leader(members: &[MemberProcess], among: &[usize], within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        for &i in among {
            if let Some(s) = once(&members[i], |mut c| async move { c.status().await }).await
                && s.leader() != 0
                && s.leader() == s.header().map_or(0, |h| h.member_id())
            {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no leader among {among:?} within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Puts through `m` until it works (a new leader may still be settling),
/// for up to `within`; answers the revision.
pub async fn put_eventually(m: &MemberProcess, key: &str, value: &str, within: Duration) -> i64 {
    let deadline = Instant::now() + within;
    loop {
        let (k, v) = (key.to_string(), value.to_string());
        match try_once(m, |mut c| async move { c.put(k, v, None).await }).await {
            Ok(r) => return r.header().map_or(0, |h| h.revision()),
            Err(e) => assert!(Instant::now() < deadline, "put {key} through {} failed for {within:?}: {e}", m.name()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every member of `among` has applied `rev` and all agree on
/// its HashKV (HashKV is answered locally, so a follower may not be there
/// yet).
pub async fn assert_same_hash(members: &[MemberProcess], among: &[usize], rev: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut hashes = Vec::new();
        for &i in among {
            hashes.push(try_once(&members[i], |mut c| async move { c.hash_kv(rev).await }).await.map(|h| h.hash()));
        }
        if hashes.iter().all(|h| h.is_ok() && *h == hashes[0]) {
            return;
        }
        assert!(Instant::now() < deadline, "members disagree on HashKV at revision {rev}: {hashes:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A fresh lease of 60 s.
pub async fn lease(c: &mut etcd_client::Client) -> i64 {
    c.lease_grant(60, None).await.expect("grant").id()
}

/// The next response of a watch stream, which must come within 10 s.
pub async fn next_watch_response(stream: &mut WatchStream) -> WatchResponse {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a watch response within 10 s")
        .expect("stream ok")
        .expect("stream open")
}

/// Unmounts a tmpfs when dropped.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `mib` MiB on `dir`, or `None` without the privilege.
    pub fn mount(dir: &Path, mib: u64) -> Option<Tmpfs> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}M"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    /// Stops `m`, moves its data dir onto a tmpfs of `mib` MiB and starts it
    /// there; `None` (with `m` stopped) without the privilege to mount.
    pub fn move_member(m: &mut MemberProcess, mib: u64) -> Option<Tmpfs> {
        m.terminate().expect("stop");
        let data = m.data_dir();
        let saved = data.with_extension("saved");
        std::fs::rename(&data, &saved).expect("move the data dir aside");
        std::fs::create_dir(&data).expect("mountpoint");
        let tmpfs = Tmpfs::mount(&data, mib)?;
        let copied = std::process::Command::new("cp").arg("-a").arg(saved.join(".")).arg(&data).status();
        assert!(copied.is_ok_and(|s| s.success()), "copy the data dir onto the tmpfs");
        m.restart().expect("start on the tmpfs");
        Some(tmpfs)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the filesystem holding `dir` with a file in `dir` until `left` bytes
/// are free; answers the file, whose removal makes the room again.
pub fn fill_disk(dir: &Path, left: u64) -> PathBuf {
    let ballast = dir.join("ballast");
    // The member may write between the measure and the fill: measure again.
    for _ in 0..5 {
        let _ = std::fs::remove_file(&ballast);
        let fill = std::process::Command::new("fallocate")
            .args(["-l", &free_bytes(dir).saturating_sub(left).to_string()])
            .arg(&ballast)
            .status();
        if fill.is_ok_and(|s| s.success()) {
            return ballast;
        }
    }
    panic!("fill the disk")
}

/// Free bytes of the filesystem holding `dir` (`df` output, in bytes).
fn free_bytes(dir: &Path) -> u64 {
    let out = std::process::Command::new("df").args(["-B1", "--output=avail"]).arg(dir).output().expect("df");
    String::from_utf8_lossy(&out.stdout).lines().nth(1).and_then(|l| l.trim().parse().ok()).expect("df number")
}
