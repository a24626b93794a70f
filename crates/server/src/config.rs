//! The member's configuration: etcd's flag names, defaults and `ETCD_*`
//! environment variables, so a deployment changes only the binary name.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// `strata` command-line flags (a subset of etcd 3.4's, same names).
#[derive(Parser, Debug, Clone)]
#[command(name = "strata", version, about = "Strata: an etcd-compatible, multi-version key-value store")]
pub struct Config {
    /// Human-readable name for this member.
    #[arg(long, env = "ETCD_NAME", default_value = "default")]
    pub name: String,
    /// Path to the data directory (default `<name>.strata`).
    #[arg(long = "data-dir", env = "ETCD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// URLs to listen on for client traffic.
    #[arg(
        long = "listen-client-urls",
        env = "ETCD_LISTEN_CLIENT_URLS",
        default_value = "http://localhost:2379",
        value_delimiter = ','
    )]
    pub listen_client_urls: Vec<String>,
    /// Client URLs advertised to the rest of the cluster.
    #[arg(
        long = "advertise-client-urls",
        env = "ETCD_ADVERTISE_CLIENT_URLS",
        default_value = "http://localhost:2379",
        value_delimiter = ','
    )]
    pub advertise_client_urls: Vec<String>,
    /// URLs to listen on for peer traffic.
    #[arg(
        long = "listen-peer-urls",
        env = "ETCD_LISTEN_PEER_URLS",
        default_value = "http://localhost:2380",
        value_delimiter = ','
    )]
    pub listen_peer_urls: Vec<String>,
    /// This member's peer URLs, advertised to the rest of the cluster.
    #[arg(
        long = "initial-advertise-peer-urls",
        env = "ETCD_INITIAL_ADVERTISE_PEER_URLS",
        default_value = "http://localhost:2380",
        value_delimiter = ','
    )]
    pub initial_advertise_peer_urls: Vec<String>,
    /// Initial cluster configuration for bootstrapping (`name=url,...`).
    #[arg(long = "initial-cluster", env = "ETCD_INITIAL_CLUSTER")]
    pub initial_cluster: Option<String>,
    /// `new` or `existing`.
    #[arg(long = "initial-cluster-state", env = "ETCD_INITIAL_CLUSTER_STATE", default_value = "new")]
    pub initial_cluster_state: String,
    /// Initial cluster token, mixed into the member and cluster ids.
    #[arg(long = "initial-cluster-token", env = "ETCD_INITIAL_CLUSTER_TOKEN", default_value = "etcd-cluster")]
    pub initial_cluster_token: String,
    /// Maximum client request size in bytes the server will accept.
    #[arg(long = "max-request-bytes", env = "ETCD_MAX_REQUEST_BYTES", default_value_t = 1_572_864)]
    pub max_request_bytes: usize,
    /// Maximum number of operations permitted in a transaction.
    #[arg(long = "max-txn-ops", env = "ETCD_MAX_TXN_OPS", default_value_t = 128)]
    pub max_txn_ops: usize,
    /// Raise an alarm when the backend exceeds this size (0 = default 2 GiB).
    #[arg(
        long = "quota-backend-bytes",
        env = "ETCD_QUOTA_BACKEND_BYTES",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub quota_backend_bytes: i64,
    /// What the quota counts: `in-use` (the bytes the history holds, so
    /// compaction makes room; the file may grow to four times the quota) or
    /// `db-size` (the file size, as etcd).
    #[arg(long = "strata-quota-counting", env = "STRATA_QUOTA_COUNTING", default_value = "in-use",
          value_parser = ["in-use", "db-size"])]
    pub quota_counting: String,
    /// Clear NOSPACE by itself once usage is below 80% of the quota (`false`:
    /// stay until `alarm disarm`, as etcd).
    #[arg(long = "strata-nospace-auto-disarm", env = "STRATA_NOSPACE_AUTO_DISARM", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub nospace_auto_disarm: bool,
    /// End the open watches whose user lost read access to their keys when a
    /// permission or role is revoked (`false`: they go on, as etcd's do).
    #[arg(long = "strata-auth-revoke-cancels-watches", env = "STRATA_AUTH_REVOKE_CANCELS_WATCHES",
          default_value_t = true, action = clap::ArgAction::Set)]
    pub auth_revoke_cancels_watches: bool,
    /// Bytes above the quota that small conditional txns (a compactor's or an
    /// election's bookkeeping) may still write while NOSPACE is active (`0`:
    /// none, as etcd).
    #[arg(long = "strata-quota-reserve-bytes", env = "STRATA_QUOTA_RESERVE_BYTES", default_value_t = 1024 * 1024)]
    pub quota_reserve_bytes: u64,
    /// `periodic` or `revision`.
    #[arg(long = "auto-compaction-mode", env = "ETCD_AUTO_COMPACTION_MODE", default_value = "periodic")]
    pub auto_compaction_mode: String,
    /// Hours (or a duration like `30m`) in periodic mode, a count in revision mode; 0 disables.
    #[arg(long = "auto-compaction-retention", env = "ETCD_AUTO_COMPACTION_RETENTION", default_value = "0")]
    pub auto_compaction_retention: String,
    /// Revisions deleted per backend transaction by a compaction (default 1000).
    #[arg(long = "compaction-batch-limit", env = "ETCD_COMPACTION_BATCH_LIMIT")]
    pub compaction_batch_limit: Option<usize>,
    /// Deprecated in etcd 3.6: use `--compaction-batch-limit`.
    #[arg(long = "experimental-compaction-batch-limit", env = "ETCD_EXPERIMENTAL_COMPACTION_BATCH_LIMIT")]
    pub experimental_compaction_batch_limit: Option<usize>,
    /// The local address this member's connections to other members come
    /// from (default: the OS picks). Keeps peer traffic on one address of a
    /// multi-homed host; the fault-injection tests use it to tell members apart.
    #[arg(long = "strata-peer-source-ip", env = "STRATA_PEER_SOURCE_IP")]
    pub peer_source_ip: Option<std::net::IpAddr>,
    /// Enable the Raft Pre-Vote algorithm so that a member cut off from the
    /// others does not disrupt the cluster when it rejoins (etcd 3.5's
    /// default; 3.4's is false).
    #[arg(long = "pre-vote", env = "ETCD_PRE_VOTE", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub pre_vote: bool,
    /// Time (in milliseconds) of a heartbeat interval.
    #[arg(long = "heartbeat-interval", env = "ETCD_HEARTBEAT_INTERVAL", default_value_t = 100)]
    pub heartbeat_interval_ms: u64,
    /// Time (in milliseconds) for an election to timeout.
    #[arg(long = "election-timeout", env = "ETCD_ELECTION_TIMEOUT", default_value_t = 1000)]
    pub election_timeout_ms: u64,
    /// Committed entries between two Raft snapshots (etcd 3.6's default;
    /// 3.4's was 100,000).
    #[arg(long = "snapshot-count", env = "ETCD_SNAPSHOT_COUNT", default_value_t = 10_000)]
    pub snapshot_count: u64,
    /// Entries the log keeps behind a snapshot for slow followers to catch
    /// up from without a whole snapshot (default 5000).
    #[arg(long = "snapshot-catchup-entries", env = "ETCD_SNAPSHOT_CATCHUP_ENTRIES")]
    pub snapshot_catchup_entries: Option<u64>,
    /// Deprecated in etcd 3.6: use `--snapshot-catchup-entries`.
    #[arg(long = "experimental-snapshot-catchup-entries", env = "ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES")]
    pub experimental_snapshot_catchup_entries: Option<u64>,
    /// Period of progress notifications to watchers that asked for them (default 10m).
    #[arg(long = "watch-progress-notify-interval", env = "ETCD_WATCH_PROGRESS_NOTIFY_INTERVAL")]
    pub watch_progress_notify_interval: Option<String>,
    /// Deprecated in etcd 3.6: use `--watch-progress-notify-interval`.
    #[arg(
        long = "experimental-watch-progress-notify-interval",
        env = "ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL"
    )]
    pub experimental_watch_progress_notify_interval: Option<String>,
    /// Additional URLs to listen on that serve only the HTTP endpoints
    /// (`/metrics`, `/health`, …), so scrapers and probes need no client
    /// certificate.
    #[arg(long = "listen-metrics-urls", env = "ETCD_LISTEN_METRICS_URLS", value_delimiter = ',')]
    pub listen_metrics_urls: Vec<String>,
    /// Path to the client server TLS certificate file.
    #[arg(long = "cert-file", env = "ETCD_CERT_FILE", default_value = "")]
    pub cert_file: String,
    /// Path to the client server TLS key file.
    #[arg(long = "key-file", env = "ETCD_KEY_FILE", default_value = "")]
    pub key_file: String,
    /// Path to the client server TLS trusted CA certificate file. Clients
    /// must then present a certificate it signed.
    #[arg(long = "trusted-ca-file", env = "ETCD_TRUSTED_CA_FILE", default_value = "")]
    pub trusted_ca_file: String,
    /// Enable client certificate authentication.
    #[arg(long = "client-cert-auth", env = "ETCD_CLIENT_CERT_AUTH", default_value_t = false,
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub client_cert_auth: bool,
    /// Path to the client certificate revocation list file.
    #[arg(long = "client-crl-file", env = "ETCD_CLIENT_CRL_FILE", default_value = "")]
    pub client_crl_file: String,
    /// Client TLS using generated certificates.
    #[arg(long = "auto-tls", env = "ETCD_AUTO_TLS", default_value_t = false,
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub auto_tls: bool,
    /// The validity period of the self-signed certificates, in years.
    #[arg(long = "self-signed-cert-validity", env = "ETCD_SELF_SIGNED_CERT_VALIDITY", default_value_t = 1)]
    pub self_signed_cert_validity: u32,
    /// Comma-separated list of supported TLS 1.2 cipher suites, by Go's names
    /// (empty: every suite rustls offers).
    #[arg(long = "cipher-suites", env = "ETCD_CIPHER_SUITES", default_value = "", value_delimiter = ',')]
    pub cipher_suites: Vec<String>,
    /// Path to the peer server TLS certificate file (also presented to the
    /// other members when dialing them).
    #[arg(long = "peer-cert-file", env = "ETCD_PEER_CERT_FILE", default_value = "")]
    pub peer_cert_file: String,
    /// Path to the peer server TLS key file.
    #[arg(long = "peer-key-file", env = "ETCD_PEER_KEY_FILE", default_value = "")]
    pub peer_key_file: String,
    /// Path to the peer server TLS trusted CA file: the other members'
    /// certificates must be signed by it, as servers and as clients.
    #[arg(long = "peer-trusted-ca-file", env = "ETCD_PEER_TRUSTED_CA_FILE", default_value = "")]
    pub peer_trusted_ca_file: String,
    /// Enable peer client certificate authentication.
    #[arg(long = "peer-client-cert-auth", env = "ETCD_PEER_CLIENT_CERT_AUTH", default_value_t = false,
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub peer_client_cert_auth: bool,
    /// Path to the peer certificate revocation list file.
    #[arg(long = "peer-crl-file", env = "ETCD_PEER_CRL_FILE", default_value = "")]
    pub peer_crl_file: String,
    /// Peer TLS using self-generated certificates (the other members' are
    /// then not verified, as etcd does).
    #[arg(long = "peer-auto-tls", env = "ETCD_PEER_AUTO_TLS", default_value_t = false,
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub peer_auto_tls: bool,
    /// Allowed common name of the certificates of inter-peer connections.
    #[arg(long = "peer-cert-allowed-cn", env = "ETCD_PEER_CERT_ALLOWED_CN", default_value = "")]
    pub peer_cert_allowed_cn: String,
    /// Allowed host name (a DNS or IP subject alternative name) of the
    /// certificates of inter-peer connections.
    #[arg(long = "peer-cert-allowed-hostname", env = "ETCD_PEER_CERT_ALLOWED_HOSTNAME", default_value = "")]
    pub peer_cert_allowed_hostname: String,
    /// Minimum TLS version supported by etcd (TLS1.2 or TLS1.3; empty: TLS1.2).
    #[arg(long = "tls-min-version", env = "ETCD_TLS_MIN_VERSION", default_value = "")]
    pub tls_min_version: String,
    /// Maximum TLS version supported by etcd (empty: the latest, TLS1.3).
    #[arg(long = "tls-max-version", env = "ETCD_TLS_MAX_VERSION", default_value = "")]
    pub tls_max_version: String,
    /// The auth token type: `simple` (etcd's default) or
    /// `jwt,pub-key=<file>,priv-key=<file>,sign-method=<alg>,ttl=<duration>`.
    #[arg(long = "auth-token", env = "ETCD_AUTH_TOKEN", default_value = "simple")]
    pub auth_token: String,
    /// Time (in seconds) of the auth token's life after its last use.
    #[arg(long = "auth-token-ttl", env = "ETCD_AUTH_TOKEN_TTL", default_value_t = 300)]
    pub auth_token_ttl: u64,
    /// Cost of bcrypt hashing of passwords (4 to 31).
    #[arg(long = "bcrypt-cost", env = "ETCD_BCRYPT_COST", default_value_t = 10)]
    pub bcrypt_cost: u32,
    /// debug, info, warn, error, panic or fatal.
    #[arg(long = "log-level", env = "ETCD_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Accepted for compatibility; Strata always logs JSON lines.
    #[arg(long = "logger", env = "ETCD_LOGGER", default_value = "zap")]
    pub logger: String,
}

