//! How a group member runs one client command: a pure decision over the classified
//! statements, made before anything reaches mysqld. The session carries it out
//! (`replicate.rs`).
//!
//! Every writing transaction runs on mysqld as an XA transaction that grproxy opens, so its
//! row events can be read from the binlog at `XA PREPARE` and certified before it commits.
//! That fixes what each statement needs:
//!
//! | statement                                   | route |
//! |---------------------------------------------|-------|
//! | client `XA ...`, `LOAD DATA`, `grproxy.*`, session variables replay cannot honour | `Refuse` |
//! | `BEGIN` / `START TRANSACTION` (not READ ONLY) | `Begin`: commit what is open, then `XA START` |
//! | `COMMIT`, `ROLLBACK` (with CHAIN / RELEASE)   | `Commit`, `Rollback` of the XA transaction |
//! | `SET autocommit` to anything but a constant 0, `LOCK TABLES`, statements that commit implicitly | `CommitFirst`: commit the open transaction through the group, then forward |
//! | DDL                                          | `Ddl`: commit first, run on this member with the client's privileges, then replicate |
//! | DML, `CALL`, `EXECUTE`, reads that may write (stored functions, sequences) | `Write` |
//! | plain reads                                  | `Read` (opens an XA transaction only under autocommit=0) |
//! | everything else (SHOW, SET, USE, PREPARE ...) | `Forward` |

use crate::sql::{self, Classified, Detail, StatementKind};

/// The decision for one client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Answer with error 3098 and this reason; nothing reaches mysqld.
    Refuse(String),
    /// Forward unchanged.
    Forward,
    /// Commit the open transaction through the group, then forward.
    CommitFirst,
    /// Start a transaction (as XA).
    Begin,
    Commit {
        chain: bool,
        release: bool,
    },
    Rollback {
        chain: bool,
        release: bool,
    },
    Ddl,
    Write,
    Read,
}

/// Session variables whose effect on a transaction the other members cannot reproduce.
const UNREPLAYABLE_VARIABLES: &[&str] = &[
    "sql_log_bin",
    "completion_type",
    "binlog_format",
    "binlog_row_image",
    "gtid_domain_id",
    "gtid_seq_no",
    "server_id",
    "skip_replication",
    "pseudo_thread_id",
    "pseudo_slave_mode",
    "binlog_annotate_row_events",
    "gtid_binlog_state",
];

/// The schema grproxy keeps its own state in; clients may not touch it.
pub const OWN_SCHEMA: &str = "grproxy";

/// Decides how to run a command made of `statements` (raw text of each, in order) with
/// their classifications.
pub fn route(statements: &[&[u8]], classes: &[Classified]) -> Route {
    let routes: Vec<Route> = statements.iter().zip(classes).map(|(t, c)| route_one(t, c)).collect();
    if let Some(r) = routes.iter().find(|r| matches!(r, Route::Refuse(_))) {
        return r.clone();
    }
    match routes.as_slice() {
        [] => Route::Forward,
        [one] => one.clone(),
        many => {
            if many
                .iter()
                .any(|r| !matches!(r, Route::Write | Route::Read | Route::Forward))
            {
                return Route::Refuse(
                    "a multi-statement query that starts or ends a transaction or runs DDL; send those statements one by one"
                        .into(),
                );
            }
            if many.contains(&Route::Write) {
                Route::Write
            } else if many.contains(&Route::Read) {
                Route::Read
            } else {
                Route::Forward
            }
        }
    }
}

