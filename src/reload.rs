//! SIGHUP: read the config file again and apply what can change while running.
//!
//! Applied at once: `log.level` (the logger's filter; `RUST_LOG`, when set, still wins), the
//! client TLS certificate (`tls.cert`/`tls.key` read again, also when only the files
//! changed: a rotation; from a generated certificate to files too), and the client limits
//! (`limits.*` but `max_packet_size`: connections overall and per user, handshakes, the
//! handshake and idle timeouts, the shutdown grace; see `frontend::limits`). Everything else is
//! compared with what runs and reported as needing a restart. A file that does not load
//! changes nothing. Diffs are always against what is running, so a key reported once is
//! reported again on the next SIGHUP until the restart.

use std::path::Path;

use crate::config::{self, Config};
use crate::frontend::Context;
use crate::logging::{LevelChange, LogControl};

/// What one reload did, for one log line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Changes made to the running proxy.
    pub applied: Vec<String>,
    /// Keys whose new values take effect only after a restart.
    pub needs_restart: Vec<String>,
    /// Runtime settings that could not be applied (a bad certificate), with why.
    pub failed: Vec<String>,
}

impl Report {
    /// One line: what changed, or that nothing did.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.applied.is_empty() {
            parts.push(format!("applied: {}", self.applied.join("; ")));
        }
        if !self.failed.is_empty() {
            parts.push(format!("not applied: {}", self.failed.join("; ")));
        }
        if !self.needs_restart.is_empty() {
            parts.push(format!(
                "changed but only applied by a restart: {}",
                self.needs_restart.join(", ")
            ));
        }
        if parts.is_empty() {
            "nothing changed".to_string()
        } else {
            parts.join("; ")
        }
    }
}

/// Loads `path` and applies it to the running proxy; `running` is updated with what was
/// applied. Errors (the file does not load) change nothing.
pub fn reload(
    path: &Path,
    running: &mut Config,
    log: Option<&LogControl>,
    ctx: &Context,
) -> Result<Report, config::ConfigError> {
    let new = config::load_file(path)?;
    let mut report = Report {
        needs_restart: restart_only_changes(running, &new),
        ..Report::default()
    };

    match log.map(|l| l.set_level(&new.log.level)) {
        None | Some(Ok(LevelChange::Unchanged)) => {}
        Some(Ok(LevelChange::Changed { from, to })) => {
            report.applied.push(format!("log.level {from:?} -> {to:?}"));
            running.log.level = new.log.level.clone();
        }
        Some(Ok(LevelChange::OverriddenByEnv { configured, env })) => {
            report
                .failed
                .push(format!("log.level {configured:?} (RUST_LOG={env:?} decides)"));
            running.log.level = new.log.level.clone();
        }
        Some(Err(e)) => report.failed.push(format!("log.level: {e}")),
    }

    let limits = ctx.limits.apply(&new.limits);
    if !limits.is_empty() {
        report.applied.extend(limits);
    }
    if running.limits.shutdown_grace_ms != new.limits.shutdown_grace_ms {
        report.applied.push(format!(
            "limits.shutdown_grace_ms {} -> {}",
            running.limits.shutdown_grace_ms, new.limits.shutdown_grace_ms
        ));
    }
    let packet = running.limits.max_packet_size;
    running.limits = new.limits.clone();
    running.limits.max_packet_size = packet;

    // The group's peer certificate (and CA), read again like the client's: new peer
    // connections use it; the other group keys need a restart.
    if let (Some(group), Some(old_g), Some(new_g)) = (&ctx.group, &running.group, &new.group) {
        if old_g.tls.is_some() && new_g.tls.is_some() {
            let loaded = crate::settings::peer_security(new_g).map_err(|e| e.to_string());
            match loaded {
                Ok(crate::consensus::PeerSecurity::Tls(tls)) => match group.reload_peer_tls(&tls) {
                    Ok(changed) => {
                        if changed {
                            let cert = new_g.tls.as_ref().and_then(|t| t.cert.as_ref());
                            report.applied.push(format!(
                                "group.tls: new peer certificate from {}",
                                cert.map(|c| c.display().to_string()).unwrap_or_default()
                            ));
                        }
                        if let Some(g) = running.group.as_mut() {
                            g.tls = new_g.tls.clone();
                        }
                    }
                    Err(e) => report
                        .failed
                        .push(format!("group.tls: {e} (the certificate in use stays)")),
                },
                Ok(_) => {}
                Err(e) => report
                    .failed
                    .push(format!("group.tls: {e} (the certificate in use stays)")),
            }
        }
    }

    // The client certificate, when TLS stays on: files are read again even when their
    // paths did not change (a rotation keeps the paths).
    let mode_same = running.tls.mode == new.tls.mode;
    if let (true, Some(tls), Some(cert), Some(key)) = (mode_same, &ctx.client_tls, &new.tls.cert, &new.tls.key) {
        match tls.reload(cert, key) {
            Ok(true) => report
                .applied
                .push(format!("tls: new certificate from {}", cert.display())),
            Ok(false) => {}
            Err(e) => report.failed.push(format!("tls: {e} (the certificate in use stays)")),
        }
        if report.failed.iter().all(|f| !f.starts_with("tls:")) {
            running.tls.cert = new.tls.cert.clone();
            running.tls.key = new.tls.key.clone();
        }
    } else if mode_same && running.tls.cert != new.tls.cert {
        report.needs_restart.push("tls.cert".into());
    }
    Ok(report)
}

