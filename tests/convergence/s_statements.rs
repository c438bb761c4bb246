//! Transaction semantics (CHECKSUM TABLE, LOCK TABLES, refused and failed statements inside a
//! transaction, savepoints), client XA, and writes that reach mysqld through something other
//! than a plain DML statement: SQL PREPARE/EXECUTE, EXECUTE IMMEDIATE, stored functions,
//! CALL, RETURNING, triggers, multi-statement packets, views, multi-table
//! statements, LOAD DATA.

use super::harness::*;

const T: &str = "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))";

pub fn all() -> Vec<Scenario> {
    vec![
        sc!("transactions", checksum_table_inside_transaction),
        sc!("transactions", lock_tables_write_then_insert),
        sc!("transactions", refused_statement_keeps_transaction_rollback),
        sc!("transactions", refused_statement_keeps_transaction_commit),
        sc!("transactions", savepoint_rollback_to_then_commit),
        sc!("transactions", failed_statement_keeps_transaction),
        sc!("transactions", failed_autocommit_statement_leaves_nothing),
        sc!("transactions", serializable_transaction_commits),
        sc!("xa", client_xa_refused_via_cli),
        sc!("xa", client_xa_refused_session_stays_usable),
        sc!("programs", sql_prepare_execute),
        sc!("programs", sql_prepare_execute_in_transaction),
        sc!("programs", execute_immediate),
        sc!("programs", stored_function_via_select),
        sc!("programs", stored_function_inside_insert),
        sc!("programs", stored_function_via_do_and_set),
        sc!("programs", call_procedure_that_writes),
        sc!("programs", insert_delete_replace_returning),
        sc!("programs", trigger_writes_another_table),
        sc!("programs", routines_created_through_proxy),
        sc!("multi-statement", multi_statement_packet_writes),
        sc!("multi-statement", multi_statement_pymysql),
        sc!("statements", write_through_updatable_view),
        sc!("statements", multi_table_update_and_delete),
        sc!("statements", load_data_local_infile),
    ]
}

/// Issue 10: `CHECKSUM TABLE` inside a transaction committed it.
async fn checksum_table_inside_transaction(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let script = "BEGIN;\nINSERT INTO t VALUES (1,'x');\nCHECKSUM TABLE t;\nROLLBACK;\nSELECT COUNT(*) FROM t;\n";
    let out = cx.script_ok(0, script).await?;
    let lines = out.lines();
    ensure!(
        lines.last().map(String::as_str) == Some("0"),
        "the ROLLBACK after CHECKSUM TABLE must undo the insert on the origin: {lines:?}"
    );
    cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await
}

/// Issue 10: the proxy's own `START TRANSACTION` dropped a client's `LOCK TABLES`. Either the
/// writes replicate and the table stays locked until UNLOCK TABLES (another session on the
/// same member waits for it); here LOCK TABLES is refused with 3098 (docs/compatibility.md):
/// never local-only.
async fn lock_tables_write_then_insert(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let sql = "LOCK TABLES t WRITE; INSERT INTO t VALUES (1,'locked'); DO SLEEP(2.5); \
               UPDATE t SET s = 'locked2' WHERE id = 1; UNLOCK TABLES";
    let probe = "SET SESSION lock_wait_timeout = 1; SELECT COUNT(*) FROM t";
    let (out, other) = tokio::join!(cx.e(1, sql), async {
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        cx.e(1, probe).await
    });
    if outcome(&out, sql, Outcome::Refused)? {
        ensure!(
            other.code() == Some(1205),
            "while LOCK TABLES t WRITE is held, another session's read of t must wait (and time out \
             with 1205): {}",
            other.describe()
        );
        cx.everywhere("SELECT id, s FROM t", &["1\tlocked2"]).await
    } else {
        cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await
    }
}

