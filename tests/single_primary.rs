//! Single-primary mode and read-write splitting (issue 12), on real members: clients come in
//! through a secondary the way users do (the `mariadb` CLI with `-e` and stdin, a pooled
//! driver with prepared statements) and their writes land on the primary and reach every
//! member; reads see the session's own writes; a SELECT-only user cannot write through the
//! forwarding; a switchover fences the old primary; the mode changes online; and a killed
//! primary (its grproxy, or its mysqld) is replaced within seconds without losing an
//! acknowledged write.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::sandbox::{insert_writer, Sandbox};
use common::*;
use mysql_async::prelude::*;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs the mariadb CLI against `port` with `sql` on stdin (several statements, one
/// session); its stdout, or its stderr as the error.
fn cli(port: u16, user: &str, pass: &str, sql: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = Command::new(program(&["mariadb", "mysql"]))
        .args(["-h127.0.0.1", &format!("-P{port}"), &format!("-u{user}"), "-N", "-B"])
        // (a bare -p would read the password from stdin)
        .args((!pass.is_empty()).then(|| format!("-p{pass}")))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn port(g: &TestGroup, member: usize) -> u16 {
    g.proxies[member].tcp_addr.unwrap().port()
}

async fn read_only(g: &TestGroup, member: usize) -> i64 {
    let mut c = g.mysqlds[member].root().await;
    let v: Option<i64> = c.query_first("SELECT @@global.read_only").await.unwrap();
    v.unwrap()
}

async fn wait_read_only(g: &TestGroup, want: [i64; 3]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut have = [0; 3];
        for (m, h) in have.iter_mut().enumerate() {
            *h = read_only(g, m).await;
        }
        if have == want {
            return;
        }
        assert!(Instant::now() < deadline, "read_only is {have:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sorted ids of `sp.t` on every member's mysqld, once they converged.
async fn ids_everywhere(g: &TestGroup) -> Vec<Vec<i64>> {
    g.converge().await;
    let mut out = Vec::new();
    for m in &g.mysqlds {
        let mut c = m.root().await;
        let ids: Vec<i64> = c.query("SELECT id FROM sp.t ORDER BY id").await.unwrap();
        out.push(ids);
    }
    out
}

/// Through member 1 of a new (multi-primary) group: `sp.t` and the `app` account, then `more`.
fn schema_and_app_account(g: &TestGroup, more: &str) {
    cli_e(
        port(g, 0),
        "root",
        "",
        &format!(
            "CREATE DATABASE sp; CREATE TABLE sp.t (id INT PRIMARY KEY, s VARCHAR(20), by_member INT); \
             CREATE USER app@'%' IDENTIFIED BY 'app-pw'; GRANT ALL ON sp.* TO app@'%'; {more}"
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splitting_switchover_fencing_and_mode_changes() {
    let _serial = SERIAL.lock().await;
    let g = TestGroup::start(3).await;
    let (p1, p2, p3) = (port(&g, 0), port(&g, 1), port(&g, 2));
    schema_and_app_account(
        &g,
        "CREATE USER reader@'%' IDENTIFIED BY 'reader-pw'; GRANT SELECT ON sp.* TO reader@'%'; \
         CREATE USER direct@'%' IDENTIFIED BY 'direct-pw'; GRANT INSERT, SELECT ON sp.* TO direct@'%'",
    );
    assert_eq!(g.status(0, "group_mode").await, "multi-primary");

    // Online change to single-primary, asked through a member that will be a secondary.
    let out = cli_e(p3, "root", "", "GRPROXY SET MODE SINGLE-PRIMARY WITH PRIMARY 1").unwrap();
    assert!(out.contains("member 1 is the primary"), "{out}");
    g.wait_status("group_mode", "single-primary").await;
    g.wait_status("primary_member_id", "1").await;
    wait_read_only(&g, [0, 1, 1]).await;
    let members = cli_e(p2, "root", "", "SHOW GRPROXY MEMBERS").unwrap();
    assert!(
        members.contains("PRIMARY") && members.contains("SECONDARY"),
        "{members}"
    );

    // The CLI through a secondary, a fresh connection per statement: the write lands on the
    // primary and reaches every member.
    cli_e(p2, "app", "app-pw", "INSERT INTO sp.t VALUES (1, 'cli -e', 2)").unwrap();
    // One session on stdin: a transaction, a locking read, LAST_INSERT_ID / ROW_COUNT of a
    // write on the primary, user variables (pin), and read-your-writes.
    let out = cli(
        p3,
        "app",
        "app-pw",
        "USE sp;\nINSERT INTO t VALUES (2, 'stdin', 3);\nSELECT COUNT(*) FROM t WHERE id = 2;\n\
         BEGIN;\nUPDATE t SET s = 'tx' WHERE id = 2;\nSELECT s FROM t WHERE id = 2 FOR UPDATE;\nCOMMIT;\n\
         SELECT s FROM t WHERE id = 2;\nUPDATE t SET s = 'rc' WHERE id IN (1, 2);\nSELECT ROW_COUNT();\n\
         SET @n = 3;\nINSERT INTO t VALUES (@n, 'var', 3);\nSELECT @n, COUNT(*) FROM t;\n",
    )
    .unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["1", "tx", "tx", "2", "3\t3"], "{out}");

    // A pooled driver through a secondary: binary prepared statements (they pin the session
    // to the primary), parameters and a transaction.
    let mut c = mysql_async::Conn::new(proxy_opts(&g.proxies[1], "app", "app-pw"))
        .await
        .unwrap();
    let mut tx = c.start_transaction(Default::default()).await.unwrap();
    for id in 10..15 {
        tx.exec_drop("INSERT INTO sp.t VALUES (?, ?, 2)", (id, format!("ps {id}")))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let n: Option<i64> = c
        .exec_first("SELECT COUNT(*) FROM sp.t WHERE id >= ?", (10,))
        .await
        .unwrap();
    assert_eq!(n, Some(5));
    drop(c);

    // A SELECT-only user cannot write through the forwarding: the primary's mysqld checks
    // its own privileges (1142), and nothing is written anywhere.
    let e = cli_e(p2, "reader", "reader-pw", "INSERT INTO sp.t VALUES (99, 'no', 2)").unwrap_err();
    assert!(e.contains("1142"), "{e}");
    assert_eq!(
        cli_e(p2, "reader", "reader-pw", "SELECT COUNT(*) FROM sp.t")
            .unwrap()
            .trim(),
        "8"
    );
    // Straight to a secondary's mysqld, an ordinary account cannot write (read_only).
    let mut d = mysql_async::Conn::new(g.mysqlds[1].direct_opts("direct", "direct-pw"))
        .await
        .unwrap();
    let e = d
        .query_drop("INSERT INTO sp.t VALUES (98, 'direct', 2)")
        .await
        .unwrap_err();
    assert!(matches!(&e, mysql_async::Error::Server(s) if s.code == 1290), "{e}");
    drop(d);

    let everywhere = ids_everywhere(&g).await;
    let want: Vec<i64> = vec![1, 2, 3, 10, 11, 12, 13, 14];
    assert_eq!(everywhere, vec![want.clone(), want.clone(), want.clone()]);

    // Fencing: a transaction open on the primary when a switchover happens cannot commit
    // afterwards, on any member.
    let mut old = g.conn(0).await;
    old.query_drop("BEGIN").await.unwrap();
    old.query_drop("INSERT INTO sp.t VALUES (50, 'fenced', 1)")
        .await
        .unwrap();
    let out = cli_e(p1, "root", "", "GRPROXY SET PRIMARY 2").unwrap();
    assert!(out.contains("member 2 is the primary"), "{out}");
    g.wait_status("primary_member_id", "2").await;
    let e = old.query_drop("COMMIT").await.unwrap_err();
    assert!(
        matches!(&e, mysql_async::Error::Server(s) if [1213, 1290].contains(&s.code)),
        "{e}"
    );
    drop(old);
    wait_read_only(&g, [1, 0, 1]).await;
    // The old primary now sends writes on, like any secondary.
    cli_e(
        p1,
        "app",
        "app-pw",
        "INSERT INTO sp.t VALUES (51, 'via old primary', 1)",
    )
    .unwrap();
    cli_e(p3, "app", "app-pw", "INSERT INTO sp.t VALUES (52, 'via 3', 3)").unwrap();
    let everywhere = ids_everywhere(&g).await;
    let mut want2 = want.clone();
    want2.extend([51, 52]);
    assert_eq!(everywhere, vec![want2.clone(), want2.clone(), want2.clone()]);

    // Back to multi-primary: every member writes locally again.
    cli_e(p2, "root", "", "GRPROXY SET MODE MULTI-PRIMARY").unwrap();
    g.wait_status("group_mode", "multi-primary").await;
    wait_read_only(&g, [0, 0, 0]).await;
    for (i, p) in [p1, p2, p3].into_iter().enumerate() {
        cli_e(
            p,
            "app",
            "app-pw",
            &format!("INSERT INTO sp.t VALUES ({}, 'multi', {})", 60 + i, i + 1),
        )
        .unwrap();
    }
    let everywhere = ids_everywhere(&g).await;
    want2.extend([60, 61, 62]);
    assert_eq!(everywhere, vec![want2.clone(), want2.clone(), want2]);
    let sums = g.checksums("sp.t").await;
    assert!(sums.iter().all(|s| *s == sums[0]), "{sums:?}");
}

/// Waits until the proxy at `port` names a primary other than `old`; how long it took.
async fn wait_new_primary(port: u16, old: &str, since: Instant) -> Duration {
    loop {
        if let Ok(mut c) = mysql_async::Conn::new(root_tcp_opts(port)).await {
            let rows: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.unwrap_or_default();
            let p = rows.into_iter().find(|(n, _)| n == "primary_member_id").map(|(_, v)| v);
            if p.as_deref().is_some_and(|p| !p.is_empty() && p != old) {
                return since.elapsed();
            }
        }
        assert!(since.elapsed() < Duration::from_secs(60), "no new primary");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long after `since` the first write through `port` is acknowledged (fresh connections,
/// as a client retrying after an error would); the id joins `acked`.
async fn first_write_after(
    port: u16,
    since: Instant,
    id: u64,
    acked: &std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
) -> Duration {
    loop {
        if let Ok(mut c) = mysql_async::Conn::new(root_tcp_opts(port)).await {
            if c.exec_drop("INSERT INTO sp.t VALUES (?, 0)", (id,)).await.is_ok() {
                acked.lock().unwrap().push(id);
                return since.elapsed();
            }
        }
        assert!(since.elapsed() < Duration::from_secs(60), "writes did not resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writers through both secondaries while the primary's grproxy is killed (-9), then, on the
/// new primary, while its mysqld is killed: writes resume on a new primary, and every
/// acknowledged write is on every surviving member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_primary_is_replaced_without_losing_acknowledged_writes() {
    let _serial = SERIAL.lock().await;
    let sb = Sandbox::up(3, &["--mode", "single-primary"]);
    let mut c = mysql_async::Conn::new(root_tcp_opts(sb.proxy_port(2))).await.unwrap();
    c.query_drop("CREATE DATABASE sp").await.unwrap();
    c.query_drop("CREATE TABLE sp.t (id BIGINT PRIMARY KEY, member INT)")
        .await
        .unwrap();
    // Through a secondary: its OK waits until this member has the database too, so the
    // fresh connections below find it here.
    c.query_drop("CREATE DATABASE sbtest").await.unwrap();
    let rows: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.unwrap();
    let first = rows.into_iter().find(|(n, _)| n == "primary_member_id").unwrap().1;
    assert_eq!(first, "1", "the election picks the lowest id among equals");
    drop(c);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked_ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let insert = "INSERT INTO sp.t VALUES (?, ?)";
    let writers: Vec<_> = [2u16, 3]
        .into_iter()
        .map(|m| {
            tokio::spawn(insert_writer(
                sb.proxy_port(m),
                insert,
                m as u64,
                stop.clone(),
                acked_ids.clone(),
            ))
        })
        .collect();
    // sysbench through both secondaries at the same time (it reconnects and goes on past
    // the errors a failover gives its open transactions).
    let sysbench = program(&["sysbench"]);
    let ports = format!("{},{}", sb.proxy_port(2), sb.proxy_port(3));
    let sb_args = sysbench_args("oltp_write_only", &ports, 2, 1000);
    let prep = Command::new(&sysbench)
        .args(sysbench_args("oltp_write_only", &sb.proxy_port(2).to_string(), 2, 1000))
        .arg("prepare")
        .output()
        .unwrap();
    assert!(
        prep.status.success(),
        "{}{}",
        String::from_utf8_lossy(&prep.stdout),
        String::from_utf8_lossy(&prep.stderr)
    );
    // sysbench stops at an error it does not retry (a failover ends its sessions; with
    // --mysql-ignore-errors=all, 1.0.20 crashes reconnecting), so it runs in rounds of 3 s,
    // again and again, until the writers stop.
    let rounds = {
        let (sysbench, stop) = (sysbench.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            let mut done = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let out = Command::new(&sysbench)
                    .args(&sb_args)
                    .args(["--threads=4", "--time=3", "--report-interval=0"])
                    .args(["--db-ps-mode=disable", "run"])
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                done.push((
                    out.status.success(),
                    text.lines().find(|l| l.contains("transactions:")).map(str::to_string),
                ));
            }
            done
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 1. kill -9 the primary's grproxy.
    let killed = Instant::now();
    sb.kill_proxy(1);
    let (elected, resumed) = tokio::join!(
        wait_new_primary(sb.proxy_port(2), "1", killed),
        first_write_after(sb.proxy_port(3), killed, 9_000_001, &acked_ids)
    );
    eprintln!("primary grproxy killed: a new primary after {elected:?}, writes resumed after {resumed:?}");
    assert!(elected < Duration::from_secs(5), "{elected:?}");
    assert!(resumed < Duration::from_secs(5), "{resumed:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut c2 = mysql_async::Conn::new(root_tcp_opts(sb.proxy_port(2))).await.unwrap();
    let second = grproxy_status(&mut c2, "primary_member_id").await;
    drop(c2);

    // 2. kill -9 the new primary's mysqld (it comes back after 3 s).
    let killed = Instant::now();
    let m: u16 = second.parse().unwrap();
    let survivor = if m == 2 { 3 } else { 2 };
    let restart = sb.kill_and_restart_mysqld(m, Duration::from_secs(3));
    let elected = wait_new_primary(sb.proxy_port(survivor), &second, killed);
    let resumed = first_write_after(sb.proxy_port(survivor), killed, 9_000_002, &acked_ids);
    let (_, elected, resumed) = tokio::join!(restart, elected, resumed);
    eprintln!("primary mysqld killed: a new primary after {elected:?}, writes resumed after {resumed:?}");
    assert!(elected < Duration::from_secs(5), "{elected:?}");
    assert!(resumed < Duration::from_secs(5), "{resumed:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = rounds.await.unwrap();
    let completed: Vec<&String> = rounds.iter().filter_map(|(ok, t)| t.as_ref().filter(|_| *ok)).collect();
    eprintln!(
        "sysbench during the failovers: {} rounds, {} completed: {completed:?}",
        rounds.len(),
        completed.len()
    );
    assert!(
        rounds.last().is_some_and(|(ok, t)| *ok && t.is_some()),
        "sysbench through the secondaries did not run to the end after the failovers: {rounds:?}"
    );
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked_ids.lock().unwrap().clone();
    assert!(acked.len() > 20, "too few writes were acknowledged: {}", acked.len());

    // Every acknowledged write is on the surviving members (member 1's grproxy is down;
    // the member whose mysqld restarted catches up), and sysbench's tables are the same.
    sb.restart_proxy(1);
    for member in 1..=3u16 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut c = mysql_async::Conn::new(root_tcp_opts(sb.mysqld_port(member)))
                .await
                .unwrap();
            let ids: Vec<u64> = c.query("SELECT id FROM sp.t").await.unwrap();
            let missing: Vec<u64> = acked.iter().filter(|i| !ids.contains(i)).copied().collect();
            if missing.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "member {member} lacks {} acknowledged ids, e.g. {:?}",
                missing.len(),
                &missing[..missing.len().min(5)]
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    // The old primary, back after its kill, takes no write of its own: its mysqld is
    // read_only, and a write through it runs on the current primary's mysqld (the row records
    // the @@server_id of the mysqld that ran it).
    let mut c1 = mysql_async::Conn::new(root_tcp_opts(sb.mysqld_port(1))).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ro: Option<i64> = c1.query_first("SELECT @@global.read_only").await.unwrap();
        if ro == Some(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "member 1's mysqld is writable after it lost the role"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut c3 = mysql_async::Conn::new(root_tcp_opts(sb.proxy_port(3))).await.unwrap();
    let now_primary: u16 = grproxy_status(&mut c3, "primary_member_id").await.parse().unwrap();
    assert_ne!(now_primary, 1);
    let mut p1 = mysql_async::Conn::new(root_tcp_opts(sb.proxy_port(1))).await.unwrap();
    write_retrying(
        &mut p1,
        "INSERT INTO sp.t VALUES (9000003, @@server_id)",
        &[3100, 1047, 1290],
        Duration::from_secs(30),
    )
    .await;
    let mut d = mysql_async::Conn::new(root_tcp_opts(sb.mysqld_port(now_primary)))
        .await
        .unwrap();
    let primary_server_id: Option<i64> = d.query_first("SELECT @@server_id").await.unwrap();
    let ran_on: Option<i64> = d
        .query_first("SELECT member FROM sp.t WHERE id = 9000003")
        .await
        .unwrap();
    assert_eq!(
        ran_on, primary_server_id,
        "the write through the old primary ran on the primary"
    );

    for table in ["sbtest.sbtest1", "sbtest.sbtest2"] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut sums = Vec::new();
            for member in 1..=3u16 {
                let mut c = mysql_async::Conn::new(root_tcp_opts(sb.mysqld_port(member)))
                    .await
                    .unwrap();
                let r: Option<(String, Option<i64>)> = c.query_first(format!("CHECKSUM TABLE {table}")).await.unwrap();
                sums.push(r.and_then(|r| r.1));
            }
            if sums.iter().all(|s| *s == sums[0]) {
                break;
            }
            assert!(Instant::now() < deadline, "{table}: {sums:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    // The shell commands: a planned switchover back to member 1 (restarted and caught up),
    // then multi-primary mode.
    let grproxy = |args: &[&str]| {
        let out = Command::new(common::sandbox::BIN).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let port2 = sb.proxy_port(2).to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out) = grproxy(&["group", "primary", "--port", &port2, "--id", "1"]);
        if ok {
            assert!(out.contains("member 1 is the primary"), "{out}");
            break;
        }
        // Member 1 may still be catching up (not ONLINE yet).
        assert!(Instant::now() < deadline, "switchover to member 1: {out}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (ok, out) = grproxy(&["group", "mode", "--port", &port2, "multi-primary"]);
    assert!(ok && out.contains("multi-primary"), "{out}");
    let mut c = mysql_async::Conn::new(root_tcp_opts(sb.proxy_port(3))).await.unwrap();
    let rows: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.unwrap();
    let mode = rows.into_iter().find(|(n, _)| n == "group_mode").unwrap().1;
    assert_eq!(mode, "multi-primary");
}

/// Real drivers and sysbench through the secondaries of a single-primary group: PyMySQL and
/// mysql-connector-python (autocommit on and off, prepared and plain), reading their own
/// writes and, under BEFORE, each other's on another member; then sysbench oltp_read_write
/// through both secondaries. Every member ends with the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drivers_and_sysbench_through_secondaries() {
    let _serial = SERIAL.lock().await;
    let g = TestGroup::start(3).await;
    let (p1, p2, p3) = (port(&g, 0), port(&g, 1), port(&g, 2));
    schema_and_app_account(&g, "GRANT ALL ON sbtest.* TO app@'%'; CREATE DATABASE sbtest");
    cli_e(p1, "root", "", "GRPROXY SET MODE SINGLE-PRIMARY WITH PRIMARY 1").unwrap();
    g.wait_status("primary_member_id", "1").await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/split_clients.py");
    let out = Command::new("python3")
        .args([script, &p2.to_string(), &p3.to_string(), "app", "app-pw"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.ends_with("done\n"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let sysbench = program(&["sysbench"]);
    let args = |ports: &str| {
        let mut a = sysbench_args("oltp_read_write", ports, 2, 2000);
        for x in a.iter_mut() {
            if x == "--mysql-user=root" {
                *x = "--mysql-user=app".into();
            }
            if x == "--mysql-password=" {
                *x = "--mysql-password=app-pw".into();
            }
        }
        a
    };
    let prep = Command::new(&sysbench)
        .args(args(&p2.to_string()))
        .arg("prepare")
        .output()
        .unwrap();
    assert!(prep.status.success(), "{}", String::from_utf8_lossy(&prep.stderr));
    for ps in ["disable", "auto"] {
        let run = Command::new(&sysbench)
            .args(args(&format!("{p2},{p3}")))
            .args(["--threads=4", "--time=5", "--report-interval=0"])
            .arg(format!("--db-ps-mode={ps}"))
            .arg("run")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success(), "{text}{}", String::from_utf8_lossy(&run.stderr));
        assert!(text.contains("transactions:"), "{text}");
    }
    g.converge().await;
    for table in ["sp.t", "sbtest.sbtest1", "sbtest.sbtest2"] {
        let sums = g.checksums(table).await;
        assert!(
            sums[0].is_some() && sums.iter().all(|s| *s == sums[0]),
            "{table}: {sums:?}"
        );
    }
}

/// The read-write and read-only ports (MySQL Router's model) of a single-primary secondary:
/// the read-write port runs everything on the primary, the read-only port runs reads here
/// and refuses writes; the ordinary port splits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_write_and_read_only_ports() {
    let _serial = SERIAL.lock().await;
    let g = TestGroup::start_with(3, &[], |_, s| {
        s.listen_read_write_tcp = Some("127.0.0.1:0".into());
        s.listen_read_only_tcp = Some("127.0.0.1:0".into());
    })
    .await;
    let p1 = port(&g, 0);
    cli_e(
        p1,
        "root",
        "",
        "CREATE DATABASE sp; CREATE TABLE sp.t (id INT PRIMARY KEY)",
    )
    .unwrap();
    cli_e(p1, "root", "", "GRPROXY SET MODE SINGLE-PRIMARY WITH PRIMARY 1").unwrap();
    g.wait_status("primary_member_id", "1").await;
    let secondary = &g.proxies[1];
    let (rw, ro) = (
        secondary.read_write_addr.unwrap().port(),
        secondary.read_only_addr.unwrap().port(),
    );
    let mysqld_port = |m: usize| g.mysqlds[m].layout.port.to_string();
    // Where a plain read runs: @@port names the mysqld that answered.
    assert_eq!(cli_e(rw, "root", "", "SELECT @@port").unwrap().trim(), mysqld_port(0));
    assert_eq!(cli_e(ro, "root", "", "SELECT @@port").unwrap().trim(), mysqld_port(1));
    assert_eq!(
        cli_e(port(&g, 1), "root", "", "SELECT @@port").unwrap().trim(),
        mysqld_port(1)
    );
    // Writes: through the read-write port; refused on the read-only one (also inside a
    // transaction there, which may read).
    cli_e(rw, "root", "", "INSERT INTO sp.t VALUES (1)").unwrap();
    let e = cli_e(ro, "root", "", "INSERT INTO sp.t VALUES (2)").unwrap_err();
    assert!(e.contains("1290") && e.contains("read-only port"), "{e}");
    let out = cli(ro, "root", "", "BEGIN;\nSELECT COUNT(*) FROM sp.t;\nCOMMIT;\n").unwrap();
    assert_eq!(out.trim(), "1");
    let e = cli(ro, "root", "", "BEGIN;\nDELETE FROM sp.t;\n").unwrap_err();
    assert!(e.contains("1290"), "{e}");
    assert_eq!(ids_everywhere(&g).await, vec![vec![1], vec![1], vec![1]]);
}
