//! Table-driven tests of [`classify`] by statement family.

use super::classify;
use super::detail::{AccountOp as A, AdminOp, Detail as D, MaintenanceOp as M, StatementKind as K, TxScope, XaOp};

use super::classify_tests::{check, BEGIN, CREATE_TABLE, SEL, SETVARS};

#[test]
fn dml_verbs() {
    check(&[
        ("INSERT IGNORE INTO t VALUES(1)", K::Dml, D::Insert),
        ("INSERT INTO t SELECT * FROM u", K::Dml, D::Insert),
        ("REPLACE INTO t VALUES (1)", K::Dml, D::Replace),
        ("CALL p(1)", K::Dml, D::Call),
        (
            "LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t",
            K::Dml,
            D::LoadData { local: true },
        ),
        (
            "LOAD DATA INFILE '/tmp/x' INTO TABLE t",
            K::Dml,
            D::LoadData { local: false },
        ),
        (
            "load data low_priority local infile 'x' into table t",
            K::Dml,
            D::LoadData { local: true },
        ),
        (
            "LOAD DATA CONCURRENT INFILE 'x' INTO TABLE t",
            K::Dml,
            D::LoadData { local: false },
        ),
        (
            "LOAD XML LOCAL INFILE 'x' INTO TABLE t",
            K::Dml,
            D::LoadData { local: true },
        ),
        ("LOAD INDEX INTO CACHE t", K::Admin, D::Admin(AdminOp::KeyCache)),
        ("LOAD FOO", K::Unsupported, D::Unknown),
    ]);
}

#[test]
fn ddl() {
    check(&[
        (
            "CREATE TEMPORARY TABLE tmp (a int)",
            K::Ddl,
            D::CreateTable { temporary: true },
        ),
        ("CREATE TABLE t2 AS SELECT * FROM t", K::Ddl, CREATE_TABLE),
        ("CREATE OR REPLACE TABLE t (a int)", K::Ddl, CREATE_TABLE),
        (
            "DROP TEMPORARY TABLE IF EXISTS tmp",
            K::Ddl,
            D::DropTable { temporary: true },
        ),
        ("ALTER TABLE t ADD COLUMN x int", K::Ddl, D::AlterTable),
        ("ALTER ONLINE IGNORE TABLE t ADD x int", K::Ddl, D::AlterTable),
        ("RENAME TABLE a TO b, c TO d", K::Ddl, D::RenameTable),
        ("TRUNCATE TABLE t", K::Ddl, D::TruncateTable),
        ("truncate t", K::Ddl, D::TruncateTable),
        ("CREATE UNIQUE INDEX u ON t(a)", K::Ddl, D::CreateIndex),
        ("CREATE SPATIAL INDEX s ON t(g)", K::Ddl, D::CreateIndex),
        ("DROP INDEX k ON t", K::Ddl, D::DropIndex),
        ("CREATE DATABASE d", K::Ddl, D::CreateDatabase),
        ("CREATE SCHEMA IF NOT EXISTS d", K::Ddl, D::CreateDatabase),
        ("DROP DATABASE d", K::Ddl, D::DropDatabase),
        ("DROP SCHEMA IF EXISTS d", K::Ddl, D::DropDatabase),
        ("ALTER DATABASE d CHARACTER SET utf8mb4", K::Ddl, D::OtherDdl),
        ("CREATE OR REPLACE VIEW v AS SELECT 1", K::Ddl, D::CreateView),
        (
            "CREATE ALGORITHM=MERGE DEFINER=`root`@`%` SQL SECURITY INVOKER VIEW v AS SELECT 1",
            K::Ddl,
            D::CreateView,
        ),
        (
            "CREATE DEFINER='u'@'h' PROCEDURE p() SELECT 1",
            K::Ddl,
            D::CreateRoutine,
        ),
        ("CREATE FUNCTION f() RETURNS INT RETURN 1", K::Ddl, D::CreateRoutine),
        (
            "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a=1",
            K::Ddl,
            D::CreateTrigger,
        ),
        (
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t",
            K::Ddl,
            D::OtherDdl,
        ),
        ("DROP VIEW v", K::Ddl, D::OtherDdl),
        ("DROP PROCEDURE IF EXISTS p", K::Ddl, D::OtherDdl),
        ("CREATE SPATIAL REFERENCE SYSTEM 4120 NAME 'x'", K::Ddl, D::OtherDdl),
        ("IMPORT TABLE FROM '/tmp/t.sdi'", K::Ddl, D::OtherDdl),
        ("CREATE (a int)", K::Unsupported, D::Unknown),
    ]);
    let c = classify("CREATE PROCEDURE p() BEGIN SELECT 1; END");
    assert_eq!((c.detail, c.multi_statement), (D::CreateRoutine, true));
}

