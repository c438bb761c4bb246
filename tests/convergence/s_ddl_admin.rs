//! DDL (non-deterministic results, the session context that changes a DDL's result, DDL that
//! fails on the origin), the proxy's own schema and client privileges, and writes that bypass
//! the proxy.

use mysql_async::prelude::*;

use super::harness::*;

const T: &str = "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))";
const T_ROWS: &str = "INSERT INTO t VALUES (1, 'abcdef'), (2, 'b'), (3, 'c')";

pub fn all() -> Vec<Scenario> {
    vec![
        sc!("ddl", ctas_rand_now),
        sc!("ddl", ctas_deterministic_with_key),
        sc!("ddl", add_column_default_now6),
        sc!("ddl", add_column_auto_increment_unique),
        sc!("ddl", ddl_under_sql_mode),
        sc!("ddl", ddl_under_connection_charset),
        sc!("ddl", ddl_under_time_zone),
        sc!("ddl", ddl_under_session_timestamp),
        sc!("ddl", ddl_under_foreign_key_checks_0),
        sc!("ddl", ddl_under_default_storage_engine),
        sc!("ddl", failed_ddl_not_applied_elsewhere),
        sc!("ddl", create_table_like),
        sc!("ddl", rename_truncate_drop),
        sc!("privileges", ddl_denied_by_privileges_not_applied),
        sc!("privileges", grproxy_schema_writes_refused),
        sc!("privileges", client_without_grproxy_grants_writes),
        sc!("bypass", errant_write_reported, no_compare),
        sc!("bypass", errant_ddl_reported, no_compare),
    ]
}

async fn table_exists(cx: &Ctx<'_>, table: &str) -> Result<bool, String> {
    let v = cx
        .value_everywhere(&format!(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}'"
        ))
        .await?;
    Ok(v == "1")
}

/// Issue 10: `CREATE TABLE ... AS SELECT RAND(), NOW(6)` gave each member different values.
/// Refused with 3098 (CTAS is refused: docs/compatibility.md); the table exists nowhere.
async fn ctas_rand_now(cx: &Ctx<'_>) -> R {
    let sql = "CREATE TABLE c AS SELECT seq AS id, RAND() AS r, NOW(6) AS n, UUID() AS u FROM seq_1_to_5";
    let out = cx.e(0, sql).await;
    let ran = outcome(&out, sql, Outcome::Refused)?;
    ensure!(
        table_exists(cx, "c").await? == ran,
        "table c must exist everywhere iff the CTAS succeeded ({ran})"
    );
    if ran {
        cx.everywhere("SELECT COUNT(*), COUNT(DISTINCT u) FROM c", &["5\t5"])
            .await?;
    }
    Ok(())
}

async fn ctas_deterministic_with_key(cx: &Ctx<'_>) -> R {
    cx.setup(&[T, T_ROWS]).await?;
    let sql = "CREATE TABLE c (PRIMARY KEY (id)) AS SELECT id, s FROM t";
    let ran = outcome(&cx.e(1, sql).await, sql, Outcome::Refused)?;
    ensure!(
        table_exists(cx, "c").await? == ran,
        "table c exists iff the CTAS ran ({ran})"
    );
    if ran {
        cx.everywhere("SELECT id, s FROM c ORDER BY id", &["1\tabcdef", "2\tb", "3\tc"])
            .await?;
    }
    let sql = "CREATE TABLE c2 (id INT PRIMARY KEY, s VARCHAR(20)) SELECT id, s FROM t WHERE id > 1";
    let ran = outcome(&cx.e(2, sql).await, sql, Outcome::Refused)?;
    if ran {
        cx.everywhere("SELECT id, s FROM c2 ORDER BY id", &["2\tb", "3\tc"])
            .await?;
    }
    Ok(())
}

