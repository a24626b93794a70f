//! What `maintenance` reports: the preload, the three phases with what each kind of
//! request saw in them, and the member's file sizes between the phases.

use super::window::WindowStats;
use serde::Serialize;

/// `maintenance`'s own figures, in the report's `maintenance` field.
#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceFigures {
    /// Puts written before measuring, each its own revision.
    pub revisions: u64,
    /// Keys they were spread over.
    pub key_space_size: u64,
    /// How long the preload took.
    pub preload_s: f64,
    /// Its puts per second.
    pub preload_puts_per_s: f64,
    /// The steady load before any maintenance.
    pub baseline: Phase,
    /// From sending `Compact` until the compaction finished.
    pub compaction: Compaction,
    /// From sending `Defragment` until it answered.
    pub defrag: Defrag,
    /// `Status` before compacting.
    pub before_compaction: Sizes,
    /// `Status` a settling second after the compaction finished.
    pub after_compaction: Sizes,
    /// `Status` a settling second after the defragmentation.
    pub after_defrag: Sizes,
}

/// What each kind of request saw during one phase.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// The phase's length.
    pub duration_ms: f64,
    /// Puts.
    pub put: WindowStats,
    /// Serializable gets.
    pub get_s: WindowStats,
    /// Linearizable gets.
    pub get_l: WindowStats,
}

/// The compaction phase.
#[derive(Debug, Clone, Serialize)]
pub struct Compaction {
    /// The revision compacted at.
    pub revision: i64,
    /// Whether `Compact` asked to wait for the deletion (`physical`).
    pub physical: bool,
    /// How long `Compact` took to answer.
    pub rpc_ms: f64,
    /// Whether the end of a non-physical compaction was seen on `/metrics`; when not,
    /// the phase ends with the answer.
    pub end_observed: bool,
    /// The server's own duration (`etcd_debugging_mvcc_db_compaction_total_duration_milliseconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_ms: Option<f64>,
    /// The load during it: `duration_ms` is the time to compact.
    #[serde(flatten)]
    pub phase: Phase,
}

/// The defragmentation phase.
#[derive(Debug, Clone, Serialize)]
pub struct Defrag {
    /// The server's own duration (`etcd_disk_backend_defrag_duration_seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_ms: Option<f64>,
    /// Strata: how long writes were held back (`strata_defrag_write_pause_seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_write_pause_ms: Option<f64>,
    /// The load during it: the `max_ms` of each kind is its stall.
    #[serde(flatten)]
    pub phase: Phase,
}

/// What `Status` said, and the data dir's size on disk with `--launch`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sizes {
    /// The member's current revision.
    pub revision: i64,
    /// `dbSize`: the store file's size.
    pub db_size_bytes: i64,
    /// `dbSizeInUse`: the part of it holding data.
    pub db_size_in_use_bytes: i64,
    /// `--launch`: blocks allocated under the data dir (store, log, snapshots).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir_bytes: Option<u64>,
}

impl MaintenanceFigures {
    /// The rows of the stderr table.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let mut rows = vec![(
            "preload",
            format!(
                "{} revisions over {} keys in {:.1} s ({:.0} puts/s)",
                self.revisions, self.key_space_size, self.preload_s, self.preload_puts_per_s
            ),
        )];
        let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
        let sizes = |s: &Sizes| {
            let dir = s.data_dir_bytes.map_or(String::new(), |d| format!(", data dir {:.1}", mib(d as i64)));
            format!(
                "db {:.1} (in use {:.1}{dir}) at rev {}",
                mib(s.db_size_bytes),
                mib(s.db_size_in_use_bytes),
                s.revision
            )
        };
        rows.push(("sizes (MiB)", format!("before compaction: {}", sizes(&self.before_compaction))));
        rows.push(("", format!("after compaction:  {}", sizes(&self.after_compaction))));
        rows.push(("", format!("after defrag:      {}", sizes(&self.after_defrag))));
        rows.push(("baseline", format!("{:.3} s of load", self.baseline.duration_ms / 1e3)));
        push_phase(&mut rows, &self.baseline);
        let c = &self.compaction;
        let server = c.server_ms.map_or(String::new(), |ms| format!(", server {:.3} s", ms / 1e3));
        let end = if c.physical || c.end_observed { "" } else { " (end not seen on /metrics: until the answer)" };
        rows.push((
            "compaction",
            format!(
                "at rev {}{}: {:.3} s{end} (answer {:.3} s{server})",
                c.revision,
                if c.physical { ", physical" } else { "" },
                c.phase.duration_ms / 1e3,
                c.rpc_ms / 1e3
            ),
        ));
        push_phase(&mut rows, &c.phase);
        let d = &self.defrag;
        let server = d.server_ms.map_or(String::new(), |ms| format!(", server {:.3} s", ms / 1e3));
        let pause = d.server_write_pause_ms.map_or(String::new(), |ms| format!(", write pause {ms:.3} ms"));
        rows.push(("defrag", format!("{:.3} s{server}{pause}", d.phase.duration_ms / 1e3)));
        push_phase(&mut rows, &d.phase);
        rows
    }
}

