//! The data copy of a state transfer (`replication::transfer::copy`) between two real
//! mariadbds: everything but the system schemas and the donor's own service account arrives,
//! from one snapshot, without touching the joiner's binlog; broken dumps and streams fail.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use grproxy::replication::transfer::copy::{restore, start_dump, CopyError, MysqldTarget, TRAILER};
use mysql_async::prelude::*;
use tokio::io::AsyncWriteExt;

const SVC: &str = "grproxy_svc";

fn target(m: &Mysqld, password: &str) -> MysqldTarget {
    MysqldTarget {
        unix_socket: Some(m.layout.socket.clone()),
        address: None,
        user: SVC.into(),
        password: password.into(),
    }
}

/// The service account, as each member's proxy would have it.
async fn service_account(m: &Mysqld, password: &str) {
    let mut c = m.root().await;
    c.query_drop(format!("CREATE USER {SVC}@localhost IDENTIFIED BY '{password}'"))
        .await
        .unwrap();
    c.query_drop(format!(
        "GRANT ALL PRIVILEGES ON *.* TO {SVC}@localhost WITH GRANT OPTION"
    ))
    .await
    .unwrap();
}

async fn run(m: &Mysqld, sql: &[&str]) {
    let mut c = m.root().await;
    for s in sql {
        c.query_drop(*s).await.unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    c.disconnect().await.unwrap();
}

/// Streams a dump of `donor` into a restore on `joiner`; returns the bytes and the time.
async fn copy(donor: &MysqldTarget, joiner: &MysqldTarget) -> (u64, Duration) {
    let started = Instant::now();
    let mut dump = start_dump(donor, SVC).await.expect("dump starts");
    let (mut tx, rx) = tokio::io::duplex(1 << 20);
    let feed = async move {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = dump.read(&mut buf).await.expect("dump reads");
            if n == 0 {
                break;
            }
            tx.write_all(&buf[..n]).await.expect("pipe");
        }
        tx.shutdown().await.unwrap();
        dump.finish().await.expect("dump succeeds");
    };
    let mut reports = Vec::new();
    let load = restore(joiner, rx, |n| reports.push(n));
    let ((), loaded) = tokio::time::timeout(Duration::from_secs(300), async { tokio::join!(feed, load) })
        .await
        .expect("copy within 5 minutes");
    let loaded = loaded.expect("restore succeeds");
    assert_eq!(reports.last(), Some(&loaded));
    assert!(
        reports.windows(2).all(|w| w[1] - w[0] <= 5 << 20),
        "progress every 4 MiB"
    );
    (loaded, started.elapsed())
}

/// Each row of `sql`, as text.
async fn rows(c: &mut mysql_async::Conn, sql: &str) -> Vec<Vec<Option<String>>> {
    let rs: Vec<mysql_async::Row> = c.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rs.into_iter()
        .map(|r| {
            let names: Vec<String> = r.columns_ref().iter().map(|c| c.name_str().into_owned()).collect();
            r.unwrap()
                .into_iter()
                .zip(names)
                // When a trigger was created is not part of it.
                .filter(|(_, n)| n != "Created")
                .map(|(v, _)| match v {
                    mysql_async::Value::NULL => None,
                    mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                    other => Some(other.as_sql(true)),
                })
                .collect()
        })
        .collect()
}

async fn binlog_position(c: &mut mysql_async::Conn) -> Vec<Vec<Option<String>>> {
    rows(c, "SHOW MASTER STATUS").await
}