/// Issue 10: `ALTER TABLE ADD COLUMN c DATETIME(6) DEFAULT NOW(6)` filled existing rows with
/// each member's own time. NOW(6) runs with the origin's timestamp and is identical
/// everywhere; a UUID() default is refused with 3098.
async fn add_column_default_now6(cx: &Ctx<'_>) -> R {
    cx.setup(&[T, T_ROWS]).await?;
    let sql = "ALTER TABLE t ADD COLUMN c DATETIME(6) DEFAULT NOW(6)";
    if outcome(&cx.e(2, sql).await, sql, Outcome::Ran)? {
        cx.everywhere("SELECT COUNT(*), COUNT(c), COUNT(DISTINCT c) FROM t", &["3\t3\t1"])
            .await?;
    }
    let sql = "ALTER TABLE t ADD COLUMN u VARCHAR(36) DEFAULT UUID()";
    if outcome(&cx.e(1, sql).await, sql, Outcome::Refused)? {
        cx.everywhere("SELECT COUNT(DISTINCT u) FROM t", &["3"]).await?;
    }
    Ok(())
}

/// Issue 10: `ADD COLUMN ... AUTO_INCREMENT` numbered existing rows with each member's own
/// auto_increment_increment/offset. It runs and numbers the rows identically everywhere.
async fn add_column_auto_increment_unique(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, v INT)",
        "INSERT INTO t VALUES (10, 1), (20, 2), (30, 3)",
    ])
    .await?;
    let sql = "ALTER TABLE t ADD COLUMN id2 INT AUTO_INCREMENT UNIQUE";
    if outcome(&cx.e(0, sql).await, sql, Outcome::Ran)? {
        cx.same_everywhere("SELECT id, id2 FROM t ORDER BY id").await?;
        cx.e_ok(1, "INSERT INTO t (id, v) VALUES (40, 4)").await?;
        cx.everywhere("SELECT COUNT(DISTINCT id2) FROM t", &["4"]).await?;
    }
    Ok(())
}

/// Issue 10: DDL replayed its text without the session's sql_mode.
async fn ddl_under_sql_mode(cx: &Ctx<'_>) -> R {
    cx.setup(&[T, T_ROWS]).await?;
    cx.e_ok(
        0,
        r#"SET sql_mode = 'ANSI_QUOTES'; CREATE TABLE "q" ("id" INT PRIMARY KEY, "v" VARCHAR(10) DEFAULT 'dflt')"#,
    )
    .await?;
    cx.e_ok(
        1,
        "SET sql_mode = 'PIPES_AS_CONCAT'; CREATE TABLE g (id INT PRIMARY KEY, a VARCHAR(5), b VARCHAR(10) AS (a || 'x') STORED)",
    )
    .await?;
    cx.e_ok(2, "SET sql_mode = ''; ALTER TABLE t MODIFY s VARCHAR(2)")
        .await?;
    cx.setup(&["INSERT INTO q (id) VALUES (1)", "INSERT INTO g (id, a) VALUES (1, 'p')"])
        .await?;
    cx.everywhere("SELECT id, v FROM q", &["1\tdflt"]).await?;
    cx.everywhere("SELECT b FROM g", &["px"]).await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tab", "2\tb", "3\tc"])
        .await
}

/// Issue 10: DDL replayed its text without the session's character set.
async fn ddl_under_connection_charset(cx: &Ctx<'_>) -> R {
    let out = cx
        .run(
            0,
            cx.cli(0).charset("latin1").execute(
                b"CREATE TABLE d (id INT PRIMARY KEY, s VARCHAR(10) CHARACTER SET utf8mb4 DEFAULT '\xe9', c VARCHAR(10) COMMENT 'caf\xe9')"
                    .to_vec(),
            ),
        )
        .await;
    ok(&out, "latin1 CREATE TABLE")?;
    let out = cx
        .run(
            2,
            cx.cli(2).charset("gbk").execute(
                b"CREATE TABLE g (id INT PRIMARY KEY, s VARCHAR(10) CHARACTER SET utf8mb4 DEFAULT '\xdf\x5c')".to_vec(),
            ),
        )
        .await;
    ok(&out, "gbk CREATE TABLE")?;
    cx.setup(&["INSERT INTO d (id) VALUES (1)", "INSERT INTO g (id) VALUES (1)"])
        .await?;
    cx.everywhere("SELECT HEX(s) FROM d", &["C3A9"]).await?;
    cx.everywhere("SELECT HEX(s) FROM g", &["E9818B"]).await
}

