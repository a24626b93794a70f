//! The columns of the step-file tests: one steps file (`testkit::run_steps`) run by
//! several CLI/server pairs at once, each on a fresh member, and compared in columns:
//!
//! | column | reference | compared with | why |
//! |---|---|---|---|
//! | 3.4 | etcdctl 3.4.23 on etcd 3.4.23 | etcdctl 3.4.23 on Strata | old clients keep working |
//! | 3.6 | etcdctl 3.6.14 on etcd 3.6.14 | etcdctl 3.6.14 on Strata | Strata answers as etcd 3.6.14 |
//! | stratactl | etcdctl 3.6.14 on etcd 3.6.14 | stratactl on Strata | stratactl follows etcdctl 3.6.14 |
//!
//! Strata answers as etcd 3.6.14, so etcdctl 3.4.23 sometimes prints a 3.6 answer where
//! etcd 3.4.23 gave a 3.4 one. The 3.4 column leaves such a step out when its line ends
//! in a comment naming the change, `# 3.6 server: <what changed>`, and its caller may
//! mask what is left (the version string). Without etcd 3.6.14's binaries
//! (`testkit::anchor`) only the 3.4 column runs; without Debian's etcd and etcdctl,
//! only the others.
//!
//! The runs are mostly waiting (watch timeouts, lock contenders), so they run side by
//! side, [`PARALLEL_RUNS`] at a time: a file takes about twice as long as one run, not
//! five times.

use std::collections::BTreeMap;

use testkit::{MemberProcess, anchor, have_etcd, have_etcdctl, missing_anchor, run_steps, step_differences_between};

use crate::strata;

pub const STRATACTL: &str = env!("CARGO_BIN_EXE_stratactl");
pub const ETCDCTL34: &str = "/usr/bin/etcdctl";

/// The comment that ends a step whose answer changed in etcd 3.6 in a way etcdctl
/// 3.4.23 shows: the 3.4 column leaves the step out.
pub const SERVER_36: &str = "# 3.6 server:";

/// One CLI against one kind of server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Run {
    Etcdctl34OnEtcd34,
    Etcdctl34OnStrata,
    Etcdctl36OnEtcd36,
    Etcdctl36OnStrata,
    StratactlOnStrata,
    /// stratactl's printers on etcd's own answers (fewer masks needed).
    StratactlOnEtcd36,
}

impl Run {
    pub fn label(self) -> &'static str {
        match self {
            Run::Etcdctl34OnEtcd34 => "etcdctl 3.4.23 on etcd 3.4.23",
            Run::Etcdctl34OnStrata => "etcdctl 3.4.23 on strata",
            Run::Etcdctl36OnEtcd36 => "etcdctl 3.6.14 on etcd 3.6.14",
            Run::Etcdctl36OnStrata => "etcdctl 3.6.14 on strata",
            Run::StratactlOnStrata => "stratactl on strata",
            Run::StratactlOnEtcd36 => "stratactl on etcd 3.6.14",
        }
    }

    /// The CLI, or why it cannot run.
    fn cli(self) -> Result<String, String> {
        match self {
            Run::Etcdctl34OnEtcd34 | Run::Etcdctl34OnStrata if !have_etcdctl() => {
                Err("skipped: /usr/bin/etcdctl not installed (apt-get install etcd-client)".into())
            }
            Run::Etcdctl34OnEtcd34 | Run::Etcdctl34OnStrata => Ok(ETCDCTL34.into()),
            Run::Etcdctl36OnEtcd36 | Run::Etcdctl36OnStrata => {
                anchor("etcdctl").map(|p| p.to_string_lossy().into_owned()).ok_or_else(|| missing_anchor("etcdctl"))
            }
            Run::StratactlOnStrata | Run::StratactlOnEtcd36 => Ok(STRATACTL.into()),
        }
    }

    /// A fresh member for this run, or why there is none.
    fn start(self, flags: &Flags) -> Result<MemberProcess, String> {
        match self {
            Run::Etcdctl34OnEtcd34 if !have_etcd() => {
                Err("skipped: /usr/bin/etcd not installed (apt-get install etcd-server)".into())
            }
            Run::Etcdctl34OnEtcd34 => MemberProcess::start_etcd(flags.etcd).map_err(|e| format!("start etcd: {e:#}")),
            Run::Etcdctl36OnEtcd36 | Run::StratactlOnEtcd36 if anchor("etcd").is_none() => Err(missing_anchor("etcd")),
            Run::Etcdctl36OnEtcd36 | Run::StratactlOnEtcd36 => {
                MemberProcess::start_etcd36(flags.etcd).map_err(|e| format!("start etcd 3.6.14: {e:#}"))
            }
            Run::Etcdctl34OnStrata | Run::Etcdctl36OnStrata | Run::StratactlOnStrata => Ok(strata(flags.strata)),
        }
    }
}

/// Server flags, the same for every run of a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags<'a> {
    pub etcd: &'a [&'a str],
    pub strata: &'a [&'a str],
}

/// A reference run and the run that must print the same.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub want: Run,
    pub got: Run,
}

