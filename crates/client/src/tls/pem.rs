//! PEM blocks with their labels, as Go's `encoding/pem` finds them: text outside the
//! blocks is ignored, as is a block whose body is not base64 (Go skips it too), and
//! header lines (`Proc-Type: …`) inside a block are left out of its body.

use base64::Engine;

/// One `-----BEGIN <label>-----` … `-----END <label>-----` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PemBlock {
    /// `CERTIFICATE`, `PRIVATE KEY`, `EC PRIVATE KEY`, …
    pub label: String,
    /// The decoded body.
    pub der: Vec<u8>,
}

const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";

/// Every well-formed block of `input`, in order.
pub(crate) fn blocks(input: &[u8]) -> Vec<PemBlock> {
    let text = String::from_utf8_lossy(input);
    let mut found = Vec::new();
    let mut rest: &str = &text;
    while let Some(start) = rest.find(BEGIN) {
        let after_begin = &rest[start + BEGIN.len()..];
        let Some(label_len) = after_begin.find(DASHES).filter(|&n| !after_begin[..n].contains('\n')) else {
            rest = after_begin;
            continue;
        };
        let label = &after_begin[..label_len];
        let body_and_rest = &after_begin[label_len + DASHES.len()..];
        let end_marker = format!("-----END {label}-----");
        let Some(body_len) = body_and_rest.find(&end_marker) else {
            rest = body_and_rest;
            continue;
        };
        let body: String = body_and_rest[..body_len]
            .lines()
            .filter(|line| !line.contains(':'))
            .flat_map(|line| line.chars().filter(|c| !c.is_ascii_whitespace()))
            .collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(body) {
            found.push(PemBlock { label: label.to_owned(), der });
            rest = &body_and_rest[body_len + end_marker.len()..];
        } else {
            rest = body_and_rest;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_labelled_blocks_between_other_text() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\nmore\n\
                    -----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nBAU=\n-----END EC PRIVATE KEY-----\n";
        let found = blocks(pem);
        assert_eq!(
            found,
            [
                PemBlock { label: "CERTIFICATE".into(), der: vec![0, 1, 2, 3] },
                PemBlock { label: "EC PRIVATE KEY".into(), der: vec![4, 5] },
            ]
        );
    }

    #[test]
    fn skips_blocks_that_do_not_decode_or_end() {
        assert!(blocks(b"garbage\n").is_empty());
        assert!(blocks(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").is_empty());
        assert!(blocks(b"-----BEGIN CERTIFICATE-----\nAAEC\n").is_empty());
        let after_bad = b"-----BEGIN X-----\n!!\n-----END X-----\n-----BEGIN Y-----\nAA==\n-----END Y-----\n";
        assert_eq!(blocks(after_bad), [PemBlock { label: "Y".into(), der: vec![0] }]);
    }

    proptest::proptest! {
        /// Files are outside bytes: any content gives blocks or none, never a
        /// panic, and a well-formed block survives garbage around it. (No
        /// `cargo fuzz` here: it needs a nightly toolchain this project's
        /// machines lack; this runs in every test run instead.)
        #[test]
        fn any_bytes_parse_without_panicking(noise in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
                                             der in proptest::collection::vec(proptest::num::u8::ANY, 1..64)) {
            let _ = blocks(&noise);
            let mut file = noise.clone();
            file.push(b'\n');
            file.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            file.extend_from_slice(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der).as_bytes());
            file.extend_from_slice(b"\n-----END CERTIFICATE-----\n");
            let found = blocks(&file);
            proptest::prop_assert!(found.iter().any(|b| b.label == "CERTIFICATE" && b.der == der), "{:?}", found);
        }
    }
}
