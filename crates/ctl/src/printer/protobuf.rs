//! `-w protobuf`: the response's wire encoding, written raw with no newline, as
//! etcdctl's `printPB` does. prost and gogo both write fields in number order and skip
//! defaults, so the bytes are the same.

/// Appends `msg`'s protobuf encoding.
pub fn write(out: &mut Vec<u8>, msg: &impl prost::Message) {
    msg.encode(out).expect("a Vec<u8> grows to fit any message");
}

#[cfg(test)]
mod tests {
    use api::etcdserverpb::{PutResponse, ResponseHeader};

    #[test]
    fn writes_the_wire_bytes() {
        let r = PutResponse { header: Some(ResponseHeader { revision: 2, ..Default::default() }), prev_kv: None };
        let mut out = Vec::new();
        super::write(&mut out, &r);
        assert_eq!(out, [0x0a, 0x02, 0x18, 0x02]);
    }
}
