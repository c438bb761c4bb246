//! Table-driven tests of [`classify`] and [`split_statements`].

use super::detail::{Detail as D, KillKind, KillTarget, SelectInto, StatementKind as K, TxScope};
use super::{classify, split_statements};

pub(super) const SEL: D = D::Select {
    locking: false,
    into: SelectInto::None,
};
pub(super) const BEGIN: D = D::Begin {
    read_only: false,
    consistent_snapshot: false,
};
pub(super) const SETVARS: D = D::SetVariables { global: false };
pub(super) const CREATE_TABLE: D = D::CreateTable { temporary: false };

pub(super) fn check(cases: &[(&str, K, D)]) {
    for (sql, kind, detail) in cases {
        let got = classify(sql);
        assert_eq!((got.kind, &got.detail), (*kind, detail), "classify({sql:?}) = {got:?}");
    }
}

#[test]
fn sysbench() {
    let create = "CREATE TABLE sbtest1(id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' \
                  NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, \
                  PRIMARY KEY (id)) /*! ENGINE = innodb */";
    check(&[
        ("SELECT c FROM sbtest1 WHERE id=?", K::Read, SEL),
        ("SELECT c FROM sbtest1 WHERE id=4711", K::Read, SEL),
        ("SELECT c FROM sbtest1 WHERE id BETWEEN ? AND ?", K::Read, SEL),
        ("SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN ? AND ?", K::Read, SEL),
        ("SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN 5 AND 104", K::Read, SEL),
        (
            "SELECT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c",
            K::Read,
            SEL,
        ),
        (
            "SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c",
            K::Read,
            SEL,
        ),
        (
            "SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c",
            K::Read,
            SEL,
        ),
        ("UPDATE sbtest1 SET k=k+1 WHERE id=?", K::Dml, D::Update),
        ("UPDATE sbtest1 SET k=k+1 WHERE id=5", K::Dml, D::Update),
        ("UPDATE sbtest1 SET c=? WHERE id=?", K::Dml, D::Update),
        ("UPDATE sbtest1 SET c='83868641912-287' WHERE id=9", K::Dml, D::Update),
        ("DELETE FROM sbtest1 WHERE id=?", K::Dml, D::Delete),
        ("DELETE FROM sbtest1 WHERE id=5003", K::Dml, D::Delete),
        (
            "INSERT INTO sbtest1 (id, k, c, pad) VALUES (?, ?, ?, ?)",
            K::Dml,
            D::Insert,
        ),
        (
            "INSERT INTO sbtest1 (id, k, c, pad) VALUES (5003, 4994, '1-2', '3-4')",
            K::Dml,
            D::Insert,
        ),
        (
            "INSERT INTO sbtest1(k, c, pad) VALUES(1,'a','b'),(2,'c','d'),(3,'e','f')",
            K::Dml,
            D::Insert,
        ),
        ("BEGIN", K::Transaction, BEGIN),
        (
            "COMMIT",
            K::Transaction,
            D::Commit {
                chain: false,
                release: false,
            },
        ),
        (create, K::Ddl, CREATE_TABLE),
        ("CREATE INDEX k_1 ON sbtest1(k)", K::Ddl, D::CreateIndex),
        (
            "DROP TABLE IF EXISTS sbtest1",
            K::Ddl,
            D::DropTable { temporary: false },
        ),
    ]);
}

