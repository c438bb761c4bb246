//! Entry paths (the first statement of a fresh connection, CLI `-e` and stdin, PyMySQL,
//! mysql_async pooled and prepared, COM_CHANGE_USER / COM_RESET_CONNECTION), `SET
//! autocommit` in all its spellings, implicit commits, and the diagnostics a client reads after
//! a write (ROW_COUNT(), SHOW WARNINGS, @@warning_count, LAST_INSERT_ID(), GET DIAGNOSTICS).

use super::cli::PyEnd;
use super::harness::*;

const T: &str = "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))";

pub fn all() -> Vec<Scenario> {
    vec![
        sc!("entry", first_insert_via_cli_e),
        sc!("entry", several_statements_in_one_e),
        sc!("entry", stdin_script_begin_commit),
        sc!("entry", stdin_script_begin_rollback),
        sc!("entry", fresh_connection_per_statement_on_every_member),
        sc!("entry", mysql_async_autocommit_and_prepared),
        sc!("entry", mysql_async_pool_reused_connections),
        sc!("entry", change_user_and_reset_connection),
        sc!("entry", pymysql_commit),
        sc!("entry", pymysql_close_without_commit),
        sc!("autocommit", set_autocommit_1_commits),
        sc!("autocommit", set_autocommit_on_commits),
        sc!("autocommit", set_autocommit_default_commits),
        sc!("autocommit", set_autocommit_param_commits),
        sc!("autocommit", autocommit_0_commit_then_disconnect),
        sc!("autocommit", implicit_commit_by_ddl),
        sc!("autocommit", begin_inside_transaction_commits),
        sc!("autocommit", read_only_transaction_refuses_write),
        sc!("autocommit", commit_and_chain),
        sc!("diagnostics", row_count_after_update_in_transaction),
        sc!("diagnostics", row_count_after_autocommit_writes),
        sc!("diagnostics", insert_ignore_show_warnings),
        sc!("diagnostics", insert_ignore_warning_count),
        sc!("diagnostics", last_insert_id_after_autocommit_insert),
        sc!("diagnostics", get_diagnostics_after_writes),
        sc!("diagnostics", truncation_warning_in_transaction),
        sc!("diagnostics", row_count_inside_later_statements),
        sc!("diagnostics", diagnostics_survive_set_names_and_sql_mode),
        sc!("diagnostics", row_count_inside_later_statements_driver),
        sc!("diagnostics", proxy_reads_leave_found_rows_and_row_count),
    ]
}

/// Issue 10: `mariadb -e "INSERT ..."` exits 0 and the row is on no member (the first
/// autocommit write of a fresh connection was taken as inside a transaction).
async fn first_insert_via_cli_e(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let sql = format!("INSERT INTO {}.t VALUES (1,'first')", cx.db);
    let out = cx.run(1, cx.cli_nodb(1).execute(sql.as_str())).await;
    ok(&out, &sql)?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tfirst"]).await
}

async fn several_statements_in_one_e(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let sql = "INSERT INTO t VALUES (1,'a'); INSERT INTO t VALUES (2,'b'),(3,'c'); SELECT ROW_COUNT()";
    let out = cx.e_ok(2, sql).await?;
    lines_are(&out, &["2"], sql)?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\ta", "2\tb", "3\tc"])
        .await
}

