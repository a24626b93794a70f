//! `goduration`: Go's `time.ParseDuration`, with its errors word for word.
//!
//! etcd's flags (`--auto-compaction-retention`, etcdctl's `--dial-timeout`,
//! `--command-timeout`, …) are Go durations, and the member, stratactl and
//! strata-bench all read them; this crate is the one parser they share. It
//! depends on no workspace crate, so any crate may use it.
//!
//! Deliberately not here: printing durations (stratactl's `gosyntax` prints
//! them as etcdctl does) and flag-specific rules (a bare number meaning hours
//! or seconds belongs to the flag that says so).
//!
//! ```
//! use std::time::Duration;
//!
//! assert_eq!(goduration::parse("1h30m"), Ok(5_400_000_000_000));
//! assert_eq!(goduration::parse("-1.5s"), Ok(-1_500_000_000));
//! assert_eq!(goduration::parse_non_negative("250ms"), Ok(Duration::from_millis(250)));
//! let err = goduration::parse("5").expect_err("no unit");
//! assert_eq!(err.to_string(), r#"time: missing unit in duration "5""#);
//! ```

mod error;
mod parse;

pub use error::{Error, Result};
pub use parse::{parse, parse_non_negative};