fn refusal_setup() -> [&'static str; 4] {
    [
        T,
        "CREATE TABLE nopk (a INT)",
        "CREATE TABLE u (id INT PRIMARY KEY, v INT NOT NULL)",
        "INSERT INTO u VALUES (1, 0), (2, 0)",
    ]
}

/// Issue 10: after a refused statement the transaction was gone and the client's later
/// ROLLBACK undid nothing (the next statement even autocommitted). Line 3 is always refused
/// (no primary key); line 5 is either replicated or refused, and must leave the transaction
/// as it was either way.
async fn refused_statement_keeps_transaction_rollback(cx: &Ctx<'_>) -> R {
    cx.setup(&refusal_setup()).await?;
    let script = "BEGIN;\nINSERT INTO t VALUES (1,'a');\nINSERT INTO nopk VALUES (1);\nSET sql_select_limit = 1;\n\
                  UPDATE u SET v = v + 1;\nSET sql_select_limit = DEFAULT;\nINSERT INTO t VALUES (2,'b');\nROLLBACK;\n\
                  SELECT COUNT(*) FROM t;\n";
    let out = cx.run(2, cx.cli(2).arg("--force").stdin(script)).await;
    ensure!(
        out.errors
            .first()
            .is_some_and(|e| e.code == REFUSED && e.line == Some(3))
            && out
                .errors
                .iter()
                .all(|e| e.code == REFUSED && matches!(e.line, Some(3) | Some(5))),
        "expected ERROR 3098 at line 3 (and possibly at line 5) only: {}",
        out.describe()
    );
    lines_are(&out, &["0"], script)?;
    cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await?;
    cx.everywhere("SELECT COUNT(*) FROM nopk", &["0"]).await?;
    cx.everywhere("SELECT SUM(v) FROM u", &["0"]).await
}

/// The same, ending in COMMIT: both inserts are committed everywhere (or, if the refusal
/// comes at COMMIT, nothing is).
async fn refused_statement_keeps_transaction_commit(cx: &Ctx<'_>) -> R {
    cx.setup(&refusal_setup()).await?;
    let script = "BEGIN;\nINSERT INTO t VALUES (1,'a');\nINSERT INTO nopk VALUES (1);\nSET sql_select_limit = 1;\n\
                  UPDATE u SET v = v + 1;\nSET sql_select_limit = DEFAULT;\nINSERT INTO t VALUES (2,'b');\nCOMMIT;\n";
    let out = cx.run(0, cx.cli(0).arg("--force").stdin(script)).await;
    ensure!(
        !out.errors.is_empty() && out.errors.iter().all(|e| e.code == REFUSED),
        "expected ERROR 3098: {}",
        out.describe()
    );
    let at_commit = out.errors.iter().any(|e| e.line == Some(8));
    let update_refused = out.errors.iter().any(|e| e.line == Some(5));
    if at_commit {
        cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await?;
        cx.everywhere("SELECT SUM(v) FROM u", &["0"]).await?;
    } else {
        cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\ta", "2\tb"])
            .await?;
        cx.everywhere("SELECT SUM(v) FROM u", &[if update_refused { "0" } else { "2" }])
            .await?;
    }
    cx.everywhere("SELECT COUNT(*) FROM nopk", &["0"]).await
}

/// `ROLLBACK TO SAVEPOINT` undoes the writes after the savepoint, everywhere (it runs: the
/// row events after the rollback are the transaction's).
async fn savepoint_rollback_to_then_commit(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let sql = "BEGIN; INSERT INTO t VALUES (1,'kept'); SAVEPOINT a; INSERT INTO t VALUES (2,'undone'); \
               UPDATE t SET s = 'undone' WHERE id = 1; ROLLBACK TO SAVEPOINT a; INSERT INTO t VALUES (3,'after'); COMMIT";
    let out = cx.e(1, sql).await;
    if outcome(&out, sql, Outcome::Ran)? {
        cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tkept", "3\tafter"])
            .await
    } else {
        cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await
    }
}

