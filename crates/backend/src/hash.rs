//! `Maintenance.Hash`: a checksum of the whole state database.

use redb::{ReadableDatabase, ReadableTable};

use crate::backend::Backend;
use crate::error::{Result, storage};
use crate::schema::{BYTE_TABLES, META, MetaKey, REVISION_CLOCK};

impl Backend {
    /// CRC-32C (Castagnoli, as etcd's `Hash`) of every table's name, keys and
    /// values from one read transaction, leaving out what is local to a
    /// member: the applied Raft state (etcd's hash ignores its
    /// `consistent_index` too) and the revision clock (apply times), so
    /// members with the same data agree.
    pub fn hash(&self) -> Result<u32> {
        let db = self.database();
        let read = db.begin_read().map_err(storage("begin hash read"))?;
        let mut h = 0u32;
        match read.open_table(META) {
            Ok(table) => {
                h = crc32c::crc32c_append(h, META.to_string().as_bytes());
                for item in table.iter().map_err(storage("scan meta table"))? {
                    let (k, v) = item.map_err(storage("scan meta table"))?;
                    if k.value() == MetaKey::ConsistentIndex.name() {
                        continue;
                    }
                    h = crc32c::crc32c_append(h, k.value().as_bytes());
                    h = crc32c::crc32c_append(h, v.value());
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(storage("open meta table")(e)),
        }
        for def in BYTE_TABLES {
            // The revision clock holds each member's own apply times.
            if def.to_string() == REVISION_CLOCK.to_string() {
                continue;
            }
            let table = match read.open_table(def) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => continue,
                Err(e) => return Err(storage("open table to hash")(e)),
            };
            h = crc32c::crc32c_append(h, def.to_string().as_bytes());
            for item in table.iter().map_err(storage("scan table to hash"))? {
                let (k, v) = item.map_err(storage("scan table to hash"))?;
                h = crc32c::crc32c_append(h, k.value());
                h = crc32c::crc32c_append(h, v.value());
            }
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Backend, MetaKey};

    #[test]
    fn the_hash_follows_the_data_not_the_applied_index_nor_defrag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let be = Backend::open(&dir.path().join("state.redb")).expect("open");
        let empty = be.hash().expect("hash");
        let mut w = be.begin_write().expect("write");
        w.put_revision(b"r1", b"v1").expect("put");
        w.commit(false).expect("commit");
        let one = be.hash().expect("hash");
        assert_ne!(one, empty);
        let mut w = be.begin_write().expect("write");
        w.put_meta(MetaKey::ConsistentIndex, b"applied").expect("meta");
        w.commit(false).expect("commit");
        assert_eq!(be.hash().expect("hash"), one);
        be.defrag().expect("defrag");
        assert_eq!(be.hash().expect("hash"), one);
    }
}