/// A flag value etcd would refuse at start-up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown auto-compaction-mode {0:?}")]
    CompactionMode(String),
    /// etcd's `parseCompactionRetention` error, which wraps Go's.
    #[error("error parsing CompactionRetention: {0}")]
    Retention(goduration::Error),
    #[error("invalid value {value:?} for --{flag}: {reason}")]
    Invalid { flag: &'static str, value: String, reason: String },
    /// TLS was asked for in a way that cannot be served (never plaintext instead).
    #[error("{0}")]
    Tls(String),
    #[error("{0}")]
    Auth(String),
    /// A flag given under both its etcd 3.5 and 3.6 names.
    #[error("{0}")]
    Renamed(String),
}

/// etcd 3.6 renamed some `--experimental-<name>` flags to `--<name>`: either
/// name works (`validate` logs etcd's deprecation warning for the old one),
/// both together are refused with etcd's message.
fn renamed<T: Clone>(name: &str, old: &Option<T>, new: &Option<T>) -> Result<Option<T>, ConfigError> {
    match (old, new) {
        (Some(_), Some(_)) => Err(ConfigError::Renamed(format!(
            "cannot set --experimental-{name} and --{name} at the same time, please use --{name} only"
        ))),
        (old, None) => Ok(old.clone()),
        (None, new) => Ok(new.clone()),
    }
}