#[test]
fn transactions() {
    let begin = |read_only, consistent_snapshot| D::Begin {
        read_only,
        consistent_snapshot,
    };
    let commit = |chain, release| D::Commit { chain, release };
    let name = |s: &str| s.to_string();
    check(&[
        ("START TRANSACTION", K::Transaction, begin(false, false)),
        ("START TRANSACTION READ ONLY", K::Transaction, begin(true, false)),
        ("start transaction read write", K::Transaction, begin(false, false)),
        (
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
            K::Transaction,
            begin(true, true),
        ),
        ("BEGIN WORK", K::Transaction, BEGIN),
        ("begin;", K::Transaction, BEGIN),
        ("BEGIN NOT ATOMIC SELECT 1; END", K::Unsupported, D::Unknown),
        ("COMMIT WORK", K::Transaction, commit(false, false)),
        ("COMMIT AND CHAIN", K::Transaction, commit(true, false)),
        ("COMMIT WORK AND NO CHAIN RELEASE", K::Transaction, commit(false, true)),
        ("COMMIT NO RELEASE", K::Transaction, commit(false, false)),
        (
            "ROLLBACK",
            K::Transaction,
            D::Rollback {
                chain: false,
                release: false,
            },
        ),
        (
            "ROLLBACK AND CHAIN",
            K::Transaction,
            D::Rollback {
                chain: true,
                release: false,
            },
        ),
        (
            "ROLLBACK WORK TO SAVEPOINT sp1",
            K::Transaction,
            D::RollbackToSavepoint { name: name("sp1") },
        ),
        (
            "ROLLBACK TO `sp 2`",
            K::Transaction,
            D::RollbackToSavepoint { name: name("sp 2") },
        ),
        ("SAVEPOINT sp1", K::Transaction, D::Savepoint { name: name("sp1") }),
        (
            "RELEASE SAVEPOINT sp1",
            K::Transaction,
            D::ReleaseSavepoint { name: name("sp1") },
        ),
        ("RELEASE sp1", K::Unsupported, D::Unknown),
        ("XA START 'x'", K::Transaction, D::Xa(XaOp::Start)),
        ("XA END 'x'", K::Transaction, D::Xa(XaOp::End)),
        ("XA PREPARE 'x'", K::Transaction, D::Xa(XaOp::Prepare)),
        ("XA COMMIT 'x' ONE PHASE", K::Transaction, D::Xa(XaOp::Commit)),
        ("XA ROLLBACK 'x'", K::Transaction, D::Xa(XaOp::Rollback)),
        ("XA RECOVER", K::Transaction, D::Xa(XaOp::Recover)),
        ("LOCK TABLE t READ", K::Transaction, D::Lock),
        ("LOCK INSTANCE FOR BACKUP", K::Transaction, D::Lock),
        ("UNLOCK INSTANCE", K::Transaction, D::Unlock),
    ]);
}

