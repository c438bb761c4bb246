//! A 3-member group of real processes (the `grproxy` binary via `sandbox up`) under load:
//! kill -9 a proxy and restart it, kill -9 a mysqld and restart it; afterwards every member
//! has every acknowledged commit and the same checksums.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_grproxy");

fn base_port() -> u16 {
    loop {
        let p = common::free_port();
        let all = [0, 1, 2, 100, 101, 102, 200, 201, 202];
        if p < 60000
            && all
                .iter()
                .all(|d| std::net::TcpListener::bind(("127.0.0.1", p + d)).is_ok())
        {
            return p;
        }
    }
}

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .args(["sandbox", "down", "--dir"])
            .arg(self.dir.path())
            .output();
    }
}

fn pid(dir: &std::path::Path, file: &str) -> u32 {
    std::fs::read_to_string(dir.join(file)).unwrap().trim().parse().unwrap()
}

fn opts(port: u16) -> mysql_async::OptsBuilder {
    common::root_tcp_opts(port)
}

/// Inserts rows with unique ids through one member, reconnecting after failures; records the
/// ids whose commit was acknowledged.
async fn writer(port: u16, member: u64, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<u64>>>) {
    let mut seq = 0u64;
    let mut conn: Option<mysql_async::Conn> = None;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            conn = mysql_async::Conn::new(opts(port)).await.ok();
            if conn.is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        }
        seq += 1;
        let id = member * 1_000_000 + seq;
        let c = conn.as_mut().unwrap();
        let r = c
            .exec_drop("INSERT INTO f.acks (id, member) VALUES (?, ?)", (id, member))
            .await;
        match r {
            Ok(()) => acked.lock().unwrap().push(id),
            Err(mysql_async::Error::Server(_)) => {}
            Err(_) => conn = None,
        }
    }
}

// The restarted processes are stopped by `sandbox down` through their pid files.
#[allow(clippy::zombie_processes)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_and_restart_proxy_and_mysqld_under_load() {
    let sb = Sandbox {
        dir: tempfile::tempdir().unwrap(),
    };
    let dir = sb.dir.path().to_path_buf();
    let port = base_port();
    let up = Command::new(BIN)
        .args(["sandbox", "up", "--nodes", "3", "--port", &port.to_string(), "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
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
        tasks.push(tokio::spawn(writer(
            port + m,
            m as u64 + 1,
            stop.clone(),
            acked.clone(),
        )));
        // Contended updates too (certification aborts are expected and fine).
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(mut c) = mysql_async::Conn::new(opts(port + m)).await {
                    while !stop.load(Ordering::Relaxed) {
                        match c
                            .exec_drop("UPDATE f.counter SET n = n + 1 WHERE id = ?", (1 + m % 2,))
                            .await
                        {
                            Ok(()) | Err(mysql_async::Error::Server(_)) => {}
                            Err(_) => break,
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }

    // kill -9 member 2's proxy, restart it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let node2 = dir.join("node2");
    Command::new("kill")
        .args(["-9", &pid(&node2, "grproxy.pid").to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log = std::fs::OpenOptions::new()
        .append(true)
        .open(node2.join("grproxy.log"))
        .unwrap();
    let restarted = Command::new(BIN)
        .arg("run")
        .arg("--config")
        .arg(node2.join("grproxy.yaml"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    std::fs::write(node2.join("grproxy.pid"), restarted.id().to_string()).unwrap();

    // kill -9 member 3's mysqld, restart it with the same command line.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let node3 = dir.join("node3");
    let mpid = pid(&node3, "mysqld.pid.sandbox");
    let cmdline: Vec<String> = std::fs::read(format!("/proc/{mpid}/cmdline"))
        .unwrap()
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    Command::new("kill").args(["-9", &mpid.to_string()]).status().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let child = Command::new(&cmdline[0]).args(&cmdline[1..]).spawn().unwrap();
    std::fs::write(node3.join("mysqld.pid.sandbox"), child.id().to_string()).unwrap();

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