#[test]
fn clients_at_connect() {
    let cj = "/* mysql-connector-java-8.0.33 (Revision: 7d6b0800528b6b25c68b52dc10d6c1c8429c100c) */\
              SELECT  @@session.auto_increment_increment AS auto_increment_increment, \
              @@character_set_client AS character_set_client, @@character_set_connection AS \
              character_set_connection, @@character_set_results AS character_set_results, \
              @@init_connect AS init_connect, @@sql_mode AS sql_mode, @@time_zone AS time_zone, \
              @@transaction_isolation AS transaction_isolation, @@wait_timeout AS wait_timeout";
    check(&[
        ("select @@version_comment limit 1", K::Read, SEL),
        ("SELECT DATABASE()", K::Read, SEL),
        ("show databases", K::Read, D::Show),
        ("show tables", K::Read, D::Show),
        ("SHOW FULL PROCESSLIST", K::Read, D::Show),
        ("show grproxy status", K::Read, D::ProxyStatus),
        ("SHOW /* x */ GRPROXY STATUS", K::Read, D::ProxyStatus),
        ("show grproxy members", K::Read, D::ProxyMembers),
        ("GRPROXY ADD MEMBER 4 AT '127.0.0.1:7004'", K::Read, D::ProxyCommand),
        ("grproxy remove member 4", K::Read, D::ProxyCommand),
        ("SHOW GRPROXY MEMBERS WHERE state <> 'ONLINE'", K::Read, D::ProxyMembers),
        ("SHOW GRPROXY MEMBERS LIKE 'x'", K::Read, D::Show),
        ("SHOW GRPROXY STATUS LIKE 'a'", K::Read, D::Show),
        ("SHOW GRPROXY", K::Read, D::Show),
        (cj, K::Read, SEL),
        ("SET NAMES utf8mb4", K::Session, D::SetNames),
        (
            "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_0900_ai_ci'",
            K::Session,
            D::SetNames,
        ),
        ("SET character_set_results = NULL", K::Session, SETVARS),
        ("SET autocommit=1", K::Transaction, D::SetAutocommit(Some(true))),
        ("SELECT @@session.transaction_read_only", K::Read, SEL),
        (
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            K::Transaction,
            D::SetTransaction {
                scope: TxScope::Session,
            },
        ),
    ]);
}

#[test]
fn mysqldump() {
    let create = "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `v` varchar(10) DEFAULT NULL,\n  \
                  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
    check(&[
        (
            "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */",
            K::Session,
            SETVARS,
        ),
        ("/*!40103 SET TIME_ZONE='+00:00' */", K::Session, SETVARS),
        ("/*!50503 SET NAMES utf8mb4 */", K::Session, D::SetNames),
        (
            "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */",
            K::Session,
            SETVARS,
        ),
        ("/*!40101 SET SQL_MODE=@OLD_SQL_MODE */", K::Session, SETVARS),
        ("DROP TABLE IF EXISTS `t`", K::Ddl, D::DropTable { temporary: false }),
        (
            "/*!40101 SET @saved_cs_client     = @@character_set_client */",
            K::Session,
            SETVARS,
        ),
        (create, K::Ddl, CREATE_TABLE),
        ("LOCK TABLES `t` WRITE", K::Transaction, D::Lock),
        ("/*!40000 ALTER TABLE `t` DISABLE KEYS */", K::Ddl, D::AlterTable),
        ("INSERT INTO `t` VALUES (1,'a\\'b'),(2,NULL)", K::Dml, D::Insert),
        ("/*!40000 ALTER TABLE `t` ENABLE KEYS */", K::Ddl, D::AlterTable),
        ("UNLOCK TABLES", K::Transaction, D::Unlock),
        ("/*!50001 DROP VIEW IF EXISTS `v`*/", K::Ddl, D::OtherDdl),
        ("/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */", K::Session, SETVARS),
    ]);
}

#[test]
fn tricky_lexing() {
    check(&[
        ("/* hello */ SELECT 1", K::Read, SEL),
        ("/*+ hint */SELECT 1", K::Read, SEL),
        ("-- comment\nSELECT 1", K::Read, SEL),
        ("--\tcomment\nDELETE FROM t", K::Dml, D::Delete),
        ("# comment\nselect 1", K::Read, SEL),
        ("SELECT 1--1", K::Read, SEL),
        ("--SELECT 1", K::Unsupported, D::Unknown),
        ("/*!*/ SELECT 1", K::Read, SEL),
        ("/*!UPDATE t SET a=1*/", K::Dml, D::Update),
        ("/*M!100100 DELETE FROM t */", K::Dml, D::Delete),
        ("/*!50100 /*!80000 SELECT 1 */", K::Read, SEL),
        ("sElEcT 1", K::Read, SEL),
        ("\n\t  UpDaTe t SET a=1", K::Dml, D::Update),
        ("SELECT \"x -- y /* z\" FROM t", K::Read, SEL),
        ("SELECT `select`, 'a''b', \"c\"\"d\" FROM `from`", K::Read, SEL),
        ("(SELECT 1) UNION (SELECT 2)", K::Read, SEL),
        ("((SELECT 1)) ORDER BY 1", K::Read, SEL),
        (
            "(WITH c AS (SELECT 1) SELECT * FROM c)",
            K::Read,
            D::With {
                locking: false,
                into: SelectInto::None,
            },
        ),
        ("TABLE t", K::Read, SEL),
        ("VALUES ROW(1,2)", K::Read, SEL),
        ("", K::Unsupported, D::Empty),
        ("  ;  ; ", K::Unsupported, D::Empty),
        ("-- only a comment", K::Unsupported, D::Empty),
        ("/* never closed", K::Unsupported, D::Empty),
        ("SELECT 'abc", K::Read, SEL),
        ("FOO BAR", K::Unsupported, D::Unknown),
        ("123", K::Unsupported, D::Unknown),
        ("'str'", K::Unsupported, D::Unknown),
        ("GET DIAGNOSTICS @n = NUMBER", K::Unsupported, D::Unknown),
    ]);
    let c = classify("SELECT 'a;b' ; DELETE FROM t");
    assert_eq!((c.kind, c.multi_statement, c.incomplete), (K::Read, true, false));
    assert!(!classify("SELECT 1;").multi_statement);
    assert!(classify("SELECT 'abc").incomplete);
    assert!(classify("/* never closed").incomplete);
    assert!(classify("/*!40101 SET a=1").incomplete);
    assert!(!classify("SELECT `a` -- x").incomplete);
}