/// A failing statement (duplicate key) does not end the transaction.
async fn failed_statement_keeps_transaction(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let script = "BEGIN;\nINSERT INTO t VALUES (1,'a');\nINSERT INTO t VALUES (1,'dup');\nINSERT INTO t VALUES (2,'b');\nCOMMIT;\n";
    let out = cx.run(2, cx.cli(2).arg("--force").stdin(script)).await;
    ensure!(
        out.errors.len() == 1 && out.errors[0].code == 1062,
        "expected exactly ERROR 1062: {}",
        out.describe()
    );
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\ta", "2\tb"])
        .await
}

async fn failed_autocommit_statement_leaves_nothing(cx: &Ctx<'_>) -> R {
    cx.setup(&[T, "INSERT INTO t VALUES (1,'a'), (2,'b')"]).await?;
    let sql = "INSERT INTO t VALUES (5,'x'), (5,'y')";
    failed_with(&cx.e(0, sql).await, 1062, sql)?;
    let sql = "UPDATE t SET id = 1, s = 'moved' WHERE id = 2";
    failed_with(&cx.e(1, sql).await, 1062, sql)?;
    let sql = "INSERT INTO t SELECT id + 10, s FROM t UNION ALL SELECT 11, 'again'";
    failed_with(&cx.e(2, sql).await, 1062, sql)?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\ta", "2\tb"])
        .await
}

async fn serializable_transaction_commits(cx: &Ctx<'_>) -> R {
    cx.setup(&[T, "INSERT INTO t VALUES (1,'a')"]).await?;
    let script = "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nBEGIN;\nSELECT COUNT(*) FROM t;\n\
                  INSERT INTO t VALUES (2,'ser');\nCOMMIT;\nSET TRANSACTION ISOLATION LEVEL READ COMMITTED;\n\
                  START TRANSACTION;\nUPDATE t SET s = 'rc' WHERE id = 1;\nCOMMIT;\n";
    cx.script_ok(0, script).await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\trc", "2\tser"])
        .await
}

/// `XA RECOVER` on every member must not list the client's xid.
async fn no_prepared_xid(cx: &Ctx<'_>, xid: &str) -> R {
    cx.converge().await?;
    for m in cx.checked_members() {
        let rows = cx.rows(m, "XA RECOVER").await?;
        ensure!(
            !rows.iter().any(|r| r.contains(xid)),
            "member {m} holds the client's XA transaction {xid}: {rows:?}"
        );
    }
    Ok(())
}

/// Client XA is refused with 3098 and leaves nothing behind.
async fn client_xa_refused_via_cli(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let sql = "XA START 'cvxa'; INSERT INTO t VALUES (1,'xa'); XA END 'cvxa'; XA PREPARE 'cvxa'; XA COMMIT 'cvxa'";
    let out = cx.e(2, sql).await;
    failed_with(&out, REFUSED, sql)?;
    ensure!(
        out.errors[0].sqlstate == "HY000",
        "3098 with SQLSTATE HY000: {}",
        out.describe()
    );
    cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await?;
    no_prepared_xid(cx, "cvxa").await
}

async fn client_xa_refused_session_stays_usable(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let mut c = cx.conn(0).await?;
    match cx.qd(0, &mut c, "XA BEGIN 'cvxa2'").await {
        Err(e) if e.code == REFUSED => {}
        other => return Err(format!("XA BEGIN: expected ERROR 3098, got {other:?}")),
    }
    cx.q_ok(0, &mut c, "INSERT INTO t VALUES (1,'after xa')").await?;
    match cx.qd(0, &mut c, "XA END 'cvxa2'").await {
        Err(e) if e.code != 0 => {}
        other => return Err(format!("XA END without XA START must fail, got {other:?}")),
    }
    cx.q_ok(0, &mut c, "INSERT INTO t VALUES (2,'still usable')").await?;
    let _ = c.disconnect().await;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tafter xa", "2\tstill usable"])
        .await?;
    no_prepared_xid(cx, "cvxa2").await
}

