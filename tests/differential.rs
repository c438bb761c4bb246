//! Differential test: the same statements sent to mysqld directly and through the proxy must
//! produce byte-identical responses (both result-set terminator styles, text and binary
//! protocol, errors, warnings, multi-results).

mod common;

use common::raw::RawClient;
use common::*;
use grproxy::protocol::response::Expect;

const SETUP: &[&str] = &[
    "DROP DATABASE IF EXISTS diff",
    "CREATE DATABASE diff",
    "CREATE TABLE diff.t (id INT AUTO_INCREMENT PRIMARY KEY, s VARCHAR(32), d DECIMAL(10,3), \
     b BLOB, dt DATETIME(3), ts TIMESTAMP NULL, f FLOAT, e ENUM('x','y'), j JSON, u VARCHAR(20) UNIQUE) ENGINE=InnoDB",
];

const CORPUS: &[&str] = &[
    "SELECT 1",
    "SELECT 1, 'a', NULL, 1.5, -0.0e0, X'00FF', _utf8mb4'ü中😀'",
    "select @@version_comment limit 1",
    "SELECT DATABASE()",
    "USE diff",
    "SHOW TABLES",
    "INSERT INTO t (s, d, b, dt, ts, f, e, j, u) VALUES ('a', 1.234, x'0001', '2021-01-01 10:00:00.123', '2021-01-01 10:00:00', 1.5, 'x', '[1]', 'u1'), ('b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "INSERT INTO t (s, d) VALUES ('c', 12345678.1234)",
    "SHOW WARNINGS",
    "INSERT INTO t (s, u) VALUES ('dup', 'u1')",
    "INSERT IGNORE INTO t (s, u) VALUES ('dup', 'u1')",
    "UPDATE t SET f = f * 2 WHERE id <= 2",
    "SELECT * FROM t ORDER BY id",
    "SELECT s, COUNT(*) FROM t GROUP BY s WITH ROLLUP",
    "SELECT 1; SELECT 2, 3; INSERT INTO t (s) VALUES ('multi'); SELECT s FROM t WHERE s = 'multi'",
    "SELECT 1; SELECT * FROM no_such_table; SELECT 3",
    "BEGIN",
    "DELETE FROM t WHERE s = 'multi'",
    "ROLLBACK",
    "SELECT COUNT(*) FROM t",
    "SET @a = 5, @b = 'x'",
    "SELECT @a, @b, @c",
    "SELEC broken syntax",
    "SELECT * FROM t WHERE id = 'not a number'",
    "SHOW CREATE TABLE t",
    "DESCRIBE t",
    "SELECT REPEAT('z', 70000)",
    "SELECT id, s FROM t ORDER BY id LIMIT 0",
    "DO SLEEP(0)",
    "CREATE TEMPORARY TABLE tmp (a INT)",
    "DROP TEMPORARY TABLE tmp",
    "EXPLAIN SELECT * FROM t WHERE id = 1",
    // A stored program with a cursor of its own: mysqld sets CURSOR_EXISTS in the status of
    // the result sets it sends meanwhile, and their rows still follow (mysql-test
    // `main.sp-cursor` hung through the proxy, which took that for a COM_STMT_EXECUTE cursor).
    "FOR rec IN (SELECT id FROM t ORDER BY id) DO SELECT rec.id; END FOR",
    "BEGIN NOT ATOMIC DECLARE c CURSOR FOR SELECT 1; OPEN c; SELECT 2; SELECT 3; CLOSE c; END",
];

/// COM_STMT_EXECUTE for statement `id` with an INT and a VARCHAR parameter.
fn execute(id: u32, bind_types: bool, n: i32, s: &[u8]) -> Vec<u8> {
    let mut p = vec![0x17];
    p.extend_from_slice(&id.to_le_bytes());
    p.push(0); // no cursor
    p.extend_from_slice(&1u32.to_le_bytes());
    p.push(0); // null bitmap for 2 params
    p.push(bind_types as u8);
    if bind_types {
        p.extend_from_slice(&[0x03, 0x00, 0xFD, 0x00]); // LONG, VAR_STRING
    }
    p.extend_from_slice(&n.to_le_bytes());
    p.push(s.len() as u8);
    p.extend_from_slice(s);
    p
}

/// Removes the digits in "handler (<id>)" and fixes the packet length to match.
fn mask_statement_id(bytes: &mut Vec<u8>) {
    if let Some(at) = bytes.windows(9).position(|w| w == b"handler (") {
        let digits = bytes[at + 9..].iter().take_while(|b| b.is_ascii_digit()).count();
        bytes.drain(at + 9..at + 9 + digits);
        let len = (bytes.len() - 4) as u32;
        bytes[..3].copy_from_slice(&len.to_le_bytes()[..3]);
    }
}

