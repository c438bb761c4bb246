//! `SHOW GRPROXY MEMBERS [WHERE <condition>]`: every member of the group as this one knows it
//! (`replication::members`), one row each, as a result set mysqld encodes from a `SELECT` of
//! literals, so the client's own condition filters it like any table:
//! `SHOW GRPROXY MEMBERS WHERE state <> 'ONLINE'`.

use super::session::{Session, SessionEnd};
use super::status::literal;
use crate::protocol::command::COM_QUERY;
use crate::protocol::response::Expect;
use crate::replication::members::MemberRow;
use crate::sql::lexer::{tokenize_with, TokenKind};

impl Session {
    pub(crate) async fn proxy_members(&mut self, text: &[u8]) -> Result<(), SessionEnd> {
        if !self.require_process().await? {
            return Ok(());
        }
        let rows = match &self.context().group {
            Some(g) => g.members(),
            None => Vec::new(),
        };
        let condition = where_clause(text, self.lex_options());
        let sql = members_select(&rows, condition);
        let mut payload = vec![COM_QUERY];
        payload.extend_from_slice(&sql);
        self.forward_payload(&payload, Expect::QueryResult).await.map(drop)
    }
}

/// The bytes of the client's `WHERE ...` (keyword included), if it gave one.
fn where_clause(text: &[u8], lex: crate::sql::LexOptions) -> Option<&[u8]> {
    let toks = tokenize_with(text, lex).tokens;
    let w = toks
        .iter()
        .find(|t| t.kind == TokenKind::Word && t.is_kw(text, "WHERE"))?;
    Some(text[w.start..].strip_suffix(b";").unwrap_or(&text[w.start..]))
}

/// `SELECT * FROM (<rows as literals>) AS members [WHERE ...]`: typed columns (numbers are
/// numbers), an empty result with the right columns for a plain proxy.
fn members_select(rows: &[MemberRow], condition: Option<&[u8]>) -> Vec<u8> {
    let num = |v: f64| format!("{v:.3}");
    let selects: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "SELECT {} AS member_id, {} AS address, {} AS role, {} AS state, {} AS applied_index, \
                 {} AS lag_entries, CAST({} AS DECIMAL(12,3)) AS lag_seconds, {} AS last_contact_seconds, \
                 {} AS detail, {} AS member_role",
                r.id,
                literal(&r.address),
                literal(&r.role),
                literal(&r.state),
                r.applied,
                r.lag_entries,
                num(r.lag_seconds),
                r.last_contact_s
                    .map_or("NULL".to_string(), |s| format!("CAST({} AS DECIMAL(12,3))", num(s))),
                literal(&r.detail),
                literal(&r.member_role),
            )
        })
        .collect();
    let inner = if selects.is_empty() {
        "SELECT 0 AS member_id, '' AS address, '' AS role, '' AS state, 0 AS applied_index, 0 AS lag_entries, \
         CAST(0 AS DECIMAL(12,3)) AS lag_seconds, CAST(NULL AS DECIMAL(12,3)) AS last_contact_seconds, '' AS detail, \
         '' AS member_role \
         FROM DUAL WHERE FALSE"
            .to_string()
    } else {
        selects.join(" UNION ALL ")
    };
    let mut sql = format!("SELECT * FROM ({inner}) AS members ").into_bytes();
    match condition {
        // The client's condition may carry its own ORDER BY or LIMIT.
        Some(c) => sql.extend_from_slice(c),
        None => sql.extend_from_slice(b"ORDER BY member_id"),
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_clause_is_the_clients_bytes() {
        let lex = crate::sql::LexOptions::default();
        let w = |s: &str| where_clause(s.as_bytes(), lex).map(|b| String::from_utf8_lossy(b).into_owned());
        assert_eq!(w("SHOW GRPROXY MEMBERS"), None);
        assert_eq!(
            w("SHOW GRPROXY MEMBERS WHERE state <> 'ONLINE';"),
            Some("WHERE state <> 'ONLINE'".into())
        );
        assert_eq!(
            w("show grproxy members where `role` = 'leader'"),
            Some("where `role` = 'leader'".into())
        );
    }

    #[test]
    fn select_has_every_column_and_the_condition() {
        let r = MemberRow {
            id: 2,
            address: "127.0.0.1:7002".into(),
            role: "follower".into(),
            state: "ONLINE".into(),
            detail: String::new(),
            applied: 10,
            lag_entries: 0,
            lag_seconds: 0.0,
            last_contact_s: Some(0.5),
            weight: 50,
            sql_address: "127.0.0.1:6002".into(),
            member_role: "SECONDARY".into(),
        };
        let sql = String::from_utf8(members_select(&[r], Some(b"WHERE state = 'x'"))).unwrap();
        assert!(sql.starts_with("SELECT * FROM (SELECT 2 AS member_id, "), "{sql}");
        assert!(
            sql.contains("CAST(0.500 AS DECIMAL(12,3)) AS last_contact_seconds"),
            "{sql}"
        );
        assert!(
            sql.contains("X'5345434F4E44415259' USING utf8mb4) AS member_role"),
            "{sql}"
        );
        assert!(sql.ends_with(") AS members WHERE state = 'x'"), "{sql}");
        let empty = String::from_utf8(members_select(&[], None)).unwrap();
        assert!(
            empty.contains("WHERE FALSE") && empty.ends_with("AS members ORDER BY member_id"),
            "{empty}"
        );
    }
}
