//! Every table and meta key of `member/state.redb`, declared once.
//!
//! The layout follows etcd's buckets (etcd `server/storage/schema/bucket.go`):
//! the `key` table maps an encoded revision to an encoded `mvccpb.KeyValue`, so
//! a scan of the table is a scan in revision order; `meta` holds the few
//! scalars that must change atomically with the data. `docs/storage-format.md`
//! documents the byte layouts.

use redb::TableDefinition;

/// Revision (17 bytes: main BE, `_`, sub BE; 18 with a trailing `t` for a
/// tombstone) → protobuf-encoded `mvccpb.KeyValue`.
pub(crate) const KEY: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("key");

/// Meta key name → value. Names are listed in [`MetaKey`].
pub(crate) const META: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("meta");

/// Lease id (8 bytes, the id's two's-complement bits big-endian, as etcd's
/// `lease` bucket) → protobuf-encoded `leasepb.Lease` (encoded by the `lease`
/// crate). Added without a [`SCHEMA_VERSION`] bump: the change is backward
/// compatible, since a file written before the table existed reads as having
/// no leases, and redb leaves a table it is not asked about untouched.
pub(crate) const LEASE: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("lease");

/// Active alarm: member id (8 bytes BE) + alarm type (4 bytes BE) → empty.
/// Like etcd's `alarm` bucket, alarms survive restarts. Added without a
/// [`SCHEMA_VERSION`] bump for the same reason as [`LEASE`].
pub(crate) const ALARM: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("alarm");

/// Unix seconds (8 bytes BE) → the revision current then (8 bytes BE): the
/// revision clock the periodic auto-compactor reads (`revision_clock.rs`).
/// etcd keeps these samples in memory only. Added without a
/// [`SCHEMA_VERSION`] bump for the same reason as [`LEASE`]: a file without
/// it reads as "no samples yet".
pub(crate) const REVISION_CLOCK: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("revision_clock");

/// Member id (8 bytes BE) → encoded `membershippb.Attributes` (name, client
/// URLs) the member published through Raft. Added without a
/// [`SCHEMA_VERSION`] bump for the same reason as [`LEASE`].
pub(crate) const MEMBERS: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("members");

/// etcd's `auth` bucket: `authEnabled` (1 byte) and `authRevision` (8 bytes
/// BE). Added without a [`SCHEMA_VERSION`] bump for the same reason as
/// [`LEASE`]: a file without it has auth disabled at revision 0.
pub(crate) const AUTH: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("auth");

/// etcd's `authUsers` bucket: user name → encoded `authpb.User`.
pub(crate) const AUTH_USERS: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("authUsers");

/// etcd's `authRoles` bucket: role name → encoded `authpb.Role`.
pub(crate) const AUTH_ROLES: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("authRoles");

/// Every table whose keys are bytes, in the order dumps and copies visit them.
/// [`META`] (string keys) is the only other table. A new table must be added
/// here (at the end: snapshots name tables by position), or defragmentation
/// and snapshots silently drop it.
pub(crate) const BYTE_TABLES: [TableDefinition<'static, &[u8], &[u8]>; 8] =
    [KEY, LEASE, ALARM, REVISION_CLOCK, MEMBERS, AUTH, AUTH_USERS, AUTH_ROLES];

/// The version of this layout; bumped with an upgrade path on every change.
pub const SCHEMA_VERSION: u64 = 1;

/// The keys of the `meta` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    /// The Raft state (applied log id and membership) last applied, stored in
    /// the same transaction as the entry's effect. etcd calls the index part of
    /// this `consistent_index`.
    ConsistentIndex,
    /// The revision of the last compaction that was scheduled (17-byte revision).
    ScheduledCompactRev,
    /// The revision of the last compaction whose deletions finished.
    FinishedCompactRev,
    /// [`SCHEMA_VERSION`] as 8 bytes big-endian.
    SchemaVersion,
    /// The member id and cluster id fixed at bootstrap (8 + 8 bytes
    /// big-endian). etcd keeps them in its WAL metadata.
    MemberIdentity,
    /// The cluster version (`3.6.0`), as etcd's `cluster` bucket keeps it.
    ClusterVersion,
    /// The target of an enabled downgrade (`3.5.0`), empty when none.
    Downgrade,
}

impl MetaKey {
    pub(crate) fn name(self) -> &'static str {
        match self {
            MetaKey::ConsistentIndex => "consistent_index",
            MetaKey::ScheduledCompactRev => "scheduledCompactRev",
            MetaKey::FinishedCompactRev => "finishedCompactRev",
            MetaKey::SchemaVersion => "schema_version",
            MetaKey::MemberIdentity => "member_identity",
            MetaKey::ClusterVersion => "clusterVersion",
            MetaKey::Downgrade => "downgrade",
        }
    }
}
