//! The bits of Go's standard library whose exact text etcdctl's output and errors carry:
//! `strconv.Quote` (the `%q` verb), `strconv.Unquote`, `strconv.ParseInt`/`ParseUint`/`ParseBool`
//! error messages, and `time.Duration.String()` (`time.ParseDuration` is the
//! `goduration` crate's, which the member and strata-bench share).

use std::fmt::Write as _;
use std::time::Duration;

/// Go's `strconv.Quote` of a byte string: `"…"` with Go escapes; invalid UTF-8 bytes
/// become `\xNN`.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            quote_char(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

fn quote_char(out: &mut String, c: char) {
    match c {
        '"' | '\\' => {
            out.push('\\');
            out.push(c);
        }
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if is_print(c) => out.push(c),
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// An approximation of Go's `unicode.IsPrint`: letters, marks, numbers, punctuation,
/// symbols and the ASCII space; not controls, other spaces, format characters, private
/// use or noncharacters.
fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(u, 0xad | 0x200b..=0x200f | 0x2060..=0x2064 | 0xfeff | 0xfff9..=0xfffb)
        || (0xe000..=0xf8ff).contains(&u)
        || (0xf0000..).contains(&u)
        || (u & 0xfffe) == 0xfffe)
}

/// Reads one Go quoted string (`"…"` with escapes, or a `` `raw` `` string) at the start
/// of `s`, as `fmt.Sscanf`'s `%q` does. Returns the bytes and the rest of `s`.
pub fn unquote_prefix(s: &str) -> Option<(Vec<u8>, &str)> {
    if let Some(rest) = s.strip_prefix('`') {
        let end = rest.find('`')?;
        return Some((rest.as_bytes()[..end].to_vec(), &rest[end + 1..]));
    }
    let mut chars = s.strip_prefix('"')?.char_indices();
    let body = &s[1..];
    let mut out = Vec::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\n' => return None,
            '\\' => unescape(&mut chars, &mut out)?,
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    None
}

fn unescape(chars: &mut std::str::CharIndices<'_>, out: &mut Vec<u8>) -> Option<()> {
    let (_, c) = chars.next()?;
    let simple = match c {
        'a' => Some(7u8),
        'b' => Some(8),
        'f' => Some(0x0c),
        'n' => Some(b'\n'),
        'r' => Some(b'\r'),
        't' => Some(b'\t'),
        'v' => Some(0x0b),
        '\\' => Some(b'\\'),
        '"' => Some(b'"'),
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return Some(());
    }
    let mut digits = |n: usize, radix: u32| -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = v.checked_mul(radix)? + chars.next()?.1.to_digit(radix)?;
        }
        Some(v)
    };
    match c {
        'x' => out.push(u8::try_from(digits(2, 16)?).ok()?),
        '0'..='7' => {
            let v = c.to_digit(8)? * 64 + digits(2, 8)?;
            out.push(u8::try_from(v).ok()?);
        }
        'u' | 'U' => {
            let ch = char::from_u32(digits(if c == 'u' { 4 } else { 8 }, 16)?)?;
            out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
        }
        _ => return None,
    }
    Some(())
}

/// Go's `%016x` of an int64, which is how etcdctl prints lease ids: lower-case hex
/// zero-padded to 16 characters, a negative value as its sign and magnitude.
pub fn hex016(v: i64) -> String {
    if v < 0 { format!("-{:015x}", v.unsigned_abs()) } else { format!("{v:016x}") }
}