fn route_one(text: &[u8], c: &Classified) -> Route {
    let touches_own_schema = sql::qualified_schema_refs(text).iter().any(|s| s == OWN_SCHEMA);
    if touches_own_schema && !matches!(c.kind, StatementKind::Read) {
        return Route::Refuse(format!("the `{OWN_SCHEMA}` schema belongs to grproxy"));
    }
    match &c.detail {
        Detail::Xa(_) => {
            return Route::Refuse("client XA transactions (grproxy runs every writing transaction as XA itself)".into())
        }
        Detail::LoadData { .. } => return Route::Refuse("LOAD DATA is not replicated yet".into()),
        // It erases the binlog grproxy reads this member's transactions from, and the GTID
        // state replays continue.
        Detail::Admin(sql::AdminOp::Reset) if resets_binlog(text) => {
            return Route::Refuse(
                "RESET MASTER: a group member's binlog is where grproxy reads its transactions from".into(),
            )
        }
        // Run on one member only, it would make later DDL (`ENGINE=BLACKHOLE`) fail on the
        // others, and its mysql.plugin rows would be errant writes.
        Detail::Admin(sql::AdminOp::Plugin) => {
            return Route::Refuse(
                "INSTALL/UNINSTALL PLUGIN or SONAME: plugins are each member's own server configuration; \
                 install them on every member's mysqld directly"
                    .into(),
            )
        }
        _ => {}
    }
    // Also `SET STATEMENT var = ... FOR <statement>`, which classifies as its statement.
    if let Some(v) = sql::session_variables_set(text)
        .into_iter()
        .filter(|(scope, _)| *scope != sql::VarScope::User)
        .map(|(_, name)| name)
        .find(|n| UNREPLAYABLE_VARIABLES.contains(&n.as_str()))
    {
        return Route::Refuse(format!(
            "setting {v} (the other members could not reproduce its effect)"
        ));
    }
    match (&c.kind, &c.detail) {
        (_, Detail::Begin { read_only: true, .. }) => Route::CommitFirst,
        (_, Detail::Begin { .. }) => Route::Begin,
        (_, Detail::Commit { chain, release }) => Route::Commit {
            chain: *chain,
            release: *release,
        },
        (_, Detail::Rollback { chain, release }) => Route::Rollback {
            chain: *chain,
            release: *release,
        },
        (_, Detail::SetAutocommit(_)) if sql::read_may_write(text) => {
            Route::Refuse("SET autocommit together with a function that may write".into())
        }
        (_, Detail::SetAutocommit(Some(false))) => Route::Forward,
        (_, Detail::SetAutocommit(_)) => Route::CommitFirst,
        (_, Detail::CreateTable { temporary: true } | Detail::DropTable { temporary: true, .. }) => Route::Forward,
        (StatementKind::Ddl, _) => match ddl_refusal(text) {
            Some(why) => Route::Refuse(why),
            None => Route::Ddl,
        },
        // Accounts go through the log like DDL, so a REVOKE takes effect on every member.
        (_, Detail::Account(op)) => match account_refusal(text, *op) {
            Some(why) => Route::Refuse(why),
            None => Route::Ddl,
        },
        (_, Detail::Call | Detail::Execute) => Route::Write,
        (StatementKind::Dml, _) => Route::Write,
        (
            StatementKind::Read | StatementKind::Session,
            Detail::Select { .. } | Detail::With { .. } | Detail::Do | Detail::SetVariables { .. },
        ) => {
            if sql::read_may_write(text) {
                Route::Write
            } else if matches!(c.detail, Detail::SetVariables { .. }) {
                Route::Forward
            } else {
                Route::Read
            }
        }
        (StatementKind::Unsupported, Detail::Unknown) if is_get_diagnostics(text) => Route::Forward,
        (StatementKind::Unsupported, Detail::Unknown) => {
            Route::Refuse("a statement grproxy's classifier cannot place".into())
        }
        _ if sql::commits_implicitly(c) => Route::CommitFirst,
        _ => Route::Forward,
    }
}

/// Account statements that would act on a different account elsewhere: the other members run
/// them as the service account, so "the current user" must be named.
fn account_refusal(text: &[u8], op: sql::AccountOp) -> Option<String> {
    let toks = sql::lexer::tokenize(text).tokens;
    let current = toks
        .iter()
        .any(|t| t.is_kw(text, "CURRENT_USER") || t.is_kw(text, "CURRENT_ROLE"));
    let set_password_unnamed = op == sql::AccountOp::SetPassword && !toks.iter().any(|t| t.is_kw(text, "FOR"));
    (current || set_password_unnamed).then(|| {
        "an account statement on the current user; name the account ('user'@'host') so every member changes the same one"
            .into()
    })
}

