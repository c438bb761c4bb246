//! `GRPROXY ...` statements: group administration through any member, for accounts with the
//! SUPER privilege (mysqld checks it for the client's own account).
//!
//! - `GRPROXY ADD MEMBER <id> AT '<host:port>'`: the member, already running with that id
//!   and a certificate of the group CA, joins (it becomes a voter once its log caught up).
//! - `GRPROXY REMOVE MEMBER <id>`
//! - `GRPROXY REBUILD [FROM <id>]`: this member's mysqld is replaced by a copy of a donor's
//!   (state transfer), then catches up from the log.
//! - `GRPROXY SET PRIMARY <id>`: planned switchover in single-primary mode; returns once the
//!   new primary has applied everything the old one committed.
//! - `GRPROXY SET MODE SINGLE-PRIMARY [WITH PRIMARY <id>]`, `GRPROXY SET MODE MULTI-PRIMARY`:
//!   online mode change.
//!
//! The answer is a one-row result set (`result`) saying what was done.

use super::errors::ClientError;
use super::session::{Session, SessionEnd};
use super::status::literal;
use crate::consensus::MemberChange;
use crate::protocol::command::COM_QUERY;
use crate::protocol::response::Expect;
use crate::sql::lexer::{tokenize_with, TokenKind};

/// A parsed `GRPROXY` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    Change(MemberChange),
    Rebuild {
        from: Option<u64>,
    },
    SetPrimary(u64),
    SetMode {
        mode: crate::replication::topology::Mode,
        primary: Option<u64>,
    },
}

const SYNTAX: &str = "expected GRPROXY ADD MEMBER <id> AT '<host:port>', GRPROXY REMOVE MEMBER <id>, \
                      GRPROXY REBUILD [FROM <id>], GRPROXY SET PRIMARY <id>, \
                      GRPROXY SET MODE SINGLE-PRIMARY [WITH PRIMARY <id>] or GRPROXY SET MODE MULTI-PRIMARY";

/// Parses the statement (comments and a final `;` allowed).
pub fn parse(text: &[u8], lex: crate::sql::LexOptions) -> Result<AdminCommand, String> {
    let toks: Vec<_> = tokenize_with(text, lex)
        .tokens
        .into_iter()
        .filter(|t| !(t.kind == TokenKind::Punct && t.text(text) == b";"))
        .collect();
    let word = |i: usize| {
        toks.get(i)
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| t.text(text).to_ascii_uppercase())
    };
    let id = |i: usize| -> Result<u64, String> {
        toks.get(i)
            .filter(|t| t.kind == TokenKind::Number)
            .and_then(|t| std::str::from_utf8(t.text(text)).ok()?.parse::<u64>().ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| "a member id is a positive integer".to_string())
    };
    let string = |i: usize| -> Option<String> {
        let t = toks.get(i).filter(|t| t.kind == TokenKind::String)?;
        let raw = t.text(text);
        let inner = raw.strip_prefix(b"'").and_then(|r| r.strip_suffix(b"'"))?;
        let s = std::str::from_utf8(inner).ok()?;
        (!s.contains(['\'', '\\'])).then(|| s.to_string())
    };
    if word(0).as_deref() != Some(b"GRPROXY".as_slice()) {
        return Err(SYNTAX.into());
    }
    let words: Vec<Option<Vec<u8>>> = (1..3).map(word).collect();
    let kw = |w: &Option<Vec<u8>>, k: &str| w.as_deref() == Some(k.as_bytes());
    match (toks.len(), &words[..]) {
        (6, [a, m]) if kw(a, "ADD") && kw(m, "MEMBER") && word(4).as_deref() == Some(b"AT".as_slice()) => {
            let id = id(3)?;
            let addr = string(5).ok_or("the address is a quoted 'host:port'")?;
            let port_ok = addr
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !port_ok {
                return Err(format!("'{addr}' is not a host:port address"));
            }
            Ok(AdminCommand::Change(MemberChange::Add { id, addr }))
        }
        (4, [r, m]) if kw(r, "REMOVE") && kw(m, "MEMBER") => {
            Ok(AdminCommand::Change(MemberChange::Remove { id: id(3)? }))
        }
        (4, [s, p]) if kw(s, "SET") && kw(p, "PRIMARY") => Ok(AdminCommand::SetPrimary(id(3)?)),
        (n, [s, m]) if kw(s, "SET") && kw(m, "MODE") && n >= 4 => {
            // SINGLE-PRIMARY lexes as three tokens; SINGLE_PRIMARY as one.
            let mut end = 3;
            let mut name = String::new();
            while let Some(t) = toks.get(end) {
                if word(end).as_deref() == Some(b"WITH".as_slice()) {
                    break;
                }
                name.push_str(&String::from_utf8_lossy(t.text(text)));
                end += 1;
            }
            let mode = crate::replication::topology::Mode::parse(&name).ok_or_else(|| SYNTAX.to_string())?;
            let primary = match n - end {
                0 => None,
                3 if word(end + 1).as_deref() == Some(b"PRIMARY".as_slice())
                    && mode == crate::replication::topology::Mode::SinglePrimary =>
                {
                    Some(id(end + 2)?)
                }
                _ => return Err(SYNTAX.into()),
            };
            Ok(AdminCommand::SetMode { mode, primary })
        }
        (2, [r, _]) if kw(r, "REBUILD") => Ok(AdminCommand::Rebuild { from: None }),
        (4, [r, f]) if kw(r, "REBUILD") && kw(f, "FROM") => Ok(AdminCommand::Rebuild { from: Some(id(3)?) }),
        _ => Err(SYNTAX.into()),
    }
}