pub const COLUMN_34: Column = Column { want: Run::Etcdctl34OnEtcd34, got: Run::Etcdctl34OnStrata };
pub const COLUMN_36: Column = Column { want: Run::Etcdctl36OnEtcd36, got: Run::Etcdctl36OnStrata };
pub const COLUMN_STRATACTL: Column = Column { want: Run::Etcdctl36OnEtcd36, got: Run::StratactlOnStrata };

/// What each run printed, step by step (`run_steps`' renderings), or why it did not run.
pub struct Renderings(BTreeMap<Run, Result<Vec<String>, String>>);

/// How many runs of one file go at once. The steps' timing (contenders staggered by
/// half a second, watches ended after 3 s) was set for a machine doing one run; three
/// at once on 2 cores, beside another test, keep it; five did not (a contender
/// interrupted before it had started, a watch ended before its writer's put).
pub const PARALLEL_RUNS: usize = 3;

/// Runs `steps` once per run of `runs`, [`PARALLEL_RUNS`] at a time in the order given,
/// each on a fresh member started with `flags`, each step's stdout and error line
/// passed through `mask`.
pub fn run_all(steps: &str, flags: Flags, runs: &[Run], mask: impl Fn(&str) -> String + Sync) -> Renderings {
    let queue = std::sync::Mutex::new(runs.iter().rev().copied().collect::<Vec<_>>());
    let done = std::sync::Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL_RUNS.min(runs.len()) {
            s.spawn(|| {
                loop {
                    // Its own statement: a guard in the `while let` would be held for the run.
                    let next = queue.lock().expect("queue").pop();
                    let Some(run) = next else { break };
                    let rendered = run.cli().and_then(|cli| {
                        let member = run.start(&flags)?;
                        Ok(run_steps(&cli, &member.endpoint(), steps, &mask))
                    });
                    done.lock().expect("results").insert(run, rendered);
                }
            });
        }
    });
    Renderings(done.into_inner().expect("results"))
}

impl Renderings {
    /// The renderings of `run`, if it ran.
    pub fn get(&self, run: Run) -> Option<&[String]> {
        self.0.get(&run).and_then(|r| r.as_ref().ok()).map(Vec::as_slice)
    }

    /// Why `column` cannot be compared, if one of its runs did not run.
    pub fn skipped(&self, column: Column) -> Option<&str> {
        [column.want, column.got].iter().find_map(|r| match self.0.get(r) {
            Some(Err(why)) => Some(why.as_str()),
            Some(Ok(_)) => None,
            None => Some("not run"),
        })
    }

    /// Compares `column` once `mask` (given each step's index and rendering) has been
    /// applied to both sides: `None` if they agree (or the column could not run: the
    /// reason is printed), else a report.
    pub fn differences(&self, column: Column, mask: impl Fn(usize, &str) -> String) -> Option<String> {
        if let Some(why) = self.skipped(column) {
            eprintln!("{} against {}: {why}", column.got.label(), column.want.label());
            return None;
        }
        let (want, got) = (self.get(column.want)?, self.get(column.got)?);
        let masked = |r: &[String]| r.iter().enumerate().map(|(i, s)| mask(i, s)).collect::<Vec<_>>();
        step_differences_between(column.want.label(), column.got.label(), &masked(want), &masked(got))
            .map(|report| format!("{} against {}: {report}", column.got.label(), column.want.label()))
    }

    /// [`Renderings::differences`] for the 3.4 column: steps marked [`SERVER_36`] are
    /// left out of both sides.
    pub fn differences_34(&self, mask: impl Fn(usize, &str) -> String) -> Option<String> {
        self.differences(COLUMN_34, |i, s| if is_server_36(s) { String::new() } else { mask(i, s) })
    }
}

/// Whether a rendered step's command ends in the [`SERVER_36`] comment.
fn is_server_36(rendered: &str) -> bool {
    rendered.lines().next().is_some_and(|command| command.contains(SERVER_36))
}

/// Etcd's version in a 3.6 answer read by etcdctl 3.4.23 (`endpoint status`), as
/// etcd 3.4.23 reports its own: the only field of those answers that names the version.
pub fn version_as_34(s: &str) -> String {
    s.replace("3.6.14", "3.4.23")
}

/// Runs `steps` in the three columns with `mask` on every run (and, in the 3.4 column,
/// [`version_as_34`] too), and fails with every difference.
pub fn compare_columns(steps: &str, flags: Flags, mask: impl Fn(&str) -> String + Sync) {
    let runs = [
        Run::Etcdctl36OnEtcd36,
        Run::StratactlOnStrata,
        Run::Etcdctl34OnEtcd34,
        Run::Etcdctl36OnStrata,
        Run::Etcdctl34OnStrata,
    ];
    let rendered = run_all(steps, flags, &runs, mask);
    let reports: Vec<String> = [
        rendered.differences_34(|_, s| version_as_34(s)),
        rendered.differences(COLUMN_36, |_, s| s.to_string()),
        rendered.differences(COLUMN_STRATACTL, |_, s| s.to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(reports.is_empty(), "{}", reports.join("\n\n"));
}

#[test]
fn server_36_steps_are_known_by_their_command_line() {
    assert!(is_server_36("$ $C alarm list -w json  # 3.6 server: a header\n{}\n[exit 0]\n"));
    assert!(!is_server_36("$ $C alarm list -w json\n# 3.6 server: x\n[exit 0]\n"));
}
