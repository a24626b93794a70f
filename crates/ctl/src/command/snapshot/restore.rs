//! `snapshot restore FILE`: builds a fresh data dir from a snapshot, from
//! which `strata` starts with the snapshot's keys, revision, compacted
//! revision and leases.
//!
//! As etcd's restore does, the new member gets the identity the restore flags
//! describe (member and cluster ids by `api::identity::bootstrap_ids`, which
//! the server uses at bootstrap too) and starts a fresh Raft log: the
//! snapshot's applied Raft state (`consistent_index`) and its old identity are
//! left out. The snapshot is verified before anything is created, and a
//! failure part way removes the data dir it was building.

use super::progress;
use crate::error::{CtlError, Result};
use crate::gosyntax;
use backend::{Backend, LoadOptions, MetaKey};
use clap::Args;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `snapshot restore`'s flags, with etcdctl 3.4's defaults.
#[derive(Args, Debug, Clone)]
pub struct RestoreArgs {
    /// The snapshot file.
    #[arg(value_name = "filename")]
    pub args: Vec<OsString>,
    /// Path to the data directory
    #[arg(long = "data-dir", default_value = "")]
    pub data_dir: String,
    /// Path to the WAL directory (use --data-dir if none given)
    #[arg(long = "wal-dir", default_value = "")]
    pub wal_dir: String,
    /// Human-readable name for this member
    #[arg(long, default_value = "default")]
    pub name: String,
    /// Initial cluster configuration for restore bootstrap
    #[arg(long = "initial-cluster", default_value = "default=http://localhost:2380")]
    pub initial_cluster: String,
    /// Initial cluster token for the etcd cluster during restore bootstrap
    #[arg(long = "initial-cluster-token", default_value = "etcd-cluster")]
    pub initial_cluster_token: String,
    /// List of this member's peer URLs to advertise to the rest of the cluster
    #[arg(long = "initial-advertise-peer-urls", default_value = "http://localhost:2380")]
    pub initial_advertise_peer_urls: String,
    /// Ignore snapshot integrity hash value (required if copied from data directory)
    #[arg(long = "skip-hash-check", action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_value = "false", default_missing_value = "true",
          value_parser = gosyntax::parse_bool)]
    pub skip_hash_check: bool,
}