/// How long a switchover waits for the new primary to apply the log up to the change.
const SWITCH_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

impl Session {
    pub(crate) async fn proxy_command(&mut self, text: &[u8]) -> Result<(), SessionEnd> {
        let cmd = match parse(text, self.lex_options()) {
            Ok(c) => c,
            Err(why) => return self.reply_error(ClientError::Internal(1064, why)).await.map(drop),
        };
        if !self.require_privilege("SUPER").await? {
            return Ok(());
        }
        let Some(group) = self.context().group.clone() else {
            return self
                .reply_error(ClientError::NotSupported("GRPROXY commands on a proxy without a group"))
                .await
                .map(drop);
        };
        let outcome = match cmd {
            AdminCommand::Change(change) => {
                tracing::info!(%change, "membership change requested by a client");
                group.change_members(change).await.map_err(|e| e.to_string())
            }
            AdminCommand::Rebuild { from } => group.rebuild(from).await,
            AdminCommand::SetPrimary(id) => {
                tracing::info!(primary = id, "switchover requested by a client");
                group.switch_primary(id, SWITCH_WAIT).await
            }
            AdminCommand::SetMode { mode, primary } => {
                tracing::info!(mode = mode.name(), ?primary, "mode change requested by a client");
                group.set_mode(mode, primary, SWITCH_WAIT).await
            }
        };
        match outcome {
            Ok(done) => {
                let mut payload = vec![COM_QUERY];
                payload.extend_from_slice(format!("SELECT {} AS result", literal(&done)).as_bytes());
                self.forward_payload(&payload, Expect::QueryResult).await.map(drop)
            }
            Err(why) => self.reply_error(ClientError::Internal(3092, why)).await.map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_or_say_what_is_expected() {
        let lex = crate::sql::LexOptions::default();
        let add = |id, addr: &str| Ok(AdminCommand::Change(MemberChange::Add { id, addr: addr.into() }));
        let cases: Vec<(&str, Result<AdminCommand, ()>)> = vec![
            ("GRPROXY ADD MEMBER 4 AT '127.0.0.1:7004'", add(4, "127.0.0.1:7004")),
            (
                "grproxy add member 12 at 'db-4.internal:7000';",
                add(12, "db-4.internal:7000"),
            ),
            (
                "GRPROXY /* c */ REMOVE MEMBER 2",
                Ok(AdminCommand::Change(MemberChange::Remove { id: 2 })),
            ),
            ("GRPROXY REBUILD", Ok(AdminCommand::Rebuild { from: None })),
            ("GRPROXY REBUILD FROM 3", Ok(AdminCommand::Rebuild { from: Some(3) })),
            ("GRPROXY ADD MEMBER 0 AT '127.0.0.1:1'", Err(())),
            ("GRPROXY ADD MEMBER 4 AT '127.0.0.1'", Err(())),
            ("GRPROXY ADD MEMBER 4 AT '127.0.0.1:0'", Err(())),
            ("GRPROXY ADD MEMBER 4 '127.0.0.1:7004'", Err(())),
            ("GRPROXY ADD MEMBER x AT '127.0.0.1:7004'", Err(())),
            ("GRPROXY REMOVE MEMBER", Err(())),
            ("GRPROXY REMOVE MEMBER 2 3", Err(())),
            ("GRPROXY SET PRIMARY 2", Ok(AdminCommand::SetPrimary(2))),
            ("GRPROXY SET PRIMARY", Err(())),
            (
                "GRPROXY SET MODE SINGLE-PRIMARY",
                Ok(AdminCommand::SetMode {
                    mode: crate::replication::topology::Mode::SinglePrimary,
                    primary: None,
                }),
            ),
            (
                "grproxy set mode single_primary with primary 3;",
                Ok(AdminCommand::SetMode {
                    mode: crate::replication::topology::Mode::SinglePrimary,
                    primary: Some(3),
                }),
            ),
            (
                "GRPROXY SET MODE MULTI-PRIMARY",
                Ok(AdminCommand::SetMode {
                    mode: crate::replication::topology::Mode::MultiPrimary,
                    primary: None,
                }),
            ),
            ("GRPROXY SET MODE MULTI-PRIMARY WITH PRIMARY 3", Err(())),
            ("GRPROXY SET MODE TRI-PRIMARY", Err(())),
            ("GRPROXY SET MODE SINGLE-PRIMARY WITH 3", Err(())),
            ("GRPROXY DROP", Err(())),
            ("GRPROXY", Err(())),
        ];
        for (sql, want) in cases {
            let got = parse(sql.as_bytes(), lex);
            match want {
                Ok(w) => assert_eq!(got, Ok(w), "{sql}"),
                Err(()) => assert!(got.is_err(), "{sql}: {got:?}"),
            }
        }
    }
}