/// Issue 10: DDL replayed without the session's time zone (TIMESTAMP defaults).
async fn ddl_under_time_zone(cx: &Ctx<'_>) -> R {
    cx.e_ok(
        1,
        "SET time_zone = '+05:00'; CREATE TABLE z (id INT PRIMARY KEY, ts TIMESTAMP NOT NULL DEFAULT '2024-01-01 05:00:00')",
    )
    .await?;
    cx.setup(&["INSERT INTO z (id) VALUES (1)"]).await?;
    cx.everywhere("SELECT UNIX_TIMESTAMP(ts) FROM z", &["1704067200"])
        .await?;
    cx.e_ok(
        2,
        "SET time_zone = '-03:00'; ALTER TABLE z ADD COLUMN ts2 TIMESTAMP NOT NULL DEFAULT '2024-01-01 00:00:00'",
    )
    .await?;
    cx.everywhere("SELECT UNIX_TIMESTAMP(ts2) FROM z", &["1704078000"])
        .await
}

/// Issue 10: DDL replayed without the session's timestamp.
async fn ddl_under_session_timestamp(cx: &Ctx<'_>) -> R {
    cx.setup(&[T, T_ROWS]).await?;
    cx.e_ok(
        0,
        "SET timestamp = 1000000000; SET time_zone = '+00:00'; ALTER TABLE t ADD COLUMN c DATETIME DEFAULT CURRENT_TIMESTAMP",
    )
    .await?;
    cx.everywhere(
        "SELECT COUNT(*), MIN(c), MAX(c) FROM t",
        &["3\t2001-09-09 01:46:40\t2001-09-09 01:46:40"],
    )
    .await
}

/// Issue 10: DDL replayed without the session's foreign_key_checks (replicated with it, or
/// refused with 3098).
async fn ddl_under_foreign_key_checks_0(cx: &Ctx<'_>) -> R {
    let sql = "SET foreign_key_checks = 0; \
               CREATE TABLE child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES parent (id)); \
               CREATE TABLE parent (id INT PRIMARY KEY)";
    if !outcome(&cx.e(2, sql).await, sql, Outcome::Ran)? {
        ensure!(
            !table_exists(cx, "child").await?,
            "child must not exist after the refusal"
        );
        return Ok(());
    }
    cx.e_ok(
        0,
        "SET foreign_key_checks = 0; DROP TABLE parent; CREATE TABLE parent (id INT PRIMARY KEY, x INT)",
    )
    .await?;
    cx.setup(&["INSERT INTO parent VALUES (1, 0)", "INSERT INTO child VALUES (1, 1)"])
        .await?;
    cx.everywhere("SELECT c.id, p.x FROM child c JOIN parent p ON p.id = c.pid", &["1\t0"])
        .await
}

/// Issue 10: DDL replayed without the session's default_storage_engine. Refused (3098): a
/// non-InnoDB table is refused where it would be made, and it exists nowhere.
async fn ddl_under_default_storage_engine(cx: &Ctx<'_>) -> R {
    let sql = "SET default_storage_engine = MyISAM; CREATE TABLE m (id INT PRIMARY KEY)";
    outcome(&cx.e(1, sql).await, sql, Outcome::Refused)?;
    ensure!(!table_exists(cx, "m").await?, "m must not exist after the refusal");
    Ok(())
}

/// Issue 10: a DDL that fails on the origin still ran on the others.
async fn failed_ddl_not_applied_elsewhere(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, v INT)",
        "INSERT INTO t VALUES (1, 1), (2, 1)",
        "CREATE TABLE t2 (id INT PRIMARY KEY)",
    ])
    .await?;
    for (m, sql, code) in [
        (0, "CREATE TABLE t (id INT PRIMARY KEY)", 1050),
        (1, "ALTER TABLE t DROP COLUMN nosuch", 1091),
        (2, "ALTER TABLE t ADD UNIQUE KEY uv (v), ADD COLUMN w INT", 1062),
        (0, "CREATE INDEX i ON nosuch (a)", 1146),
        (1, "RENAME TABLE t TO t3, nosuch TO t4", 1146),
    ] {
        failed_with(&cx.e(m, sql).await, code, sql)?;
        cx.converge().await?;
    }
    // MariaDB drops the tables that exist and reports the missing one: whatever the origin
    // did, every member must do.
    let sql = "DROP TABLE t2, nosuch";
    failed_with(&cx.e(2, sql).await, 1051, sql)?;
    cx.e_ok(1, "INSERT INTO t VALUES (3, 3)").await?;
    cx.everywhere("SELECT id, v FROM t ORDER BY id", &["1\t1", "2\t1", "3\t3"])
        .await?;
    ensure!(!table_exists(cx, "t3").await?, "t3 must not exist");
    Ok(())
}