const DONOR_SCHEMA: &[&str] = &[
    "CREATE DATABASE app CHARACTER SET utf8mb4",
    "CREATE TABLE app.texts (id INT PRIMARY KEY, s VARCHAR(100), t TEXT) CHARSET utf8mb4",
    "INSERT INTO app.texts VALUES (1, 'héllo 😀🎉', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓'), (2, NULL, ''), \
     (3, 'it''s a \\\\ backslash; GRANT ALL TO `grproxy_svc`@`%`', 'line\\nbreak\\ttab\\0nul')",
    "CREATE TABLE app.latin (id INT PRIMARY KEY, s VARCHAR(50)) CHARSET latin1",
    "INSERT INTO app.latin VALUES (1, 'café ñ ü ß ÿ'), (2, NULL)",
    "CREATE TABLE app.blobs (id INT PRIMARY KEY, b BLOB, vb VARBINARY(300))",
    "CREATE TABLE app.nums (id INT PRIMARY KEY, d DOUBLE, f FLOAT, x DECIMAL(30,10), b BIT(13), \
     u BIGINT UNSIGNED, i BIGINT)",
    "INSERT INTO app.nums VALUES \
     (1, 1.7976931348623157e308, 3.40282e38, 12345678901234567890.0123456789, b'1010101010101', \
      18446744073709551615, -9223372036854775808), \
     (2, -2.2250738585072014e-308, -1.17549e-38, -0.0000000001, b'0', 0, 0), \
     (3, 0.1, 0.1, 0, NULL, NULL, NULL), (4, NULL, NULL, NULL, b'1111111111111', 1, -1)",
    "CREATE TABLE app.misc (id INT PRIMARY KEY, j JSON, d DATE, dt DATETIME(6), ts TIMESTAMP NULL, \
     e ENUM('a','b','c'), st SET('x','y','z'), g INT AS (id * 2) VIRTUAL, \
     gs VARCHAR(20) AS (CONCAT('g', id)) STORED)",
    "INSERT INTO app.misc (id, j, d, dt, ts, e, st) VALUES \
     (1, '{\"a\": [1, 2.5, {\"b\": \"😀\"}], \"n\": null}', '1000-01-01', '9999-12-31 23:59:59.999999', \
      '2038-01-19 03:14:07', 'b', 'x,z'), (2, NULL, NULL, NULL, NULL, NULL, '')",
    "CREATE TABLE app.audited (id INT PRIMARY KEY, v INT)",
    "CREATE TABLE app.audit_log (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100))",
    "CREATE TRIGGER app.audited_ai AFTER INSERT ON app.audited FOR EACH ROW \
     INSERT INTO app.audit_log (note) VALUES (CONCAT('inserted ', NEW.id))",
    "INSERT INTO app.audited VALUES (1, 10), (2, 20)",
    "CREATE VIEW app.v_texts AS SELECT id, UPPER(s) AS s FROM app.texts WHERE id > 1",
    "CREATE PROCEDURE app.bump(IN n INT) BEGIN UPDATE app.audited SET v = v + n; END",
    "CREATE FUNCTION app.twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
    "CREATE EVENT app.nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE \
     DO DELETE FROM app.audit_log WHERE id < 0",
    "CREATE DATABASE other",
    "CREATE TABLE other.t (id INT PRIMARY KEY, s VARCHAR(10))",
    "INSERT INTO other.t VALUES (1, 'one')",
    "CREATE DATABASE grproxy",
    "CREATE TABLE grproxy.applied (idx BIGINT UNSIGNED PRIMARY KEY) ENGINE=InnoDB",
    "INSERT INTO grproxy.applied VALUES (1), (2), (3)",
    "CREATE ROLE app_reader",
    "GRANT SELECT ON app.* TO app_reader",
    "CREATE USER app@'%' IDENTIFIED BY 'app-pw'",
    "GRANT INSERT, UPDATE ON app.* TO app@'%'",
    // A table grant: the accounts are loaded after the tables.
    "GRANT SELECT ON other.t TO app@'%'",
    "GRANT app_reader TO app@'%'",
    "SET DEFAULT ROLE app_reader FOR app@'%'",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_gets_everything_but_the_donors_service_account() {
    let (donor, joiner) = (Mysqld::start(), Mysqld::start());
    service_account(&donor, "donor-pw").await;
    service_account(&joiner, "joiner-pw").await;
    run(&donor, DONOR_SCHEMA).await;
    // A sequence that handed out values and was moved with SETVAL: the copy continues after it.
    run(
        &donor,
        &[
            "CREATE SEQUENCE app.seq INCREMENT BY 3 CACHE 5",
            "DO NEXTVAL(app.seq)",
            "DO SETVAL(app.seq, 700)",
        ],
    )
    .await;
    let all_bytes: String = (0..=255u8).map(|b| format!("{b:02X}")).collect();
    run(
        &donor,
        &[&format!(
            "INSERT INTO app.blobs VALUES (1, X'{all_bytes}', X'{all_bytes}'), (2, '', NULL)"
        )],
    )
    .await;
    // On the joiner: a stale schema, and a prepared XA transaction holding a lock in it.
    run(
        &joiner,
        &[
            "CREATE DATABASE stale",
            "CREATE TABLE stale.t (id INT PRIMARY KEY)",
            "XA START X'0001FF', 'b''q', 3",
            "INSERT INTO stale.t VALUES (1)",
            "XA END X'0001FF', 'b''q', 3",
            "XA PREPARE X'0001FF', 'b''q', 3",
        ],
    )
    .await;
    let mut j = joiner.root().await;
    assert_eq!(rows(&mut j, "XA RECOVER").await.len(), 1);
    let before = binlog_position(&mut j).await;

    let (bytes, took) = copy(&target(&donor, "donor-pw"), &target(&joiner, "joiner-pw")).await;
    println!("copied {bytes} bytes in {took:?}");

    assert_eq!(binlog_position(&mut j).await, before, "the load is not binlogged");
    assert!(rows(&mut j, "XA RECOVER").await.is_empty());
    assert!(rows(&mut j, "SHOW DATABASES LIKE 'stale'").await.is_empty());
    let mut d = donor.root().await;
    let tables = "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES \
                  WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN \
                  ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1";
    let names = rows(&mut d, tables).await;
    assert_eq!(names.len(), 9);
    assert_eq!(rows(&mut j, tables).await, names);
    for n in names {
        let sql = format!("CHECKSUM TABLE {}", n[0].as_ref().unwrap());
        assert_eq!(rows(&mut j, &sql).await, rows(&mut d, &sql).await, "{sql}");
    }
    for sql in [
        "SHOW CREATE VIEW app.v_texts",
        "SHOW CREATE PROCEDURE app.bump",
        "SHOW CREATE FUNCTION app.twice",
        "SHOW CREATE TRIGGER app.audited_ai",
        "SHOW CREATE EVENT app.nightly",
        "SHOW CREATE TABLE app.misc",
        "SHOW CREATE TABLE app.latin",
        "SHOW GRANTS FOR app@'%'",
        "SHOW GRANTS FOR app_reader",
        "SELECT id, HEX(b), HEX(vb), LENGTH(b) FROM app.blobs",
        "SELECT * FROM app.texts",
    ] {
        assert_eq!(rows(&mut j, sql).await, rows(&mut d, sql).await, "{sql}");
    }
    assert_eq!(
        rows(&mut j, "SHOW CREATE SEQUENCE app.seq").await,
        rows(&mut d, "SHOW CREATE SEQUENCE app.seq").await
    );
    assert_eq!(
        rows(&mut j, "SELECT NEXTVAL(app.seq)").await,
        vec![vec![Some("703".into())]],
        "the joiner's sequence continues after the donor's SETVAL"
    );
    assert_eq!(
        rows(&mut j, "SELECT app.twice(21)").await,
        vec![vec![Some("42".into())]]
    );

    // The client account logs in to the joiner with its password and has its role.
    let mut app = mysql_async::Conn::new(joiner.direct_opts("app", "app-pw"))
        .await
        .unwrap();
    assert_eq!(
        rows(&mut app, "SELECT CURRENT_ROLE(), COUNT(*) FROM app.texts").await,
        vec![vec![Some("app_reader".into()), Some("3".into())]]
    );
    app.disconnect().await.unwrap();
    // The joiner's service account kept its own password.
    let svc = |m: &Mysqld, pw: &str| {
        mysql_async::OptsBuilder::default()
            .socket(Some(m.layout.socket.to_string_lossy().into_owned()))
            .user(Some(SVC))
            .pass(Some(pw.to_string()))
    };
    mysql_async::Conn::new(svc(&joiner, "joiner-pw"))
        .await
        .expect("joiner's own password")
        .disconnect()
        .await
        .unwrap();
    assert!(mysql_async::Conn::new(svc(&joiner, "donor-pw")).await.is_err());
    // Copying again onto a joiner that has the accounts works the same.
    copy(&target(&donor, "donor-pw"), &target(&joiner, "joiner-pw")).await;
    assert_eq!(
        rows(&mut j, "CHECKSUM TABLE app.blobs").await,
        rows(&mut d, "CHECKSUM TABLE app.blobs").await
    );
}

/// Rows and markers committed together while the dump runs arrive together or not at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_is_one_snapshot() {
    let (donor, joiner) = (Mysqld::start(), Mysqld::start());
    service_account(&donor, "pw").await;
    service_account(&joiner, "pw").await;
    run(
        &donor,
        &[
            "CREATE DATABASE app",
            // About 50 MB, dumped before `app.rows` and `grproxy.applied`.
            "CREATE TABLE app.filler (id INT PRIMARY KEY, pad VARCHAR(1000))",
            "INSERT INTO app.filler SELECT seq, REPEAT(MD5(seq), 31) FROM app.seq_1_to_50000",
            "CREATE TABLE app.rows (id BIGINT PRIMARY KEY)",
            "CREATE DATABASE grproxy",
            "CREATE TABLE grproxy.applied (idx BIGINT UNSIGNED PRIMARY KEY) ENGINE=InnoDB",
        ],
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let mut w = donor.root().await;
    let writer = {
        let (stop, written) = (stop.clone(), written.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let mut t = w.start_transaction(Default::default()).await.unwrap();
                t.query_drop(format!("INSERT INTO app.rows VALUES ({i})"))
                    .await
                    .unwrap();
                t.query_drop(format!("INSERT INTO grproxy.applied VALUES ({i})"))
                    .await
                    .unwrap();
                t.commit().await.unwrap();
                written.store(i, Ordering::Relaxed);
            }
        })
    };
    while written.load(Ordering::Relaxed) < 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (bytes, took) = copy(&target(&donor, "pw"), &target(&joiner, "pw")).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let mib = bytes as f64 / 1048576.0;
    println!(
        "copy rate: {mib:.1} MiB in {:.2} s = {:.1} MiB/s (dump + load, a writer running)",
        took.as_secs_f64(),
        mib / took.as_secs_f64()
    );
    let mut j = joiner.root().await;
    let data = rows(&mut j, "SELECT id FROM app.rows ORDER BY id").await;
    let markers = rows(&mut j, "SELECT idx FROM grproxy.applied ORDER BY idx").await;
    let total = written.load(Ordering::Relaxed);
    println!("{} of {total} transactions in the copy", data.len());
    assert!(
        !data.is_empty() && (data.len() as u64) < total,
        "the writer ran during the dump"
    );
    assert_eq!(data, markers);
    assert_eq!(
        rows(&mut j, "SELECT COUNT(*) FROM app.filler").await,
        vec![vec![Some("50000".into())]]
    );
}

