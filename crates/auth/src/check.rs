//! The permissions a KV request needs, walked as etcd walks them
//! (`server/etcdserver/apply/apply_auth.go`): a range reads its keys; a put
//! writes its key, reads it too with `prev_kv`, and with a lease needs write
//! access to every key already attached to that lease (unless admin); a
//! delete writes its range and reads it with `prev_kv`; a txn reads every
//! compared key and needs what each of its operations needs, nested txns
//! included.

use api::etcdserverpb::{DeleteRangeRequest, PutRequest, RequestOp, TxnRequest, request_op::Request};

use crate::error::AuthResult;
use crate::perms::Access;
use crate::store::{AuthInfo, AuthStore};

/// The keys attached to a lease, or none when the lease does not exist.
pub type LeaseKeys<'a> = &'a dyn Fn(i64) -> Option<Vec<Vec<u8>>>;

impl AuthStore {
    pub fn check_range(&self, ai: Option<&AuthInfo>, key: &[u8], range_end: &[u8]) -> AuthResult<()> {
        self.check(ai, Access::Read, key, range_end)
    }

    pub fn check_put(&self, ai: Option<&AuthInfo>, p: &PutRequest, lease_keys: LeaseKeys<'_>) -> AuthResult<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        self.check(ai, Access::Write, &p.key, &[])?;
        if p.lease != 0
            && let Some(keys) = lease_keys(p.lease)
        {
            self.check_lease_keys(ai, &keys)?;
        }
        if p.prev_kv {
            self.check(ai, Access::Read, &p.key, &[])?;
        }
        Ok(())
    }

    pub fn check_delete_range(&self, ai: Option<&AuthInfo>, d: &DeleteRangeRequest) -> AuthResult<()> {
        self.check(ai, Access::Write, &d.key, &d.range_end)?;
        if d.prev_kv {
            self.check(ai, Access::Read, &d.key, &d.range_end)?;
        }
        Ok(())
    }

    pub fn check_txn(&self, ai: Option<&AuthInfo>, t: &TxnRequest, lease_keys: LeaseKeys<'_>) -> AuthResult<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        for c in &t.compare {
            self.check(ai, Access::Read, &c.key, &c.range_end)?;
        }
        self.check_ops(ai, &t.success, lease_keys)?;
        self.check_ops(ai, &t.failure, lease_keys)
    }

    fn check_ops(&self, ai: Option<&AuthInfo>, ops: &[RequestOp], lease_keys: LeaseKeys<'_>) -> AuthResult<()> {
        for op in ops {
            match &op.request {
                Some(Request::RequestRange(r)) => self.check(ai, Access::Read, &r.key, &r.range_end)?,
                Some(Request::RequestPut(p)) => self.check_put(ai, p, lease_keys)?,
                Some(Request::RequestDeleteRange(d)) => {
                    if d.prev_kv {
                        self.check(ai, Access::Read, &d.key, &d.range_end)?;
                    }
                    self.check(ai, Access::Write, &d.key, &d.range_end)?;
                }
                Some(Request::RequestTxn(t)) => self.check_txn(ai, t, lease_keys)?,
                None => {}
            }
        }
        Ok(())
    }

    /// Revoking a lease, or putting with it, deletes or rewrites its keys:
    /// write access to each, unless admin (etcd's `checkLeasePutsKeys`).
    pub fn check_lease_keys(&self, ai: Option<&AuthInfo>, keys: &[Vec<u8>]) -> AuthResult<()> {
        if self.check_admin(ai).is_ok() {
            return Ok(());
        }
        keys.iter().try_for_each(|k| self.check(ai, Access::Write, k, &[]))
    }

    /// Reading which keys a lease has (`LeaseTimeToLive` with `keys`): read
    /// access to each, unless admin.
    pub fn check_lease_keys_readable(&self, ai: Option<&AuthInfo>, keys: &[Vec<u8>]) -> AuthResult<()> {
        if self.check_admin(ai).is_ok() {
            return Ok(());
        }
        keys.iter().try_for_each(|k| self.check(ai, Access::Read, k, &[]))
    }
}
