//! Issue 13: online membership changes and state transfer on real `grproxy` processes: a
//! member whose mysqld diverged is rebuilt from a donor (`GRPROXY REBUILD`), a 4th member
//! joins under sysbench writes (`sandbox add`) and is removed again (`GRPROXY REMOVE MEMBER`), and
//! only accounts with SUPER may change the group.

mod common;

use std::time::{Duration, Instant};

use common::sandbox::*;
use common::write_retrying;
use mysql_async::prelude::*;

/// These tests each run a group of 3-4 mysqlds and copy up to 96 MiB between them: one at a
/// time, or a 2-core machine runs out of time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn opts(port: u16) -> mysql_async::OptsBuilder {
    common::root_tcp_opts(port)
}

async fn conn(port: u16) -> mysql_async::Conn {
    mysql_async::Conn::new(opts(port)).await.unwrap()
}

/// Row count and CHECKSUM TABLE of `gm.t` on a mysqld.
async fn fingerprint(mysqld_port: u16) -> (i64, i64) {
    // A member may not have the table yet (it is created through another member).
    let mut d = conn(mysqld_port).await;
    let n: Option<i64> = d.query_first("SELECT COUNT(*) FROM gm.t").await.unwrap_or(None);
    let sum: Option<(String, Option<i64>)> = d.query_first("CHECKSUM TABLE gm.t").await.unwrap_or(None);
    (n.unwrap_or(-1), sum.and_then(|s| s.1).unwrap_or(-1))
}

