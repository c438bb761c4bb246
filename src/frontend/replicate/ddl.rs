//! DDL and account statements on a group member: run on this member first with the
//! client's privileges, then replicated with the session context that changes their result.

use std::time::Duration;

use super::super::errors::ClientError;
use super::super::session::{Session, SessionEnd};
use crate::protocol::packet::Packet;
use crate::protocol::response::Expect;
use crate::replication::applier::LocalOutcome;
use crate::replication::txn::{Ddl, Entry, TableName};
use crate::sql::{Classified, Detail};

impl Session {
    /// DDL: run on this member first, with the client's privileges; replicated only when it
    /// succeeded, with the session context that changes what it does.
    pub(crate) async fn replicated_ddl(
        &mut self,
        packet: &Packet,
        raw: &[u8],
        class: &Classified,
    ) -> Result<(), SessionEnd> {
        let lossy = String::from_utf8_lossy(raw).into_owned();
        let text = lossy.as_str();
        if let Some(why) = ddl_refusal(text, class) {
            return self.reply_error(ClientError::CannotReplicate(why)).await;
        }
        let group = self.group().clone();
        let account = matches!(class.detail, Detail::Account(_));
        // Account statements name no table and need no schema.
        let schema = if account { None } else { self.current_schema().await? };
        let named = if account {
            Vec::new()
        } else {
            ddl_tables(text, schema.as_deref())
        };
        // Only a statement on tables can act on a temporary one (a routine's or view's body
        // naming one does not make the routine or view temporary).
        let on_tables = matches!(
            class.detail,
            Detail::CreateTable { .. }
                | Detail::DropTable { .. }
                | Detail::AlterTable
                | Detail::RenameTable
                | Detail::TruncateTable
                | Detail::CreateIndex
                | Detail::DropIndex
        );
        if on_tables && !matches!(class.detail, Detail::CreateTable { .. }) {
            self.learn_temporary_tables(&named).await?;
        }
        let temporary = named
            .iter()
            .filter(|t| on_tables && self.temp_tables.contains(&(t.schema.clone(), t.table.clone())))
            .count();
        if temporary > 0 && temporary < named.len() {
            let e = ClientError::CannotReplicate(
                "a statement on temporary and base tables together; name them in separate statements".into(),
            );
            return self.reply_error(e).await;
        }
        if temporary > 0 {
            // A temporary table of this session (maybe shadowing a base table of the same
            // name): the statement acts on it, and stays local.
            let outcome = self.forward(packet, Expect::QueryResult).await?;
            if outcome.error.is_none() && matches!(class.detail, Detail::DropTable { .. }) {
                for t in named {
                    self.temp_tables.remove(&(t.schema, t.table));
                }
            }
            return Ok(());
        }
        // Everything certified so far is applied here first, so the statement meets the
        // same tables it will meet on the other members.
        let certified = group.certified_index();
        if !group.wait_applied(certified, Duration::from_secs(30)).await {
            return self
                .reply_error(ClientError::CommitUnknown(
                    "timed out waiting for earlier transactions".into(),
                ))
                .await;
        }
        let mut context = self.ddl_context().await?;
        if let Some(why) = engine_refusal(text, class, &context) {
            return self.reply_error(ClientError::CannotReplicate(why)).await;
        }
        // The statement text as the other members will get it: UTF-8, with the client's
        // character set for it when that is not UTF-8 already.
        let sql = match std::str::from_utf8(raw) {
            Ok(t) => t.to_string(),
            Err(_) => {
                let charset = context
                    .iter()
                    .find(|(n, _)| n == "character_set_client")
                    .map(|(_, v)| v.trim_matches('\'').to_string())
                    .unwrap_or_default();
                match decode_client_text(raw, &charset) {
                    Some(t) => {
                        for (n, v) in context.iter_mut() {
                            if n == "character_set_client" {
                                *v = "'utf8mb4'".into();
                            }
                        }
                        t
                    }
                    None => {
                        let e = ClientError::CannotReplicate(format!(
                            "DDL text in character set {charset} that grproxy cannot convert"
                        ));
                        return self.reply_error(e).await;
                    }
                }
            }
        };
        // Stored programs and views created elsewhere belong to the client's account, as
        // here, not to the service account that executes the statement there.
        // A role's admin is its creator, here the client, not the service account.
        let create_role = matches!(class.detail, Detail::Account(crate::sql::AccountOp::CreateRole));
        let sql = if create_role
            || matches!(
                class.detail,
                Detail::CreateView | Detail::CreateRoutine | Detail::CreateTrigger | Detail::OtherDdl
            ) {
            let r = self.own_select("CURRENT_USER()").await?;
            let user = r
                .rows
                .first()
                .and_then(|row| row.first().cloned().flatten())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if create_role {
                with_role_admin(&sql, &user)
            } else {
                with_definer(&sql, &user)
            }
        } else {
            sql
        };
        // The statement's time (NOW(), CURRENT_TIMESTAMP defaults of existing rows) is the
        // one the other members get.
        let timestamp = context.iter().find(|(n, _)| n == "timestamp").map(|(_, v)| v.clone());
        if let Some(ts) = &timestamp {
            self.internal(&format!("SET @@session.timestamp = {ts}")).await?;
        }
        // No state-transfer copy may see this statement's effect without its marker.
        let gate = group.copy_gate.enter().await;
        group.tap.expect_statement(self.backend_id);
        let response = self.forward_buffered(packet, Expect::QueryResult).await?;
        if timestamp.is_some() {
            self.internal("SET @@session.timestamp = DEFAULT").await?;
        }
        // Only dropping the default schema changes it (to none), as mysqld does; a name that
        // differs only in letter case may or may not be it (lower_case_table_names): asked
        // with `SELECT DATABASE()` before the next statement that needs it.
        if matches!(class.detail, Detail::DropDatabase) && response.outcome.error.is_none() {
            match (dropped_database(text), &self.schema) {
                (Some(d), Some(s)) if d == *s => self.schema = None,
                (Some(d), Some(s)) if !d.eq_ignore_ascii_case(s) => {}
                (_, None) if self.schema_known => {}
                _ => self.forget_schema(),
            }
        }
        group.metadata.invalidate();
        let sql = match &response.outcome.error {
            None => sql,
            // A DROP TABLE of several tables drops those that exist before failing on the
            // others: the members drop the same ones.
            Some((1051, _)) if matches!(class.detail, Detail::DropTable { .. }) && named.len() > 1 => {
                match drop_if_exists(&sql) {
                    Some(s) => s,
                    None => return self.send_buffered(&response).await,
                }
            }
            Some(_) => return self.send_buffered(&response).await,
        };
        let trx_id = group.new_trx_id();
        let entry = Entry::Ddl(Ddl {
            origin: group.member_id,
            trx_id,
            schema: schema.clone(),
            sql,
            context,
            tables: named,
        });
        let report = group.pending.register(trx_id);
        match group.propose(&entry).await {
            Ok((index, _)) => {
                group.copy_gate.hold_until_marked(trx_id, gate);
                let _ = report.send(LocalOutcome::Settled);
                self.last_commit = index;
                if self.consistency.after() && response.outcome.error.is_none() {
                    if let Some(e) = self.consistency_after(index).await {
                        return self.reply_error(e).await;
                    }
                }
                self.send_buffered(&response).await
            }
            Err(e) if response.outcome.error.is_some() => {
                let _ = report.send(LocalOutcome::Lost);
                tracing::error!(session = self.id, error = %e, sql = text, "a partly failed DDL's replication outcome is unknown");
                self.send_buffered(&response).await
            }
            Err(e) => {
                let _ = report.send(LocalOutcome::Lost);
                tracing::error!(session = self.id, error = %e, sql = text, "DDL ran on this member but its replication outcome is unknown");
                self.reply_error(ClientError::CommitUnknown(format!(
                    "the statement ran on this member; whether the group has it is unknown: {e}"
                )))
                .await
            }
        }
    }

