//! A 3-member group of real processes (the `grproxy` binary via `sandbox up`) under load:
//! kill -9 a proxy and restart it, kill -9 a mysqld and restart it; afterwards every member
//! has every acknowledged commit and the same checksums.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;

use common::sandbox::{insert_writer, update_writer, Sandbox};

fn opts(port: u16) -> mysql_async::OptsBuilder {
    common::root_tcp_opts(port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_and_restart_proxy_and_mysqld_under_load() {
    let sb = Sandbox::up(3, &[]);
    let port = sb.port;
    let mut c = mysql_async::Conn::new(opts(port)).await.unwrap();
    c.query_drop("CREATE DATABASE f").await.unwrap();
    c.query_drop("CREATE TABLE f.acks (id BIGINT PRIMARY KEY, member INT)")
        .await
        .unwrap();
    c.query_drop("CREATE TABLE f.counter (id INT PRIMARY KEY, n BIGINT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO f.counter VALUES (1, 0), (2, 0), (3, 0)")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for m in 0..3u16 {
        tasks.push(tokio::spawn(insert_writer(
            port + m,
            "INSERT INTO f.acks (id, member) VALUES (?, ?)",
            m as u64 + 1,
            stop.clone(),
            acked.clone(),
        )));
        // Contended updates too (certification aborts are expected and fine).
        tasks.push(tokio::spawn(update_writer(
            port + m,
            "UPDATE f.counter SET n = n + 1 WHERE id = ?",
            1 + m as u64 % 2,
            stop.clone(),
        )));
    }

    // kill -9 member 2's proxy, restart it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    sb.kill_proxy(2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    sb.restart_proxy(2);

    // kill -9 member 3's mysqld, restart it with the same command line.
    tokio::time::sleep(Duration::from_secs(3)).await;
    sb.kill_and_restart_mysqld(3, Duration::from_secs(2)).await;

    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    for t in tasks {
        // A client stuck on a member that is still recovering is abandoned, not waited for.
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    eprintln!("load stopped in {:?}", t0.elapsed());
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "load ran: {} acknowledged inserts", acked.len());

    // Heal: wait until every member has every acknowledged row and the same checksums.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut sums = Vec::new();
        let mut missing = Vec::new();
        for m in 0..3u16 {
            let direct = mysql_async::OptsBuilder::from_opts(opts(port + 100 + m));
            let Ok(mut c) = mysql_async::Conn::new(direct).await else {
                missing.push(usize::MAX);
                continue;
            };
            let ids: Vec<u64> = c.query("SELECT id FROM f.acks").await.unwrap_or_default();
            let have: std::collections::HashSet<u64> = ids.into_iter().collect();
            missing.push(acked.iter().filter(|id| !have.contains(id)).count());
            let s: Vec<(String, Option<i64>)> = c.query("CHECKSUM TABLE f.acks, f.counter").await.unwrap_or_default();
            sums.push(s);
        }
        let converged = missing.iter().all(|&m| m == 0) && sums.len() == 3 && sums.iter().all(|s| *s == sums[0]);
        if converged {
            eprintln!(
                "converged in {:?}",
                deadline - Duration::from_secs(60) - Instant::now().min(deadline)
            );
            break;
        }
        eprintln!("waiting: missing {missing:?}");
        assert!(
            Instant::now() < deadline,
            "did not converge: missing acknowledged rows per member {missing:?}, checksums {sums:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