/// Waits until every listed mysqld has the same fingerprint with `rows` rows.
async fn converged(sb: &Sandbox, members: &[u16], rows: i64) -> (i64, i64) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut prints = Vec::new();
        for &m in members {
            prints.push(fingerprint(sb.mysqld_port(m)).await);
        }
        if prints.iter().all(|p| *p == prints[0]) && prints[0].0 == rows {
            return prints[0];
        }
        assert!(
            Instant::now() < deadline,
            "members {members:?} did not converge: {prints:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The body of an HTTP GET on 127.0.0.1:`port`.
async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

async fn state_of(port: u16, member: u64) -> String {
    let mut c = conn(port).await;
    let v: Vec<mysql_async::Row> = c.query("SHOW GRPROXY MEMBERS").await.unwrap();
    v.into_iter()
        .find(|r| r.get::<u64, _>("member_id") == Some(member))
        .and_then(|r| r.get::<String, _>("state"))
        .unwrap_or_default()
}

/// Waits until members 1..=n are ONLINE as each of them sees the group (a fresh sandbox's
/// peer links are still being set up for a moment).
async fn all_online(sb: &Sandbox, n: u16) {
    for m in 1..=n {
        for id in 1..=n as u64 {
            wait_state(sb.proxy_port(m), id, "ONLINE", Duration::from_secs(30)).await;
        }
    }
}

async fn wait_state(port: u16, member: u64, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let s = state_of(port, member).await;
        if s == want {
            return;
        }
        assert!(Instant::now() < deadline, "member {member} is {s:?}, not {want}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A fresh 3-member sandbox (snapshots every 100 entries, `extra` arguments), all ONLINE,
/// with table `gm.t` created through member `via`, and a connection to that member.
async fn group_with_table(extra: &[&str], via: u16) -> (Sandbox, mysql_async::Conn) {
    let mut args = vec!["--snapshot-every", "100"];
    args.extend(extra);
    let sb = Sandbox::up(3, &args);
    all_online(&sb, 3).await;
    let mut c = conn(sb.proxy_port(via)).await;
    c.query_drop("CREATE DATABASE gm").await.unwrap();
    c.query_drop("CREATE TABLE gm.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(40), b LONGBLOB)")
        .await
        .unwrap();
    (sb, c)
}

/// Waits until member 3 (through `port`) reports that it is receiving a copy.
async fn wait_receiving(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let detail = match mysql_async::Conn::new(opts(port)).await {
            Ok(mut v) => {
                let rows: Vec<mysql_async::Row> = v
                    .query("SHOW GRPROXY MEMBERS WHERE member_id = 3")
                    .await
                    .unwrap_or_default();
                rows.first()
                    .and_then(|r| r.get::<String, _>("detail"))
                    .unwrap_or_default()
            }
            Err(_) => String::new(),
        };
        if detail.contains("received") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "member 3 never started a transfer: {detail:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until member `m`'s log has `needle` (the copy's rows are visible a moment before
/// the applier logs what it did).
async fn wait_log(sb: &Sandbox, m: u16, needle: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(sb.node(m).join("grproxy.log"))
        .unwrap()
        .contains(needle)
    {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuild_add_and_remove_members_online() {
    let _serial = SERIAL.lock().await;
    let (sb, mut c) = group_with_table(&[], 1).await;
    let p = |m: u16| sb.proxy_port(m);
    c.query_drop("CREATE USER reader@'%' IDENTIFIED BY 'pw'").await.unwrap();
    c.query_drop("GRANT SELECT ON gm.* TO reader@'%'").await.unwrap();
    // More entries than the log keeps between snapshots.
    for i in 0..300 {
        c.query_drop(format!(
            "INSERT INTO gm.t (v, b) VALUES ('row {i} é', UNHEX('00FF27{i:04X}'))"
        ))
        .await
        .unwrap();
    }
    converged(&sb, &[1, 2, 3], 300).await;

    // Member 3's mysqld diverges behind grproxy's back; a rebuild makes it a copy again.
    let mut direct = conn(sb.mysqld_port(3)).await;
    direct.query_drop("DELETE FROM gm.t WHERE id < 100").await.unwrap();
    direct.query_drop("CREATE DATABASE stale").await.unwrap();
    let mut c3 = conn(p(3)).await;
    let done: Option<String> = c3.query_first("GRPROXY REBUILD FROM 1").await.unwrap();
    assert!(
        done.as_deref().unwrap_or("").starts_with("rebuilt from member 1"),
        "{done:?}"
    );
    let stale: Vec<String> = direct.query("SHOW DATABASES LIKE 'stale'").await.unwrap();
    assert!(stale.is_empty());
    // The donor's copy (every row, the accounts' hashes) is this user's only.
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = sb.dir.path().join("node1/raft/transfer");
        let mut paths = vec![dir.clone()];
        paths.extend(std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()));
        for path in paths {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", path.display());
        }
    }
    let grants: Vec<String> = direct.query("SHOW GRANTS FOR reader@'%'").await.unwrap();
    assert!(
        grants.iter().any(|g| g.contains("GRANT SELECT ON `gm`.*")),
        "{grants:?}"
    );
    // The transfer shows in member 3's /metrics.
    let metrics = http_get(sb.port + 400 + 2, "/metrics").await;
    assert!(
        metrics.contains("grproxy_group_state_transfers_completed_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("grproxy_group_state_transfer_active 0"), "{metrics}");
    c3.query_drop("INSERT INTO gm.t (v) VALUES ('after the rebuild')")
        .await
        .unwrap();
    converged(&sb, &[1, 2, 3], 301).await;

    // A 4th member joins while sysbench writes through members 1 and 2, and member 1 inserts.
    c.query_drop("CREATE DATABASE sbtest").await.unwrap();
    let sb_args = |ports: &str| common::sysbench_args("oltp_write_only", ports, 2, 2000);
    let sysbench = common::program(&["sysbench"]);
    let prep = std::process::Command::new(&sysbench)
        .args(sb_args(&p(1).to_string()))
        .arg("prepare")
        .output()
        .unwrap();
    assert!(prep.status.success(), "{}", String::from_utf8_lossy(&prep.stderr));
    let load = {
        let (sysbench, ports) = (sysbench.clone(), format!("{},{}", p(1), p(2)));
        let args = sb_args(&ports);
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(sysbench)
                .args(args)
                .args(["--threads=4", "--time=15", "--report-interval=0", "run"])
                .output()
                .unwrap()
        })
    };
    let p1 = p(1);
    let writer = tokio::spawn(async move {
        let mut w = conn(p1).await;
        for i in 0..100 {
            w.query_drop(format!("INSERT INTO gm.t (v) VALUES ('during the join {i}')"))
                .await
                .unwrap();
        }
    });
    let out = std::process::Command::new(BIN)
        .args(["sandbox", "add", "--dir"])
        .arg(sb.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sandbox add: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    writer.await.unwrap();
    let run = load.await.unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{text}\n{}", String::from_utf8_lossy(&run.stderr));
    let tx = text
        .lines()
        .find(|l| l.trim_start().starts_with("transactions:"))
        .unwrap_or_default();
    assert!(!tx.contains(" 0 "), "{text}");
    wait_state(p(1), 4, "ONLINE", Duration::from_secs(120)).await;
    // It may still be taking its copy (RECOVERING refuses writes with 3100).
    let mut c4 = conn(p(4)).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match c4.query_drop("INSERT INTO gm.t (v) VALUES ('through member 4')").await {
            Ok(()) => break,
            Err(mysql_async::Error::Server(e)) if e.code == 3100 && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(300)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    converged(&sb, &[1, 2, 3, 4], 402).await;
    // Every sysbench commit acknowledged during the join is on all four members.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut sums = Vec::new();
        for m in 1..=4 {
            let mut d = conn(sb.mysqld_port(m)).await;
            let r: Vec<(String, i64)> = d.query("CHECKSUM TABLE sbtest.sbtest1, sbtest.sbtest2").await.unwrap();
            sums.push(r);
        }
        if sums.iter().all(|s| *s == sums[0]) {
            break;
        }
        assert!(Instant::now() < deadline, "sysbench tables differ: {sums:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Only SUPER may change the group.
    let reader = common::root_tcp_opts(p(2)).user(Some("reader")).pass(Some("pw"));
    let mut r = mysql_async::Conn::new(reader).await.unwrap();
    let e = r.query_drop("GRPROXY REMOVE MEMBER 4").await.unwrap_err();
    assert!(e.to_string().contains("SUPER"), "{e}");

    // Removed: member 4 leaves everyone's view and takes no more writes.
    let done: Option<String> = c.query_first("GRPROXY REMOVE MEMBER 4").await.unwrap();
    assert_eq!(done.as_deref(), Some("member 4 was removed from the group"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut v = conn(p(2)).await;
        let rows: Vec<mysql_async::Row> = v.query("SHOW GRPROXY MEMBERS").await.unwrap();
        let refused = c4
            .query_drop("INSERT INTO gm.t (v) VALUES ('after removal')")
            .await
            .is_err();
        if rows.len() == 3 && refused {
            break;
        }
        assert!(Instant::now() < deadline, "member 4 still listed or still writing");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // What member 4 tried after its removal is nowhere.
    let mut d1 = conn(sb.mysqld_port(1)).await;
    let late: Option<i64> = d1
        .query_first("SELECT COUNT(*) FROM gm.t WHERE v = 'after removal'")
        .await
        .unwrap();
    assert_eq!(late, Some(0));
    c.query_drop("INSERT INTO gm.t (v) VALUES ('three again')")
        .await
        .unwrap();
    converged(&sb, &[1, 2, 3], 403).await;
}

/// Bounded retention: while member 3 is down the others write more than
/// `group.retention_bytes`; the entries it misses are dropped, and when it comes back it is
/// re-provisioned by state transfer by itself, then catches up and converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_beyond_retention_is_reprovisioned_automatically() {
    let _serial = SERIAL.lock().await;
    let (sb, mut c) = group_with_table(&["--retention-bytes", "1048576"], 1).await;
    converged(&sb, &[1, 2, 3], 0).await;
    let stop = std::process::Command::new(BIN)
        .args(["sandbox", "stop", "--node", "3", "--dir"])
        .arg(sb.dir.path())
        .output()
        .unwrap();
    assert!(stop.status.success());
    // About 2.4 MiB of row images: more than the 1 MiB kept for member 3.
    for i in 0..300 {
        c.query_drop(format!("INSERT INTO gm.t (v, b) VALUES ('r{i}', REPEAT('x', 8000))"))
            .await
            .unwrap();
    }
    let status: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.unwrap();
    let dropped = status
        .iter()
        .find(|(k, _)| k == "retention_dropped_through")
        .map(|(_, v)| v.parse::<u64>().unwrap())
        .unwrap();
    assert!(dropped > 0, "nothing was dropped: {status:?}");
    let start = std::process::Command::new(BIN)
        .args(["sandbox", "start", "--node", "3", "--dir"])
        .arg(sb.dir.path())
        .output()
        .unwrap();
    assert!(start.status.success(), "{}", String::from_utf8_lossy(&start.stderr));
    converged(&sb, &[1, 2, 3], 300).await;
    wait_log(
        &sb,
        3,
        "state transfer done",
        "member 3 caught up without a state transfer",
    )
    .await;
    c.query_drop("INSERT INTO gm.t (v) VALUES ('after')").await.unwrap();
    converged(&sb, &[1, 2, 3], 301).await;
}

/// The donor dies in the middle of a state transfer: the joiner's rebuild reports the
/// failure, the joiner retries by itself with another donor, completes and converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transfer_whose_donor_dies_is_retried_with_another_donor() {
    let _serial = SERIAL.lock().await;
    let (sb, mut c) = group_with_table(&[], 2).await;
    let p = |m: u16| sb.proxy_port(m);
    // About 96 MiB of data (192 MiB as hex in the copy): the copy takes a few seconds.
    for i in 0..96 {
        c.query_drop(format!(
            "INSERT INTO gm.t (v, b) VALUES ('r{i}', REPEAT(CHAR(65 + {i} % 26), 1048576))"
        ))
        .await
        .unwrap();
    }
    converged(&sb, &[1, 2, 3], 96).await;
    let p3 = p(3);
    let rebuild = tokio::spawn(async move {
        let mut c3 = conn(p3).await;
        c3.query_first::<String, _>("GRPROXY REBUILD FROM 1").await
    });
    // Kill member 1's proxy once member 3 is receiving its copy.
    wait_receiving(p(3)).await;
    sb.kill_proxy(1);
    let first = rebuild.await.unwrap();
    assert!(
        first.is_err(),
        "the rebuild from a dead donor reported success: {first:?}"
    );
    // The retry (after 10 s) takes member 2 as donor.
    converged(&sb, &[2, 3], 96).await;
    let mut c3 = conn(p(3)).await;
    write_retrying(
        &mut c3,
        "INSERT INTO gm.t (v) VALUES ('after the retry')",
        &[3100, 1047],
        Duration::from_secs(120),
    )
    .await;
    sb.restart_proxy(1);
    converged(&sb, &[1, 2, 3], 97).await;
    wait_log(
        &sb,
        3,
        "rebuilt from member 2",
        "member 3 did not complete from member 2",
    )
    .await;
}

/// Member 3's mysqld loses its data (every database dropped behind grproxy's back while its
/// proxy is down): when the proxy starts again the member is re-provisioned by state transfer
/// by itself. Its proxy is killed -9 in the middle of
/// that transfer: at its restart it sees the unfinished transfer, starts it again and
/// converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wiped_member_and_a_joiner_killed_mid_transfer_are_reprovisioned() {
    let _serial = SERIAL.lock().await;
    let (sb, mut c) = group_with_table(&[], 1).await;
    let p = |m: u16| sb.proxy_port(m);
    for i in 0..160 {
        let size = if i < 96 { 1048576 } else { 10 };
        c.query_drop(format!("INSERT INTO gm.t (v, b) VALUES ('r{i}', REPEAT('y', {size}))"))
            .await
            .unwrap();
    }
    converged(&sb, &[1, 2, 3], 160).await;
    // Its mysqld loses every database (the system schema stays: accounts, the service
    // account among them, as after restoring a bare server).
    sb.kill_proxy(3);
    let mut d3 = conn(sb.mysqld_port(3)).await;
    d3.query_drop("SET SESSION sql_log_bin = 0").await.unwrap();
    d3.query_drop("DROP DATABASE gm").await.unwrap();
    d3.query_drop("DROP DATABASE grproxy").await.unwrap();
    drop(d3);
    sb.restart_proxy(3);
    // Kill its proxy while it loads the copy.
    wait_receiving(p(3)).await;
    sb.kill_proxy(3);
    assert!(sb.node(3).join("raft").join("transfer.pending").exists());
    sb.restart_proxy(3);
    converged(&sb, &[1, 2, 3], 160).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while sb.node(3).join("raft").join("transfer.pending").exists() {
        assert!(Instant::now() < deadline, "the restarted transfer did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = std::fs::read_to_string(sb.node(3).join("grproxy.log")).unwrap();
    assert!(
        log.contains("was interrupted"),
        "the restart did not notice the unfinished transfer"
    );
    let mut c3 = conn(p(3)).await;
    write_retrying(
        &mut c3,
        "INSERT INTO gm.t (v) VALUES ('after')",
        &[3100, 1047],
        Duration::from_secs(120),
    )
    .await;
    converged(&sb, &[1, 2, 3], 161).await;
}