    /// Temporary tables the session made without saying so to grproxy (a stored function or
    /// procedure ran `CREATE TEMPORARY TABLE`): mysqld's `SHOW CREATE TABLE` answers for the
    /// table a statement of this session would act on, a temporary one shadowing a base one.
    async fn learn_temporary_tables(&mut self, named: &[TableName]) -> Result<(), SessionEnd> {
        use crate::replication::ident;
        for t in named.iter().take(16) {
            let key = (t.schema.clone(), t.table.clone());
            if self.temp_tables.contains(&key) {
                continue;
            }
            let sql = format!("SHOW CREATE TABLE {}.{}", ident(&t.schema), ident(&t.table));
            if let Ok(r) = self.internal_try(&sql).await? {
                let text = r.rows.first().and_then(|row| row.get(1).cloned().flatten());
                if text.is_some_and(|b| b.starts_with(b"CREATE TEMPORARY TABLE")) {
                    self.temp_tables.insert(key);
                }
            }
        }
        Ok(())
    }

    /// The session variables that change what a DDL statement does.
    async fn ddl_context(&mut self) -> Result<Vec<(String, String)>, SessionEnd> {
        const VARS: &[&str] = &[
            "sql_mode",
            "character_set_client",
            "collation_connection",
            "character_set_results",
            "time_zone",
            "timestamp",
            "foreign_key_checks",
            "unique_checks",
            "check_constraint_checks",
            "default_storage_engine",
            "default_tmp_storage_engine",
            "explicit_defaults_for_timestamp",
            "auto_increment_increment",
            "auto_increment_offset",
            "old_mode",
            "lc_time_names",
            "div_precision_increment",
        ];
        let select: Vec<String> = VARS.iter().map(|v| format!("@@session.{v}")).collect();
        let r = self.own_select(&select.join(", ")).await?;
        let row = r.rows.first().cloned().unwrap_or_default();
        Ok(VARS
            .iter()
            .zip(row)
            .filter_map(|(name, v)| v.map(|v| (name.to_string(), sql_value(&String::from_utf8_lossy(&v)))))
            .collect())
    }
}

