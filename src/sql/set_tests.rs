//! Tests of `SET` classification: every way to set `autocommit`, scope
//! propagation, and [`session_variables_set`].
//!
//! The autocommit values and scope rules were checked on MariaDB 10.11 with
//! `SET ...; SELECT @@autocommit, @@global.autocommit`.

use super::classify_tests::check;
use super::detail::{Detail as D, StatementKind as K, VarScope};
use super::{classify, session_variables_set, session_variables_set_with, LexOptions};

const GLOBAL: D = D::SetVariables { global: true };

#[test]
fn autocommit_values() {
    let ac = |v| (K::Transaction, D::SetAutocommit(v));
    // (value as written, what the server sets it to; None when the value is
    // not a constant or the server rejects it)
    let cases: &[(&str, Option<bool>)] = &[
        ("1", Some(true)),
        ("0", Some(false)),
        ("ON", Some(true)),
        ("OFF", Some(false)),
        ("on", Some(true)),
        ("oFf", Some(false)),
        ("TRUE", Some(true)),
        ("FALSE", Some(false)),
        ("true", Some(true)),
        ("'ON'", Some(true)),
        ("'off'", Some(false)),
        ("'ofF'", Some(false)),
        ("\"on\"", Some(true)),
        ("`ON`", Some(true)),
        ("_latin1'ON'", Some(true)),
        ("00", Some(false)),
        ("01", Some(true)),
        ("(0)", Some(false)),
        ("(TRUE)", Some(true)),
        // Rejected by the server (error 1231/1232): not a known value.
        ("'0'", None),
        ("'1'", None),
        ("'true'", None),
        ("'false'", None),
        ("'yes'", None),
        ("YES", None),
        ("2", None),
        ("1.0", None),
        ("0x01", None),
        ("b'1'", None),
        ("NULL", None),
        ("`0`", None),
        // Not lexical constants.
        ("DEFAULT", None),
        ("?", None),
        ("@x", None),
        ("@@global.autocommit", None),
        ("1+0", None),
        ("-1+1", None),
        ("+1", None),
        ("1=1", None),
        ("(SELECT 0)", None),
        ("IF(@a, 1, 0)", None),
        ("(ON)", None),
    ];
    for (value, want) in cases {
        let sql = format!("SET autocommit = {value}");
        let got = classify(&sql);
        assert_eq!((got.kind, got.detail), ac(*want), "{sql}");
    }
}

