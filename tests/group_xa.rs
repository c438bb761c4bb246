//! The XA side of capture on a 3-member group: prepared transactions left behind by a
//! crashed proxy are settled, writes that bypass grproxy are reported, and the member's own
//! schema and XA are off limits to clients.

mod common;

use std::time::Duration;

use common::*;
use mysql_async::prelude::*;

fn code(e: &mysql_async::Error) -> u16 {
    match e {
        mysql_async::Error::Server(s) => s.code,
        other => panic!("expected a server error, got {other}"),
    }
}

/// A prepared transaction of a previous proxy process that never reached the log (the proxy
/// died between XA PREPARE and its proposal) holds row locks: the restarted member rolls it
/// back once it has applied what the log held, and the row is writable again everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orphaned_prepared_transaction_is_rolled_back() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE x").await.unwrap();
    c.query_drop("CREATE TABLE x.t (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO x.t VALUES (1, 0)").await.unwrap();
    g.converge().await;
    // As a crashed earlier process of member 1 would have left it: trx id 1 is below every
    // id this process hands out.
    {
        let mut d = g.mysqlds[0].root().await;
        d.query_drop("XA START 'grproxy-1-1'").await.unwrap();
        d.query_drop("UPDATE x.t SET v = 99 WHERE id = 1").await.unwrap();
        d.query_drop("INSERT INTO x.t VALUES (2, 2)").await.unwrap();
        d.query_drop("XA END 'grproxy-1-1'").await.unwrap();
        d.query_drop("XA PREPARE 'grproxy-1-1'").await.unwrap();
        d.disconnect().await.unwrap();
    }
    // The write waits for the orphan's lock, then goes through.
    let started = std::time::Instant::now();
    let mut w = g.conn(0).await;
    w.query_drop("SET SESSION innodb_lock_wait_timeout = 60").await.unwrap();
    w.query_drop("UPDATE x.t SET v = 1 WHERE id = 1").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(60));
    g.converge().await;
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let rows: Vec<(i32, i32)> = d.query("SELECT id, v FROM x.t ORDER BY id").await.unwrap();
        assert_eq!(
            rows,
            vec![(1, 1)],
            "the orphan's writes are gone, the new one is everywhere"
        );
        let prepared: Vec<mysql_async::Row> = d.query("XA RECOVER").await.unwrap();
        assert!(prepared.is_empty());
    }
}

/// A write straight to a member's mysqld is seen in its binlog and reported; the client
/// side of XA and grproxy's own schema are refused with 3098 and the session goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bypassing_writes_are_reported_and_own_state_is_refused() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(1).await;
    c.query_drop("CREATE DATABASE y").await.unwrap();
    c.query_drop("CREATE TABLE y.t (id INT PRIMARY KEY)").await.unwrap();
    g.converge().await;
    assert_eq!(grproxy_status(&mut c, "errant_transactions").await, "0");
    let mut d = g.mysqlds[1].root().await;
    d.query_drop("INSERT INTO y.t VALUES (7)").await.unwrap();
    let mut seen = false;
    for _ in 0..50 {
        if grproxy_status(&mut c, "errant_transactions").await != "0" {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "a write that bypassed grproxy is reported");
    assert!(grproxy_status(&mut c, "last_errant_transaction")
        .await
        .contains("without grproxy"));

    for sql in [
        "XA START 'mine'",
        "INSERT INTO grproxy.applied VALUES (123456)",
        "DELETE FROM grproxy.applied",
        "DROP DATABASE grproxy",
        "SET sql_log_bin = 0",
    ] {
        let e = c.query_drop(sql).await.unwrap_err();
        assert_eq!(code(&e), 3098, "{sql}: {e}");
    }
    c.query_drop("INSERT INTO y.t VALUES (8)").await.unwrap();
    // The member's state is for operators (PROCESS), and a client with no grant on grproxy's
    // own schema writes normally.
    c.query_drop("CREATE USER 'app'@'%' IDENTIFIED BY 'pw'").await.unwrap();
    c.query_drop("GRANT SELECT, INSERT ON y.* TO 'app'@'%'").await.unwrap();
    let mut app = mysql_async::Conn::new(proxy_opts(&g.proxies[1], "app", "pw"))
        .await
        .unwrap();
    let e = app.query_drop("SHOW GRPROXY STATUS").await.unwrap_err();
    assert_eq!(code(&e), 1227, "{e}");
    app.query_drop("INSERT INTO y.t VALUES (9)").await.unwrap();
    g.converge().await;
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let n: Option<i64> = d
            .query_first("SELECT COUNT(*) FROM y.t WHERE id IN (8, 9)")
            .await
            .unwrap();
        assert_eq!(n, Some(2));
        let markers: Option<i64> = d
            .query_first("SELECT COUNT(*) FROM grproxy.applied WHERE idx = 123456")
            .await
            .unwrap();
        assert_eq!(markers, Some(0));
    }
}

