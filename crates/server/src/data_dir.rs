//! What a member keeps in its data dir besides the store and the log: where
//! its files are, and the member and cluster ids fixed at bootstrap.

use std::path::{Path, PathBuf};

use backend::{Backend, MetaKey};

/// The ids fixed at bootstrap, if this data dir has them.
pub fn stored_ids(backend: &Backend) -> backend::Result<Option<(u64, u64)>> {
    Ok(backend.begin_read()?.meta(MetaKey::MemberIdentity)?.and_then(|v| api::identity::decode_stored(&v)))
}

/// The ids stored at bootstrap, or `fresh`, stored now (durably).
pub fn load_or_store_ids(backend: &Backend, fresh: (u64, u64)) -> backend::Result<(u64, u64)> {
    if let Some(ids) = stored_ids(backend)? {
        return Ok(ids);
    }
    let mut w = backend.begin_write()?;
    w.put_meta(MetaKey::MemberIdentity, &api::identity::encode_stored(fresh.0, fresh.1))?;
    w.commit(true)?;
    Ok(fresh)
}

/// The directory of a member's files under its data dir.
pub fn member_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("member")
}
