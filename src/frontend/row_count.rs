//! `ROW_COUNT()` after an autocommit write on a group member.
//!
//! An autocommit write runs as an XA transaction that grproxy ends after the client's
//! statement (`XA END`, `XA PREPARE`, `XA COMMIT` on the same connection: mysqld allows no
//! other), and each of those sets mysqld's `ROW_COUNT()` to 0. Warnings, `@@warning_count`
//! and `LAST_INSERT_ID()` survive them; `ROW_COUNT()` does not. So the session remembers the
//! write's own row count, and when the client's very next statement calls `ROW_COUNT()`
//! (a `SELECT`, `SET @v = ROW_COUNT()`, an `INSERT ... VALUES (ROW_COUNT())`, a `CALL`'s
//! argument), those calls are replaced by the number, byte-exact otherwise (a `SELECT`
//! column keeps its name `ROW_COUNT()` unless the client gave one). Definitions (`CREATE`,
//! `ALTER`) are left alone: a routine body's `ROW_COUNT()` is evaluated when it runs. A
//! routine called afterwards that reads `ROW_COUNT()` itself sees 0 (docs/replication.md).

use crate::sql::lexer::{tokenize_with, TokenKind};
use crate::sql::LexOptions;

/// `text` with every `ROW_COUNT()` call replaced by `value`, if it has one and is not a
/// definition.
pub fn splice(text: &[u8], value: i64, lex: LexOptions) -> Option<Vec<u8>> {
    let toks = tokenize_with(text, lex).tokens;
    let first = toks.iter().find(|t| t.kind == TokenKind::Word)?;
    if ["CREATE", "ALTER"].iter().any(|k| first.is_kw(text, k)) {
        return None;
    }
    let select = first.is_kw(text, "SELECT");
    let mut out = Vec::with_capacity(text.len() + 32);
    let mut copied = 0;
    let mut i = 0;
    let mut found = false;
    while i < toks.len() {
        let call = toks[i].is_kw(text, "ROW_COUNT")
            && toks.get(i + 1).is_some_and(|t| t.is_punct(text, "("))
            && toks.get(i + 2).is_some_and(|t| t.is_punct(text, ")"));
        if !call {
            i += 1;
            continue;
        }
        found = true;
        let after = toks.get(i + 3);
        let aliased = after.is_some_and(|t| {
            t.is_kw(text, "AS")
                || matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent | TokenKind::String)
                    && !t.is_kw(text, "FROM")
                    && !t.is_kw(text, "INTO")
                    && !t.is_kw(text, "WHERE")
        });
        // Only in a select list item of its own does the column take the call's name.
        let alone = select
            && !aliased
            && after.is_none_or(|t| t.is_punct(text, ",") || t.is_punct(text, ";") || t.is_kw(text, "FROM"))
            && i > 0
            && (toks[i - 1].is_punct(text, ",") || toks[i - 1].is_kw(text, "SELECT"));
        out.extend_from_slice(&text[copied..toks[i].start]);
        if alone {
            out.extend_from_slice(format!("{value} AS `ROW_COUNT()`").as_bytes());
        } else {
            out.extend_from_slice(value.to_string().as_bytes());
        }
        copied = toks[i + 2].end;
        i += 3;
    }
    if !found {
        return None;
    }
    out.extend_from_slice(&text[copied..]);
    Some(out)
}

/// The user variables a `GET [CURRENT] DIAGNOSTICS @v = ROW_COUNT, ...` assigns
/// `ROW_COUNT` to (as written, e.g. `@rc`); empty for any other statement.
pub fn diagnostics_targets(text: &[u8], lex: LexOptions) -> Vec<String> {
    let toks = tokenize_with(text, lex).tokens;
    let words: Vec<_> = toks.iter().filter(|t| t.kind == TokenKind::Word).take(3).collect();
    let is_get = words.first().is_some_and(|t| t.is_kw(text, "GET"))
        && words.iter().skip(1).any(|t| t.is_kw(text, "DIAGNOSTICS"));
    if !is_get {
        return Vec::new();
    }
    toks.windows(3)
        .filter(|w| w[0].kind == TokenKind::Variable && w[1].is_punct(text, "=") && w[2].is_kw(text, "ROW_COUNT"))
        .map(|w| String::from_utf8_lossy(w[0].text(text)).into_owned())
        .filter(|v| !v.starts_with("@@"))
        .collect()
}

