//! [`KeyValue`] and its protobuf encoding in the `key` table.
//!
//! Values of the `key` table are `mvccpb.KeyValue` messages, as in etcd, so a
//! dump is readable with the published proto. mvcc does not depend on the
//! generated `api` crate (it sits below it), and six scalar fields do not need a
//! code generator: this file writes and reads them by hand.

use prost::encoding::{decode_varint, encode_varint};

/// One version of a key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyValue {
    pub key: Vec<u8>,
    /// Revision of the put that created this generation of the key.
    pub create_revision: i64,
    /// Revision of this version.
    pub mod_revision: i64,
    /// 1 on creation, +1 on every put; 0 in a tombstone.
    pub version: i64,
    pub value: Vec<u8>,
    /// Attached lease id, 0 for none.
    pub lease: i64,
}

impl KeyValue {
    /// Encodes as `mvccpb.KeyValue` (fields 1..6, zero values omitted).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.key.len() + self.value.len() + 32);
        put_bytes(&mut b, 1, &self.key);
        put_varint_field(&mut b, 2, self.create_revision);
        put_varint_field(&mut b, 3, self.mod_revision);
        put_varint_field(&mut b, 4, self.version);
        put_bytes(&mut b, 5, &self.value);
        put_varint_field(&mut b, 6, self.lease);
        b
    }

    /// Decodes what [`KeyValue::encode`] (or any proto3 encoder) wrote.
    pub fn decode(mut b: &[u8]) -> Option<KeyValue> {
        let mut kv = KeyValue::default();
        while !b.is_empty() {
            let tag = decode_varint(&mut b).ok()?;
            let (field, wire) = (tag >> 3, tag & 7);
            match wire {
                0 => {
                    let v = decode_varint(&mut b).ok()? as i64;
                    match field {
                        2 => kv.create_revision = v,
                        3 => kv.mod_revision = v,
                        4 => kv.version = v,
                        6 => kv.lease = v,
                        _ => {}
                    }
                }
                2 => {
                    let len = usize::try_from(decode_varint(&mut b).ok()?).ok()?;
                    if len > b.len() {
                        return None;
                    }
                    let (data, rest) = b.split_at(len);
                    match field {
                        1 => kv.key = data.to_vec(),
                        5 => kv.value = data.to_vec(),
                        _ => {}
                    }
                    b = rest;
                }
                _ => return None,
            }
        }
        Some(kv)
    }
}

fn put_varint_field(b: &mut Vec<u8>, field: u64, v: i64) {
    if v != 0 {
        encode_varint(field << 3, b);
        encode_varint(v as u64, b);
    }
}

fn put_bytes(b: &mut Vec<u8>, field: u64, data: &[u8]) {
    if !data.is_empty() {
        encode_varint((field << 3) | 2, b);
        encode_varint(data.len() as u64, b);
        b.extend_from_slice(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_proto_bytes() {
        let kv = KeyValue {
            key: b"foo".to_vec(),
            create_revision: 2,
            mod_revision: 300,
            version: 1,
            value: b"bar".to_vec(),
            lease: -1,
        };
        let b = kv.encode();
        assert_eq!(&b[..5], &[0x0a, 3, b'f', b'o', b'o']);
        assert_eq!(&b[5..7], &[0x10, 2]);
        assert_eq!(&b[7..10], &[0x18, 0xac, 0x02]);
        assert_eq!(KeyValue::decode(&b), Some(kv));
        assert_eq!(KeyValue::decode(&[0x0a, 9, 1]), None);
    }
}
