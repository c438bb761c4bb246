//! Flow control must not stall the member it protects: a member far behind catches up while
//! its own clients keep writing the rows its applier needs.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use mysql_async::prelude::*;

/// Member 2 falls 120 entries behind (flow control at 20) while member 1 updates four hot
/// rows; then member 2's own clients update the same rows while its applier catches up.
/// Flow control used to hold a transaction at its commit, prepared and holding its rows, for
/// up to 2 s: every replay on member 2 waited out its 1 s lock timeout, and a member that far
/// behind applied about one entry a second for as long as its clients wrote (Jepsen, 600 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_far_behind_catches_up_while_its_clients_write() {
    let g = TestGroup::start_with(3, &[], |_, s| {
        s.group.as_mut().unwrap().flow_control_entries = 20;
    })
    .await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE fc").await.unwrap();
    c.query_drop("CREATE TABLE fc.t (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB")
        .await
        .unwrap();
    c.query_drop("INSERT INTO fc.t VALUES (1, 0), (2, 0), (3, 0), (4, 0)")
        .await
        .unwrap();
    g.converge().await;

    // Member 2's applier waits behind a read lock on its mysqld while the backlog forms.
    let mut lock = g.mysqlds[1].root().await;
    lock.query_drop("LOCK TABLES fc.t READ").await.unwrap();
    for i in 0..120 {
        c.query_drop(format!("UPDATE fc.t SET n = n + 1 WHERE id = {}", 1 + i % 4))
            .await
            .unwrap();
    }
    let target = g.proxies[0].context.group.as_ref().unwrap().certified_index();

    // Member 2's clients: short transactions on the same rows, as fast as they can.
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (stop, committed, opts) = (stop.clone(), committed.clone(), g.opts(1));
        writers.push(tokio::spawn(async move {
            let mut c = mysql_async::Conn::new(opts).await.unwrap();
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let id = 1 + i % 4;
                let r = async {
                    c.query_drop("BEGIN").await?;
                    c.query_drop(format!("UPDATE fc.t SET n = n + 1 WHERE id = {id}"))
                        .await?;
                    c.query_drop("COMMIT").await
                }
                .await;
                match r {
                    Ok(()) => {
                        committed.fetch_add(1, Ordering::Relaxed);
                    }
                    // Certification and brute-force aborts, lock waits: the client retries.
                    Err(mysql_async::Error::Server(_)) => {
                        let _ = c.query_drop("ROLLBACK").await;
                    }
                    Err(e) => panic!("writer {w}: {e}"),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    lock.query_drop("UNLOCK TABLES").await.unwrap();
    let started = Instant::now();
    let member2 = g.proxies[1].context.group.as_ref().unwrap();
    let caught_up = member2.wait_applied(target, Duration::from_secs(30)).await;
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        caught_up,
        "member 2 did not apply through {target} within 30 s while its clients wrote"
    );
    assert!(
        took < Duration::from_secs(15),
        "member 2 took {took:?} to apply 120 entries while its clients wrote"
    );
    g.converge().await;
    let sums = g.checksums("fc.t").await;
    assert!(sums[0].is_some() && sums.iter().all(|s| *s == sums[0]), "{sums:?}");
    eprintln!(
        "member 2 caught up in {took:?}; its clients committed {} meanwhile and after",
        committed.load(Ordering::Relaxed)
    );
}

/// An idle group stays idle: watermark reports are log entries, and applying one moves every
/// member's watermark; reporting every move kept an idle group proposing a few entries a
/// second (and rewriting its markers in mysqld) for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_group_writes_no_log_entries() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE idle").await.unwrap();
    c.query_drop("CREATE TABLE idle.t (id INT PRIMARY KEY) ENGINE=InnoDB")
        .await
        .unwrap();
    for i in 0..20 {
        c.query_drop(format!("INSERT INTO idle.t VALUES ({i})")).await.unwrap();
    }
    g.converge().await;
    let certified = || g.proxies[0].context.group.as_ref().unwrap().certified_index();
    // Every member reports what it applied (a report or two each, every 0.5 s at most).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = certified();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(certified(), settled, "the log grew while the group was idle");
}