/// A system variable's value as a SQL literal: numbers as they are, anything else quoted
/// (for a connection with the server's default sql_mode, where backslash escapes).
fn sql_value(v: &str) -> String {
    let numeric =
        !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') && v.parse::<f64>().is_ok();
    if numeric {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\\', "\\\\").replace('\'', "''"))
    }
}

/// DDL whose result cannot be made identical on every member.
fn ddl_refusal(text: &str, class: &Classified) -> Option<String> {
    use crate::sql::lexer::tokenize;
    let src = text.as_bytes();
    let toks = tokenize(src).tokens;
    if matches!(class.detail, Detail::CreateTable { .. }) && toks.iter().any(|t| t.is_kw(src, "SELECT")) {
        return Some(
            "CREATE TABLE ... SELECT (its rows are not replicated as rows); use CREATE TABLE, then INSERT ... SELECT"
                .into(),
        );
    }
    // Values computed for the rows a table already has differ on every member.
    if matches!(class.detail, Detail::AlterTable) {
        const RANDOM: &[&str] = &["UUID", "UUID_SHORT", "RAND", "SYSDATE", "NEXTVAL", "CONNECTION_ID"];
        let called = toks
            .windows(2)
            .find(|w| RANDOM.iter().any(|f| w[0].is_kw(src, f)) && w[1].is_punct(src, "("));
        if let Some(w) = called {
            return Some(format!(
                "ALTER TABLE computing {}() for existing rows (each member would compute its own)",
                String::from_utf8_lossy(w[0].text(src)).to_uppercase()
            ));
        }
    }
    None
}

/// A table the statement would make non-transactional (MyISAM, Aria, MEMORY, ...): its
/// writes could not be certified or undone, and those a stored program or prepared statement
/// makes would commit on this member only.
fn engine_refusal(text: &str, class: &Classified, context: &[(String, String)]) -> Option<String> {
    let create = match class.detail {
        Detail::CreateTable { temporary: false } => true,
        Detail::AlterTable => false,
        _ => return None,
    };
    let default = context
        .iter()
        .find(|(n, _)| n == "default_storage_engine")
        .map(|(_, v)| v.trim_matches('\'').to_string())
        .unwrap_or_else(|| "InnoDB".into());
    let engines = crate::sql::table_engine::non_innodb_engines(text, create, &default);
    let engine = engines.first()?;
    Some(format!(
        "a table with engine {engine}; grproxy replicates only InnoDB tables (use ENGINE=InnoDB{})",
        if create {
            " or SET default_storage_engine=InnoDB"
        } else {
            ""
        }
    ))
}

