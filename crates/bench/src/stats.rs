//! What one client records while it runs, merged across clients at the end, and the
//! summary statistics `compare` takes over rounds.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The longest latency the histogram resolves; longer ones are recorded as this.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Latencies of successful requests (microseconds, 3 significant digits), errors by gRPC
/// code with the first message of each, and txn conflicts.
#[derive(Debug, Clone)]
pub struct Recorder {
    latency_us: Histogram<u64>,
    errors: BTreeMap<&'static str, u64>,
    first_messages: BTreeMap<&'static str, String>,
    conflicts: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant bounds: 1 <= low, high >= 2 * low, 3 significant digits"),
            errors: BTreeMap::new(),
            first_messages: BTreeMap::new(),
            conflicts: 0,
        }
    }
}

impl Recorder {
    /// A request that was answered.
    pub fn ok(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        self.latency_us.saturating_record(us);
    }

    /// A request that failed with `code`.
    pub fn error(&mut self, code: tonic::Code) {
        *self.errors.entry(client::go_code_name(code)).or_default() += 1;
    }

    /// A request that failed with `status`: its code, and its message if it is the
    /// first of that code (what a server said is often more than its code).
    pub fn failure(&mut self, status: &tonic::Status) {
        self.error(status.code());
        let code = client::go_code_name(status.code());
        self.first_messages.entry(code).or_insert_with(|| status.message().to_owned());
    }

    /// The first message of each failed code (for failures recorded with [`Recorder::failure`]).
    pub fn first_messages(&self) -> &BTreeMap<&'static str, String> {
        &self.first_messages
    }

    /// `n` failures that are not gRPC errors (`watch`'s `MissedEvent`, …); nothing is
    /// recorded for `n == 0`.
    pub fn count_error(&mut self, name: &'static str, n: u64) {
        if n > 0 {
            *self.errors.entry(name).or_default() += n;
        }
    }

    /// Only the errors of another recorder, not its latencies (`watch` reports event
    /// latencies, and failed puts among its errors).
    pub fn merge_errors(&mut self, other: &Recorder) {
        for (code, n) in &other.errors {
            *self.errors.entry(code).or_default() += n;
        }
    }

    /// A txn whose compare failed (it is also recorded with [`Recorder::ok`]).
    pub fn conflict(&mut self) {
        self.conflicts += 1;
    }

    /// Adds another client's records to these.
    pub fn merge(&mut self, other: &Recorder) {
        self.latency_us.add(&other.latency_us).expect("histograms with equal bounds merge");
        for (code, n) in &other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        for (code, message) in &other.first_messages {
            self.first_messages.entry(code).or_insert_with(|| message.clone());
        }
        self.conflicts += other.conflicts;
    }

    /// Requests answered without error.
    pub fn succeeded(&self) -> u64 {
        self.latency_us.len()
    }

    /// Requests that failed, by grpc-go's name of their code (`Unavailable`, …).
    pub fn errors(&self) -> &BTreeMap<&'static str, u64> {
        &self.errors
    }

    /// Requests that failed, all codes together.
    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Txn compares that failed.
    pub fn conflicts(&self) -> u64 {
        self.conflicts
    }

    /// Latency percentiles of the successful requests, in milliseconds.
    pub fn latency_ms(&self) -> LatencyMs {
        let ms = |us: u64| us as f64 / 1000.0;
        let q = |quantile: f64| ms(self.latency_us.value_at_quantile(quantile));
        LatencyMs { p50: q(0.50), p90: q(0.90), p99: q(0.99), p999: q(0.999), max: ms(self.latency_us.max()) }
    }
}

/// Latency percentiles in milliseconds; all zero when nothing succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest request.
    pub max: f64,
}

/// Median, minimum and maximum of a set of values (e.g. the per-round ratios A/B).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// The middle value; the mean of the two middle values for an even count.
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`, ignoring NaNs; `None` if nothing is left.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Spread { median, min: v[0], max: v[n - 1] })
    }
}

/// `a / b` per position; NaN where a value is missing or `b` is zero, so one bad round
/// does not hide the others.
pub fn ratios(a: &[Option<f64>], b: &[Option<f64>]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) if *b != 0.0 => a / b,
            _ => f64::NAN,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_recorders_keep_counts_codes_and_percentiles() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        for ms in 1..=100 {
            a.ok(Duration::from_millis(ms));
        }
        b.ok(Duration::from_secs(2));
        a.error(tonic::Code::Unavailable);
        b.error(tonic::Code::Unavailable);
        b.error(tonic::Code::Cancelled);
        b.failure(&tonic::Status::unavailable("etcdserver: request timed out"));
        a.failure(&tonic::Status::unavailable("etcdserver: leader changed"));
        b.conflict();
        a.merge(&b);
        assert_eq!(a.succeeded(), 101);
        assert_eq!(a.failed(), 5);
        assert_eq!(a.errors().get("Unavailable"), Some(&4));
        let first = a.first_messages().get("Unavailable").map(String::as_str);
        assert_eq!(first, Some("etcdserver: leader changed"), "a merge keeps the first");
        assert_eq!(a.errors().get("Canceled"), Some(&1), "grpc-go's spelling");
        assert_eq!(a.conflicts(), 1);
        let mut c = Recorder::default();
        c.count_error("MissedEvent", 0);
        assert!(c.errors().is_empty(), "zero is not an error");
        c.count_error("MissedEvent", 5);
        c.merge_errors(&a);
        assert_eq!((c.succeeded(), c.failed(), c.errors().get("MissedEvent")), (0, 10, Some(&5)));
        let l = a.latency_ms();
        assert!((l.p50 - 51.0).abs() < 0.1, "{l:?}");
        assert!((l.p99 - 100.0).abs() < 0.1, "{l:?}");
        assert!((l.max - 2000.0).abs() < 2.0, "{l:?}");
    }

    #[test]
    fn sub_microsecond_latencies_count_as_one_microsecond() {
        let mut r = Recorder::default();
        r.ok(Duration::from_nanos(10));
        assert_eq!(r.latency_ms().max, 0.001);
        assert_eq!(Recorder::default().latency_ms().p50, 0.0);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]), Some(Spread { median: 2.0, min: 1.0, max: 3.0 }));
        assert_eq!(Spread::of(&[4.0, 1.0, 3.0, 2.0]), Some(Spread { median: 2.5, min: 1.0, max: 4.0 }));
        assert_eq!(Spread::of(&[7.0]), Some(Spread { median: 7.0, min: 7.0, max: 7.0 }));
        assert_eq!(Spread::of(&[f64::NAN, 1.0]), Some(Spread { median: 1.0, min: 1.0, max: 1.0 }));
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn ratios_are_a_over_b_and_nan_where_undefined() {
        let r = ratios(&[Some(3.0), Some(1.0), None, Some(2.0)], &[Some(2.0), Some(0.0), Some(1.0), Some(4.0)]);
        assert_eq!(r[0], 1.5);
        assert!(r[1].is_nan() && r[2].is_nan());
        assert_eq!(r[3], 0.5);
        assert_eq!(Spread::of(&r).map(|s| s.median), Some(1.0));
    }
}