/// A member refuses to start in front of a mysqld whose binlog cannot give it row images,
/// and says which setting is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_needs_row_based_binlog() {
    use grproxy::replication::group::GroupSettings;
    for (extra, setting) in [
        ("--skip-log-bin", "log_bin"),
        ("--binlog-format=MIXED", "binlog_format"),
        ("--binlog-row-image=MINIMAL", "binlog_row_image"),
    ] {
        let m = Mysqld::start_with(&[extra]);
        let dir = tempfile::tempdir().unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut s = settings(&m);
        s.group = Some(GroupSettings {
            member_id: 1,
            members: [(1, l.local_addr().unwrap().to_string())].into_iter().collect(),
            data_dir: dir.path().to_path_buf(),
            snapshot_every: grproxy::replication::group::DEFAULT_SNAPSHOT_EVERY,
            flow_control_entries: grproxy::replication::group::DEFAULT_FLOW_CONTROL_ENTRIES,
            raft_batches_in_flight: grproxy::consensus::DEFAULT_BATCHES_IN_FLIGHT,
            retention_bytes: grproxy::replication::group::DEFAULT_RETENTION_BYTES,
            log_replays: true,
            listener: Some(std::sync::Arc::new(std::sync::Mutex::new(Some(l)))),
            peer_security: grproxy::consensus::PeerSecurity::Tls(
                grproxy::sandbox::certs::GroupCa::generate()
                    .unwrap()
                    .peer_tls(1)
                    .unwrap(),
            ),
            mode: Default::default(),
            weight: 50,
            sql_address: None,
        });
        let err = match grproxy::frontend::start(s).await {
            Ok(_) => panic!("a member started with {extra}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(setting), "{extra}: {err}");
    }
}

/// A view (or stored program) a client creates belongs to that client on every member, not
/// to the service account the other members run the statement as; a DDL the client's
/// privileges do not allow runs nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ddl_keeps_the_clients_definer_and_privileges() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE z").await.unwrap();
    c.query_drop("CREATE TABLE z.t (id INT PRIMARY KEY)").await.unwrap();
    g.converge().await;
    // The same account made on every member directly (outside the binlog), as an operator
    // would before grproxy ran.
    for m in &g.mysqlds {
        let mut d = m.root().await;
        d.query_drop("SET sql_log_bin = 0").await.unwrap();
        d.query_drop("CREATE USER 'app'@'%' IDENTIFIED BY 'pw'").await.unwrap();
        d.query_drop("GRANT SELECT, CREATE VIEW, SHOW VIEW ON z.* TO 'app'@'%'")
            .await
            .unwrap();
    }
    let mut app = mysql_async::Conn::new(proxy_opts(&g.proxies[0], "app", "pw"))
        .await
        .unwrap();
    app.query_drop("CREATE VIEW z.v AS SELECT id FROM z.t").await.unwrap();
    let e = app.query_drop("DROP TABLE z.t").await.unwrap_err();
    assert_eq!(code(&e), 1142, "{e}");
    g.converge().await;
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let definer: Option<String> = d
            .query_first("SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'z' AND TABLE_NAME = 'v'")
            .await
            .unwrap();
        assert_eq!(definer.as_deref(), Some("app@%"));
        let t: Option<i64> = d
            .query_first("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'z' AND TABLE_NAME = 't'")
            .await
            .unwrap();
        assert_eq!(t, Some(1), "the refused DROP ran nowhere");
    }
}

