//! This member's place in a cluster: the members a new cluster starts with
//! (`--initial-cluster`), and the duties that move with leadership.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use api::identity;

use crate::config::Config;
use crate::member::Member;

/// How often leadership is checked for the duties that follow it.
const LEADERSHIP_CHECK: Duration = Duration::from_millis(100);

/// The members a fresh Raft log starts with: member id → first peer URL, from
/// `--initial-cluster` (this member's own entry uses its advertised peer
/// URLs, as etcd does). Empty for a single member, which starts alone.
pub fn initial_members(cfg: &Config, own_id: u64) -> BTreeMap<u64, String> {
    let Some(initial) = cfg.initial_cluster.as_deref() else { return BTreeMap::new() };
    let members: BTreeMap<u64, String> = identity::initial_cluster(initial)
        .iter()
        .filter_map(|(name, urls)| {
            if *name == cfg.name {
                Some((own_id, cfg.initial_advertise_peer_urls.first()?.clone()))
            } else {
                Some((identity::member_id(urls, &cfg.initial_cluster_token), urls.first()?.clone()))
            }
        })
        .collect();
    if members.len() <= 1 { BTreeMap::new() } else { members }
}

/// Keeps the lessor's role in step with Raft leadership: only the leader
/// counts down leases (and proposes their expiry); on gaining leadership
/// every lease gets a fresh TTL, as etcd's lessor does on promotion.
pub async fn follow_leadership(member: Arc<Member>, extend: Duration) {
    let mut leading = false;
    let mut tick = tokio::time::interval(LEADERSHIP_CHECK);
    loop {
        tick.tick().await;
        let now_leading = member.raft.leader() == Some(member.member_id);
        if now_leading == leading {
            continue;
        }
        leading = now_leading;
        let now = member.leases.now();
        let mut lessor = member.leases.lessor();
        if leading {
            tracing::info!("became leader: leases count down here");
            lessor.promote(now, extend);
        } else {
            tracing::info!("no longer leader: leases count down on the leader");
            lessor.demote();
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn initial_members_come_from_initial_cluster_with_etcds_ids() {
        let cfg = Config::parse_from([
            "strata",
            "--name",
            "m2",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:2382",
            "--initial-cluster",
            "m1=http://127.0.0.1:2381,m2=http://127.0.0.1:2382,m3=http://127.0.0.1:2383",
        ]);
        let own = identity::member_id(&["http://127.0.0.1:2382".to_string()], "etcd-cluster");
        let members = initial_members(&cfg, own);
        assert_eq!(members.len(), 3);
        assert_eq!(members[&own], "http://127.0.0.1:2382");
        let m1 = identity::member_id(&["http://127.0.0.1:2381".to_string()], "etcd-cluster");
        assert_eq!(members[&m1], "http://127.0.0.1:2381");
        let single = Config::parse_from(["strata"]);
        assert!(initial_members(&single, own).is_empty());
    }
}
