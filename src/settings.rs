//! From the configuration file to the runtime [`Settings`] of a proxy: resolves the service
//! account's secret and loads TLS material.

use std::time::Duration;

use crate::backend::BackendAddr;
use crate::config::{self, Config};
use crate::frontend::{tls, Settings, TlsMode};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("tls: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("group.tls: {0}")]
    PeerTls(#[from] crate::consensus::PeerTlsError),
}

pub fn from_config(cfg: &Config) -> Result<Settings, SettingsError> {
    let backend = match (&cfg.backend.unix_socket, &cfg.backend.address) {
        (Some(p), _) => BackendAddr::Unix(p.clone()),
        (None, Some(a)) => BackendAddr::Tcp(a.clone()),
        (None, None) => unreachable!("validated by config::load"),
    };
    let tls_mode = match cfg.tls.mode {
        config::TlsMode::Disabled => TlsMode::Disabled,
        config::TlsMode::Preferred => TlsMode::Preferred,
        config::TlsMode::Required => TlsMode::Required,
    };
    let tls = match (&cfg.tls.cert, &cfg.tls.key, tls_mode) {
        (_, _, TlsMode::Disabled) => None,
        (Some(c), Some(k), _) => Some(tls::from_pem_files(c, k)?),
        _ => Some(tls::self_signed()?),
    };
    let mut s = Settings::new(backend);
    s.listen_tcp = cfg.listen.tcp.clone();
    s.listen_read_write_tcp = cfg.listen.read_write_tcp.clone();
    s.listen_read_only_tcp = cfg.listen.read_only_tcp.clone();
    s.listen_unix = cfg.listen.unix_socket.clone();
    s.session_backend = cfg.backend.address.clone();
    s.proxy_protocol = cfg.backend.proxy_protocol;
    s.connect_timeout = Duration::from_millis(cfg.backend.connect_timeout_ms);
    s.service_user = cfg.service_account.user.clone();
    s.service_password = cfg.service_account.resolve_password()?;
    s.tls_mode = tls_mode;
    s.tls = tls;
    s.max_connections = cfg.limits.max_connections as usize;
    s.max_connections_per_user = cfg.limits.max_connections_per_user;
    s.max_packet = cfg.limits.max_packet_size as usize;
    s.handshake_timeout = Duration::from_millis(cfg.limits.handshake_timeout_ms);
    s.max_handshakes = cfg.limits.max_handshakes as usize;
    s.idle_timeout = (cfg.limits.idle_timeout_s > 0).then(|| Duration::from_secs(cfg.limits.idle_timeout_s));
    s.local_infile = cfg.features.local_infile;
    s.default_consistency = cfg
        .group
        .as_ref()
        .and_then(|g| crate::frontend::consistency::Consistency::parse(&g.consistency))
        .unwrap_or_default();
    s.group = match &cfg.group {
        None => None,
        Some(g) => Some(crate::replication::group::GroupSettings {
            member_id: g.member_id,
            members: g.members.clone(),
            data_dir: g.data_dir.clone(),
            snapshot_every: g.snapshot_every,
            flow_control_entries: g.flow_control_entries,
            raft_batches_in_flight: g.raft_batches_in_flight,
            retention_bytes: g.retention_bytes,
            log_replays: g.log_replays,
            listener: None,
            peer_security: peer_security(g)?,
            mode: crate::replication::topology::Mode::parse(&g.mode).unwrap_or_default(),
            weight: g.weight,
            sql_address: g.sql_address.clone(),
        }),
    };
    Ok(s)
}

/// Loads the peer TLS material (validated by `config::load`: `tls` with its three files).
pub(crate) fn peer_security(g: &config::GroupConfig) -> Result<crate::consensus::PeerSecurity, SettingsError> {
    use crate::consensus::{PeerSecurity, PeerTls};
    match &g.tls {
        Some(config::GroupTlsConfig {
            ca: Some(ca),
            cert: Some(cert),
            key: Some(key),
        }) => Ok(PeerSecurity::Tls(PeerTls::from_pem_files(ca, cert, key)?)),
        _ => unreachable!("validated by config::load"),
    }
}
