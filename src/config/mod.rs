//! grproxy configuration: the YAML file format, its defaults, and loading.
//!
//! The configuration is a single YAML document (see `config/grproxy.example.yaml`
//! for a fully commented example). Every section and every key is optional in
//! the YAML *syntax*; semantic validation then enforces what the proxy needs:
//!
//! * `listen`: at least one of `tcp` / `unix_socket`;
//! * `backend`: at least one of `address` / `unix_socket`;
//! * `service_account.user`: non-empty, and at most one password source;
//! * `tls`: `cert` and `key` both or neither;
//! * `group`: `tls` (`ca`, `cert`, `key`) required;
//! * `limits`: ranges documented on [`Limits`];
//! * `admin.http`: a `host:port` when set.
//!
//! Unknown keys are rejected everywhere (`deny_unknown_fields`), so a typo such as
//! `max_conection` is an error instead of a silently ignored setting.
//!
//! Loading ([`load_file`], [`load_str`]) parses and validates; it does not touch
//! the network, the TLS files, or the password source. Secrets are read later by
//! [`ServiceAccount::resolve_password`], so the config can be validated without
//! access to them.
//!
//! Relative paths (`unix_socket`, `password_file`, `tls.cert`, `tls.key`, `group.tls.*`) are
//! kept as written and are therefore relative to the proxy's working directory.
//!
//! Every [`ConfigError`] names the file, the line (and column when known) and
//! the dotted key path, e.g.
//! `config/grproxy.yaml:12: limits.max_packet_size: must be between 1024 and 1073741824, got 10`.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

mod load;
mod secret;

#[cfg(test)]
mod tests;

pub use load::{load_file, load_str, ConfigError, Position};

/// Default `backend.connect_timeout_ms`.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Default `limits.max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;
/// Default `limits.max_packet_size` (64 MiB).
pub const DEFAULT_MAX_PACKET_SIZE: u32 = 64 * 1024 * 1024;
/// Smallest accepted `limits.max_packet_size`.
pub const MIN_MAX_PACKET_SIZE: u32 = 1024;
/// Largest accepted `limits.max_packet_size` (1 GiB, MySQL's own ceiling).
pub const MAX_MAX_PACKET_SIZE: u32 = 1024 * 1024 * 1024;
/// Default `limits.handshake_timeout_ms`.
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// Default `limits.max_handshakes`.
pub const DEFAULT_MAX_HANDSHAKES: u32 = 128;
/// Default `log.level`.
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// Default `limits.shutdown_grace_ms`.
pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 10_000;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where clients connect to the proxy.
    pub listen: ListenConfig,
    /// The local mysqld the proxy forwards to.
    pub backend: BackendConfig,
    /// The account the proxy itself uses on the backend.
    pub service_account: ServiceAccount,
    /// TLS towards clients.
    pub tls: TlsConfig,
    /// Resource limits and timeouts.
    pub limits: Limits,
    /// Optional protocol features.
    pub features: Features,
    /// Logging.
    pub log: LogConfig,
    /// Replication group membership; absent for a plain proxy.
    pub group: Option<GroupConfig>,
    /// The operator's HTTP endpoint (`/metrics`, `/health`); off unless set.
    pub admin: AdminConfig,
}

/// `admin:` — the operator's HTTP endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// `host:port` serving `GET /metrics` (Prometheus) and `GET /health` (200 or 503 with the
    /// reason), e.g. `127.0.0.1:9104`. Unset (the default): no HTTP endpoint. It has no
    /// authentication: bind it to loopback or a network only monitoring reaches.
    pub http: Option<String>,
}

/// Smallest accepted `group.snapshot_every`.
pub const MIN_SNAPSHOT_EVERY: u64 = 100;

