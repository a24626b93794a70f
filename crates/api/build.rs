//! Compiles the `.proto` files under `proto/` with the pure-Rust `protox` compiler (no
//! system `protoc`), then generates prost messages and tonic clients and servers.
//! The encoded descriptor set is written to `OUT_DIR/file_descriptor_set.bin` for
//! `api::FILE_DESCRIPTOR_SET`.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "mvccpb/kv.proto",
    "authpb/auth.proto",
    "membershippb/membership.proto",
    "etcdserverpb/rpc.proto",
    "etcdserverpb/raft_internal.proto",
    "v3lockpb/v3lock.proto",
    "v3electionpb/v3election.proto",
    "stratapb/apply.proto",
    "stratapb/raft.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");

    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_source_info(true).include_imports(true).open_files(PROTOS)?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("file_descriptor_set.bin"), compiler.encode_file_descriptor_set())?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .emit_rerun_if_changed(false)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
