//! `time.ParseDuration`'s errors, which etcd and etcdctl print as they are.

use std::fmt::Write as _;

/// A string `time.ParseDuration` refuses; `Display` is Go's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not the syntax, or out of the range of Go's `Duration` (an int64 of
    /// nanoseconds).
    #[error("time: invalid duration {}", quote(.0))]
    Invalid(String),
    /// A number with no unit after it (`"5"`; only `"0"` may go without).
    #[error("time: missing unit in duration {}", quote(.0))]
    MissingUnit(String),
    /// A unit other than `ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`.
    #[error("time: unknown unit {} in duration {}", quote(.unit), quote(.duration))]
    UnknownUnit { unit: String, duration: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// How Go's time package quotes in its errors (its own `quote`, not
/// `strconv.Quote`): `"` and `\` escaped, every byte of a non-ASCII or
/// control character as `\xNN`, everything else as it is.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c.is_ascii() && c >= ' ' {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        } else {
            for b in c.encode_utf8(&mut [0; 4]).bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_gos_time_package() {
        assert_eq!(quote("1h"), r#""1h""#);
        assert_eq!(quote("a\"b\\"), r#""a\"b\\""#);
        assert_eq!(quote("5µs\n"), r#""5\xc2\xb5s\x0a""#);
        assert_eq!(quote("\x7f"), "\"\x7f\"", "DEL is not escaped");
    }
}
