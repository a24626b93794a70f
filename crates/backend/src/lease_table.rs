//! The `lease` table: lease id → encoded `leasepb.Lease`.
//!
//! The backend only knows the key layout (the id as 8 bytes big-endian, as in
//! etcd's `lease` bucket); the value belongs to the `lease` crate.

use redb::ReadableTable;

use crate::backend::{ReadTxn, WriteTxn};
use crate::error::{Error, Result, storage};
use crate::schema::LEASE;

fn lease_key(id: i64) -> [u8; 8] {
    (id as u64).to_be_bytes()
}

impl WriteTxn {
    /// Stores (or replaces) the record of lease `id`.
    pub fn put_lease(&mut self, id: i64, value: &[u8]) -> Result<()> {
        let mut table = self.txn.open_table(LEASE).map_err(storage("open lease table"))?;
        table.insert(lease_key(id).as_slice(), value).map_err(storage("put lease"))?;
        Ok(())
    }

    /// Removes the record of lease `id`; absent ids are not an error.
    pub fn delete_lease(&mut self, id: i64) -> Result<()> {
        let mut table = self.txn.open_table(LEASE).map_err(storage("open lease table"))?;
        table.remove(lease_key(id).as_slice()).map_err(storage("delete lease"))?;
        Ok(())
    }
}

impl ReadTxn {
    /// Calls `f(id, value)` for every record of the `lease` table, in key
    /// order (ids as unsigned big-endian: non-negative ids first), until it
    /// returns `false`.
    pub fn scan_leases(&self, mut f: impl FnMut(i64, &[u8]) -> bool) -> Result<()> {
        let table = match self.txn.open_table(LEASE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(storage("open lease table")(e)),
        };
        for item in table.iter().map_err(storage("scan lease table"))? {
            let (k, v) = item.map_err(storage("scan lease table"))?;
            let id = <[u8; 8]>::try_from(k.value()).map_err(|_| Error::Corrupt {
                what: "lease table key",
                detail: format!("{} bytes, want 8", k.value().len()),
            })?;
            if !f(u64::from_be_bytes(id) as i64, v.value()) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Backend;

    fn all(be: &Backend) -> Vec<(i64, Vec<u8>)> {
        let mut seen = Vec::new();
        be.begin_read()
            .expect("begin read")
            .scan_leases(|id, v| {
                seen.push((id, v.to_vec()));
                true
            })
            .expect("scan");
        seen
    }

    #[test]
    fn put_replace_delete_and_scan_in_key_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let be = Backend::open(&dir.path().join("state.redb")).expect("open");
        assert_eq!(all(&be), vec![], "a file without the table has no leases");

        let mut w = be.begin_write().expect("begin write");
        w.put_lease(-1, b"neg").expect("write lease");
        w.put_lease(7, b"old").expect("write lease");
        w.put_lease(7, b"seven").expect("write lease");
        w.put_lease(3, b"three").expect("write lease");
        w.delete_lease(42).expect("write lease");
        w.commit(true).expect("commit");
        assert_eq!(all(&be), vec![(3, b"three".to_vec()), (7, b"seven".to_vec()), (-1, b"neg".to_vec())]);

        let mut w = be.begin_write().expect("begin write");
        w.delete_lease(7).expect("write lease");
        w.commit(false).expect("commit");
        assert_eq!(all(&be), vec![(3, b"three".to_vec()), (-1, b"neg".to_vec())]);
    }

    #[test]
    fn scan_stops_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let be = Backend::open(&dir.path().join("state.redb")).expect("open");
        let mut w = be.begin_write().expect("begin write");
        for id in 1..=5 {
            w.put_lease(id, b"x").expect("write lease");
        }
        w.commit(true).expect("commit");
        let mut n = 0;
        be.begin_read()
            .expect("begin read")
            .scan_leases(|_, _| {
                n += 1;
                n < 2
            })
            .expect("scan");
        assert_eq!(n, 2);
    }
}