/// Keys (dotted) whose value differs between `old` and `new` and that a running proxy
/// cannot take over: listeners, backend, service account, `limits.max_packet_size`, features,
/// log format, group, admin, tls.mode.
pub fn restart_only_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut keys = Vec::new();
    let mut check = |key: &str, changed: bool| {
        if changed {
            keys.push(key.to_string());
        }
    };
    check("listen.tcp", old.listen.tcp != new.listen.tcp);
    check("listen.unix_socket", old.listen.unix_socket != new.listen.unix_socket);
    check("backend.address", old.backend.address != new.backend.address);
    check(
        "backend.unix_socket",
        old.backend.unix_socket != new.backend.unix_socket,
    );
    check(
        "backend.connect_timeout_ms",
        old.backend.connect_timeout_ms != new.backend.connect_timeout_ms,
    );
    check(
        "backend.proxy_protocol",
        old.backend.proxy_protocol != new.backend.proxy_protocol,
    );
    let (a, b) = (&old.service_account, &new.service_account);
    check("service_account.user", a.user != b.user);
    check(
        "service_account (password source)",
        (&a.password, &a.password_env, &a.password_file) != (&b.password, &b.password_env, &b.password_file),
    );
    check("tls.mode", old.tls.mode != new.tls.mode);
    check(
        "limits.max_packet_size",
        old.limits.max_packet_size != new.limits.max_packet_size,
    );
    check(
        "features.local_infile",
        old.features.local_infile != new.features.local_infile,
    );
    check("log.format", old.log.format != new.log.format);
    // group.tls is taken at runtime (see `reload`); the rest of `group` needs a restart.
    let without_tls = |g: &Option<config::GroupConfig>| {
        g.clone().map(|mut g| {
            g.tls = None;
            g
        })
    };
    check("group", without_tls(&old.group) != without_tls(&new.group));
    check("admin.http", old.admin.http != new.admin.http);
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Config {
        config::load_str(text, Path::new("t.yaml")).unwrap()
    }

    const BASE: &str =
        "listen:\n  tcp: 127.0.0.1:6033\nbackend:\n  address: 127.0.0.1:3306\nservice_account:\n  user: svc\n";

    #[test]
    fn restart_only_keys_are_named() {
        let old = load(BASE);
        assert!(restart_only_changes(&old, &old).is_empty());
        let new = load(&format!(
            "{BASE}limits:\n  max_connections: 5\n  idle_timeout_s: 9\nlog:\n  level: debug\nadmin:\n  http: 127.0.0.1:1\n"
        ));
        // log.level and the limits are not among them: they are applied at runtime.
        assert_eq!(restart_only_changes(&old, &new), ["admin.http"]);
        let packet = load(&format!("{BASE}limits:\n  max_packet_size: 1048576\n"));
        assert_eq!(restart_only_changes(&old, &packet), ["limits.max_packet_size"]);
        let moved = load(&BASE.replace("address: 127.0.0.1:3306", "address: 127.0.0.1:3307"));
        assert_eq!(restart_only_changes(&old, &moved), ["backend.address"]);
    }

    #[test]
    fn summary_says_what_changed_or_that_nothing_did() {
        assert_eq!(Report::default().summary(), "nothing changed");
        let r = Report {
            applied: vec!["log.level \"info\" -> \"debug\"".into()],
            needs_restart: vec!["limits.max_connections".into()],
            failed: vec![],
        };
        assert_eq!(
            r.summary(),
            "applied: log.level \"info\" -> \"debug\"; changed but only applied by a restart: limits.max_connections"
        );
    }
}
