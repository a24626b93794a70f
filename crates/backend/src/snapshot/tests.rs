use super::*;

fn rev_key(main: u64) -> Vec<u8> {
    let mut k = main.to_be_bytes().to_vec();
    k.push(b'_');
    k.extend_from_slice(&0u64.to_be_bytes());
    k
}

/// A backend with records in every table.
fn filled(dir: &Path) -> Backend {
    let be = Backend::open(&dir.join("state.redb")).expect("open");
    let mut w = be.begin_write().expect("write");
    for i in 2..=300u64 {
        w.put_revision(&rev_key(i), format!("value {i}").repeat(i as usize % 7).as_bytes()).expect("put");
    }
    w.put_meta(MetaKey::ConsistentIndex, b"raft state").expect("meta");
    w.put_meta(MetaKey::FinishedCompactRev, &rev_key(100)[..17]).expect("meta");
    w.put_meta(MetaKey::MemberIdentity, &[1; 16]).expect("meta");
    w.put_lease(7, b"lease seven").expect("lease");
    w.put_alarm(9, 1).expect("alarm");
    w.commit(true).expect("commit");
    be
}

fn dump(be: &Backend) -> Vec<u8> {
    let d = be.snapshot().expect("snapshot");
    let mut out = Vec::new();
    let sha = d.write_to(&mut out).expect("write");
    assert_eq!(out.len() as u64, d.size_bytes(), "the size is known in advance");
    assert_eq!(out[out.len() - 32..], sha);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write file");
    p
}

fn error_of(r: Result<SnapshotStatus>) -> String {
    r.expect_err("refused").to_string()
}

#[test]
fn a_dump_verifies_and_reports_etcds_status_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let be = filled(dir.path());
    let bytes = dump(&be);
    assert_eq!(&bytes[..8], b"STRATASN");
    assert_eq!(bytes.len() as u64 % 512, 32, "etcd's tools look for a trailer this way");
    let path = write(dir.path(), "s", &bytes);
    assert_eq!(verify_snapshot_sha256(&path).expect("sha"), bytes.len() as u64);
    let status = verify_snapshot(&path).expect("verify");
    // 299 revisions, 4 meta keys (with schema_version), one lease, one alarm.
    assert_eq!(
        status,
        SnapshotStatus { hash: status.hash, revision: 300, total_keys: 305, total_size: bytes.len() as u64 }
    );
    assert_eq!(dump(&be), bytes, "a dump of unchanged data is the same file");
}

#[test]
fn an_empty_database_dumps_and_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let be = Backend::open(&dir.path().join("state.redb")).expect("open");
    let bytes = dump(&be);
    assert_eq!(bytes.len(), 512 + 32);
    let path = write(dir.path(), "s", &bytes);
    let status = load_snapshot(&path, &dir.path().join("new.redb"), &LoadOptions::default(), |_| {}).expect("load");
    assert_eq!((status.revision, status.total_keys), (0, 1));
}

#[test]
fn a_loaded_dump_has_every_table_and_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let be = filled(dir.path());
    let bytes = dump(&be);
    let path = write(dir.path(), "s", &bytes);
    let mut seen = 0;
    let new_path = dir.path().join("restored/member/state.redb");
    load_snapshot(&path, &new_path, &LoadOptions::default(), |n| seen = n).expect("load");
    assert_eq!(seen, bytes.len() as u64, "progress reaches the end");
    let restored = Backend::open(&new_path).expect("open");
    assert_eq!(dump(&restored), bytes, "the same records in every table");
}

#[test]
fn loading_can_leave_out_meta_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let be = filled(dir.path());
    let path = write(dir.path(), "s", &dump(&be));
    let new_path = dir.path().join("new.redb");
    let opts = LoadOptions { without_meta: &[MetaKey::ConsistentIndex, MetaKey::MemberIdentity], ..Default::default() };
    load_snapshot(&path, &new_path, &opts, |_| {}).expect("load");
    let restored = Backend::open(&new_path).expect("open");
    let r = restored.begin_read().expect("read");
    assert_eq!(r.meta(MetaKey::ConsistentIndex).expect("meta"), None);
    assert_eq!(r.meta(MetaKey::MemberIdentity).expect("meta"), None);
    assert_eq!(r.meta(MetaKey::FinishedCompactRev).expect("meta"), Some(rev_key(100)[..17].to_vec()));
    assert_eq!(
        r.get_revision(&rev_key(300)).expect("get"),
        be.begin_read().expect("r").get_revision(&rev_key(300)).expect("get")
    );
}

#[test]
fn loading_refuses_an_existing_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let be = filled(dir.path());
    let path = write(dir.path(), "s", &dump(&be));
    let e = error_of(load_snapshot(&path, be.path(), &LoadOptions::default(), |_| {}));
    assert!(e.contains("exists"), "{e}");
}