#[test]
fn reads() {
    let lock = |into| D::Select { locking: true, into };
    let into = |into| D::Select { locking: false, into };
    let with = |locking| D::With {
        locking,
        into: SelectInto::None,
    };
    check(&[
        ("SELECT * FROM t WHERE id=1 FOR UPDATE", K::Read, lock(SelectInto::None)),
        ("SELECT * FROM t LOCK IN SHARE MODE", K::Read, lock(SelectInto::None)),
        ("select * from t for share nowait", K::Read, lock(SelectInto::None)),
        ("SELECT a INTO @x FROM t", K::Read, into(SelectInto::Variables)),
        (
            "SELECT * FROM t INTO OUTFILE '/tmp/x'",
            K::Read,
            into(SelectInto::Outfile),
        ),
        (
            "SELECT a FROM t INTO DUMPFILE '/tmp/x' FOR UPDATE",
            K::Read,
            lock(SelectInto::Dumpfile),
        ),
        ("SELECT 'for update', 'into outfile' FROM t", K::Read, SEL),
        ("WITH c AS (SELECT 1) SELECT * FROM c", K::Read, with(false)),
        (
            "WITH RECURSIVE c (n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n<5) SELECT * FROM c",
            K::Read,
            with(false),
        ),
        (
            "WITH a AS (SELECT 1), b AS (SELECT 2) SELECT * FROM a, b FOR UPDATE",
            K::Read,
            with(true),
        ),
        (
            "WITH c AS (SELECT id FROM t) UPDATE t JOIN c USING (id) SET t.x=1",
            K::Dml,
            D::Update,
        ),
        ("WITH c AS (SELECT 1), d AS (SELECT 2) DELETE FROM t", K::Dml, D::Delete),
        ("WITH c AS SELECT 1", K::Unsupported, D::Unknown),
        ("EXPLAIN SELECT 1", K::Read, D::Explain { analyze: false }),
        ("EXPLAIN FORMAT=JSON SELECT 1", K::Read, D::Explain { analyze: false }),
        (
            "EXPLAIN FORMAT=TREE INTO @v SELECT 1",
            K::Read,
            D::Explain { analyze: false },
        ),
        ("EXPLAIN ANALYZE SELECT 1", K::Read, D::Explain { analyze: true }),
        ("EXPLAIN ANALYZE DELETE FROM t", K::Dml, D::Explain { analyze: true }),
        ("EXPLAIN UPDATE t SET a=1", K::Read, D::Explain { analyze: false }),
        ("EXPLAIN FOR CONNECTION 5", K::Read, D::Explain { analyze: false }),
        ("DESCRIBE SELECT 1", K::Read, D::Explain { analyze: false }),
        ("EXPLAIN t", K::Read, D::Describe),
        ("DESCRIBE t", K::Read, D::Describe),
        ("desc `t` `c`", K::Read, D::Describe),
        ("EXPLAIN", K::Unsupported, D::Unknown),
        ("ANALYZE SELECT * FROM t", K::Read, D::Explain { analyze: true }),
        (
            "ANALYZE FORMAT=JSON UPDATE t SET a=1",
            K::Dml,
            D::Explain { analyze: true },
        ),
        ("HELP 'contents'", K::Read, D::Help),
        ("DO SLEEP(1)", K::Read, D::Do),
    ]);
}

