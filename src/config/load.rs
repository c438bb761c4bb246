//! Loading and validating the configuration file, and the error type.
//!
//! Parsing is done by serde-saphyr, whose errors carry a line/column but no key
//! path. Semantic validation runs after parsing and has no positions at all. To
//! give every message a position *and* a key path, [`KeyIndex`] does a light,
//! indentation-aware scan of the YAML text that records where each block-style
//! key is and under which parent keys it sits.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use super::{Config, ServiceAccount, MAX_MAX_PACKET_SIZE, MIN_MAX_PACKET_SIZE};

/// A place in a configuration file: the file, and the line and column when known
/// (both 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file (as given to [`load_file`] / [`load_str`]).
    pub file: PathBuf,
    /// 1-based line, if known.
    pub line: Option<u64>,
    /// 1-based column, if known.
    pub column: Option<u64>,
}

impl Position {
    fn new(file: &Path, line: Option<u64>, column: Option<u64>) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            // A column without a line would print misleadingly.
            column: line.and(column),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// Errors from loading the configuration or resolving its secrets.
///
/// Every message starts with `file[:line[:column]]:` and names the key path.
/// Messages never contain secret values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read. The OS error is part of the message.
    #[error("{}: cannot read config file: {cause}", path.display())]
    Read {
        /// The path that was tried.
        path: PathBuf,
        /// The OS error (printed in the message, so not exposed as `source()`).
        cause: std::io::Error,
    },
    /// The YAML could not be parsed into [`Config`] (syntax, unknown key, wrong type, ...).
    #[error("{at}: {message}")]
    Parse {
        /// Where the parser stopped.
        at: Position,
        /// Dotted key path of the offending key (empty if not known).
        key_path: String,
        /// Human-readable message, already naming the key path.
        message: String,
    },
    /// The YAML parsed but a value is not acceptable.
    #[error("{at}: {key_path}: {message}")]
    Invalid {
        /// Where the key is (line only; the file alone if the key is absent).
        at: Position,
        /// Dotted key path, e.g. `limits.max_packet_size`.
        key_path: String,
        /// What is wrong.
        message: String,
    },
    /// A secret could not be resolved (unset env var, unreadable file, ...).
    #[error("{}{key_path}: {message}", at.as_ref().map(|p| format!("{p}: ")).unwrap_or_default())]
    Secret {
        /// Where the password source key is, when the config came from a file.
        at: Option<Position>,
        /// Dotted key path, e.g. `service_account.password_env`.
        key_path: String,
        /// What is wrong; names the env var or file, never the secret.
        message: String,
    },
}

impl ConfigError {
    /// The position the error refers to, if any.
    pub fn position(&self) -> Option<&Position> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Parse { at, .. } | ConfigError::Invalid { at, .. } => Some(at),
            ConfigError::Secret { at, .. } => at.as_ref(),
        }
    }

    /// The dotted key path the error refers to, if any.
    pub fn key_path(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Parse { key_path, .. }
            | ConfigError::Invalid { key_path, .. }
            | ConfigError::Secret { key_path, .. } => (!key_path.is_empty()).then_some(key_path.as_str()),
        }
    }
}

/// Reads, parses and validates the configuration file at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        path: path.to_path_buf(),
        cause,
    })?;
    load_str(&text, path)
}

/// Parses and validates configuration `text`; `origin` names it in error messages.
pub fn load_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let index = KeyIndex::build(text);
    // Snippets are rendered text we do not use; we format our own messages.
    let options = serde_saphyr::options! { with_snippet: false };
    let mut config: Config =
        serde_saphyr::from_str_with_options(text, options).map_err(|err| parse_error(&err, text, &index, origin))?;
    let v = Validator { index: &index, origin };
    v.validate(&config)?;
    config.service_account.source_position = v.password_source_position(&config.service_account);
    Ok(config)
}

// ---------------------------------------------------------------------------
// Parse errors
// ---------------------------------------------------------------------------