/// Issue 10: `CREATE TABLE t2 LIKE t`.
async fn create_table_like(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, s VARCHAR(20) NOT NULL DEFAULT 'd', u INT, UNIQUE KEY (u), KEY (s))",
        "INSERT INTO t (s, u) VALUES ('a', 1), ('b', 2)",
    ])
    .await?;
    cx.e_ok(
        0,
        "CREATE TABLE t2 LIKE t; INSERT INTO t2 SELECT * FROM t; CREATE TABLE t3 LIKE t2",
    )
    .await?;
    cx.e_ok(2, "INSERT INTO t3 (u) VALUES (3)").await?;
    cx.everywhere("SELECT s, u FROM t2 ORDER BY u", &["a\t1", "b\t2"])
        .await?;
    cx.everywhere("SELECT s, u FROM t3", &["d\t3"]).await
}

async fn rename_truncate_drop(cx: &Ctx<'_>) -> R {
    cx.setup(&[T, T_ROWS]).await?;
    cx.e_ok(
        1,
        "RENAME TABLE t TO t_old; CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1); \
         TRUNCATE TABLE t_old; ALTER TABLE t_old ADD COLUMN x INT, ALGORITHM=INPLACE, LOCK=NONE",
    )
    .await?;
    cx.e_ok(
        2,
        "INSERT INTO t_old VALUES (9, 'after', 1); DROP TABLE IF EXISTS nosuch, t_old",
    )
    .await?;
    ensure!(!table_exists(cx, "t_old").await?, "t_old must be gone everywhere");
    cx.everywhere("SELECT id FROM t", &["1"]).await
}

/// A DDL the client has no privilege for fails on the origin and runs nowhere else (members
/// apply as a privileged user).
async fn ddl_denied_by_privileges_not_applied(cx: &Ctx<'_>) -> R {
    cx.setup(&[T, T_ROWS]).await?;
    let grant = format!("GRANT SELECT, INSERT, UPDATE, DELETE ON `{}`.* TO {{u}}", cx.db);
    cx.create_user(0, "cvr", "pw", &[&grant]).await?;
    for sql in [
        "DROP TABLE t",
        "ALTER TABLE t ADD COLUMN x INT",
        "CREATE TABLE t3 (id INT PRIMARY KEY)",
        "TRUNCATE TABLE t",
        "CREATE INDEX si ON t (s)",
    ] {
        let out = cx.run(0, cx.cli(0).user("cvr", "pw").execute(sql)).await;
        failed_with(&out, 1142, sql)?;
    }
    ensure!(!table_exists(cx, "t3").await?, "t3 must not exist");
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tabcdef", "2\tb", "3\tc"])
        .await?;
    let out = cx
        .run(0, cx.cli(0).user("cvr", "pw").execute("INSERT INTO t VALUES (4, 'ok')"))
        .await;
    ok(&out, "INSERT as cvr")?;
    cx.everywhere("SELECT id FROM t ORDER BY id", &["1", "2", "3", "4"])
        .await
}