/// `group:` — membership of a replication group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupConfig {
    /// This member's id: a key of `members`.
    pub member_id: u64,
    /// Every member's id and peer address ("host:port"), this one included.
    pub members: std::collections::BTreeMap<u64, String>,
    /// Where the Raft log and vote are kept (durable, fsynced).
    pub data_dir: PathBuf,
    /// Log entries between snapshots (>= 100, default 10000); the log is compacted behind
    /// each snapshot.
    pub snapshot_every: u64,
    /// Flow control: how many log entries the slowest member may lag before this member's
    /// transactions wait (default 2000; 0 turns flow control off).
    pub flow_control_entries: u64,
    /// The most proposal batches (Raft entries) the leader keeps in flight at once (1-64,
    /// default 4). Transactions that commit while they are in flight are packed into the
    /// next entry: fewer batches in flight means more transactions per entry (fewer
    /// messages and fsyncs per commit), more means less waiting at low concurrency.
    pub raft_batches_in_flight: usize,
    /// The most bytes of log entries kept for members that have not applied them yet
    /// (default 1 GiB, at least 1 MiB). A member that falls further behind is re-provisioned
    /// by state transfer when it returns.
    pub retention_bytes: u64,
    /// Whether other members' transactions, replayed here, also go to this member's binlog
    /// (default true). Off saves a binlog write and sync per replayed batch, but a member
    /// that writes little of its own then cannot tell a `RESET MASTER` run on its mysqld
    /// directly (docs/operations.md).
    pub log_replays: bool,
    /// Mutual TLS on the peer (Raft) links. Required: there is no plain-text peer mode (anyone
    /// who reached a plain peer port could forge Raft messages and run statements on every
    /// member).
    pub tls: Option<GroupTlsConfig>,
    /// `multi-primary` (default: every member takes writes) or `single-primary` (one primary
    /// takes writes; the others serve reads and send writes on to it). Only a new group
    /// takes it from here: once the group has a mode in its log (`GRPROXY SET MODE`), the
    /// log decides.
    pub mode: String,
    /// Election weight (0-100, default 50): among equally caught-up members, the heavier
    /// becomes primary.
    pub weight: u32,
    /// The consistency level sessions on this member start with (default EVENTUAL; also
    /// BEFORE_ON_PRIMARY_FAILOVER, BEFORE, AFTER, BEFORE_AND_AFTER). A session changes its
    /// own with `SET group_replication_consistency = ...`.
    pub consistency: String,
    /// The client address other members use to send a session's writes to this member
    /// when it is primary ("host:port"). Default: `listen.tcp`, with an unspecified host
    /// (`0.0.0.0`, `::`) replaced by the host of this member's peer address.
    pub sql_address: Option<String>,
}

/// `group.tls:` — this member's certificate for the peer links and the group CA.
///
/// The certificate must chain to `ca` and carry the DNS name `member-<member_id>.grproxy`;
/// peers are accepted only with a certificate from the same CA naming a member of
/// `group.members`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupTlsConfig {
    /// PEM certificate(s) of the group CA (required).
    pub ca: Option<PathBuf>,
    /// PEM certificate chain of this member (required).
    pub cert: Option<PathBuf>,
    /// PEM private key of this member (required).
    pub key: Option<PathBuf>,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            member_id: 0,
            members: Default::default(),
            data_dir: PathBuf::new(),
            snapshot_every: crate::replication::group::DEFAULT_SNAPSHOT_EVERY,
            flow_control_entries: crate::replication::group::DEFAULT_FLOW_CONTROL_ENTRIES,
            raft_batches_in_flight: crate::consensus::DEFAULT_BATCHES_IN_FLIGHT,
            retention_bytes: crate::replication::group::DEFAULT_RETENTION_BYTES,
            log_replays: true,
            tls: None,
            mode: "multi-primary".into(),
            weight: 50,
            consistency: "EVENTUAL".into(),
            sql_address: None,
        }
    }
}

/// `listen:` — client-facing listeners. At least one must be set; both may be.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenConfig {
    /// TCP listen address as `host:port`, e.g. `127.0.0.1:6033` or `[::1]:6033`.
    /// Port 0 asks the OS for a free port.
    pub tcp: Option<String>,
    /// Unix domain socket path to listen on.
    pub unix_socket: Option<PathBuf>,
    /// Group members: a TCP port whose sessions run wholly on the primary (MySQL Router's
    /// read-write port): on a single-primary secondary every statement is sent on.
    pub read_write_tcp: Option<String>,
    /// Group members: a TCP port whose sessions run reads here and are refused writes (1290),
    /// whatever this member's role (MySQL Router's read-only port).
    pub read_only_tcp: Option<String>,
}