/// Issue 10: writes through SQL `PREPARE`/`EXECUTE` never reached replication.
async fn sql_prepare_execute(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    cx.e_ok(
        1,
        "PREPARE s FROM 'INSERT INTO t VALUES (?, ?)'; SET @a = 1, @b = 'one'; EXECUTE s USING @a, @b; \
         SET @a = 2, @b = 'two'; EXECUTE s USING @a, @b; DEALLOCATE PREPARE s; \
         PREPARE u FROM 'UPDATE t SET s = CONCAT(s, ?) WHERE id = ?'; EXECUTE u USING '!', 1",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tone!", "2\ttwo"])
        .await
}

async fn sql_prepare_execute_in_transaction(cx: &Ctx<'_>) -> R {
    cx.setup(&[T, "INSERT INTO t VALUES (1,'a'), (2,'b')"]).await?;
    cx.script_ok(
        2,
        "BEGIN;\nPREPARE d FROM 'DELETE FROM t WHERE id = ?';\nEXECUTE d USING 2;\n\
         PREPARE i FROM 'INSERT INTO t VALUES (3, ''three'')';\nEXECUTE i;\nCOMMIT;\n",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\ta", "3\tthree"])
        .await
}

/// Issue 10: `EXECUTE IMMEDIATE` writes never reached replication.
async fn execute_immediate(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    cx.e_ok(
        0,
        "EXECUTE IMMEDIATE 'INSERT INTO t VALUES (1, ''imm'')'; \
         EXECUTE IMMEDIATE CONCAT('UPDATE t SET s = ''x'' WHERE id = ', 1); \
         EXECUTE IMMEDIATE 'INSERT INTO t VALUES (?, ?)' USING 2, 'two'",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tx", "2\ttwo"])
        .await
}

/// Tables through the group; the function straight on every mysqld (creating routines through
/// the proxy is `routines_created_through_proxy`).
async fn function_setup(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(20))",
        "CREATE TABLE t (id INT PRIMARY KEY, r INT)",
    ])
    .await?;
    cx.setup_on_every_mysqld(&[
        "CREATE FUNCTION f_log(n VARCHAR(20)) RETURNS INT DETERMINISTIC MODIFIES SQL DATA \
         BEGIN INSERT INTO log (note) VALUES (n); RETURN 7; END",
    ])
    .await
}

/// Issue 10: a stored function that writes, called by `SELECT f()`.
async fn stored_function_via_select(cx: &Ctx<'_>) -> R {
    function_setup(cx).await?;
    let sql = "SELECT f_log('via select')";
    let out = cx.e_ok(1, sql).await?;
    lines_are(&out, &["7"], sql)?;
    cx.everywhere("SELECT note FROM log ORDER BY id", &["via select"]).await
}

/// Issue 10: a stored function that writes, called inside an INSERT.
async fn stored_function_inside_insert(cx: &Ctx<'_>) -> R {
    function_setup(cx).await?;
    cx.e_ok(
        2,
        "INSERT INTO t VALUES (1, f_log('via insert')); UPDATE t SET r = f_log('via update') + 1 WHERE id = 1",
    )
    .await?;
    cx.everywhere("SELECT id, r FROM t", &["1\t8"]).await?;
    cx.everywhere("SELECT note FROM log ORDER BY id", &["via insert", "via update"])
        .await
}

async fn stored_function_via_do_and_set(cx: &Ctx<'_>) -> R {
    function_setup(cx).await?;
    cx.e_ok(
        0,
        "DO f_log('do'); SET @x = f_log('set'); SELECT f_log('select into') INTO @y",
    )
    .await?;
    cx.everywhere("SELECT note FROM log ORDER BY id", &["do", "set", "select into"])
        .await
}