/// A Go string as `encoding/json` writes it: invalid UTF-8 replaced by U+FFFD, `<`, `>`
/// and `&` escaped for HTML, control characters other than `\n`, `\r` and `\t` as
/// `\u00XX`.
pub fn json_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.ParseInt(s, radix, 64)`, with its error text.
pub fn parse_int(s: &str, radix: u32) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let valid = !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
    match i64::from_str_radix(s, radix) {
        Ok(v) if valid => Ok(v),
        _ if valid => Err(format!("strconv.ParseInt: parsing {}: value out of range", quote(s.as_bytes()))),
        _ => Err(format!("strconv.ParseInt: parsing {}: invalid syntax", quote(s.as_bytes()))),
    }
}

/// Go's `strconv.ParseUint(s, radix, 64)` for a radix from 2 to 36, with its error text
/// (no sign, no prefix, no underscores). Digits are read left to right, so an overflow is
/// reported even when a bad digit comes after it, as Go does.
pub fn parse_uint(s: &str, radix: u32) -> Result<u64, String> {
    let error = |what: &str| format!("strconv.ParseUint: parsing {}: {what}", quote(s.as_bytes()));
    if s.is_empty() {
        return Err(error("invalid syntax"));
    }
    let mut n: u64 = 0;
    for c in s.chars() {
        let digit = c.to_digit(radix).ok_or_else(|| error("invalid syntax"))?;
        n = n
            .checked_mul(u64::from(radix))
            .and_then(|n| n.checked_add(u64::from(digit)))
            .ok_or_else(|| error("value out of range"))?;
    }
    Ok(n)
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {}: invalid syntax", quote(s.as_bytes()))),
    }
}

/// Go's `time.Duration.String()`: `0s`, `850ns`, `1.5µs`, `2.469046ms`, `5.000685821s`,
/// `1m2.5s`, `1h0m0s`; the fraction without trailing zeros.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let frac = |v: u128, digits: usize| {
        let s = format!("{v:0digits$}");
        let s = s.trim_end_matches('0');
        if s.is_empty() { String::new() } else { format!(".{s}") }
    };
    match ns {
        0 => return "0s".to_owned(),
        1..1_000 => return format!("{ns}ns"),
        1_000..1_000_000 => return format!("{}{}µs", ns / 1_000, frac(ns % 1_000, 3)),
        1_000_000..1_000_000_000 => return format!("{}{}ms", ns / 1_000_000, frac(ns % 1_000_000, 6)),
        _ => {}
    }
    let secs = ns / 1_000_000_000;
    let (mins, hours) = (secs / 60, secs / 3600);
    let s = format!("{}{}s", secs % 60, frac(ns % 1_000_000_000, 9));
    match (hours, mins) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{}m{s}", m % 60),
    }
}

/// go-humanize's `Bytes` as etcdctl 3.4 vendors it: SI units, one decimal below 10
/// (`20 kB`, `5.7 MB`, `138 MB`, `9 B`).
pub fn humanize_bytes(n: u64) -> String {
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 10 {
        return format!("{n} B");
    }
    let exp = ((n as f64).ln() / 1000f64.ln()).floor();
    let val = ((n as f64) / 1000f64.powf(exp) * 10.0 + 0.5).floor() / 10.0;
    let suffix = SIZES[exp as usize];
    // Both Go's and Rust's formatting round exact halves to even.
    if val < 10.0 { format!("{val:.1} {suffix}") } else { format!("{val:.0} {suffix}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_go() {
        assert_eq!(quote(b"foo"), r#""foo""#);
        assert_eq!(quote(b"a\"b\\c\n\t"), r#""a\"b\\c\n\t""#);
        assert_eq!(quote(b"\x00\x7f\xff"), r#""\x00\x7f\xff""#);
        assert_eq!(quote("é\u{a0}".as_bytes()), r#""é\u00a0""#);
    }

    #[test]
    fn unquote_reads_one_go_string() {
        assert_eq!(unquote_prefix(r#""a\"b\x41\101\u00e9") = "x""#), Some((b"a\"bAA\xc3\xa9".to_vec(), r#") = "x""#)));
        assert_eq!(unquote_prefix("`raw\\n` rest"), Some((b"raw\\n".to_vec(), " rest")));
        assert_eq!(unquote_prefix(r#""open"#), None);
        assert_eq!(unquote_prefix(r#""bad\q""#), None);
        assert_eq!(unquote_prefix("plain"), None);
    }

    #[test]
    fn hex016_pads_like_go() {
        assert_eq!(hex016(0x1234), "0000000000001234");
        assert_eq!(hex016(0x3fb3a20a86435420), "3fb3a20a86435420");
        assert_eq!(hex016(-1), "-000000000000001");
        assert_eq!(hex016(i64::MIN), "-8000000000000000");
    }

    #[test]
    fn json_strings_escape_like_encoding_json() {
        assert_eq!(json_string(b""), r#""""#);
        assert_eq!(json_string(b"a\"b\\<&>\n\x01"), r#""a\"b\\\u003c\u0026\u003e\n\u0001""#);
        assert_eq!(json_string(b"\xff"), "\"\u{fffd}\"");
    }

    #[test]
    fn parse_int_errors_read_like_strconv() {
        assert_eq!(parse_int("ff", 16), Ok(255));
        assert_eq!(parse_int("-5", 10), Ok(-5));
        assert_eq!(parse_int("abc", 10), Err(r#"strconv.ParseInt: parsing "abc": invalid syntax"#.to_string()));
        assert_eq!(
            parse_int("99999999999999999999", 10),
            Err(r#"strconv.ParseInt: parsing "99999999999999999999": value out of range"#.to_string())
        );
        assert!(parse_int("", 16).is_err());
    }

    #[test]
    fn parse_uint_errors_read_like_strconv() {
        assert_eq!(parse_uint("aed10895840eb27", 16), Ok(0xaed10895840eb27));
        assert_eq!(parse_uint("FFFFFFFFFFFFFFFF", 16), Ok(u64::MAX));
        assert_eq!(parse_uint("18446744073709551615", 10), Ok(u64::MAX));
        assert_eq!(
            parse_uint("10000000000000000", 16),
            Err(r#"strconv.ParseUint: parsing "10000000000000000": value out of range"#.to_string())
        );
        // Go stops at the overflow before it sees the bad digit.
        assert!(parse_uint("1ffffffffffffffffz", 16).expect_err("too big").ends_with("value out of range"));
        for bad in ["", "+1", "-1", "0x1", "1_0", " 1", "g"] {
            assert_eq!(
                parse_uint(bad, 16),
                Err(format!("strconv.ParseUint: parsing {}: invalid syntax", quote(bad.as_bytes()))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_nanos(850)), "850ns");
        assert_eq!(format_duration(Duration::from_nanos(1_500)), "1.5µs");
        assert_eq!(format_duration(Duration::from_nanos(2_469_046)), "2.469046ms");
        assert_eq!(format_duration(Duration::from_millis(3)), "3ms");
        assert_eq!(format_duration(Duration::from_nanos(5_000_685_821)), "5.000685821s");
        assert_eq!(format_duration(Duration::from_millis(62_500)), "1m2.5s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_secs(3 * 3600 + 61)), "3h1m1s");
    }

    #[test]
    fn byte_sizes_humanize_like_go_humanize() {
        assert_eq!(humanize_bytes(0), "0 B");
        assert_eq!(humanize_bytes(9), "9 B");
        assert_eq!(humanize_bytes(999), "999 B");
        assert_eq!(humanize_bytes(1000), "1.0 kB");
        assert_eq!(humanize_bytes(20480), "20 kB");
        assert_eq!(humanize_bytes(2027520), "2.0 MB");
        assert_eq!(humanize_bytes(5689344), "5.7 MB");
        assert_eq!(humanize_bytes(23252992), "23 MB");
        assert_eq!(humanize_bytes(138092544), "138 MB");
        assert_eq!(humanize_bytes(2147483648), "2.1 GB");
        assert_eq!(humanize_bytes(20500), "20 kB");
        assert_eq!(humanize_bytes(21500), "22 kB");
    }
}
