//! `grproxy check --config FILE`: everything `grproxy run` does with a config file before it
//! opens a socket: load and validate it, parse the log filter, load the TLS material (and
//! check that a member's peer certificate names it) and resolve the password source.

use std::path::Path;

/// Why a file does not check out. Its message starts with the file (and line, when known).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{file}: {message}")]
    Settings { file: String, message: String },
}

/// The loaded configuration, or why it cannot run.
pub fn load(path: &Path) -> Result<crate::config::Config, CheckError> {
    let cfg = crate::config::load_file(path)?;
    let fail = |message: String| CheckError::Settings {
        file: path.display().to_string(),
        message,
    };
    crate::logging::filter(&cfg.log.level).map_err(|e| fail(format!("log.level: {e}")))?;
    let settings = crate::settings::from_config(&cfg).map_err(|e| match e {
        crate::settings::SettingsError::Config(c) => CheckError::Config(c),
        other => fail(other.to_string()),
    })?;
    // A member's own peer certificate must name it and chain to the group CA: the same
    // check a member makes when it starts.
    if let Some(g) = &settings.group {
        if let crate::consensus::PeerSecurity::Tls(tls) = &g.peer_security {
            crate::consensus::peer_tls::PeerTlsContext::new(g.member_id, g.members.keys().copied(), tls)
                .map_err(|e| fail(format!("group.tls: {e}")))?;
        }
    }
    Ok(cfg)
}

/// `FILE: OK`, or the error.
pub fn check(path: &Path) -> Result<String, CheckError> {
    load(path).map(|_| format!("{}: OK", path.display()))
}
