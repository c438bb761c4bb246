//! A 3-member multi-primary group against real mariadbd: replication, first-committer-wins.

mod common;

use std::time::Duration;

use common::*;
use mysql_async::prelude::*;

fn code(e: &mysql_async::Error) -> u16 {
    match e {
        mysql_async::Error::Server(s) => s.code,
        other => panic!("expected a server error, got {other}"),
    }
}

async fn setup(g: &TestGroup) {
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE app").await.unwrap();
    c.query_drop("CREATE TABLE app.t (id INT PRIMARY KEY, v INT NOT NULL, u VARCHAR(20) UNIQUE) ENGINE=InnoDB")
        .await
        .unwrap();
    c.query_drop("INSERT INTO app.t VALUES (1, 10, 'a'), (2, 20, 'b')")
        .await
        .unwrap();
    g.converge().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_through_any_member_are_read_on_every_member() {
    let g = TestGroup::start(3).await;
    setup(&g).await;
    for m in 0..3 {
        let mut c = g.conn(m).await;
        c.query_drop(format!("INSERT INTO app.t VALUES ({}, {}, 'm{m}')", 10 + m, m))
            .await
            .unwrap();
        // Prepared statements and explicit transactions too.
        c.query_drop("BEGIN").await.unwrap();
        c.exec_drop("UPDATE app.t SET v = v + ? WHERE id = ?", (100, 10 + m))
            .await
            .unwrap();
        c.exec_drop("INSERT INTO app.t (id, v) VALUES (?, ?)", (20 + m, 7))
            .await
            .unwrap();
        c.query_drop("COMMIT").await.unwrap();
        c.exec_drop("DELETE FROM app.t WHERE id = ?", (20 + m,)).await.unwrap();
    }
    g.converge().await;
    let mut seen = Vec::new();
    for m in 0..3 {
        let mut c = g.conn(m).await;
        let rows: Vec<(i32, i32, Option<String>)> = c.query("SELECT id, v, u FROM app.t ORDER BY id").await.unwrap();
        seen.push(rows);
    }
    assert_eq!(seen[0].len(), 5, "{:?}", seen[0]);
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0], seen[2]);
    assert!(seen[0].contains(&(11, 101, Some("m1".into()))));
    let sums = g.checksums("app.t").await;
    assert!(sums.iter().all(|s| *s == sums[0]), "{sums:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_same_row_updates_first_committer_wins() {
    let g = TestGroup::start(3).await;
    setup(&g).await;
    let mut a = g.conn(0).await;
    let mut b = g.conn(1).await;
    a.query_drop("BEGIN").await.unwrap();
    b.query_drop("BEGIN").await.unwrap();
    a.query_drop("UPDATE app.t SET v = v + 1 WHERE id = 1").await.unwrap();
    b.query_drop("UPDATE app.t SET v = v + 5 WHERE id = 1").await.unwrap();
    a.query_drop("COMMIT").await.unwrap();
    let e = b.query_drop("COMMIT").await.unwrap_err();
    assert_eq!(code(&e), 1213, "{e}");
    // Different rows: both commit.
    a.query_drop("BEGIN").await.unwrap();
    b.query_drop("BEGIN").await.unwrap();
    a.query_drop("UPDATE app.t SET v = v + 1 WHERE id = 1").await.unwrap();
    b.query_drop("UPDATE app.t SET v = v + 1 WHERE id = 2").await.unwrap();
    a.query_drop("COMMIT").await.unwrap();
    b.query_drop("COMMIT").await.unwrap();
    g.converge().await;
    for m in 0..3 {
        let mut c = g.conn(m).await;
        let v: Vec<(i32, i32)> = c
            .query("SELECT id, v FROM app.t WHERE id IN (1, 2) ORDER BY id")
            .await
            .unwrap();
        assert_eq!(v, vec![(1, 12), (2, 21)], "member {m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unique_key_race_and_lost_update_abort() {
    let g = TestGroup::start(3).await;
    setup(&g).await;
    let mut a = g.conn(0).await;
    let mut b = g.conn(2).await;
    a.query_drop("BEGIN").await.unwrap();
    b.query_drop("BEGIN").await.unwrap();
    a.query_drop("INSERT INTO app.t VALUES (100, 1, 'same')").await.unwrap();
    b.query_drop("INSERT INTO app.t VALUES (200, 1, 'same')").await.unwrap();
    a.query_drop("COMMIT").await.unwrap();
    let e = b.query_drop("COMMIT").await.unwrap_err();
    assert_eq!(code(&e), 1213, "{e}");

    // Lost update: read, a concurrent write elsewhere commits, write back.
    a.query_drop("BEGIN").await.unwrap();
    let v: Option<i32> = a.query_first("SELECT v FROM app.t WHERE id = 2").await.unwrap();
    let mut other = g.conn(1).await;
    other
        .query_drop("UPDATE app.t SET v = v + 1000 WHERE id = 2")
        .await
        .unwrap();
    g.converge().await;
    a.query_drop(format!("UPDATE app.t SET v = {} WHERE id = 2", v.unwrap() + 1))
        .await
        .unwrap();
    let e = a.query_drop("COMMIT").await.unwrap_err();
    assert_eq!(code(&e), 1213, "{e}");
    g.converge().await;
    let sums = g.checksums("app.t").await;
    assert!(sums.iter().all(|s| *s == sums[0]), "{sums:?}");
    let mut c = g.conn(2).await;
    let v2: Option<i32> = c.query_first("SELECT v FROM app.t WHERE id = 2").await.unwrap();
    assert_eq!(v2, Some(1020));
    let _ = Duration::from_secs(0);
}