#[test]
fn set_statements() {
    let ac = |v| D::SetAutocommit(v);
    check(&[
        ("SET autocommit=0", K::Transaction, ac(Some(false))),
        ("SET autocommit = 1", K::Transaction, ac(Some(true))),
        ("SET @@autocommit = ON", K::Transaction, ac(Some(true))),
        ("SET SESSION autocommit=OFF", K::Transaction, ac(Some(false))),
        ("SET @@session.autocommit=TRUE", K::Transaction, ac(Some(true))),
        ("set @@LOCAL.AUTOCOMMIT = 'off'", K::Transaction, ac(Some(false))),
        ("SET LOCAL autocommit=false", K::Transaction, ac(Some(false))),
        ("SET autocommit := 1", K::Transaction, ac(Some(true))),
        (
            "SET autocommit=1, sql_mode='STRICT_ALL_TABLES'",
            K::Transaction,
            ac(Some(true)),
        ),
        ("SET sql_mode='', autocommit = 0", K::Transaction, ac(Some(false))),
        ("SET autocommit=0, autocommit=1", K::Transaction, ac(Some(true))),
        ("SET autocommit=@x", K::Transaction, ac(None)),
        ("SET autocommit=DEFAULT", K::Transaction, ac(None)),
        ("SET autocommit=1+0", K::Transaction, ac(None)),
        ("/*!40101 SET autocommit=0 */", K::Transaction, ac(Some(false))),
        ("SET GLOBAL autocommit=0", K::Admin, D::SetVariables { global: true }),
        ("SET @@global.autocommit=0", K::Admin, D::SetVariables { global: true }),
        ("SET @autocommit=0", K::Session, SETVARS),
        (
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            K::Transaction,
            D::SetTransaction { scope: TxScope::Next },
        ),
        (
            "SET GLOBAL TRANSACTION READ ONLY",
            K::Admin,
            D::SetTransaction { scope: TxScope::Global },
        ),
        ("SET CHARACTER SET utf8", K::Session, D::SetNames),
        ("SET CHARSET utf8", K::Session, D::SetNames),
        ("SET @a = 1", K::Session, SETVARS),
        ("SET @a:=1, @b=(SELECT 1, 2)", K::Session, SETVARS),
        ("SET SESSION sql_mode = 'ANSI'", K::Session, SETVARS),
        (
            "SET GLOBAL max_connections=1000",
            K::Admin,
            D::SetVariables { global: true },
        ),
        (
            "SET PERSIST max_connections=1000",
            K::Admin,
            D::SetVariables { global: true },
        ),
        ("SET @@persist_only.x=1", K::Admin, D::SetVariables { global: true }),
        ("SET STATEMENT max_statement_time=60 FOR SELECT * FROM t", K::Read, SEL),
        ("SET STATEMENT a=1, b=(2) FOR UPDATE t SET a=1", K::Dml, D::Update),
        ("SET STATEMENT a=1", K::Unsupported, D::Unknown),
        (
            "SET STATEMENT a=1 FOR SET STATEMENT b=(1) FOR DELETE FROM t",
            K::Dml,
            D::Delete,
        ),
        (
            "SET STATEMENT a=1 FOR SET autocommit=0",
            K::Transaction,
            ac(Some(false)),
        ),
        ("SET `autocommit` = 0", K::Transaction, ac(Some(false))),
        ("SET PASSWORD = 'x'", K::Admin, D::Account(A::SetPassword)),
        ("SET PASSWORD FOR u = 'x'", K::Admin, D::Account(A::SetPassword)),
        ("SET DEFAULT ROLE ALL TO u", K::Admin, D::Account(A::SetDefaultRole)),
        ("SET ROLE r", K::Session, D::SetRole),
        ("SET RESOURCE GROUP g", K::Session, SETVARS),
        ("SET", K::Unsupported, D::Unknown),
    ]);
    // Deeply nested prefixes must not recurse.
    let deep = "SET STATEMENT a=1 FOR ".repeat(50_000) + "SELECT 1";
    assert_eq!(classify(&deep).kind, K::Read);
}