/// A whole copy of `m`, in memory.
async fn read_all(m: &Mysqld) -> Vec<u8> {
    let mut dump = start_dump(&target(m, "pw"), SVC).await.unwrap();
    let mut whole = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = dump.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        whole.extend_from_slice(&buf[..n]);
    }
    dump.finish().await.unwrap();
    whole
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_dumps_and_streams_fail() {
    let m = Mysqld::start();
    service_account(&m, "pw").await;
    // With no schema but the system ones, the copy holds the accounts alone.
    let accounts_only = read_all(&m).await;
    assert!(accounts_only.ends_with(TRAILER) && !accounts_only.windows(6).any(|w| w == b"USE `d"));
    run(
        &m,
        &["CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, s TEXT)"],
    )
    .await;
    run(
        &m,
        &["INSERT INTO d.t SELECT seq, REPEAT('x', 100) FROM d.seq_1_to_1000"],
    )
    .await;

    let e = start_dump(&target(&m, "wrong"), SVC)
        .await
        .err()
        .expect("wrong password");
    assert!(e.to_string().contains("Access denied"), "{e}");

    let whole = read_all(&m).await;

    // Cut in the middle, and cut after a complete statement: refused either way.
    for cut in [whole.len() / 2, whole.len() - 1, whole.len() - TRAILER.len()] {
        let e = restore(&target(&m, "pw"), &whole[..cut], |_| {})
            .await
            .err()
            .expect("truncated");
        assert!(matches!(e, CopyError::Truncated(_)), "{e}");
    }
    // A statement that fails: the client's message comes back.
    let mut bad = b"CREATE TABLE nowhere.t (id INT);\n".to_vec();
    bad.extend_from_slice(&whole);
    let e = restore(&target(&m, "pw"), &bad[..], |_| {}).await.err().expect("fails");
    assert!(
        matches!(e, CopyError::Load(_)) && e.to_string().contains("nowhere"),
        "{e}"
    );
    // The whole copy loads.
    assert_eq!(
        restore(&target(&m, "pw"), &whole[..], |_| {}).await.unwrap(),
        whole.len() as u64
    );
    let mut c = m.root().await;
    assert_eq!(
        rows(&mut c, "SELECT COUNT(*) FROM d.t").await,
        vec![vec![Some("1000".into())]]
    );
}
