//! Authentication follows mysqld; COM_CHANGE_USER, KILL by mysqld thread ids, connection limits.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mysql_async::prelude::*;
use mysql_async::Conn;

fn server_code(e: &mysql_async::Error) -> Option<(u16, String)> {
    match e {
        mysql_async::Error::Server(s) => Some((s.code, s.state.clone())),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_created_a_moment_ago_log_in_and_wrong_passwords_get_1045() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    m.create_user("alice", "s3cret").await;
    let mut c = Conn::new(proxy_opts(&p, "alice", "s3cret")).await.unwrap();
    let who: Option<String> = c.query_first("SELECT CURRENT_USER()").await.unwrap();
    // mysqld sees the client's own address (127.0.0.1 over TCP, as directly), not the
    // proxy's socket.
    assert_eq!(who.as_deref(), Some("alice@127.0.0.1"));
    c.disconnect().await.unwrap();

    let via = Conn::new(proxy_opts(&p, "alice", "wrong")).await.unwrap_err();
    let direct = Conn::new(m.direct_opts("alice", "wrong")).await.unwrap_err();
    assert_eq!(server_code(&via), Some((1045, "28000".into())), "{via}");
    assert_eq!(server_code(&via), server_code(&direct));
    let nobody = Conn::new(proxy_opts(&p, "nobody", "x")).await.unwrap_err();
    assert_eq!(server_code(&nobody).map(|c| c.0), Some(1045));

    // Privileges are mysqld's: a user without grants cannot read mysql.user.
    let mut r = m.root().await;
    r.query_drop("CREATE USER 'bob'@'127.0.0.1' IDENTIFIED BY 'b'")
        .await
        .unwrap();
    let mut bob = Conn::new(proxy_opts(&p, "bob", "b")).await.unwrap();
    let e = bob.query_drop("SELECT * FROM mysql.user").await.unwrap_err();
    assert_eq!(server_code(&e).map(|c| c.0), Some(1142));
    // The proxy keeps serving after failures.
    let mut ok = Conn::new(proxy_opts(&p, "root", "")).await.unwrap();
    ok.ping().await.unwrap();
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_user_really_reauthenticates() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    m.create_user("carol", "pw1").await;
    let mut c = Conn::new(proxy_opts(&p, "root", "")).await.unwrap();
    c.query_drop("SET @marker = 1").await.unwrap();
    c.change_user(
        mysql_async::ChangeUserOpts::default()
            .with_user(Some("carol".into()))
            .with_pass(Some("pw1".into())),
    )
    .await
    .unwrap();
    let who: Option<String> = c.query_first("SELECT CURRENT_USER()").await.unwrap();
    assert_eq!(who.as_deref(), Some("carol@127.0.0.1"));
    let marker: Option<Option<i64>> = c.query_first("SELECT @marker").await.unwrap();
    assert_eq!(marker, Some(None), "session state reset by mysqld");
    let bad = c
        .change_user(
            mysql_async::ChangeUserOpts::default()
                .with_user(Some("carol".into()))
                .with_pass(Some("nope".into())),
        )
        .await
        .unwrap_err();
    assert_eq!(server_code(&bad).map(|c| c.0), Some(1045), "{bad}");
    p.stop().await;
}

/// A failed COM_CHANGE_USER keeps the connection, as the previous user (mysqld restores it);
/// after three failures on a connection mysqld answers 1047 to any further one (MDEV-3915,
/// mysql-test `main.change_user_notembedded`). Through the proxy as directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_change_user_keeps_the_connection() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    m.create_user("carol", "pw1").await;
    let mut answers = Vec::new();
    for opts in [proxy_opts(&p, "carol", "pw1"), m.direct_opts("carol", "pw1")] {
        let mut c = Conn::new(opts).await.unwrap();
        c.query_drop("CREATE DATABASE IF NOT EXISTS cu").await.unwrap();
        c.query_drop("USE cu").await.unwrap();
        let mut codes = Vec::new();
        for pass in ["nope", "nope", "nope", "pw1"] {
            let r = c
                .change_user(
                    mysql_async::ChangeUserOpts::default()
                        .with_user(Some("carol".into()))
                        .with_pass(Some(pass.into()))
                        .with_db_name(Some("cu".into())),
                )
                .await;
            codes.push(r.err().and_then(|e| server_code(&e)).map(|c| c.0));
            let who: Option<(String, Option<String>)> = c
                .query_first("SELECT CURRENT_USER(), DATABASE()")
                .await
                .expect("the connection survives a failed COM_CHANGE_USER");
            codes.push(None);
            assert_eq!(who, Some(("carol@127.0.0.1".to_string(), Some("cu".to_string()))));
        }
        answers.push(codes);
    }
    assert_eq!(
        answers[0],
        vec![Some(1045), None, Some(1045), None, Some(1045), None, Some(1047), None]
    );
    assert_eq!(answers[0], answers[1], "through the proxy as directly");
    p.stop().await;
}