/// Strips serde-saphyr's wrapper variants down to the error that says what happened.
fn innermost(mut err: &serde_saphyr::Error) -> &serde_saphyr::Error {
    loop {
        match err {
            serde_saphyr::Error::WithSnippet { error, .. } | serde_saphyr::Error::AliasError { error, .. } => {
                err = error
            }
            _ => return err,
        }
    }
}

fn parse_error(err: &serde_saphyr::Error, text: &str, index: &KeyIndex, origin: &Path) -> ConfigError {
    use serde_saphyr::Error as E;

    let loc = err.location().filter(|l| l.line() > 0);
    let line = loc.map(|l| l.line());
    let column = loc.map(|l| l.column()).filter(|c| *c > 0);
    let at = Position::new(origin, line, column);
    let path: Vec<String> = line.map(|l| index.path_at(l)).unwrap_or_default();
    let dotted = path.join(".");
    // Never echo values that might be a password.
    let secret = path.last().is_some_and(|k| k.starts_with("password"));
    let prefix = |m: String| {
        if dotted.is_empty() {
            m
        } else {
            format!("{dotted}: {m}")
        }
    };

    let inner = innermost(err);
    let (key_path, message) = match inner {
        E::SerdeUnknownField { field, expected, .. } => {
            // The location is the unknown key itself, so the scanned path usually
            // ends with it; in flow style (`limits: {x: 1}`) it does not.
            let parent = match path.split_last() {
                Some((last, parent)) if last == field => parent,
                _ => &path[..],
            };
            let place = if parent.is_empty() {
                "at top level".to_owned()
            } else {
                format!("in {}", parent.join("."))
            };
            let mut message = format!(
                "unknown key {field:?} {place} (expected one of: {})",
                expected.join(", ")
            );
            if let Some(s) = suggest(field, expected) {
                message.push_str(&format!("; did you mean {s:?}?"));
            }
            let mut full = parent.to_vec();
            full.push(field.clone());
            (full.join("."), message)
        }
        E::DuplicateMappingKey { key, .. } => {
            let what = key
                .as_ref()
                .map(|k| format!("key {k:?}"))
                .unwrap_or_else(|| "a key".to_owned());
            (dotted.clone(), prefix(format!("{what} appears more than once")))
        }
        _ if secret => (
            dotted.clone(),
            prefix("invalid value (not shown, it may be a secret)".to_owned()),
        ),
        E::InvalidScalar { ty, location } => {
            let got = scalar_text(text, location)
                .map(|s| {
                    if s.is_empty() {
                        "an empty value".to_owned()
                    } else {
                        format!("{s:?}")
                    }
                })
                .unwrap_or_else(|| "something else".to_owned());
            (
                dotted.clone(),
                prefix(format!("expected {}, got {got}", describe_type(ty))),
            )
        }
        E::SerdeUnknownVariant { variant, expected, .. } => (
            dotted.clone(),
            prefix(format!(
                "unknown value {variant:?} (expected one of: {})",
                expected.join(", ")
            )),
        ),
        E::SerdeInvalidType {
            unexpected, expected, ..
        }
        | E::SerdeInvalidValue {
            unexpected, expected, ..
        } => (dotted.clone(), prefix(format!("expected {expected}, got {unexpected}"))),
        E::MultipleDocuments { .. } => (
            String::new(),
            "only one YAML document is allowed, found another one here".to_owned(),
        ),
        E::Unexpected { expected, .. } => {
            let expected = match *expected {
                "mapping start" => "a mapping of keys (an indented block or {...})",
                other => other,
            };
            (dotted.clone(), prefix(format!("expected {expected}")))
        }
        other => {
            use serde_saphyr::MessageFormatter;
            let raw = serde_saphyr::UserMessageFormatter.format_message(other);
            (dotted.clone(), prefix(sanitize(&raw)))
        }
    };
    ConfigError::Parse { at, key_path, message }
}

