//! The compressed protocol (CLIENT_COMPRESS, zlib): the mariadb CLI with `--compress` and
//! mysql_async with compression on, through the proxy as directly. Both legs are compressed
//! (mysqld reports `Compression` ON for the session, mysql-test `main.compress`).

mod common;

use std::process::Command;

use common::*;
use mysql_async::prelude::*;
use mysql_async::Conn;

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run client");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const SCRIPT: &str = "
SHOW SESSION STATUS LIKE 'Compression';
CREATE DATABASE comp;
USE comp;
CREATE TABLE t (id INT PRIMARY KEY, v LONGTEXT);
INSERT INTO t WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000)
  SELECT a.n + 1000 * b.n, REPEAT(CONCAT('row ', a.n, ' '), a.n % 40) FROM s a, s b WHERE b.n <= 3;
SELECT id, v FROM t WHERE id % 7 = 0;
SELECT LENGTH(REPEAT('abc', 2000000)), MD5(REPEAT('abc', 2000000));
SELECT REPEAT('z', 300000) AS big;
SELECT 1; SELECT 2 AS two;
DROP DATABASE comp;
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_cli_with_compress_matches_direct() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let cli = program(&["mariadb", "mysql"]);
    let run = |port: u16, compress: bool| {
        let mut c = Command::new(&cli);
        c.args(["--no-defaults", "-h127.0.0.1", "-uroot", "--batch", "--skip-ssl"])
            .arg(format!("-P{port}"));
        if compress {
            c.arg("--compress");
        }
        c.arg("-e").arg(SCRIPT);
        output(&mut c)
    };
    let direct = run(m.layout.port, true);
    let proxied = run(p.tcp_addr.unwrap().port(), true);
    assert!(
        direct.contains("Compression\tON"),
        "{}",
        &direct[..200.min(direct.len())]
    );
    assert!(
        proxied == direct,
        "through the proxy differs from direct (lengths {} and {})",
        proxied.len(),
        direct.len()
    );
    // An uncompressed client on the same proxy.
    let plain = run(p.tcp_addr.unwrap().port(), false);
    assert!(plain.contains("Compression\tOFF"));
    assert_eq!(plain.replace("Compression\tOFF", "Compression\tON"), direct);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_async_with_compression() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let opts = proxy_opts(&p, "root", "").compression(Some(mysql_async::Compression::default()));
    let mut c = Conn::new(opts).await.unwrap();
    let status: Option<(String, String)> = c.query_first("SHOW SESSION STATUS LIKE 'Compression'").await.unwrap();
    assert_eq!(status.unwrap().1, "ON");
    let max: u64 = c.query_first("SELECT @@max_allowed_packet").await.unwrap().unwrap();
    c.query_drop("CREATE DATABASE comp").await.unwrap();
    c.query_drop("CREATE TABLE comp.b (id INT PRIMARY KEY, v LONGBLOB)")
        .await
        .unwrap();
    // Values that span several compressed packets, through text and binary protocol; the
    // largest needs a split (16 MiB) plain packet when the server allows it.
    let mut sizes = vec![0usize, 49, 50, 1 << 16, 3 << 20];
    if max > 20 << 20 {
        sizes.push(17 << 20);
    }
    for (i, n) in sizes.iter().enumerate() {
        let v: Vec<u8> = (0..*n).map(|j| (j * 31 % 251) as u8).collect();
        c.exec_drop("INSERT INTO comp.b VALUES (?, ?)", (i, v.clone()))
            .await
            .unwrap();
        let back: Option<Vec<u8>> = c.exec_first("SELECT v FROM comp.b WHERE id = ?", (i,)).await.unwrap();
        assert!(back.as_deref() == Some(&v[..]), "binary protocol, {n} bytes");
        let back: Option<Vec<u8>> = c
            .query_first(format!("SELECT v FROM comp.b WHERE id = {i}"))
            .await
            .unwrap();
        assert!(back.as_deref() == Some(&v[..]), "text protocol, {n} bytes");
    }
    // Many small rows and a multi-result.
    let rows: Vec<u64> = c
        .query("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000) SELECT a.n FROM s a, s b WHERE b.n <= 5")
        .await
        .unwrap();
    assert_eq!(rows.len(), 5000);
    let mut r = c.query_iter("SELECT 1; SELECT 2").await.unwrap();
    let a: Vec<u8> = r.collect().await.unwrap();
    let b: Vec<u8> = r.collect().await.unwrap();
    assert_eq!((a, b), (vec![1], vec![2]));
    drop(r);
    // A driver's cancel from a second compressed connection.
    let id = c.id();
    let mut killer = Conn::new(proxy_opts(&p, "root", "").compression(Some(mysql_async::Compression::fast())))
        .await
        .unwrap();
    let sleeper = tokio::spawn(async move {
        let r: Result<Option<i64>, _> = c.query_first("SELECT SLEEP(20)").await;
        (r, c)
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    killer.query_drop(format!("KILL QUERY {id}")).await.unwrap();
    let (_, mut c) = sleeper.await.unwrap();
    c.ping().await.unwrap();
    c.query_drop("DROP DATABASE comp").await.unwrap();
    p.stop().await;
}

/// LOAD DATA LOCAL over a compressed connection: the file travels in more than 256 packets, so
/// their plain sequence ids wrap through 0 while the compressed numbering continues (it
/// restarts at 0 only for a new command).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_data_local_with_compress() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rows.csv");
    let mut text = String::new();
    for i in 0..200_000 {
        text.push_str(&format!("{i},{}\n", "v".repeat(i % 50)));
    }
    std::fs::write(&csv, &text).unwrap();
    let cli = program(&["mariadb", "mysql"]);
    let mut c = Command::new(&cli);
    c.args([
        "--no-defaults",
        "-h127.0.0.1",
        "-uroot",
        "--batch",
        "--skip-ssl",
        "--compress",
        "--local-infile=1",
    ])
    .arg(format!("-P{}", p.tcp_addr.unwrap().port()))
    .arg("-e")
    .arg(format!(
        "CREATE DATABASE li; CREATE TABLE li.t (id INT PRIMARY KEY, s VARCHAR(60)); \
             LOAD DATA LOCAL INFILE '{}' INTO TABLE li.t FIELDS TERMINATED BY ','; \
             SELECT COUNT(*), SUM(LENGTH(s)) FROM li.t; LOAD DATA LOCAL INFILE '{}' REPLACE INTO TABLE li.t \
             FIELDS TERMINATED BY ','; SELECT COUNT(*) FROM li.t",
        csv.display(),
        csv.display()
    ));
    let loaded = output(&mut c);
    let want: usize = (0..200_000).map(|i| i % 50).sum();
    assert!(loaded.contains(&format!("200000\t{want}")), "{loaded}");
    assert!(loaded.trim_end().ends_with("200000"), "{loaded}");
    p.stop().await;
}

