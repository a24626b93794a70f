//! Member and cluster ids, derived exactly as etcd derives them.
//!
//! A member id is the first 8 bytes (big-endian) of SHA-1 over the member's
//! sorted peer URLs concatenated, followed by the cluster token; the cluster id
//! is the same over the sorted member ids as 8-byte big-endian values. With
//! etcd's defaults (`http://localhost:2380`, `etcd-cluster`) this gives etcd's
//! well-known `8e9e05c52164694d` / `cdf818194e3a8c32`, so an etcd user sees the
//! ids they expect. The ids are computed once at bootstrap and stored in the
//! data dir; later flags cannot change them.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};

fn first_u64(bytes: &[u8]) -> u64 {
    let digest = Sha1::digest(bytes);
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(b)
}

/// etcd's member id for these peer URLs in a cluster named `token`.
pub fn member_id(peer_urls: &[String], token: &str) -> u64 {
    let mut urls = peer_urls.to_vec();
    urls.sort();
    let mut b = urls.concat().into_bytes();
    b.extend_from_slice(token.as_bytes());
    first_u64(&b)
}

/// etcd's cluster id for these member ids.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let b: Vec<u8> = ids.iter().flat_map(|id| id.to_be_bytes()).collect();
    first_u64(&b)
}

/// `--initial-cluster` (`name=url,name=url,...`) as each name's URLs, in
/// name order. Parts without `=` are ignored, as the server's bootstrap has
/// always done.
pub fn initial_cluster(initial: &str) -> BTreeMap<&str, Vec<String>> {
    let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for part in initial.split(',').filter(|p| !p.is_empty()) {
        if let Some((name, url)) = part.split_once('=') {
            by_name.entry(name).or_default().push(url.to_string());
        }
    }
    by_name
}

/// The (member id, cluster id) a member bootstraps with: `name` advertises
/// `peer_urls`, every other member of `initial` its own URLs. Both the server
/// (first start) and `stratactl snapshot restore` call this, so a restored
/// data dir carries the ids the member would have chosen itself.
pub fn bootstrap_ids(name: &str, peer_urls: &[String], initial: Option<&str>, token: &str) -> (u64, u64) {
    let own = member_id(peer_urls, token);
    let mut ids = vec![own];
    if let Some(initial) = initial {
        ids = initial_cluster(initial)
            .iter()
            .map(|(n, urls)| if *n == name { own } else { member_id(urls, token) })
            .collect();
        if !ids.contains(&own) {
            ids.push(own);
        }
    }
    (own, cluster_id(&ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_etcd() {
        let m = member_id(&["http://localhost:2380".to_string()], "etcd-cluster");
        assert_eq!(format!("{m:x}"), "8e9e05c52164694d");
        assert_eq!(format!("{:x}", cluster_id(&[m])), "cdf818194e3a8c32");
        // Captured from etcd 3.4.23 started with --initial-advertise-peer-urls http://127.0.0.1:2380.
        let m = member_id(&["http://127.0.0.1:2380".to_string()], "etcd-cluster");
        assert_eq!(m, 13195394291058371180);
        assert_eq!(cluster_id(&[m]), 2037210783374497686);
    }

    #[test]
    fn bootstrap_ids_match_etcdctl_snapshot_restore() {
        // etcdctl 3.4.23 `snapshot restore --name a --initial-advertise-peer-urls http://127.0.0.1:1
        // --initial-cluster a=http://127.0.0.1:1,b=http://127.0.0.1:2` logged these ids.
        let (m, c) = bootstrap_ids(
            "a",
            &["http://127.0.0.1:1".to_string()],
            Some("a=http://127.0.0.1:1,b=http://127.0.0.1:2"),
            "etcd-cluster",
        );
        assert_eq!((format!("{m:x}"), format!("{c:x}")), ("58a88bf978398f80".into(), "3d93f952f49292c8".into()));
        let defaults = bootstrap_ids("default", &["http://localhost:2380".to_string()], None, "etcd-cluster");
        assert_eq!(defaults, (0x8e9e05c52164694d, 0xcdf818194e3a8c32));
    }
}

/// How the ids fixed at bootstrap are stored in the data dir (the backend's
/// `member_identity` meta value): member id, then cluster id, 8 bytes
/// big-endian each.
pub fn encode_stored(member_id: u64, cluster_id: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&member_id.to_be_bytes());
    v[8..].copy_from_slice(&cluster_id.to_be_bytes());
    v
}

/// The `(member id, cluster id)` of [`encode_stored`]; `None` if `v` is not
/// 16 bytes.
pub fn decode_stored(v: &[u8]) -> Option<(u64, u64)> {
    let m: [u8; 8] = v.get(..8)?.try_into().ok()?;
    let c: [u8; 8] = v.get(8..16)?.try_into().ok()?;
    (v.len() == 16).then(|| (u64::from_be_bytes(m), u64::from_be_bytes(c)))
}

#[cfg(test)]
mod stored_tests {
    use super::*;

    #[test]
    fn stored_ids_round_trip_and_refuse_other_lengths() {
        let v = encode_stored(0x8e9e05c52164694d, 0xcdf818194e3a8c32);
        assert_eq!(decode_stored(&v), Some((0x8e9e05c52164694d, 0xcdf818194e3a8c32)));
        assert_eq!(decode_stored(&v[..15]), None);
        assert_eq!(decode_stored(&[0; 17]), None);
    }
}