/// The source text of the scalar an error points at, shortened and single-line.
fn scalar_text(text: &str, location: &serde_saphyr::Location) -> Option<String> {
    let span = location.span();
    let from_span = match (span.byte_offset(), span.byte_len()) {
        (Some(off), Some(len)) => {
            let (off, len) = (usize::try_from(off).ok()?, usize::try_from(len).ok()?);
            text.get(off..off.checked_add(len)?).map(str::to_owned)
        }
        _ => None,
    };
    let raw = match from_span {
        Some(s) => s,
        None => {
            // Fall back to "rest of the line from the column, minus a comment".
            let line = text
                .lines()
                .nth(usize::try_from(location.line()).ok()?.checked_sub(1)?)?;
            let col = usize::try_from(location.column()).ok()?.checked_sub(1)?;
            let rest: String = line.chars().skip(col).collect();
            strip_comment(&rest).to_owned()
        }
    };
    let raw = raw.trim();
    let mut out: String = raw.chars().take(60).collect();
    if out.len() < raw.len() {
        out.push_str("...");
    }
    Some(sanitize(&out))
}

fn describe_type(ty: &str) -> String {
    match ty {
        "u8" => format!("a whole number from 0 to {}", u8::MAX),
        "u16" => format!("a whole number from 0 to {}", u16::MAX),
        "u32" => format!("a whole number from 0 to {}", u32::MAX),
        "u64" => "a whole number (0 or more)".to_owned(),
        "bool" | "boolean" => "true or false".to_owned(),
        other => format!("a value of type {other}"),
    }
}

/// Replaces control characters so that a message stays on one line.
fn sanitize(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// The expected name closest to `field`, if it is a plausible typo.
fn suggest<'a>(field: &str, expected: &[&'a str]) -> Option<&'a str> {
    expected
        .iter()
        .map(|e| (edit_distance(field, e), *e))
        .filter(|(d, e)| *d > 0 && *d <= 2.max(e.len() / 5))
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------
// Key index: where is each key in the text?
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyEntry {
    line: u64,
    column: u64,
    path: Vec<String>,
}

/// Positions of block-style mapping keys, found by an indentation-aware scan.
///
/// This is deliberately light: it understands block mappings, sequence dashes,
/// quoted keys, comments, document markers and block scalars (`|`, `>`), which is
/// all a config file needs. Flow collections contribute only the key that opens
/// them. It is used only to put line numbers and key paths into messages.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    entries: Vec<KeyEntry>,
}

impl KeyIndex {
    pub(crate) fn build(text: &str) -> Self {
        let mut entries = Vec::new();
        let mut stack: Vec<(usize, String)> = Vec::new();
        // Indentation of a key whose value is a block scalar still being skipped.
        let mut block_scalar_of: Option<usize> = None;

        for (i, raw) in text.lines().enumerate() {
            let line_no = i as u64 + 1;
            let raw = if i == 0 {
                raw.strip_prefix('\u{feff}').unwrap_or(raw)
            } else {
                raw
            };
            let content = raw.trim_start_matches(' ');
            let mut indent = raw.len() - content.len();
            if let Some(owner) = block_scalar_of {
                if content.trim().is_empty() || indent > owner {
                    continue;
                }
                block_scalar_of = None;
            }
            if content.trim().is_empty() || content.starts_with('#') {
                continue;
            }
            if indent == 0 && (content.starts_with("---") || content.starts_with("...")) {
                stack.clear();
                continue;
            }
            // `- key: value` puts the key at the column after the dash(es).
            let mut content = content;
            while let Some(rest) = content.strip_prefix('-') {
                if !(rest.is_empty() || rest.starts_with(' ')) {
                    break;
                }
                let trimmed = rest.trim_start_matches(' ');
                indent += 1 + (rest.len() - trimmed.len());
                content = trimmed;
            }
            let Some((key, rest)) = split_key(content) else {
                continue;
            };
            while stack.last().is_some_and(|(ind, _)| *ind >= indent) {
                stack.pop();
            }
            stack.push((indent, key));
            entries.push(KeyEntry {
                line: line_no,
                column: indent as u64 + 1,
                path: stack.iter().map(|(_, k)| k.clone()).collect(),
            });
            let value = strip_comment(rest).trim();
            if value.starts_with('|') || value.starts_with('>') {
                block_scalar_of = Some(indent);
            }
        }
        Self { entries }
    }