/// A compressed session on a group member: its commits (whose XA statements then go one at
/// a time, not pipelined) and rollbacks replicate like any other session's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_sessions_commit_through_the_group() {
    let g = TestGroup::start(2).await;
    let opts = g.opts(0).compression(Some(mysql_async::Compression::default()));
    let mut c = Conn::new(opts).await.unwrap();
    let status: Option<(String, String)> = c.query_first("SHOW SESSION STATUS LIKE 'Compression'").await.unwrap();
    assert_eq!(status.unwrap().1, "ON");
    c.query_drop("CREATE DATABASE cg").await.unwrap();
    c.query_drop("CREATE TABLE cg.t (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO cg.t VALUES (1, 1), (2, 2)").await.unwrap();
    c.query_drop("BEGIN").await.unwrap();
    c.query_drop("UPDATE cg.t SET v = 10 WHERE id = 1").await.unwrap();
    c.query_drop("COMMIT").await.unwrap();
    c.query_drop("BEGIN").await.unwrap();
    c.query_drop("DELETE FROM cg.t WHERE id = 2").await.unwrap();
    c.query_drop("ROLLBACK").await.unwrap();
    c.query_drop("UPDATE cg.t SET v = 20 WHERE id = 2").await.unwrap();
    g.converge().await;
    for m in 0..2 {
        let mut d = g.conn(m).await;
        let rows: Vec<(i32, i32)> = d.query("SELECT id, v FROM cg.t ORDER BY id").await.unwrap();
        assert_eq!(rows, vec![(1, 10), (2, 20)], "member {m}");
    }
}
