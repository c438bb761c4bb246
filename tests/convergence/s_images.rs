//! Row images: values of every type, written under the session settings that change what is
//! stored (connection character set, time zone, timestamp, sql_mode) or what is checked
//! (foreign_key_checks, check_constraint_checks, unique_checks). Every member must end with
//! the bytes the origin stored.

use super::cli::PyEnd;
use super::harness::*;

pub fn all() -> Vec<Scenario> {
    vec![
        sc!("images", latin1_connection_keeps_utf8mb4_text),
        sc!("images", zero_timestamp_and_dates),
        sc!("images", timestamp_primary_key_under_time_zone),
        sc!("images", session_timestamp_in_writes),
        sc!("images", datetime6_time6_timestamp6),
        sc!("images", json_values),
        sc!("images", bit_values),
        sc!("images", enum_and_set_values),
        sc!("images", blob_every_byte_value),
        sc!("images", decimal_values),
        sc!("images", float_negative_zero_and_extremes),
        sc!("images", generated_columns),
        sc!("images", pymysql_utf8mb4_and_latin1),
        sc!("images", big_blob_prepared),
        sc!("session-state", allow_invalid_dates),
        sc!("session-state", insert_ignore_bad_enum),
        sc!("session-state", foreign_key_checks_0_orphan),
        sc!("session-state", check_constraint_checks_0),
        sc!("session-state", unique_checks_0),
        sc!("session-state", pad_char_to_full_length),
        sc!("session-state", no_auto_value_on_zero),
        sc!("session-state", non_strict_truncation),
    ]
}

/// Issue 10: a latin1 connection turned untouched utf8mb4 text into '???' elsewhere.
async fn latin1_connection_keeps_utf8mb4_text(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, n INT NOT NULL, s VARCHAR(20) CHARACTER SET utf8mb4, l VARCHAR(20) CHARACTER SET latin1)",
        "INSERT INTO t VALUES (1, 0, 'ü中😀', 'é')",
    ])
    .await?;
    let out = cx
        .run(
            2,
            cx.cli(2)
                .charset("latin1")
                .execute("UPDATE t SET n = n + 1 WHERE id = 1"),
        )
        .await;
    ok(&out, "latin1 UPDATE")?;
    // 0xE9 is 'é' in latin1.
    let out = cx
        .run(
            1,
            cx.cli(1)
                .charset("latin1")
                .execute(b"INSERT INTO t VALUES (2, 0, '\xe9', '\xe9')".to_vec()),
        )
        .await;
    ok(&out, "latin1 INSERT")?;
    cx.everywhere(
        "SELECT id, n, HEX(s), HEX(l) FROM t ORDER BY id",
        &["1\t1\tC3BCE4B8ADF09F9880\tE9", "2\t0\tC3A9\tE9"],
    )
    .await
}

/// Issue 10: a zero TIMESTAMP became NULL elsewhere.
async fn zero_timestamp_and_dates(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, ts TIMESTAMP NULL DEFAULT NULL, dt DATETIME NULL, d DATE NULL)"])
        .await?;
    cx.e_ok(
        0,
        "SET sql_mode = ''; INSERT INTO t VALUES (1, '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00'); \
         INSERT INTO t VALUES (2, 0, 0, 0); UPDATE t SET id = 3 WHERE id = 2; INSERT INTO t VALUES (4, NULL, NULL, NULL)",
    )
    .await?;
    cx.everywhere(
        "SELECT id, ts IS NULL, CAST(ts AS CHAR), CAST(dt AS CHAR), CAST(d AS CHAR) FROM t ORDER BY id",
        &[
            "1\t0\t0000-00-00 00:00:00\t0000-00-00 00:00:00\t0000-00-00",
            "3\t0\t0000-00-00 00:00:00\t0000-00-00 00:00:00\t0000-00-00",
            "4\t1\tNULL\tNULL\tNULL",
        ],
    )
    .await
}