#[test]
fn autocommit_forms() {
    let ac = |v| D::SetAutocommit(Some(v));
    check(&[
        ("SET autocommit=0", K::Transaction, ac(false)),
        ("SET @@autocommit=0", K::Transaction, ac(false)),
        ("SET @@session.autocommit=0", K::Transaction, ac(false)),
        ("SET @@local.autocommit=0", K::Transaction, ac(false)),
        ("SET SESSION autocommit=0", K::Transaction, ac(false)),
        ("SET LOCAL autocommit=0", K::Transaction, ac(false)),
        ("SET autocommit := 1", K::Transaction, ac(true)),
        ("SET session autocommit:=0", K::Transaction, ac(false)),
        ("set AutoCommit = On", K::Transaction, ac(true)),
        ("SET @@SESSION.AUTOCOMMIT=1", K::Transaction, ac(true)),
        ("SET `autocommit`=1", K::Transaction, ac(true)),
        ("SET `AutoCommit`=0", K::Transaction, ac(false)),
        ("SET @@`autocommit`=0", K::Transaction, ac(false)),
        ("SET @@session.`autocommit`=0", K::Transaction, ac(false)),
        ("SET @@session .autocommit=0", K::Transaction, ac(false)),
        ("SET @@session. autocommit=0", K::Transaction, ac(false)),
        ("SET @@local . autocommit=0", K::Transaction, ac(false)),
        ("SET @@session/* c */.autocommit=0", K::Transaction, ac(false)),
        (
            "SET /* c */ autocommit /* c */ = /* c */ 0 /* c */",
            K::Transaction,
            ac(false),
        ),
        ("SET autocommit=0 -- trailing\n", K::Transaction, ac(false)),
        ("SET autocommit=0 # trailing", K::Transaction, ac(false)),
        ("SET /*!autocommit=0*/", K::Transaction, ac(false)),
        ("/*!40101 SET autocommit=0 */", K::Transaction, ac(false)),
        ("/*!SET*/ autocommit=1", K::Transaction, ac(true)),
        ("SET autocommit=/*!50000 0 */", K::Transaction, ac(false)),
        ("/*M!100100 SET @@autocommit=ON */", K::Transaction, ac(true)),
        ("SET x=1, autocommit=0", K::Transaction, ac(false)),
        ("SET @a=1, @@autocommit=1, sql_mode=''", K::Transaction, ac(true)),
        ("SET NAMES utf8mb4, autocommit=0", K::Transaction, ac(false)),
        ("SET autocommit=0, autocommit=1", K::Transaction, ac(true)),
        (
            "SET autocommit=1, autocommit=@x",
            K::Transaction,
            D::SetAutocommit(None),
        ),
        ("SET autocommit=(SELECT 1), x=2", K::Transaction, D::SetAutocommit(None)),
        ("SET autocommit=0;", K::Transaction, ac(false)),
        // A user variable or a different variable is not autocommit.
        ("SET @autocommit=0", K::Session, D::SetVariables { global: false }),
        ("SET @`autocommit`=0", K::Session, D::SetVariables { global: false }),
        ("SET autocommit_x=0", K::Session, D::SetVariables { global: false }),
        ("SET x = 'autocommit=0'", K::Session, D::SetVariables { global: false }),
        // `session.autocommit` is a structured variable named `session` (the
        // server rejects it), not the session's autocommit.
        (
            "SET session.autocommit=0",
            K::Session,
            D::SetVariables { global: false },
        ),
        ("SET global.autocommit=0", K::Session, D::SetVariables { global: false }),
        // GLOBAL is not the session's.
        ("SET GLOBAL autocommit=0", K::Admin, GLOBAL),
        ("SET @@global.autocommit=0", K::Admin, GLOBAL),
        ("SET @@GLOBAL.`autocommit`=0", K::Admin, GLOBAL),
        ("SET @@global . autocommit=0", K::Admin, GLOBAL),
        ("SET PERSIST autocommit=0", K::Admin, GLOBAL),
        // The GLOBAL keyword carries over to later bare names (verified:
        // `SET GLOBAL sort_buffer_size=1000000, autocommit=0` sets the
        // global autocommit) ...
        ("SET GLOBAL sort_buffer_size=1000000, autocommit=0", K::Admin, GLOBAL),
        ("SET GLOBAL a=1, @x=1, autocommit=1", K::Admin, GLOBAL),
        ("SET GLOBAL autocommit = 0, `autocommit`=0", K::Admin, GLOBAL),
        // ... until SESSION/LOCAL, and never to `@@name`, which is the session's.
        ("SET GLOBAL a=1, SESSION autocommit=0", K::Transaction, ac(false)),
        ("SET GLOBAL a=1, LOCAL b=2, autocommit=0", K::Transaction, ac(false)),
        ("SET GLOBAL autocommit=0, @@autocommit=0", K::Transaction, ac(false)),
        (
            "SET GLOBAL autocommit=1, @@session.autocommit=0",
            K::Transaction,
            ac(false),
        ),
        // `@@global.x` does not change the scope of later bare names.
        (
            "SET @@global.sort_buffer_size=1000000, autocommit=0",
            K::Transaction,
            ac(false),
        ),
        // SET STATEMENT is classified by its inner statement.
        ("SET STATEMENT a=1 FOR SET autocommit=0", K::Transaction, ac(false)),
    ]);
}

