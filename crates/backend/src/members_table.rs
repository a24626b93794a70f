//! The `members` table: what each member published about itself (etcd
//! 3.5's `ClusterMemberAttrSetRequest`: name and client URLs), applied from
//! the Raft log so that every member lists the same.
//!
//! Key: member id (8 bytes big-endian). Value: an encoded
//! `membershippb.Attributes` (encoded by the server).

use redb::ReadableTable;

use crate::backend::{ReadTxn, WriteTxn};
use crate::error::{Error, Result, storage};
use crate::schema::MEMBERS;

impl WriteTxn {
    /// Stores (or replaces) the attributes of member `id`.
    pub fn put_member_attributes(&mut self, id: u64, attributes: &[u8]) -> Result<()> {
        let mut table = self.txn.open_table(MEMBERS).map_err(storage("open members table"))?;
        table.insert(id.to_be_bytes().as_slice(), attributes).map_err(storage("put member attributes"))?;
        Ok(())
    }
}

impl ReadTxn {
    /// Every member's stored attributes, by id.
    pub fn member_attributes(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let table = match self.txn.open_table(MEMBERS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(storage("open members table")(e)),
        };
        let mut out = Vec::new();
        for item in table.iter().map_err(storage("scan members table"))? {
            let (k, v) = item.map_err(storage("scan members table"))?;
            let id = <[u8; 8]>::try_from(k.value()).map_err(|_| Error::Corrupt {
                what: "members table key",
                detail: format!("{} bytes, want 8", k.value().len()),
            })?;
            out.push((u64::from_be_bytes(id), v.value().to_vec()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::Backend;

    #[test]
    fn attributes_are_replaced_and_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.redb");
        let be = Backend::open(&path).expect("open");
        let mut w = be.begin_write().expect("write");
        w.put_member_attributes(2, b"old").expect("put");
        w.put_member_attributes(2, b"new").expect("replace");
        w.put_member_attributes(1, b"one").expect("put");
        w.commit(true).expect("commit");
        drop(be);
        let be = Backend::open(&path).expect("reopen");
        let got = be.begin_read().expect("read").member_attributes().expect("scan");
        assert_eq!(got, vec![(1, b"one".to_vec()), (2, b"new".to_vec())]);
    }
}