/// Accounts go through the log: a user created and granted through one member logs in
/// through another, and a REVOKE on a third takes effect everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_and_grants_replicate() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE acc").await.unwrap();
    c.query_drop("CREATE TABLE acc.t (id INT PRIMARY KEY)").await.unwrap();
    c.query_drop("CREATE USER 'u1'@'%' IDENTIFIED BY 'pw1'").await.unwrap();
    c.query_drop("GRANT SELECT, INSERT ON acc.* TO 'u1'@'%'").await.unwrap();
    let e = c.query_drop("SET PASSWORD = PASSWORD('nope')").await.unwrap_err();
    assert_eq!(code(&e), 3098, "{e}");
    g.converge().await;
    let mut u = mysql_async::Conn::new(proxy_opts(&g.proxies[1], "u1", "pw1"))
        .await
        .unwrap();
    u.query_drop("INSERT INTO acc.t VALUES (1)").await.unwrap();
    let mut c3 = g.conn(2).await;
    c3.query_drop("REVOKE INSERT ON acc.* FROM 'u1'@'%'").await.unwrap();
    c3.query_drop("SET PASSWORD FOR 'u1'@'%' = PASSWORD('pw2')")
        .await
        .unwrap();
    g.converge().await;
    for p in &g.proxies {
        assert!(
            mysql_async::Conn::new(proxy_opts(p, "u1", "pw1")).await.is_err(),
            "old password refused"
        );
        let mut u = mysql_async::Conn::new(proxy_opts(p, "u1", "pw2")).await.unwrap();
        let e = u.query_drop("INSERT INTO acc.t VALUES (2)").await.unwrap_err();
        assert_eq!(code(&e), 1142, "INSERT revoked on every member: {e}");
    }
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let n: Option<i64> = d.query_first("SELECT COUNT(*) FROM acc.t").await.unwrap();
        assert_eq!(n, Some(1));
    }
}

/// The member's own connections to its mysqld (metadata and weigher pool, applier, binlog
/// tap) can be killed under it, as a DBA's `KILL` or a `wait_timeout` does: the next writes
/// with string keys (weighed on mysqld) and replays still go through on every member.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_side_connections_are_replaced() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE k").await.unwrap();
    c.query_drop("CREATE TABLE k.t (name VARCHAR(20) PRIMARY KEY, v INT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO k.t VALUES ('a', 1)").await.unwrap();
    c.disconnect().await.unwrap();
    g.converge().await;
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let ids: Vec<u64> = d
            .query("SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND user = 'root'")
            .await
            .unwrap();
        for id in ids {
            let _ = d.query_drop(format!("KILL {id}")).await;
        }
        d.disconnect().await.unwrap();
    }
    for (i, name) in ["b", "c", "d"].iter().enumerate() {
        let mut c = g.conn(i).await;
        c.query_drop(format!("INSERT INTO k.t VALUES ('{name}', {i})"))
            .await
            .unwrap_or_else(|e| panic!("insert through member {i} after KILL: {e}"));
        c.query_drop(format!("UPDATE k.t SET v = v + 10 WHERE name = '{name}'"))
            .await
            .unwrap();
        c.disconnect().await.unwrap();
    }
    g.converge().await;
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let rows: Vec<(String, i32)> = d.query("SELECT name, v FROM k.t ORDER BY name").await.unwrap();
        assert_eq!(
            rows,
            vec![("a".into(), 1), ("b".into(), 10), ("c".into(), 11), ("d".into(), 12)]
        );
    }
}