/// A `CREATE [OR REPLACE] [ALGORITHM = x] {VIEW | PROCEDURE | FUNCTION | TRIGGER | EVENT}`
/// statement with `DEFINER = user` (as `CURRENT_USER()` gives it, `name@host`) when it names
/// none; any other statement unchanged.
fn with_definer(sql: &str, current_user: &str) -> String {
    use crate::sql::lexer::tokenize;
    let Some((name, host)) = current_user.rsplit_once('@') else {
        return sql.to_string();
    };
    let src = sql.as_bytes();
    let toks = tokenize(src).tokens;
    let mut i = 0;
    if !toks.first().is_some_and(|t| t.is_kw(src, "CREATE")) {
        return sql.to_string();
    }
    i += 1;
    if toks.get(i).is_some_and(|t| t.is_kw(src, "OR")) && toks.get(i + 1).is_some_and(|t| t.is_kw(src, "REPLACE")) {
        i += 2;
    }
    if toks.get(i).is_some_and(|t| t.is_kw(src, "ALGORITHM")) {
        i += 3; // ALGORITHM = word
    }
    let Some(at) = toks.get(i) else {
        return sql.to_string();
    };
    let definable = ["VIEW", "PROCEDURE", "FUNCTION", "TRIGGER", "EVENT", "SQL", "AGGREGATE"]
        .iter()
        .any(|k| at.is_kw(src, k));
    if !definable {
        return sql.to_string();
    }
    format!(
        "{}DEFINER = {} {}",
        &sql[..at.start],
        account(name, host),
        &sql[at.start..]
    )
}

/// `'name'@'host'` (a backslash in a name is doubled, which NO_BACKSLASH_ESCAPES would read
/// as two; such names are rare).
fn account(name: &str, host: &str) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"));
    format!("{}@{}", quote(name), quote(host))
}

/// `CREATE ROLE r` as `CREATE ROLE r WITH ADMIN 'user'@'host'` (the creator, who is its admin
/// on the origin) unless it names its admin.
fn with_role_admin(sql: &str, current_user: &str) -> String {
    use crate::sql::lexer::tokenize;
    let Some((name, host)) = current_user.rsplit_once('@') else {
        return sql.to_string();
    };
    let src = sql.as_bytes();
    let toks = tokenize(src).tokens;
    if toks.iter().any(|t| t.is_kw(src, "ADMIN")) {
        return sql.to_string();
    }
    let Some(last) = toks.iter().rev().find(|t| !t.is_punct(src, ";")) else {
        return sql.to_string();
    };
    format!(
        "{} WITH ADMIN {}{}",
        &sql[..last.end],
        account(name, host),
        &sql[last.end..]
    )
}

/// `DROP TABLE a, b` as `DROP TABLE IF EXISTS a, b` (None when it cannot be placed).
fn drop_if_exists(sql: &str) -> Option<String> {
    use crate::sql::lexer::tokenize;
    let src = sql.as_bytes();
    let toks = tokenize(src).tokens;
    let at = toks
        .iter()
        .position(|t| t.is_kw(src, "TABLE") || t.is_kw(src, "TABLES"))?;
    if toks.get(at + 1).is_some_and(|t| t.is_kw(src, "IF")) {
        return Some(sql.to_string());
    }
    let end = toks[at].end;
    Some(format!("{} IF EXISTS{}", &sql[..end], &sql[end..]))
}

