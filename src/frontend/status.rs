//! `SHOW GRPROXY STATUS`: the proxy's own state as a two-column result set (`Variable_name`,
//! `Value`, like `SHOW STATUS`). The rows are turned into a `SELECT` of literals that the
//! session's mysqld answers, so the result set is encoded exactly as the client negotiated
//! (EOF style, MariaDB metadata extensions) without a second result-set encoder in the proxy.

use super::session::{Session, SessionEnd};
use crate::protocol::command::COM_QUERY;
use crate::protocol::response::Expect;

impl Session {
    pub(crate) async fn proxy_status(&mut self) -> Result<(), SessionEnd> {
        if !self.require_process().await? {
            return Ok(());
        }
        let ctx = self.context();
        let mut rows: Vec<(&str, String)> = vec![
            ("grproxy_version", env!("CARGO_PKG_VERSION").to_string()),
            ("grproxy_revision", crate::GIT_REVISION.to_string()),
            // Where /metrics and /health are served (admin.http); empty when off.
            ("http_address", ctx.http_address.get().cloned().unwrap_or_default()),
            ("uptime_s", ctx.started.elapsed().as_secs().to_string()),
            (
                "client_connections",
                ctx.stats.open.load(std::sync::atomic::Ordering::Relaxed).to_string(),
            ),
        ];
        match &self.context().group {
            Some(g) => {
                rows.push(("mode", "group".into()));
                rows.extend(g.status());
            }
            None => rows.push(("mode", "proxy".into())),
        }
        let mut payload = vec![COM_QUERY];
        payload.extend_from_slice(select_literals(&rows).as_bytes());
        self.forward_payload(&payload, Expect::QueryResult).await.map(drop)
    }

    /// The member's state (leader, indexes, errant transactions, other members) is for
    /// operators: like mysqld's own SHOW PROCESSLIST of other users, it needs the PROCESS
    /// privilege, which mysqld checks for the client's own account. False: refused, and the
    /// client was told.
    pub(crate) async fn require_process(&mut self) -> Result<bool, SessionEnd> {
        self.require_privilege("PROCESS").await
    }

    /// Whether the client's own account holds `privilege` (or SUPER) globally, as mysqld
    /// says (`information_schema.USER_PRIVILEGES`, the rows of the current account only:
    /// an account that may read `mysql.*` sees others' rows too). False: refused, and the
    /// client was told.
    pub(crate) async fn require_privilege(&mut self, privilege: &'static str) -> Result<bool, SessionEnd> {
        let caps = self.caps();
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN ('{privilege}', 'SUPER') \
             AND GRANTEE = CONCAT('''', SUBSTRING(CURRENT_USER(), 1, CHAR_LENGTH(CURRENT_USER()) - \
             CHAR_LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1), '''@''', \
             SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')"
        );
        let check = crate::backend::internal::query(self.backend_mut(), caps, &sql).await;
        let granted = match check {
            Ok(r) => r
                .rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .is_some_and(|v| v != b"0"),
            Err(crate::backend::internal::InternalError::Server { .. }) => false,
            Err(e) => return Err(SessionEnd::Protocol(e.to_string())),
        };
        if !granted {
            self.reply_error(super::errors::ClientError::AccessDenied(format!(
                "Access denied; you need (at least one of) the {privilege} privilege(s) for this operation"
            )))
            .await?;
        }
        Ok(granted)
    }
}

/// `SELECT 'a' AS Variable_name, 'b' AS Value UNION ALL ...` with every value as a hex
/// literal converted to utf8mb4, which reads the same under any sql_mode (no escaping rules).
fn select_literals(rows: &[(&str, String)]) -> String {
    rows.iter()
        .map(|(k, v)| format!("SELECT {} AS Variable_name, {} AS Value", literal(k), literal(v)))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// `s` as a utf8mb4 string literal that reads the same under any sql_mode: hex, converted.
pub(crate) fn literal(s: &str) -> String {
    let hex: String = s.bytes().map(|b| format!("{b:02X}")).collect();
    if hex.is_empty() {
        "CAST('' AS CHAR CHARACTER SET utf8mb4)".to_string()
    } else {
        format!("CONVERT(X'{hex}' USING utf8mb4)")
    }
}

#[cfg(test)]
mod tests {
    use super::select_literals;

    #[test]
    fn literals_are_hex_and_union_all() {
        let rows = [("a", "it's".to_string()), ("b", String::new())];
        assert_eq!(
            select_literals(&rows),
            "SELECT CONVERT(X'61' USING utf8mb4) AS Variable_name, CONVERT(X'69742773' USING utf8mb4) AS Value \
             UNION ALL SELECT CONVERT(X'62' USING utf8mb4) AS Variable_name, CAST('' AS CHAR CHARACTER SET utf8mb4) AS Value"
        );
    }
}
