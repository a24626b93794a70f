//! The cases the three parsers this one replaced had tests for (stratactl's,
//! strata-bench's and the member's), and Go's edge cases, checked against
//! `time.ParseDuration`'s documented behaviour.

use super::*;

const NS: i64 = 1;
const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const S: i64 = 1_000_000_000;
const M: i64 = 60 * S;
const H: i64 = 60 * M;

fn ok(s: &str) -> i64 {
    parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &str) -> String {
    parse(s).expect_err(s).to_string()
}

#[test]
fn units_and_segments() {
    assert_eq!(ok("850ns"), 850 * NS);
    assert_eq!(ok("250us"), 250 * US);
    assert_eq!(ok("250µs"), 250 * US, "micro sign");
    assert_eq!(ok("250μs"), 250 * US, "Greek mu");
    assert_eq!(ok("500ms"), 500 * MS);
    assert_eq!(ok("2s"), 2 * S);
    assert_eq!(ok("10m"), 10 * M);
    assert_eq!(ok("2h"), 2 * H);
    assert_eq!(ok("1m30s"), 90 * S);
    assert_eq!(ok("1h30m"), 90 * M);
    assert_eq!(ok("2h45m1.5s"), 2 * H + 45 * M + 1500 * MS);
    assert_eq!(ok("1s1s"), 2 * S, "a unit may repeat");
    assert_eq!(ok("1ms1h"), H + MS, "in any order");
}

#[test]
fn zero_alone_needs_no_unit() {
    assert_eq!(ok("0"), 0);
    assert_eq!(ok("-0"), 0);
    assert_eq!(ok("+0"), 0);
    assert_eq!(ok("0s"), 0);
    assert_eq!(ok("000ms"), 0);
    assert_eq!(err("00"), r#"time: missing unit in duration "00""#);
}

#[test]
fn fractions() {
    assert_eq!(ok("1.5h"), 90 * M);
    assert_eq!(ok("1.5s"), 1500 * MS);
    assert_eq!(ok(".5s"), 500 * MS);
    assert_eq!(ok("5.s"), 5 * S);
    assert_eq!(ok("0.1ns"), 0, "truncated below a nanosecond");
    assert_eq!(ok("1.0000000001s"), S);
    assert_eq!(ok("0.3333333333333333333333333333h"), 1_200_000_000_000, "digits past 2^63 are ignored");
}

#[test]
fn signs() {
    assert_eq!(ok("+5s"), 5 * S);
    assert_eq!(ok("-5s"), -5 * S);
    assert_eq!(ok("-1.5h"), -90 * M);
    assert_eq!(ok("-1m30s"), -90 * S, "the sign covers every segment");
    for bad in ["-", "+", "+-1s", "--1s", "-s"] {
        assert_eq!(err(bad), format!("time: invalid duration \"{bad}\""), "{bad:?}");
    }
    assert_eq!(err("1s-1s"), r#"time: unknown unit "s-" in duration "1s-1s""#, "a sign only leads");
}

#[test]
fn limits_are_an_int64_of_nanoseconds() {
    assert_eq!(ok("9223372036854775807ns"), i64::MAX);
    assert_eq!(ok("-9223372036854775808ns"), i64::MIN);
    assert_eq!(ok("2562047h"), 2_562_047 * H);
    for bad in ["9223372036854775808ns", "2562048h", "9223372036854775807ns1ns", "99999999999999999999s"] {
        assert_eq!(err(bad), format!("time: invalid duration \"{bad}\""), "{bad:?}");
    }
}

#[test]
fn errors_read_like_go() {
    assert_eq!(err(""), r#"time: invalid duration """#);
    assert_eq!(err("x"), r#"time: invalid duration "x""#);
    assert_eq!(err("s"), r#"time: invalid duration "s""#);
    assert_eq!(err("."), r#"time: invalid duration ".""#);
    assert_eq!(err(".s"), r#"time: invalid duration ".s""#);
    assert_eq!(err(" 1s"), r#"time: invalid duration " 1s""#);
    assert_eq!(err("5"), r#"time: missing unit in duration "5""#);
    assert_eq!(err("1s5"), r#"time: missing unit in duration "1s5""#);
    assert_eq!(err("1..5s"), r#"time: missing unit in duration "1..5s""#);
    assert_eq!(err("10x"), r#"time: unknown unit "x" in duration "10x""#);
    assert_eq!(err("10 s"), r#"time: unknown unit " s" in duration "10 s""#);
    assert_eq!(err("1e3s"), r#"time: unknown unit "e" in duration "1e3s""#);
    assert_eq!(err("3S"), r#"time: unknown unit "S" in duration "3S""#);
    assert_eq!(err("1s "), r#"time: unknown unit "s " in duration "1s ""#);
    assert_eq!(err("5µx"), r#"time: unknown unit "\xc2\xb5x" in duration "5\xc2\xb5x""#);
    assert_eq!(err("abc"), r#"time: invalid duration "abc""#);
}

#[test]
fn std_durations_refuse_negatives() {
    assert_eq!(parse_non_negative("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_non_negative("-0"), Ok(Duration::ZERO));
    assert_eq!(parse_non_negative("-1s"), Err(Error::Invalid("-1s".into())));
    assert_eq!(parse_non_negative("5"), Err(Error::MissingUnit("5".into())));
}
