//! Read-write splitting on a single-primary secondary: where each client command runs. A
//! pure decision over the route and the classified statements; the session carries it out
//! (`split_session.rs`).
//!
//! | command | place |
//! |---|---|
//! | anything while the session is pinned, or while its transaction is open on the primary | primary |
//! | anything while a (read-only) transaction is open here | here |
//! | writes, DDL, accounts, `BEGIN`, `CALL`, reads that may write, locking reads | primary |
//! | `ROW_COUNT()`, `FOUND_ROWS()`, `SHOW WARNINGS`, `GET DIAGNOSTICS` ... right after a statement on the primary | primary |
//! | `LAST_INSERT_ID()`, `@@identity` once the session wrote on the primary (the id lasts until the next insert there) | primary |
//! | other reads, `SHOW`, `START TRANSACTION READ ONLY` | here |
//! | `SET` of session variables, `SET NAMES`, `USE`, `SET autocommit=1` | here and on the primary (its leg, now or when it opens) |
//! | user variables, SQL `PREPARE`/`EXECUTE`, `SET autocommit=0`, temporary tables, `LOCK TABLES`, named locks, binary-protocol prepared statements | primary, and the session stays there (pinned) |
//!
//! Pinning is how state that exists on one server only stays correct (ProxySQL disables
//! multiplexing the same way): from that statement on, the session runs wholly on the
//! primary.

use super::route::Route;
use crate::sql::lexer::{tokenize_with, TokenKind};
use crate::sql::{Classified, Detail, LexOptions};

/// Which port a session came in on (group members; MySQL Router's model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortRole {
    /// The ordinary port: statements are split.
    #[default]
    Any,
    /// `listen.read_write_tcp`: the session runs wholly on the primary.
    ReadWrite,
    /// `listen.read_only_tcp`: reads run here; writes are refused (1290).
    ReadOnly,
}

/// Where a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// On this member's mysqld.
    Local,
    /// On the primary, through the session's leg.
    Primary,
    /// Here (the client gets this answer), and on the primary's leg too: session state both
    /// must share.
    Both,
}

/// The decision for one command: where, and whether the session is pinned to the primary
/// from now on (with the reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub place: Place,
    pub pin: Option<&'static str>,
}

impl Decision {
    fn at(place: Place) -> Self {
        Decision { place, pin: None }
    }

    fn pin(why: &'static str) -> Self {
        Decision {
            place: Place::Primary,
            pin: Some(why),
        }
    }
}

/// What the session knows when it decides.
#[derive(Debug, Clone, Copy, Default)]
pub struct SplitView {
    pub pinned: bool,
    /// A transaction is open on the primary's leg.
    pub remote_in_trans: bool,
    /// A transaction is open on this member's mysqld.
    pub local_in_trans: bool,
    /// The session's last statement ran on the primary (its diagnostics are there).
    pub last_remote: bool,
    /// The session has written on the primary: its `LAST_INSERT_ID()` is there.
    pub wrote_remote: bool,
}

