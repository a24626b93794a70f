//! How many bytes of the state database hold live data (etcd's
//! `dbSizeInUse`), measured from one read transaction.

use redb::{ReadableDatabase, ReadableTableMetadata};

use crate::backend::Backend;
use crate::error::{Result, storage};
use crate::schema::{BYTE_TABLES, META};

impl Backend {
    /// The bytes of every page the tables use — stored keys and values, page
    /// metadata and the unused tail of each page — walked from one read
    /// transaction, so it never blocks the writer but reads every page: call
    /// it off the request path, after events that change it a lot
    /// (compaction, defragmentation), not per request.
    pub fn measure_in_use(&self) -> Result<u64> {
        let db = self.database();
        let read = db.begin_read().map_err(storage("begin size read"))?;
        let mut bytes = 0u64;
        let mut add = |s: redb::TableStats| {
            bytes += s.stored_bytes() + s.metadata_bytes() + s.fragmented_bytes();
        };
        match read.open_table(META) {
            Ok(t) => add(t.stats().map_err(storage("meta table stats"))?),
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(storage("open meta table")(e)),
        }
        for def in BYTE_TABLES {
            match read.open_table(def) {
                Ok(t) => add(t.stats().map_err(storage("table stats"))?),
                Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(storage("open table for stats")(e)),
            }
        }
        Ok(bytes)
    }

    /// redb's own accounting of the file: pages allocated (in use by a tree,
    /// or freed but still pinned by a reader or by a commit not yet durable),
    /// and pages free for reuse. Takes the write transaction for a moment:
    /// diagnostics and space tests only.
    pub fn page_stats(&self) -> Result<PageStats> {
        let db = self.database();
        let txn = db.begin_write().map_err(storage("begin stats"))?;
        let stats = txn.stats().map_err(storage("database stats"))?;
        let page = stats.page_size() as u64;
        txn.abort().map_err(storage("abort stats"))?;
        Ok(PageStats {
            page_size: page,
            allocated_bytes: stats.allocated_pages() * page,
            leaf_pages: stats.leaf_pages(),
            branch_pages: stats.branch_pages(),
            stored_bytes: stats.stored_bytes(),
        })
    }
}

/// What [`Backend::page_stats`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageStats {
    pub page_size: u64,
    /// Bytes of every allocated page: live trees, system tables and pages
    /// freed but not yet reusable.
    pub allocated_bytes: u64,
    /// Leaf and branch pages of the user tables.
    pub leaf_pages: u64,
    pub branch_pages: u64,
    /// Key and value bytes stored in the user tables.
    pub stored_bytes: u64,
}

#[cfg(test)]
mod tests {
    use crate::Backend;

    #[test]
    fn in_use_follows_the_data_not_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let be = Backend::open(&dir.path().join("state.redb")).expect("open");
        let empty = be.measure_in_use().expect("measure");
        let mut w = be.begin_write().expect("write");
        for i in 0u32..2000 {
            w.put_revision(&i.to_be_bytes(), &[1u8; 500]).expect("put");
        }
        w.commit(true).expect("commit");
        let full = be.measure_in_use().expect("measure");
        assert!(full >= empty + 2000 * 504, "{empty} → {full}");
        assert!(full <= be.size_bytes());
        let mut w = be.begin_write().expect("write");
        w.delete_revisions_if(&[], &[0xff], usize::MAX, |_| true).expect("delete");
        w.commit(true).expect("commit");
        let after = be.measure_in_use().expect("measure");
        assert!(after < full / 10, "{after} of {full} after deleting everything");
    }
}