/// How auto-compaction is asked to behave (run by the history-maintenance work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Disabled,
    Periodic(Duration),
    Revisions(i64),
}

impl Config {
    /// The quota settings the flags describe.
    pub fn quota(&self) -> crate::quota::Quota {
        let counting = if self.quota_counting == "db-size" {
            crate::quota::Counting::DbSize
        } else {
            crate::quota::Counting::InUse
        };
        crate::quota::Quota::from_flag(
            self.quota_backend_bytes,
            counting,
            self.nospace_auto_disarm,
            self.quota_reserve_bytes,
        )
    }

    /// The data dir, defaulting to `<name>.strata`.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| PathBuf::from(format!("{}.strata", self.name)))
    }

    /// The watch progress interval; etcd raises values below 100 ms to 100 ms.
    pub fn watch_progress_notify_interval(&self) -> Result<Duration, ConfigError> {
        let value = renamed(
            "watch-progress-notify-interval",
            &self.experimental_watch_progress_notify_interval,
            &self.watch_progress_notify_interval,
        )?
        .unwrap_or_else(|| "10m".to_string());
        let d = goduration::parse_non_negative(&value).map_err(|e| ConfigError::Invalid {
            flag: "watch-progress-notify-interval",
            value: value.clone(),
            reason: e.to_string(),
        })?;
        Ok(d.max(Duration::from_millis(100)))
    }

    /// `--compaction-batch-limit` (or its 3.5 name).
    pub fn compaction_batch_limit(&self) -> Result<usize, ConfigError> {
        let limit =
            renamed("compaction-batch-limit", &self.experimental_compaction_batch_limit, &self.compaction_batch_limit)?;
        Ok(limit.unwrap_or(1000))
    }

    /// `--snapshot-catchup-entries` (or its 3.5 name).
    pub fn snapshot_catchup_entries(&self) -> Result<u64, ConfigError> {
        let entries = renamed(
            "snapshot-catchup-entries",
            &self.experimental_snapshot_catchup_entries,
            &self.snapshot_catchup_entries,
        )?;
        Ok(entries.unwrap_or(5_000))
    }

    /// Checks the values etcd checks at start-up.
    pub fn validate(&self) -> Result<Retention, ConfigError> {
        if !matches!(self.initial_cluster_state.as_str(), "new" | "existing") {
            return Err(ConfigError::Invalid {
                flag: "initial-cluster-state",
                value: self.initial_cluster_state.clone(),
                reason: "must be \"new\" or \"existing\"".into(),
            });
        }
        let flags = [
            ("listen-client-urls", &self.listen_client_urls),
            ("listen-peer-urls", &self.listen_peer_urls),
            ("listen-metrics-urls", &self.listen_metrics_urls),
            ("initial-advertise-peer-urls", &self.initial_advertise_peer_urls),
        ];
        for (flag, urls) in flags {
            for url in urls {
                socket_addr(url).map_err(|reason| ConfigError::Invalid { flag, value: url.clone(), reason })?;
            }
        }
        self.validate_initial_cluster()?;
        self.validate_tls()?;
        self.compaction_batch_limit()?;
        self.snapshot_catchup_entries()?;
        self.watch_progress_notify_interval()?;
        let deprecated = [
            ("compaction-batch-limit", self.experimental_compaction_batch_limit.is_some()),
            ("snapshot-catchup-entries", self.experimental_snapshot_catchup_entries.is_some()),
            ("watch-progress-notify-interval", self.experimental_watch_progress_notify_interval.is_some()),
        ];
        for (name, _) in deprecated.iter().filter(|(_, used)| *used) {
            tracing::warn!(
                "--experimental-{name} is deprecated in v3.6 and will be decommissioned in v3.7. Use '--{name}' instead."
            );
        }
        parse_retention(&self.auto_compaction_mode, &self.auto_compaction_retention)
    }

    /// The auth store's options (`--auth-token` read by `auth_token.rs`).
    pub fn auth_options(&self) -> Result<auth::Options, ConfigError> {
        Ok(auth::Options {
            bcrypt_cost: self.bcrypt_cost,
            token_ttl: Duration::from_secs(self.auth_token_ttl.max(1)),
            jwt: crate::auth_token::parse(&self.auth_token)?,
        })
    }

    /// An `https://` URL is served with TLS or not at all: etcd's check of the
    /// client URLs, and peer URLs refused until peer TLS exists.
    fn validate_tls(&self) -> Result<(), ConfigError> {
        let has_cert = (!self.cert_file.is_empty() && !self.key_file.is_empty()) || self.auto_tls;
        if let Some(url) = self.listen_client_urls.iter().find(|u| u.starts_with("https://"))
            && !has_cert
        {
            return Err(ConfigError::Tls(format!(
                "TLS key/cert (--cert-file, --key-file) must be provided for client url {url} with HTTPS scheme"
            )));
        }
        if let Some(url) = self.listen_metrics_urls.iter().find(|u| u.starts_with("https://"))
            && !has_cert
        {
            return Err(ConfigError::Tls(format!(
                "TLS key/cert (--cert-file, --key-file) must be provided for metrics url {url} with HTTPS scheme"
            )));
        }
        let has_peer_cert = (!self.peer_cert_file.is_empty() && !self.peer_key_file.is_empty()) || self.peer_auto_tls;
        if let Some(url) = self.listen_peer_urls.iter().find(|u| u.starts_with("https://"))
            && !has_peer_cert
        {
            return Err(ConfigError::Tls(format!(
                "TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url {url} with HTTPS scheme"
            )));
        }
        Ok(())
    }

    /// etcd's checks of `--initial-cluster` before anything is written: every
    /// URL parses, this member's name is in it, with its advertised peer URLs.
    fn validate_initial_cluster(&self) -> Result<(), ConfigError> {
        let Some(initial) = self.initial_cluster.as_deref() else { return Ok(()) };
        let invalid =
            |reason: String| ConfigError::Invalid { flag: "initial-cluster", value: initial.to_string(), reason };
        let members = crate::identity::initial_cluster(initial);
        for urls in members.values() {
            for url in urls {
                member_url(url).map_err(invalid)?;
            }
        }
        let Some(own) = members.get(self.name.as_str()) else {
            return Err(invalid(format!(
                "couldn't find local name {:?} in the initial cluster configuration",
                self.name
            )));
        };
        let mut own = own.clone();
        let mut advertised = self.initial_advertise_peer_urls.clone();
        own.sort();
        advertised.sort();
        if own != advertised {
            return Err(invalid(format!(
                "--initial-cluster has {}={} but missing from --initial-advertise-peer-urls={}",
                self.name,
                own.join(","),
                advertised.join(",")
            )));
        }
        Ok(())
    }
}