    /// Key path in effect at `line`: the path of the last key at or before it.
    pub(crate) fn path_at(&self, line: u64) -> Vec<String> {
        self.entries
            .iter()
            .take_while(|e| e.line <= line)
            .last()
            .map(|e| e.path.clone())
            .unwrap_or_default()
    }

    /// Line and column of the first key with exactly this path.
    pub(crate) fn find(&self, path: &[&str]) -> Option<(u64, u64)> {
        self.entries
            .iter()
            .find(|e| e.path.iter().map(String::as_str).eq(path.iter().copied()))
            .map(|e| (e.line, e.column))
    }

    /// Line of `path`, or of its closest present ancestor.
    pub(crate) fn line_of(&self, path: &[&str]) -> Option<u64> {
        (1..=path.len())
            .rev()
            .find_map(|n| self.find(&path[..n]))
            .map(|(line, _)| line)
    }
}

/// Splits `key: rest` (the key may be quoted). `None` if the line holds no key.
fn split_key(content: &str) -> Option<(String, &str)> {
    let (key, after) = match content.chars().next()? {
        '"' => {
            let mut escaped = false;
            let end = content[1..].char_indices().find_map(|(i, c)| {
                let hit = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                hit.then_some(i + 1)
            })?;
            (content[1..end].to_owned(), &content[end + 1..])
        }
        '\'' => {
            let bytes = content.as_bytes();
            let mut i = 1;
            let end = loop {
                match bytes.get(i)? {
                    b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
                    b'\'' => break i,
                    _ => i += 1,
                }
            };
            (content[1..end].replace("''", "'"), &content[end + 1..])
        }
        '{' | '[' | ']' | '}' | ',' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' | '?' => return None,
        _ => {
            let colon = content
                .match_indices(':')
                .map(|(i, _)| i)
                .find(|&i| matches!(content.as_bytes().get(i + 1), None | Some(b' ' | b'\t')))?;
            let key = content[..colon].trim_end();
            if key.contains(" #") || key.contains("\t#") {
                return None;
            }
            (key.to_owned(), &content[colon..])
        }
    };
    let after = after.trim_start_matches([' ', '\t']);
    let rest = after.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some((key, rest))
}

/// `value # comment` -> `value` (a `#` starts a comment only after whitespace).
fn strip_comment(s: &str) -> &str {
    let t = s.trim_start();
    if t.starts_with('#') {
        return "";
    }
    let cut = s
        .char_indices()
        .find(|&(i, c)| c == '#' && i > 0 && s[..i].ends_with([' ', '\t']))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    &s[..cut]
}

// ---------------------------------------------------------------------------
// Semantic validation
// ---------------------------------------------------------------------------

struct Validator<'a> {
    index: &'a KeyIndex,
    origin: &'a Path,
}

/// Unix socket paths must fit `sockaddr_un.sun_path` (108 bytes incl. NUL on Linux).
const MAX_UNIX_SOCKET_PATH: usize = 107;