fn push_phase(rows: &mut Vec<(&'static str, String)>, p: &Phase) {
    for (name, s) in [("  put (ms)", &p.put), ("  get_s (ms)", &p.get_s), ("  get_l (ms)", &p.get_l)] {
        rows.push((
            name,
            format!(
                "p50 {:.3}  p99 {:.3}  max {:.3}  gap {:.3}  ({} requests, {} errors)",
                s.p50_ms, s.p99_ms, s.max_ms, s.longest_gap_ms, s.requests, s.errors
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(max_ms: f64) -> WindowStats {
        WindowStats { requests: 10, errors: 0, p50_ms: 1.0, p99_ms: 2.0, max_ms, longest_gap_ms: max_ms }
    }

    fn phase(duration_ms: f64, max_ms: f64) -> Phase {
        Phase { duration_ms, put: stats(max_ms), get_s: stats(max_ms), get_l: stats(max_ms) }
    }

    fn sizes(db: i64) -> Sizes {
        Sizes { revision: 100, db_size_bytes: db, db_size_in_use_bytes: db / 2, data_dir_bytes: None }
    }

    fn figures(physical: bool, end_observed: bool) -> MaintenanceFigures {
        MaintenanceFigures {
            revisions: 1000,
            key_space_size: 10,
            preload_s: 2.0,
            preload_puts_per_s: 500.0,
            baseline: phase(3000.0, 5.0),
            compaction: Compaction {
                revision: 900,
                physical,
                rpc_ms: if physical { 1500.0 } else { 1.0 },
                end_observed,
                server_ms: Some(1400.0),
                phase: phase(1500.0, 20.0),
            },
            defrag: Defrag { server_ms: None, server_write_pause_ms: Some(3.5), phase: phase(800.0, 7.0) },
            before_compaction: sizes(8 << 20),
            after_compaction: sizes(8 << 20),
            after_defrag: sizes(1 << 20),
        }
    }

    #[test]
    fn json_flattens_each_phase_with_its_own_figures() {
        let v = serde_json::to_value(figures(true, false)).expect("plain data");
        assert_eq!(v["compaction"]["duration_ms"], 1500.0);
        assert_eq!(v["compaction"]["put"]["max_ms"], 20.0);
        assert_eq!(v["defrag"]["server_write_pause_ms"], 3.5);
        assert!(v["defrag"].get("server_ms").is_none(), "absent, not null");
        assert_eq!(v["after_defrag"]["db_size_bytes"], 1 << 20);
        assert!(v["after_defrag"].get("data_dir_bytes").is_none());
    }

    #[test]
    fn the_table_names_the_phases_and_says_when_a_compaction_end_was_not_seen() {
        let rows = figures(true, false).rows();
        let text: Vec<String> = rows.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let text = text.join("\n");
        assert!(text.contains("compaction: at rev 900, physical: 1.500 s (answer 1.500 s, server 1.400 s)"), "{text}");
        assert!(text.contains("defrag: 0.800 s, write pause 3.500 ms"), "{text}");
        assert!(text.contains("sizes (MiB): before compaction: db 8.0 (in use 4.0) at rev 100"), "{text}");
        assert!(text.contains("  put (ms): p50 1.000  p99 2.000  max 7.000"), "{text}");
        let background = figures(false, false).rows();
        assert!(background.iter().any(|(_, v)| v.contains("end not seen on /metrics")), "{background:?}");
        let seen = figures(false, true).rows();
        assert!(!seen.iter().any(|(_, v)| v.contains("end not seen")), "{seen:?}");
    }
}
