//! Log output on stderr: text or JSON lines, colour only when stderr is a terminal, and a
//! filter that SIGHUP can change (a `tracing_subscriber::reload` layer).
//!
//! openraft logs every retry to a dead peer and every election step at info and debug; left
//! alone it makes up most of a member's log. Its targets are held at `warn` unless the
//! configured filter names openraft itself (`info,openraft=debug`).
//!
//! `RUST_LOG`, when set, replaces the configured `log.level` (at start and on reload).

use std::io::IsTerminal;
use std::sync::Mutex;

use tracing_subscriber::prelude::*;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// The filter directives for a configured level: `level`, plus `openraft=warn` unless a
/// directive of `level` is about openraft.
pub fn directives(level: &str) -> String {
    let level = level.trim();
    let names_openraft = level
        .split(',')
        .any(|d| d.trim().trim_start_matches('[').starts_with("openraft"));
    if names_openraft {
        level.to_string()
    } else if level.is_empty() {
        "openraft=warn".to_string()
    } else {
        format!("{level},openraft=warn")
    }
}

/// Parses `level` (see [`directives`]) strictly: an unknown level or a malformed directive
/// is an error instead of being skipped.
pub fn filter(level: &str) -> Result<EnvFilter, String> {
    EnvFilter::builder()
        .parse(directives(level))
        .map_err(|e| format!("invalid log filter {level:?}: {e}"))
}

/// `RUST_LOG`, when set and not empty.
fn env_level() -> Option<String> {
    std::env::var("RUST_LOG").ok().filter(|s| !s.trim().is_empty())
}

/// The installed subscriber's filter, for SIGHUP.
pub struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
    env: Option<String>,
    level: Mutex<String>,
}

/// What a reload did to the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelChange {
    Unchanged,
    Changed {
        from: String,
        to: String,
    },
    /// The configured level changed, but `RUST_LOG` decides.
    OverriddenByEnv {
        configured: String,
        env: String,
    },
}

/// Installs the process-wide subscriber (the one global of the process: `tracing` has a
/// single dispatcher). `level` is the configured `log.level`; `RUST_LOG` wins over it.
pub fn init(level: &str, json: bool) -> Result<LogControl, String> {
    let env = env_level();
    let in_force = env.as_deref().unwrap_or(level);
    let (filter, handle) = reload::Layer::new(filter(in_force)?);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if json {
        registry.with(fmt.json()).try_init()
    } else {
        registry.with(fmt.with_ansi(std::io::stderr().is_terminal())).try_init()
    };
    installed.map_err(|e| format!("installing the logger: {e}"))?;
    Ok(LogControl {
        handle,
        env,
        level: Mutex::new(level.to_string()),
    })
}

impl LogControl {
    /// Applies a newly configured `log.level`. An invalid one is an error and changes nothing.
    pub fn set_level(&self, level: &str) -> Result<LevelChange, String> {
        let new = filter(level)?;
        let mut current = self.level.lock().unwrap();
        if *current == level {
            return Ok(LevelChange::Unchanged);
        }
        if let Some(env) = &self.env {
            *current = level.to_string();
            return Ok(LevelChange::OverriddenByEnv {
                configured: level.to_string(),
                env: env.clone(),
            });
        }
        self.handle
            .reload(new)
            .map_err(|e| format!("changing the log filter: {e}"))?;
        let from = std::mem::replace(&mut *current, level.to_string());
        Ok(LevelChange::Changed {
            from,
            to: level.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openraft_is_held_at_warn_unless_named() {
        assert_eq!(directives("info"), "info,openraft=warn");
        assert_eq!(directives(" debug "), "debug,openraft=warn");
        assert_eq!(directives("grproxy=debug,info"), "grproxy=debug,info,openraft=warn");
        assert_eq!(directives("info,openraft=debug"), "info,openraft=debug");
        assert_eq!(directives("openraft::engine=trace"), "openraft::engine=trace");
        assert_eq!(directives("[openraft]=info,warn"), "[openraft]=info,warn");
    }

    #[test]
    fn filters_parse_strictly() {
        assert!(filter("info").is_ok());
        assert!(filter("grproxy=debug,warn").is_ok());
        let e = filter("grproxy=loud").unwrap_err();
        assert!(e.contains("grproxy=loud"), "{e}");
    }
}