/// Issue 10: a TIMESTAMP primary key under a non-UTC session time zone deleted the row
/// elsewhere.
async fn timestamp_primary_key_under_time_zone(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (ts TIMESTAMP(3) NOT NULL PRIMARY KEY, v VARCHAR(10))",
        "SET time_zone = '+00:00'",
        "INSERT INTO t VALUES ('2024-01-01 00:00:00', 'a')",
    ])
    .await?;
    cx.e_ok(
        1,
        "SET time_zone = '+05:00'; INSERT INTO t VALUES ('2024-06-01 12:00:00.5', 'b'); \
         UPDATE t SET v = 'a2' WHERE ts = '2024-01-01 05:00:00'; \
         DELETE FROM t WHERE ts = '2024-06-01 12:00:00.5'; INSERT INTO t VALUES ('2024-06-02 12:00:00', 'c'); \
         UPDATE t SET ts = ts + INTERVAL 1 SECOND WHERE v = 'c'",
    )
    .await?;
    cx.everywhere(
        "SELECT ts, v FROM t ORDER BY ts",
        &["2024-01-01 00:00:00.000\ta2", "2024-06-02 07:00:01.000\tc"],
    )
    .await
}

/// `SET timestamp` fixes NOW() for the session; every member stores the origin's value.
async fn session_timestamp_in_writes(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, a DATETIME, b TIMESTAMP NULL, c DATE)"])
        .await?;
    cx.e_ok(
        2,
        "SET timestamp = 1700000000; SET time_zone = '+00:00'; INSERT INTO t VALUES (1, NOW(), NOW(), CURDATE()); \
         UPDATE t SET a = a + INTERVAL 1 SECOND; SET time_zone = '+09:00'; INSERT INTO t VALUES (2, NOW(), NOW(), CURDATE())",
    )
    .await?;
    cx.everywhere(
        "SELECT id, a, b, c FROM t ORDER BY id",
        &[
            "1\t2023-11-14 22:13:21\t2023-11-14 22:13:20\t2023-11-14",
            "2\t2023-11-15 07:13:20\t2023-11-14 22:13:20\t2023-11-15",
        ],
    )
    .await
}

async fn datetime6_time6_timestamp6(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, dt DATETIME(6), tm TIME(6), ts TIMESTAMP(6) NULL)"])
        .await?;
    cx.e_ok(
        0,
        "SET time_zone = '+00:00'; \
         INSERT INTO t VALUES (1, '2024-02-29 23:59:59.999999', '-838:59:59.000000', '2038-01-19 03:14:07.999999'); \
         UPDATE t SET dt = dt + INTERVAL 1 MICROSECOND, tm = tm + INTERVAL 1 MICROSECOND, ts = ts - INTERVAL 1 MICROSECOND",
    )
    .await?;
    cx.everywhere(
        "SELECT id, dt, tm, ts FROM t",
        &["1\t2024-03-01 00:00:00.000000\t-838:59:58.999999\t2038-01-19 03:14:07.999998"],
    )
    .await
}

async fn json_values(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, j JSON)"]).await?;
    cx.e_ok(
        1,
        r#"INSERT INTO t VALUES (1, '{"a": [1, 2.50, "ü😀"], "b": null}'), (2, '"tab\\there"'); UPDATE t SET j = JSON_SET(j, '$.c', 'x"y') WHERE id = 1; UPDATE t SET j = JSON_REMOVE(j, '$.b') WHERE id = 1"#,
    )
    .await?;
    cx.everywhere(
        "SELECT id, JSON_UNQUOTE(JSON_EXTRACT(j, '$.a[2]')), JSON_UNQUOTE(JSON_EXTRACT(j, '$.c')), JSON_CONTAINS_PATH(j, 'one', '$.b') FROM t WHERE id = 1",
        &["1\tü😀\tx\"y\t0"],
    )
    .await?;
    cx.everywhere("SELECT HEX(j) FROM t WHERE id = 2", &["227461625C746865726522"])
        .await
}

async fn bit_values(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, b1 BIT(1), b64 BIT(64), b10 BIT(10))"])
        .await?;
    cx.e_ok(
        2,
        "INSERT INTO t VALUES (1, b'1', b'1111111111111111111111111111111111111111111111111111111111111111', b'1010101010'), (2, 0, 0, 0); \
         UPDATE t SET b10 = b10 ^ 1023, b1 = b1 ^ 1 WHERE id = 1; UPDATE t SET b64 = 1 << 63 WHERE id = 2",
    )
    .await?;
    cx.everywhere(
        "SELECT id, b1 + 0, b64 + 0, b10 + 0 FROM t ORDER BY id",
        &["1\t0\t18446744073709551615\t341", "2\t0\t9223372036854775808\t0"],
    )
    .await
}

