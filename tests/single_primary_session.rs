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
    let g = single_primary_group().await;

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

/// A single-primary group with primary 1 and the table `sc.t`.
async fn single_primary_group() -> TestGroup {
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
    g
}

/// Holds member `m`'s applier behind a read lock on `sc.t` (taken straight on its mysqld)
/// for `hold`; the lock is taken before this returns.
async fn hold_applier(g: &TestGroup, m: usize, hold: Duration) -> tokio::task::JoinHandle<()> {
    let mut lock = g.mysqlds[m].root().await;
    lock.query_drop("LOCK TABLES sc.t READ").await.unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(hold).await;
        lock.query_drop("UNLOCK TABLES").await.unwrap();
    })
}

/// With the secondaries' appliers held up: a session on a secondary reads its own write
/// (forwarded to the primary) once this member applied it, while another session there reads
/// what was applied; a planned switchover to a lagging member returns only once it applied
/// everything, and meanwhile a BEFORE_ON_PRIMARY_FAILOVER read on it waits where an EVENTUAL
/// one does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lagging_members_read_your_writes_and_a_switchover_waits_for_the_new_primary() {
    let g = single_primary_group().await;

    // Read-your-writes on a lagging secondary.
    let unlock = hold_applier(&g, 1, Duration::from_secs(2)).await;
    let mut s = g.conn(1).await;
    s.query_drop("INSERT INTO sc.t (v) VALUES (1)").await.unwrap();
    let mut other = g.conn(1).await;
    assert_eq!(count(&mut other).await, 0, "EVENTUAL: what member 2 applied");
    let started = Instant::now();
    assert_eq!(count(&mut s).await, 1, "the session reads its own write");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "the read did not wait for the write: {:?}",
        started.elapsed()
    );
    unlock.await.unwrap();
    g.converge().await;

    // A switchover to member 3 while its applier is held.
    let unlock = hold_applier(&g, 2, Duration::from_secs(3)).await;
    let mut a = g.conn(0).await;
    a.query_drop("INSERT INTO sc.t (v) VALUES (2)").await.unwrap();
    let switch = tokio::spawn(async move {
        let started = Instant::now();
        a.query_drop("GRPROXY SET PRIMARY 3").await.unwrap();
        started.elapsed()
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while g.status(2, "primary_member_id").await != "3" {
        assert!(Instant::now() < deadline, "member 3 does not know it is primary");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut eventual = g.conn(2).await;
    assert_eq!(
        count(&mut eventual).await,
        1,
        "EVENTUAL on the new primary reads what it applied"
    );
    let mut bopf = g.conn(2).await;
    bopf.query_drop("SET group_replication_consistency = 'BEFORE_ON_PRIMARY_FAILOVER'")
        .await
        .unwrap();
    assert_eq!(
        count(&mut bopf).await,
        2,
        "BEFORE_ON_PRIMARY_FAILOVER waits for the backlog"
    );
    let took = switch.await.unwrap();
    assert!(
        took >= Duration::from_millis(1500),
        "the switchover did not wait: {took:?}"
    );
    let mut direct3 = g.mysqlds[2].root().await;
    assert_eq!(count(&mut direct3).await, 2, "the new primary applied everything");
    unlock.await.unwrap();
    // Writes through the old primary now run on member 3.
    let mut a = g.conn(0).await;
    a.query_drop("INSERT INTO sc.t (v) VALUES (3)").await.unwrap();
    g.converge().await;
    let sums = g.checksums("sc.t").await;
    assert!(sums.iter().all(|x| *x == sums[0]), "{sums:?}");
}

/// A user whose login cannot be carried to the primary (ed25519: its proof answers one nonce
/// only) logs in on a secondary and reads there; a write is refused with 1290 and a reason,
/// never run as another user.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_of_users_whose_login_cannot_be_carried_are_refused_on_secondaries() {
    let g = single_primary_group().await;
    for m in &g.mysqlds {
        let mut d = m.root().await;
        d.query_drop("SET sql_log_bin = 0").await.unwrap();
        d.query_drop("INSTALL SONAME 'auth_ed25519'").await.unwrap();
    }
    let mut a = g.conn(0).await;
    a.query_drop("CREATE USER ed@'%' IDENTIFIED VIA ed25519 USING PASSWORD('edpw')")
        .await
        .unwrap();
    a.query_drop("GRANT ALL ON sc.* TO ed@'%'").await.unwrap();
    g.converge().await;
    let secondary = g.proxies[1].tcp_addr.unwrap().port();
    let primary = g.proxies[0].tcp_addr.unwrap().port();
    assert_eq!(
        cli_e(secondary, "ed", "edpw", "SELECT COUNT(*) FROM sc.t")
            .unwrap()
            .trim(),
        "0"
    );
    let e = cli_e(secondary, "ed", "edpw", "INSERT INTO sc.t (v) VALUES (9)").unwrap_err();
    assert!(e.contains("ERROR 1290"), "{e}");
    assert!(e.contains("ed25519") || e.contains("cannot be sent"), "{e}");
    // On the primary itself the user writes as usual.
    cli_e(primary, "ed", "edpw", "INSERT INTO sc.t (v) VALUES (10)").unwrap();
    g.converge().await;
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let vs: Vec<i32> = d.query("SELECT v FROM sc.t").await.unwrap();
        assert_eq!(vs, vec![10], "only the primary's write, everywhere");
    }
}