/// etcd's `parseCompactionRetention`: a bare integer is hours (periodic) or a
/// revision count (revision); anything else is a Go duration. A negative
/// duration, which etcd would take, is refused.
pub fn parse_retention(mode: &str, retention: &str) -> Result<Retention, ConfigError> {
    let periodic = match mode {
        "periodic" => true,
        "revision" => false,
        other => return Err(ConfigError::CompactionMode(other.to_string())),
    };
    // A negative integer is not taken as one: etcd parses it as a duration,
    // which fails for want of a unit.
    if let Ok(n) = retention.parse::<i64>()
        && n >= 0
    {
        return Ok(match (n, periodic) {
            (0, _) => Retention::Disabled,
            (n, true) => Retention::Periodic(Duration::from_secs(n as u64 * 3600)),
            (n, false) => Retention::Revisions(n),
        });
    }
    let d = goduration::parse_non_negative(retention).map_err(ConfigError::Retention)?;
    Ok(if d.is_zero() {
        Retention::Disabled
    } else if periodic {
        Retention::Periodic(d)
    } else {
        Retention::Revisions(d.as_nanos() as i64)
    })
}

/// The address to bind for an `http://host:port` URL (`localhost` is 127.0.0.1).
/// etcd's `types.NewURLs` check of one member URL: `scheme://host:port`,
/// with a host name or an address, and no path.
pub fn member_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("URL scheme must be http, https, unix, or unixs: {url}"));
    };
    if !matches!(scheme, "http" | "https" | "unix" | "unixs") {
        return Err(format!("URL scheme must be http, https, unix, or unixs: {url}"));
    }
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    if host_port.contains('/') {
        return Err(format!("URL must not contain a path: {url}"));
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!("URL address does not have the form \"host:port\": {url}")),
    }
}

