//! [`TxnRead`]: a read at a fixed revision, and the range logic shared with writes.

use backend::ReadTxn;

use crate::error::{Error, Result};
use crate::key_value::KeyValue;
use crate::revision::Revision;
use crate::store::Store;
use crate::tree_index::{KeyRange, TreeIndex};

/// What a range reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeOptions {
    /// At most this many keys; `<= 0` means no limit.
    pub limit: i64,
    /// The revision to read at; `<= 0` means the transaction's revision.
    pub rev: i64,
    /// Count the keys without reading their values.
    pub count_only: bool,
}

/// The answer of a range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RangeResult {
    pub kvs: Vec<KeyValue>,
    /// The transaction's revision (the store's current revision for reads).
    pub rev: i64,
    /// Number of keys in the range at the read revision, ignoring the limit.
    pub count: usize,
}

/// A consistent read at the revision current when it began.
pub struct TxnRead {
    store: Store,
    rev: i64,
    txn: ReadTxn,
}

impl TxnRead {
    pub(crate) fn new(store: Store, rev: i64, txn: ReadTxn) -> TxnRead {
        TxnRead { store, rev, txn }
    }

    /// The revision this read sees.
    pub fn rev(&self) -> i64 {
        self.rev
    }

    /// The compacted revision (reads below it fail), -1 if none.
    pub fn compact_rev(&self) -> i64 {
        self.store.compact_rev()
    }

    /// Reads `range` as `opts` says.
    pub fn range(&self, range: KeyRange<'_>, opts: RangeOptions) -> Result<RangeResult> {
        let (located, count) = {
            let index = self.store.index();
            locate(&index, range, self.rev, self.store.compact_rev(), opts)?
        };
        let kvs = fetch(located, |ks| Ok(self.txn.get_revisions(ks)?))?;
        Ok(RangeResult { kvs, rev: self.rev, count })
    }
}

/// Validates the read revision and finds the revisions holding the values.
pub(crate) fn locate(
    index: &TreeIndex,
    range: KeyRange<'_>,
    cur_rev: i64,
    compact_rev: i64,
    opts: RangeOptions,
) -> Result<(Vec<Revision>, usize)> {
    let at = if opts.rev <= 0 { cur_rev } else { opts.rev };
    if at > cur_rev {
        return Err(Error::FutureRev { requested: at, current: cur_rev });
    }
    if at < compact_rev {
        return Err(Error::Compacted { requested: at, compacted: compact_rev });
    }
    let limit = if opts.limit > 0 && !opts.count_only { opts.limit as usize } else { usize::MAX };
    let mut revs = Vec::new();
    let mut count = 0usize;
    index.range(range, at, |_, k| {
        count += 1;
        if revs.len() < limit && !opts.count_only {
            revs.push(k.modified);
        }
        true
    });
    Ok((revs, count))
}

/// Reads the values of located revisions through `get_many` (one backend
/// table handle for the whole range).
pub(crate) fn fetch(
    revs: Vec<Revision>,
    get_many: impl FnOnce(&[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>>,
) -> Result<Vec<KeyValue>> {
    let rev_keys: Vec<Vec<u8>> = revs.iter().map(|r| r.to_bytes(false)).collect();
    let values = get_many(&rev_keys)?;
    let mut kvs = Vec::with_capacity(values.len());
    for (rev_key, value) in rev_keys.into_iter().zip(values) {
        let kv = value.as_deref().and_then(KeyValue::decode).ok_or(Error::Corrupt { rev_key })?;
        kvs.push(kv);
    }
    Ok(kvs)
}
