//! [`LeaseRecord`]: a value of the backend's `lease` table.
//!
//! etcd stores `leasepb.Lease { int64 ID = 1; int64 TTL = 2; int64
//! RemainingTTL = 3; }` in its `lease` bucket; we store the same message so a
//! dump reads with etcd's proto. Three varint fields do not need a code
//! generator (this crate sits below `api`), so they are written by hand as
//! mvcc's `key_value.rs` does for `mvccpb.KeyValue`.

use prost::encoding::{decode_varint, encode_varint};

/// One persisted lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LeaseRecord {
    pub(crate) id: i64,
    /// Granted TTL in seconds, after the minimum-TTL raise.
    pub(crate) ttl_secs: i64,
    /// Checkpointed remaining TTL in seconds; 0 means none (use `ttl_secs`).
    pub(crate) remaining_ttl_secs: i64,
}

impl LeaseRecord {
    /// Encodes as `leasepb.Lease` (proto3: zero fields omitted; negative
    /// values as 10-byte two's-complement varints, like Go's int64).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(33);
        put_field(&mut b, 1, self.id);
        put_field(&mut b, 2, self.ttl_secs);
        put_field(&mut b, 3, self.remaining_ttl_secs);
        b
    }

    /// Decodes what [`LeaseRecord::encode`] (or any proto3 encoder) wrote;
    /// unknown varint and length-delimited fields are skipped.
    pub(crate) fn decode(mut b: &[u8]) -> Option<LeaseRecord> {
        let mut r = LeaseRecord::default();
        while !b.is_empty() {
            let tag = decode_varint(&mut b).ok()?;
            match tag & 7 {
                0 => {
                    let v = decode_varint(&mut b).ok()? as i64;
                    match tag >> 3 {
                        1 => r.id = v,
                        2 => r.ttl_secs = v,
                        3 => r.remaining_ttl_secs = v,
                        _ => {}
                    }
                }
                2 => {
                    let len = usize::try_from(decode_varint(&mut b).ok()?).ok()?;
                    b = b.get(len..)?;
                }
                _ => return None,
            }
        }
        Some(r)
    }
}

fn put_field(b: &mut Vec<u8>, field: u64, v: i64) {
    if v != 0 {
        encode_varint(field << 3, b);
        encode_varint(v as u64, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_leasepb_and_round_trips() {
        let r = LeaseRecord { id: 0x694d_7a2b_1c3e_0f01, ttl_secs: 300, remaining_ttl_secs: 0 };
        let b = r.encode();
        // ID: tag 0x08 then a 9-byte varint; TTL: tag 0x10, 300 = 0xac 0x02.
        assert_eq!(b[0], 0x08);
        assert_eq!(&b[b.len() - 3..], &[0x10, 0xac, 0x02]);
        assert_eq!(LeaseRecord::decode(&b), Some(r));

        let neg = LeaseRecord { id: -5, ttl_secs: 2, remaining_ttl_secs: 7 };
        let b = neg.encode();
        assert_eq!(b.len(), 1 + 10 + 2 + 2, "negative int64 is a 10-byte varint");
        assert_eq!(LeaseRecord::decode(&b), Some(neg));
    }

    #[test]
    fn skips_unknown_fields_and_rejects_truncation() {
        // field 4 varint 1, field 5 bytes "ab", then TTL 5.
        let b = [0x20, 1, 0x2a, 2, b'a', b'b', 0x10, 5];
        assert_eq!(LeaseRecord::decode(&b), Some(LeaseRecord { id: 0, ttl_secs: 5, remaining_ttl_secs: 0 }));
        assert_eq!(LeaseRecord::decode(&[0x10]), None);
        assert_eq!(LeaseRecord::decode(&[0x2a, 5, 1]), None);
        assert_eq!(LeaseRecord::decode(&[0x0d, 0, 0, 0, 0]), None, "fixed32 is not a leasepb wire type");
    }
}