#[test]
fn truncated_files_are_refused_at_every_length() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = dump(&filled(dir.path()));
    for cut in [0, 5, 8, 20, 100, 512, 544, bytes.len() - 544, bytes.len() - 33, bytes.len() - 32, bytes.len() - 1] {
        let path = write(dir.path(), "t", &bytes[..cut]);
        let e = error_of(verify_snapshot(&path));
        assert!(
            e.contains("truncated") || e.contains("sha256 mismatch") || e.contains("not a Strata snapshot"),
            "{cut}: {e}"
        );
        let e2 =
            error_of(load_snapshot(&path, &dir.path().join(format!("n{cut}.redb")), &LoadOptions::default(), |_| {}));
        assert_eq!(e, e2);
        assert!(!dir.path().join(format!("n{cut}.redb")).exists(), "nothing is created from a bad file");
    }
    let e = error_of(verify_snapshot(&write(dir.path(), "t", &bytes[..bytes.len() - 1])));
    assert!(e.contains("truncated: ") && e.contains("bytes is not a whole snapshot"), "{e}");
}

#[test]
fn a_flipped_byte_anywhere_fails_the_sha256_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = dump(&filled(dir.path()));
    for at in [9, 30, 1000, bytes.len() - 40, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        let path = write(dir.path(), "c", &bad);
        let e = error_of(verify_snapshot(&path));
        assert!(e.contains("sha256 mismatch"), "{at}: {e}");
        let e = verify_snapshot_sha256(&path).expect_err("refused").to_string();
        assert!(e.contains("sha256 mismatch"), "{at}: {e}");
    }
}

/// Corrupts the content and recomputes the trailer, so only the structure
/// check can catch it (or a file written by a buggy dumper).
fn resealed(mut bytes: Vec<u8>, at: usize, value: u8) -> Vec<u8> {
    bytes[at] = value;
    let n = bytes.len() - 32;
    let sha: [u8; 32] = Sha256::digest(&bytes[..n]).into();
    bytes[n..].copy_from_slice(&sha);
    bytes
}

#[test]
fn a_bad_structure_under_a_valid_trailer_is_refused_with_its_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = dump(&filled(dir.path()));
    let cases = [
        (8 + 3, 2, "unsupported snapshot format version 2"),
        (8 + 4 + 7, 9, "state schema version 9"),
        (20, 0x07, "unknown record tag 0x07 at offset 20"),
        (22, b'x', "unknown table \"xeta\""),
    ];
    for (at, value, want) in cases {
        let path = write(dir.path(), "b", &resealed(bytes.clone(), at, value));
        let e = error_of(verify_snapshot(&path));
        assert!(e.contains(want), "{e}");
        let opts = LoadOptions { skip_hash_check: true, ..Default::default() };
        let e = error_of(load_snapshot(&path, &dir.path().join(format!("b{at}.redb")), &opts, |_| {}));
        assert!(e.contains(want), "skip-hash-check still checks the structure: {e}");
    }
    // An empty database's dump is mostly padding.
    let empty = dump(&Backend::open(&dir.path().join("empty.redb")).expect("open"));
    let padded = resealed(empty.clone(), empty.len() - 33, 1);
    let e = error_of(verify_snapshot(&write(dir.path(), "p", &padded)));
    assert!(e.contains("non-zero padding"), "{e}");
}

#[test]
fn a_foreign_file_is_not_a_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bbolt = vec![0u8; 16 * 1024 + 32];
    bbolt[16..20].copy_from_slice(&0xED0CDAEDu32.to_le_bytes());
    let e = error_of(verify_snapshot(&write(dir.path(), "db", &bbolt)));
    assert!(e.contains("not a Strata snapshot"), "{e}");
    let e = error_of(verify_snapshot(&dir.path().join("missing")));
    assert!(e.contains("open snapshot") && e.contains("No such file"), "{e}");
}

#[test]
fn a_dump_is_the_state_when_it_started_and_does_not_block_writers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let be = filled(dir.path());
    let before = dump(&be);
    let d = be.snapshot().expect("snapshot");
    let mut w = be.begin_write().expect("a writer is not blocked by the dump");
    w.put_revision(&rev_key(301), b"later").expect("put");
    w.commit(true).expect("commit");
    let mut out = Vec::new();
    d.write_to(&mut out).expect("write");
    assert_eq!(out, before);
    assert_ne!(dump(&be), before);
}

/// A receiver that hangs up after `left` bytes.
struct HangUp {
    left: usize,
}

impl Write for HangUp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_receiver_that_goes_away_stops_the_dump() {
    let dir = tempfile::tempdir().expect("tempdir");
    let be = filled(dir.path());
    let e = be.snapshot().expect("snapshot").write_to(HangUp { left: 100 }).expect_err("stops");
    assert!(e.to_string().contains("write snapshot"), "{e}");
}

#[test]
fn an_empty_dump_starts_as_docs_storage_format_shows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = dump(&Backend::open(&dir.path().join("state.redb")).expect("open"));
    let mut want = b"STRATASN".to_vec();
    want.extend_from_slice(&1u32.to_be_bytes());
    want.extend_from_slice(&1u64.to_be_bytes());
    want.extend_from_slice(&[0x01, 4]);
    want.extend_from_slice(b"meta");
    want.extend_from_slice(&1u64.to_be_bytes());
    want.extend_from_slice(&[0x02, 0, 0, 0, 14]);
    want.extend_from_slice(b"schema_version");
    want.extend_from_slice(&8u32.to_be_bytes());
    want.extend_from_slice(&1u64.to_be_bytes());
    want.extend_from_slice(&[0x01, 3]);
    want.extend_from_slice(b"key");
    want.extend_from_slice(&0u64.to_be_bytes());
    assert_eq!(bytes[..want.len()], want);
    assert_eq!(bytes.len(), 544);
}
