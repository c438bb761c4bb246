//! Consistency levels (`SET group_replication_consistency = ...`) on a 3-member group: BEFORE
//! reads wait for the group's commit index to be applied here, AFTER commits wait until every
//! ONLINE member applied them. Member 3's applier is held up by a read lock taken straight on
//! its mysqld, so the waits are visible.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mysql_async::prelude::*;

async fn count(c: &mut mysql_async::Conn) -> i64 {
    c.query_first::<i64, _>("SELECT COUNT(*) FROM cs.t")
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn before_and_after_wait_for_the_group() {
    let g = TestGroup::start(3).await;
    let mut a = g.conn(0).await;
    a.query_drop("CREATE DATABASE cs").await.unwrap();
    a.query_drop("CREATE TABLE cs.t (id INT PRIMARY KEY)").await.unwrap();
    g.converge().await;

    // Bad values and GLOBAL are refused clearly; the session goes on.
    let e = a
        .query_drop("SET group_replication_consistency = 'SOMETIMES'")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("can't be set"), "{e}");
    let e = a
        .query_drop("SET GLOBAL group_replication_consistency = 'AFTER'")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("per session"), "{e}");

    // AFTER: once the commit is acknowledged, every member's mysqld has the row.
    a.query_drop("SET group_replication_consistency = 'AFTER'")
        .await
        .unwrap();
    let mut direct3 = g.mysqlds[2].root().await;
    for i in 1..=20 {
        a.query_drop(format!("INSERT INTO cs.t VALUES ({i})")).await.unwrap();
        assert_eq!(count(&mut direct3).await, i, "AFTER commit {i} not yet on member 3");
    }

    // Member 3's applier waits behind a lock for 2 s: an EVENTUAL read there is stale, a
    // BEFORE read waits and sees the new row.
    a.query_drop("SET group_replication_consistency = 'EVENTUAL'")
        .await
        .unwrap();
    let mut lock = g.mysqlds[2].root().await;
    lock.query_drop("LOCK TABLES cs.t READ").await.unwrap();
    a.query_drop("INSERT INTO cs.t VALUES (100)").await.unwrap();
    let mut eventual = g.conn(2).await;
    assert_eq!(count(&mut eventual).await, 20, "EVENTUAL reads what member 3 applied");
    let mut before = g.conn(2).await;
    before
        .query_drop("SET SESSION group_replication_consistency = 'BEFORE'")
        .await
        .unwrap();
    let unlock = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        lock.query_drop("UNLOCK TABLES").await.unwrap();
        lock
    });
    let started = Instant::now();
    assert_eq!(count(&mut before).await, 21, "BEFORE sees the group's last commit");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    let mut lock = unlock.await.unwrap();

    // AFTER with member 3 held up past the wait: the client is told the commit stands.
    a.query_drop("SET group_replication_consistency = 'AFTER'")
        .await
        .unwrap();
    lock.query_drop("LOCK TABLES cs.t READ").await.unwrap();
    let e = a.query_drop("INSERT INTO cs.t VALUES (101)").await.unwrap_err();
    assert!(
        e.to_string().contains("COMMITTED") && e.to_string().contains("member 3"),
        "{e}"
    );
    lock.query_drop("UNLOCK TABLES").await.unwrap();
    g.converge().await;
    for m in &g.mysqlds {
        let mut d = m.root().await;
        assert_eq!(count(&mut d).await, 22);
    }
}

/// BEFORE past its wait (10 s) gives 1969 and the session goes on; BEFORE_AND_AFTER waits
/// before the transaction (for the group's commit index here) and after it (for every member).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn before_times_out_with_1969_and_before_and_after_waits_both_ways() {
    let g = TestGroup::start(3).await;
    let mut a = g.conn(0).await;
    a.query_drop("CREATE DATABASE cs").await.unwrap();
    a.query_drop("CREATE TABLE cs.t (id INT PRIMARY KEY)").await.unwrap();
    a.query_drop("CREATE TABLE cs.u (id INT PRIMARY KEY)").await.unwrap();
    g.converge().await;

    // Member 3's applier held past the wait.
    let mut lock = g.mysqlds[2].root().await;
    lock.query_drop("LOCK TABLES cs.t READ").await.unwrap();
    a.query_drop("INSERT INTO cs.t VALUES (1)").await.unwrap();
    let mut before = g.conn(2).await;
    before
        .query_drop("SET group_replication_consistency = 'BEFORE'")
        .await
        .unwrap();
    let started = Instant::now();
    let e = before.query_drop("SELECT COUNT(*) FROM cs.t").await.unwrap_err();
    let mysql_async::Error::Server(e) = e else {
        panic!("not a server error: {e}")
    };
    assert_eq!(e.code, 1969, "{}", e.message);
    assert!(started.elapsed() >= Duration::from_secs(9), "{:?}", started.elapsed());
    // The session is usable; EVENTUAL reads what member 3 applied.
    before
        .query_drop("SET group_replication_consistency = 'EVENTUAL'")
        .await
        .unwrap();
    assert_eq!(count(&mut before).await, 0);

    // BEFORE_AND_AFTER through member 3, its applier released after 2 s: the write waits for
    // member 3 to apply the earlier commit, then for every member to apply it.
    let unlock = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        lock.query_drop("UNLOCK TABLES").await.unwrap();
    });
    let mut both = g.conn(2).await;
    both.query_drop("SET group_replication_consistency = 'BEFORE_AND_AFTER'")
        .await
        .unwrap();
    let started = Instant::now();
    both.query_drop("INSERT INTO cs.u SELECT COUNT(*) FROM cs.t")
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "BEFORE_AND_AFTER did not wait: {:?}",
        started.elapsed()
    );
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let u: Vec<i32> = d.query("SELECT id FROM cs.u").await.unwrap();
        assert_eq!(
            u,
            vec![1],
            "acknowledged: on every member, and it saw the earlier commit"
        );
    }
    unlock.await.unwrap();
}
