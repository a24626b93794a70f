//! Any bytes as stratactl's --cacert, --cert and --key files: a TLS
//! configuration or Go's error, never a panic.
#![no_main]

use client::TlsOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, Vec<u8>, Vec<u8>)| {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = (dir.path().join("ca"), dir.path().join("cert"), dir.path().join("key"));
    std::fs::write(&ca, &input.0).expect("write");
    std::fs::write(&cert, &input.1).expect("write");
    std::fs::write(&key, &input.2).expect("write");
    let path = |p: &std::path::Path| Some(p.display().to_string());
    let _ = TlsOptions { ca_file: path(&ca), ..TlsOptions::default() }.build();
    let _ = TlsOptions { ca_file: path(&ca), cert_file: path(&cert), key_file: path(&key), skip_verify: false }.build();
});
