//! Consistency levels per session, with MySQL Group Replication's names and variable:
//! `SET [SESSION] group_replication_consistency = 'BEFORE'` (or `grproxy_consistency`) is
//! answered by the proxy, which then, for the session's transactions:
//!
//! | level | before a transaction's first statement | after a write commits |
//! |---|---|---|
//! | `EVENTUAL` (default) | nothing | nothing |
//! | `BEFORE_ON_PRIMARY_FAILOVER` | on a newly elected primary: waits until it applied the log through its election (single-primary mode) | nothing |
//! | `BEFORE` | waits until this member applied the group's commit index (a leader-confirmed read index) | nothing |
//! | `AFTER` | nothing | waits until every ONLINE member applied it |
//! | `BEFORE_AND_AFTER` | both | both |
//!
//! A member's sessions start at `group.consistency` (default `EVENTUAL`). On a single-primary
//! secondary a session also reads its own writes: its first local read after a statement
//! that ran on the primary waits as `BEFORE` does (`split_session.rs`).
//!
//! A wait longer than [`WAIT`] gives the client error 1969 (SQLSTATE 70100); after a commit
//! its message says the commit stands (COMMITTED) and which member has not applied it.

use std::time::Duration;

use super::errors::ClientError;
use super::session::{Session, SessionEnd};
use crate::sql::lexer::{tokenize_with, TokenKind};
use crate::sql::LexOptions;

/// How long a consistency wait may take.
pub const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    #[default]
    Eventual,
    BeforeOnPrimaryFailover,
    Before,
    After,
    BeforeAndAfter,
}

impl Consistency {
    pub fn parse(s: &str) -> Option<Consistency> {
        Some(match s.to_ascii_uppercase().as_str() {
            "EVENTUAL" | "0" => Consistency::Eventual,
            "BEFORE_ON_PRIMARY_FAILOVER" | "1" => Consistency::BeforeOnPrimaryFailover,
            "BEFORE" | "2" => Consistency::Before,
            "AFTER" | "3" => Consistency::After,
            "BEFORE_AND_AFTER" | "4" => Consistency::BeforeAndAfter,
            _ => return None,
        })
    }

    pub fn before(self) -> bool {
        matches!(self, Consistency::Before | Consistency::BeforeAndAfter)
    }

    pub fn after(self) -> bool {
        matches!(self, Consistency::After | Consistency::BeforeAndAfter)
    }
}

const VARIABLES: [&str; 2] = ["group_replication_consistency", "grproxy_consistency"];

/// For `SET [SESSION|@@SESSION.|@@]<consistency variable> = <value>` alone: the level, or why
/// it cannot be set. `None` for any other statement.
pub fn parse_set(text: &[u8], lex: LexOptions) -> Option<Result<Consistency, String>> {
    let toks: Vec<_> = tokenize_with(text, lex)
        .tokens
        .into_iter()
        .filter(|t| !t.is_punct(text, ";"))
        .collect();
    let first = toks.first()?;
    if !first.is_kw(text, "SET") {
        return None;
    }
    let names_variable = |i: usize| {
        toks.get(i).is_some_and(|t| {
            let w = String::from_utf8_lossy(t.text(text)).to_ascii_lowercase();
            let w = w.trim_start_matches("@@");
            let w = w.strip_prefix("session.").unwrap_or(w);
            VARIABLES.contains(&w)
        })
    };
    let mentioned = (0..toks.len()).any(names_variable);
    if !mentioned {
        return None;
    }
    let mut i = 1;
    if toks
        .get(i)
        .is_some_and(|t| t.is_kw(text, "SESSION") || t.is_kw(text, "LOCAL"))
    {
        i += 1;
    }
    if toks
        .get(i)
        .is_some_and(|t| t.is_kw(text, "GLOBAL") || t.is_kw(text, "PERSIST"))
    {
        return Some(Err(
            "the consistency level is per session here; a member's default is group.consistency in its configuration"
                .into(),
        ));
    }
    let well_formed = names_variable(i)
        && toks
            .get(i + 1)
            .is_some_and(|t| t.is_punct(text, "=") || t.is_punct(text, ":="))
        && toks.len() == i + 3;
    if !well_formed {
        return Some(Err(format!(
            "set {} in a statement of its own: SET group_replication_consistency = 'BEFORE'",
            VARIABLES[0]
        )));
    }
    let v = &toks[i + 2];
    let value = match v.kind {
        TokenKind::String => {
            let raw = v.text(text);
            String::from_utf8_lossy(&raw[1..raw.len().saturating_sub(1)]).into_owned()
        }
        _ => String::from_utf8_lossy(v.text(text)).into_owned(),
    };
    Some(Consistency::parse(&value).ok_or_else(|| {
        format!(
            "Variable '{}' can't be set to the value of '{value}' (EVENTUAL, BEFORE_ON_PRIMARY_FAILOVER, BEFORE, AFTER, BEFORE_AND_AFTER)",
            VARIABLES[0]
        )
    }))
}

