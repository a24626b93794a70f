//! A linearizability checker for histories of puts, gets and compare-and-set
//! txns on single keys, recorded from concurrent clients.
//!
//! Each key is a register checked on its own (a history is linearizable iff
//! each key's is, since every operation touches one key). For one key the
//! search is Wing & Gong's, with Lowe's memoisation as in Porcupine: walk
//! the operations in call order, repeatedly pick one that may take effect
//! next (it was called before every operation still pending returned), apply
//! it to the register, and backtrack when nothing fits; a configuration
//! (which operations have taken effect, the register's value) seen once is
//! never explored again. The history is linearizable iff every operation
//! that returned can be placed.
//!
//! An operation whose outcome is unknown (an error or a timeout) may have
//! taken effect at any time after its call, or never: it returns "at
//! infinity", its result is not checked, and it need not be placed. Before
//! the search, unknown writes whose value no operation mentions are dropped:
//! every operation that depends on the register observes its exact value
//! (a get its read, a txn its compare, a failed txn its read), so a write
//! nobody observed can always be moved past the end.
//!
//! Worked example: `put a` returns, then `put b` is called and times out,
//! then a get returns `a` and a later get returns `b`. Linearizable: `b` took
//! effect between the two gets. Had the second get returned `a` again and the
//! first `b`, it would not be: a register does not go back from `b` to `a`
//! with nobody writing `a`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Instant;

/// One operation on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Sets the key's value.
    Put { value: String },
    /// Reads the key: its value, None if the key does not exist.
    Get { read: Option<String> },
    /// A txn: if the key's value is `expect`, put `new` (`succeeded`), else
    /// read the key (`read`, unused when `succeeded`). As in etcd, comparing
    /// the value of a key that does not exist fails.
    Cas { expect: String, new: String, succeeded: bool, read: Option<String> },
}

/// An operation of the history, with its call and return times.
#[derive(Debug, Clone)]
pub struct Entry {
    pub client: usize,
    pub key: String,
    pub call: Instant,
    /// When the answer arrived; None if it never did (an error or a timeout):
    /// the operation may then have taken effect at any time after `call`, or
    /// never, and what `op` says it read or whether it succeeded is ignored.
    pub ret: Option<Instant>,
    pub op: Op,
}

/// Why a history was not shown linearizable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No order of the key's operations explains what the clients saw;
    /// `report` shows the longest explainable prefix and what cannot follow it.
    NotLinearizable { key: String, report: String },
    /// The search visited more than its budget of configurations.
    GaveUp { key: String, states: usize },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NotLinearizable { key, report } => write!(f, "key {key:?} is not linearizable:\n{report}"),
            Failure::GaveUp { key, states } => write!(f, "key {key:?}: gave up after {states} configurations"),
        }
    }
}

/// The most configurations one key's search may visit.
const STATE_BUDGET: usize = 2_000_000;

/// Checks every key of `history`.
pub fn check(history: &[Entry]) -> Result<(), Failure> {
    let mut by_key: HashMap<&str, Vec<&Entry>> = HashMap::new();
    for e in history {
        by_key.entry(&e.key).or_default().push(e);
    }
    let mut keys: Vec<&str> = by_key.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        check_key(key, &by_key[key])?;
    }
    Ok(())
}

/// A value, interned: 0 is "the key does not exist".
type Value = u32;
const ABSENT: Value = 0;

/// An operation as the search sees it.
#[derive(Debug, Clone, Copy)]
enum Step {
    Put(Value),
    Get(Value),
    /// `outcome`: None if unknown, else Some(None) for success and
    /// Some(Some(read)) for a failure that read `read`.
    Cas {
        expect: Value,
        new: Value,
        outcome: Option<Option<Value>>,
    },
}

impl Step {
    /// The register after this step, or None if the step cannot happen in `state`.
    fn apply(self, state: Value) -> Option<Value> {
        match self {
            Step::Put(v) => Some(v),
            Step::Get(read) => (state == read).then_some(state),
            Step::Cas { expect, new, outcome: None } => Some(if state == expect { new } else { state }),
            Step::Cas { expect, new, outcome: Some(None) } => (state == expect).then_some(new),
            Step::Cas { expect, outcome: Some(Some(read)), .. } => (state != expect && state == read).then_some(state),
        }
    }

