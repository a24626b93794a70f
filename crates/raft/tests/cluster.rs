//! Three RaftNodes in one process, replicating over real gRPC on loopback
//! (port 0), each over an in-memory `Apply` that outlives restarts of its node.
//!
//! Timeouts are etcd's defaults (100 ms heartbeat, 1 s election) and every
//! wait polls for its condition with a generous deadline, so a loaded machine
//! slows the tests down rather than failing them.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use raft::{Apply, ApplyError, RaftConfig, RaftNode, WriteError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;

/// Member ids as etcd derives them: arbitrary u64s, not 1..=n.
const IDS: [u64; 3] = [0x8e9e05c52164694d, 0x2c0f3d5a6e4b1f70, 0xd1a8e3b4c5f60718];
/// How long a cluster may take to agree on a leader (a few election rounds).
const ELECTION_WAIT: Duration = Duration::from_secs(15);
/// How long replication may take to reach every running member.
const CONVERGE_WAIT: Duration = Duration::from_secs(10);

/// One application recorded by [`MemApply`]; `data` is None for blank and membership entries.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    index: u64,
    data: Option<Vec<u8>>,
}

/// A state machine in memory; it survives restarts of its node, like a store on disk.
#[derive(Default)]
struct MemApply {
    applied: Mutex<Vec<(Applied, Vec<u8>)>>,
    /// Snapshots installed (taken from a leader).
    installs: AtomicUsize,
}

/// A snapshot file of [`MemApply`]: per application, its index, whether it
/// has data, the data and the raft state, each length-prefixed.
fn encode_applied(applied: &[(Applied, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (a, state) in applied {
        out.extend_from_slice(&a.index.to_be_bytes());
        out.push(u8::from(a.data.is_some()));
        let data = a.data.as_deref().unwrap_or_default();
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&(state.len() as u32).to_be_bytes());
        out.extend_from_slice(state);
    }
    out
}

fn decode_applied(mut b: &[u8]) -> Vec<(Applied, Vec<u8>)> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> &'a [u8] {
        let (head, tail) = b.split_at(n);
        *b = tail;
        head
    }
    let u32_at = |b: &mut &[u8]| u32::from_be_bytes(take(b, 4).try_into().expect("4 bytes")) as usize;
    let mut out = Vec::new();
    while !b.is_empty() {
        let index = u64::from_be_bytes(take(&mut b, 8).try_into().expect("8 bytes"));
        let has_data = take(&mut b, 1)[0] == 1;
        let n = u32_at(&mut b);
        let data = take(&mut b, n).to_vec();
        let n = u32_at(&mut b);
        let state = take(&mut b, n).to_vec();
        out.push((Applied { index, data: has_data.then_some(data) }, state));
    }
    out
}

impl MemApply {
    fn lock(&self) -> MutexGuard<'_, Vec<(Applied, Vec<u8>)>> {
        self.applied.lock().expect("mem apply lock")
    }

    fn record(&self, index: u64, data: Option<&[u8]>, raft_state: &[u8]) {
        let mut applied = self.lock();
        if let Some((last, _)) = applied.last() {
            assert!(index > last.index, "entry {index} applied after {}", last.index);
        }
        applied.push((Applied { index, data: data.map(<[u8]>::to_vec) }, raft_state.to_vec()));
    }

    /// The normal entries applied, in order: (index, value).
    fn values(&self) -> Vec<(u64, String)> {
        self.lock()
            .iter()
            .filter_map(|(a, _)| a.data.as_ref().map(|d| (a.index, String::from_utf8_lossy(d).into_owned())))
            .collect()
    }

    fn has(&self, value: &str) -> bool {
        self.lock().iter().any(|(a, _)| a.data.as_deref() == Some(value.as_bytes()))
    }
}

impl Apply for MemApply {
    fn applied_state(&self) -> Result<Option<Vec<u8>>, ApplyError> {
        Ok(self.lock().last().map(|(_, state)| state.clone()))
    }

    fn apply(&self, index: u64, data: &[u8], raft_state: &[u8]) -> Result<Vec<u8>, ApplyError> {
        self.record(index, Some(data), raft_state);
        Ok(index.to_be_bytes().to_vec())
    }

