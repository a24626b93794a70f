//! The wire types of Strata: the protobuf messages and gRPC clients and servers
//! generated from the `.proto` files in `crates/api/proto/`.
//!
//! This crate owns generated code and nothing else. The `.proto` files are written for
//! Strata after etcd's published v3 API, with etcd's package, service, RPC, message and
//! field names and field numbers, so etcd clients (`etcdctl`, `clientv3`, `etcd-client`)
//! talk to Strata unchanged. `stratapb` is the one package of our own: the result of
//! applying a Raft command.
//!
//! Besides the wire types it holds [`identity`], etcd's derivation of member and cluster
//! ids, which the server (bootstrap) and `stratactl snapshot restore` must share.
//!
//! It deliberately holds no other logic, validation or error mapping; those live in the crates
//! that use the types (`server`, `client`, …). It is also the only crate that names
//! generated protobuf types, so a change of code generator stays here.
//!
//! Code is generated at build time by `build.rs` with `protox` (a pure-Rust protobuf
//! compiler, so no system `protoc` is needed) and `tonic-prost-build`.
//!
//! ```
//! use api::etcdserverpb::{PutRequest, kv_server::KvServer};
//! use prost::Message;
//!
//! let put = PutRequest { key: b"a".to_vec(), ..Default::default() };
//! assert_eq!(put.encode_to_vec(), [0x0a, 0x01, b'a']);
//! assert_eq!(<KvServer<()> as tonic::server::NamedService>::NAME, "etcdserverpb.KV");
//! ```

pub mod identity;

/// Package `mvccpb`: `KeyValue` and watch `Event`.
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::nursery)]
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// Package `authpb`: users, roles and permissions as the auth store keeps them.
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::nursery)]
pub mod authpb {
    tonic::include_proto!("authpb");
}

/// Package `membershippb` (etcd 3.5): a member's attributes, as it publishes them.
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::nursery)]
pub mod membershippb {
    tonic::include_proto!("membershippb");
}

/// Package `etcdserverpb`: the KV, Watch, Lease, Cluster, Maintenance and Auth services,
/// their messages, and the Raft-internal request (`InternalRaftRequest`).
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::nursery)]
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

/// Package `v3lockpb`: the Lock service.
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::nursery)]
pub mod v3lockpb {
    tonic::include_proto!("v3lockpb");
}

/// Package `v3electionpb`: the Election service.
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::nursery)]
pub mod v3electionpb {
    tonic::include_proto!("v3electionpb");
}

/// Package `stratapb`: Strata's own messages (not part of etcd's API).
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::nursery)]
pub mod stratapb {
    tonic::include_proto!("stratapb");
}

/// The encoded `google.protobuf.FileDescriptorSet` of every `.proto` file above (with
/// imports and source info), for reflection and the JSON gateway.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"));

#[cfg(test)]
mod tests {
    use super::etcdserverpb::{Compare, InternalRaftRequest, PutRequest, RequestHeader, compare::TargetUnion};
    use prost::Message;

    #[test]
    fn put_request_encodes_with_etcd_field_numbers() {
        let put = PutRequest { key: b"a".to_vec(), ..Default::default() };
        assert_eq!(put.encode_to_vec(), [0x0a, 0x01, b'a']);

        // value=2 (bytes), lease=3 (varint), prev_kv=4, ignore_value=5, ignore_lease=6.
        let put = PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            lease: 7,
            prev_kv: true,
            ignore_value: true,
            ignore_lease: true,
        };
        let bytes = put.encode_to_vec();
        assert_eq!(bytes, [0x0a, 0x01, b'k', 0x12, 0x01, b'v', 0x18, 7, 0x20, 1, 0x28, 1, 0x30, 1]);
        assert_eq!(PutRequest::decode(bytes.as_slice()).ok(), Some(put));
    }

    #[test]
    fn compare_range_end_is_field_64() {
        let cmp = Compare { range_end: b"z".to_vec(), target_union: Some(TargetUnion::Lease(1)), ..Default::default() };
        // lease=8 (varint), then range_end=64: tag (64 << 3 | 2) = 0x202 = [0x82, 0x04].
        assert_eq!(cmp.encode_to_vec(), [0x40, 1, 0x82, 0x04, 0x01, b'z']);
    }

    #[test]
    fn internal_raft_request_header_is_field_100() {
        let req =
            InternalRaftRequest { header: Some(RequestHeader { id: 1, ..Default::default() }), ..Default::default() };
        // tag (100 << 3 | 2) = 0x322 = [0xa2, 0x06], length 2, then ID=1.
        assert_eq!(req.encode_to_vec(), [0xa2, 0x06, 0x02, 0x08, 0x01]);
    }

    #[test]
    fn grpc_paths_are_etcds() {
        use tonic::server::NamedService;
        type Kv = super::etcdserverpb::kv_server::KvServer<()>;
        type Lock = super::v3lockpb::lock_server::LockServer<()>;
        type Election = super::v3electionpb::election_server::ElectionServer<()>;
        assert_eq!(Kv::NAME, "etcdserverpb.KV");
        assert_eq!(Lock::NAME, "v3lockpb.Lock");
        assert_eq!(Election::NAME, "v3electionpb.Election");

        let generated = include_str!(concat!(env!("OUT_DIR"), "/etcdserverpb.rs"));
        for path in [
            "\"/etcdserverpb.KV/Range\"",
            "\"/etcdserverpb.Watch/Watch\"",
            "\"/etcdserverpb.Lease/LeaseKeepAlive\"",
            "\"/etcdserverpb.Maintenance/HashKV\"",
            "\"/etcdserverpb.Auth/UserChangePassword\"",
        ] {
            assert!(generated.contains(path), "no route {path}");
        }
    }

    #[test]
    fn file_descriptor_set_lists_every_file() {
        let fds = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET)
            .expect("the build script encodes a valid descriptor set");
        let names: Vec<_> = fds.file.iter().map(|f| f.name()).collect();
        for name in [
            "mvccpb/kv.proto",
            "authpb/auth.proto",
            "etcdserverpb/rpc.proto",
            "etcdserverpb/raft_internal.proto",
            "v3lockpb/v3lock.proto",
            "v3electionpb/v3election.proto",
            "stratapb/apply.proto",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
    }
}
