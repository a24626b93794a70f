//! `-w table`, for the commands that support it (`endpoint status | health | hashkv`,
//! `member list`),
//! and the rows those commands share with `-w simple` (etcdctl's `make*Table`).
//!
//! etcdctl draws tables with `olekukonko/tablewriter` (3.4 vendors a 2017 copy, 3.6
//! v0.0.5; both draw these tables alike), and its quirks are part of the output: header cells are upper-cased and centred, data cells
//! right-aligned; a column is as wide as its widest cell up to 30 characters, and a
//! longer cell is wrapped at spaces onto extra lines (minimal raggedness, a word longer
//! than the width stays whole and widens the column); each cell is wrapped at the
//! column's width *so far*, so an early row can wrap where a later one would not.
//!
//! ```text
//! +-----------------+------------+---------------+
//! |    ENDPOINT     |    HASH    | HASH REVISION |
//! +-----------------+------------+---------------+
//! | 127.0.0.1:23791 | 1084519789 |             1 |
//! +-----------------+------------+---------------+
//! ```

use crate::command::endpoint::{EndpointHashKv, EndpointHealth, EndpointStatus};
use crate::gosyntax::humanize_bytes;
use api::etcdserverpb::Member;

/// tablewriter's `MAX_ROW_WIDTH`: the width at which cells start to wrap.
const MAX_WIDTH: usize = 30;

/// A table being built: headers, column widths so far, and the wrapped rows.
#[derive(Debug)]
pub struct Table {
    headers: Vec<String>,
    widths: Vec<usize>,
    /// Per row: each cell's lines, and the row's height.
    rows: Vec<(Vec<Vec<String>>, usize)>,
}

fn width(s: &str) -> usize {
    s.chars().count()
}

impl Table {
    /// A table with `headers` (lower case; printed upper-cased).
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            widths: headers.iter().map(|h| width(h).min(MAX_WIDTH)).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row, wrapping each cell at its column's current width.
    pub fn append(&mut self, row: Vec<String>) {
        let mut cells = Vec::with_capacity(row.len());
        let mut height = 0;
        for (i, cell) in row.iter().enumerate() {
            if i == self.widths.len() {
                self.widths.push(0);
            }
            self.widths[i] = self.widths[i].max(width(cell).min(MAX_WIDTH));
            let lines = wrap(cell, self.widths[i]);
            let widest = lines.iter().map(|l| width(l)).max().unwrap_or(0);
            self.widths[i] = self.widths[i].max(widest);
            height = height.max(lines.len());
            cells.push(lines);
        }
        self.rows.push((cells, height));
    }

    /// The table: border, centred headers, border, rows, border.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.border(&mut out);
        out.push('|');
        for (h, w) in self.headers.iter().zip(&self.widths) {
            let title = title(h);
            let gap = w.saturating_sub(width(&title));
            let left = gap / 2;
            out.push_str(&format!(" {}{title}{} |", " ".repeat(left), " ".repeat(gap - left)));
        }
        out.push('\n');
        self.border(&mut out);
        for (cells, height) in &self.rows {
            for line in 0..*height {
                out.push('|');
                for (lines, w) in cells.iter().zip(&self.widths) {
                    // tablewriter pads short cells with two-space lines.
                    let text = lines.get(line).map_or("  ", String::as_str);
                    out.push_str(&format!(" {}{text} |", " ".repeat(w.saturating_sub(width(text)))));
                }
                out.push('\n');
            }
        }
        self.border(&mut out);
        out
    }

    fn border(&self, out: &mut String) {
        out.push('+');
        for w in &self.widths {
            out.push_str(&"-".repeat(w + 2));
            out.push('+');
        }
        out.push('\n');
    }
}

/// tablewriter's `Title`: `_` and `.` become spaces, trimmed, upper-cased.
fn title(h: &str) -> String {
    h.replace(['_', '.'], " ").trim().to_uppercase()
}