/// Issue 10: clients could write `grproxy.applied` (and members then skipped entries). Writes to
/// `grproxy.*` through the proxy are refused; the group keeps replicating.
async fn grproxy_schema_writes_refused(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let state = "SELECT (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'grproxy'), \
                 (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'grproxy')";
    let before = cx.same_everywhere(state).await?;
    let schema_exists = before.first().is_some_and(|r| !r.starts_with('0'));
    let mut allowed = vec![REFUSED, 1142, 1044];
    if !schema_exists {
        allowed.extend([1008, 1049, 1146]);
    }
    for (m, sql) in [
        (0, "INSERT INTO grproxy.applied VALUES (9000000000)"),
        (1, "INSERT INTO grproxy.applied SELECT 9000000001"),
        (2, "REPLACE INTO grproxy.applied VALUES (9000000002)"),
        (0, "UPDATE grproxy.applied SET idx = idx + 9000000000"),
        (1, "DELETE FROM grproxy.applied"),
        (2, "TRUNCATE TABLE grproxy.applied"),
        (0, "CREATE TABLE grproxy.evil (id INT PRIMARY KEY)"),
        (1, "DROP TABLE grproxy.applied"),
        (2, "DROP DATABASE grproxy"),
        // Dynamic SQL names the schema in a string only: refused by the rows it wrote.
        (0, "EXECUTE IMMEDIATE 'INSERT INTO grproxy.applied VALUES (9000000004)'"),
        (1, "EXECUTE IMMEDIATE CONCAT('DELETE FROM grp', 'roxy.applied')"),
        (
            2,
            "PREPARE s FROM 'INSERT INTO grproxy.applied VALUES (9000000005)'; EXECUTE s",
        ),
    ] {
        let out = cx.run(m, cx.cli_nodb(m).execute(sql)).await;
        ensure!(
            out.code().is_some_and(|c| allowed.contains(&c)),
            "{sql} through member {m} must be refused (one of {allowed:?}): {}",
            out.describe()
        );
    }
    let mut c = cx.conn(1).await?;
    match cx
        .x(1, &mut c, "INSERT INTO grproxy.applied VALUES (?)", (9000000003u64,))
        .await
    {
        Err(e) if allowed.contains(&e.code) => {}
        other => {
            return Err(format!(
                "prepared INSERT INTO grproxy.applied must be refused, got {other:?}"
            ))
        }
    }
    let _ = c.disconnect().await;
    let after = cx.same_everywhere(state).await?;
    ensure!(after == before, "grproxy schema changed: {before:?} -> {after:?}");
    // Every later write still reaches every member.
    for m in 0..3 {
        for i in 0..3 {
            cx.e_ok(m, &format!("INSERT INTO t VALUES ({}, 'm{m}')", m * 10 + i))
                .await?;
        }
    }
    cx.everywhere("SELECT COUNT(*), SUM(id) FROM t", &["9\t99"]).await
}

/// Issue 10: clients needed INSERT on `grproxy.applied`. A user with privileges on its own
/// database only writes normally.
async fn client_without_grproxy_grants_writes(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let grant = format!("GRANT ALL ON `{}`.* TO {{u}}", cx.db);
    cx.create_user(0, "cvapp", "pw", &[&grant]).await?;
    let out = cx
        .run(
            0,
            cx.cli(0).user("cvapp", "pw").execute("INSERT INTO t VALUES (1, 'app')"),
        )
        .await;
    ok(&out, "autocommit INSERT as cvapp")?;
    let script = "BEGIN;\nUPDATE t SET s = 'app2' WHERE id = 1;\nINSERT INTO t VALUES (2, 'b');\nCOMMIT;\n";
    let out = cx.run(0, cx.cli(0).user("cvapp", "pw").stdin(script)).await;
    ok(&out, script)?;
    let opts = cx.opts(0).user(Some("cvapp")).pass(Some("pw"));
    let mut c = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| format!("mysql_async login as cvapp: {e}"))?;
    cx.x(0, &mut c, "INSERT INTO t VALUES (?, ?)", (3, "c"))
        .await
        .map_err(|e| e.to_string())?;
    let _ = c.disconnect().await;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tapp2", "2\tb", "3\tc"])
        .await
}

/// The value of `ERRANT_VARIABLE` in member `m`'s `SHOW GRPROXY STATUS`.
async fn errant_count(cx: &Ctx<'_>, m: usize) -> Result<u64, String> {
    let rows = cx.grproxy_status(m).await?;
    let found = rows.iter().find(|(k, _)| k == ERRANT_VARIABLE);
    match found {
        Some((_, v)) => v
            .trim()
            .parse()
            .map_err(|_| format!("{ERRANT_VARIABLE} = {v:?} is not a count")),
        None => Err(format!(
            "SHOW GRPROXY STATUS on member {m} has no {ERRANT_VARIABLE}: {:?}",
            rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>()
        )),
    }
}