impl Validator<'_> {
    fn position(&self, key_path: &str) -> Position {
        let parts: Vec<&str> = key_path.split('.').collect();
        Position::new(self.origin, self.index.line_of(&parts), None)
    }

    fn err(&self, key_path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            at: self.position(key_path),
            key_path: key_path.to_owned(),
            message: message.into(),
        }
    }

    fn password_source_position(&self, sa: &ServiceAccount) -> Option<Position> {
        let key = if sa.password_env.is_some() {
            "service_account.password_env"
        } else if sa.password_file.is_some() {
            "service_account.password_file"
        } else if sa.password.is_some() {
            "service_account.password"
        } else {
            return None;
        };
        Some(self.position(key))
    }

    fn validate(&self, c: &Config) -> Result<(), ConfigError> {
        // listen
        if let Some(tcp) = &c.listen.tcp {
            check_host_port(tcp, true, "127.0.0.1:6033").map_err(|m| self.err("listen.tcp", m))?;
        }
        for (key, addr) in [
            ("listen.read_write_tcp", &c.listen.read_write_tcp),
            ("listen.read_only_tcp", &c.listen.read_only_tcp),
        ] {
            if let Some(a) = addr {
                check_host_port(a, true, "127.0.0.1:6446").map_err(|m| self.err(key, m))?;
                if c.group.is_none() {
                    return Err(self.err(key, "a read-write or read-only port needs a group: section"));
                }
            }
        }
        if let Some(p) = &c.listen.unix_socket {
            check_socket_path(p).map_err(|m| self.err("listen.unix_socket", m))?;
        }
        if c.listen.tcp.is_none() && c.listen.unix_socket.is_none() {
            return Err(self.err(
                "listen",
                "no listener configured: set listen.tcp (e.g. \"127.0.0.1:6033\") \
                 and/or listen.unix_socket",
            ));
        }

        // backend
        if let Some(addr) = &c.backend.address {
            check_host_port(addr, false, "127.0.0.1:3306").map_err(|m| self.err("backend.address", m))?;
        }
        if let Some(p) = &c.backend.unix_socket {
            check_socket_path(p).map_err(|m| self.err("backend.unix_socket", m))?;
        }
        if c.backend.address.is_none() {
            return Err(self.err(
                "backend",
                "backend.address is required (e.g. \"127.0.0.1:3306\"): client sessions reach \
                 mysqld over TCP; backend.unix_socket serves only grproxy's own connections",
            ));
        }
        if c.backend.connect_timeout_ms == 0 {
            return Err(self.err("backend.connect_timeout_ms", "must be greater than 0"));
        }

        // group
        if let Some(g) = &c.group {
            if !g.members.contains_key(&g.member_id) {
                return Err(self.err(
                    "group.member_id",
                    format!("member {} is not listed in group.members", g.member_id),
                ));
            }
            for (id, addr) in &g.members {
                check_host_port(addr, false, "127.0.0.1:7001")
                    .map_err(|m| self.err("group.members", format!("member {id}: {m}")))?;
            }
            if g.data_dir.as_os_str().is_empty() {
                return Err(self.err("group.data_dir", "must be set"));
            }
            match &g.tls {
                None => {
                    return Err(self.err(
                        "group.tls",
                        "must be set: peer links use mutual TLS (give tls.ca, tls.cert and tls.key; \
                         `grproxy sandbox up` writes an example)",
                    ))
                }
                Some(t) => {
                    for (key, p) in [("ca", &t.ca), ("cert", &t.cert), ("key", &t.key)] {
                        match p {
                            None => return Err(self.err(&format!("group.tls.{key}"), "must be set")),
                            Some(p) if p.as_os_str().is_empty() => {
                                return Err(self.err(&format!("group.tls.{key}"), "must not be empty"))
                            }
                            Some(_) => {}
                        }
                    }
                }
            }
            if crate::replication::topology::Mode::parse(&g.mode).is_none() {
                return Err(self.err(
                    "group.mode",
                    format!("must be single-primary or multi-primary, got {:?}", g.mode),
                ));
            }
            if crate::frontend::consistency::Consistency::parse(&g.consistency).is_none() {
                return Err(self.err(
                    "group.consistency",
                    format!(
                        "must be EVENTUAL, BEFORE_ON_PRIMARY_FAILOVER, BEFORE, AFTER or BEFORE_AND_AFTER, got {:?}",
                        g.consistency
                    ),
                ));
            }
            if g.weight > 100 {
                return Err(self.err("group.weight", format!("must be 0-100, got {}", g.weight)));
            }
            if g.retention_bytes < 1 << 20 {
                return Err(self.err(
                    "group.retention_bytes",
                    format!("must be at least 1048576 (1 MiB), got {}", g.retention_bytes),
                ));
            }
            if !(1..=64).contains(&g.raft_batches_in_flight) {
                return Err(self.err(
                    "group.raft_batches_in_flight",
                    format!("must be 1-64, got {}", g.raft_batches_in_flight),
                ));
            }
            if g.snapshot_every < super::MIN_SNAPSHOT_EVERY {
                return Err(self.err(
                    "group.snapshot_every",
                    format!(
                        "must be at least {}, got {}",
                        super::MIN_SNAPSHOT_EVERY,
                        g.snapshot_every
                    ),
                ));
            }
        }

        // service_account
        let sa = &c.service_account;
        if sa.user.trim().is_empty() {
            return Err(self.err(
                "service_account.user",
                "must be set to the backend user the proxy logs in as",
            ));
        }
        let sources = sa.password_sources();
        if sources.len() > 1 {
            let key = format!("service_account.{}", sources[1]);
            return Err(self.err(
                &key,
                format!(
                    "only one of password, password_env, password_file may be set (found: {})",
                    sources.join(", ")
                ),
            ));
        }
        if let Some(name) = &sa.password_env {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(self.err(
                    "service_account.password_env",
                    format!("{name:?} is not a valid environment variable name"),
                ));
            }
        }
        if sa.password_file.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(self.err("service_account.password_file", "must not be empty"));
        }

        // tls
        for (key, p) in [("tls.cert", &c.tls.cert), ("tls.key", &c.tls.key)] {
            if p.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(self.err(key, "must not be empty"));
            }
        }
        match (&c.tls.cert, &c.tls.key) {
            (Some(_), None) => {
                return Err(self.err(
                    "tls.cert",
                    "set without tls.key: give both cert and key, or neither \
                     (a self-signed certificate is then generated)",
                ))
            }
            (None, Some(_)) => {
                return Err(self.err(
                    "tls.key",
                    "set without tls.cert: give both cert and key, or neither \
                     (a self-signed certificate is then generated)",
                ))
            }
            _ => {}
        }

        // limits
        let l = &c.limits;
        if l.max_connections == 0 {
            return Err(self.err("limits.max_connections", "must be at least 1, got 0"));
        }
        if !(MIN_MAX_PACKET_SIZE..=MAX_MAX_PACKET_SIZE).contains(&l.max_packet_size) {
            return Err(self.err(
                "limits.max_packet_size",
                format!(
                    "must be between {MIN_MAX_PACKET_SIZE} and {MAX_MAX_PACKET_SIZE}, got {}",
                    l.max_packet_size
                ),
            ));
        }
        if l.handshake_timeout_ms == 0 {
            return Err(self.err("limits.handshake_timeout_ms", "must be greater than 0"));
        }
        if l.max_handshakes == 0 {
            return Err(self.err("limits.max_handshakes", "must be greater than 0"));
        }

        // log
        if c.log.level.trim().is_empty() {
            return Err(self.err("log.level", "must not be empty (e.g. \"info\")"));
        }

        // admin
        if let Some(http) = &c.admin.http {
            check_host_port(http, true, "127.0.0.1:9104").map_err(|m| self.err("admin.http", m))?;
        }
        Ok(())
    }
}

