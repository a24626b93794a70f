//! Command-line flags. The names are those of etcd's `tools/benchmark` where it has the
//! flag (`--endpoints`, `--clients`, `--conns`, `--total`, `--rate`, `--key-size`,
//! `--val-size`, `--key-space-size`, `--sequential-keys`, `--consistency`, and `watch`'s
//! `--streams` and `--put-rate`, `--target-leader`); the rest (`--duration`, `--warmup`,
//! `--launch`, `--members`, `compare`, `--watchers`, `--leases`, `maintenance`'s and
//! `catchup`'s flags) are ours.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::time::Duration;

/// `strata-bench`: a load generator for any etcd-v3 endpoint.
#[derive(Debug, Parser)]
#[command(name = "strata-bench", version, about, long_about = None)]
pub struct Cli {
    /// Flags every workload takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The workload to run, or `compare`.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags that shape the load, whatever the workload.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// gRPC endpoints, comma separated; connections are spread over them round-robin.
    #[arg(long, global = true, value_delimiter = ',', default_value = "127.0.0.1:2379")]
    pub endpoints: Vec<String>,
    /// Requests in flight at once (each client waits for its answer before the next).
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,
    /// gRPC connections; clients are spread over them round-robin.
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub conns: u32,
    /// Requests to send, after the warm-up (default 10000 when --duration is not given).
    #[arg(long, global = true, conflicts_with = "duration")]
    pub total: Option<u64>,
    /// Send requests for this long, after the warm-up (e.g. `10s`, `1m30s`, `500ms`).
    #[arg(long, global = true, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Requests per second across all clients; 0 means no limit.
    #[arg(long, global = true, default_value_t = 0)]
    pub rate: u64,
    /// Load the server this long first, without recording anything (e.g. `1s`).
    #[arg(long, global = true, value_parser = parse_duration, default_value = "0s")]
    pub warmup: Duration,
    /// Start this server command on loopback with a fresh data dir, load it, and report its
    /// CPU time and peak RSS. etcd-style flags are appended; --endpoints is ignored.
    #[arg(long, global = true, value_name = "CMD ARGS...")]
    pub launch: Option<String>,
    /// With --launch or compare: launch a cluster of this many members on loopback
    /// (`--initial-cluster`), with the load on every member unless --target-leader.
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=9))]
    pub members: u32,
    /// Send the whole load to the leader (found with `Status`); otherwise connections are
    /// spread over the members, followers first.
    #[arg(long, global = true)]
    pub target_leader: bool,
    /// A request not answered within this time counts as a DeadlineExceeded error.
    #[arg(long, global = true, value_parser = parse_duration, default_value = "10s")]
    pub request_timeout: Duration,
    /// Time allowed to connect to an endpoint.
    #[arg(long, global = true, value_parser = parse_duration, default_value = "2s")]
    pub dial_timeout: Duration,
    /// With --launch: how long the server may take to serve its first linearizable read.
    #[arg(long, global = true, value_parser = parse_duration, default_value = "120s")]
    pub startup_timeout: Duration,
    /// Seed of the key and value generators; equal seeds give equal request streams.
    #[arg(long, global = true, default_value_t = 1)]
    pub seed: u64,
}

/// What `strata-bench` does.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// One workload.
    #[command(flatten)]
    Workload(WorkloadCmd),
    /// Alternate two launched servers (A B, B A, …) on one workload and print ratios A/B.
    Compare(CompareArgs),
}

/// The workloads.
#[derive(Debug, Clone, Subcommand)]
pub enum WorkloadCmd {
    /// Puts keys.
    Put(PutArgs),
    /// Reads single keys or prefixes.
    Range(RangeArgs),
    /// A Kubernetes-style optimistic update loop: Range, then Txn(mod_revision unchanged → put).
    Txn(TxnArgs),
    /// Watchers on one prefix and writers putting under it: put-to-event latency, events
    /// delivered per second, missed or duplicate events (etcd's `watch-latency`).
    Watch(WatchArgs),
    /// Keep-alives of leases granted first, one stream per client (etcd's `lease-keepalive`).
    Lease(LeaseArgs),
    /// A long history, then Compact and Defragment under a steady load of puts and
    /// serializable and linearizable gets (`--clients` of each): the time each takes, what
    /// the load saw during each (the longest request is the stall), and the file sizes.
    /// `--duration` is the baseline's length (default 3s); `--total` does not apply.
    Maintenance(MaintenanceArgs),
    /// How long a new member takes to catch up: load --bytes into the cluster (needs
    /// --launch or compare with --members), `MemberAdd` a member, start it with
    /// `--initial-cluster-state existing`, and time until its serializable count and
    /// revision equal the leader's (or, with --restart-follower, a follower stopped
    /// during the load). `--clients` puts load the data; --total and --duration do not
    /// apply.
    Catchup(CatchupArgs),
}