pub fn socket_addr(url: &str) -> Result<std::net::SocketAddr, String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("URL scheme must be http or https: {url}"))?;
    let hostport = rest.trim_end_matches('/');
    let (host, port) = hostport.rsplit_once(':').ok_or_else(|| format!("missing port in URL {url}"))?;
    let host = if host == "localhost" { "127.0.0.1" } else { host.trim_start_matches('[').trim_end_matches(']') };
    let ip: std::net::IpAddr = host.parse().map_err(|_| format!("expected IP in URL {url}"))?;
    let port: u16 = port.parse().map_err(|_| format!("invalid port in URL {url}"))?;
    Ok(std::net::SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_cluster_is_checked_before_anything_is_written() {
        let cfg = |name: &str, initial: &str| {
            Config::parse_from([
                "strata",
                "--name",
                name,
                "--initial-advertise-peer-urls",
                "http://127.0.0.1:2380",
                "--initial-cluster",
                initial,
            ])
            .validate()
            .map(|_| ())
            .map_err(|e| e.to_string())
        };
        assert_eq!(cfg("m1", "m1=http://127.0.0.1:2380,m2=http://node2:2380"), Ok(()));
        let bad = cfg("m1", "m1=http://127.0.0.1:2380,m2=not a url").expect_err("bad URL");
        assert!(bad.contains("URL scheme must be http, https, unix, or unixs: not a url"), "{bad}");
        let bad = cfg("m3", "m1=http://127.0.0.1:2380,m2=http://127.0.0.1:2381").expect_err("not in it");
        assert!(bad.contains("couldn't find local name \"m3\" in the initial cluster configuration"), "{bad}");
        let bad = cfg("m2", "m1=http://127.0.0.1:2380,m2=http://127.0.0.1:2381").expect_err("other URL");
        assert!(bad.contains("--initial-cluster has m2=http://127.0.0.1:2381 but missing from"), "{bad}");
    }

    #[test]
    fn the_36_flag_names_work_beside_the_experimental_ones_but_not_with_them() {
        let cfg = |args: &[&str]| Config::parse_from(std::iter::once("strata").chain(args.iter().copied()));
        let defaults = cfg(&[]);
        assert_eq!(defaults.snapshot_count, 10_000, "etcd 3.6's default");
        assert_eq!(defaults.compaction_batch_limit(), Ok(1000));
        assert_eq!(defaults.snapshot_catchup_entries(), Ok(5000));
        assert_eq!(defaults.watch_progress_notify_interval(), Ok(Duration::from_secs(600)));
        let old = cfg(&["--experimental-compaction-batch-limit", "7", "--experimental-snapshot-catchup-entries", "9"]);
        assert_eq!((old.compaction_batch_limit(), old.snapshot_catchup_entries()), (Ok(7), Ok(9)));
        let new = cfg(&["--compaction-batch-limit", "8", "--watch-progress-notify-interval", "2s"]);
        assert_eq!(new.compaction_batch_limit(), Ok(8));
        assert_eq!(new.watch_progress_notify_interval(), Ok(Duration::from_secs(2)));
        let both = cfg(&["--experimental-compaction-batch-limit", "7", "--compaction-batch-limit", "8"]);
        assert_eq!(
            both.validate().map(|_| ()).map_err(|e| e.to_string()),
            Err("cannot set --experimental-compaction-batch-limit and --compaction-batch-limit at the same time, \
                 please use --compaction-batch-limit only"
                .to_string())
        );
    }

    #[test]
    fn retention_follows_etcd() {
        assert_eq!(parse_retention("periodic", "0"), Ok(Retention::Disabled));
        assert_eq!(parse_retention("periodic", "1"), Ok(Retention::Periodic(Duration::from_secs(3600))));
        assert_eq!(parse_retention("periodic", "30m"), Ok(Retention::Periodic(Duration::from_secs(1800))));
        assert_eq!(parse_retention("revision", "10"), Ok(Retention::Revisions(10)));
        assert_eq!(parse_retention("periodic", "1h30m"), Ok(Retention::Periodic(Duration::from_secs(5400))));
        assert_eq!(parse_retention("periodic", "0s"), Ok(Retention::Disabled));
        let error = |retention: &str| parse_retention("periodic", retention).map_err(|e| e.to_string());
        assert_eq!(error("abc"), Err("error parsing CompactionRetention: time: invalid duration \"abc\"".to_string()));
        assert_eq!(error("-1"), Err("error parsing CompactionRetention: time: missing unit in duration \"-1\"".into()));
        assert_eq!(
            error("5x"),
            Err("error parsing CompactionRetention: time: unknown unit \"x\" in duration \"5x\"".into())
        );
        assert_eq!(
            parse_retention("foo", "1").map_err(|e| e.to_string()),
            Err("unknown auto-compaction-mode \"foo\"".to_string())
        );
    }

    #[test]
    fn urls() {
        assert_eq!(socket_addr("http://localhost:2379").map(|a| a.port()), Ok(2379));
        assert!(socket_addr("localhost:2379").is_err());
    }
}