/// tablewriter's `WrapString`: words split at single spaces (newlines count as spaces),
/// the limit raised to the longest word, then broken into lines of minimal raggedness
/// (the sum of squared shortfalls; a line over the limit costs 100,000 more).
fn wrap(s: &str, limit: usize) -> Vec<String> {
    let text = s.replace('\n', " ");
    let words: Vec<&str> = text.split(' ').collect();
    let limit = words.iter().map(|w| w.len()).fold(limit, usize::max) as i64;
    let n = words.len();
    let len = |i: usize, j: usize| -> i64 { (i..=j).map(|k| width(words[k]) as i64).sum::<i64>() + (j - i) as i64 };
    let mut cost = vec![i64::from(i32::MAX); n];
    let mut next = vec![n; n];
    for i in (0..n).rev() {
        if len(i, n - 1) <= limit {
            cost[i] = 0;
            next[i] = n;
            continue;
        }
        for j in i + 1..n {
            let line = len(i, j - 1);
            let mut c = (limit - line).pow(2) + cost[j];
            if line > limit {
                c += 100_000;
            }
            if c < cost[i] {
                cost[i] = c;
                next[i] = j;
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        lines.push(words[i..next[i]].join(" "));
        i = next[i];
    }
    lines
}

/// `endpoint status` rows (etcdctl 3.6's): endpoint, member id (`%x`), version, storage
/// version, db size, in use (both humanized), percentage not in use, quota (humanized),
/// is leader, is learner, raft term, raft index, raft applied index, errors, downgrade
/// target version, downgrade enabled.
pub fn status_rows(list: &[EndpointStatus]) -> Vec<Vec<String>> {
    list.iter()
        .map(|s| {
            let r = &s.status;
            let member_id = r.header.map(|h| h.member_id).unwrap_or_default();
            let downgrade = r.downgrade_info.clone().unwrap_or_default();
            vec![
                s.endpoint.clone(),
                format!("{member_id:x}"),
                r.version.clone(),
                r.storage_version.clone(),
                humanize_bytes(r.db_size as u64),
                humanize_bytes(r.db_size_in_use as u64),
                format!("{}%", percentage_not_in_use(r.db_size, r.db_size_in_use)),
                humanize_bytes(r.db_size_quota as u64),
                (r.leader == member_id).to_string(),
                r.is_learner.to_string(),
                r.raft_term.to_string(),
                r.raft_index.to_string(),
                r.raft_applied_index.to_string(),
                r.errors.join(", "),
                downgrade.target_version,
                downgrade.enabled.to_string(),
            ]
        })
        .collect()
}

/// etcdctl's `100 - inUse*100/size` in integer arithmetic. A member never reports a
/// size of 0 (etcdctl would divide by zero and crash); 0 % is printed for it.
fn percentage_not_in_use(size: i64, in_use: i64) -> i64 {
    in_use.saturating_mul(100).checked_div(size).map_or(0, |used| 100 - used)
}

/// `endpoint status`'s headers.
pub const STATUS_HEADERS: [&str; 16] = [
    "endpoint",
    "ID",
    "version",
    "storage version",
    "db size",
    "in use",
    "percentage not in use",
    "quota",
    "is leader",
    "is learner",
    "raft term",
    "raft index",
    "raft applied index",
    "errors",
    "downgrade target version",
    "downgrade enabled",
];

/// `endpoint health` rows: endpoint, health, took, error.
pub fn health_rows(list: &[EndpointHealth]) -> Vec<Vec<String>> {
    list.iter().map(|h| vec![h.endpoint.clone(), h.health.to_string(), h.took.clone(), h.error.clone()]).collect()
}

/// `endpoint health`'s headers.
pub const HEALTH_HEADERS: [&str; 4] = ["endpoint", "health", "took", "error"];

/// `endpoint hashkv` rows: endpoint, hash, the revision hashed (etcd 3.6's).
pub fn hashkv_rows(list: &[EndpointHashKv]) -> Vec<Vec<String>> {
    list.iter()
        .map(|h| vec![h.endpoint.clone(), h.hash_kv.hash.to_string(), h.hash_kv.hash_revision.to_string()])
        .collect()
}

/// `endpoint hashkv`'s headers (`hash_revision` prints as `HASH REVISION`).
pub const HASHKV_HEADERS: [&str; 3] = ["endpoint", "hash", "hash_revision"];

/// `member list` rows: id (`%x`), `started` (or `unstarted` while the member has not
/// published its name), name, peer URLs and client URLs (each joined with `,`), is
/// learner.
pub fn member_rows(members: &[Member]) -> Vec<Vec<String>> {
    members
        .iter()
        .map(|m| {
            vec![
                format!("{:x}", m.id),
                if m.name.is_empty() { "unstarted" } else { "started" }.to_owned(),
                m.name.clone(),
                m.peer_ur_ls.join(","),
                m.client_ur_ls.join(","),
                m.is_learner.to_string(),
            ]
        })
        .collect()
}

/// `member list`'s headers.
pub const MEMBER_HEADERS: [&str; 6] = ["ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"];

/// Renders `rows` under `headers`.
pub fn render(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new(headers);
    for row in rows {
        table.append(row);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_has_headers_only() {
        assert_eq!(
            render(&HASHKV_HEADERS, vec![]),
            "+----------+------+---------------+\n| ENDPOINT | HASH | HASH REVISION |\n\
             +----------+------+---------------+\n+----------+------+---------------+\n"
        );
    }

    #[test]
    fn cells_are_right_aligned_and_headers_centred() {
        let rows = vec![
            vec!["127.0.0.1:23791".into(), "true".into(), "3.314227ms".into(), "".into()],
            vec!["127.0.0.1:1".into(), "false".into(), "5.000826519s".into(), "context deadline exceeded".into()],
        ];
        let want = "\
+-----------------+--------+--------------+---------------------------+
|    ENDPOINT     | HEALTH |     TOOK     |           ERROR           |
+-----------------+--------+--------------+---------------------------+
| 127.0.0.1:23791 |   true |   3.314227ms |                           |
|     127.0.0.1:1 |  false | 5.000826519s | context deadline exceeded |
+-----------------+--------+--------------+---------------------------+
";
        assert_eq!(render(&HEALTH_HEADERS, rows), want);
    }

    #[test]
    fn long_cells_wrap_at_spaces_like_tablewriter() {
        assert_eq!(
            wrap("memberID:3990370604368066554 alarm:NOSPACE ", 30),
            ["memberID:3990370604368066554", "alarm:NOSPACE "]
        );
        assert_eq!(wrap("", 30), [""]);
        assert_eq!(wrap("a-word-longer-than-the-limit-of-thirty", 30), ["a-word-longer-than-the-limit-of-thirty"]);
        let rows = vec![vec!["x".to_string(), "memberID:3990370604368066554 alarm:NOSPACE ".to_string()]];
        let want = "\
+----+--------------------------------+
| ID |             ERRORS             |
+----+--------------------------------+
|  x |   memberID:3990370604368066554 |
|    |                 alarm:NOSPACE  |
+----+--------------------------------+
";
        assert_eq!(render(&["ID", "errors"], rows), want);
    }
}
