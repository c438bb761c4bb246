//! `grproxy run`: start the proxy (and its admin endpoint) from a config file and serve until
//! a signal says otherwise.
//!
//! - SIGHUP: read the file again and apply what can change while running (`crate::reload`);
//!   one log line says what changed, what needs a restart, or that nothing changed.
//! - SIGTERM, SIGINT: drain. Stop accepting, close idle sessions, let sessions inside a
//!   transaction finish it within `limits.shutdown_grace_ms`, close the rest, exit 0.

use std::path::Path;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use crate::config::Config;
use crate::frontend;
use crate::logging::LogControl;

pub async fn run(cfg: Config, path: &Path, log: Option<LogControl>) -> anyhow::Result<()> {
    // Handlers first: SIGHUP's default action ends the process.
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;

    let settings = crate::settings::from_config(&cfg)?;
    let handle = frontend::start(settings).await?;
    let ctx = handle.context.clone();
    let backend = ctx.settings.backend.to_string();
    match ctx.side.check().await {
        Ok(version) => tracing::info!(%version, %backend, "connected to mysqld"),
        Err(e) => tracing::warn!(
            %backend,
            error = %e,
            "the service account cannot log in to mysqld at {backend} yet; sessions will still be relayed"
        ),
    }
    if let Some(a) = handle.tcp_addr {
        tracing::info!(addr = %a, "listening on TCP");
    }
    if let Some(p) = &handle.unix_path {
        tracing::info!(path = %p.display(), "listening on unix socket");
    }
    let admin = match &cfg.admin.http {
        Some(addr) => {
            let server = crate::admin::start(ctx.clone(), addr).await?;
            tracing::info!(addr = %server.addr, "serving /metrics and /health");
            Some(server)
        }
        None => None,
    };

    let mut running = cfg.clone();
    let signal_name = loop {
        tokio::select! {
            _ = hup.recv() => match crate::reload::reload(path, &mut running, log.as_ref(), &ctx) {
                Ok(report) => tracing::info!(file = %path.display(), "SIGHUP: {}", report.summary()),
                Err(e) => tracing::warn!("SIGHUP: {e}; the running configuration stays"),
            },
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
        }
    };
    // A leader that stops first hands leadership over: the group goes on committing without
    // waiting an election timeout, and this member's draining sessions commit through the
    // new leader.
    if let Some(group) = &ctx.group {
        let started = std::time::Instant::now();
        match group.hand_over_leadership().await {
            None => {}
            Some(Ok(to)) => tracing::info!(
                to,
                ms = started.elapsed().as_millis() as u64,
                "handed group leadership to member {to}"
            ),
            Some(Err(e)) => tracing::warn!("could not hand group leadership over: {e}; the others elect a leader"),
        }
    }
    let grace = Duration::from_millis(running.limits.shutdown_grace_ms);
    tracing::info!(
        signal = signal_name,
        grace_ms = grace.as_millis() as u64,
        sessions = ctx.registry.session_count(),
        "shutting down: draining client sessions"
    );
    let drained = handle.drain(grace).await;
    if let Some(a) = admin {
        a.stop().await;
    }
    tracing::info!(
        finished = drained.finished,
        cut = drained.cut,
        "stopped: {} connection(s) ended by themselves, {} closed at the deadline",
        drained.finished,
        drained.cut
    );
    Ok(())
}