    fn apply_meta(&self, index: u64, raft_state: &[u8]) -> Result<(), ApplyError> {
        self.record(index, None, raft_state);
        Ok(())
    }

    fn build_snapshot(&self, path: &Path) -> Result<Vec<u8>, ApplyError> {
        let applied = self.lock().clone();
        let state = applied.last().map(|(_, s)| s.clone()).ok_or_else(|| ApplyError::new("nothing applied"))?;
        std::fs::write(path, encode_applied(&applied)).map_err(ApplyError::new)?;
        Ok(state)
    }

    fn snapshot_state(&self, path: &Path) -> Result<Vec<u8>, ApplyError> {
        let applied = decode_applied(&std::fs::read(path).map_err(ApplyError::new)?);
        applied.last().map(|(_, s)| s.clone()).ok_or_else(|| ApplyError::new("empty snapshot"))
    }

    fn install_snapshot(&self, path: &Path) -> Result<(), ApplyError> {
        *self.lock() = decode_applied(&std::fs::read(path).map_err(ApplyError::new)?);
        self.installs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A running member: its node and the gRPC server of its peer service.
struct Running {
    node: RaftNode,
    stop_serving: oneshot::Sender<()>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

struct Node {
    id: u64,
    addr: SocketAddr,
    dir: PathBuf,
    apply: Arc<MemApply>,
    running: Option<Running>,
}

struct Cluster {
    _dir: tempfile::TempDir,
    members: Vec<Node>,
    urls: BTreeMap<u64, String>,
    /// Entries between snapshots (the log keeps 5 behind each).
    snapshot_count: u64,
}

impl Cluster {
    /// Binds every peer listener first (their URLs form the initial
    /// membership), then starts every member.
    async fn start(n: usize) -> Cluster {
        Cluster::start_with(n, 0).await
    }

    async fn start_with(n: usize, snapshot_count: u64) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut listeners = Vec::new();
        let mut members = Vec::new();
        for (i, id) in IDS.iter().take(n).enumerate() {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("local addr");
            listeners.push(listener);
            let apply = Arc::new(MemApply::default());
            members.push(Node { id: *id, addr, dir: dir.path().join(format!("m{i}")), apply, running: None });
        }
        let urls = members.iter().map(|m| (m.id, format!("http://{}", m.addr))).collect();
        let mut cluster = Cluster { _dir: dir, members, urls, snapshot_count };
        for (i, listener) in listeners.into_iter().enumerate() {
            cluster.run(i, listener).await;
        }
        cluster
    }

    async fn run(&mut self, i: usize, listener: TcpListener) {
        let m = &mut self.members[i];
        let mut cfg = RaftConfig::new(m.id, m.dir.join("member"), self.urls[&m.id].clone());
        cfg.initial_members = self.urls.clone();
        cfg.snapshot_count = self.snapshot_count;
        cfg.snapshot_catchup_entries = 5;
        let node = RaftNode::start(cfg, Arc::clone(&m.apply) as Arc<dyn Apply>).await.expect("start");
        let (stop_serving, stopped) = oneshot::channel::<()>();
        let service = node.peer_service();
        let server = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = stopped.await;
                })
                .await
        });
        m.running = Some(Running { node, stop_serving, server });
    }

    fn node(&self, i: usize) -> &RaftNode {
        &self.members[i].running.as_ref().expect("member is running").node
    }

    fn running(&self) -> Vec<usize> {
        (0..self.members.len()).filter(|i| self.members[*i].running.is_some()).collect()
    }

    /// Stops a member as its server would: Raft first, then the peer service.
    async fn stop(&mut self, i: usize) {
        let running = self.members[i].running.take().expect("member is running");
        running.node.shutdown().await;
        let _ = running.stop_serving.send(());
        match tokio::time::timeout(Duration::from_secs(5), running.server).await {
            Ok(served) => served.expect("server task").expect("serve"),
            Err(_) => panic!("member {i}: the peer server did not stop within 5 s"),
        }
    }

    /// Starts a stopped member again on its data dir and its peer address.
    async fn restart(&mut self, i: usize) {
        let addr = self.members[i].addr;
        let listener = eventually("the peer address is free again", Duration::from_secs(5), || async {
            TcpListener::bind(addr).await.ok()
        })
        .await;
        self.run(i, listener).await;
    }

    /// Waits until every running member names the same leader, one of them,
    /// and returns its position.
    async fn leader(&self) -> usize {
        eventually("the running members agree on a leader", ELECTION_WAIT, || async {
            let running = self.running();
            let leader = self.node(running[0]).leader()?;
            let i = running.iter().copied().find(|i| self.members[*i].id == leader)?;
            running.iter().all(|j| self.node(*j).leader() == Some(leader)).then_some(i)
        })
        .await
    }

    fn follower(&self, leader: usize) -> usize {
        self.running().into_iter().find(|i| *i != leader).expect("a running follower")
    }

    /// Waits until every running member has applied the same values in the same order.
    async fn converged(&self) -> Vec<(u64, String)> {
        eventually("every running member applied the same values", CONVERGE_WAIT, || async {
            let running = self.running();
            let first = self.members[running[0]].apply.values();
            running.iter().all(|i| self.members[*i].apply.values() == first).then_some(first)
        })
        .await
    }
}

