//! mysql_async (DEPRECATE_EOF, binary protocol) through the proxy, each result compared with
//! the same calls made directly against mysqld.

mod common;

use common::*;
use mysql_async::prelude::*;
use mysql_async::{Conn, Params, Value};

/// Runs the same workload on a connection and returns everything observable about it.
async fn workload(c: &mut Conn) -> Vec<String> {
    let mut log = Vec::new();
    c.query_drop("CREATE DATABASE IF NOT EXISTS w").await.unwrap();
    c.query_drop("USE w").await.unwrap();
    c.query_drop("DROP TABLE IF EXISTS t").await.unwrap();
    c.query_drop(
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) CHARACTER SET utf8mb4, \
         price DECIMAL(12,4), born DATE, at DATETIME(6), data MEDIUMBLOB, f DOUBLE, j JSON) ENGINE=InnoDB",
    )
    .await
    .unwrap();
    // OK packet fields: affected rows, last insert id, info, warnings.
    c.query_drop("INSERT INTO t (name, price, born, at, data, f, j) VALUES ('a', 1.5, '2020-01-02', '2020-01-02 03:04:05.123456', x'00ff', 1e10, '{\"k\": [1, 2]}'), ('ü中😀', NULL, NULL, NULL, NULL, -0.5, NULL)")
        .await
        .unwrap();
    log.push(format!(
        "affected={} last_id={:?} info={:?} warnings={}",
        c.affected_rows(),
        c.last_insert_id(),
        c.info(),
        c.get_warnings()
    ));
    c.query_drop("INSERT INTO t (name, price) VALUES ('toolong', 12345678901234.5)")
        .await
        .ok();
    log.push(format!("warnings={}", c.get_warnings()));
    let warnings: Vec<(String, u32, String)> = c.query("SHOW WARNINGS").await.unwrap();
    log.push(format!("{warnings:?}"));
    // Text protocol rows and column metadata.
    let rows: Vec<mysql_async::Row> = c.query("SELECT * FROM t ORDER BY id").await.unwrap();
    for r in &rows {
        let cols: Vec<String> = r
            .columns_ref()
            .iter()
            .map(|c| format!("{}:{:?}:{}", c.name_str(), c.column_type(), c.character_set()))
            .collect();
        log.push(format!("{cols:?} {:?}", r.clone().unwrap()));
    }
    // Multi-statement, multi-result.
    let mut res = c
        .query_iter("SELECT 1 AS a; SELECT 'x' AS b, NULL AS c; UPDATE t SET f = f + 1; SELECT 2")
        .await
        .unwrap();
    loop {
        let set: Vec<mysql_async::Row> = res.collect().await.unwrap();
        log.push(format!(
            "set {:?} affected={}",
            set.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>(),
            res.affected_rows()
        ));
        if res.is_empty() {
            break;
        }
    }
    drop(res);
    // Errors: code, SQLSTATE, message.
    let err = c.query_drop("SELECT * FROM no_such_table").await.unwrap_err();
    log.push(format!("{err}"));
    let err = c.query_drop("SELEC 1").await.unwrap_err();
    log.push(format!("{err}"));
    // Prepared statements: re-execution with the same and with new parameter types.
    let stmt = c.prep("SELECT ?, ? + 1, CONCAT(?, 'x')").await.unwrap();
    for params in [
        Params::Positional(vec![Value::Int(1), Value::Int(2), Value::Bytes(b"a".to_vec())]),
        Params::Positional(vec![Value::Int(3), Value::Int(4), Value::Bytes(b"b".to_vec())]),
        Params::Positional(vec![Value::Bytes(b"s".to_vec()), Value::Double(1.25), Value::NULL]),
        Params::Positional(vec![
            Value::NULL,
            Value::UInt(u64::MAX),
            Value::Date(2021, 3, 4, 5, 6, 7, 8),
        ]),
    ] {
        match c.exec::<mysql_async::Row, _, _>(&stmt, params).await {
            Ok(r) => log.push(format!("{:?}", r.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>())),
            Err(e) => log.push(format!("exec error: {e}")),
        }
    }
    let ins = c.prep("INSERT INTO t (name, data) VALUES (?, ?)").await.unwrap();
    // A large parameter goes through COM_STMT_SEND_LONG_DATA.
    let big = vec![7u8; 300_000];
    c.exec_drop(&ins, ("long", big.clone())).await.unwrap();
    log.push(format!(
        "exec affected={} last_id={:?}",
        c.affected_rows(),
        c.last_insert_id()
    ));
    let back: Option<Vec<u8>> = c
        .exec_first("SELECT data FROM t WHERE name = ?", ("long",))
        .await
        .unwrap();
    log.push(format!("long data intact: {}", back.as_deref() == Some(&big[..])));
    let sel = c
        .prep("SELECT id, name, price, born, at, data, f FROM t WHERE id > ? ORDER BY id")
        .await
        .unwrap();
    let r: Vec<mysql_async::Row> = c.exec(&sel, (0,)).await.unwrap();
    log.push(format!("{:?}", r.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>()));
    c.close(sel).await.unwrap();
    // Transactions and the IN_TRANS status flag.
    c.query_drop("BEGIN").await.unwrap();
    c.query_drop("UPDATE t SET f = 0").await.unwrap();
    c.query_drop("ROLLBACK").await.unwrap();
    let f: Vec<Option<f64>> = c.query("SELECT f FROM t ORDER BY id").await.unwrap();
    log.push(format!("{f:?}"));
    c.ping().await.unwrap();
    // COM_RESET_CONNECTION clears session state.
    c.query_drop("SET @v = 42").await.unwrap();
    c.reset().await.unwrap();
    let v: Option<Option<i64>> = c.query_first("SELECT @v").await.unwrap();
    log.push(format!("after reset @v = {v:?}"));
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_results_through_proxy_and_direct() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let mut direct = Conn::new(m.direct_opts("root", "")).await.unwrap();
    let want = workload(&mut direct).await;
    direct.query_drop("DROP DATABASE w").await.unwrap();
    let mut via = Conn::new(proxy_opts(&p, "root", "")).await.unwrap();
    let got = workload(&mut via).await;
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(w, g, "line {i}");
    }
    assert_eq!(want.len(), got.len());
    assert!(got.iter().any(|l| l == "long data intact: true"));
    assert!(got.iter().any(|l| l == "after reset @v = Some(None)"));
    via.disconnect().await.unwrap();
    direct.disconnect().await.unwrap();
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_over_16_mib_both_ways() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let mut c = Conn::new(proxy_opts(&p, "root", "")).await.unwrap();
    c.query_drop("CREATE DATABASE big").await.unwrap();
    c.query_drop("CREATE TABLE big.t (id INT PRIMARY KEY, b LONGBLOB)")
        .await
        .unwrap();
    let n = 20 * 1024 * 1024 + 3;
    // Text protocol: the statement itself is one 20 MiB client packet (two chunks).
    let payload: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    c.query_drop(format!("INSERT INTO big.t VALUES (1, '{payload}')"))
        .await
        .unwrap();
    // And a 20 MiB row comes back as a split server packet.
    let back: Option<Vec<u8>> = c.query_first("SELECT b FROM big.t WHERE id = 1").await.unwrap();
    assert_eq!(back.map(|b| b.len()), Some(n));
    let len: Option<u64> = c.query_first("SELECT LENGTH(b) FROM big.t").await.unwrap();
    assert_eq!(len, Some(n as u64));
    // Binary protocol.
    let v: Option<Vec<u8>> = c.exec_first("SELECT b FROM big.t WHERE id = ?", (1,)).await.unwrap();
    assert!(v.as_deref() == Some(payload.as_bytes()));
    c.disconnect().await.unwrap();
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_listener() {
    let m = Mysqld::start();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("p.sock");
    let p = proxy_with(&m, |s| s.listen_unix = Some(sock.clone())).await;
    let opts = mysql_async::OptsBuilder::default()
        .socket(Some(sock.to_string_lossy()))
        .user(Some("root"))
        .pass(Some(""));
    let mut c = Conn::new(opts).await.unwrap();
    let one: Option<i32> = c.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    c.disconnect().await.unwrap();
    p.stop().await;
    assert!(!sock.exists(), "socket file removed on stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_grproxy_status_on_a_plain_proxy() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let mut c = Conn::new(proxy_opts(&p, "root", "")).await.unwrap();
    let rows: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.unwrap();
    assert_eq!(rows[0].0, "grproxy_version");
    assert!(rows.contains(&("mode".to_string(), "proxy".to_string())), "{rows:?}");
    // mysqld itself does not know the statement.
    let mut d = m.root().await;
    assert!(d.query_drop("SHOW GRPROXY STATUS").await.is_err());
    c.disconnect().await.unwrap();
    p.stop().await;
}