/// Issue 10: a write straight to a member's mysqld (bypassing the proxy) is reported in
/// `SHOW GRPROXY STATUS` like an errant transaction. (Members differ on purpose here, so the
/// runner does not compare them; the errant row is removed again at the end.)
async fn errant_write_reported(cx: &Ctx<'_>) -> R {
    ensure!(!cx.baseline, "needs a group");
    cx.setup(&[T]).await?;
    let before = errant_count(cx, 2).await?;
    let mut d = cx.direct(2).await?;
    cx.note("mysqld of member 2 directly: INSERT INTO t VALUES (100, 'errant')");
    d.query_drop("INSERT INTO t VALUES (100, 'errant')")
        .await
        .map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut now = before;
    while now <= before && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        now = errant_count(cx, 2).await?;
    }
    cx.note("mysqld of member 2 directly: DELETE FROM t WHERE id = 100");
    let _ = d.query_drop("DELETE FROM t WHERE id = 100").await;
    let _ = d.disconnect().await;
    ensure!(
        now > before,
        "a write straight to member 2's mysqld was not reported: {ERRANT_VARIABLE} stayed {before}"
    );
    Ok(())
}

/// Waits up to `secs` for member `m`'s errant count to pass `before`; returns the last count.
async fn errant_count_above(cx: &Ctx<'_>, m: usize, before: u64, secs: u64) -> Result<u64, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut now = errant_count(cx, m).await?;
    while now <= before && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        now = errant_count(cx, m).await?;
    }
    Ok(now)
}

/// Issue 10: DDL straight to a member's mysqld is reported like an errant transaction, and
/// DDL and account statements through grproxy are not.
async fn errant_ddl_reported(cx: &Ctx<'_>) -> R {
    ensure!(!cx.baseline, "needs a group");
    cx.setup(&[T]).await?;
    let before = errant_count(cx, 2).await?;
    let sql = "CREATE TABLE via_proxy (id INT PRIMARY KEY); ALTER TABLE via_proxy ADD COLUMN v INT; \
               CREATE USER errant_probe@localhost; GRANT SELECT ON *.* TO errant_probe@localhost; \
               DROP USER errant_probe@localhost; DROP TABLE via_proxy";
    cx.e_ok(2, sql).await?;
    // Anything the tap would report has been read within this time.
    let after_proxy = errant_count_above(cx, 2, before, 2).await?;
    ensure!(
        after_proxy == before,
        "DDL through grproxy was reported as errant: {ERRANT_VARIABLE} went from {before} to {after_proxy}"
    );
    let mut d = cx.direct(2).await?;
    cx.note("mysqld of member 2 directly: CREATE TABLE errant_t (id INT PRIMARY KEY)");
    d.query_drop("CREATE TABLE errant_t (id INT PRIMARY KEY)")
        .await
        .map_err(|e| e.to_string())?;
    let now = errant_count_above(cx, 2, before, 10).await?;
    cx.note("mysqld of member 2 directly: DROP TABLE errant_t");
    let _ = d.query_drop("DROP TABLE errant_t").await;
    let _ = d.disconnect().await;
    ensure!(
        now > before,
        "DDL straight to member 2's mysqld was not reported: {ERRANT_VARIABLE} stayed {before}"
    );
    // An account statement straight to mysqld is reported the same way.
    let mut d = cx.direct(1).await?;
    let before = errant_count(cx, 1).await?;
    cx.note("mysqld of member 1 directly: CREATE USER errant_direct@localhost");
    d.query_drop("CREATE USER errant_direct@localhost")
        .await
        .map_err(|e| e.to_string())?;
    let now = errant_count_above(cx, 1, before, 10).await?;
    let _ = d.query_drop("DROP USER errant_direct@localhost").await;
    let _ = d.disconnect().await;
    ensure!(
        now > before,
        "CREATE USER straight to member 1's mysqld was not reported: {ERRANT_VARIABLE} stayed {before}"
    );
    Ok(())
}