async fn stdin_script_begin_commit(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    cx.script_ok(
        0,
        "BEGIN;\nINSERT INTO t VALUES (1,'a');\nUPDATE t SET s = 'b' WHERE id = 1;\nINSERT INTO t VALUES (2,'c');\nCOMMIT;\n",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tb", "2\tc"])
        .await
}

async fn stdin_script_begin_rollback(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    cx.script_ok(
        1,
        "BEGIN;\nINSERT INTO t VALUES (1,'gone');\nROLLBACK;\nINSERT INTO t VALUES (2,'kept');\n",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["2\tkept"]).await
}

/// Many short-lived CLI connections on all three members at once.
async fn fresh_connection_per_statement_on_every_member(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let writer = |m: usize| async move {
        for i in 0..6 {
            let id = m * 100 + i;
            cx.e_ok(m, &format!("INSERT INTO t VALUES ({id}, 'm{m}')")).await?;
        }
        cx.e_ok(m, &format!("UPDATE t SET s = CONCAT(s, '!') WHERE id = {}", m * 100))
            .await?;
        Ok::<(), String>(())
    };
    let (a, b, c) = tokio::join!(writer(0), writer(1), writer(2));
    a?;
    b?;
    c?;
    cx.everywhere("SELECT COUNT(*), SUM(id), SUM(s LIKE '%!') FROM t", &["18\t1845\t3"])
        .await
}

/// The harness's own baseline: plain mysql_async statements (this passes on today's code).
async fn mysql_async_autocommit_and_prepared(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let mut c = cx.conn(1).await?;
    cx.q_ok(1, &mut c, "INSERT INTO t VALUES (1, 'text')").await?;
    cx.x(1, &mut c, "INSERT INTO t VALUES (?, ?)", (2, "prepared"))
        .await
        .map_err(|e| e.to_string())?;
    cx.x(1, &mut c, "UPDATE t SET s = ? WHERE id = ?", ("text2", 1))
        .await
        .map_err(|e| e.to_string())?;
    let _ = c.disconnect().await;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\ttext2", "2\tprepared"])
        .await
}

/// A pool hands out reused connections (reset with COM_RESET_CONNECTION between uses).
async fn mysql_async_pool_reused_connections(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let constraints = mysql_async::PoolConstraints::new(1, 2).unwrap();
    let opts = cx
        .opts(2)
        .pool_opts(mysql_async::PoolOpts::default().with_constraints(constraints));
    let pool = mysql_async::Pool::new(opts);
    for i in 0..12 {
        let mut c = pool.get_conn().await.map_err(|e| e.to_string())?;
        cx.x(2, &mut c, "INSERT INTO t VALUES (?, ?)", (i, format!("pool{i}")))
            .await
            .map_err(|e| e.to_string())?;
        if i % 3 == 0 {
            cx.q_ok(2, &mut c, "BEGIN").await?;
            cx.x(2, &mut c, "UPDATE t SET s = CONCAT(s, ?) WHERE id = ?", ("+", i))
                .await
                .map_err(|e| e.to_string())?;
            cx.q_ok(2, &mut c, "COMMIT").await?;
        }
    }
    pool.disconnect().await.map_err(|e| e.to_string())?;
    cx.everywhere("SELECT COUNT(*), SUM(s LIKE '%+') FROM t", &["12\t4"])
        .await
}

/// Issue 10: COM_CHANGE_USER (and COM_RESET_CONNECTION) reset the session's status flags;
/// the next autocommit write, the last thing before the client disconnects, must still be
/// committed everywhere.
async fn change_user_and_reset_connection(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    // Schema-qualified names, as in the issue: nothing else asks mysqld for the session state.
    let db = &cx.db;
    let mut c = cx.conn(0).await?;
    cx.note("member 0: COM_CHANGE_USER");
    c.change_user(Default::default())
        .await
        .map_err(|e| format!("change_user: {e}"))?;
    cx.q_ok(0, &mut c, &format!("INSERT INTO {db}.t VALUES (1, 'after cu')"))
        .await?;
    let _ = c.disconnect().await;
    let mut c = cx.conn(1).await?;
    cx.q_ok(1, &mut c, "BEGIN").await?;
    cx.q_ok(1, &mut c, &format!("INSERT INTO {db}.t VALUES (2, 'reset rollback')"))
        .await?;
    cx.note("member 1: COM_RESET_CONNECTION");
    c.reset().await.map_err(|e| format!("reset: {e}"))?;
    cx.q_ok(1, &mut c, &format!("INSERT INTO {db}.t VALUES (3, 'after reset')"))
        .await?;
    let _ = c.disconnect().await;
    let mut c = cx.conn(2).await?;
    cx.q_ok(2, &mut c, &format!("INSERT INTO {db}.t VALUES (4, 'before cu')"))
        .await?;
    c.change_user(Default::default())
        .await
        .map_err(|e| format!("change_user: {e}"))?;
    cx.x(
        2,
        &mut c,
        &format!("INSERT INTO {db}.t VALUES (?, ?)"),
        (5, "prepared after cu"),
    )
    .await
    .map_err(|e| e.to_string())?;
    let _ = c.disconnect().await;
    cx.everywhere(
        "SELECT id, s FROM t ORDER BY id",
        &["1\tafter cu", "3\tafter reset", "4\tbefore cu", "5\tprepared after cu"],
    )
    .await
}

/// PyMySQL (autocommit off by default): statements, then commit().
async fn pymysql_commit(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let py = cx
        .py(1)
        .statement("INSERT INTO t VALUES (1, 'py')")
        .statement("INSERT INTO t VALUES (2, 'py')")
        .statement("UPDATE t SET s = 'py2' WHERE id = 2");
    let out = cx.run_py(1, py).await;
    ensure!(
        out.ok() && out.stdout.contains("COMMITTED"),
        "PyMySQL run failed: {}",
        out.describe()
    );
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tpy", "2\tpy2"])
        .await
}

/// PyMySQL closes without commit(): nothing is written anywhere (not even on the origin).
async fn pymysql_close_without_commit(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let mut py = cx.py(2).statement("INSERT INTO t VALUES (1, 'uncommitted')");
    py.end = PyEnd::Close;
    let out = cx.run_py(2, py).await;
    ensure!(out.ok(), "PyMySQL run failed: {}", out.describe());
    let mut py = cx.py(2).statement("INSERT INTO t VALUES (2, 'rolled back')");
    py.end = PyEnd::Rollback;
    let out = cx.run_py(2, py).await;
    ensure!(out.ok(), "PyMySQL run failed: {}", out.describe());
    cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await
}

/// Issue 10: `SET autocommit=0; INSERT ...; SET autocommit=1` committed on the origin only.
async fn set_autocommit_1_commits(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    cx.e_ok(
        0,
        "SET autocommit=0; INSERT INTO t VALUES (1,'a'); UPDATE t SET s = 'b' WHERE id = 1; SET autocommit=1",
    )
    .await?;
    cx.e_ok(
        1,
        "SET autocommit=0; INSERT INTO t VALUES (2,'c'); SET @@autocommit = 1",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tb", "2\tc"])
        .await
}

async fn set_autocommit_on_commits(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    cx.e_ok(
        1,
        "SET autocommit=OFF; INSERT INTO t VALUES (1,'on'); SET autocommit=ON",
    )
    .await?;
    cx.e_ok(
        2,
        "SET SESSION autocommit=0; INSERT INTO t VALUES (2,'true'); SET SESSION autocommit = TRUE",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\ton", "2\ttrue"])
        .await
}

async fn set_autocommit_default_commits(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    cx.e_ok(
        2,
        "SET autocommit=0; INSERT INTO t VALUES (1,'default'); SET autocommit=DEFAULT",
    )
    .await?;
    cx.e_ok(
        0,
        "SET autocommit=0; INSERT INTO t VALUES (2,'session default'); SET @@session.autocommit = DEFAULT",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tdefault", "2\tsession default"])
        .await
}

/// `SET autocommit = ?` as a prepared statement with a parameter.
async fn set_autocommit_param_commits(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let mut c = cx.conn(1).await?;
    cx.q_ok(1, &mut c, "SET autocommit = 0").await?;
    cx.x(1, &mut c, "INSERT INTO t VALUES (?, ?)", (1, "param"))
        .await
        .map_err(|e| e.to_string())?;
    cx.x(1, &mut c, "SET autocommit = ?", (1,))
        .await
        .map_err(|e| e.to_string())?;
    let _ = c.disconnect().await;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tparam"]).await
}

/// `SET autocommit=0; INSERT; COMMIT; INSERT` then disconnect: the first row everywhere, the
/// second nowhere.
async fn autocommit_0_commit_then_disconnect(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    cx.e_ok(
        0,
        "SET autocommit=0; INSERT INTO t VALUES (1,'committed'); COMMIT; INSERT INTO t VALUES (2,'discarded')",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tcommitted"])
        .await
}

/// DDL commits the writes before it; under autocommit=0 the writes after it are discarded at
/// disconnect.
async fn implicit_commit_by_ddl(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    cx.script_ok(
        2,
        "SET autocommit=0;\nINSERT INTO t VALUES (1,'x');\nCREATE TABLE t2 (id INT PRIMARY KEY);\nINSERT INTO t VALUES (2,'y');\n",
    )
    .await?;
    cx.script_ok(
        1,
        "BEGIN;\nINSERT INTO t VALUES (3,'z');\nALTER TABLE t2 ADD COLUMN v INT;\nINSERT INTO t2 VALUES (1, 1);\nROLLBACK;\n",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tx", "3\tz"])
        .await?;
    // After the implicit commit the session is in autocommit mode again: the t2 insert is
    // committed, the ROLLBACK has nothing to undo.
    cx.everywhere("SELECT id, v FROM t2", &["1\t1"]).await
}

/// `BEGIN` inside a transaction commits it.
async fn begin_inside_transaction_commits(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    cx.e_ok(
        1,
        "BEGIN; INSERT INTO t VALUES (1,'first'); BEGIN; INSERT INTO t VALUES (2,'second'); ROLLBACK",
    )
    .await?;
    cx.e_ok(
        2,
        "START TRANSACTION; INSERT INTO t VALUES (3,'third'); START TRANSACTION WITH CONSISTENT SNAPSHOT; ROLLBACK",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tfirst", "3\tthird"])
        .await
}

/// A write in a READ ONLY transaction fails (mysqld's 1792, or the proxy's refusal 3098) and
/// leaves nothing anywhere.
async fn read_only_transaction_refuses_write(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let sql = "START TRANSACTION READ ONLY; INSERT INTO t VALUES (1,'ro')";
    let out = cx.e(0, sql).await;
    ensure!(
        matches!(out.code(), Some(1792) | Some(REFUSED)),
        "expected ERROR 1792 (or 3098) for {sql:?}, got {}",
        out.describe()
    );
    cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await
}

async fn commit_and_chain(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    cx.e_ok(
        2,
        "BEGIN; INSERT INTO t VALUES (1,'chained'); COMMIT AND CHAIN; INSERT INTO t VALUES (2,'rolled back'); ROLLBACK",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tchained"]).await
}

const TV: &str = "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(20))";
const TV_ROWS: &str = "INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c')";

/// Issue 10: after an UPDATE of 2 rows, `SELECT ROW_COUNT()` answered 0.
async fn row_count_after_update_in_transaction(cx: &Ctx<'_>) -> R {
    cx.setup(&[TV, TV_ROWS]).await?;
    let script = "BEGIN;\nUPDATE t SET v = v + 1 WHERE id IN (1, 2);\nSELECT ROW_COUNT();\nCOMMIT;\n";
    let out = cx.script_ok(1, script).await?;
    lines_are(&out, &["2"], script)?;
    cx.everywhere("SELECT id, v FROM t ORDER BY id", &["1\t11", "2\t21", "3\t30"])
        .await
}

async fn row_count_after_autocommit_writes(cx: &Ctx<'_>) -> R {
    cx.setup(&[TV, TV_ROWS]).await?;
    let sql = "UPDATE t SET v = 0 WHERE id <= 3; SELECT ROW_COUNT(); \
               DELETE FROM t WHERE id = 3; SELECT ROW_COUNT(); \
               INSERT INTO t VALUES (7, 7, 'g') ON DUPLICATE KEY UPDATE v = 8; SELECT ROW_COUNT(); \
               INSERT INTO t VALUES (1, 5, 'a') ON DUPLICATE KEY UPDATE v = 99; SELECT ROW_COUNT(); \
               UPDATE t SET v = 99 WHERE id = 1; SELECT ROW_COUNT()";
    let out = cx.e_ok(2, sql).await?;
    lines_are(&out, &["3", "1", "1", "2", "0"], sql)?;
    cx.everywhere("SELECT id, v FROM t ORDER BY id", &["1\t99", "2\t0", "7\t7"])
        .await
}

/// Issue 10: after `INSERT IGNORE` with a duplicate, `SHOW WARNINGS` was empty.
async fn insert_ignore_show_warnings(cx: &Ctx<'_>) -> R {
    cx.setup(&[TV, TV_ROWS]).await?;
    let sql = "INSERT IGNORE INTO t VALUES (1, 0, 'dup'), (5, 50, 'new'); SHOW WARNINGS";
    let out = cx.e_ok(0, sql).await?;
    let lines = out.lines();
    ensure!(
        lines.len() == 1 && lines[0].starts_with("Warning\t1062\tDuplicate entry '1'"),
        "SHOW WARNINGS after INSERT IGNORE with a duplicate: expected one 1062 warning, got {lines:?}"
    );
    cx.everywhere(
        "SELECT id, v, s FROM t ORDER BY id",
        &["1\t10\ta", "2\t20\tb", "3\t30\tc", "5\t50\tnew"],
    )
    .await
}

/// Issue 10: `@@warning_count` was 0 after `INSERT IGNORE` with a duplicate.
async fn insert_ignore_warning_count(cx: &Ctx<'_>) -> R {
    cx.setup(&[TV, TV_ROWS]).await?;
    let sql = "INSERT IGNORE INTO t VALUES (2, 0, 'dup'), (6, 60, 'new'); SELECT @@warning_count";
    let out = cx.e_ok(1, sql).await?;
    lines_are(&out, &["1"], sql)?;
    let script =
        "BEGIN;\nINSERT IGNORE INTO t VALUES (3, 0, 'dup'), (7, 70, 'new');\nSELECT @@warning_count;\nCOMMIT;\n";
    let out = cx.script_ok(2, script).await?;
    lines_are(&out, &["1"], script)?;
    cx.everywhere(
        "SELECT id, v FROM t ORDER BY id",
        &["1\t10", "2\t20", "3\t30", "6\t60", "7\t70"],
    )
    .await
}

async fn last_insert_id_after_autocommit_insert(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE a (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))"])
        .await?;
    let sql = "INSERT INTO a (v) VALUES ('x'); SELECT LAST_INSERT_ID()";
    let out = cx.e_ok(2, sql).await?;
    let first = out.lines().first().cloned().unwrap_or_default();
    ensure!(
        first.parse::<u64>().is_ok_and(|n| n > 0),
        "LAST_INSERT_ID() = {first:?}"
    );
    let sql = "INSERT INTO a (v) VALUES ('y'), ('z'); SELECT LAST_INSERT_ID(), ROW_COUNT()";
    let out = cx.e_ok(1, sql).await?;
    let second = out.lines().first().cloned().unwrap_or_default();
    let (second_id, count) = second.split_once('\t').unwrap_or(("", ""));
    ensure!(count == "2", "ROW_COUNT() after a 2-row insert: {second:?}");
    let script = "BEGIN;\nINSERT INTO a (v) VALUES ('w');\nCOMMIT;\nSELECT LAST_INSERT_ID();\n";
    let out = cx.script_ok(0, script).await?;
    let third = out.lines().first().cloned().unwrap_or_default();
    cx.everywhere(&format!("SELECT v FROM a WHERE id = {first}"), &["x"])
        .await?;
    cx.everywhere(&format!("SELECT v FROM a WHERE id = {second_id}"), &["y"])
        .await?;
    cx.everywhere(&format!("SELECT v FROM a WHERE id = {third}"), &["w"])
        .await?;
    cx.everywhere("SELECT COUNT(*) FROM a", &["4"]).await
}

async fn get_diagnostics_after_writes(cx: &Ctx<'_>) -> R {
    cx.setup(&[TV, TV_ROWS]).await?;
    let sql = "INSERT IGNORE INTO t VALUES (1, 0, 'dup'); GET DIAGNOSTICS @n = NUMBER; \
               GET DIAGNOSTICS CONDITION 1 @e = MYSQL_ERRNO; SELECT @n, @e";
    let out = cx.e_ok(0, sql).await?;
    lines_are(&out, &["1\t1062"], sql)?;
    let sql = "UPDATE t SET s = 'z' WHERE id IN (1, 2); GET DIAGNOSTICS @rc = ROW_COUNT; SELECT @rc";
    let out = cx.e_ok(1, sql).await?;
    lines_are(&out, &["2"], sql)?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tz", "2\tz", "3\tc"])
        .await
}

async fn truncation_warning_in_transaction(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(5))"]).await?;
    let script = "SET sql_mode = '';\nBEGIN;\nINSERT INTO t VALUES (1, 'toolongvalue');\nSHOW WARNINGS;\nSELECT @@warning_count;\nCOMMIT;\n";
    let out = cx.script_ok(2, script).await?;
    let lines = out.lines();
    ensure!(
        lines.len() == 2 && lines[0].starts_with("Warning\t1265\t") && lines[1] == "1",
        "expected the 1265 truncation warning and a count of 1, got {lines:?}"
    );
    cx.everywhere("SELECT id, s FROM t", &["1\ttoolo"]).await
}

/// `ROW_COUNT()` after an autocommit write, read inside the next statement rather than by a
/// `SELECT` of its own: the value written and assigned is the write's row count.
async fn row_count_inside_later_statements(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        TV,
        TV_ROWS,
        "CREATE TABLE log (seq INT AUTO_INCREMENT PRIMARY KEY, n INT)",
    ])
    .await?;
    let sql = "UPDATE t SET v = 0 WHERE id <= 2; INSERT INTO log (n) VALUES (ROW_COUNT()); \
               DELETE FROM t WHERE id = 3; SET @rc = ROW_COUNT(); SELECT @rc";
    let out = cx.e_ok(1, sql).await?;
    lines_are(&out, &["1"], sql)?;
    cx.everywhere("SELECT n FROM log ORDER BY seq", &["2"]).await
}

/// The proxy reads the session's sql_mode and character set after `SET NAMES` / `SET
/// sql_mode`, on the client's connection; that read must not replace what `ROW_COUNT()`,
/// `FOUND_ROWS()` and `SHOW WARNINGS` return for the client's next statement.
async fn diagnostics_survive_set_names_and_sql_mode(cx: &Ctx<'_>) -> R {
    cx.setup(&[TV, TV_ROWS]).await?;
    let sql = "SELECT SQL_CALC_FOUND_ROWS id FROM t ORDER BY id LIMIT 1; SET NAMES latin1; \
               SELECT FOUND_ROWS(), ROW_COUNT()";
    let out = cx.e_ok(0, sql).await?;
    lines_are(&out, &["1", "3\t0"], sql)?;
    let sql = "SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES'); SELECT ROW_COUNT(); \
               INSERT INTO t VALUES (4, 40, \"d\")";
    // Under ANSI_QUOTES "d" names a column: the insert fails as it does on mysqld.
    let out = cx.e(2, sql).await;
    ensure!(
        out.stdout.lines().next() == Some("0") && out.stderr.contains("1054"),
        "{sql}: expected ROW_COUNT() 0 then error 1054, got {out:?}"
    );
    cx.everywhere("SELECT COUNT(*) FROM t", &["3"]).await
}

/// As `row_count_inside_later_statements`, through a driver (mysql_async, autocommit): the
/// autocommit write's `ROW_COUNT()` inside an expression, an INSERT's values and a `SET`, after
/// text and prepared writes. Expected values are mysqld's own (`CONVERGENCE_BASELINE=1`).
async fn row_count_inside_later_statements_driver(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        TV,
        TV_ROWS,
        "CREATE TABLE log (seq INT AUTO_INCREMENT PRIMARY KEY, n INT)",
    ])
    .await?;
    let mut c = cx.conn(1).await?;
    let mut got = Vec::new();
    cx.q_ok(1, &mut c, "UPDATE t SET v = v + 1 WHERE id <= 2").await?;
    got.extend(cx.q_ok(1, &mut c, "SELECT ROW_COUNT() + 1").await?);
    cx.q_ok(1, &mut c, "UPDATE t SET v = v + 1 WHERE id <= 3").await?;
    cx.q_ok(1, &mut c, "INSERT INTO log (n) VALUES (ROW_COUNT())").await?;
    cx.q_ok(1, &mut c, "DELETE FROM t WHERE id = 3").await?;
    cx.q_ok(1, &mut c, "SET @r = ROW_COUNT()").await?;
    got.extend(cx.q_ok(1, &mut c, "SELECT @r").await?);
    cx.x(1, &mut c, "UPDATE t SET v = v + ? WHERE id <= 2", (1,))
        .await
        .map_err(|e| e.to_string())?;
    got.extend(cx.q_ok(1, &mut c, "SELECT ROW_COUNT() AS rc, 'x'").await?);
    cx.x(1, &mut c, "INSERT INTO log (n) VALUES (?), (?)", (7, 8))
        .await
        .map_err(|e| e.to_string())?;
    cx.x(1, &mut c, "INSERT INTO log (n) VALUES (ROW_COUNT())", ())
        .await
        .map_err(|e| e.to_string())?;
    let _ = c.disconnect().await;
    ensure!(
        got == ["3", "1", "2\tx"],
        "ROW_COUNT() after autocommit writes through a driver: got {got:?}, expected [3, 1, 2 x] (mysqld's)"
    );
    cx.everywhere("SELECT n FROM log ORDER BY seq", &["3", "7", "8", "2"])
        .await
}

/// The proxy's own reads on the client's connection (the sql_mode and character set after
/// `SET NAMES` / `SET sql_mode`, the default schema after database DDL or
/// COM_RESET_CONNECTION) must not change what `FOUND_ROWS()` and `ROW_COUNT()` return to the
/// client's next statement, also when that statement needs them (it has a quote, or it is a
/// write). Expected values are mysqld's own (`CONVERGENCE_BASELINE=1`).
async fn proxy_reads_leave_found_rows_and_row_count(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        TV,
        TV_ROWS,
        "CREATE TABLE log (seq INT AUTO_INCREMENT PRIMARY KEY, a BIGINT, b BIGINT)",
    ])
    .await?;
    let sql = "SELECT SQL_CALC_FOUND_ROWS id FROM t ORDER BY id LIMIT 1; SET NAMES latin1; \
               SELECT FOUND_ROWS(), ROW_COUNT(), 'x'";
    let out = cx.e_ok(0, sql).await?;
    lines_are(&out, &["1", "3\t0\tx"], sql)?;
    let sql = "SELECT SQL_CALC_FOUND_ROWS id FROM t ORDER BY id LIMIT 2; \
               SET sql_mode = CONCAT(@@sql_mode, ''); INSERT INTO log (a, b) VALUES (FOUND_ROWS(), ROW_COUNT())";
    cx.e_ok(1, sql).await?;
    let other = format!("{}_other", cx.db);
    let sql = format!(
        "CREATE DATABASE {other}; SELECT SQL_CALC_FOUND_ROWS id FROM t ORDER BY id LIMIT 1; \
         DROP DATABASE {other}; INSERT INTO log (a, b) VALUES (FOUND_ROWS(), ROW_COUNT()); SELECT DATABASE()"
    );
    let out = cx.e_ok(2, &sql).await?;
    lines_are(&out, &["1", &cx.db], &sql)?;
    let mut c = cx.conn(1).await?;
    cx.q_ok(1, &mut c, "SELECT SQL_CALC_FOUND_ROWS id FROM t ORDER BY id LIMIT 1")
        .await?;
    c.reset().await.map_err(|e| format!("reset: {e}"))?;
    cx.q_ok(1, &mut c, "INSERT INTO log (a, b) VALUES (FOUND_ROWS(), ROW_COUNT())")
        .await?;
    let db = cx.q_ok(1, &mut c, "SELECT DATABASE()").await?;
    let _ = c.disconnect().await;
    ensure!(
        db == [cx.db.clone()],
        "the default schema after COM_RESET_CONNECTION: {db:?}"
    );
    cx.everywhere("SELECT a, b FROM log ORDER BY seq", &["3\t0", "3\t0", "3\t0"])
        .await
}
