//! Tests of [`commits_implicitly`], XA and `EXECUTE IMMEDIATE`
//! classification.
//!
//! Each expectation below was observed on MariaDB 10.11 with `BEGIN; INSERT
//! INTO t VALUES (1); <stmt>; ROLLBACK;` (the row survived exactly when
//! `<stmt>` committed) and `SELECT @@in_transaction` after `<stmt>`.

use super::classify_tests::check;
use super::detail::{Detail as D, StatementKind as K, XaOp};
use super::{classify, commits_implicitly};

/// (statement, whether the server committed the open transaction)
const SERVER_OBSERVED: &[(&str, bool)] = &[
    ("SELECT 1", false),
    ("SELECT * FROM u FOR UPDATE", false),
    ("SELECT 1 INTO OUTFILE '/tmp/x'", false),
    ("SELECT NEXTVAL(s)", false),
    ("DO 1", false),
    ("SHOW TABLES", false),
    ("DESCRIBE u", false),
    ("EXPLAIN SELECT 1", false),
    ("HELP 'contents'", false),
    ("INSERT INTO u VALUES (2)", false),
    ("CALL p()", false),
    ("LOAD DATA INFILE '/tmp/x' INTO TABLE u", false),
    ("CREATE TABLE x (i INT)", true),
    ("CREATE TABLE IF NOT EXISTS t (i INT)", true),
    ("CREATE OR REPLACE TABLE x (i INT)", true),
    ("CREATE TABLE x AS SELECT 1 AS a", true),
    ("CREATE TEMPORARY TABLE x (i INT)", false),
    ("CREATE TEMPORARY TABLE x AS SELECT 1 AS a", false),
    ("DROP TEMPORARY TABLE xt", false),
    ("DROP TEMPORARY TABLE IF EXISTS nosuch", false),
    ("DROP TABLE u", true),
    ("DROP TABLE nosuch", true),
    ("DROP TABLE IF EXISTS nosuch", true),
    ("ALTER TABLE u ADD j INT", true),
    ("ALTER TABLE nosuch ADD j INT", true),
    ("RENAME TABLE u TO u2", true),
    ("TRUNCATE TABLE u", true),
    ("CREATE INDEX k2 ON u(i)", true),
    ("DROP INDEX k ON u", true),
    ("CREATE DATABASE h2", true),
    ("DROP DATABASE h3x", true),
    ("ALTER DATABASE h3x CHARACTER SET utf8mb4", true),
    ("CREATE VIEW v2 AS SELECT 1", true),
    ("ALTER VIEW v AS SELECT 2 AS a", true),
    ("DROP VIEW v", true),
    ("CREATE PROCEDURE p2() SELECT 1", true),
    ("ALTER PROCEDURE p COMMENT 'x'", true),
    ("DROP PROCEDURE p", true),
    ("CREATE FUNCTION f2() RETURNS INT RETURN 1", true),
    ("ALTER FUNCTION f COMMENT 'x'", true),
    ("DROP FUNCTION f", true),
    ("CREATE TRIGGER tr2 BEFORE UPDATE ON u FOR EACH ROW SET @x=1", true),
    ("DROP TRIGGER tr", true),
    ("CREATE EVENT e2 ON SCHEDULE EVERY 1 DAY DO SELECT 1", true),
    ("ALTER EVENT e COMMENT 'x'", true),
    ("DROP EVENT e", true),
    ("CREATE SEQUENCE s2", true),
    ("CREATE TEMPORARY SEQUENCE s3", true),
    ("ALTER SEQUENCE s RESTART 5", true),
    ("DROP SEQUENCE s", true),
    ("DROP TEMPORARY SEQUENCE st", false),
    ("CREATE SERVER srv2 FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'x')", true),
    ("ALTER SERVER srv OPTIONS (HOST 'y')", true),
    ("DROP SERVER srv", true),
    ("CREATE USER nu", true),
    ("ALTER USER uu IDENTIFIED BY 'x'", true),
    ("RENAME USER uu TO uu2", true),
    ("DROP USER uu", true),
    ("CREATE ROLE nr", true),
    ("DROP ROLE rr", true),
    ("GRANT SELECT ON h.* TO uu", true),
    ("REVOKE ALL PRIVILEGES, GRANT OPTION FROM uu", true),
    ("GRANT rr TO uu", true),
    ("SET PASSWORD FOR uu = PASSWORD('x')", true),
    ("SET DEFAULT ROLE rr FOR uu", true),
    ("SET ROLE NONE", false),
    ("ANALYZE TABLE u", true),
    ("ANALYZE SELECT 1", false),
    ("OPTIMIZE TABLE u", true),
    ("CHECK TABLE u", true),
    ("REPAIR TABLE m", true),
    ("CHECKSUM TABLE u", false),
    ("CHECKSUM TABLE u EXTENDED", false),
    ("FLUSH TABLES", true),
    ("FLUSH PRIVILEGES", true),
    ("FLUSH STATUS", true),
    ("FLUSH LOGS", true),
    ("FLUSH TABLES WITH READ LOCK", true),
    ("FLUSH TABLES u FOR EXPORT", true),
    ("LOCK TABLES u WRITE", true),
    ("LOCK TABLE u READ", true),
    ("BEGIN", true),
    ("START TRANSACTION READ ONLY", true),
    ("SET autocommit=0", false),
    ("SET @x=1", false),
    ("SET sql_mode=''", false),
    ("SET NAMES utf8mb4", false),
    ("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", false),
    ("SET GLOBAL max_connections=200", false),
    ("SET STATEMENT max_statement_time=10 FOR CREATE TABLE x (i INT)", true),
    ("SET STATEMENT max_statement_time=10 FOR SELECT 1", false),
    ("SAVEPOINT a", false),
    ("USE h", false),
    ("PREPARE st FROM 'CREATE TABLE x (i INT)'", false),
    ("DEALLOCATE PREPARE st", false),
    ("EXECUTE IMMEDIATE 'SELECT 1'", false),
    ("CACHE INDEX m IN DEFAULT", false),
    ("LOAD INDEX INTO CACHE m", false),
    ("RESET QUERY CACHE", true),
    ("RESET MASTER", true),
    ("RESET SLAVE", true),
    ("CHANGE MASTER TO MASTER_HOST='127.0.0.1'", false),
    ("START SLAVE", false),
    ("PURGE BINARY LOGS BEFORE NOW()", false),
    ("INSTALL SONAME 'ha_blackhole'", true),
    ("UNINSTALL SONAME 'ha_blackhole'", true),
    ("INSTALL PLUGIN blackhole SONAME 'ha_blackhole'", true),
    ("HANDLER u OPEN", false),
    ("KILL QUERY 999999", false),
    ("XA RECOVER", false),
    ("SELECT GET_LOCK('a', 0)", false),
];

