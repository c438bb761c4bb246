//! `grproxy run`: start the proxy from a config and serve until SIGINT/SIGTERM.

use crate::config::Config;
use crate::frontend;

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let settings = crate::settings::from_config(&cfg)?;
    let handle = frontend::start(settings).await?;
    match handle.context.side.check().await {
        Ok(version) => tracing::info!(%version, backend = %handle.context.settings.backend, "connected to mysqld"),
        Err(e) => {
            tracing::warn!(error = %e, "service account cannot log in to mysqld yet; sessions will still be relayed")
        }
    }
    if let Some(a) = handle.tcp_addr {
        tracing::info!(addr = %a, "listening on TCP");
    }
    if let Some(p) = &handle.unix_path {
        tracing::info!(path = %p.display(), "listening on unix socket");
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    handle.stop().await;
    Ok(())
}
