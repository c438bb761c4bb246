//! A stored procedure that runs DDL, called outside a transaction through a group member:
//! grproxy holds every write in an XA transaction, where mysqld refuses DDL (1399
//! XAER_RMFAIL). The CALL is refused with 3098 and a reason instead, nothing of it is kept,
//! and the members stay equal (mysql-test `main.sp-row`, `main.sp-anchor-row-type-table`).
//! Also other statements mysql-test's `main` found a group member handling differently.

mod common;

use common::*;
use mysql_async::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn call_running_ddl_is_refused_and_leaves_nothing() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE sp").await.unwrap();
    c.query_drop("USE sp").await.unwrap();
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY)").await.unwrap();
    c.query_drop(
        "CREATE PROCEDURE p() BEGIN INSERT INTO t VALUES (1); SELECT 'before'; \
         CREATE TABLE t2 (id INT PRIMARY KEY); INSERT INTO t VALUES (2); END",
    )
    .await
    .unwrap();
    c.query_drop("CREATE PROCEDURE ok() BEGIN INSERT INTO t VALUES (10); END")
        .await
        .unwrap();
    for call in ["CALL p()", "CALL p"] {
        let e = c.query_drop(call).await.unwrap_err();
        match &e {
            mysql_async::Error::Server(s) => {
                assert_eq!(s.code, 3098, "{e}");
                assert!(s.message.contains("commits implicitly"), "{e}");
            }
            other => panic!("expected 3098, got {other}"),
        }
    }
    // The session goes on, outside any transaction; a procedure without DDL replicates.
    c.query_drop("CALL ok()").await.unwrap();
    let rows: Vec<i32> = c.query("SELECT id FROM t ORDER BY id").await.unwrap();
    assert_eq!(rows, vec![10], "nothing of the refused CALLs was kept");
    let in_trx: Option<i64> = c.query_first("SELECT @@in_transaction").await.unwrap();
    assert_eq!(in_trx, Some(0));
    g.converge().await;
    let sums = g.checksums("sp.t").await;
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let t2: Option<i64> = d
            .query_first(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'sp' AND table_name = 't2'",
            )
            .await
            .unwrap();
        assert_eq!(t2, Some(0));
    }
}

/// `COMMIT AND CHAIN RELEASE` is a syntax error (1064) and ends nothing: the session goes on,
/// also inside a transaction; `COMMIT AND NO CHAIN RELEASE` ends it (mysql-test
/// `main.parser_not_embedded`; before, a member closed the session after the 1064).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commit_and_chain_release_is_a_syntax_error_that_keeps_the_session() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE cr").await.unwrap();
    c.query_drop("CREATE TABLE cr.t (id INT PRIMARY KEY)").await.unwrap();
    for open in [false, true] {
        if open {
            c.query_drop("BEGIN").await.unwrap();
            c.query_drop("INSERT INTO cr.t VALUES (1)").await.unwrap();
        }
        for stmt in ["COMMIT AND CHAIN RELEASE", "ROLLBACK AND CHAIN RELEASE"] {
            let e = c.query_drop(stmt).await.unwrap_err();
            assert!(
                matches!(&e, mysql_async::Error::Server(s) if s.code == 1064),
                "{stmt}: {e}"
            );
        }
        c.query_drop("SELECT 1").await.expect("the session goes on");
    }
    c.query_drop("COMMIT").await.unwrap();
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM cr.t").await.unwrap();
    assert_eq!(n, Some(1));
    c.query_drop("COMMIT AND NO CHAIN RELEASE").await.unwrap();
    assert!(c.query_drop("SELECT 1").await.is_err(), "RELEASE ends the session");
    g.converge().await;
}

/// Rows of a query on every member's mysqld (directly), as text.
async fn everywhere(g: &TestGroup, sql: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let rows: Vec<mysql_async::Row> = d.query(sql).await.unwrap();
        out.push(
            rows.into_iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| format!("{:?}", r.as_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect(),
        );
    }
    out
}

