//! Which requests a maintenance phase touched, and what they saw.
//!
//! The load runs without a break through every phase; each request is kept as a
//! [`Sample`] (when it was sent, how long it took). A phase is a [`Window`] of time,
//! and a request belongs to it if the two overlap: a read sent just before a
//! defragmentation that waits for all of it is the very stall to report, even though it
//! was sent outside the window.
//!
//! Two figures name a stall: the slowest request that overlaps the window (`max_ms`), and
//! the longest stretch inside the window in which no request of that kind completed
//! (`longest_gap_ms`). With one client per kind they agree; with several, the gap says
//! how long that kind of request made no progress at all, which a single slow request
//! does not.

use serde::Serialize;
use std::time::Duration;

/// One request of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When it was sent, since the load started.
    pub start: Duration,
    /// From sending it to its answer (or its timeout).
    pub latency: Duration,
    /// Whether it succeeded.
    pub ok: bool,
}

impl Sample {
    /// When its answer came, since the load started.
    pub fn end(&self) -> Duration {
        self.start + self.latency
    }
}

/// A stretch of the load's time, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Since the load started.
    pub start: Duration,
    /// Since the load started; not before `start`.
    pub end: Duration,
}

impl Window {
    /// The window from `start` to `end` (an `end` before `start` is taken as `start`).
    pub fn new(start: Duration, end: Duration) -> Window {
        Window { start, end: end.max(start) }
    }

    /// Its length.
    pub fn len(&self) -> Duration {
        self.end - self.start
    }

    /// Whether `s` was in flight at some moment of the window.
    pub fn touches(&self, s: &Sample) -> bool {
        s.start <= self.end && s.end() >= self.start
    }
}

/// What one kind of request saw in one window. Percentiles are of the successful
/// requests; `max_ms` and `longest_gap_ms` count failed ones too (a request that timed
/// out waited as long as any).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WindowStats {
    /// Requests that touched the window.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Median latency of the successful ones.
    pub p50_ms: f64,
    /// 99th percentile (nearest rank) of the successful ones.
    pub p99_ms: f64,
    /// The slowest request that touched the window.
    pub max_ms: f64,
    /// The longest time inside the window with no request of this kind completing.
    pub longest_gap_ms: f64,
}

/// The statistics of the samples that touch `w`.
pub fn window_stats(samples: &[Sample], w: Window) -> WindowStats {
    let touching: Vec<&Sample> = samples.iter().filter(|s| w.touches(s)).collect();
    let mut ok: Vec<Duration> = touching.iter().filter(|s| s.ok).map(|s| s.latency).collect();
    ok.sort_unstable();
    let max = touching.iter().map(|s| s.latency).max().unwrap_or_default();
    let ends: Vec<Duration> = touching.iter().map(|s| s.end()).collect();
    WindowStats {
        requests: touching.len() as u64,
        errors: touching.iter().filter(|s| !s.ok).count() as u64,
        p50_ms: ms(percentile(&ok, 0.50)),
        p99_ms: ms(percentile(&ok, 0.99)),
        max_ms: ms(max),
        longest_gap_ms: ms(longest_gap(ends, w)),
    }
}

/// The nearest-rank `q`-quantile of sorted values; zero for none.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The longest stretch of `w` between consecutive completions (`ends`), counting the
/// window's own start and end as bounds. Completions outside the window are ignored, so
/// a window nothing completed in has one gap: all of it.
pub fn longest_gap(mut ends: Vec<Duration>, w: Window) -> Duration {
    ends.retain(|&e| e >= w.start && e <= w.end);
    ends.sort_unstable();
    let mut last = w.start;
    let mut longest = Duration::ZERO;
    for e in ends.into_iter().chain([w.end]) {
        longest = longest.max(e - last);
        last = e;
    }
    longest
}

/// Milliseconds with microsecond resolution, as the reports print them.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn sample(start: u64, latency: u64, ok: bool) -> Sample {
        Sample { start: ms_(start), latency: ms_(latency), ok }
    }

    #[test]
    fn a_request_belongs_to_every_window_it_was_in_flight_during() {
        let w = Window::new(ms_(100), ms_(200));
        assert!(w.touches(&sample(50, 60, true)), "sent before, answered inside");
        assert!(w.touches(&sample(50, 500, true)), "spans the whole window");
        assert!(w.touches(&sample(150, 1, true)), "inside");
        assert!(w.touches(&sample(199, 100, true)), "sent inside, answered after");
        assert!(w.touches(&sample(200, 0, true)), "at the end");
        assert!(!w.touches(&sample(10, 89, true)), "answered before it began");
        assert!(!w.touches(&sample(201, 1, true)), "sent after it ended");
        assert_eq!(Window::new(ms_(5), ms_(3)).len(), Duration::ZERO, "an inverted window is empty");
    }

    #[test]
    fn the_stall_is_the_slowest_touching_request_failed_ones_included() {
        let samples = [
            sample(0, 1, true),   // before the window
            sample(95, 30, true), // waits across its start
            sample(130, 2, true),
            sample(140, 45, false), // timed out inside it
            sample(300, 900, true), // after it
        ];
        let s = window_stats(&samples, Window::new(ms_(100), ms_(200)));
        assert_eq!((s.requests, s.errors), (3, 1));
        assert_eq!(s.max_ms, 45.0, "the failed request waited longest");
        assert_eq!(s.p99_ms, 30.0, "percentiles are of successes");
        assert_eq!(s.p50_ms, 2.0);
        // Completions at 125, 132, 185 in [100, 200]: gaps 25, 7, 53, 15.
        assert_eq!(s.longest_gap_ms, 53.0);
    }

    #[test]
    fn an_empty_window_is_all_gap_and_zero_latency() {
        let s = window_stats(&[sample(0, 1, true)], Window::new(ms_(10), ms_(40)));
        assert_eq!(
            s,
            WindowStats { requests: 0, errors: 0, p50_ms: 0.0, p99_ms: 0.0, max_ms: 0.0, longest_gap_ms: 30.0 }
        );
    }

    #[test]
    fn a_request_that_outlasts_the_window_leaves_it_all_gap() {
        // etcd's defrag: the read sent just before it is answered only after it.
        let s = window_stats(&[sample(90, 200, true)], Window::new(ms_(100), ms_(250)));
        assert_eq!((s.requests, s.max_ms, s.longest_gap_ms), (1, 200.0, 150.0));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(ms_).collect();
        assert_eq!(percentile(&v, 0.50), ms_(50));
        assert_eq!(percentile(&v, 0.99), ms_(99));
        assert_eq!(percentile(&v, 1.0), ms_(100));
        assert_eq!(percentile(&v[..1], 0.99), ms_(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn gaps_count_the_window_bounds_and_ignore_outside_completions() {
        let w = Window::new(ms_(10), ms_(20));
        assert_eq!(longest_gap(vec![ms_(5), ms_(12), ms_(13), ms_(25)], w), ms_(7));
        assert_eq!(longest_gap(vec![ms_(19), ms_(11)], w), ms_(8), "unsorted input");
        assert_eq!(longest_gap(vec![], w), ms_(10));
        assert_eq!(longest_gap(vec![ms_(10)], Window::new(ms_(10), ms_(10))), Duration::ZERO);
        assert_eq!(ms(Duration::from_nanos(1_234_567)), 1.235);
    }
}