/// A client's statement bytes in character set `charset` (as mysqld names it), as UTF-8.
fn decode_client_text(raw: &[u8], charset: &str) -> Option<String> {
    let encoding = match charset.to_ascii_lowercase().as_str() {
        "latin1" => encoding_rs::WINDOWS_1252,
        "cp1250" => encoding_rs::WINDOWS_1250,
        "cp1251" => encoding_rs::WINDOWS_1251,
        "cp1256" => encoding_rs::WINDOWS_1256,
        "cp1257" => encoding_rs::WINDOWS_1257,
        "latin2" => encoding_rs::ISO_8859_2,
        "greek" => encoding_rs::ISO_8859_7,
        "hebrew" => encoding_rs::ISO_8859_8,
        "koi8r" => encoding_rs::KOI8_R,
        "gbk" => encoding_rs::GBK,
        "gb18030" => encoding_rs::GB18030,
        "big5" => encoding_rs::BIG5,
        "sjis" | "cp932" => encoding_rs::SHIFT_JIS,
        "ujis" | "eucjpms" => encoding_rs::EUC_JP,
        "euckr" => encoding_rs::EUC_KR,
        _ => return None,
    };
    let (text, _, had_errors) = encoding.decode(raw);
    (!had_errors).then(|| text.into_owned())
}

/// The database a `DROP {DATABASE | SCHEMA} [IF EXISTS] name` names.
fn dropped_database(text: &str) -> Option<String> {
    use crate::sql::lexer::{tokenize, unquote_ident, TokenKind};
    let src = text.as_bytes();
    let toks = tokenize(src).tokens;
    let mut words = toks.iter();
    let (drop, what) = (words.next()?, words.next()?);
    if !drop.is_kw(src, "DROP") || !(what.is_kw(src, "DATABASE") || what.is_kw(src, "SCHEMA")) {
        return None;
    }
    let mut name = words.next()?;
    if name.is_kw(src, "IF") {
        words.next()?;
        name = words.next()?;
    }
    matches!(name.kind, TokenKind::Word | TokenKind::QuotedIdent).then(|| unquote_ident(name.text(src)))
}

