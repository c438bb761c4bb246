//! A session on a single-primary secondary whose writes run on the primary keeps what a
//! client of one server would see: `LAST_INSERT_ID()` of its last insert after reads in
//! between (they run here, where the session inserted nothing), and the consistency level it
//! set here also for its writes there (AFTER: acknowledged once every member applied them).

mod common;

use std::time::{Duration, Instant};

use common::*;
use mysql_async::prelude::*;

async fn count(c: &mut mysql_async::Conn) -> i64 {
    c.query_first("SELECT COUNT(*) FROM sc.t").await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn last_insert_id_and_after_hold_through_a_secondary() {
    let g = TestGroup::start(3).await;
    let mut a = g.conn(0).await;
    a.query_drop("CREATE DATABASE sc").await.unwrap();
    a.query_drop("CREATE TABLE sc.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    a.query_drop("GRPROXY SET MODE SINGLE-PRIMARY WITH PRIMARY 1")
        .await
        .unwrap();
    g.wait_status("group_mode", "single-primary").await;
    g.wait_status("primary_member_id", "1").await;
    g.converge().await;

    // LAST_INSERT_ID() of the insert on the primary, after a read that ran here.
    let mut s = g.conn(1).await;
    s.query_drop("INSERT INTO sc.t (v) VALUES (1)").await.unwrap();
    let id = s.last_insert_id().expect("an id");
    assert!(id > 0);
    let _ = count(&mut s).await;
    let again: Option<u64> = s.query_first("SELECT LAST_INSERT_ID()").await.unwrap();
    assert_eq!(again, Some(id), "LAST_INSERT_ID() after a local read");
    let identity: Option<u64> = s.query_first("SELECT @@identity").await.unwrap();
    assert_eq!(identity, Some(id));

    // AFTER set on the secondary holds for the write on the primary: with member 3's applier
    // held for 2 s, the acknowledgement waits for it, and member 3 has the row by then.
    s.query_drop("SET group_replication_consistency = 'AFTER'")
        .await
        .unwrap();
    g.converge().await;
    let mut lock = g.mysqlds[2].root().await;
    lock.query_drop("LOCK TABLES sc.t READ").await.unwrap();
    let unlock = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        lock.query_drop("UNLOCK TABLES").await.unwrap();
    });
    let started = Instant::now();
    s.query_drop("INSERT INTO sc.t (v) VALUES (2)").await.unwrap();
    let took = started.elapsed();
    let mut direct3 = g.mysqlds[2].root().await;
    assert_eq!(
        count(&mut direct3).await,
        2,
        "AFTER: member 3 has the row once acknowledged"
    );
    assert!(
        took >= Duration::from_millis(1500),
        "the AFTER write did not wait: {took:?}"
    );
    unlock.await.unwrap();
    g.converge().await;
}
