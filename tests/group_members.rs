//! Issue 13: the member view on every member (`SHOW GRPROXY MEMBERS`), quorum that clients and
//! operators can see, and a killed member named as gone, on real `grproxy` processes.

mod common;

use std::time::{Duration, Instant};

use common::sandbox::*;
use mysql_async::prelude::*;

fn opts(port: u16) -> mysql_async::OptsBuilder {
    common::root_tcp_opts(port)
}

type Row = (u64, String, String, String);

async fn members(port: u16, condition: &str) -> Vec<Row> {
    let mut c = mysql_async::Conn::new(opts(port)).await.unwrap();
    let rows: Vec<mysql_async::Row> = c.query(format!("SHOW GRPROXY MEMBERS {condition}")).await.unwrap();
    c.disconnect().await.unwrap();
    rows.into_iter()
        .map(|r| {
            (
                r.get::<u64, _>("member_id").unwrap(),
                r.get::<String, _>("address").unwrap(),
                r.get::<String, _>("role").unwrap(),
                r.get::<String, _>("state").unwrap(),
            )
        })
        .collect()
}

/// Polls `port`'s view until `want` holds (or panics after `within`).
async fn wait_view(port: u16, within: Duration, what: &str, want: impl Fn(&[Row]) -> bool) -> Vec<Row> {
    let deadline = Instant::now() + within;
    loop {
        let v = members(port, "").await;
        if want(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: view of member at {port} is {v:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn status(port: u16, name: &str) -> String {
    let mut c = mysql_async::Conn::new(opts(port)).await.unwrap();
    let rows: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.unwrap();
    c.disconnect().await.unwrap();
    rows.into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_view_quorum_and_a_killed_member() {
    let sb = Sandbox::up(3, &[]);
    let p = |m: u16| sb.proxy_port(m);
    let mut c = mysql_async::Conn::new(opts(p(1))).await.unwrap();
    c.query_drop("CREATE DATABASE mv").await.unwrap();
    c.query_drop("CREATE TABLE mv.t (id INT PRIMARY KEY)").await.unwrap();
    c.disconnect().await.unwrap();

    // Every member sees all three ONLINE, one leader, and the filter is the client's.
    for m in 1..=3 {
        let v = wait_view(p(m), Duration::from_secs(10), "all ONLINE", |v| {
            v.len() == 3 && v.iter().all(|r| r.3 == "ONLINE" && r.2 != "learner")
        })
        .await;
        assert_eq!(v.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(v.iter().filter(|r| r.2 == "leader").count(), 1, "{v:?}");
        let leaders = members(p(m), "WHERE role = 'leader'").await;
        assert_eq!(leaders.len(), 1);
    }

    // kill -9 member 3's proxy: the others name it UNREACHABLE and keep taking writes.
    sb.kill_proxy(3);
    for m in 1..=2 {
        wait_view(p(m), Duration::from_secs(10), "member 3 UNREACHABLE", |v| {
            v.iter().any(|r| r.0 == 3 && r.3 == "UNREACHABLE")
        })
        .await;
    }
    let gone = members(p(1), "WHERE state <> 'ONLINE'").await;
    assert_eq!(gone.iter().map(|r| r.0).collect::<Vec<_>>(), vec![3]);
    let mut c = mysql_async::Conn::new(opts(p(1))).await.unwrap();
    c.query_drop("INSERT INTO mv.t VALUES (1)").await.unwrap();
    assert_eq!(status(p(2), "member_state").await, "ONLINE");

    // kill -9 member 2's too: member 1 alone has no quorum, says so, and refuses writes at
    // once with 1047 (a read still works).
    sb.kill_proxy(2);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !status(p(1), "member_state").await.starts_with("NO_QUORUM") {
        assert!(Instant::now() < deadline, "member 1 never reported NO_QUORUM");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let started = Instant::now();
    let e = c.query_drop("INSERT INTO mv.t VALUES (2)").await.unwrap_err();
    match &e {
        mysql_async::Error::Server(s) => {
            assert_eq!((s.code, s.state.as_str()), (1047, "08S01"), "{e}");
            assert!(s.message.contains("NO_QUORUM"), "{e}");
        }
        other => panic!("expected a server error, got {other}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused after {:?}",
        started.elapsed()
    );
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM mv.t").await.unwrap();
    assert_eq!(n, Some(1));
    let e = c
        .query_drop("CREATE TABLE mv.u (id INT PRIMARY KEY)")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("NO_QUORUM"), "{e}");

    // Both come back by themselves: quorum returns, the refused writes can be retried.
    sb.restart_proxy(2);
    sb.restart_proxy(3);
    for m in 1..=3 {
        wait_view(p(m), Duration::from_secs(30), "all ONLINE again", |v| {
            v.len() == 3 && v.iter().all(|r| r.3 == "ONLINE")
        })
        .await;
    }
    c.query_drop("INSERT INTO mv.t VALUES (2)").await.unwrap();
    let mut d = mysql_async::Conn::new(opts(sb.mysqld_port(3))).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let n: Option<i64> = d.query_first("SELECT COUNT(*) FROM mv.t").await.unwrap();
        if n == Some(2) {
            break;
        }
        assert!(Instant::now() < deadline, "member 3 did not catch up: {n:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn sandbox(sb: &Sandbox, args: &[&str]) {
    let out = std::process::Command::new(BIN)
        .arg("sandbox")
        .args(args)
        .arg("--dir")
        .arg(sb.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sandbox {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 13: one documented command stops a node and one starts it again; `sandbox up` run
/// again after a proxy died restarts it instead of failing on the node's own ports. The
/// member rejoins by itself and catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandbox_stop_and_start_one_node() {
    let sb = Sandbox::up(3, &[]);
    let p = |m: u16| sb.proxy_port(m);
    sandbox(&sb, &["stop", "--node", "2"]);
    wait_view(p(1), Duration::from_secs(10), "member 2 UNREACHABLE", |v| {
        v.iter().any(|r| r.0 == 2 && r.3 == "UNREACHABLE")
    })
    .await;
    let mut c = mysql_async::Conn::new(opts(p(1))).await.unwrap();
    c.query_drop("CREATE DATABASE ss").await.unwrap();
    c.query_drop("CREATE TABLE ss.t (id INT PRIMARY KEY)").await.unwrap();
    c.query_drop("INSERT INTO ss.t VALUES (1)").await.unwrap();
    sandbox(&sb, &["start", "--node", "2"]);
    // A dead proxy alone: `sandbox up` again brings it back.
    sb.kill_proxy(3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    sandbox(&sb, &["up", "--nodes", "3", "--port", &sb.port.to_string()]);
    for m in 1..=3 {
        wait_view(p(m), Duration::from_secs(30), "all ONLINE again", |v| {
            v.len() == 3 && v.iter().all(|r| r.3 == "ONLINE")
        })
        .await;
    }
    let mut d = mysql_async::Conn::new(opts(p(2))).await.unwrap();
    let n: Option<i64> = d.query_first("SELECT COUNT(*) FROM ss.t").await.unwrap();
    assert_eq!(n, Some(1));
}

/// Issue 14: a leader stopped with SIGTERM hands leadership to another member before it
/// drains, so the others have a leader at once (no election timeout), and commits go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_on_the_leader_hands_leadership_over() {
    let sb = Sandbox::up(3, &[]);
    let p = |m: u16| sb.proxy_port(m);
    let leader_seen_by = |m: u16| async move {
        let mut c = mysql_async::Conn::new(opts(p(m))).await.unwrap();
        let rows: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.unwrap();
        rows.into_iter()
            .find(|(k, _)| k == "raft_leader_id")
            .and_then(|(_, v)| v.parse::<u16>().ok())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let leader = loop {
        if let Some(l) = leader_seen_by(1).await {
            break l;
        }
        assert!(Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let pid = std::fs::read_to_string(sb.node(leader).join("grproxy.pid")).unwrap();
    let other = (1..=3).find(|&m| m != leader).unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .unwrap();
    let started = Instant::now();
    let new = loop {
        if let Some(l) = leader_seen_by(other).await.filter(|&l| l != leader) {
            break l;
        }
        assert!(Instant::now() < started + Duration::from_secs(10), "no new leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log_path = sb.node(leader).join("grproxy.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log_path)
        .unwrap()
        .contains(&format!("handed group leadership to member {new}"))
    {
        assert!(Instant::now() < deadline, "the leader did not hand over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut c = mysql_async::Conn::new(opts(p(other))).await.unwrap();
    c.query_drop("CREATE DATABASE handover").await.unwrap();
}