/// Flags of `catchup`.
#[derive(Debug, Clone, Args)]
pub struct CatchupArgs {
    /// Bytes of values to load before adding the member (`1GiB`, `256MiB`, `4096`).
    #[arg(long, default_value = "256MiB", value_parser = parse_bytes)]
    pub bytes: u64,
    /// Value size in bytes; --bytes / --val-size distinct keys are put once each.
    #[arg(long, default_value_t = 65536, value_parser = clap::value_parser!(u64).range(1..))]
    pub val_size: u64,
    /// Key size in bytes.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// How long the new member may take to catch up before the run fails.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    pub catchup_timeout: Duration,
    /// Instead of adding a member, stop a follower (SIGTERM) before the load and start it
    /// again after it, on its data dir: a member that missed the load, rather than a new
    /// one. Needs --target-leader (the stopped follower takes no load).
    #[arg(long)]
    pub restart_follower: bool,
}

/// Flags of `maintenance`.
#[derive(Debug, Clone, Args)]
pub struct MaintenanceArgs {
    /// Puts written first, each its own revision, spread evenly over the keys.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub revisions: u64,
    /// Keys the history and the load are spread over.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub key_space_size: u64,
    /// Key size in bytes.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size in bytes, of the history and of the load's puts.
    #[arg(long, default_value_t = 256)]
    pub val_size: usize,
    /// Puts in flight at once while writing the history, spread over --conns.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub preload_clients: u32,
    /// Revisions the compaction keeps: it compacts at the current revision minus this
    /// (0: at the current revision). Default: a tenth of --revisions.
    #[arg(long)]
    pub retain: Option<u64>,
    /// `true`: Compact waits until the history is deleted (etcdctl's --physical).
    /// `false`: it answers at once, and the end of the compaction is read from /metrics.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub physical: bool,
    /// Also write every request of the load to this CSV file (`op,sent_us,latency_us,ok`,
    /// times since the load started), after `#`-lines with each phase's window, to see
    /// where in a phase a stall fell.
    #[arg(long, value_name = "FILE")]
    pub samples_csv: Option<std::path::PathBuf>,
}

/// Flags of `watch`. `--clients` writers put; `--total` or `--duration` bound the puts.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Watchers, all on the same prefix.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub watchers: u32,
    /// Watch streams the watchers are spread over, round-robin over --conns
    /// (default: min(--watchers, 100)).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub streams: Option<u32>,
    /// Puts per second across all writers; 0 means as fast as --clients writers go.
    #[arg(long, default_value_t = 100)]
    pub put_rate: u64,
    /// Key size in bytes, after the watched prefix.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size in bytes (at least 16: a sequence number and the send time).
    #[arg(long, default_value_t = 32)]
    pub val_size: usize,
    /// Puts go to this many keys under the prefix, in turn.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub key_space_size: u64,
}

/// Flags of `lease`.
#[derive(Debug, Clone, Args)]
pub struct LeaseArgs {
    /// Leases granted before measuring (TTL 60 s); clients renew them round-robin.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub leases: u64,
}

/// Flags of `put`.
#[derive(Debug, Clone, Args)]
pub struct PutArgs {
    /// Key size in bytes.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 256)]
    pub val_size: usize,
    /// Number of distinct keys written.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub key_space_size: u64,
    /// Write keys in order (0, 1, 2, … wrapping at --key-space-size) instead of at random.
    #[arg(long)]
    pub sequential_keys: bool,
}

/// Read consistency, as etcd's benchmark spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Consistency {
    /// Linearizable: the member confirms it is up to date through Raft first.
    #[value(name = "l")]
    Linearizable,
    /// Serializable: the member answers from its local store.
    #[value(name = "s")]
    Serializable,
}

/// Flags of `range`.
#[derive(Debug, Clone, Args)]
pub struct RangeArgs {
    /// `l` (linearizable) or `s` (serializable).
    #[arg(long, value_enum, default_value = "l")]
    pub consistency: Consistency,
    /// Key size in bytes (of the keys read and preloaded).
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size in bytes of preloaded keys.
    #[arg(long, default_value_t = 256)]
    pub val_size: usize,
    /// Keys are drawn at random from this many.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub key_space_size: u64,
    /// 0: get single keys. N > 0: scan the prefix of N bytes of the drawn key, i.e. every
    /// key sharing its first N bytes (keys are zero-padded decimal numbers, so with
    /// --key-size 8, N = 6 scans 100 keys).
    #[arg(long, default_value_t = 0)]
    pub prefix_len: usize,
    /// Put keys 0..N first (in Txn batches, not measured).
    #[arg(long, default_value_t = 0)]
    pub preload: u64,
}

