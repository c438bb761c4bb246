//! Commands and session details that the byte-level differential test cannot compare
//! directly (timings, ids), the auth-switch path, and the proxy's own statements on a
//! session's backend connection.

mod common;

use std::process::Command;
use std::time::Duration;

use common::raw::RawClient;
use common::*;
use grproxy::backend::{internal, login, BackendAddr, BackendConn};
use grproxy::protocol::response::{parse_err, Expect};
use mysql_async::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_process_kill_and_collation() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let addr = p.tcp_addr.unwrap().to_string();
    let mut c = RawClient::connect(&addr, "root", "", true).await;
    let stats = c.command(&[0x09], Expect::Opaque).await;
    assert!(
        String::from_utf8_lossy(&stats[4..]).starts_with("Uptime: "),
        "{stats:?}"
    );

    // COM_PROCESS_KILL with a proxy id.
    let mut victim = RawClient::connect(&addr, "root", "", true).await;
    let mut kill = vec![0x0C];
    kill.extend_from_slice(&victim.conn_id.to_le_bytes());
    let r = c.command(&kill, Expect::OkOrErr).await;
    assert_eq!(r[4], 0x00, "COM_PROCESS_KILL of a proxy id: {r:?}");
    let after = victim.read_until_close(Duration::from_secs(5)).await;
    assert!(after.is_empty() || after[4] == 0xFF, "victim's session closed");
    let mut kill = vec![0x0C];
    kill.extend_from_slice(&4_000_000u32.to_le_bytes());
    let r = c.command(&kill, Expect::OkOrErr).await;
    assert_eq!(parse_err(&r[4..]).0, 1094);

    // The collation the client asks for in its handshake is the one mysqld uses.
    for (id, name) in [
        (224u8, "utf8mb4_unicode_ci"),
        (8, "latin1_swedish_ci"),
        (46, "utf8mb4_bin"),
    ] {
        for target in [addr.clone(), format!("127.0.0.1:{}", m.layout.port)] {
            let mut c = RawClient::connect_with(&target, "root", "", true, Some(id)).await;
            let r = c.query("SELECT @@collation_connection").await;
            assert!(
                r.windows(name.len()).any(|w| w == name.as_bytes()),
                "{target} {name}: {r:?}"
            );
        }
    }
    p.stop().await;
}

/// A user whose plugin differs from the server's default makes mysqld send an auth switch
/// (to client_ed25519), which the proxy relays; the CLI completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_switch_to_ed25519_is_relayed() {
    let m = Mysqld::start();
    let mut root = m.root().await;
    root.query_drop("INSTALL SONAME 'auth_ed25519'").await.unwrap();
    root.query_drop("CREATE USER 'ed'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('edpw')")
        .await
        .unwrap();
    let p = proxy(&m).await;
    let cli = program(&["mariadb", "mysql"]);
    let run = |pw: &str| {
        Command::new(&cli)
            .args(["--no-defaults", "-h127.0.0.1", "-ued", "--batch", "--skip-ssl", "-N"])
            .arg(format!("-P{}", p.tcp_addr.unwrap().port()))
            .arg(format!("-p{pw}"))
            .args(["-e", "SELECT CURRENT_USER()"])
            .output()
            .unwrap()
    };
    let ok = run("edpw");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "ed@127.0.0.1");
    let bad = run("nope");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("1045"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    p.stop().await;
}

/// The proxy's own statements on a backend connection, between client commands and inside
/// an open transaction: they see the transaction's uncommitted rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_statements_run_inside_the_transaction() {
    let m = Mysqld::start();
    let mut root = m.root().await;
    root.query_drop("CREATE DATABASE i").await.unwrap();
    root.query_drop("CREATE TABLE i.t (id INT PRIMARY KEY, v VARCHAR(10), n INT NULL)")
        .await
        .unwrap();
    let mut conn = BackendConn::connect(
        &BackendAddr::Unix(m.layout.socket.clone()),
        None,
        Duration::from_secs(5),
        1 << 24,
    )
    .await
    .unwrap();
    let caps = login::login(&mut conn, "root", "", None).await.unwrap();
    internal::query(&mut conn.io, caps, "BEGIN").await.unwrap();
    let ins = internal::query(&mut conn.io, caps, "INSERT INTO i.t VALUES (1, 'a', NULL), (2, 'b', 5)")
        .await
        .unwrap();
    assert_eq!(ins.ok.map(|o| o.affected_rows), Some(2));
    let sel = internal::query(&mut conn.io, caps, "SELECT id, v, n FROM i.t ORDER BY id FOR UPDATE")
        .await
        .unwrap();
    assert_eq!(sel.column_count, 3);
    assert_eq!(
        sel.rows,
        vec![
            vec![Some(b"1".to_vec()), Some(b"a".to_vec()), None],
            vec![Some(b"2".to_vec()), Some(b"b".to_vec()), Some(b"5".to_vec())]
        ]
    );
    assert!(sel.status.unwrap() & 1 != 0, "IN_TRANS");
    let other: Option<i64> = root.query_first("SELECT COUNT(*) FROM i.t").await.unwrap();
    assert_eq!(other, Some(0), "uncommitted rows stay invisible to others");
    let err = internal::query(&mut conn.io, caps, "SELECT * FROM i.nope")
        .await
        .unwrap_err();
    assert!(
        matches!(err, internal::InternalError::Server { code: 1146, .. }),
        "{err}"
    );
    internal::query(&mut conn.io, caps, "ROLLBACK").await.unwrap();
    let after = internal::query(&mut conn.io, caps, "SELECT COUNT(*) FROM i.t")
        .await
        .unwrap();
    assert_eq!(after.rows, vec![vec![Some(b"0".to_vec())]]);
}