    /// The value this step may write, if any.
    fn writes(self) -> Option<Value> {
        match self {
            Step::Put(v) | Step::Cas { new: v, outcome: None | Some(None), .. } => Some(v),
            _ => None,
        }
    }

    /// The values whose presence this step depends on.
    fn mentions(self) -> impl Iterator<Item = Value> {
        let (a, b) = match self {
            Step::Put(_) => (None, None),
            Step::Get(read) => (Some(read), None),
            Step::Cas { expect, outcome: Some(Some(read)), .. } => (Some(expect), Some(read)),
            Step::Cas { expect, .. } => (Some(expect), None),
        };
        a.into_iter().chain(b)
    }
}

/// One key's operations, ready for the search.
struct KeyHistory<'a> {
    /// The entries the steps came from, in call order.
    entries: Vec<&'a Entry>,
    steps: Vec<Step>,
    names: Vec<String>,
}

impl<'a> KeyHistory<'a> {
    fn new(entries: &[&'a Entry]) -> KeyHistory<'a> {
        let mut names = vec!["<absent>".to_string()];
        let mut ids: HashMap<String, Value> = HashMap::new();
        let mut intern = |v: &Option<String>| -> Value {
            let Some(v) = v else { return ABSENT };
            *ids.entry(v.clone()).or_insert_with(|| {
                names.push(v.clone());
                Value::try_from(names.len() - 1).expect("fewer than 2^32 values")
            })
        };
        let mut kept = Vec::new();
        let mut steps = Vec::new();
        let mut sorted = entries.to_vec();
        sorted.sort_by_key(|e| e.call);
        for e in sorted {
            let known = e.ret.is_some();
            let step = match &e.op {
                // An unanswered read constrains nothing.
                Op::Get { .. } if !known => continue,
                Op::Get { read } => Step::Get(intern(read)),
                Op::Put { value } => Step::Put(intern(&Some(value.clone()))),
                Op::Cas { expect, new, succeeded, read } => Step::Cas {
                    expect: intern(&Some(expect.clone())),
                    new: intern(&Some(new.clone())),
                    outcome: known.then(|| (!succeeded).then(|| intern(read))),
                },
            };
            kept.push(e);
            steps.push(step);
        }
        let mut h = KeyHistory { entries: kept, steps, names };
        h.drop_unobserved_writes();
        h
    }

    /// Drops unknown writes whose value no remaining step mentions, until
    /// none is left (dropping an unknown txn can orphan another write).
    fn drop_unobserved_writes(&mut self) {
        loop {
            let mentioned: HashSet<Value> = self.steps.iter().flat_map(|s| s.mentions()).collect();
            let keep: Vec<bool> = (self.steps.iter().zip(&self.entries))
                .map(|(s, e)| e.ret.is_some() || s.writes().is_none_or(|v| mentioned.contains(&v)))
                .collect();
            if keep.iter().all(|k| *k) {
                return;
            }
            let mut keep_iter = keep.iter();
            self.entries.retain(|_| *keep_iter.next().expect("one flag per entry"));
            let mut keep_iter = keep.iter();
            self.steps.retain(|_| *keep_iter.next().expect("one flag per step"));
        }
    }
}

/// Which operations have taken effect.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn with(&self, i: usize) -> Bits {
        let mut b = self.clone();
        b.0[i / 64] |= 1 << (i % 64);
        b
    }
}