/// `CALL` of a procedure that writes: replicated (row events), the same everywhere.
async fn call_procedure_that_writes(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))"])
        .await?;
    cx.setup_on_every_mysqld(&[
        "CREATE PROCEDURE p(IN n INT) BEGIN INSERT INTO t VALUES (n, 'p'); UPDATE t SET s = 'pp' WHERE id = n; END",
    ])
    .await?;
    let sql = "CALL p(5)";
    let out = cx.e(1, sql).await;
    if outcome(&out, sql, Outcome::Ran)? {
        cx.everywhere("SELECT id, s FROM t", &["5\tpp"]).await
    } else {
        cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await
    }
}

/// Issue 10: `INSERT ... RETURNING` never reached replication.
async fn insert_delete_replace_returning(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE a (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))"])
        .await?;
    let sql = "INSERT INTO a (v) VALUES ('r1'), ('r2') RETURNING id, v";
    let out = cx.e_ok(2, sql).await?;
    let returned = out.lines();
    ensure!(returned.len() == 2, "RETURNING rows: {returned:?}");
    let expected: Vec<&str> = returned.iter().map(String::as_str).collect();
    cx.everywhere("SELECT id, v FROM a ORDER BY id", &expected).await?;
    let id2 = returned[1].split('\t').next().unwrap_or("0").to_string();
    let sql =
        format!("DELETE FROM a WHERE v = 'r1' RETURNING v; REPLACE INTO a (id, v) VALUES ({id2}, 'r2b') RETURNING v");
    let out = cx.e_ok(0, &sql).await?;
    lines_are(&out, &["r1", "r2b"], &sql)?;
    cx.everywhere("SELECT id, v FROM a ORDER BY id", &[&format!("{id2}\tr2b")])
        .await
}

/// Triggers' own writes are what mysqld changed: they replicate with the statement.
async fn trigger_writes_another_table(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        T,
        "CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, tid INT, what VARCHAR(10))",
        "CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (tid, what) VALUES (NEW.id, 'ins')",
        "CREATE TRIGGER t_au AFTER UPDATE ON t FOR EACH ROW INSERT INTO audit (tid, what) VALUES (NEW.id, 'upd')",
    ])
    .await?;
    cx.e_ok(1, "INSERT INTO t VALUES (1, 'a'); UPDATE t SET s = 'b' WHERE id = 1")
        .await?;
    cx.everywhere("SELECT id, s FROM t", &["1\tb"]).await?;
    cx.everywhere("SELECT tid, what FROM audit ORDER BY id", &["1\tins", "1\tupd"])
        .await
}

/// Issue 10: statements after the first in a multi-statement packet never reached replication.
async fn multi_statement_packet_writes(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let mut c = cx.conn(2).await?;
    for sql in [
        "SELECT 1; INSERT INTO t VALUES (1, 'second')",
        "SET @v = 'y'; UPDATE t SET s = @v WHERE id = 1; INSERT INTO t VALUES (2, 'z')",
    ] {
        cx.qd(2, &mut c, sql).await.map_err(|e| format!("{sql}: {e}"))?;
    }
    // Transaction control inside one packet: replicated, or refused as a whole with 3098.
    let sql = "BEGIN; INSERT INTO t VALUES (3, 'txn'); COMMIT";
    let txn_ran = match cx.qd(2, &mut c, sql).await {
        Ok(()) => true,
        Err(e) if e.code == REFUSED => false,
        Err(e) => return Err(format!("{sql}: {e}")),
    };
    let _ = c.disconnect().await;
    let mut expected = vec!["1\ty", "2\tz"];
    if txn_ran {
        expected.push("3\ttxn");
    }
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &expected).await
}