/// Checks `host:port` / `[v6]:port` syntax without resolving anything.
fn check_host_port(s: &str, allow_port_zero: bool, example: &str) -> Result<(), String> {
    let bad = |why: &str| format!("{why}; expected host:port such as {example:?}, got {s:?}");
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("missing ']' after IPv6 address"))?;
        host.parse::<Ipv6Addr>()
            .map_err(|_| bad("not a valid IPv6 address inside [...]"))?;
        let port = after.strip_prefix(':').ok_or_else(|| bad("missing :port after ']'"))?;
        (host, port)
    } else {
        let (host, port) = s.rsplit_once(':').ok_or_else(|| bad("missing :port"))?;
        if host.contains(':') {
            return Err(bad("IPv6 addresses must be in brackets, e.g. [::1]:6033"));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(bad("invalid character in host"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    let port: u16 = port.parse().map_err(|_| bad("port must be a number from 0 to 65535"))?;
    if port == 0 && !allow_port_zero {
        return Err(bad("port must be from 1 to 65535"));
    }
    Ok(())
}

fn check_socket_path(p: &Path) -> Result<(), String> {
    let len = p.as_os_str().len();
    if len == 0 {
        return Err("must not be empty".to_owned());
    }
    if len > MAX_UNIX_SOCKET_PATH {
        return Err(format!(
            "path is {len} bytes; unix socket paths are limited to {MAX_UNIX_SOCKET_PATH} bytes"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod scan_tests;
