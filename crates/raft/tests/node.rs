//! A single-member RaftNode over a fake in-memory `Apply`: writes, restarts,
//! a state machine that lost its last non-durable commits, and a fresh member
//! that waits to join an existing cluster.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use raft::{Apply, ApplyError, RaftConfig, RaftNode};

const NODE_ID: u64 = 0x8e9e05c52164694d;

/// One application the fake recorded; `data` is None for blank/membership entries.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    index: u64,
    data: Option<Vec<u8>>,
    raft_state: Vec<u8>,
}

/// A state machine kept in memory across restarts of the node (its
/// "storage"). `applied` is its durable content; `history` records every call
/// ever made, including re-applications.
#[derive(Default)]
struct FakeApplier {
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    applied: Vec<Applied>,
    history: Vec<u64>,
    /// Indexes applied at or below the stored applied index (must stay empty).
    duplicates: Vec<u64>,
}

impl FakeApplier {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().expect("fake applier lock")
    }

    fn record(&self, index: u64, data: Option<&[u8]>, raft_state: &[u8]) {
        let mut st = self.lock();
        st.history.push(index);
        if st.applied.last().is_some_and(|last| index <= last.index) {
            st.duplicates.push(index);
        }
        st.applied.push(Applied { index, data: data.map(<[u8]>::to_vec), raft_state: raft_state.to_vec() });
    }

    /// Forgets the last `n` applications, as a crash after non-durable commits would.
    fn lose_last(&self, n: usize) -> Vec<Applied> {
        let mut st = self.lock();
        let keep = st.applied.len() - n;
        st.applied.split_off(keep)
    }

    fn applied(&self) -> Vec<Applied> {
        self.lock().applied.clone()
    }
}

impl Apply for FakeApplier {
    fn applied_state(&self) -> Result<Option<Vec<u8>>, ApplyError> {
        Ok(self.lock().applied.last().map(|a| a.raft_state.clone()))
    }

    fn apply(&self, index: u64, data: &[u8], raft_state: &[u8]) -> Result<Vec<u8>, ApplyError> {
        self.record(index, Some(data), raft_state);
        Ok(index.to_be_bytes().to_vec())
    }

    fn apply_meta(&self, index: u64, raft_state: &[u8]) -> Result<(), ApplyError> {
        self.record(index, None, raft_state);
        Ok(())
    }

    // These tests never reach a snapshot (RaftConfig's default is every 100,000 entries).
    fn build_snapshot(&self, _: &Path) -> Result<Vec<u8>, ApplyError> {
        Err(ApplyError::new("no snapshots in this test"))
    }

    fn snapshot_state(&self, _: &Path) -> Result<Vec<u8>, ApplyError> {
        Err(ApplyError::new("no snapshots in this test"))
    }

    fn install_snapshot(&self, _: &Path) -> Result<(), ApplyError> {
        Err(ApplyError::new("no snapshots in this test"))
    }
}

async fn start(dir: &Path, fake: &Arc<FakeApplier>) -> RaftNode {
    let cfg = RaftConfig::new(NODE_ID, dir.join("member"), "http://127.0.0.1:2380");
    let begin = Instant::now();
    let node = RaftNode::start(cfg, Arc::clone(fake) as Arc<dyn Apply>).await.expect("start");
    let leader = node.wait_for_leader(Duration::from_secs(5)).await.expect("leader");
    eprintln!("start() to leader known: {:?}", begin.elapsed());
    assert_eq!(leader, NODE_ID);
    node
}

async fn write(node: &RaftNode, value: &str) -> u64 {
    let resp = node.write(value.as_bytes().to_vec()).await.expect("write");
    u64::from_be_bytes(resp.try_into().expect("8-byte index"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_applied_and_answered_in_index_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Arc::new(FakeApplier::default());
    let node = start(dir.path(), &fake).await;

    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let node = node.clone();
            tokio::spawn(async move { (format!("v{i}"), write(&node, &format!("v{i}")).await) })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("join"));
    }
    answers.sort_by_key(|(_, index)| *index);

    let normal: Vec<(String, u64)> = fake
        .applied()
        .into_iter()
        .filter_map(|a| a.data.map(|d| (String::from_utf8(d).expect("utf8"), a.index)))
        .collect();
    assert_eq!(answers, normal, "each response names the index its value was applied at");
    let indexes: Vec<u64> = answers.iter().map(|(_, i)| *i).collect();
    assert!(indexes.windows(2).all(|w| w[1] == w[0] + 1), "consecutive indexes: {indexes:?}");
    assert!(fake.lock().duplicates.is_empty());
    assert!(node.applied_index() >= indexes[99]);
    assert!(node.commit_index() >= indexes[99]);
    assert!(node.term() >= 1);
    assert_eq!(node.leader(), Some(NODE_ID));
    node.read_index().await.expect("read index");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_restores_applied_state_without_reapplying() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Arc::new(FakeApplier::default());
    let node = start(dir.path(), &fake).await;
    for i in 0..10 {
        write(&node, &format!("a{i}")).await;
    }
    let applied_before = node.applied_index();
    let term_before = node.term();
    node.shutdown().await;
    let history_before = fake.lock().history.len();

    let node = start(dir.path(), &fake).await;
    assert!(node.applied_index() >= applied_before);
    assert!(node.term() > term_before, "a restarted member campaigns in a new term");
    let index = write(&node, "after-restart").await;
    assert!(index > applied_before);
    let history = fake.lock().history.clone();
    assert_eq!(
        history[history_before..],
        [index - 1, index],
        "only the new leader's blank entry and the new write are applied"
    );
    assert!(fake.lock().duplicates.is_empty(), "duplicates: {:?}", fake.lock().duplicates);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_reapplies_entries_a_state_machine_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Arc::new(FakeApplier::default());
    let node = start(dir.path(), &fake).await;
    for i in 0..20 {
        write(&node, &format!("b{i}")).await;
    }
    node.shutdown().await;
    let before = fake.applied();
    let lost = fake.lose_last(10);
    let lost_indexes: Vec<u64> = lost.iter().map(|a| a.index).collect();

    let node = start(dir.path(), &fake).await;
    node.read_index().await.expect("read index");
    let after = fake.applied();
    assert_eq!(&after[..before.len()], &before[..], "the lost entries come back identical, raft_state included");
    let history = fake.lock().history.clone();
    for index in &lost_indexes {
        assert_eq!(history.iter().filter(|i| *i == index).count(), 2, "index {index} applied again");
    }
    assert!(fake.lock().duplicates.is_empty());
    write(&node, "after-recovery").await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_member_joining_an_existing_cluster_does_not_elect_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Arc::new(FakeApplier::default());
    let mut cfg = RaftConfig::new(NODE_ID, dir.path().join("member"), "http://127.0.0.1:2380");
    cfg.join_existing = true;
    let node = RaftNode::start(cfg, Arc::clone(&fake) as Arc<dyn Apply>).await.expect("start");
    // Twice the longest election timeout: an initialized sole voter leads well within it.
    assert_eq!(node.wait_for_leader(Duration::from_secs(4)).await, Err(raft::WriteError::Timeout));
    assert_eq!(node.write(b"put".to_vec()).await, Err(raft::WriteError::NoLeader));
    assert!(fake.applied().is_empty(), "nothing is applied before a leader replicates");
    node.shutdown().await;
}
