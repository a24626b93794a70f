//! Revisions and their on-disk encoding.

/// A point in the store's history: `main` is the revision of a write
/// transaction, `sub` the index of a change inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
}

/// Length of an encoded revision; a tombstone adds one marker byte.
pub const REV_BYTES_LEN: usize = 17;
const MARK_TOMBSTONE: u8 = b't';

impl Revision {
    pub fn new(main: i64, sub: i64) -> Revision {
        Revision { main, sub }
    }

    /// Encodes as etcd does: 8 bytes big-endian main, `_`, 8 bytes big-endian
    /// sub, and a trailing `t` for a tombstone. Byte order equals revision order
    /// because revisions are never negative on disk.
    pub fn to_bytes(self, tombstone: bool) -> Vec<u8> {
        let mut b = Vec::with_capacity(REV_BYTES_LEN + 1);
        b.extend_from_slice(&self.main.to_be_bytes());
        b.push(b'_');
        b.extend_from_slice(&self.sub.to_be_bytes());
        if tombstone {
            b.push(MARK_TOMBSTONE);
        }
        b
    }

    /// Decodes a `key` table key into the revision and its tombstone flag.
    pub fn from_bytes(b: &[u8]) -> Option<(Revision, bool)> {
        if b.len() != REV_BYTES_LEN && b.len() != REV_BYTES_LEN + 1 {
            return None;
        }
        let main = i64::from_be_bytes(b[0..8].try_into().ok()?);
        let sub = i64::from_be_bytes(b[9..17].try_into().ok()?);
        let tombstone = b.len() == REV_BYTES_LEN + 1 && b[REV_BYTES_LEN] == MARK_TOMBSTONE;
        Some((Revision { main, sub }, tombstone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_orders_like_revisions() {
        let a = Revision::new(5, 1).to_bytes(false);
        let b = Revision::new(5, 2).to_bytes(true);
        let c = Revision::new(256, 0).to_bytes(false);
        assert!(a < b && b < c);
        assert_eq!(Revision::from_bytes(&b), Some((Revision::new(5, 2), true)));
        assert_eq!(a.len(), 17);
        assert_eq!(a[8], b'_');
    }
}