impl KeyHistory<'_> {
    /// The operations that may take effect next once `done` have: those not
    /// done that were called before every pending operation returned, the
    /// ones with a known return first (an operation with an unknown outcome
    /// usually took effect late or never). Also answers the first operation
    /// not done, at or after `from`, below which all are done.
    fn candidates(&self, done: &Bits, from: usize) -> (usize, Vec<usize>) {
        let n = self.steps.len();
        let first = (from..n).find(|i| !done.get(*i)).unwrap_or(n);
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        // In call order, and every later operation returns after this one's
        // call, so the earliest return so far decides.
        let mut horizon: Option<Instant> = None;
        for i in (first..n).filter(|i| !done.get(*i)) {
            let e = self.entries[i];
            if horizon.is_some_and(|r| e.call > r) {
                break;
            }
            match e.ret {
                Some(r) => {
                    horizon = Some(horizon.map_or(r, |h| h.min(r)));
                    known.push(i);
                }
                None => unknown.push(i),
            }
        }
        known.extend(unknown);
        (first, known)
    }
}

struct Frame {
    done: Bits,
    /// Every operation below it is done.
    first: usize,
    state: Value,
    /// How many operations with a known return are in `done`.
    known_done: usize,
    candidates: Vec<usize>,
    next: usize,
}

fn check_key(key: &str, entries: &[&Entry]) -> Result<(), Failure> {
    let h = KeyHistory::new(entries);
    let known = h.entries.iter().filter(|e| e.ret.is_some()).count();
    if known == 0 {
        return Ok(());
    }
    let done = Bits::new(h.steps.len());
    let (first, candidates) = h.candidates(&done, 0);
    let mut stack = vec![Frame { done, first, state: ABSENT, known_done: 0, candidates, next: 0 }];
    let mut seen: HashSet<(Bits, Value)> = HashSet::new();
    // The deepest configuration reached, for the report.
    let mut deepest: (usize, Vec<usize>, Value) = (0, Vec::new(), ABSENT);
    while let Some(top) = stack.last_mut() {
        let Some(&i) = top.candidates.get(top.next) else {
            stack.pop();
            continue;
        };
        top.next += 1;
        let Some(state) = h.steps[i].apply(top.state) else { continue };
        let known_done = top.known_done + usize::from(h.entries[i].ret.is_some());
        if known_done == known {
            return Ok(());
        }
        let done = top.done.with(i);
        let from = top.first;
        if !seen.insert((done.clone(), state)) {
            continue;
        }
        if seen.len() > STATE_BUDGET {
            return Err(Failure::GaveUp { key: key.to_string(), states: seen.len() });
        }
        // Each frame's last tried candidate is the path to this configuration.
        if stack.len() > deepest.0 {
            deepest = (stack.len(), stack.iter().map(|f| f.candidates[f.next - 1]).collect(), state);
        }
        let (first, candidates) = h.candidates(&done, from);
        stack.push(Frame { done, first, state, known_done, candidates, next: 0 });
    }
    Err(Failure::NotLinearizable { key: key.to_string(), report: report(&h, &deepest.1, deepest.2) })
}

/// Explains a failed search: the longest prefix that could be placed (its
/// last operations), the register's value after it, and the operations that
/// could come next, none of which can.
fn report(h: &KeyHistory<'_>, order: &[usize], state: Value) -> String {
    let t0 = h.entries.iter().map(|e| e.call).min().expect("a non-empty history");
    let mut done = Bits::new(h.steps.len());
    for &i in order {
        done = done.with(i);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} of {} operations placed; the last of them:", order.len(), h.steps.len());
    for &i in order.iter().rev().take(8).rev() {
        let _ = writeln!(out, "  {}", describe(h, i, t0));
    }
    let _ = writeln!(out, "then the value is {:?}, and none of these can come next:", h.names[state as usize]);
    for i in h.candidates(&done, 0).1 {
        let _ = writeln!(out, "  {}", describe(h, i, t0));
    }
    out
}

