//! Everything a session needs that outlives it, passed in explicitly (no globals).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::TlsAcceptor;

use super::registry::Registry;
use super::tls::TlsMode;
use crate::backend::side::SidePool;
use crate::backend::BackendAddr;

/// Runtime settings of one proxy, derived from the config file (or built by tests).
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen_tcp: Option<String>,
    pub listen_unix: Option<PathBuf>,
    /// Group members: the read-write port (sessions wholly on the primary) and the
    /// read-only port (writes refused); see `split::PortRole`.
    pub listen_read_write_tcp: Option<String>,
    pub listen_read_only_tcp: Option<String>,
    /// Where the proxy's own side connections (service account) reach mysqld.
    pub backend: BackendAddr,
    /// Where client sessions reach mysqld: TCP, never a unix socket (mysqld's `unix_socket`
    /// plugin would take every client for the proxy's OS user).
    pub session_backend: Option<String>,
    /// Sessions open with a PROXY protocol header carrying the client's address.
    pub proxy_protocol: bool,
    pub connect_timeout: Duration,
    pub service_user: String,
    pub service_password: String,
    pub tls_mode: TlsMode,
    /// The client TLS configuration; `None` with TLS on generates a self-signed certificate.
    pub tls: Option<super::tls::ClientTls>,
    pub max_connections: usize,
    /// What mysqld allows this proxy (set by `backend_check`): a reload stays within it.
    pub max_connections_cap: Option<u64>,
    pub max_connections_per_user: u32,
    pub max_packet: usize,
    pub handshake_timeout: Duration,
    /// Clients in the connection phase at once.
    pub max_handshakes: usize,
    pub idle_timeout: Option<Duration>,
    pub local_infile: bool,
    /// The consistency level sessions start with (`group.consistency`).
    pub default_consistency: super::consistency::Consistency,
    /// Group membership; `None` runs a plain proxy.
    pub group: Option<crate::replication::group::GroupSettings>,
}

impl Settings {
    /// Defaults for a proxy in front of `backend`: TLS preferred with a generated certificate.
    pub fn new(backend: BackendAddr) -> Self {
        Settings {
            listen_tcp: Some("127.0.0.1:0".into()),
            listen_unix: None,
            listen_read_write_tcp: None,
            listen_read_only_tcp: None,
            session_backend: match &backend {
                BackendAddr::Tcp(a) => Some(a.clone()),
                BackendAddr::Unix(_) => None,
            },
            proxy_protocol: true,
            backend,
            connect_timeout: Duration::from_secs(5),
            service_user: "root".into(),
            service_password: String::new(),
            tls_mode: TlsMode::Preferred,
            tls: None,
            max_connections: 1024,
            max_connections_cap: None,
            max_connections_per_user: 0,
            max_packet: 64 << 20,
            handshake_timeout: Duration::from_secs(10),
            max_handshakes: 128,
            idle_timeout: None,
            local_infile: false,
            default_consistency: Default::default(),
            group: None,
        }
    }
}

/// Shared state of a running proxy.
pub struct Context {
    pub settings: Settings,
    pub registry: Registry,
    pub tls: Option<TlsAcceptor>,
    /// The certificate behind `tls`, replaceable on SIGHUP.
    pub client_tls: Option<super::tls::ClientTls>,
    pub side: SidePool,
    pub group: Option<Arc<crate::replication::group::Group>>,
    /// Connection and statement counters (`/metrics`).
    pub stats: super::stats::FrontendStats,
    /// Becomes true when the proxy drains (SIGTERM): sessions end once outside a transaction.
    pub draining: tokio::sync::watch::Receiver<Option<tokio::time::Instant>>,
    /// Where the admin HTTP endpoint listens, once it does (`SHOW GRPROXY STATUS`).
    pub http_address: std::sync::OnceLock<String>,
    pub started: std::time::Instant,
    /// The limits SIGHUP can change (`settings` holds their values at start).
    pub limits: super::limits::Limits,
}

impl Context {
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    pub fn is_draining(&self) -> bool {
        self.draining.borrow().is_some()
    }
}
