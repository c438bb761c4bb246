//! What the proxy checks of mysqld before it serves clients: that client sessions can keep
//! their own identity there, and that the proxy will not promise more connections than mysqld
//! accepts.

use mysql_async::prelude::Queryable;

use super::Settings;
use crate::backend::side::SidePool;

/// Connections mysqld keeps for grproxy's own side connections (metadata, weigher, applier,
/// binlog tap, KILL) and an administrator's direct login.
pub const SIDE_RESERVE: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum BackendCheckError {
    #[error(
        "client sessions need backend.address (TCP): over mysqld's unix socket its unix_socket \
         plugin would authenticate every client as grproxy's OS user"
    )]
    NoSessionAddress,
    #[error(
        "backend.proxy_protocol is on but mysqld does not accept PROXY headers \
         (proxy_protocol_networks = {0:?}): add grproxy's address to mysqld's \
         proxy_protocol_networks (e.g. proxy_protocol_networks=127.0.0.1), or set \
         backend.proxy_protocol: false (mysqld then sees every client at grproxy's address)"
    )]
    ProxyProtocolNotAccepted(String),
}

/// Checks `settings` against mysqld and lowers `max_connections` to what mysqld allows. A
/// mysqld that cannot be reached now is not an error (sessions report it when they connect).
pub async fn check(side: &SidePool, settings: &mut Settings) -> Result<(), BackendCheckError> {
    if settings.session_backend.is_none() {
        return Err(BackendCheckError::NoSessionAddress);
    }
    let read = async {
        let mut c = side.pool().get_conn().await?;
        let max: Option<u64> = c.query_first("SELECT @@global.max_connections").await?;
        // MySQL has no proxy protocol: the variable is unknown there.
        let networks: Option<String> = c
            .query_first("SELECT @@global.proxy_protocol_networks")
            .await
            .unwrap_or(None);
        Ok::<_, mysql_async::Error>((max, networks))
    };
    let (max, networks) = match tokio::time::timeout(settings.connect_timeout, read).await {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot check mysqld's settings now");
            return Ok(());
        }
        Err(_) => {
            tracing::warn!("cannot check mysqld's settings now: timed out");
            return Ok(());
        }
    };
    if settings.proxy_protocol {
        let networks = networks.unwrap_or_default();
        if networks.trim().is_empty() {
            return Err(BackendCheckError::ProxyProtocolNotAccepted(networks));
        }
    }
    if let Some(max) = max {
        let allowed = (max as usize).saturating_sub(SIDE_RESERVE).max(1);
        settings.max_connections_cap = Some(allowed as u64);
        if settings.max_connections > allowed {
            tracing::warn!(
                configured = settings.max_connections,
                mysqld_max_connections = max,
                using = allowed,
                "limits.max_connections is above what mysqld accepts (its max_connections less {SIDE_RESERVE} \
                 for grproxy's own connections); using the lower value"
            );
            settings.max_connections = allowed;
        }
    }
    Ok(())
}
