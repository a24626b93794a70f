//! [`View`]: the read or write transaction a request runs in.

use mvcc::{KeyRange, RangeOptions, RangeResult, TxnRead, TxnWrite};

use crate::error::{EtcdError, EtcdResult};

/// A read-only request runs on a [`TxnRead`] (after the read index); a write
/// runs on the apply loop's [`TxnWrite`]. Range and compare logic is shared.
pub enum View<'a, 's> {
    Read(&'a TxnRead),
    Write(&'a mut TxnWrite<'s>),
}

impl<'s> View<'_, 's> {
    pub fn range(&self, range: KeyRange<'_>, opts: RangeOptions) -> mvcc::Result<RangeResult> {
        match self {
            View::Read(r) => r.range(range, opts),
            View::Write(w) => w.range(range, opts),
        }
    }

    /// The revision reads see (for a write, the new one once it changed anything).
    pub fn rev(&self) -> i64 {
        match self {
            View::Read(r) => r.rev(),
            View::Write(w) => w.rev(),
        }
    }

    /// The compacted revision, -1 if none.
    pub fn compact_rev(&self) -> i64 {
        match self {
            View::Read(r) => r.compact_rev(),
            View::Write(w) => w.compact_rev(),
        }
    }

    /// The write transaction; a read-only request that reaches a write is a bug
    /// of the read-only classification, not a client error.
    pub fn writer(&mut self) -> EtcdResult<&mut TxnWrite<'s>> {
        match self {
            View::Write(w) => Ok(w),
            View::Read(_) => Err(EtcdError::Internal("write in a read-only txn".into())),
        }
    }
}

/// Converts an mvcc key-value to the wire type.
pub fn to_pb(kv: mvcc::KeyValue) -> api::mvccpb::KeyValue {
    api::mvccpb::KeyValue {
        key: kv.key,
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value,
        lease: kv.lease,
    }
}