/// Polls `probe` every 20 ms until it answers `Some`, at most `limit`.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes `value` and returns the index the applier answered with.
async fn write(node: &RaftNode, value: &str) -> u64 {
    let resp = node.write(value.as_bytes().to_vec()).await.unwrap_or_else(|e| panic!("write {value}: {e}"));
    u64::from_be_bytes(resp.try_into().expect("8-byte index"))
}

/// Writes `value`, retrying while the cluster has no (reachable) leader.
/// A retry after `Timeout` may apply the value twice; callers allow for it.
async fn write_when_leader(node: &RaftNode, value: &str) -> u64 {
    eventually(&format!("write {value} succeeds"), ELECTION_WAIT, || async {
        match tokio::time::timeout(Duration::from_secs(5), node.write(value.as_bytes().to_vec())).await {
            Ok(Ok(resp)) => Some(u64::from_be_bytes(resp.try_into().expect("8-byte index"))),
            Ok(Err(WriteError::NoLeader | WriteError::NotLeader { .. } | WriteError::Timeout)) | Err(_) => None,
            Ok(Err(e)) => panic!("write {value}: {e}"),
        }
    })
    .await
}

async fn shutdown(mut cluster: Cluster) {
    for i in cluster.running() {
        cluster.stop(i).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_elect_one_leader() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.leader().await;
    let leaders: Vec<usize> = (0..3).filter(|i| cluster.node(*i).leader() == Some(cluster.members[*i].id)).collect();
    assert_eq!(leaders, [leader], "exactly one member considers itself leader");
    assert!(cluster.node(leader).term() >= 1);
    shutdown(cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_on_leader_and_follower_apply_everywhere_in_one_order() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.leader().await;
    let follower = cluster.follower(leader);

    let mut tasks = Vec::new();
    for (who, i) in [("l", leader), ("f", follower)] {
        for n in 0..20 {
            let node = cluster.node(i).clone();
            let apply = Arc::clone(&cluster.members[i].apply);
            tasks.push(tokio::spawn(async move {
                let value = format!("{who}{n}");
                let index = write(&node, &value).await;
                // Read-your-writes on the member the client talks to.
                assert!(apply.has(&value), "{value} is applied on its member when the write returns");
                (index, value)
            }));
        }
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.push(t.await.expect("writer task"));
    }
    acked.sort();

    let values = cluster.converged().await;
    assert_eq!(values, acked, "each value once, at the index its write answered, on every member");
    shutdown(cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_read_index_sees_a_write_acknowledged_on_another_member() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.leader().await;
    let followers: Vec<usize> = cluster.running().into_iter().filter(|i| *i != leader).collect();
    for round in 0..5 {
        // On the leader, read on a follower; on one follower, read on the other.
        for (writer, reader) in [(leader, followers[0]), (followers[0], followers[1])] {
            let value = format!("r{round}-{writer}");
            write(cluster.node(writer), &value).await;
            cluster.node(reader).read_index().await.expect("read index");
            assert!(cluster.members[reader].apply.has(&value), "{value} visible on member {reader}");
        }
    }
    shutdown(cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_leader_is_replaced_and_writes_continue() {
    let mut cluster = Cluster::start(3).await;
    let old = cluster.leader().await;
    write(cluster.node(old), "before").await;
    cluster.stop(old).await;

    let new = cluster.leader().await;
    assert_ne!(new, old);
    let follower = cluster.follower(new);
    write_when_leader(cluster.node(new), "after-on-leader").await;
    write_when_leader(cluster.node(follower), "after-on-follower").await;
    let values: Vec<String> = cluster.converged().await.into_iter().map(|(_, v)| v).collect();
    for v in ["before", "after-on-leader", "after-on-follower"] {
        assert!(values.iter().any(|x| x == v), "{v} in {values:?}");
    }
    shutdown(cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_catches_up_from_the_log() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.leader().await;
    let lagging = cluster.follower(leader);
    write(cluster.node(lagging), "while-up").await;
    cluster.stop(lagging).await;

    for n in 0..30 {
        write(cluster.node(leader), &format!("while-down-{n}")).await;
    }
    cluster.restart(lagging).await;
    let values = cluster.converged().await;
    assert_eq!(values.len(), 31);
    let distinct: HashSet<&str> = values.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(distinct.len(), 31, "nothing applied twice");

    // It serves writes again, forwarding them to the leader.
    let leader = cluster.leader().await;
    let member = if lagging == leader { cluster.follower(leader) } else { lagging };
    write_when_leader(cluster.node(member), "after-restart").await;
    assert!(cluster.members[member].apply.has("after-restart"));
    shutdown(cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_behind_the_purged_log_catches_up_by_snapshot() {
    let mut cluster = Cluster::start_with(3, 20).await;
    let leader = cluster.leader().await;
    let lagging = cluster.follower(leader);
    write(cluster.node(lagging), "while-up").await;
    cluster.stop(lagging).await;

    for n in 0..60 {
        write(cluster.node(leader), &format!("while-down-{n}")).await;
    }
    let behind = cluster.members[lagging].apply.values().last().map_or(0, |(i, _)| *i);
    eventually("the leader purged what the stopped member needs", CONVERGE_WAIT, || async {
        (cluster.node(leader).purged_index() > behind).then_some(())
    })
    .await;
    cluster.restart(lagging).await;
    let values = cluster.converged().await;
    assert_eq!(values.len(), 61);
    assert!(cluster.members[lagging].apply.installs.load(Ordering::Relaxed) >= 1, "caught up without a snapshot");

    // It goes on from the snapshot, and survives a restart on it.
    write_when_leader(cluster.node(lagging), "after-install").await;
    cluster.stop(lagging).await;
    cluster.restart(lagging).await;
    assert_eq!(cluster.converged().await.len(), 62);
    shutdown(cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_a_quorum_refuses_writes_and_reads() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.leader().await;
    write(cluster.node(leader), "with-quorum").await;
    for i in cluster.running() {
        if i != leader {
            cluster.stop(i).await;
        }
    }

    // A write proposed while the leader lease lasts waits for a quorum that
    // never comes; once the lease is over, the leader refuses at once.
    let lone = cluster.node(leader);
    let begin = Instant::now();
    let refused = eventually("the lone member refuses a write", Duration::from_secs(15), || async {
        match tokio::time::timeout(Duration::from_secs(3), lone.write(b"without-quorum".to_vec())).await {
            Ok(Ok(_)) => panic!("a member without a quorum accepted a write"),
            Ok(Err(e)) => Some(e),
            Err(_) => None,
        }
    })
    .await;
    eprintln!("a lone member refused a write with {refused:?} after {:?}", begin.elapsed());
    assert!(
        matches!(refused, WriteError::NoLeader | WriteError::NotLeader { .. } | WriteError::Timeout),
        "refused with {refused:?}"
    );
    let read = tokio::time::timeout(Duration::from_secs(10), lone.read_index()).await;
    assert!(!matches!(read, Ok(Ok(()))), "a member without a quorum served a read index");
    assert!(!cluster.members[leader].apply.has("without-quorum"));
    shutdown(cluster).await;
}