/// Runs `snapshot restore`.
pub fn run(r: RestoreArgs) -> Result<()> {
    let [snapshot] = r.args.as_slice() else {
        return Err(CtlError::bad_args("snapshot restore requires exactly one argument"));
    };
    let snapshot = Path::new(snapshot);
    let ids = check_bootstrap(&r)?;
    if !r.wal_dir.is_empty() {
        return Err(CtlError::error(format!(
            "--wal-dir {:?} is not supported: Strata keeps its Raft log in <data-dir>/member/raft.redb",
            r.wal_dir
        )));
    }
    // Strata's default data dir, where `strata --name NAME` looks.
    let data_dir = if r.data_dir.is_empty() { PathBuf::from(format!("{}.strata", r.name)) } else { r.data_dir.into() };
    if data_dir.exists() {
        return Err(CtlError::error(format!("data-dir {:?} exists", data_dir.display().to_string())));
    }
    if !r.skip_hash_check {
        backend::verify_snapshot(snapshot).map_err(|e| super::status::describe(e, snapshot))?;
    }
    let built = build(snapshot, &data_dir, ids);
    if built.is_err() {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    built
}

/// Loads the snapshot into `<data_dir>/member/state.redb` and writes the new
/// identity. The snapshot was verified (or the user said not to).
fn build(snapshot: &Path, data_dir: &Path, ids: (u64, u64)) -> Result<()> {
    let state = data_dir.join("member").join("state.redb");
    let size = std::fs::metadata(snapshot).map(|m| m.len()).unwrap_or(0);
    let bar = progress(size, "restoring");
    let opts = LoadOptions {
        // Verified above; the load still checks the structure.
        skip_hash_check: true,
        without_meta: &[MetaKey::ConsistentIndex, MetaKey::MemberIdentity],
    };
    backend::load_snapshot(snapshot, &state, &opts, |n| bar.set_position(n))
        .map_err(|e| super::status::describe(e, snapshot))?;
    bar.finish_and_clear();
    let fail = |e: backend::Error| CtlError::error(format!("writing the restored member's identity: {e}"));
    let be = Backend::open(&state).map_err(fail)?;
    let mut w = be.begin_write().map_err(fail)?;
    w.put_meta(MetaKey::MemberIdentity, &api::identity::encode_stored(ids.0, ids.1)).map_err(fail)?;
    w.commit(true).map_err(fail)?;
    Ok(())
}

/// etcd's `VerifyBootstrap` for a restore: valid URLs, this member named in
/// `--initial-cluster` with the URLs it advertises. Returns the ids.
fn check_bootstrap(r: &RestoreArgs) -> Result<(u64, u64)> {
    let peer_urls: Vec<String> = r.initial_advertise_peer_urls.split(',').map(str::to_owned).collect();
    for url in &peer_urls {
        check_url(url)?;
    }
    for part in r.initial_cluster.split(',') {
        let url = part.split_once('=').map_or("", |(_, u)| u);
        check_url(url)?;
    }
    let cluster = api::identity::initial_cluster(&r.initial_cluster);
    let Some(listed) = cluster.get(r.name.as_str()) else {
        return Err(CtlError::error(format!(
            "couldn't find local name {:?} in the initial cluster configuration",
            r.name
        )));
    };
    let (mut want, mut have) = (listed.clone(), peer_urls.clone());
    want.sort();
    have.sort();
    if want != have {
        let listed: Vec<String> = listed.iter().map(|u| format!("{}={u}", r.name)).collect();
        return Err(CtlError::error(format!(
            "--initial-cluster has {} but missing from --initial-advertise-peer-urls={}",
            listed.join(","),
            peer_urls.join(",")
        )));
    }
    Ok(api::identity::bootstrap_ids(&r.name, &peer_urls, Some(&r.initial_cluster), &r.initial_cluster_token))
}

/// etcd's `types.NewURLs` checks on one URL.
fn check_url(url: &str) -> Result<()> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    if !matches!(scheme, "http" | "https" | "unix" | "unixs") {
        return Err(CtlError::error(format!("URL scheme must be http, https, unix, or unixs: {url}")));
    }
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    if matches!(scheme, "http" | "https") && host.rsplit_once(':').is_none_or(|(_, port)| port.is_empty()) {
        return Err(CtlError::error(format!("URL address does not have the form \"host:port\": {url}")));
    }
    if !path.is_empty() {
        return Err(CtlError::error(format!("URL must not contain a path: {url}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> RestoreArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct P {
            #[command(flatten)]
            r: RestoreArgs,
        }
        let mut all = vec!["restore", "s.snap"];
        all.extend_from_slice(extra);
        P::try_parse_from(all).expect("parses").r
    }

    #[test]
    fn defaults_give_etcds_default_ids() {
        assert_eq!(check_bootstrap(&args(&[])).ok(), Some((0x8e9e05c52164694d, 0xcdf818194e3a8c32)));
    }

    #[test]
    fn bootstrap_errors_read_like_etcds() {
        let msg = |a: &[&str]| check_bootstrap(&args(a)).expect_err("refused").message;
        assert_eq!(msg(&["--name", "x"]), "couldn't find local name \"x\" in the initial cluster configuration");
        assert_eq!(msg(&["--initial-cluster", "bad"]), "URL scheme must be http, https, unix, or unixs: ");
        assert_eq!(
            msg(&["--initial-advertise-peer-urls", "x y"]),
            "URL scheme must be http, https, unix, or unixs: x y"
        );
        assert_eq!(
            msg(&["--initial-cluster", "default=http://a:1"]),
            "--initial-cluster has default=http://a:1 but missing from \
             --initial-advertise-peer-urls=http://localhost:2380"
        );
    }
}