async fn enum_and_set_values(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, e ENUM('a','b','c'), st SET('x','y','z'))"])
        .await?;
    cx.e_ok(
        0,
        "INSERT INTO t VALUES (1, 'b', 'x,z'), (2, 3, 5), (3, 'a', ''); UPDATE t SET st = st | 2 WHERE id IN (1, 3)",
    )
    .await?;
    cx.everywhere(
        "SELECT id, e, e + 0, st, st + 0 FROM t ORDER BY id",
        &["1\tb\t2\tx,y,z\t7", "2\tc\t3\tx,z\t5", "3\ta\t1\ty\t2"],
    )
    .await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// BLOB and VARBINARY with every byte value, through a CLI hex literal, a CLI string with
/// escapes, and a prepared statement's binary parameter.
async fn blob_every_byte_value(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, b BLOB, vb VARBINARY(300))"])
        .await?;
    let all: Vec<u8> = (0..=255u8).collect();
    let rev: Vec<u8> = (0..=255u8).rev().collect();
    let h = hex(&all);
    cx.e_ok(1, &format!("INSERT INTO t VALUES (1, X'{h}', X'{h}')")).await?;
    let mut c = cx.conn(2).await?;
    cx.x(
        2,
        &mut c,
        "INSERT INTO t VALUES (?, ?, ?)",
        (2, rev.clone(), rev.clone()),
    )
    .await
    .map_err(|e| e.to_string())?;
    let _ = c.disconnect().await;
    cx.e_ok(
        0,
        r#"INSERT INTO t (id, b) VALUES (3, 'a\0b\'c\\d\Ze\n"f'); UPDATE t SET vb = CONCAT(b, X'00FF') WHERE id = 3"#,
    )
    .await?;
    let esc = hex(b"a\0b'c\\d\x1ae\n\"f");
    cx.everywhere(
        "SELECT id, HEX(b), HEX(vb) FROM t ORDER BY id",
        &[
            &format!("1\t{h}\t{h}"),
            &format!("2\t{}\t{}", hex(&rev), hex(&rev)),
            &format!("3\t{esc}\t{esc}00FF"),
        ],
    )
    .await
}

async fn decimal_values(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, d DECIMAL(65,30), u DECIMAL(20,0) UNSIGNED, m DECIMAL(5,2))"])
        .await?;
    let big = format!("{}.{}", "9".repeat(35), "9".repeat(30));
    let tiny = format!("-0.{}1", "0".repeat(29));
    cx.e_ok(
        2,
        &format!(
            "INSERT INTO t VALUES (1, '{big}', 99999999999999999999, 999.99), (2, '{tiny}', 0, -999.99), (3, 1, 1, 0.005); \
             UPDATE t SET d = d / 3, m = m * 2 WHERE id = 3"
        ),
    )
    .await?;
    cx.everywhere(
        "SELECT id, d, u, m FROM t WHERE id < 3 ORDER BY id",
        &[
            &format!("1\t{big}\t99999999999999999999\t999.99"),
            &format!("2\t{tiny}\t0\t-999.99"),
        ],
    )
    .await?;
    cx.everywhere("SELECT m FROM t WHERE id = 3", &["0.02"]).await
}

/// MariaDB stores -0.0 as 0 in FLOAT/DOUBLE columns; whatever the origin stored (through a
/// text literal or a binary parameter), every member stores.
async fn float_negative_zero_and_extremes(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, f FLOAT, d DOUBLE)"])
        .await?;
    cx.e_ok(
        1,
        "INSERT INTO t VALUES (1, -0e0, -0e0), (2, 1.17549435e-38, 2.2250738585072014e-308), \
         (3, 3.4028234e38, -1.7976931348623157e308), (4, 0.1, 0.1); UPDATE t SET f = f * 3, d = d * 3 WHERE id = 4",
    )
    .await?;
    let mut c = cx.conn(2).await?;
    cx.x(2, &mut c, "INSERT INTO t VALUES (?, ?, ?)", (5, -0.0f32, -0.0f64))
        .await
        .map_err(|e| e.to_string())?;
    cx.x(2, &mut c, "UPDATE t SET d = ? WHERE id = ?", (f64::MIN_POSITIVE, 2))
        .await
        .map_err(|e| e.to_string())?;
    let _ = c.disconnect().await;
    cx.everywhere(
        "SELECT id, f, d, ATAN2(0, f), ATAN2(0, d) FROM t ORDER BY id",
        &[
            "1\t0\t0\t0\t0",
            "2\t1.17549e-38\t2.2250738585072014e-308\t0\t0",
            "3\t3.40282e38\t-1.7976931348623157e308\t0\t3.141592653589793",
            "4\t0.3\t0.30000000000000004\t0\t0",
            "5\t0\t0\t0\t0",
        ],
    )
    .await
}