/// Whether a COM_STMT_EXECUTE payload of a statement with `params` parameters carries their
/// types (new-params-bound flag 1), so it can run under another statement id: without them
/// mysqld would take the types bound to that id before.
pub fn execute_sends_types(payload: &[u8], params: u16) -> bool {
    if params == 0 {
        return true;
    }
    // command, statement id (4), flags, iteration count (4), null bitmap, flag.
    let flag_at = 10 + (params as usize).div_ceil(8);
    payload.get(flag_at) == Some(&1)
}

/// A COM_STMT_EXECUTE payload with its statement id replaced by `id`.
pub fn with_statement_id(payload: &[u8], id: u32) -> Vec<u8> {
    let mut out = payload.to_vec();
    if out.len() >= 5 {
        out[1..5].copy_from_slice(&id.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn execute_packets() {
        // COM_STMT_EXECUTE id 7, no cursor, iteration 1, 2 params: null bitmap, flag, types.
        let with_types = [0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 0, 3, 0];
        let without = [0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
        assert!(execute_sends_types(&with_types, 2));
        assert!(!execute_sends_types(&without, 2));
        assert!(execute_sends_types(&without[..10], 0));
        assert!(!execute_sends_types(&without[..10], 9));
        assert_eq!(
            &with_statement_id(&with_types, 0x0102_0304)[..6],
            &[0x17, 4, 3, 2, 1, 0]
        );
    }

    use super::*;

    #[test]
    fn get_diagnostics_row_count_targets() {
        let t = |s: &str| diagnostics_targets(s.as_bytes(), LexOptions::default());
        assert_eq!(t("GET DIAGNOSTICS @rc = ROW_COUNT"), vec!["@rc"]);
        assert_eq!(t("GET CURRENT DIAGNOSTICS @n = NUMBER, @r = ROW_COUNT"), vec!["@r"]);
        assert!(t("GET DIAGNOSTICS CONDITION 1 @e = MYSQL_ERRNO").is_empty());
        assert!(t("SELECT @rc = ROW_COUNT").is_empty());
    }

    #[test]
    fn row_count_calls_become_the_remembered_value() {
        let cases: &[(&str, Option<&str>)] = &[
            ("SELECT ROW_COUNT()", Some("SELECT 2 AS `ROW_COUNT()`")),
            ("select row_count();", Some("select 2 AS `ROW_COUNT()`;")),
            ("SELECT ROW_COUNT() AS n", Some("SELECT 2 AS n")),
            ("SELECT ROW_COUNT() n", Some("SELECT 2 n")),
            (
                "SELECT LAST_INSERT_ID(), ROW_COUNT()",
                Some("SELECT LAST_INSERT_ID(), 2 AS `ROW_COUNT()`"),
            ),
            ("SELECT ROW_COUNT() + 1", Some("SELECT 2 + 1")),
            ("SELECT 'ROW_COUNT()'", None),
            ("SELECT 1", None),
            ("DO ROW_COUNT()", Some("DO 2")),
            ("SET @rc = ROW_COUNT()", Some("SET @rc = 2")),
            (
                "INSERT INTO log VALUES (ROW_COUNT())",
                Some("INSERT INTO log VALUES (2)"),
            ),
            ("CALL p(ROW_COUNT(), 'ROW_COUNT()')", Some("CALL p(2, 'ROW_COUNT()')")),
            ("CREATE PROCEDURE p() SELECT ROW_COUNT()", None),
            ("ALTER EVENT e DO INSERT INTO t VALUES (ROW_COUNT())", None),
            ("UPDATE t SET n = 1", None),
            (
                "SELECT /* x */ ROW_COUNT ( )",
                Some("SELECT /* x */ 2 AS `ROW_COUNT()`"),
            ),
        ];
        for (sql, want) in cases {
            let got = splice(sql.as_bytes(), 2, LexOptions::default()).map(|b| String::from_utf8(b).unwrap());
            assert_eq!(got.as_deref(), *want, "{sql}");
        }
    }
}
