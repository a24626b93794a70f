//! Running etcdctl (or stratactl) and normalising its output.

use std::io::Write;
use std::process::{Command, Stdio};

/// What a CLI run printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlOutput {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl CtlOutput {
    /// The `Error: …` line etcdctl prints last, without the client's retry logs.
    pub fn error_line(&self) -> Option<&str> {
        self.stderr.lines().rev().find(|l| l.starts_with("Error:"))
    }
}

/// Runs the real etcdctl against `endpoint`.
pub fn etcdctl(endpoint: &str, args: &[&str], stdin: Option<&str>) -> anyhow::Result<CtlOutput> {
    run_ctl("/usr/bin/etcdctl", endpoint, args, stdin)
}

/// Runs an etcdctl-compatible binary against `endpoint`.
pub fn run_ctl(bin: &str, endpoint: &str, args: &[&str], stdin: Option<&str>) -> anyhow::Result<CtlOutput> {
    let mut child = Command::new(bin)
        .env("ETCDCTL_API", "3")
        .arg("--endpoints")
        .arg(endpoint)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.unwrap_or("").as_bytes())?;
    }
    let out = child.wait_with_output()?;
    Ok(CtlOutput {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    })
}

/// Replaces member ids, cluster ids and Raft terms (which legitimately differ
/// between two servers) with placeholders, in JSON and `fields` output.
pub fn mask_ids(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let mut l = line.to_string();
        for key in [
            "\"cluster_id\":",
            "\"member_id\":",
            "\"raft_term\":",
            "\"ClusterID\" : ",
            "\"MemberID\" : ",
            "\"RaftTerm\" : ",
        ] {
            l = mask_number_after(&l, key);
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// Replaces the number after each `key` (digits, with the quotes, sign and
/// decimal point JSON and Go print around them) by `N`.
pub fn mask_number_after(s: &str, key: &str) -> String {
    mask_after(s, key, |rest| {
        let n = rest.bytes().take_while(|b| b.is_ascii_digit() || matches!(b, b'"' | b'-' | b'.')).count();
        (n, "N".to_string())
    })
}

/// After each `key`, replaces the text `f` measures (its length in bytes)
/// by what `f` returns; a length of 0 leaves the text alone.
pub fn mask_after(s: &str, key: &str, f: impl Fn(&str) -> (usize, String)) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(key) {
        let (head, tail) = rest.split_at(i + key.len());
        out.push_str(head);
        let (n, with) = f(tail);
        if n > 0 {
            out.push_str(&with);
        }
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

/// Replaces every word of hex digits whose length is in `lens` by `LEASE`:
/// lease ids, which print in hex without leading zeros and end the keys of
/// locks and elections.
pub fn mask_hex_words(s: &str, lens: std::ops::RangeInclusive<usize>) -> String {
    s.split_inclusive(|c: char| !c.is_ascii_hexdigit())
        .map(|w| {
            let body = w.trim_end_matches(|c: char| !c.is_ascii_hexdigit());
            if lens.contains(&body.len()) { w.replacen(body, "LEASE", 1) } else { w.to_string() }
        })
        .collect()
}

/// Shell functions every step can use. `await_watchers N` waits (at most
/// 5 s) until the server reports at least N watchers on `/metrics` (etcd's
/// `etcd_debugging_mvcc_watcher_total`, which both servers export), and
/// `await_no_watchers` until it reports none, so that a background writer
/// starts once the watch it feeds exists instead of after a guessed sleep.
/// Without curl they fall back to sleeping 1 s.
const STEP_PRELUDE: &str = r#"
watchers() { curl -fs "http://$E/metrics" 2>/dev/null | sed -n 's/^etcd_debugging_mvcc_watcher_total //p'; }
await_watchers() {
  if ! command -v curl >/dev/null; then sleep 1; return; fi
  for _ in $(seq 100); do [ "$(watchers)" -ge "$1" ] 2>/dev/null && return; sleep 0.05; done
}
await_no_watchers() {
  if ! command -v curl >/dev/null; then return; fi
  for _ in $(seq 100); do [ "$(watchers)" = 0 ] && return; sleep 0.05; done
}
"#;

/// Runs a steps file — one shell line per step, `$C` standing for `cli
/// --endpoints <endpoint>` and `$E` for the endpoint, `#` lines skipped, the
/// functions of [`STEP_PRELUDE`] defined — and renders each step as its
/// command, its stdout passed through `mask`, its last `Error:` line (also
/// masked) and its exit code, for comparing two CLI/server pairs.
pub fn run_steps(cli: &str, endpoint: &str, steps: &str, mask: impl Fn(&str) -> String) -> Vec<String> {
    steps
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|line| {
            let out = Command::new("bash")
                .arg("-c")
                .arg(format!("{STEP_PRELUDE}\n{line}"))
                .env("C", format!("{cli} --endpoints {endpoint}"))
                .env("E", endpoint)
                .env("ETCDCTL_API", "3")
                .output();
            match out {
                Ok(out) => {
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    let error = stderr.lines().rev().find(|l| l.starts_with("Error:")).unwrap_or("");
                    let stdout = mask(&String::from_utf8_lossy(&out.stdout));
                    format!("$ {line}\n{stdout}{}\n[exit {}]\n", mask(error), out.status.code().unwrap_or(-1))
                }
                Err(e) => format!("$ {line}\ncannot run bash: {e}\n"),
            }
        })
        .collect()
}

/// Compares two renderings of the same steps (`run_steps`), the reference
/// first: `None` if they agree, else a report of every differing step.
pub fn step_differences(want: &[String], got: &[String]) -> Option<String> {
    step_differences_between("etcdctl/etcd", "stratactl/strata", want, got)
}

/// [`step_differences`] with each side's name in the report.
pub fn step_differences_between(want_name: &str, got_name: &str, want: &[String], got: &[String]) -> Option<String> {
    if want.len() != got.len() {
        return Some(format!("{} steps rendered against {} reference steps", got.len(), want.len()));
    }
    let diffs: Vec<String> = want
        .iter()
        .zip(got)
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("{want_name}:\n{w}{got_name}:\n{g}"))
        .collect();
    (!diffs.is_empty()).then(|| format!("{} of {} steps differ:\n{}", diffs.len(), want.len(), diffs.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_ids_in_json_and_fields() {
        let json = r#"{"header":{"cluster_id":1,"member_id":22,"revision":3,"raft_term":2}}"#;
        assert_eq!(mask_ids(json), "{\"header\":{\"cluster_id\":N,\"member_id\":N,\"revision\":3,\"raft_term\":N}}\n");
        assert_eq!(mask_ids("\"ClusterID\" : 123\n\"Revision\" : 4"), "\"ClusterID\" : N\n\"Revision\" : 4\n");
    }
}
