//! The mariadb CLI, PyMySQL and sysbench, each through the proxy and directly.

mod common;

use std::process::Command;

use common::*;

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run client");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const CLI_SCRIPT: &str = "\
CREATE DATABASE cli;
USE cli;
CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(50), d DECIMAL(8,2), n INT NULL, dt DATETIME);
INSERT INTO t VALUES (1, 'plain', 1.50, NULL, '2020-01-01 00:00:00'), (2, 'ü中😀 tab\there', -3.00, 7, NULL);
SELECT * FROM t ORDER BY id;
SELECT COUNT(*) AS c, SUM(d) FROM t;
SHOW COLUMNS FROM t;
SELECT 1; SELECT 'multi', 2;
UPDATE t SET n = n + 1;
SELECT ROW_COUNT();
SHOW WARNINGS;
DROP DATABASE cli;
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_cli_batch_output_is_identical() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let cli = program(&["mariadb", "mysql"]);
    let run = |port: u16, extra: &[&str]| {
        let mut c = Command::new(&cli);
        c.args([
            "--no-defaults",
            "-h127.0.0.1",
            "-uroot",
            "--batch",
            "--skip-ssl",
            "--default-character-set=utf8mb4",
        ])
        .arg(format!("-P{port}"))
        .args(extra)
        .arg("-e")
        .arg(CLI_SCRIPT);
        output(&mut c)
    };
    let direct = run(m.layout.port, &[]);
    let proxied = run(p.tcp_addr.unwrap().port(), &[]);
    assert!(direct.contains("ü中😀"), "{direct}");
    assert_eq!(direct, proxied);
    // With column names off and tabular (-t) output too.
    assert_eq!(run(m.layout.port, &["-t"]), run(p.tcp_addr.unwrap().port(), &["-t"]));

    // TLS from the CLI to the proxy (self-signed certificate, not verified).
    let mut c = Command::new(&cli);
    c.args([
        "--no-defaults",
        "-h127.0.0.1",
        "-uroot",
        "--ssl",
        "--skip-ssl-verify-server-cert",
    ])
    .arg(format!("-P{}", p.tcp_addr.unwrap().port()))
    .args(["-e", "status"]);
    let status = output(&mut c);
    assert!(status.contains("Cipher in use"), "{status}");

    // LOAD DATA LOCAL INFILE relayed to the client.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, "1,a\n2,b\n3,c\n").unwrap();
    let mut c = Command::new(&cli);
    c.args([
        "--no-defaults",
        "-h127.0.0.1",
        "-uroot",
        "--batch",
        "--skip-ssl",
        "--local-infile=1",
    ])
    .arg(format!("-P{}", p.tcp_addr.unwrap().port()))
    .arg("-e")
    .arg(format!(
        "CREATE DATABASE li; CREATE TABLE li.t (id INT PRIMARY KEY, s CHAR(1)); \
             LOAD DATA LOCAL INFILE '{}' INTO TABLE li.t FIELDS TERMINATED BY ','; \
             SELECT COUNT(*), GROUP_CONCAT(s ORDER BY id) FROM li.t",
        csv.display()
    ));
    let loaded = output(&mut c);
    assert!(loaded.contains("3\ta,b,c"), "{loaded}");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymysql_transcript_is_identical() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/pymysql_matrix.py");
    let run = |port: u16| {
        output(
            Command::new("python3")
                .arg(script)
                .arg("127.0.0.1")
                .arg(port.to_string())
                .arg("py"),
        )
    };
    let direct = run(m.layout.port);
    let proxied = run(p.tcp_addr.unwrap().port());
    assert!(direct.contains("Decimal('12345678901234.123456')"), "{direct}");
    assert_eq!(direct, proxied);
    p.stop().await;
}

/// sysbench oltp_read_write through the proxy in both prepared-statement modes, and directly.
/// sysbench exits non-zero on any error it does not retry; the only retried ones are
/// deadlocks (1213), which InnoDB reports under this workload with or without the proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sysbench_oltp_read_write() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let sysbench = program(&["sysbench"]);
    let mut root = m.root().await;
    use mysql_async::prelude::Queryable;
    root.query_drop("CREATE DATABASE sbtest").await.unwrap();
    let port = p.tcp_addr.unwrap().port().to_string();
    let common_args = |port: &str| {
        vec![
            "--db-driver=mysql".to_string(),
            "--mysql-host=127.0.0.1".into(),
            format!("--mysql-port={port}"),
            "--mysql-user=root".into(),
            "--mysql-password=".into(),
            "--mysql-db=sbtest".into(),
            "--tables=2".into(),
            "--table-size=2000".into(),
            "--mysql-ssl=off".into(),
        ]
    };
    let prep = output(
        Command::new(&sysbench)
            .arg("oltp_read_write")
            .args(common_args(&port))
            .arg("prepare"),
    );
    assert!(prep.contains("Inserting 2000 records"), "{prep}");
    for (mode, target) in [
        ("auto", port.clone()),
        ("disable", port.clone()),
        ("auto", m.layout.port.to_string()),
    ] {
        let out = output(
            Command::new(&sysbench)
                .arg("oltp_read_write")
                .args(common_args(&target))
                .args(["--threads=4", "--time=5", "--report-interval=0"])
                .arg(format!("--db-ps-mode={mode}"))
                .arg("run"),
        );
        let reconnects = out
            .lines()
            .find(|l| l.contains("reconnects:"))
            .unwrap_or_default()
            .to_string();
        assert!(
            reconnects.contains(" 0 "),
            "mode {mode} port {target}: {reconnects}\n{out}"
        );
        let tx = out
            .lines()
            .find(|l| l.trim_start().starts_with("transactions:"))
            .unwrap_or_default()
            .to_string();
        assert!(!tx.contains(" 0 "), "no transactions in mode {mode}: {out}");
    }
    p.stop().await;
}