/// `backend:` — the local mysqld. At least one of `address` / `unix_socket`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendConfig {
    /// TCP address of mysqld as `host:port` (port 1..=65535). Client sessions always use it.
    pub address: Option<String>,
    /// Unix socket of mysqld for the proxy's own connections; preferred over `address` for
    /// them when both are given.
    pub unix_socket: Option<PathBuf>,
    /// Timeout for establishing a backend connection, in milliseconds (> 0).
    pub connect_timeout_ms: u64,
    /// Sessions start with a PROXY protocol header, so mysqld sees each client's own
    /// address (mysqld's `proxy_protocol_networks` must list grproxy's). Default true.
    pub proxy_protocol: bool,
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            address: None,
            unix_socket: None,
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            proxy_protocol: true,
        }
    }
}

/// `service_account:` — credentials the proxy uses on the backend.
///
/// The password comes from at most one of `password` (inline, discouraged),
/// `password_env` (name of an environment variable) or `password_file` (path;
/// trailing newlines are trimmed). With none of them the password is empty.
/// Call [`ServiceAccount::resolve_password`] to obtain it.
///
/// `Debug` never prints the inline password.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceAccount {
    /// Backend user name (required, non-empty).
    pub user: String,
    /// Inline password. Discouraged: it ends up in backups and version control.
    pub password: Option<String>,
    /// Name of the environment variable holding the password.
    pub password_env: Option<String>,
    /// File whose contents (minus trailing newlines) are the password.
    pub password_file: Option<PathBuf>,
    /// Where the password source key was written (filled by the loader, never
    /// read from YAML); used only to give secret errors a file and line.
    #[serde(skip)]
    pub source_position: Option<Position>,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .finish_non_exhaustive()
    }
}

/// Client-side TLS policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Never offer TLS to clients.
    Disabled,
    /// Offer TLS; clients may still connect in plain text.
    #[default]
    Preferred,
    /// Reject clients that do not switch to TLS.
    Required,
}

/// `tls:` — TLS towards clients.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// `disabled`, `preferred` (default) or `required`.
    pub mode: TlsMode,
    /// PEM certificate chain. Must be given together with `key`.
    pub cert: Option<PathBuf>,
    /// PEM private key. Must be given together with `cert`.
    pub key: Option<PathBuf>,
}

impl TlsConfig {
    /// True when TLS is enabled but no certificate was configured, i.e. the
    /// proxy must generate a self-signed certificate at startup.
    pub fn uses_generated_cert(&self) -> bool {
        self.mode != TlsMode::Disabled && self.cert.is_none() && self.key.is_none()
    }
}

/// `limits:` — resource limits and timeouts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Maximum concurrent client connections (> 0, default 1024).
    pub max_connections: u32,
    /// Maximum concurrent connections per user name (0 = unlimited, the default).
    pub max_connections_per_user: u32,
    /// Largest accepted protocol packet payload in bytes
    /// (1024..=1 GiB, default 64 MiB).
    pub max_packet_size: u32,
    /// Time allowed for a client to finish the handshake, in ms (> 0, default 10000).
    pub handshake_timeout_ms: u64,
    /// Clients in the handshake at once (each holds a mysqld connection before it has
    /// logged in); more wait for a turn (> 0, default 128).
    pub max_handshakes: u32,
    /// Close client connections idle this many seconds (0 = never, the default).
    pub idle_timeout_s: u64,
    /// On SIGTERM/SIGINT, how long sessions inside a transaction may take to finish it, in
    /// ms (default 10000; 0 closes every session at once).
    pub shutdown_grace_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_user: 0,
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            handshake_timeout_ms: DEFAULT_HANDSHAKE_TIMEOUT_MS,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
            idle_timeout_s: 0,
            shutdown_grace_ms: DEFAULT_SHUTDOWN_GRACE_MS,
        }
    }
}

/// `features:` — optional protocol features.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Features {
    /// Allow `LOAD DATA LOCAL INFILE` (default false).
    pub local_infile: bool,
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `log:` — logging.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Filter directive, e.g. `info` or `grproxy=debug,info` (default `info`).
    /// The `RUST_LOG` environment variable, when set, takes precedence.
    pub level: String,
    /// `text` (default) or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: DEFAULT_LOG_LEVEL.to_owned(),
            format: LogFormat::Text,
        }
    }
}
