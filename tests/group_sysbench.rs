//! sysbench `oltp_read_write` across the three members of a group, then equal checksums on
//! every member. In its own test binary: it loads both CPUs, so it runs alone rather than
//! beside the other group tests.

mod common;

use common::*;
use mysql_async::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sysbench_across_all_members_converges() {
    let secs: u64 = std::env::var("GRPROXY_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE sbtest").await.unwrap();
    let ports: Vec<String> = g
        .proxies
        .iter()
        .map(|p| p.tcp_addr.unwrap().port().to_string())
        .collect();
    let sysbench = program(&["sysbench"]);
    let args = |ports: &str| common::sysbench_args("oltp_read_write", ports, 2, 5000);
    let prep = std::process::Command::new(&sysbench)
        .args(args(&ports[0]))
        .arg("prepare")
        .output()
        .unwrap();
    assert!(prep.status.success(), "{}", String::from_utf8_lossy(&prep.stderr));
    g.converge().await;
    let out = std::process::Command::new(&sysbench)
        .args(args(&ports.join(",")))
        .args(["--threads=6", "--report-interval=0", "--db-ps-mode=auto"])
        .arg(format!("--time={secs}"))
        .arg("run")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let tx = text
        .lines()
        .find(|l| l.trim_start().starts_with("transactions:"))
        .unwrap_or_default();
    assert!(!tx.contains(" 0 "), "{text}");
    g.converge().await;
    for t in ["sbtest.sbtest1", "sbtest.sbtest2"] {
        let sums = g.checksums(t).await;
        assert!(sums.iter().all(|s| *s == sums[0]), "{t}: {sums:?}");
    }
}
