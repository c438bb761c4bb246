//! The raw service connection the applier replays on: answers read by count, errors with
//! their codes, the connection in step afterwards. (Its `BINLOG` use is covered by every group
//! test that replays, e.g. group_basic's batched backlog.)

mod common;

use std::time::Duration;

use common::*;
use grproxy::backend::service_conn::{ServiceConn, ServiceTarget};
use grproxy::backend::BackendAddr;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_statement_query_is_read_by_count() {
    let m = Mysqld::start();
    m.create_user("svc", "s3cret").await;
    let target = ServiceTarget {
        addr: BackendAddr::Tcp(format!("127.0.0.1:{}", m.layout.port)),
        user: "svc".into(),
        password: "s3cret".into(),
    };
    let t = Duration::from_secs(10);
    let mut c = ServiceConn::open(&target, "SET SESSION innodb_lock_wait_timeout = 1", t)
        .await
        .unwrap();
    c.run(
        "CREATE DATABASE s; CREATE TABLE s.t (id INT PRIMARY KEY) ENGINE=InnoDB",
        2,
    )
    .await
    .unwrap();
    c.run("START TRANSACTION; INSERT INTO s.t VALUES (1), (2); COMMIT", 3)
        .await
        .unwrap();

    // The first error ends the query: its code comes back, the statements after it did not run,
    // and the connection answers the next query in step.
    let e = c
        .run(
            "START TRANSACTION; INSERT INTO s.t VALUES (3); INSERT INTO s.t VALUES (1); INSERT INTO s.t VALUES (4)",
            4,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, Some(1062), "{e:?}");
    c.run("ROLLBACK", 1).await.unwrap();
    let mut root = m.root().await;
    use mysql_async::prelude::Queryable;
    let ids: Vec<i32> = root.query("SELECT id FROM s.t ORDER BY id").await.unwrap();
    assert_eq!(ids, vec![1, 2]);

    // More answers than statements announced is a broken exchange, not a success.
    let e = c.run("DO 1; DO 2", 1).await.unwrap_err();
    assert_eq!(e.code, None, "{e:?}");

    // A wrong password is refused at login, with mysqld's error.
    let bad = ServiceTarget {
        password: "wrong".into(),
        ..target.clone()
    };
    let e = ServiceConn::open(&bad, "DO 1", t).await.err().expect("refused");
    assert!(e.message.contains("1045"), "{e:?}");
}