/// Roles granted to accounts and to roles replicate: mysqld lets only a role's admin grant it,
/// and the members' applier is not (mysql-test `main.skip_name_resolve`: `GRANT r1 TO u1`
/// stopped the other members in ERROR with 1698). Every member's grant tables end up as the
/// origin's, with no trace of the applier.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn role_grants_replicate_and_leave_the_grant_tables_equal() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    for sql in [
        "CREATE USER u1@'%'",
        "CREATE ROLE r1",
        "CREATE ROLE r2",
        "GRANT r2 TO r1",
        "GRANT SELECT ON mysql.db TO r2",
        "GRANT r1 TO u1@'%'",
    ] {
        c.query_drop(sql).await.unwrap();
    }
    g.converge().await;
    let mapping = "SELECT Host, User, Role, Admin_option FROM mysql.roles_mapping ORDER BY 1, 2, 3";
    let maps = everywhere(&g, mapping).await;
    assert!(maps.windows(2).all(|w| w[0] == w[1]), "{maps:?}");
    assert!(
        maps[0].iter().any(|r| r.contains("\"u1\"") && r.contains("\"r1\"")),
        "{maps:?}"
    );
    // A grant made through another member is replayed on the first one.
    let mut c2 = g.conn(1).await;
    c2.query_drop("REVOKE r2 FROM r1").await.unwrap();
    c2.query_drop("GRANT r2 TO u1@'%'").await.unwrap();
    g.converge().await;
    let maps = everywhere(&g, mapping).await;
    assert!(maps.windows(2).all(|w| w[0] == w[1]), "{maps:?}");
    assert!(
        !maps[0].iter().any(|r| r.contains("\"r1\"") && r.contains("\"r2\"")),
        "{maps:?}"
    );
    for sql in ["DROP USER u1@'%'", "DROP ROLE r1, r2"] {
        c.query_drop(sql).await.unwrap();
    }
    g.converge().await;
    let maps = everywhere(&g, mapping).await;
    assert!(maps.iter().all(|m| m == &maps[0]), "{maps:?}");
}

/// A temporary table a stored function made (grproxy saw no `CREATE TEMPORARY TABLE`) is the
/// one a later `DROP TABLE` of that name drops, here only: the base table of the same name on
/// every member stays (mysql-test `main.reopen_temp_table` stopped the others in ERROR with
/// 1051). Tables of a non-transactional engine are refused where they would be made (a stored
/// program's or prepared statement's writes to one would commit here alone: `main.sp-group`,
/// `main.ps_ddl1`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn temporary_tables_from_functions_stay_local_and_myisam_is_refused() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE tf").await.unwrap();
    c.query_drop("USE tf").await.unwrap();
    c.query_drop("CREATE TABLE t2 (i INT PRIMARY KEY)").await.unwrap();
    c.query_drop("INSERT INTO t2 VALUES (7)").await.unwrap();
    c.query_drop("CREATE FUNCTION f2() RETURNS INT DETERMINISTIC BEGIN CREATE TEMPORARY TABLE t2 (i INT); INSERT INTO t2 VALUES (1), (2); RETURN 1; END")
        .await
        .unwrap();
    let one: Option<i64> = c.query_first("SELECT f2()").await.unwrap();
    assert_eq!(one, Some(1));
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM t2").await.unwrap();
    assert_eq!(n, Some(2), "the temporary table shadows the base one");
    c.query_drop("DROP TABLE t2").await.unwrap();
    g.converge().await;
    let rows = everywhere(&g, "SELECT i FROM tf.t2").await;
    assert!(
        rows.iter().all(|r| r.len() == 1),
        "the base table stays everywhere: {rows:?}"
    );
    let v: Option<i64> = c.query_first("SELECT i FROM t2").await.unwrap();
    assert_eq!(v, Some(7));
    c.query_drop("DROP TABLE t2").await.unwrap();
    // A routine whose body names a temporary table of this session is still replicated.
    c.query_drop("CREATE TEMPORARY TABLE t3 (a INT)").await.unwrap();
    c.query_drop("CREATE PROCEDURE p1() BEGIN DROP TEMPORARY TABLE t3; END")
        .await
        .unwrap();
    g.converge().await;
    let procs = everywhere(
        &g,
        "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = 'tf'",
    )
    .await;
    assert!(
        procs.iter().all(|r| r.len() == 1 && r[0].contains("\"2\"")),
        "f2 and p1 everywhere: {procs:?}"
    );
    c.query_drop("CALL p1()").await.unwrap();
    c.query_drop("DROP PROCEDURE p1").await.unwrap();
    g.converge().await;
    let left = everywhere(
        &g,
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'tf'",
    )
    .await;
    assert!(left.iter().all(|r| r.len() == 1 && r[0].contains("\"0\"")), "{left:?}");

    // Non-transactional tables: refused, nothing made anywhere; InnoDB under a MyISAM default
    // works.
    c.query_drop("CREATE TABLE ok (id INT PRIMARY KEY)").await.unwrap();
    c.query_drop("SET default_storage_engine = MyISAM").await.unwrap();
    for sql in [
        "CREATE TABLE m1 (id INT PRIMARY KEY)",
        "CREATE TABLE m2 (id INT PRIMARY KEY) ENGINE=Aria",
        "ALTER TABLE ok ENGINE = MEMORY",
    ] {
        let e = c.query_drop(sql).await.unwrap_err();
        assert!(
            matches!(&e, mysql_async::Error::Server(s) if s.code == 3098 && s.message.contains("InnoDB")),
            "{sql}: {e}"
        );
    }
    c.query_drop("CREATE TABLE i1 (id INT PRIMARY KEY, engine VARCHAR(8)) ENGINE=InnoDB")
        .await
        .unwrap();
    c.query_drop("INSERT INTO i1 VALUES (1, 'x')").await.unwrap();
    g.converge().await;
    let engines = everywhere(
        &g,
        "SELECT TABLE_NAME, ENGINE FROM information_schema.tables WHERE table_schema = 'tf' ORDER BY 1",
    )
    .await;
    for e in &engines {
        assert_eq!(e.len(), 2, "only i1 and ok: {engines:?}");
        assert!(e.iter().all(|r| r.contains("InnoDB")), "{engines:?}");
    }
}

