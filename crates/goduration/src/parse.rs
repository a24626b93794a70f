//! `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`.

use crate::{Error, Result};
use std::time::Duration;

/// 2^63: the magnitude of the most negative Go `Duration`, the bound every
/// intermediate sum is checked against.
const LIMIT: u64 = 1 << 63;

/// Parses a Go duration into nanoseconds (Go's `Duration` is an int64 of
/// them): a sign, then one or more decimal numbers, each with a unit (`ns`,
/// `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`), as in `300ms`, `-1.5h`, `2h45m`;
/// or `0` alone. The whole part of each number is exact; a fraction is scaled
/// in floating point and truncated, as Go does.
pub fn parse(s: &str) -> Result<i64> {
    let invalid = || Error::Invalid(s.to_owned());
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (nanos, tail) = segment(s, rest)?;
        total = total.checked_add(nanos).filter(|&t| t <= LIMIT).ok_or_else(invalid)?;
        rest = tail;
    }
    if negative {
        // -2^63 is the one magnitude that has no positive twin.
        Ok(0i64.wrapping_sub_unsigned(total))
    } else {
        i64::try_from(total).map_err(|_| invalid())
    }
}

/// [`parse`] for callers that keep a `std::time::Duration`, which cannot be
/// negative: a negative duration, which Go would accept, is refused as
/// `time: invalid duration`.
pub fn parse_non_negative(s: &str) -> Result<Duration> {
    let nanos = parse(s)?;
    u64::try_from(nanos).map(Duration::from_nanos).map_err(|_| Error::Invalid(s.to_owned()))
}

/// Reads one number and its unit at the start of `s` (a part of `whole`, the
/// string the errors name); returns its nanoseconds and what follows.
fn segment<'a>(whole: &str, s: &'a str) -> Result<(u64, &'a str)> {
    let invalid = || Error::Invalid(whole.to_owned());
    if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
        return Err(invalid());
    }
    let int_len = digits(s);
    let int = leading_int(&s[..int_len]).ok_or_else(invalid)?;
    let mut rest = &s[int_len..];
    let (mut fraction, mut scale, mut fraction_len) = (0, 1.0, 0);
    if let Some(after_dot) = rest.strip_prefix('.') {
        fraction_len = digits(after_dot);
        (fraction, scale) = leading_fraction(&after_dot[..fraction_len]);
        rest = &after_dot[fraction_len..];
    }
    if int_len == 0 && fraction_len == 0 {
        // A dot with no digits either side: ".s", "-.s".
        return Err(invalid());
    }
    let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
    if unit_len == 0 {
        return Err(Error::MissingUnit(whole.to_owned()));
    }
    let (unit, rest) = rest.split_at(unit_len);
    let unit_nanos =
        unit_nanos(unit).ok_or_else(|| Error::UnknownUnit { unit: unit.to_owned(), duration: whole.to_owned() })?;
    let mut nanos = int.checked_mul(unit_nanos).filter(|&n| n <= LIMIT).ok_or_else(invalid)?;
    if fraction > 0 {
        // Below one unit, so at most an hour's nanoseconds: no u64 overflow.
        nanos += (fraction as f64 * (unit_nanos as f64 / scale)) as u64;
        if nanos > LIMIT {
            return Err(invalid());
        }
    }
    Ok((nanos, rest))
}

/// The length of the run of ASCII digits at the start of `s`.
fn digits(s: &str) -> usize {
    s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len())
}

/// The value of a run of digits; None past 2^63.
fn leading_int(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |n, d| {
        n.checked_mul(10).and_then(|n| n.checked_add(u64::from(d - b'0'))).filter(|&n| n <= LIMIT)
    })
}

/// The digits after a dot as a numerator and its power-of-ten denominator.
/// Digits that would take the numerator past 2^63 are read but ignored: they
/// are far below a nanosecond.
fn leading_fraction(digits: &str) -> (u64, f64) {
    let (mut numerator, mut scale) = (0u64, 1.0);
    for d in digits.bytes() {
        if numerator > (LIMIT - 1) / 10 {
            break;
        }
        let next = numerator * 10 + u64::from(d - b'0');
        if next > LIMIT {
            break;
        }
        numerator = next;
        scale *= 10.0;
    }
    (numerator, scale)
}

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        // U+00B5 micro sign and U+03BC Greek small letter mu.
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
