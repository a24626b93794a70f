//! The auth tables, as etcd's `auth`, `authUsers` and `authRoles` buckets:
//! whether auth is enabled and the auth store's revision, then one record per
//! user and per role. The records are encoded `authpb.User` and `authpb.Role`
//! messages; their meaning belongs to the `auth` crate.
//!
//! Keys of `auth`: `authEnabled` (one byte, 1 or 0) and `authRevision` (8
//! bytes big-endian), etcd's names. Keys of `authUsers` and `authRoles`: the
//! user or role name.

use redb::{ReadableTable, TableDefinition};

use crate::backend::{ReadTxn, WriteTxn};
use crate::error::{Result, storage};
use crate::schema::{AUTH, AUTH_ROLES, AUTH_USERS};

/// One of the three auth tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthTable {
    /// `authEnabled` and `authRevision`.
    Auth,
    /// User name → encoded `authpb.User`.
    Users,
    /// Role name → encoded `authpb.Role`.
    Roles,
}

impl AuthTable {
    fn definition(self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        match self {
            AuthTable::Auth => AUTH,
            AuthTable::Users => AUTH_USERS,
            AuthTable::Roles => AUTH_ROLES,
        }
    }
}

impl WriteTxn {
    /// Stores (or replaces) one auth record.
    pub fn put_auth(&mut self, table: AuthTable, key: &[u8], value: &[u8]) -> Result<()> {
        let mut t = self.txn.open_table(table.definition()).map_err(storage("open auth table"))?;
        t.insert(key, value).map_err(storage("put auth record"))?;
        Ok(())
    }

    /// Removes one auth record; an absent one is not an error.
    pub fn delete_auth(&mut self, table: AuthTable, key: &[u8]) -> Result<()> {
        let mut t = self.txn.open_table(table.definition()).map_err(storage("open auth table"))?;
        t.remove(key).map_err(storage("delete auth record"))?;
        Ok(())
    }
}

impl ReadTxn {
    /// Every record of an auth table, in key order; none when the table was
    /// never written (a file from before auth existed).
    pub fn auth_records(&self, table: AuthTable) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let t = match self.txn.open_table(table.definition()) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(storage("open auth table")(e)),
        };
        let mut out = Vec::new();
        for item in t.iter().map_err(storage("scan auth table"))? {
            let (k, v) = item.map_err(storage("scan auth table"))?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::AuthTable;
    use crate::Backend;

    #[test]
    fn records_are_replaced_deleted_and_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.redb");
        let be = Backend::open(&path).expect("open");
        assert!(be.begin_read().expect("read").auth_records(AuthTable::Users).expect("scan").is_empty());
        let mut w = be.begin_write().expect("write");
        w.put_auth(AuthTable::Users, b"root", b"old").expect("put");
        w.put_auth(AuthTable::Users, b"root", b"new").expect("replace");
        w.put_auth(AuthTable::Users, b"alice", b"a").expect("put");
        w.put_auth(AuthTable::Roles, b"root", b"r").expect("put");
        w.delete_auth(AuthTable::Roles, b"absent").expect("delete absent");
        w.commit(true).expect("commit");
        drop(be);
        let be = Backend::open(&path).expect("reopen");
        let r = be.begin_read().expect("read");
        assert_eq!(
            r.auth_records(AuthTable::Users).expect("scan"),
            vec![(b"alice".to_vec(), b"a".to_vec()), (b"root".to_vec(), b"new".to_vec())]
        );
        assert_eq!(r.auth_records(AuthTable::Roles).expect("scan"), vec![(b"root".to_vec(), b"r".to_vec())]);
        assert!(r.auth_records(AuthTable::Auth).expect("scan").is_empty());
        drop(r);
        let mut w = be.begin_write().expect("write");
        w.delete_auth(AuthTable::Users, b"root").expect("delete");
        w.commit(true).expect("commit");
        let got = be.begin_read().expect("read").auth_records(AuthTable::Users).expect("scan");
        assert_eq!(got, vec![(b"alice".to_vec(), b"a".to_vec())]);
    }
}
