//! Role grants replayed by the applier. mysqld lets only an account holding a role WITH
//! ADMIN OPTION grant or revoke it; the origin's client held it, the applier's service account
//! does not. For the statement's duration the service account is made the role's admin
//! directly in `mysql.roles_mapping` (outside the binlog), then the row is taken out again, so
//! every member's grant tables stay as the origin's.

use mysql_async::prelude::Queryable;

/// The `roles_mapping` rows added for one statement, to take out after it.
pub struct TemporaryAdmin {
    host: String,
    user: String,
    roles: Vec<String>,
}

/// Makes the connection's account admin of `roles` it does not hold yet.
pub async fn grant_admin(conn: &mut mysql_async::Conn, roles: &[String]) -> Result<TemporaryAdmin, mysql_async::Error> {
    let me: Option<String> = conn.query_first("SELECT CURRENT_USER()").await?;
    let me = me.unwrap_or_default();
    let (user, host) = me.rsplit_once('@').unwrap_or((me.as_str(), ""));
    let mut added = TemporaryAdmin {
        host: host.to_string(),
        user: user.to_string(),
        roles: Vec::new(),
    };
    conn.query_drop("SET SESSION sql_log_bin = 0").await?;
    for role in roles {
        conn.exec_drop(
            "INSERT IGNORE INTO mysql.roles_mapping (Host, User, Role, Admin_option) VALUES (?, ?, ?, 'Y')",
            (&added.host, &added.user, role),
        )
        .await?;
        if conn.affected_rows() == 1 {
            added.roles.push(role.clone());
        }
    }
    if !added.roles.is_empty() {
        conn.query_drop("FLUSH PRIVILEGES").await?;
    }
    conn.query_drop("SET SESSION sql_log_bin = 1").await?;
    Ok(added)
}

impl TemporaryAdmin {
    /// Takes the added rows out again.
    pub async fn revoke(self, conn: &mut mysql_async::Conn) -> Result<(), mysql_async::Error> {
        if self.roles.is_empty() {
            return Ok(());
        }
        conn.query_drop("SET SESSION sql_log_bin = 0").await?;
        for role in &self.roles {
            conn.exec_drop(
                "DELETE FROM mysql.roles_mapping WHERE Host = ? AND User = ? AND Role = ?",
                (&self.host, &self.user, role),
            )
            .await?;
        }
        conn.query_drop("FLUSH PRIVILEGES").await?;
        conn.query_drop("SET SESSION sql_log_bin = 1").await
    }
}