/// Flags of `txn`.
#[derive(Debug, Clone, Args)]
pub struct TxnArgs {
    /// Key size in bytes.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 256)]
    pub val_size: usize,
    /// 0: each client owns one key, so a conflict means the server lost an update.
    /// N > 0: all clients update N shared keys drawn at random, so they conflict.
    #[arg(long, default_value_t = 0)]
    pub key_space_size: u64,
}

/// Flags of `compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Server command A (launched as with --launch).
    #[arg(long, value_name = "CMD ARGS...")]
    pub a: String,
    /// Server command B.
    #[arg(long, value_name = "CMD ARGS...")]
    pub b: String,
    /// Pairs of runs; A goes first in odd rounds, B in even ones.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// The workload both servers run.
    #[command(subcommand)]
    pub workload: WorkloadCmd,
}

/// Parses a byte count: a bare number, or one with `KiB`, `MiB`, `GiB` (powers of 1024)
/// or `KB`, `MB`, `GB` (powers of 1000).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(format!("invalid size {s:?} (e.g. 1GiB, 256MiB, 4096)")),
    };
    let n: u64 = number.parse().map_err(|_| format!("invalid size {s:?} (e.g. 1GiB, 256MiB, 4096)"))?;
    n.checked_mul(scale).ok_or_else(|| format!("size {s:?} is too large"))
}