async fn generated_columns(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT AS (a * 2) STORED, c VARCHAR(20) AS (CONCAT('v', a)) VIRTUAL, KEY (c))"])
        .await?;
    cx.e_ok(0, "INSERT INTO t (id, a) VALUES (1, 5), (2, 7); UPDATE t SET a = a + 1 WHERE c = 'v5'; DELETE FROM t WHERE b = 14")
        .await?;
    cx.everywhere("SELECT id, a, b, c FROM t", &["1\t6\t12\tv6"]).await
}

async fn pymysql_utf8mb4_and_latin1(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20) CHARACTER SET utf8mb4)"])
        .await?;
    let out = cx
        .run_py(1, cx.py(1).statement("INSERT INTO t VALUES (1, '😀𝄞ü')"))
        .await;
    ensure!(out.ok(), "PyMySQL utf8mb4: {}", out.describe());
    let mut py = cx.py(2).statement("INSERT INTO t VALUES (2, 'é')");
    py.charset = "latin1".into();
    py.autocommit = Some(true);
    py.end = PyEnd::Close;
    let out = cx.run_py(2, py).await;
    ensure!(out.ok(), "PyMySQL latin1: {}", out.describe());
    cx.everywhere(
        "SELECT id, HEX(s) FROM t ORDER BY id",
        &["1\tF09F9880F09D849EC3BC", "2\tC3A9"],
    )
    .await
}

async fn big_blob_prepared(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, b LONGBLOB)"]).await?;
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut h = crc32fast::Hasher::new();
    h.update(&data);
    h.update(b"tail");
    let tail_crc = h.finalize();
    let mut c = cx.conn(0).await?;
    cx.x(0, &mut c, "INSERT INTO t VALUES (?, ?)", (1, data))
        .await
        .map_err(|e| e.to_string())?;
    cx.q_ok(0, &mut c, "UPDATE t SET b = CONCAT(b, 'tail') WHERE id = 1")
        .await?;
    let _ = c.disconnect().await;
    cx.everywhere("SELECT LENGTH(b), CRC32(b) FROM t", &[&format!("3000004\t{tail_crc}")])
        .await
}

/// Issue 10: `ALLOW_INVALID_DATES` put the other members in ERROR.
async fn allow_invalid_dates(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, d DATE, dt DATETIME)"])
        .await?;
    cx.e_ok(
        2,
        "SET sql_mode = 'ALLOW_INVALID_DATES'; INSERT INTO t VALUES (1, '2024-02-31', '2023-04-31 10:00:00'); \
         UPDATE t SET d = '2023-02-30' WHERE id = 1; INSERT INTO t VALUES (2, '2024-02-29', NULL)",
    )
    .await?;
    cx.everywhere(
        "SELECT id, CAST(d AS CHAR), CAST(dt AS CHAR) FROM t ORDER BY id",
        &["1\t2023-02-30\t2023-04-31 10:00:00", "2\t2024-02-29\tNULL"],
    )
    .await
}

/// Issue 10: `INSERT IGNORE` of a bad ENUM value put the other members in ERROR.
async fn insert_ignore_bad_enum(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, e ENUM('a','b') NOT NULL)"])
        .await?;
    cx.e_ok(
        0,
        "INSERT IGNORE INTO t VALUES (1, 'nope'), (2, 'b'); UPDATE IGNORE t SET e = 'bad' WHERE id = 2",
    )
    .await?;
    cx.everywhere("SELECT id, e, e + 0 FROM t ORDER BY id", &["1\t\t0", "2\t\t0"])
        .await
}

const FK: [&str; 3] = [
    "CREATE TABLE parent (id INT PRIMARY KEY)",
    "CREATE TABLE child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES parent (id))",
    "INSERT INTO parent VALUES (1)",
];