/// A transaction whose row events exceed what one log entry may hold is refused with 3098
/// and rolled back at once; the session and the group go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_too_large_for_the_log_is_refused_cleanly() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE big").await.unwrap();
    c.query_drop("CREATE TABLE big.t (id INT PRIMARY KEY, b LONGBLOB)")
        .await
        .unwrap();
    c.query_drop("BEGIN").await.unwrap();
    for i in 0..4 {
        c.query_drop(format!("INSERT INTO big.t VALUES ({i}, REPEAT('x', 15000000))"))
            .await
            .unwrap();
    }
    let started = std::time::Instant::now();
    let e = c.query_drop("COMMIT").await.unwrap_err();
    assert_eq!(code(&e), 3098, "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Nothing is left prepared, the row locks are free, the session works. (On a loaded
    // machine the member may have lost contact with the leader while it handled 60 MB; it
    // then refuses writes with 1047 until contact is back, which a client retries.)
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match c.query_drop("INSERT INTO big.t VALUES (0, 'small')").await {
            Ok(()) => break,
            Err(e) if code(&e) == 1047 && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    g.converge().await;
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let rows: Vec<(i32, i64)> = d.query("SELECT id, LENGTH(b) FROM big.t").await.unwrap();
        assert_eq!(rows, vec![(0, 5)]);
        let prepared: Vec<mysql_async::Row> = d.query("XA RECOVER").await.unwrap();
        assert!(prepared.is_empty());
    }
}

/// `CREATE ROLE` makes its creator the role's admin; on the other members the creator is the
/// client too, not the service account that replays it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_role_is_administered_by_its_creator_everywhere() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE USER 'boss'@'%' IDENTIFIED BY 'pw'").await.unwrap();
    c.query_drop("GRANT CREATE USER ON *.* TO 'boss'@'%'").await.unwrap();
    g.converge().await;
    let mut boss = mysql_async::Conn::new(proxy_opts(&g.proxies[1], "boss", "pw"))
        .await
        .unwrap();
    boss.query_drop("CREATE ROLE auditor").await.unwrap();
    g.converge().await;
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let rows: Vec<(String, String, String)> = d
            .query("SELECT Host, User, Admin_option FROM mysql.roles_mapping WHERE Role = 'auditor'")
            .await
            .unwrap();
        assert_eq!(rows, vec![("%".into(), "boss".into(), "Y".into())]);
    }
}

/// A COMMIT that fails in mysqld is never acknowledged: the session's mysqld connection is
/// killed (from a direct connection) between its INSERT and its COMMIT. The client gets an
/// error, the row is on no member, and the group goes on. Also for an autocommit statement
/// whose connection is killed while it waits on a row lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_that_fails_in_mysqld_is_not_acknowledged() {
    let g = TestGroup::start(3).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE cf").await.unwrap();
    c.query_drop("CREATE TABLE cf.t (id INT PRIMARY KEY)").await.unwrap();
    c.query_drop("INSERT INTO cf.t VALUES (1)").await.unwrap();
    g.converge().await;

    let mut s = g.conn(0).await;
    let id: u64 = s.query_first("SELECT CONNECTION_ID()").await.unwrap().unwrap();
    s.query_drop("BEGIN").await.unwrap();
    s.query_drop("INSERT INTO cf.t VALUES (2)").await.unwrap();
    let mut direct = g.mysqlds[0].root().await;
    direct.query_drop(format!("KILL CONNECTION {id}")).await.unwrap();
    let r = s.query_drop("COMMIT").await;
    // As mysqld does to a killed connection's client: the connection ends, no OK.
    assert!(
        matches!(r, Err(mysql_async::Error::Io(_))),
        "a COMMIT whose mysqld connection was killed: {r:?}"
    );

    // What mysqld itself does to a client whose connection is killed in a lock wait: it
    // closes the connection (no error packet). Through grproxy: the same.
    let r = killed_in_a_lock_wait(&g, g.mysqlds[0].root().await, &mut direct).await;
    assert!(matches!(r, Err(mysql_async::Error::Io(_))), "mysqld: {r:?}");
    let r = killed_in_a_lock_wait(&g, g.conn(0).await, &mut direct).await;
    assert!(
        matches!(r, Err(mysql_async::Error::Io(_))),
        "an UPDATE whose connection was killed, through grproxy: {r:?}"
    );

    // Nothing of either on any member; the group takes writes and converges.
    let mut c = g.conn(1).await;
    c.query_drop("INSERT INTO cf.t VALUES (10)").await.unwrap();
    g.converge().await;
    for m in &g.mysqlds {
        let mut d = m.root().await;
        let ids: Vec<i32> = d.query("SELECT id FROM cf.t ORDER BY id").await.unwrap();
        assert_eq!(ids, vec![1, 10]);
    }
    for i in 0..3 {
        assert_eq!(grproxy_status(&mut g.conn(i).await, "member_state").await, "ONLINE");
    }
}