/// DDL whose effect would not be the same on every member:
/// - `CREATE` / `ALTER EVENT`: every member's event scheduler would run the event on its own
///   mysqld (or only the origin's, where `event_scheduler` is on), writing outside grproxy;
/// - `DATA DIRECTORY` / `INDEX DIRECTORY`: a path on the origin's host, which the other
///   members may not have, or share (mysql-test's group run stopped members in ERROR on both).
fn ddl_refusal(text: &[u8]) -> Option<String> {
    const OBJECTS: &[&str] = &[
        "TABLE",
        "VIEW",
        "PROCEDURE",
        "FUNCTION",
        "PACKAGE",
        "TRIGGER",
        "EVENT",
        "INDEX",
        "DATABASE",
        "SCHEMA",
        "SEQUENCE",
        "SERVER",
        "TABLESPACE",
        "LOGFILE",
        "USER",
        "ROLE",
    ];
    let toks = sql::lexer::tokenize(text).tokens;
    let words: Vec<&sql::lexer::Token> = toks.iter().filter(|t| t.kind == sql::lexer::TokenKind::Word).collect();
    let verb = words.first()?;
    if verb.is_kw(text, "CREATE") || verb.is_kw(text, "ALTER") {
        let object = words
            .iter()
            .skip(1)
            .take(16)
            .find(|w| OBJECTS.iter().any(|o| w.is_kw(text, o)));
        if object.is_some_and(|w| w.is_kw(text, "EVENT")) {
            return Some(
                "CREATE/ALTER EVENT: a scheduled event runs on one member's mysqld, outside replication \
                 (use a scheduler that connects through grproxy)"
                    .into(),
            );
        }
    }
    let directory = toks
        .windows(2)
        .any(|w| (w[0].is_kw(text, "DATA") || w[0].is_kw(text, "INDEX")) && w[1].is_kw(text, "DIRECTORY"));
    directory.then(|| {
        "DATA DIRECTORY / INDEX DIRECTORY: a path on this member's host, which the other members may not have; \
         create the table in the default location"
            .into()
    })
}

/// `RESET MASTER` (MariaDB), `RESET BINARY LOGS AND GTIDS` (MySQL 8.4).
fn resets_binlog(text: &[u8]) -> bool {
    let toks = sql::lexer::tokenize(text).tokens;
    let mut words = toks.iter().filter(|t| t.kind == sql::lexer::TokenKind::Word).skip(1);
    words
        .next()
        .is_some_and(|t| t.is_kw(text, "MASTER") || t.is_kw(text, "BINARY"))
}

