//! etcd's KV request semantics (Range, Put, DeleteRange, Txn and its
//! compares), run on a [`View`]: a read transaction for the read path
//! (`KvService` after a read index, the Lock and Election services) or the
//! applier's write transaction for a committed entry. It knows nothing of
//! Raft: the read path never goes through the applier, and the applier only
//! calls in here.

mod ops;
mod txn;
mod view;

pub use ops::{check_put, delete_range, put, range};
pub use txn::{is_read_only, is_serializable, txn};
pub use view::{View, to_pb};
