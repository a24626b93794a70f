//! Which etcd a member answers as, and the cluster version with etcd 3.6's
//! downgrade state.
//!
//! The rule (docs/compatibility.md, "The reported version"): a member reports
//! the etcd release whose semantics it implements and is checked against,
//! etcd 3.6.14. Clients gate features on it: the kube-apiserver turns on
//! `RequestWatchProgress` from 3.5.13 on, so the watch progress fix that
//! Kubernetes relies on must hold whenever this says 3.5.13 or later.
//!
//! The cluster version is `major.minor.0` of the members' release, as
//! etcd's; it drops to the target of an enabled downgrade (the leader's
//! version monitor proposes the change, `downgrade.rs`) and comes back once
//! the downgrade is cancelled. Both are applied from the Raft log and kept in
//! the `meta` table, so every member reports the same.

use std::fmt;
use std::sync::RwLock;

use api::etcdserverpb::DowngradeInfo;
use backend::{MetaKey, ReadTxn, WriteTxn};

use crate::error::{EtcdError, EtcdResult};

/// The etcd release a member reports: Status `version`, `/version`'s
/// `etcdserver`, the `etcd_server_version` metric.
pub const SERVER_VERSION: &str = "3.6.14";

/// The cluster version of members of [`SERVER_VERSION`].
pub const SERVER_MINOR: MinorVersion = MinorVersion { major: 3, minor: 6 };

/// A cluster version: etcd keeps only major and minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinorVersion {
    pub major: u64,
    pub minor: u64,
}

impl MinorVersion {
    /// The version a downgrade from this one may target: one minor lower.
    pub fn downgrade_target(self) -> Option<MinorVersion> {
        Some(MinorVersion { major: self.major, minor: self.minor.checked_sub(1)? })
    }

    /// `3.6`, as the `etcd_cluster_version` metric labels it.
    pub fn label(self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// etcd's `convertToClusterVersion`: a semantic version (`3.5.0`,
    /// `3.5.1-rc.0+build`) or `major.minor`; the patch is dropped.
    pub fn parse_target(v: &str) -> EtcdResult<MinorVersion> {
        let parsed = parse_semver(v).or_else(|| parse_semver(&format!("{v}.0")));
        parsed.map(|(major, minor)| MinorVersion { major, minor }).ok_or(EtcdError::WrongDowngradeVersionFormat)
    }

    fn from_stored(bytes: &[u8]) -> Option<MinorVersion> {
        let (major, minor) = parse_semver(std::str::from_utf8(bytes).ok()?)?;
        Some(MinorVersion { major, minor })
    }
}

/// `3.6.0`, as etcd prints a cluster version.
impl fmt::Display for MinorVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.0", self.major, self.minor)
    }
}

/// Major and minor of a go-semver version: three dot-separated decimal
/// numbers, then an optional `-prerelease` and `+metadata`.
fn parse_semver(v: &str) -> Option<(u64, u64)> {
    let v = v.split_once('+').map_or(v, |(core, _)| core);
    let v = v.split_once('-').map_or(v, |(core, _)| core);
    let mut parts = v.splitn(3, '.');
    let mut number = || parts.next().filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?.parse().ok();
    let (major, minor, _patch): (u64, u64, u64) = (number()?, number()?, number()?);
    Some((major, minor))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    cluster: MinorVersion,
    /// The target of an enabled downgrade.
    downgrade: Option<MinorVersion>,
}

/// The cluster version and the downgrade state, as applied.
#[derive(Debug)]
pub struct Versions {
    state: RwLock<State>,
}

impl Versions {
    /// The state stored in `read`: a fresh cluster runs at [`SERVER_MINOR`].
    pub fn load(read: &ReadTxn) -> backend::Result<Versions> {
        Ok(Versions { state: RwLock::new(Versions::stored(read)?) })
    }

    fn stored(read: &ReadTxn) -> backend::Result<State> {
        let cluster = read.meta(MetaKey::ClusterVersion)?.and_then(|b| MinorVersion::from_stored(&b));
        let downgrade = read.meta(MetaKey::Downgrade)?.and_then(|b| MinorVersion::from_stored(&b));
        Ok(State { cluster: cluster.unwrap_or(SERVER_MINOR), downgrade })
    }

    /// Reloads the state from `read` (after a Raft snapshot was installed).
    pub fn reload(&self, read: &ReadTxn) -> backend::Result<()> {
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = Versions::stored(read)?;
        Ok(())
    }

    fn get(&self) -> State {
        *self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The cluster version.
    pub fn cluster(&self) -> MinorVersion {
        self.get().cluster
    }

    /// The storage version etcd reports follows the cluster version once
    /// the member has migrated its file; Strata's file needs no migration.
    pub fn storage(&self) -> MinorVersion {
        self.cluster()
    }

    /// The target of an enabled downgrade.
    pub fn downgrade_target(&self) -> Option<MinorVersion> {
        self.get().downgrade
    }

    /// Status's `downgradeInfo`.
    pub fn downgrade_info(&self) -> DowngradeInfo {
        match self.downgrade_target() {
            Some(target) => DowngradeInfo { enabled: true, target_version: target.to_string() },
            None => DowngradeInfo::default(),
        }
    }

    /// Applies etcd's `DowngradeInfoSetRequest` (enabled with a target, or
    /// cancelled) in the entry's transaction.
    pub fn set_downgrade(&self, txn: &mut WriteTxn, target: Option<MinorVersion>) -> backend::Result<()> {
        let stored = target.map(|t| t.to_string()).unwrap_or_default();
        txn.put_meta(MetaKey::Downgrade, stored.as_bytes())?;
        self.state.write().unwrap_or_else(|e| e.into_inner()).downgrade = target;
        Ok(())
    }

    /// Applies etcd's `ClusterVersionSetRequest` in the entry's transaction.
    pub fn set_cluster(&self, txn: &mut WriteTxn, version: MinorVersion) -> backend::Result<()> {
        txn.put_meta(MetaKey::ClusterVersion, version.to_string().as_bytes())?;
        self.state.write().unwrap_or_else(|e| e.into_inner()).cluster = version;
        Ok(())
    }

    /// The cluster version the leader's monitor should set, if not the
    /// current one: an enabled downgrade's target, else the members'.
    pub fn wanted_change(&self) -> Option<MinorVersion> {
        let state = self.get();
        let want = state.downgrade.unwrap_or(SERVER_MINOR);
        (want != state.cluster).then_some(want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_etcds_convert_to_cluster_version() {
        let v35 = MinorVersion { major: 3, minor: 5 };
        for ok in ["3.5", "3.5.0", "3.5.9", "3.5.1-rc.0", "3.5.0+git"] {
            assert_eq!(MinorVersion::parse_target(ok), Ok(v35), "{ok}");
        }
        for bad in ["", "3", "v3.5", "foo", "3.x", "3.5.", "3..5", " 3.5"] {
            assert_eq!(MinorVersion::parse_target(bad), Err(EtcdError::WrongDowngradeVersionFormat), "{bad}");
        }
    }

    #[test]
    fn a_downgrade_targets_one_minor_lower() {
        assert_eq!(SERVER_MINOR.downgrade_target(), Some(MinorVersion { major: 3, minor: 5 }));
        assert_eq!(MinorVersion { major: 4, minor: 0 }.downgrade_target(), None);
        assert_eq!(SERVER_MINOR.to_string(), "3.6.0");
        assert_eq!(SERVER_MINOR.label(), "3.6");
    }
}
