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