/// Where the command made of `texts` (with their classes and route) runs.
pub fn place(route: &Route, texts: &[&[u8]], classes: &[Classified], v: SplitView, lex: LexOptions) -> Decision {
    if v.pinned || v.remote_in_trans {
        return Decision::at(Place::Primary);
    }
    if v.local_in_trans || matches!(route, Route::Refuse(_)) {
        return Decision::at(Place::Local);
    }
    let words = |t: &[u8]| {
        let lexed = tokenize_with(t, lex);
        lexed
            .tokens
            .iter()
            .map(|tok| (tok.kind, tok.text(t).to_ascii_uppercase()))
            .collect::<Vec<_>>()
    };
    let mut diagnostics = false;
    let mut last_id = false;
    for (text, class) in texts.iter().zip(classes) {
        match &class.detail {
            Detail::Prepare | Detail::Execute | Detail::Deallocate => return Decision::pin("SQL prepared statements"),
            Detail::SetAutocommit(Some(false)) => return Decision::pin("autocommit=0"),
            Detail::CreateTable { temporary: true } => return Decision::pin("temporary tables"),
            Detail::Lock => return Decision::pin("LOCK TABLES"),
            Detail::Handler => return Decision::pin("HANDLER"),
            _ => {}
        }
        // Account names (`'u'@'%'`, DEFINER clauses) lex like user variables; DDL runs on
        // the primary anyway.
        let account_names = matches!(route, Route::Ddl);
        for (kind, w) in words(text) {
            match kind {
                TokenKind::Variable if !w.starts_with(b"@@") && !account_names => {
                    return Decision::pin("user variables")
                }
                TokenKind::Variable => {
                    if w.ends_with(b"WARNING_COUNT") || w.ends_with(b"ERROR_COUNT") {
                        diagnostics = true;
                    }
                    if w.ends_with(b"IDENTITY") || w.ends_with(b"LAST_INSERT_ID") {
                        last_id = true;
                    }
                }
                TokenKind::Word => match &w[..] {
                    b"GET_LOCK" | b"RELEASE_LOCK" | b"RELEASE_ALL_LOCKS" | b"IS_USED_LOCK" | b"IS_FREE_LOCK" => {
                        return Decision::pin("named locks")
                    }
                    b"ROW_COUNT" | b"FOUND_ROWS" | b"WARNINGS" | b"ERRORS" | b"DIAGNOSTICS" => diagnostics = true,
                    b"LAST_INSERT_ID" => last_id = true,
                    _ => {}
                },
                _ => {}
            }
        }
    }
    match route {
        Route::Write | Route::Ddl | Route::Begin => Decision::at(Place::Primary),
        Route::CommitFirst => match classes.first().map(|c| &c.detail) {
            Some(Detail::SetAutocommit(_)) => Decision::at(Place::Both),
            // START TRANSACTION READ ONLY, and statements that commit implicitly but write
            // nothing replicated (ANALYZE, FLUSH ...): here.
            _ => Decision::at(Place::Local),
        },
        Route::Read => {
            let locking = classes.iter().any(|c| {
                matches!(
                    c.detail,
                    Detail::Select { locking: true, .. } | Detail::With { locking: true, .. }
                )
            });
            if locking || (diagnostics && v.last_remote) || (last_id && (v.last_remote || v.wrote_remote)) {
                Decision::at(Place::Primary)
            } else {
                Decision::at(Place::Local)
            }
        }
        Route::Forward => {
            let state = classes.iter().all(|c| {
                matches!(
                    c.detail,
                    Detail::SetVariables { .. }
                        | Detail::SetNames
                        | Detail::SetTransaction { .. }
                        | Detail::Use { .. }
                        | Detail::SetRole
                )
            });
            if state && !classes.is_empty() {
                Decision::at(Place::Both)
            } else if (diagnostics && v.last_remote) || (last_id && (v.last_remote || v.wrote_remote)) {
                Decision::at(Place::Primary)
            } else {
                Decision::at(Place::Local)
            }
        }
        Route::Commit { .. } | Route::Rollback { .. } | Route::Refuse(_) => Decision::at(Place::Local),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::route::route;

    fn decide(sql: &str, v: SplitView) -> Decision {
        let text = sql.as_bytes();
        let ranges = crate::sql::split_statements_bytes(text);
        let parts: Vec<&[u8]> = ranges.iter().map(|r| &text[r.clone()]).collect();
        let classes: Vec<Classified> = parts.iter().map(|p| crate::sql::classify_bytes(p)).collect();
        place(&route(&parts, &classes), &parts, &classes, v, LexOptions::default())
    }

    #[test]
    fn statements_go_where_they_must() {
        use Place::*;
        let fresh = SplitView::default();
        let after_remote = SplitView {
            last_remote: true,
            ..fresh
        };
        let wrote_remote = SplitView {
            wrote_remote: true,
            ..fresh
        };
        let cases: &[(&str, SplitView, Place, Option<&str>)] = &[
            ("SELECT * FROM t", fresh, Local, None),
            ("SELECT 1; SELECT 2", fresh, Local, None),
            ("SHOW TABLES", fresh, Local, None),
            ("INSERT INTO t VALUES (1)", fresh, Primary, None),
            ("UPDATE t SET a = 1", fresh, Primary, None),
            ("DELETE FROM t", fresh, Primary, None),
            ("REPLACE INTO t VALUES (1)", fresh, Primary, None),
            ("CALL p()", fresh, Primary, None),
            ("CREATE TABLE t (a INT PRIMARY KEY)", fresh, Primary, None),
            ("GRANT SELECT ON *.* TO 'u'@'%'", fresh, Primary, None),
            ("BEGIN", fresh, Primary, None),
            ("START TRANSACTION", fresh, Primary, None),
            ("START TRANSACTION READ ONLY", fresh, Local, None),
            ("SELECT * FROM t FOR UPDATE", fresh, Primary, None),
            ("SELECT * FROM t LOCK IN SHARE MODE", fresh, Primary, None),
            ("SELECT LAST_INSERT_ID()", fresh, Local, None),
            ("SELECT LAST_INSERT_ID()", after_remote, Primary, None),
            ("SELECT ROW_COUNT()", after_remote, Primary, None),
            // LAST_INSERT_ID() lasts: a local read in between does not move it here.
            ("SELECT LAST_INSERT_ID()", wrote_remote, Primary, None),
            ("SELECT @@identity, @@last_insert_id", wrote_remote, Primary, None),
            ("SELECT ROW_COUNT()", wrote_remote, Local, None),
            ("SELECT * FROM t", wrote_remote, Local, None),
            ("SHOW WARNINGS", after_remote, Primary, None),
            ("SELECT @@warning_count", after_remote, Primary, None),
            ("SHOW WARNINGS", fresh, Local, None),
            ("SELECT * FROM t", after_remote, Local, None),
            ("SET sql_mode = ''", fresh, Both, None),
            ("SET NAMES utf8mb4", fresh, Both, None),
            ("USE test", fresh, Both, None),
            ("SET autocommit = 1", fresh, Both, None),
            (
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                fresh,
                Both,
                None,
            ),
            ("SET autocommit = 0", fresh, Primary, Some("autocommit=0")),
            ("SET @a = 1", fresh, Primary, Some("user variables")),
            ("SELECT @a", fresh, Primary, Some("user variables")),
            ("SELECT a INTO @x FROM t", fresh, Primary, Some("user variables")),
            (
                "PREPARE s FROM 'SELECT 1'",
                fresh,
                Primary,
                Some("SQL prepared statements"),
            ),
            (
                "CREATE TEMPORARY TABLE tt (a INT)",
                fresh,
                Primary,
                Some("temporary tables"),
            ),
            ("LOCK TABLES t WRITE", fresh, Primary, Some("LOCK TABLES")),
            ("SELECT GET_LOCK('x', 1)", fresh, Primary, Some("named locks")),
            ("COMMIT", fresh, Local, None),
            ("ROLLBACK", fresh, Local, None),
        ];
        for (sql, v, place, pin) in cases {
            let d = decide(sql, *v);
            assert_eq!((d.place, d.pin), (*place, *pin), "{sql} with {v:?}");
        }
    }

    #[test]
    fn open_transactions_and_pins_hold_the_session() {
        let pinned = SplitView {
            pinned: true,
            ..Default::default()
        };
        let remote = SplitView {
            remote_in_trans: true,
            ..Default::default()
        };
        let local = SplitView {
            local_in_trans: true,
            ..Default::default()
        };
        for sql in ["SELECT 1", "SHOW TABLES", "COMMIT", "INSERT INTO t VALUES (1)"] {
            assert_eq!(decide(sql, pinned).place, Place::Primary, "{sql}");
            assert_eq!(decide(sql, remote).place, Place::Primary, "{sql}");
            assert_eq!(decide(sql, local).place, Place::Local, "{sql}");
        }
    }
}