impl Session {
    /// Answers a `SET` of the consistency variable (see [`parse_set`]) itself.
    pub(crate) async fn set_consistency(&mut self, r: Result<Consistency, String>) -> Result<(), SessionEnd> {
        match r {
            Ok(level) => {
                self.consistency = level;
                let payload = crate::protocol::err_packet::ok_payload(0, self.status, 0);
                self.client_mut()
                    .send(1, &payload)
                    .await
                    .map_err(|e| SessionEnd::Client(e.into()))
            }
            Err(why) => self.reply_error(ClientError::CannotReplicate(why)).await,
        }
    }

    /// BEFORE: the group's commit index, confirmed by the leader, applied here first.
    pub(crate) async fn consistency_before(&mut self) -> Result<Option<ClientError>, SessionEnd> {
        let group = self.group().clone();
        let index = match tokio::time::timeout(WAIT, group.read_index()).await {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => {
                return Ok(Some(ClientError::ConsistencyTimeout(format!(
                    "reading the group's commit index: {e}"
                ))))
            }
            Err(_) => {
                return Ok(Some(ClientError::ConsistencyTimeout(
                    "reading the group's commit index".into(),
                )))
            }
        };
        if !group.wait_applied(index, WAIT).await {
            return Ok(Some(ClientError::ConsistencyTimeout(format!(
                "this member did not apply the group's commit index {index} within {WAIT:?}"
            ))));
        }
        Ok(None)
    }

    /// AFTER: the commit at `index` applied on every ONLINE member.
    pub(crate) async fn consistency_after(&mut self, index: u64) -> Option<ClientError> {
        let group = self.group().clone();
        match group.wait_applied_everywhere(index, WAIT).await {
            Ok(()) => None,
            Err(why) => Some(ClientError::CommittedNotEverywhere(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_statements() {
        let p = |s: &str| parse_set(s.as_bytes(), LexOptions::default());
        let ok = |s: &str| p(s).unwrap().unwrap();
        assert_eq!(ok("SET group_replication_consistency = 'BEFORE'"), Consistency::Before);
        assert_eq!(
            ok("set session group_replication_consistency='after';"),
            Consistency::After
        );
        assert_eq!(
            ok("SET @@SESSION.group_replication_consistency = BEFORE_AND_AFTER"),
            Consistency::BeforeAndAfter
        );
        assert_eq!(ok("SET @@grproxy_consistency := 'EVENTUAL'"), Consistency::Eventual);
        assert_eq!(ok("SET grproxy_consistency = 2"), Consistency::Before);
        assert!(p("SET autocommit = 1").is_none());
        assert!(p("SELECT 'group_replication_consistency'").is_none());
        assert!(p("SET group_replication_consistency = 'SOMETIMES'").unwrap().is_err());
        assert!(p("SET GLOBAL group_replication_consistency = 'BEFORE'")
            .unwrap()
            .is_err());
        assert!(p("SET group_replication_consistency = 'BEFORE', autocommit = 0")
            .unwrap()
            .is_err());
    }

    #[test]
    fn levels() {
        assert!(Consistency::Before.before() && !Consistency::Before.after());
        assert!(Consistency::After.after() && !Consistency::After.before());
        assert!(Consistency::BeforeAndAfter.before() && Consistency::BeforeAndAfter.after());
        assert!(!Consistency::BeforeOnPrimaryFailover.before() && !Consistency::Eventual.after());
    }
}