/// Runs an autocommit UPDATE of `cf.t`'s row 1 on `s` while a direct connection (outside the
/// binlog) holds that row's lock, kills `s`'s mysqld connection from `direct`, and returns
/// what `s` got.
async fn killed_in_a_lock_wait(
    g: &TestGroup,
    mut s: mysql_async::Conn,
    direct: &mut mysql_async::Conn,
) -> Result<(), mysql_async::Error> {
    let id: u64 = s.query_first("SELECT CONNECTION_ID()").await.unwrap().unwrap();
    let mut holder = g.mysqlds[0].root().await;
    holder.query_drop("SET sql_log_bin = 0").await.unwrap();
    holder.query_drop("BEGIN").await.unwrap();
    holder
        .query_drop("SELECT * FROM cf.t WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    let waiting = tokio::spawn(async move { s.query_drop("UPDATE cf.t SET id = 3 WHERE id = 1").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    direct.query_drop(format!("KILL CONNECTION {id}")).await.unwrap();
    let r = waiting.await.unwrap();
    holder.query_drop("ROLLBACK").await.unwrap();
    r
}

/// Under `innodb_rollback_on_timeout` a lock wait timeout (1205) rolls the whole transaction
/// back. Through a member the session then goes on as on mysqld alone: its COMMIT is
/// answered as mysqld answers it (no XA error from grproxy's branch), the statement after it
/// commits on its own, and nothing of the rolled-back transaction reaches any member.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lock_wait_timeout_that_rolls_back_the_transaction_ends_it_as_on_mysqld() {
    const OPT: &str = "--innodb-rollback-on-timeout=1";
    // The same statements on (a) a plain mysqld and (b) member 1 of a group.
    async fn run(mut c: mysql_async::Conn, mut holder: mysql_async::Conn) -> (u16, String) {
        c.query_drop("CREATE DATABASE rt").await.unwrap();
        c.query_drop("CREATE TABLE rt.t (id INT PRIMARY KEY, v INT)")
            .await
            .unwrap();
        c.query_drop("INSERT INTO rt.t VALUES (1, 1), (2, 2)").await.unwrap();
        holder.query_drop("BEGIN").await.unwrap();
        holder.query_drop("UPDATE rt.t SET v = 10 WHERE id = 1").await.unwrap();
        c.query_drop("SET SESSION innodb_lock_wait_timeout = 1").await.unwrap();
        c.query_drop("BEGIN").await.unwrap();
        c.query_drop("UPDATE rt.t SET v = 20 WHERE id = 2").await.unwrap();
        let e = c.query_drop("UPDATE rt.t SET v = 30 WHERE id = 1").await.unwrap_err();
        let code = code(&e);
        let commit = format!("{:?}", c.query_drop("COMMIT").await);
        holder.query_drop("ROLLBACK").await.unwrap();
        c.query_drop("INSERT INTO rt.t VALUES (3, 3)").await.unwrap();
        let rows: Vec<(i32, i32)> = c.query("SELECT id, v FROM rt.t ORDER BY id").await.unwrap();
        assert_eq!(rows, vec![(1, 1), (2, 2), (3, 3)]);
        (code, commit)
    }
    let plain = Mysqld::start_with(&[OPT]);
    let direct = run(plain.root().await, plain.root().await).await;
    assert_eq!(direct, (1205, "Ok(())".to_string()), "mysqld alone");
    let g = TestGroup::start_with(2, &[OPT], |_, _| {}).await;
    let through = run(g.conn(0).await, g.conn(0).await).await;
    assert_eq!(through, direct, "through a group member");
    g.converge().await;
    for (i, m) in g.mysqlds.iter().enumerate() {
        let mut d = m.root().await;
        let rows: Vec<(i32, i32)> = d.query("SELECT id, v FROM rt.t ORDER BY id").await.unwrap();
        assert_eq!(rows, vec![(1, 1), (2, 2), (3, 3)], "member {i}");
        let prepared: Vec<mysql_async::Row> = d.query("XA RECOVER").await.unwrap();
        assert!(prepared.is_empty(), "member {i}");
    }
}