async fn run_all(addr: &str, deprecate_eof: bool) -> Vec<(String, Vec<u8>)> {
    let mut c = RawClient::connect(addr, "root", "", deprecate_eof).await;
    let mut out = Vec::new();
    for s in SETUP {
        c.query(s).await;
    }
    for s in CORPUS {
        out.push((s.to_string(), c.query(s).await));
    }
    // Binary protocol: prepare, execute, re-execute without rebinding types, field list.
    let mut prep = vec![0x16];
    prep.extend_from_slice(b"SELECT id, s, d, dt, f, j FROM t WHERE id > ? AND s <> ? ORDER BY id");
    let r = c.command(&prep, Expect::Prepare).await;
    let id = u32::from_le_bytes([r[5], r[6], r[7], r[8]]);
    // Statement ids are server-assigned (MariaDB numbers them server-wide), like connection
    // ids: compare everything but the id itself.
    let mut r = r;
    r[5..9].fill(0);
    out.push(("prepare".into(), r));
    out.push((
        "execute".into(),
        c.command(&execute(id, true, 0, b"zz"), Expect::QueryResult).await,
    ));
    out.push((
        "re-execute".into(),
        c.command(&execute(id, false, 1, b"a"), Expect::QueryResult).await,
    ));
    let mut reset = vec![0x1A];
    reset.extend_from_slice(&id.to_le_bytes());
    out.push(("stmt reset".into(), c.command(&reset, Expect::OkOrErr).await));
    let mut bad = vec![0x16];
    bad.extend_from_slice(b"SELECT FROM WHERE");
    out.push(("bad prepare".into(), c.command(&bad, Expect::Prepare).await));
    // COM_STMT_SEND_LONG_DATA in two pieces, then execute without sending the value.
    let mut echo = vec![0x16];
    echo.extend_from_slice(b"SELECT CONCAT('[', ?, ']')");
    let r = c.command(&echo, Expect::Prepare).await;
    let echo_id = u32::from_le_bytes([r[5], r[6], r[7], r[8]]);
    for piece in [&b"long "[..], b"data"] {
        let mut long = vec![0x18];
        long.extend_from_slice(&echo_id.to_le_bytes());
        long.extend_from_slice(&0u16.to_le_bytes());
        long.extend_from_slice(piece);
        c.io.send(0, &long).await.unwrap();
    }
    let mut exec = vec![0x17];
    exec.extend_from_slice(&echo_id.to_le_bytes());
    exec.extend_from_slice(&[0, 1, 0, 0, 0, 0, 1, 0xFC, 0x00]);
    out.push((
        "execute after long data".into(),
        c.command(&exec, Expect::QueryResult).await,
    ));
    // A read-only cursor: metadata first, rows through COM_STMT_FETCH.
    let mut cursor = execute(id, true, 0, b"zz");
    cursor[5] = 1; // CURSOR_TYPE_READ_ONLY
    out.push((
        "execute with cursor".into(),
        c.command(&cursor, Expect::QueryResult).await,
    ));
    let mut fetch = vec![0x1C];
    fetch.extend_from_slice(&id.to_le_bytes());
    fetch.extend_from_slice(&2u32.to_le_bytes());
    out.push(("fetch 2".into(), c.command(&fetch, Expect::UntilTerminator).await));
    out.push(("fetch rest".into(), c.command(&fetch, Expect::UntilTerminator).await));
    let mut close = vec![0x19];
    close.extend_from_slice(&id.to_le_bytes());
    c.io.send(0, &close).await.unwrap();
    // The message names the (server-wide) statement id: mask it like the id above.
    let mut closed = c.command(&execute(id, true, 0, b""), Expect::QueryResult).await;
    mask_statement_id(&mut closed);
    out.push(("execute closed".into(), closed));
    out.push((
        "field list".into(),
        c.command(b"\x04t\x00", Expect::UntilTerminator).await,
    ));
    out.push(("init db".into(), c.command(b"\x02mysql", Expect::OkOrErr).await));
    out.push(("bad init db".into(), c.command(b"\x02nope", Expect::OkOrErr).await));
    out.push(("ping".into(), c.command(&[0x0E], Expect::OkOrErr).await));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_byte_identical() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let direct = format!("127.0.0.1:{}", m.layout.port);
    let via = p.tcp_addr.unwrap().to_string();
    for deprecate_eof in [true, false] {
        let want = run_all(&direct, deprecate_eof).await;
        // The corpus exercises what it claims to (checked on mysqld's own answers).
        let by_name = |n: &str| &want.iter().find(|(s, _)| s == n).unwrap().1;
        assert_eq!(by_name("fetch 2")[4], 0x00, "cursor fetch returns binary rows");
        assert_ne!(by_name("execute after long data")[4], 0xFF, "long data accepted");
        assert!(by_name("execute after long data").windows(9).any(|w| w == b"long data"));
        assert_eq!(by_name("execute closed")[4], 0xFF, "closed statement is gone");
        let got = run_all(&via, deprecate_eof).await;
        assert_eq!(want.len(), got.len());
        for ((stmt, w), (_, g)) in want.iter().zip(&got) {
            assert!(
                w == g,
                "deprecate_eof={deprecate_eof} `{stmt}`:\n direct {w:?}\n proxy  {g:?}"
            );
        }
    }
    p.stop().await;
}