/// `GET [CURRENT | STACKED] DIAGNOSTICS ...`: reads the diagnostics area only.
fn is_get_diagnostics(text: &[u8]) -> bool {
    let src = text;
    let toks = sql::lexer::tokenize(src).tokens;
    let mut words = toks.iter().filter(|t| t.kind == sql::lexer::TokenKind::Word);
    words.next().is_some_and(|t| t.is_kw(src, "GET")) && words.take(2).any(|t| t.is_kw(src, "DIAGNOSTICS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(sql: &str) -> Route {
        let text = sql.as_bytes();
        let ranges = sql::split_statements_bytes(text);
        let parts: Vec<&[u8]> = ranges.iter().map(|r| &text[r.clone()]).collect();
        let classes: Vec<Classified> = parts.iter().map(|p| sql::classify_bytes(p)).collect();
        route(&parts, &classes)
    }

    #[test]
    fn routes() {
        use Route::*;
        let cases: &[(&str, Route)] = &[
            ("SELECT 1", Read),
            ("SELECT * FROM t WHERE id = 1 FOR UPDATE", Read),
            ("SELECT f(1)", Write),
            ("INSERT INTO t VALUES (1)", Write),
            ("UPDATE t SET a = 1", Write),
            ("CALL p()", Write),
            ("EXECUTE s", Write),
            ("BEGIN", Begin),
            ("START TRANSACTION WITH CONSISTENT SNAPSHOT", Begin),
            ("START TRANSACTION READ ONLY", CommitFirst),
            (
                "COMMIT",
                Commit {
                    chain: false,
                    release: false,
                },
            ),
            (
                "COMMIT AND CHAIN",
                Commit {
                    chain: true,
                    release: false,
                },
            ),
            (
                "ROLLBACK RELEASE",
                Rollback {
                    chain: false,
                    release: true,
                },
            ),
            ("SET autocommit = 0", Forward),
            ("SET @x = 1", Forward),
            ("SET @x = f(1)", Write),
            // Sequences: mysqld logs their change apart, the tap proposes it (replication::sequences).
            ("SELECT NEXTVAL(s)", Write),
            ("SET @x = (SELECT NEXTVAL(s))", Write),
            ("INSERT INTO t VALUES (NEXT VALUE FOR s, 1)", Write),
            ("SET autocommit = 1", CommitFirst),
            ("SET autocommit = DEFAULT", CommitFirst),
            ("SET @@session.autocommit = ON", CommitFirst),
            ("CREATE TABLE t (id INT PRIMARY KEY)", Ddl),
            ("CREATE TEMPORARY TABLE t (id INT)", Forward),
            ("SHOW TABLES", Forward),
            ("USE db", Forward),
            ("SET NAMES utf8mb4", Forward),
            ("CHECKSUM TABLE t", Forward),
            ("RESET QUERY CACHE", CommitFirst),
            ("CREATE USER 'a'@'%' IDENTIFIED BY 'x'", Ddl),
            ("GRANT SELECT ON db.* TO 'a'@'%'", Ddl),
            ("REVOKE SELECT ON db.* FROM 'a'@'%'", Ddl),
            ("SET PASSWORD FOR 'a'@'%' = PASSWORD('y')", Ddl),
            ("DROP USER 'a'@'%'", Ddl),
            // Dropping an event, and tables or columns named like the refused keywords.
            ("DROP EVENT IF EXISTS e", Ddl),
            ("CREATE TABLE event (id INT PRIMARY KEY, data_directory TEXT)", Ddl),
            (
                "ALTER TABLE t ADD COLUMN `directory` INT, COMMENT 'DATA DIRECTORY'",
                Ddl,
            ),
            ("LOCK TABLES t WRITE", CommitFirst),
            ("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)", Write),
            ("SELECT 1; SELECT 2", Read),
            ("GET DIAGNOSTICS @n = NUMBER", Forward),
            ("GET CURRENT DIAGNOSTICS CONDITION 1 @e = MYSQL_ERRNO", Forward),
        ];
        for (sql, want) in cases {
            assert_eq!(&r(sql), want, "{sql}");
        }
        let refused = [
            "XA START 'x'",
            "XA RECOVER",
            "INSERT INTO grproxy.applied VALUES (1)",
            "DELETE FROM `grproxy`.`applied`",
            "DROP DATABASE grproxy",
            "SET sql_log_bin = 0",
            "SET SESSION gtid_domain_id = 5",
            "SET STATEMENT sql_log_bin = 0 FOR INSERT INTO t VALUES (1)",
            "LOAD DATA INFILE '/tmp/x' INTO TABLE t",
            "INSERT INTO t VALUES (1); COMMIT",
            "INSERT INTO t VALUES (1); CREATE TABLE u (a INT)",
            "FROBNICATE everything",
            "SET PASSWORD = PASSWORD('x')",
            "ALTER USER CURRENT_USER() IDENTIFIED BY 'x'",
            "INSTALL PLUGIN blackhole SONAME 'ha_blackhole'",
            "INSTALL SONAME 'ha_blackhole'",
            "UNINSTALL PLUGIN blackhole",
            "CREATE EVENT e ON SCHEDULE EVERY 1 SECOND DO INSERT INTO t VALUES (1)",
            "CREATE DEFINER=root@localhost EVENT IF NOT EXISTS e ON SCHEDULE AT NOW() DO DELETE FROM t",
            "CREATE OR REPLACE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t",
            "ALTER EVENT e ENABLE",
            "CREATE TABLE t (id INT PRIMARY KEY) DATA DIRECTORY = '/tmp/x'",
            "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=MyISAM INDEX DIRECTORY='/tmp/y'",
            "ALTER TABLE t PARTITION BY HASH(id) (PARTITION p0 DATA DIRECTORY '/tmp/z')",
            "RESET MASTER",
            "reset master to 100",
            "RESET BINARY LOGS AND GTIDS",
            "SET @@global.gtid_binlog_state = '1-1-101'",
        ];
        for sql in refused {
            assert!(matches!(r(sql), Refuse(_)), "{sql}: {:?}", r(sql));
        }
    }
}