#[test]
fn session_and_admin() {
    let name = |s: &str| s.to_string();
    check(&[
        ("USE test", K::Session, D::Use { schema: name("test") }),
        ("use `my``db`", K::Session, D::Use { schema: name("my`db") }),
        ("USE", K::Unsupported, D::Unknown),
        ("PREPARE s FROM 'SELECT ?'", K::Session, D::Prepare),
        ("EXECUTE s USING @a", K::Session, D::Execute),
        ("DEALLOCATE PREPARE s", K::Session, D::Deallocate),
        ("DROP PREPARE s", K::Session, D::Deallocate),
        ("HANDLER t OPEN", K::Session, D::Handler),
        ("GRANT SELECT ON *.* TO 'u'@'%'", K::Admin, D::Account(A::Grant)),
        ("REVOKE ALL ON d.* FROM u", K::Admin, D::Account(A::Revoke)),
        (
            "CREATE USER 'u'@'%' IDENTIFIED BY 'p'",
            K::Admin,
            D::Account(A::CreateUser),
        ),
        ("CREATE USER IF NOT EXISTS u", K::Admin, D::Account(A::CreateUser)),
        ("ALTER USER u IDENTIFIED BY 'x'", K::Admin, D::Account(A::AlterUser)),
        ("DROP USER u", K::Admin, D::Account(A::DropUser)),
        ("RENAME USER a TO b", K::Admin, D::Account(A::RenameUser)),
        ("CREATE ROLE r", K::Admin, D::Account(A::CreateRole)),
        ("DROP ROLE r", K::Admin, D::Account(A::DropRole)),
        ("FLUSH PRIVILEGES", K::Admin, D::Flush { read_lock: false }),
        ("FLUSH TABLES WITH READ LOCK", K::Admin, D::Flush { read_lock: true }),
        ("FLUSH TABLES t FOR EXPORT", K::Admin, D::Flush { read_lock: true }),
        ("ANALYZE TABLE t", K::Admin, D::Maintenance(M::Analyze)),
        (
            "ANALYZE NO_WRITE_TO_BINLOG TABLE t",
            K::Admin,
            D::Maintenance(M::Analyze),
        ),
        ("OPTIMIZE TABLE t", K::Admin, D::Maintenance(M::Optimize)),
        ("CHECK TABLE t", K::Admin, D::Maintenance(M::Check)),
        ("REPAIR TABLE t", K::Admin, D::Maintenance(M::Repair)),
        ("CHECKSUM TABLE t", K::Admin, D::Maintenance(M::Checksum)),
        ("PURGE BINARY LOGS TO 'x'", K::Admin, D::Admin(AdminOp::Purge)),
        ("RESET MASTER", K::Admin, D::Admin(AdminOp::Reset)),
        (
            "CHANGE MASTER TO MASTER_HOST='h'",
            K::Admin,
            D::Admin(AdminOp::Replication),
        ),
        ("START SLAVE", K::Admin, D::Admin(AdminOp::Replication)),
        ("START REPLICA", K::Admin, D::Admin(AdminOp::Replication)),
        ("STOP GROUP_REPLICATION", K::Admin, D::Admin(AdminOp::Replication)),
        ("SHUTDOWN", K::Admin, D::Admin(AdminOp::Shutdown)),
        ("RESTART", K::Admin, D::Admin(AdminOp::Restart)),
        ("INSTALL PLUGIN x SONAME 'y'", K::Admin, D::Admin(AdminOp::Plugin)),
        ("CACHE INDEX t IN c", K::Admin, D::Admin(AdminOp::KeyCache)),
        ("BINLOG 'abc'", K::Admin, D::Admin(AdminOp::Binlog)),
        ("CLONE LOCAL DATA DIRECTORY '/x'", K::Admin, D::Admin(AdminOp::Clone)),
        (
            "ALTER INSTANCE ROTATE INNODB MASTER KEY",
            K::Admin,
            D::Admin(AdminOp::Other),
        ),
        ("START FOO", K::Unsupported, D::Unknown),
    ]);
}