#[test]
fn splitting() {
    let cases: &[(&str, &[&str])] = &[
        ("SELECT 1; SELECT 2", &["SELECT 1", "SELECT 2"]),
        ("SELECT ';'; SELECT 2;", &["SELECT ';'", "SELECT 2"]),
        ("SELECT 1; ; -- c\n ;", &["SELECT 1"]),
        (
            "/* a; */ SELECT 1 # x;y\n; SELECT `a;b`",
            &["/* a; */ SELECT 1 # x;y", "SELECT `a;b`"],
        ),
        (
            "/*!40101 SET NAMES utf8 */;\nSELECT 1",
            &["/*!40101 SET NAMES utf8 */", "SELECT 1"],
        ),
        (
            "SELECT \"a\\\";b\"; SELECT 'c'';d'",
            &["SELECT \"a\\\";b\"", "SELECT 'c'';d'"],
        ),
        ("SELECT 1 -- ;x\n", &["SELECT 1 -- ;x"]),
        ("SELECT 1--;x\n", &["SELECT 1--", "x"]),
        ("", &[]),
        ("   \n ", &[]),
        ("/* x */", &[]),
        ("SELECT 'a", &["SELECT 'a"]),
        ("SELECT 'a; b", &["SELECT 'a; b"]),
    ];
    for (sql, want) in cases {
        let got: Vec<&str> = split_statements(sql).into_iter().map(|r| &sql[r]).collect();
        assert_eq!(&got, want, "split_statements({sql:?})");
    }
    // Offsets of a split statement classify consistently.
    let sql = "BEGIN; KILL 5; COMMIT";
    let kinds: Vec<_> = split_statements(sql)
        .into_iter()
        .map(|r| classify(&sql[r]).kind)
        .collect();
    assert_eq!(kinds, [K::Transaction, K::Admin, K::Transaction]);
}

#[test]
fn kill() {
    let kill = |kind, target| D::Kill { kind, target };
    let id = |id, range| KillTarget::Id { id, range };
    let (conn, query) = (KillKind::Connection, KillKind::Query);
    check(&[
        ("KILL 42", K::Admin, kill(conn, id(42, 5..7))),
        ("KILL CONNECTION 42", K::Admin, kill(conn, id(42, 16..18))),
        ("kill query 42;", K::Admin, kill(query, id(42, 11..13))),
        ("KILL HARD QUERY 7", K::Admin, kill(query, id(7, 16..17))),
        ("KILL SOFT CONNECTION 7", K::Admin, kill(conn, id(7, 21..22))),
        ("KILL  /* c */ 123 ", K::Admin, kill(conn, id(123, 14..17))),
        ("/*!KILL 9*/", K::Admin, kill(conn, id(9, 8..9))),
        (
            "KILL QUERY ID 99",
            K::Admin,
            kill(query, KillTarget::QueryId { id: 99, range: 14..16 }),
        ),
        (
            "KILL USER 'bob'@'localhost'",
            K::Admin,
            kill(conn, KillTarget::User("'bob'@'localhost'".into())),
        ),
        (
            "KILL QUERY USER bob",
            K::Admin,
            kill(query, KillTarget::User("bob".into())),
        ),
        ("KILL @id", K::Admin, kill(conn, KillTarget::Expr)),
        ("KILL 1+1", K::Admin, kill(conn, KillTarget::Expr)),
        ("KILL 0x10", K::Admin, kill(conn, KillTarget::Expr)),
        ("KILL 99999999999999999999999", K::Admin, kill(conn, KillTarget::Expr)),
        ("KILL", K::Unsupported, D::Unknown),
        ("KILL QUERY", K::Unsupported, D::Unknown),
    ]);
    // The recorded range lets a proxy substitute just the number.
    let sql = "KILL QUERY /* x */ 4711";
    if let D::Kill {
        target: KillTarget::Id { range, .. },
        ..
    } = classify(sql).detail
    {
        let rewritten = format!("{}{}{}", &sql[..range.start], 17, &sql[range.end..]);
        assert_eq!(rewritten, "KILL QUERY /* x */ 17");
    } else {
        panic!("not a KILL with id");
    }
}
