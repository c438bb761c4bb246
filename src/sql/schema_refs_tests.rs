//! Tests of [`qualified_schema_refs`].

use super::{qualified_schema_refs, qualified_schema_refs_with, LexOptions};

#[test]
fn schema_refs() {
    let cases: &[(&str, &[&str])] = &[
        ("INSERT INTO grproxy.applied VALUES (1)", &["grproxy"]),
        ("DELETE FROM `grproxy`.`applied`", &["grproxy"]),
        ("UPDATE GrProxy . applied SET a = 1", &["grproxy"]),
        ("UPDATE grproxy/* c */./* c */applied SET a = 1", &["grproxy"]),
        ("SELECT * FROM `gr``proxy`.t", &["gr`proxy"]),
        ("SELECT db.t.c FROM db.t", &["db"]),
        ("SELECT t.c FROM t", &["t"]),
        ("SELECT a FROM t", &[]),
        ("SELECT a.* FROM db1.t AS a JOIN db2.u", &["a", "db1", "db2"]),
        ("GRANT ALL ON grproxy.* TO u", &["grproxy"]),
        ("GRANT SELECT ON `grproxy`.* TO u", &["grproxy"]),
        ("CALL grproxy.p()", &["grproxy"]),
        ("SELECT grproxy.f(1)", &["grproxy"]),
        ("RENAME TABLE t TO grproxy.t", &["grproxy"]),
        ("CREATE TABLE x LIKE grproxy.y", &["grproxy"]),
        (
            "CREATE TRIGGER grproxy.tr BEFORE INSERT ON t FOR EACH ROW SET @x = 1",
            &["grproxy"],
        ),
        ("USE grproxy", &["grproxy"]),
        ("use `GRPROXY`", &["grproxy"]),
        ("/*!40000 USE grproxy */", &["grproxy"]),
        ("CREATE DATABASE grproxy", &["grproxy"]),
        ("CREATE DATABASE IF NOT EXISTS grproxy", &["grproxy"]),
        ("CREATE OR REPLACE SCHEMA grproxy", &["grproxy"]),
        ("DROP DATABASE grproxy", &["grproxy"]),
        ("DROP SCHEMA IF EXISTS `grproxy`", &["grproxy"]),
        ("ALTER DATABASE grproxy CHARACTER SET utf8mb4", &["grproxy"]),
        ("ALTER DATABASE CHARACTER SET utf8mb4", &[]),
        ("ALTER SCHEMA DEFAULT COLLATE utf8mb4_bin", &[]),
        ("SHOW CREATE DATABASE grproxy", &["grproxy"]),
        ("SHOW TABLES FROM grproxy", &["grproxy"]),
        ("SHOW TABLE STATUS IN grproxy LIKE 'a%'", &["grproxy"]),
        (
            "SET STATEMENT max_statement_time=1 FOR DROP DATABASE grproxy",
            &["grproxy"],
        ),
        ("SELECT DATABASE()", &[]),
        ("SELECT 1; USE grproxy", &["grproxy"]),
        ("SELECT 'grproxy.t', \"grproxy.u\" FROM t -- grproxy.v", &[]),
        ("SELECT @@global.max_connections, @a.b", &[]),
        ("SELECT 1.5, .5, t.5 FROM t", &[]),
        (
            "SELECT * FROM information_schema.tables WHERE table_schema = 'grproxy'",
            &["information_schema"],
        ),
        ("INSERT INTO a.t SELECT * FROM b.t JOIN a.u", &["a", "b"]),
    ];
    for (sql, want) in cases {
        assert_eq!(&qualified_schema_refs(sql.as_bytes()), want, "{sql}");
    }
}

#[test]
fn schema_refs_by_mode() {
    let ansi = LexOptions::default().with_sql_mode("ANSI_QUOTES");
    let sql = br#"DELETE FROM "grproxy"."applied""#;
    assert_eq!(qualified_schema_refs_with(sql, ansi), ["grproxy"]);
    assert!(qualified_schema_refs(sql).is_empty());
    // Under NO_BACKSLASH_ESCAPES the string ends early and the name is code.
    let sql = br"SELECT 'a\', grproxy.t -- '";
    assert!(qualified_schema_refs(sql).is_empty());
    let nbe = LexOptions::default().with_sql_mode("NO_BACKSLASH_ESCAPES");
    assert_eq!(qualified_schema_refs_with(sql, nbe), ["grproxy"]);
}