/// `RESET MASTER` erases the binlog a member reads its own transactions from (mysql-test
/// `main.mdev-31636` left member 1 unable to commit anything, while it still said ONLINE):
/// refused through grproxy; run on a member's mysqld directly, it puts that member in ERROR
/// with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reset_master_is_refused_and_a_direct_one_stops_the_member() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    for sql in ["RESET MASTER", "SET GLOBAL gtid_binlog_state = '1-1-101'"] {
        let e = c.query_drop(sql).await.unwrap_err();
        assert!(
            matches!(&e, mysql_async::Error::Server(s) if s.code == 3098),
            "{sql}: {e}"
        );
    }
    c.query_drop("CREATE DATABASE rm").await.unwrap();
    c.query_drop("CREATE TABLE rm.t (id INT PRIMARY KEY)").await.unwrap();
    c.query_drop("INSERT INTO rm.t VALUES (1)").await.unwrap();
    g.converge().await;
    let mut d = g.mysqlds[1].root().await;
    d.query_drop("RESET MASTER").await.unwrap();
    let group = g.proxies[1].context.group.as_ref().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut m2 = g.conn(1).await;
    loop {
        // A write through the member whose binlog was reset.
        let _ = m2.query_drop("INSERT INTO rm.t VALUES (2)").await;
        if let Some(why) = group.error_state() {
            assert!(why.contains("binlog"), "{why}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "member 2 still reports no error");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Nothing was committed there as a transaction that wrote nothing.
    drop(m2);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let n: Option<i64> = d.query_first("SELECT COUNT(*) FROM rm.t WHERE id = 2").await.unwrap();
    assert_eq!(n, Some(0), "a write committed on member 2 alone");
}

/// grproxy's own statements before a DDL keep `FOUND_ROWS()` as the client left it, with a
/// query whose join a session's small `max_join_size` refused (mysql-test `main.select_safe`:
/// its `CREATE TABLE` failed with 1104); they run with big selects allowed for themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ddl_after_found_rows_under_a_small_max_join_size() {
    let g = TestGroup::start(2).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE fr").await.unwrap();
    c.query_drop("USE fr").await.unwrap();
    let _: Vec<i64> = c
        .query("SELECT SQL_CALC_FOUND_ROWS seq FROM seq_1_to_57 LIMIT 2")
        .await
        .unwrap();
    c.query_drop("SET SQL_SAFE_UPDATES = 1, SQL_SELECT_LIMIT = 4, MAX_JOIN_SIZE = 9")
        .await
        .unwrap();
    c.query_drop("CREATE TABLE t1 (a INT AUTO_INCREMENT PRIMARY KEY, b CHAR(20))")
        .await
        .unwrap();
    let big: Option<i64> = c.query_first("SELECT @@sql_big_selects").await.unwrap();
    assert_eq!(big, Some(0), "the session's own setting is untouched");
    g.converge().await;
}