/// The greeting's connection id is the session's mysqld thread id, so the id a driver cancels
/// with (the greeting's), `CONNECTION_ID()` and the processlist agree, and `KILL` travels to
/// mysqld unchanged: mysqld's own privilege checks decide (mysql-test `main.kill`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_uses_mysqld_thread_ids() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let mut victim = Conn::new(proxy_opts(&p, "root", "")).await.unwrap();
    let mut killer = Conn::new(proxy_opts(&p, "root", "")).await.unwrap();
    let greeting_id = victim.id();
    let thread: u32 = victim.query_first("SELECT CONNECTION_ID()").await.unwrap().unwrap();
    assert_eq!(greeting_id, thread, "the greeting carries mysqld's thread id");
    let listed: Option<u32> = killer
        .query_first(format!(
            "SELECT id FROM information_schema.processlist WHERE id = {greeting_id}"
        ))
        .await
        .unwrap();
    assert_eq!(listed, Some(thread));

    // A driver's cancel: KILL QUERY <greeting id> from a second connection.
    let started = Instant::now();
    let sleeper = tokio::spawn(async move {
        let r = victim.query_drop("SELECT SLEEP(30)").await;
        (r, victim)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    killer.query_drop(format!("KILL QUERY {greeting_id}")).await.unwrap();
    let (r, mut victim) = sleeper.await.unwrap();
    // MariaDB returns SLEEP()'s result 1 when interrupted, or error 1317.
    match r {
        Ok(()) => {}
        Err(e) => assert_eq!(server_code(&e).map(|c| c.0), Some(1317), "{e}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "KILL QUERY reached the right thread"
    );
    victim.ping().await.expect("KILL QUERY keeps the connection");

    // Unknown id: mysqld's own answer.
    let e = killer.query_drop("KILL 999999").await.unwrap_err();
    assert_eq!(server_code(&e), Some((1094, "HY000".into())));

    // A user without CONNECTION ADMIN cannot kill another user's thread (here the root
    // session's; grproxy's service connections are protected the same way), as on mysqld.
    let mut r = m.root().await;
    for host in ["localhost", "127.0.0.1"] {
        r.query_drop(format!("CREATE USER 'mallory'@'{host}' IDENTIFIED BY 'm'"))
            .await
            .unwrap();
    }
    let mut mallory = Conn::new(proxy_opts(&p, "mallory", "m")).await.unwrap();
    let e = mallory
        .query_drop(format!("KILL QUERY {greeting_id}"))
        .await
        .unwrap_err();
    assert_eq!(server_code(&e).map(|c| c.0), Some(1095), "{e}");
    let mut direct = Conn::new(m.direct_opts("mallory", "m")).await.unwrap();
    let d = direct
        .query_drop(format!("KILL QUERY {greeting_id}"))
        .await
        .unwrap_err();
    assert_eq!(server_code(&d), server_code(&e), "the same answer as directly");
    // It can kill its own connection's query by the id it reads.
    let own: u32 = mallory.query_first("SELECT CONNECTION_ID()").await.unwrap().unwrap();
    assert_eq!(own, mallory.id());

    // KILL CONNECTION ends the victim's session at once.
    killer
        .query_drop(format!("KILL CONNECTION {greeting_id}"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(victim.ping().await.is_err());
    let alive: Option<i64> = killer
        .query_first(format!(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE id = {thread}"
        ))
        .await
        .unwrap();
    assert_eq!(alive, Some(0));
    killer.ping().await.unwrap();
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limits() {
    let m = Mysqld::start();
    m.create_user("dave", "d").await;
    m.create_user("erin", "e").await;
    let p = proxy_with(&m, |s| {
        s.max_connections = 3;
        s.max_connections_per_user = 1;
    })
    .await;
    let a = Conn::new(proxy_opts(&p, "dave", "d")).await.unwrap();
    let e = Conn::new(proxy_opts(&p, "dave", "d")).await.unwrap_err();
    assert_eq!(server_code(&e), Some((1203, "42000".into())), "{e}");
    let b = Conn::new(proxy_opts(&p, "root", "")).await.unwrap();
    let c = Conn::new(proxy_opts(&p, "erin", "e")).await.unwrap();
    let e = Conn::new(proxy_opts(&p, "erin", "e")).await.unwrap_err();
    assert_eq!(server_code(&e).map(|c| c.0), Some(1040), "{e}");
    drop(a);
    a_while().await;
    // Slots come back when sessions end.
    let mut again = Conn::new(proxy_opts(&p, "dave", "d")).await.unwrap();
    again.ping().await.unwrap();
    drop((b, c));
    p.stop().await;
}

async fn a_while() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}