fn describe(h: &KeyHistory<'_>, i: usize, t0: Instant) -> String {
    let e = h.entries[i];
    let call = e.call.duration_since(t0).as_secs_f64();
    let ret = e.ret.map_or("?".to_string(), |r| format!("{:.6}", r.duration_since(t0).as_secs_f64()));
    let what = match &e.op {
        Op::Put { value } => format!("put {value}"),
        Op::Get { read } => format!("get -> {read:?}"),
        Op::Cas { expect, new, succeeded: true, .. } => format!("cas {expect} -> {new}: succeeded"),
        Op::Cas { expect, new, succeeded: false, read } if e.ret.is_some() => {
            format!("cas {expect} -> {new}: failed, read {read:?}")
        }
        Op::Cas { expect, new, .. } => format!("cas {expect} -> {new}"),
    };
    format!("client {} [{call:.6}, {ret}] {what}", e.client)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::Duration;

    use super::*;

    fn at(ms: u64) -> Instant {
        static BASE: OnceLock<Instant> = OnceLock::new();
        *BASE.get_or_init(Instant::now) + Duration::from_millis(ms)
    }

    fn entry(client: usize, call: u64, ret: Option<u64>, op: Op) -> Entry {
        Entry { client, key: "k".into(), call: at(call), ret: ret.map(at), op }
    }

    /// A put of `value` by `client`, called at `call` ms, returned at `ret` ms (None: unknown).
    fn put(client: usize, call: u64, ret: Option<u64>, value: &str) -> Entry {
        entry(client, call, ret, Op::Put { value: value.into() })
    }

    fn get(client: usize, call: u64, ret: Option<u64>, read: Option<&str>) -> Entry {
        entry(client, call, ret, Op::Get { read: read.map(Into::into) })
    }

    fn cas(
        client: usize,
        call: u64,
        ret: Option<u64>,
        expect: &str,
        new: &str,
        outcome: Result<(), Option<&str>>,
    ) -> Entry {
        let (succeeded, read) = match outcome {
            Ok(()) => (true, None),
            Err(read) => (false, read.map(Into::into)),
        };
        entry(client, call, ret, Op::Cas { expect: expect.into(), new: new.into(), succeeded, read })
    }

    fn assert_linearizable(h: &[Entry]) {
        if let Err(f) = check(h) {
            panic!("expected linearizable, got: {f}");
        }
    }

    fn assert_not_linearizable(h: &[Entry]) -> String {
        match check(h) {
            Err(Failure::NotLinearizable { report, .. }) => report,
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    #[test]
    fn sequential_puts_and_gets_are_linearizable() {
        assert_linearizable(&[
            get(1, 0, Some(1), None),
            put(1, 2, Some(3), "a"),
            get(2, 4, Some(5), Some("a")),
            put(2, 6, Some(7), "b"),
            get(1, 8, Some(9), Some("b")),
        ]);
    }

    #[test]
    fn a_read_concurrent_with_a_put_may_see_either_value() {
        for read in [Some("a"), Some("b")] {
            assert_linearizable(&[put(1, 0, Some(1), "a"), put(1, 2, Some(10), "b"), get(2, 3, Some(4), read)]);
        }
    }

    #[test]
    fn concurrent_reads_may_see_concurrent_puts_in_either_order() {
        // b then a, both while both puts are pending: put b, get b, put a, get a.
        assert_linearizable(&[
            put(1, 0, Some(10), "a"),
            put(2, 0, Some(10), "b"),
            get(3, 1, Some(2), Some("b")),
            get(3, 3, Some(4), Some("a")),
        ]);
    }

    #[test]
    fn a_stale_read_is_not_linearizable() {
        let report =
            assert_not_linearizable(&[put(1, 0, Some(1), "a"), put(1, 2, Some(3), "b"), get(2, 4, Some(5), Some("a"))]);
        assert!(report.contains("get -> Some(\"a\")"), "{report}");
        assert!(report.contains("then the value is \"b\""), "{report}");
    }

    #[test]
    fn a_lost_write_is_not_linearizable() {
        assert_not_linearizable(&[put(1, 0, Some(1), "a"), get(2, 2, Some(3), None)]);
        assert_not_linearizable(&[put(1, 0, Some(1), "a"), put(2, 2, Some(3), "b"), get(1, 4, Some(5), Some("a"))]);
    }

    #[test]
    fn a_read_of_a_value_never_written_is_not_linearizable() {
        assert_not_linearizable(&[put(1, 0, Some(1), "a"), get(2, 0, Some(3), Some("z"))]);
    }

    #[test]
    fn a_read_before_a_put_was_called_cannot_see_it() {
        assert_not_linearizable(&[get(2, 0, Some(1), Some("a")), put(1, 2, Some(3), "a")]);
        assert_not_linearizable(&[get(2, 0, Some(1), Some("a")), put(1, 2, None, "a")]);
    }

    #[test]
    fn values_do_not_go_back_between_two_readers() {
        // After both puts returned, b is the value; a later read of a means
        // the register went back, whichever client reads it.
        assert_not_linearizable(&[
            put(1, 0, Some(5), "a"),
            put(2, 1, Some(6), "b"),
            get(3, 7, Some(8), Some("b")),
            get(4, 9, Some(10), Some("a")),
        ]);
        // Concurrent with the first read, the second may still see a first.
        assert_linearizable(&[
            put(1, 0, Some(5), "a"),
            put(2, 1, Some(6), "b"),
            get(3, 2, Some(9), Some("b")),
            get(4, 3, Some(8), Some("a")),
        ]);
    }

    #[test]
    fn a_write_with_an_unknown_outcome_may_take_effect_late_or_never() {
        // Applied long after its client gave up, between two reads.
        assert_linearizable(&[
            put(1, 0, Some(1), "a"),
            put(2, 2, None, "b"),
            get(3, 10, Some(11), Some("a")),
            get(3, 20, Some(21), Some("b")),
        ]);
        // Never applied.
        assert_linearizable(&[put(1, 0, Some(1), "a"), put(2, 2, None, "b"), get(3, 20, Some(21), Some("a"))]);
        // But once it is seen, it stays until overwritten.
        assert_not_linearizable(&[
            put(1, 0, Some(1), "a"),
            put(2, 2, None, "b"),
            get(3, 10, Some(11), Some("b")),
            get(3, 20, Some(21), Some("a")),
        ]);
    }

    #[test]
    fn an_unanswered_read_is_ignored() {
        assert_linearizable(&[put(1, 0, Some(1), "a"), get(2, 2, None, Some("never"))]);
    }

    #[test]
    fn a_txn_succeeds_only_on_the_expected_value() {
        assert_linearizable(&[
            put(1, 0, Some(1), "a"),
            cas(2, 2, Some(3), "a", "b", Ok(())),
            get(1, 4, Some(5), Some("b")),
            cas(2, 6, Some(7), "a", "c", Err(Some("b"))),
        ]);
        // Succeeded although the value was b.
        assert_not_linearizable(&[
            put(1, 0, Some(1), "a"),
            put(1, 2, Some(3), "b"),
            cas(2, 4, Some(5), "a", "c", Ok(())),
        ]);
        // Failed although the value was a.
        assert_not_linearizable(&[put(1, 0, Some(1), "a"), cas(2, 2, Some(3), "a", "c", Err(Some("a")))]);
        // Comparing the value of a missing key fails, as in etcd.
        assert_linearizable(&[cas(2, 0, Some(1), "a", "c", Err(None))]);
        // A successful txn's write is what later reads see.
        assert_not_linearizable(&[
            put(1, 0, Some(1), "a"),
            cas(2, 2, Some(3), "a", "c", Ok(())),
            get(1, 4, Some(5), Some("a")),
        ]);
    }

    #[test]
    fn a_txn_with_an_unknown_outcome_may_explain_a_read() {
        assert_linearizable(&[
            put(1, 0, Some(1), "a"),
            cas(2, 2, None, "a", "c", Ok(())),
            get(1, 10, Some(11), Some("c")),
        ]);
        // ... but only if it could have succeeded then.
        assert_not_linearizable(&[
            put(1, 0, Some(1), "a"),
            put(1, 2, Some(3), "b"),
            cas(2, 4, None, "a", "c", Ok(())),
            get(1, 10, Some(11), Some("c")),
        ]);
    }

    #[test]
    fn keys_are_checked_separately_and_the_bad_one_is_named() {
        let mut h = vec![put(1, 0, Some(1), "a"), get(2, 2, Some(3), Some("a"))];
        let mut other = vec![put(1, 0, Some(1), "x"), get(2, 2, Some(3), None)];
        for e in &mut other {
            e.key = "other".into();
        }
        h.extend(other);
        match check(&h) {
            Err(Failure::NotLinearizable { key, .. }) => assert_eq!(key, "other"),
            other => panic!("expected a violation on \"other\", got {other:?}"),
        }
    }

    /// A small deterministic PRNG (xorshift64*) for the simulated histories.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
        }
    }

    /// A history of `clients` clients doing `ops` operations each on one
    /// register that really is linearizable: each operation takes effect at a
    /// random point of its interval. About one in `unknown_one_in` loses its
    /// answer; of those, half never take effect.
    fn simulated(seed: u64, clients: usize, ops: usize, unknown_one_in: u64) -> Vec<Entry> {
        let mut rng = Rng(seed);
        // (effect time, client, op index): every operation's interval first.
        let mut planned = Vec::new();
        for c in 0..clients {
            let mut t = rng.below(5);
            for _ in 0..ops {
                let call = t + rng.below(3);
                let effect = call + 1 + rng.below(10);
                let ret = effect + 1 + rng.below(10);
                let lost = rng.below(unknown_one_in) == 0;
                let never = lost && rng.below(2) == 0;
                planned.push((effect, c, call, ret, lost, never, rng.below(10)));
                t = ret;
            }
        }
        planned.sort();
        let mut value: Option<String> = None;
        let mut history = Vec::new();
        for (n, (_, c, call, ret, lost, never, kind)) in planned.into_iter().enumerate() {
            let ret = (!lost).then_some(ret);
            let op = match kind {
                0..=3 => {
                    let v = format!("{c}-{n}");
                    if !never {
                        value = Some(v.clone());
                    }
                    Op::Put { value: v }
                }
                4..=7 => Op::Get { read: value.clone() },
                _ => {
                    // Expect the current value half the time, an old one otherwise.
                    let expect = match (&value, rng.below(2)) {
                        (Some(v), 0) => v.clone(),
                        _ => format!("{c}-{}", n.saturating_sub(3)),
                    };
                    let new = format!("{c}-{n}");
                    let succeeded = value.as_deref() == Some(&expect);
                    let read = value.clone();
                    if succeeded && !never {
                        value = Some(new.clone());
                    }
                    Op::Cas { expect, new, succeeded, read }
                }
            };
            history.push(entry(c, call, ret, op));
        }
        history
    }

    #[test]
    fn long_simulated_histories_are_linearizable() {
        for seed in 1..=10 {
            let h = simulated(seed, 8, 150, 8);
            let started = Instant::now();
            assert_linearizable(&h);
            assert!(started.elapsed() < Duration::from_secs(5), "seed {seed}: {:?}", started.elapsed());
        }
    }

    #[test]
    fn a_simulated_history_with_one_stale_read_is_not_linearizable() {
        for seed in 1..=10 {
            let mut h = simulated(seed, 8, 150, 8);
            // Find a read that returned after some later put had returned, and
            // make it return the value before that put.
            let puts: Vec<(Instant, Instant, String)> = h
                .iter()
                .filter_map(|e| match (&e.op, e.ret) {
                    (Op::Put { value }, Some(ret)) => Some((e.call, ret, value.clone())),
                    _ => None,
                })
                .collect();
            let (a, b) = puts
                .windows(2)
                .find(|w| w[0].1 < w[1].0)
                .map(|w| (w[0].2.clone(), w[1].1))
                .expect("two puts one after the other");
            let read = h
                .iter_mut()
                .find(|e| {
                    e.call > b && e.ret.is_some() && matches!(&e.op, Op::Get { read } if read.as_ref() != Some(&a))
                })
                .expect("a read after the second put");
            // Only stale if no later write of `a` can explain it: values are unique.
            read.op = Op::Get { read: Some(a) };
            assert_not_linearizable(&h);
        }
    }
}