/// Issue 10: `foreign_key_checks=0` put the other members in ERROR. Replicated with the
/// setting (the row events carry what the origin did), the same everywhere.
async fn foreign_key_checks_0_orphan(cx: &Ctx<'_>) -> R {
    cx.setup(&FK).await?;
    let sql = "SET foreign_key_checks = 0; INSERT INTO child VALUES (1, 999); SET foreign_key_checks = 1";
    let out = cx.e(1, sql).await;
    let ran = outcome(&out, sql, Outcome::Ran)?;
    cx.everywhere("SELECT COUNT(*) FROM child", &[if ran { "1" } else { "0" }])
        .await?;
    cx.setup(&["INSERT INTO child VALUES (2, 1)"]).await?;
    let sql = "SET foreign_key_checks = 0; DELETE FROM parent WHERE id = 1";
    let ran = outcome(&cx.e(2, sql).await, sql, Outcome::Ran)?;
    cx.everywhere("SELECT COUNT(*) FROM parent", &[if ran { "0" } else { "1" }])
        .await
}

/// Issue 10: `check_constraint_checks=0` put the other members in ERROR.
async fn check_constraint_checks_0(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, v INT, CONSTRAINT pos CHECK (v > 0))"])
        .await?;
    let sql = "SET check_constraint_checks = 0; INSERT INTO t VALUES (1, -5); UPDATE t SET v = -6 WHERE id = 1";
    let ran = outcome(&cx.e(0, sql).await, sql, Outcome::Ran)?;
    if ran {
        cx.everywhere("SELECT id, v FROM t", &["1\t-6"]).await
    } else {
        cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await
    }
}

async fn unique_checks_0(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, u INT, UNIQUE KEY (u))"])
        .await?;
    let sql = "SET unique_checks = 0; INSERT INTO t VALUES (1, 1), (2, 2); SET unique_checks = 1";
    let ran = outcome(&cx.e(2, sql).await, sql, Outcome::Ran)?;
    if ran {
        cx.everywhere("SELECT id, u FROM t ORDER BY id", &["1\t1", "2\t2"])
            .await
    } else {
        cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await
    }
}

async fn pad_char_to_full_length(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (c CHAR(5) PRIMARY KEY, v INT NOT NULL)",
        "INSERT INTO t VALUES ('ab', 0), ('cd', 0)",
    ])
    .await?;
    cx.e_ok(
        1,
        "SET sql_mode = 'PAD_CHAR_TO_FULL_LENGTH'; UPDATE t SET v = v + 1 WHERE c = 'ab'; INSERT INTO t VALUES ('ef', 5); \
         UPDATE t SET c = 'xy' WHERE c = 'cd'; DELETE FROM t WHERE c = 'ef'",
    )
    .await?;
    cx.everywhere(
        "SELECT CONCAT('[', c, ']'), v FROM t ORDER BY c",
        &["[ab]\t1", "[xy]\t0"],
    )
    .await
}

async fn no_auto_value_on_zero(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))"])
        .await?;
    cx.e_ok(
        2,
        "SET sql_mode = 'NO_AUTO_VALUE_ON_ZERO'; INSERT INTO t VALUES (0, 'zero'); INSERT INTO t (v) VALUES ('auto'); \
         UPDATE t SET v = 'zero2' WHERE id = 0",
    )
    .await?;
    cx.everywhere("SELECT v FROM t WHERE id = 0", &["zero2"]).await?;
    cx.everywhere("SELECT COUNT(*) FROM t", &["2"]).await
}

async fn non_strict_truncation(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(5), ti TINYINT, d DATE, n INT NOT NULL)"])
        .await?;
    cx.e_ok(
        0,
        "SET sql_mode = ''; INSERT INTO t VALUES (1, 'toolongvalue', 300, 'garbage', 1); \
         UPDATE t SET ti = ti + 100, n = NULL WHERE id = 1; INSERT INTO t (id) VALUES (2)",
    )
    .await?;
    cx.everywhere(
        "SELECT id, s, ti, CAST(d AS CHAR), n FROM t ORDER BY id",
        &["1\ttoolo\t127\t0000-00-00\t0", "2\tNULL\tNULL\tNULL\t0"],
    )
    .await
}