/// Parses a Go duration (`300ms`, `1.5s`, `1m30s`, `2h`; [`goduration::parse`]) or, as
/// strata-bench's own shorthand, a bare number of seconds (`3`, `0.5`). Blanks around it
/// are ignored; a negative duration is refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let example = "(e.g. 10s, 500ms, 1m30s)";
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration {s:?} {example}"));
    }
    goduration::parse_non_negative(s).map_err(|e| format!("{e} {example}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go_or_as_bare_seconds() {
        let ok = |s: &str| parse_duration(s).expect(s);
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("2h"), Duration::from_secs(7200));
        assert_eq!(ok("250us"), Duration::from_micros(250));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("3"), Duration::from_secs(3), "a bare number is seconds");
        assert_eq!(ok(" 0.5 "), Duration::from_millis(500));
        for bad in ["", "s", "10x", "1..5s", "-1s", "-3", "10 s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(parse_duration("soon"), Err(r#"time: invalid duration "soon" (e.g. 10s, 500ms, 1m30s)"#.into()));
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("strata-bench").chain(args.iter().copied()))
    }

    #[test]
    fn global_flags_go_before_or_after_the_workload() {
        let cli = parse(&["--clients", "16", "put", "--key-size", "16", "--duration", "5s"]).expect("parses");
        assert_eq!(cli.global.clients, 16);
        assert_eq!(cli.global.duration, Some(Duration::from_secs(5)));
        assert_eq!(cli.global.endpoints, ["127.0.0.1:2379"]);
        let Command::Workload(WorkloadCmd::Put(put)) = cli.command else { panic!("not put: {:?}", cli.command) };
        assert_eq!((put.key_size, put.val_size, put.key_space_size, put.sequential_keys), (16, 256, 1, false));
    }

    #[test]
    fn endpoints_split_on_commas_and_consistency_takes_etcds_letters() {
        let cli = parse(&["--endpoints", "a:1,b:2", "range", "--consistency", "s", "--prefix-len", "6"]).expect("ok");
        assert_eq!(cli.global.endpoints, ["a:1", "b:2"]);
        let Command::Workload(WorkloadCmd::Range(r)) = cli.command else { panic!("not range") };
        assert_eq!(r.consistency, Consistency::Serializable);
        assert_eq!(r.prefix_len, 6);
        assert!(parse(&["range", "--consistency", "x"]).is_err());
    }

    #[test]
    fn total_and_duration_exclude_each_other_and_clients_must_be_positive() {
        assert!(parse(&["--total", "5", "--duration", "1s", "put"]).is_err());
        assert!(parse(&["--clients", "0", "put"]).is_err());
        assert!(parse(&["--warmup", "fast", "put"]).is_err());
    }

    #[test]
    fn compare_takes_two_commands_and_a_workload() {
        let cli = parse(&["compare", "--a", "strata", "--b", "etcd --x", "--rounds", "2", "txn", "--duration", "3s"])
            .expect("parses");
        let Command::Compare(c) = cli.command else { panic!("not compare") };
        assert_eq!((c.a.as_str(), c.b.as_str(), c.rounds), ("strata", "etcd --x", 2));
        assert!(matches!(c.workload, WorkloadCmd::Txn(_)));
        assert_eq!(cli.global.duration, Some(Duration::from_secs(3)));
    }

    #[test]
    fn watch_and_lease_take_their_own_flags_with_etcds_defaults() {
        let cli = parse(&["--clients", "16", "watch", "--watchers", "10000", "--put-rate", "0"]).expect("parses");
        let Command::Workload(WorkloadCmd::Watch(w)) = cli.command else { panic!("not watch") };
        assert_eq!((w.watchers, w.streams, w.put_rate, w.val_size), (10_000, None, 0, 32));
        let cli = parse(&["watch"]).expect("parses");
        let Command::Workload(WorkloadCmd::Watch(w)) = cli.command else { panic!("not watch") };
        assert_eq!((w.watchers, w.put_rate), (1, 100));
        assert!(parse(&["watch", "--watchers", "0"]).is_err());
        assert!(parse(&["watch", "--streams", "0"]).is_err());
        let cli = parse(&["compare", "--a", "x", "--b", "y", "lease", "--leases", "10000"]).expect("parses");
        let Command::Compare(c) = cli.command else { panic!("not compare") };
        assert!(matches!(c.workload, WorkloadCmd::Lease(LeaseArgs { leases: 10_000 })));
        assert!(parse(&["lease", "--leases", "0"]).is_err());
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("256 MiB"), Ok(256 << 20));
        assert_eq!(parse_bytes("64KiB"), Ok(65536));
        assert_eq!(parse_bytes("2GB"), Ok(2_000_000_000));
        for bad in ["", "GiB", "1.5GiB", "1TiB", "-1", "99999999999999GiB"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn clusters_take_a_member_count_and_the_leader_flag_anywhere() {
        let cli = parse(&["compare", "--a", "x", "--b", "y", "--members", "3", "put", "--target-leader"]).expect("ok");
        assert_eq!((cli.global.members, cli.global.target_leader), (3, true));
        let cli = parse(&["put"]).expect("parses");
        assert_eq!((cli.global.members, cli.global.target_leader), (1, false));
        assert!(parse(&["--members", "0", "put"]).is_err());
        assert!(parse(&["--members", "10", "put"]).is_err());
    }

    #[test]
    fn catchup_loads_a_quarter_gib_of_64_kib_values_by_default() {
        let cli = parse(&["--members", "3", "catchup"]).expect("parses");
        let Command::Workload(WorkloadCmd::Catchup(c)) = cli.command else { panic!("not catchup") };
        assert_eq!((c.bytes, c.val_size, c.key_size), (256 << 20, 65536, 8));
        assert_eq!((c.catchup_timeout, c.restart_follower), (Duration::from_secs(600), false));
        let cli = parse(&["catchup", "--bytes", "1GiB", "--val-size", "256", "--catchup-timeout", "2m"]).expect("ok");
        let Command::Workload(WorkloadCmd::Catchup(c)) = cli.command else { panic!("not catchup") };
        assert_eq!((c.bytes, c.val_size, c.catchup_timeout), (1 << 30, 256, Duration::from_secs(120)));
        let cli = parse(&["--target-leader", "catchup", "--restart-follower"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Workload(WorkloadCmd::Catchup(CatchupArgs { restart_follower: true, .. }))
        ));
        assert!(parse(&["catchup", "--bytes", "lots"]).is_err());
        assert!(parse(&["catchup", "--val-size", "0"]).is_err());
    }

    #[test]
    fn maintenance_defaults_to_a_million_revisions_over_a_thousand_keys_compacted_physically() {
        let cli = parse(&["--clients", "2", "maintenance"]).expect("parses");
        let Command::Workload(WorkloadCmd::Maintenance(m)) = cli.command else { panic!("not maintenance") };
        assert_eq!(
            (m.revisions, m.key_space_size, m.val_size, m.retain, m.physical),
            (1_000_000, 1000, 256, None, true)
        );
        let cli = parse(&["maintenance", "--revisions", "2000", "--retain", "0", "--physical", "false"]).expect("ok");
        let Command::Workload(WorkloadCmd::Maintenance(m)) = cli.command else { panic!("not maintenance") };
        assert_eq!((m.revisions, m.retain, m.physical), (2000, Some(0), false));
        assert!(parse(&["maintenance", "--revisions", "0"]).is_err());
        assert!(parse(&["maintenance", "--physical", "maybe"]).is_err());
    }
}