#[test]
fn matches_the_server() {
    assert!(SERVER_OBSERVED.len() >= 100);
    for (sql, want) in SERVER_OBSERVED {
        let c = classify(sql);
        assert_eq!(commits_implicitly(&c), *want, "{sql}: {c:?}");
    }
}

#[test]
fn state_dependent() {
    // Commits only when autocommit was 0: reported as committing.
    for sql in [
        "SET autocommit=1",
        "SET @@autocommit=ON",
        "SET autocommit=DEFAULT",
        "SET autocommit=@x",
    ] {
        assert!(commits_implicitly(&classify(sql)), "{sql}");
    }
    for sql in ["SET autocommit=0", "SET autocommit=OFF", "SET GLOBAL autocommit=1"] {
        assert!(!commits_implicitly(&classify(sql)), "{sql}");
    }
    // Commits only while LOCK TABLES locks are held: reported as not.
    assert!(!commits_implicitly(&classify("UNLOCK TABLES")));
    // Depends on the executed statement: reported as not.
    assert!(!commits_implicitly(&classify("EXECUTE st")));
    assert!(!commits_implicitly(&classify(
        "EXECUTE IMMEDIATE 'CREATE TABLE x (i INT)'"
    )));
}

#[test]
fn xa_and_dynamic_sql() {
    check(&[
        ("XA START 'x'", K::Transaction, D::Xa(XaOp::Start)),
        ("XA BEGIN 'x', 'b', 1", K::Transaction, D::Xa(XaOp::Start)),
        ("xa start x'0102'", K::Transaction, D::Xa(XaOp::Start)),
        ("/* c */ XA END 'x' SUSPEND", K::Transaction, D::Xa(XaOp::End)),
        ("XA PREPARE 'x'", K::Transaction, D::Xa(XaOp::Prepare)),
        ("XA COMMIT 'x' ONE PHASE", K::Transaction, D::Xa(XaOp::Commit)),
        ("XA ROLLBACK 'x'", K::Transaction, D::Xa(XaOp::Rollback)),
        ("XA RECOVER FORMAT='SQL'", K::Transaction, D::Xa(XaOp::Recover)),
        ("/*!XA START 'x' */", K::Transaction, D::Xa(XaOp::Start)),
        ("XA", K::Transaction, D::Xa(XaOp::Other)),
        ("EXECUTE IMMEDIATE 'DELETE FROM t'", K::Session, D::Execute),
        ("execute immediate concat('DELETE ', 'FROM t')", K::Session, D::Execute),
        ("EXECUTE IMMEDIATE @sql USING 1", K::Session, D::Execute),
        ("EXECUTE st USING @a", K::Session, D::Execute),
        ("DROP TEMPORARY SEQUENCE s", K::Ddl, D::DropTable { temporary: true }),
        ("DROP SEQUENCE s", K::Ddl, D::OtherDdl),
        ("CREATE TEMPORARY SEQUENCE s", K::Ddl, D::OtherDdl),
    ]);
}
