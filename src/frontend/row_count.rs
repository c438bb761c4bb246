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
    splice_calls(text, &[("ROW_COUNT", value)], lex)
}

/// `text` with every call `NAME()` of `calls` replaced by its value, if it has one and is not
/// a definition (as [`splice`]; also for `FOUND_ROWS()`).
pub fn splice_calls(text: &[u8], calls: &[(&str, i64)], lex: LexOptions) -> Option<Vec<u8>> {
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
        let call = calls.iter().find(|(name, _)| toks[i].is_kw(text, name)).filter(|_| {
            toks.get(i + 1).is_some_and(|t| t.is_punct(text, "("))
                && toks.get(i + 2).is_some_and(|t| t.is_punct(text, ")"))
        });
        let Some(&(name, value)) = call else {
            i += 1;
            continue;
        };
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
            out.extend_from_slice(format!("{value} AS `{name}()`").as_bytes());
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

/// Rows a `FOUND_ROWS()` restore enumerates at most (a value above it is left as the proxy's
/// own `SELECT` made it: 1).
pub const FOUND_ROWS_RESTORE_MAX: u64 = 1_000_000;

/// A `SELECT SQL_CALC_FOUND_ROWS` after which `FOUND_ROWS()` is `n`, needing no table and no
/// privilege (a cross join of a ten-row CTE, cut at `n`: it reads fewer than 10·n rows; 0.1 s
/// for a million on the 2-vCPU test host);
/// None when a one-row `SELECT` leaves it at `n` already, or `n` is above
/// [`FOUND_ROWS_RESTORE_MAX`].
pub fn found_rows_restore(n: u64) -> Option<String> {
    match n {
        1 => None,
        0 => Some("SELECT SQL_CALC_FOUND_ROWS 1 FROM DUAL WHERE 0".into()),
        n if n > FOUND_ROWS_RESTORE_MAX => None,
        n => {
            let digits = (n - 1).to_string().len();
            let from: Vec<String> = (0..digits).map(|i| format!("d d{i}")).collect();
            let sum: Vec<String> = (0..digits).map(|i| format!("d{i}.x * 1{}", "0".repeat(i))).collect();
            // sql_big_selects for this statement only (MariaDB's SET STATEMENT, MySQL's
            // SET_VAR hint): a session's small max_join_size (mysql-test `main.select_safe`:
            // 9) would refuse the join with 1104, failing the client's statement.
            Some(format!(
                "/*M! SET STATEMENT sql_big_selects = 1 FOR */ \
                 WITH d(x) AS (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                 UNION ALL SELECT 8 UNION ALL SELECT 9) \
                 SELECT /*+ SET_VAR(sql_big_selects = 1) */ SQL_CALC_FOUND_ROWS 1 FROM {} WHERE {} < {n} LIMIT 1",
                from.join(", "),
                sum.join(" + ")
            ))
        }
    }
}

/// Whether a COM_STMT_EXECUTE payload of a statement with `params` parameters can run under
/// another statement id: it opens no cursor (the client's COM_STMT_FETCH would name its own
/// id) and carries the parameters' types (new-params-bound flag 1; without them mysqld
/// would take the types bound to that id before).
pub fn execute_sends_types(payload: &[u8], params: u16) -> bool {
    if payload.get(5) != Some(&0) {
        return false;
    }
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
    fn found_rows_and_row_count_together() {
        let lex = LexOptions::default();
        let calls = [("ROW_COUNT", 0), ("FOUND_ROWS", 3)];
        let got = |t: &str| splice_calls(t.as_bytes(), &calls, lex).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(
            got("SELECT FOUND_ROWS(), ROW_COUNT(), 'x'").as_deref(),
            Some("SELECT 3 AS `FOUND_ROWS()`, 0 AS `ROW_COUNT()`, 'x'")
        );
        assert_eq!(
            got("INSERT INTO log VALUES (found_rows(), ROW_COUNT())").as_deref(),
            Some("INSERT INTO log VALUES (3, 0)")
        );
        assert_eq!(got("SELECT 'FOUND_ROWS()'"), None);
    }

    #[test]
    fn found_rows_restore_statements() {
        assert_eq!(found_rows_restore(1), None);
        assert_eq!(found_rows_restore(FOUND_ROWS_RESTORE_MAX + 1), None);
        assert!(found_rows_restore(0).unwrap().ends_with("WHERE 0"));
        let three = found_rows_restore(3).unwrap();
        assert!(three.ends_with("FROM d d0 WHERE d0.x * 1 < 3 LIMIT 1"), "{three}");
        let big = found_rows_restore(1234).unwrap();
        assert!(
            big.ends_with(
                "FROM d d0, d d1, d d2, d d3 WHERE d0.x * 1 + d1.x * 10 + d2.x * 100 + d3.x * 1000 < 1234 LIMIT 1"
            ),
            "{big}"
        );
    }

    #[test]
    fn execute_packets() {
        // COM_STMT_EXECUTE id 7, no cursor, iteration 1, 2 params: null bitmap, flag, types.
        let with_types = [0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 0, 3, 0];
        let without = [0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
        assert!(execute_sends_types(&with_types, 2));
        assert!(!execute_sends_types(&without, 2));
        assert!(execute_sends_types(&without[..10], 0));
        let cursor = [0x17, 7, 0, 0, 0, 1, 1, 0, 0, 0];
        assert!(!execute_sends_types(&cursor, 0));
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