/// Tables a DDL statement names after TABLE / INDEX ... ON / RENAME TABLE, for certification
/// (DDL conflicts with older-snapshot writes to those tables).
pub(super) fn ddl_tables(text: &str, default_schema: Option<&str>) -> Vec<TableName> {
    use crate::sql::lexer::{tokenize, unquote_ident, TokenKind};
    let src = text.as_bytes();
    let toks = tokenize(src).tokens;
    let mut out: Vec<TableName> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let starts = t.is_kw(src, "TABLE") || t.is_kw(src, "ON") || t.is_kw(src, "TO") || t.is_punct(src, ",");
        if starts {
            let mut j = i + 1;
            while toks
                .get(j)
                .is_some_and(|t| t.is_kw(src, "IF") || t.is_kw(src, "NOT") || t.is_kw(src, "EXISTS"))
            {
                j += 1;
            }
            let name = |k: usize| {
                toks.get(k)
                    .filter(|t| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent))
            };
            if let Some(a) = name(j) {
                let first = unquote_ident(a.text(src));
                let qualified = toks.get(j + 1).is_some_and(|t| t.is_punct(src, "."));
                let tn = match (qualified, name(j + 2)) {
                    (true, Some(b)) => Some(TableName::new(&first, unquote_ident(b.text(src)))),
                    (false, _) => default_schema.map(|s| TableName::new(s, &first)),
                    _ => None,
                };
                if let Some(tn) = tn {
                    if !out.contains(&tn) && !matches!(tn.table.to_ascii_uppercase().as_str(), "SELECT" | "LIKE") {
                        out.push(tn);
                    }
                }
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_database_names() {
        assert_eq!(dropped_database("DROP DATABASE d").as_deref(), Some("d"));
        assert_eq!(dropped_database("drop schema if exists `a b`;").as_deref(), Some("a b"));
        assert_eq!(
            dropped_database("DROP /* x */ DATABASE IF EXISTS e").as_deref(),
            Some("e")
        );
        assert_eq!(dropped_database("DROP TABLE d"), None);
    }

    #[test]
    fn create_role_names_its_admin() {
        let cases = [
            ("CREATE ROLE r", "CREATE ROLE r WITH ADMIN 'app'@'%'"),
            (
                "CREATE ROLE IF NOT EXISTS `r x`;",
                "CREATE ROLE IF NOT EXISTS `r x` WITH ADMIN 'app'@'%';",
            ),
            (
                "CREATE ROLE r WITH ADMIN CURRENT_ROLE",
                "CREATE ROLE r WITH ADMIN CURRENT_ROLE",
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(with_role_admin(sql, "app@%"), want);
        }
    }

    #[test]
    fn ddl_table_names() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("CREATE TABLE t (id INT PRIMARY KEY)", &[("db", "t")]),
            ("CREATE TABLE IF NOT EXISTS `x`.`y` (a INT)", &[("x", "y")]),
            ("ALTER TABLE t ADD COLUMN c INT", &[("db", "t")]),
            ("DROP TABLE a, b.c", &[("db", "a"), ("b", "c")]),
            ("RENAME TABLE a TO b", &[("db", "a"), ("db", "b")]),
            ("CREATE INDEX k ON t (c)", &[("db", "t")]),
            ("TRUNCATE TABLE t", &[("db", "t")]),
            ("CREATE DATABASE d", &[]),
        ];
        for (sql, want) in cases {
            let got: Vec<(String, String)> = ddl_tables(sql, Some("db"))
                .into_iter()
                .map(|t| (t.schema, t.table))
                .collect();
            let want: Vec<(String, String)> = want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            assert_eq!(got, want, "{sql}");
        }
    }

    #[test]
    fn ddl_rewrites_and_refusals() {
        assert_eq!(
            drop_if_exists("DROP TABLE a, b").as_deref(),
            Some("DROP TABLE IF EXISTS a, b")
        );
        assert_eq!(
            drop_if_exists("drop table if exists a").as_deref(),
            Some("drop table if exists a")
        );
        assert_eq!(decode_client_text(b"caf\xe9", "latin1").as_deref(), Some("caf\u{e9}"));
        assert_eq!(
            decode_client_text(&[0xb5, 0x5c], "gbk").map(|s| s.chars().count()),
            Some(1)
        );
        assert_eq!(decode_client_text(b"x", "klingon"), None);
        let alter = crate::sql::classify("ALTER TABLE t ADD COLUMN u CHAR(36) DEFAULT UUID()");
        assert!(ddl_refusal("ALTER TABLE t ADD COLUMN u CHAR(36) DEFAULT UUID()", &alter).is_some());
        let alter = crate::sql::classify("ALTER TABLE t ADD COLUMN c DATETIME(6) DEFAULT NOW(6)");
        assert!(ddl_refusal("ALTER TABLE t ADD COLUMN c DATETIME(6) DEFAULT NOW(6)", &alter).is_none());
        let cases = [
            (
                "CREATE VIEW v AS SELECT 1",
                "CREATE DEFINER = 'app'@'%' VIEW v AS SELECT 1",
            ),
            (
                "CREATE OR REPLACE ALGORITHM = MERGE VIEW v AS SELECT 1",
                "CREATE OR REPLACE ALGORITHM = MERGE DEFINER = 'app'@'%' VIEW v AS SELECT 1",
            ),
            (
                "CREATE DEFINER = x@y PROCEDURE p() SELECT 1",
                "CREATE DEFINER = x@y PROCEDURE p() SELECT 1",
            ),
            (
                "CREATE FUNCTION f() RETURNS INT RETURN 1",
                "CREATE DEFINER = 'app'@'%' FUNCTION f() RETURNS INT RETURN 1",
            ),
            (
                "CREATE SQL SECURITY INVOKER VIEW v AS SELECT 1",
                "CREATE DEFINER = 'app'@'%' SQL SECURITY INVOKER VIEW v AS SELECT 1",
            ),
            ("CREATE TABLE t (a INT)", "CREATE TABLE t (a INT)"),
        ];
        for (sql, want) in cases {
            assert_eq!(with_definer(sql, "app@%"), want, "{sql}");
        }
        let ctas = crate::sql::classify("CREATE TABLE t AS SELECT 1");
        assert!(ddl_refusal("CREATE TABLE t AS SELECT 1", &ctas).is_some());
    }
}