#[test]
fn variables_set() {
    use VarScope::{Global as G, Session as S, User as U};
    let cases: &[(&str, &[(VarScope, &str)])] = &[
        ("SET sql_log_bin = 0", &[(S, "sql_log_bin")]),
        ("SET SQL_LOG_BIN=0", &[(S, "sql_log_bin")]),
        ("SET @@sql_log_bin=0", &[(S, "sql_log_bin")]),
        ("SET @@session.sql_log_bin=OFF", &[(S, "sql_log_bin")]),
        ("SET SESSION sql_log_bin=0", &[(S, "sql_log_bin")]),
        ("SET LOCAL completion_type=1", &[(S, "completion_type")]),
        ("SET `binlog_format`='STATEMENT'", &[(S, "binlog_format")]),
        ("SET @@`gtid_domain_id`=5", &[(S, "gtid_domain_id")]),
        ("SET @@session . gtid_seq_no = 5", &[(S, "gtid_seq_no")]),
        ("/*!40101 SET foreign_key_checks=0 */", &[(S, "foreign_key_checks")]),
        (
            "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */",
            &[(U, "old_unique_checks"), (S, "unique_checks")],
        ),
        ("SET @a = 1, @'b c' := 2, @`D`=3", &[(U, "a"), (U, "b c"), (U, "d")]),
        ("SET GLOBAL server_id=2", &[(G, "server_id")]),
        ("SET @@global.server_id=2", &[(G, "server_id")]),
        ("SET PERSIST max_connections=10", &[(G, "max_connections")]),
        (
            "SET GLOBAL a=1, b=2, SESSION c=3, d=4, @@e=5, @@global.f=6, g=7",
            &[(G, "a"), (G, "b"), (S, "c"), (S, "d"), (S, "e"), (G, "f"), (S, "g")],
        ),
        ("SET GLOBAL a=1, @x=2, b=3", &[(G, "a"), (U, "x"), (G, "b")]),
        (
            "SET skip_replication=1, pseudo_thread_id=5",
            &[(S, "skip_replication"), (S, "pseudo_thread_id")],
        ),
        ("SET autocommit=0", &[(S, "autocommit")]),
        ("SET x = (SELECT a FROM t WHERE b = 1), y = 2", &[(S, "x"), (S, "y")]),
        ("SET default.key_buffer_size = 1", &[(S, "default.key_buffer_size")]),
        (
            "SET NAMES utf8mb4",
            &[
                (S, "character_set_client"),
                (S, "character_set_connection"),
                (S, "character_set_results"),
                (S, "collation_connection"),
            ],
        ),
        (
            "SET CHARACTER SET latin1, @x=1",
            &[
                (S, "character_set_client"),
                (S, "character_set_results"),
                (S, "character_set_connection"),
                (S, "collation_connection"),
                (U, "x"),
            ],
        ),
        (
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY",
            &[(S, "transaction_isolation"), (S, "transaction_read_only")],
        ),
        ("SET GLOBAL TRANSACTION READ WRITE", &[(G, "transaction_read_only")]),
        ("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", &[]),
        ("SET PASSWORD = 'x'", &[]),
        ("SET ROLE r", &[]),
        ("SET DEFAULT ROLE r FOR u", &[]),
        ("SET", &[]),
        ("SELECT @a := 1", &[]),
        ("INSERT INTO t SET a = 1", &[]),
        ("UPDATE t SET sql_log_bin = 0", &[]),
        // SET STATEMENT: its variables, then those of an inner SET.
        (
            "SET STATEMENT sql_log_bin=0 FOR INSERT INTO t VALUES (1)",
            &[(S, "sql_log_bin")],
        ),
        (
            "SET STATEMENT max_statement_time=5, foreign_key_checks=(0) FOR UPDATE t SET a = 1",
            &[(S, "max_statement_time"), (S, "foreign_key_checks")],
        ),
        (
            "SET STATEMENT a=1 FOR SET STATEMENT b=2 FOR SET @c=3, d=4",
            &[(S, "a"), (S, "b"), (U, "c"), (S, "d")],
        ),
        ("SET STATEMENT a=1", &[(S, "a")]),
        // Only the first statement of a multi-statement text.
        ("SET a=1; SET b=2", &[(S, "a")]),
    ];
    for (sql, want) in cases {
        let got = session_variables_set(sql.as_bytes());
        let want: Vec<(VarScope, String)> = want.iter().map(|(s, n)| (*s, n.to_string())).collect();
        assert_eq!(got, want, "session_variables_set({sql:?})");
    }
    // ANSI_QUOTES: "x" is an identifier.
    let ansi = LexOptions::default().with_sql_mode("ANSI");
    assert_eq!(
        session_variables_set_with(br#"SET "sql_log_bin" = 0"#, ansi),
        [(S, "sql_log_bin".to_string())]
    );
}

#[test]
fn set_statement_inner_kind() {
    check(&[
        ("SET STATEMENT sql_log_bin=0 FOR UPDATE t SET a=1", K::Dml, D::Update),
        ("SET STATEMENT x=1 FOR INSERT INTO t VALUES (1)", K::Dml, D::Insert),
        ("SET STATEMENT x=1 FOR DELETE FROM t", K::Dml, D::Delete),
        ("SET STATEMENT x=1 FOR REPLACE INTO t VALUES (1)", K::Dml, D::Replace),
        (
            "SET STATEMENT x=1 FOR CREATE TABLE t (a INT)",
            K::Ddl,
            D::CreateTable { temporary: false },
        ),
        ("set statement x=(1), y=2 for call p()", K::Dml, D::Call),
        ("SET STATEMENT x=1 FOR SET GLOBAL y=2", K::Admin, GLOBAL),
    ]);
}