async fn multi_statement_pymysql(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let mut py = cx.py(0).statement(
        "INSERT INTO t VALUES (4, 'py'); UPDATE t SET s = 'py2' WHERE id = 4; INSERT INTO t VALUES (5, 'py')",
    );
    py.multi_statements = true;
    let out = cx.run_py(0, py).await;
    ensure!(out.ok(), "PyMySQL multi-statement run: {}", out.describe());
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["4\tpy2", "5\tpy"])
        .await
}

async fn write_through_updatable_view(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        T,
        "INSERT INTO t VALUES (1, 'a'), (20, 'b')",
        "CREATE VIEW vw AS SELECT id, s FROM t WHERE id < 10",
    ])
    .await?;
    cx.e_ok(
        0,
        "INSERT INTO vw VALUES (5, 'via view'); UPDATE vw SET s = 'upd' WHERE id = 1; DELETE FROM vw WHERE id = 20",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tupd", "5\tvia view", "20\tb"])
        .await
}

/// Multi-table UPDATE/DELETE: replicated, the same everywhere.
async fn multi_table_update_and_delete(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        T,
        "CREATE TABLE u (id INT PRIMARY KEY, s VARCHAR(20))",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "INSERT INTO u VALUES (1, 'one'), (2, 'del')",
    ])
    .await?;
    let sql = "UPDATE t JOIN u ON t.id = u.id SET t.s = u.s, u.s = CONCAT(u.s, '!') WHERE u.id = 1";
    let ran = outcome(&cx.e(1, sql).await, sql, Outcome::Ran)?;
    let sql2 = "DELETE t FROM t JOIN u ON t.id = u.id WHERE u.s = 'del'";
    let ran2 = outcome(&cx.e(2, sql2).await, sql2, Outcome::Ran)?;
    let t1 = if ran { "1\tone" } else { "1\ta" };
    let mut expected = vec![t1];
    if !ran2 {
        expected.push("2\tb");
    }
    expected.push("3\tc");
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &expected).await?;
    let u1 = if ran { "1\tone!" } else { "1\tone" };
    cx.everywhere("SELECT id, s FROM u ORDER BY id", &[u1, "2\tdel"]).await
}

/// LOAD DATA LOCAL INFILE from the CLI: refused with 3098 (docs/compatibility.md), nothing anywhere.
async fn load_data_local_infile(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("rows.csv");
    std::fs::write(&path, "1,one\n2,two\n3,three\n").map_err(|e| e.to_string())?;
    let sql = format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE t FIELDS TERMINATED BY ','",
        path.display()
    );
    let out = cx.run(0, cx.cli(0).arg("--local-infile=1").execute(sql.as_str())).await;
    if outcome(&out, &sql, Outcome::Refused)? {
        cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tone", "2\ttwo", "3\tthree"])
            .await
    } else {
        cx.everywhere("SELECT COUNT(*) FROM t", &["0"]).await
    }
}

/// Stored routines and triggers created the way users do (the CLI with DELIMITER): their
/// bodies hold `;`, and every member must end with the same definitions.
async fn routines_created_through_proxy(cx: &Ctx<'_>) -> R {
    cx.setup(&[T]).await?;
    let script = "DELIMITER //\n\
                  CREATE FUNCTION f2(n INT) RETURNS INT DETERMINISTIC BEGIN DECLARE x INT; SET x = n * 2; RETURN x; END//\n\
                  CREATE PROCEDURE p2() BEGIN SELECT 1; SELECT 2; END//\n\
                  CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.s = UPPER(NEW.s); END//\n\
                  DELIMITER ;\n";
    cx.script_ok(0, script).await?;
    let out = cx.e_ok(2, "SELECT f2(21)").await?;
    lines_are(&out, &["42"], "SELECT f2(21)")?;
    compare_members(cx.g, &cx.db, &cx.checked_members()).await?;
    cx.e_ok(1, "DROP PROCEDURE p2; DROP FUNCTION f2; DROP TRIGGER tr")
        .await?;
    cx.everywhere(
        "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
        &["0"],
    )
    .await
}
