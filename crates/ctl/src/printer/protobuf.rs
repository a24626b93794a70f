//! `-w protobuf`: the response's wire encoding, written raw with no newline, as
//! etcdctl's `printPB` does. prost and gogo both write fields in number order and skip
//! defaults, so the bytes are the same.

use crate::command::watch::WatchUpdate;
use api::etcdserverpb::{ResponseHeader, WatchResponse};

/// Appends `msg`'s protobuf encoding.
pub fn write(out: &mut Vec<u8>, msg: &impl prost::Message) {
    msg.encode(out).expect("a Vec<u8> grows to fit any message");
}

/// `lease grant`, `keep-alive`, `timetolive` and `list`: clientv3's wrapper structs embed
/// `*pb.ResponseHeader` and so inherit its `Marshal` method; etcdctl writes the header's
/// encoding alone.
pub fn embedded_header(out: &mut Vec<u8>, h: Option<&ResponseHeader>) {
    if let Some(h) = h {
        write(out, h);
    }
}

/// `watch`: etcdctl rebuilds a `pb.WatchResponse` from clientv3's, with the header always
/// present and without the watch id, cancel reason or fragment flag.
pub fn watch(out: &mut Vec<u8>, r: &WatchUpdate) {
    let pb = WatchResponse {
        header: Some(r.header),
        events: r.events.clone().unwrap_or_default(),
        compact_revision: r.compact_revision,
        canceled: r.canceled,
        created: r.created,
        ..Default::default()
    };
    write(out, &pb);
}

/// A header as Go's `%v` prints the pointer: gogo's compact text (`name:value ` per
/// non-zero field), or `<nil>`.
pub fn header_text(h: Option<&ResponseHeader>) -> String {
    let Some(h) = h else { return "<nil>".to_owned() };
    let mut s = String::new();
    for (name, v) in [
        ("cluster_id", h.cluster_id.to_string()),
        ("member_id", h.member_id.to_string()),
        ("revision", h.revision.to_string()),
        ("raft_term", h.raft_term.to_string()),
    ] {
        if v != "0" {
            s.push_str(&format!("{name}:{v} "));
        }
    }
    s
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
