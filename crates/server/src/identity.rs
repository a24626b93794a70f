//! Member and cluster ids, derived exactly as etcd derives them.
//!
//! A member id is the first 8 bytes (big-endian) of SHA-1 over the member's
//! sorted peer URLs concatenated, followed by the cluster token; the cluster id
//! is the same over the sorted member ids as 8-byte big-endian values. With
//! etcd's defaults (`http://localhost:2380`, `etcd-cluster`) this gives etcd's
//! well-known `8e9e05c52164694d` / `cdf818194e3a8c32`, so an etcd user sees the
//! ids they expect. The ids are computed once at bootstrap and stored in the
//! data dir; later flags cannot change them.

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
}
