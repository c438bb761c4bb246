//! Statements whose effect a re-reading capture gets wrong (ties under ORDER BY ... LIMIT,
//! RAND(), keys computed by the server, sql_select_limit), statements a lexer misreads
//! (NO_BACKSLASH_ESCAPES, ANSI_QUOTES, gbk, comments, unusual spellings, the default schema),
//! and temporary tables.

use super::harness::*;

pub fn all() -> Vec<Scenario> {
    vec![
        sc!("ties", delete_order_by_nonunique_limit),
        sc!("ties", update_order_by_nonunique_limit),
        sc!("ties", delete_and_update_order_by_rand_limit),
        sc!("ties", update_pk_plus_one_order_by_desc),
        sc!("ties", upsert_key_from_expression),
        sc!("ties", upsert_rounded_decimal_key),
        sc!("ties", upsert_default_key),
        sc!("ties", sql_select_limit_then_update_delete),
        sc!("ties", insert_select_order_by_limit_ties),
        sc!("ties", nondeterministic_functions_in_writes),
        sc!("lexer", no_backslash_escapes_literals),
        sc!("lexer", ansi_quotes_identifiers),
        sc!("lexer", ansi_mode_pipes_concat),
        sc!("lexer", gbk_connection_backslash_trail_byte),
        sc!("lexer", set_names_gbk_script),
        sc!("lexer", comments_and_executable_comments),
        sc!("lexer", statement_spellings),
        sc!("lexer", use_other_schema_same_table_name),
        sc!("lexer", insert_modifiers),
        sc!("lexer", large_insert_select_and_update),
        sc!("temporary", temp_table_shadowing_base_stays_local),
        sc!("temporary", temp_table_rows_feed_base_table),
        sc!("temporary", create_temporary_table_does_not_commit),
    ]
}

const TIES: [&str; 2] = [
    "CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL, s VARCHAR(10) NOT NULL DEFAULT '', KEY (k))",
    "INSERT INTO t (id, k) SELECT seq, seq % 3 FROM seq_1_to_30",
];

/// Issue 10: `DELETE ... ORDER BY <non-unique> LIMIT n` with ties. The members compare rows
/// afterwards: the rows the statement deleted on the origin must be the ones deleted everywhere.
async fn delete_order_by_nonunique_limit(cx: &Ctx<'_>) -> R {
    cx.setup(&TIES).await?;
    cx.e_ok(1, "DELETE FROM t ORDER BY k LIMIT 7").await?;
    cx.e_ok(2, "DELETE FROM t ORDER BY s LIMIT 4").await?;
    cx.e_ok(0, "DELETE FROM t WHERE k > 0 ORDER BY k DESC, s LIMIT 3")
        .await?;
    cx.everywhere("SELECT COUNT(*) FROM t", &["16"]).await
}

async fn update_order_by_nonunique_limit(cx: &Ctx<'_>) -> R {
    cx.setup(&TIES).await?;
    cx.e_ok(0, "UPDATE t SET s = 'hit' ORDER BY k DESC LIMIT 5").await?;
    cx.e_ok(2, "UPDATE t SET s = 'hit2' WHERE s = '' ORDER BY s LIMIT 4")
        .await?;
    cx.e_ok(1, "UPDATE t SET s = 'lim' WHERE k = 1 AND s = '' LIMIT 2")
        .await?;
    cx.everywhere(
        "SELECT s, COUNT(*) FROM t GROUP BY s ORDER BY s",
        &["\t19", "hit\t5", "hit2\t4", "lim\t2"],
    )
    .await
}

async fn delete_and_update_order_by_rand_limit(cx: &Ctx<'_>) -> R {
    cx.setup(&TIES).await?;
    cx.e_ok(2, "DELETE FROM t ORDER BY RAND() LIMIT 5").await?;
    cx.e_ok(1, "UPDATE t SET s = 'picked' ORDER BY RAND() LIMIT 4").await?;
    cx.script_ok(0, "BEGIN;\nDELETE FROM t WHERE s = '' ORDER BY RAND() LIMIT 2;\nUPDATE t SET k = k + 10 ORDER BY RAND() LIMIT 3;\nCOMMIT;\n")
        .await?;
    cx.everywhere("SELECT COUNT(*), SUM(s = 'picked'), SUM(k >= 10) FROM t", &["23\t4\t3"])
        .await
}

/// Issue 10: `UPDATE t SET id=id+1 ORDER BY id DESC`.
async fn update_pk_plus_one_order_by_desc(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)",
        "INSERT INTO t SELECT seq, seq * 10 FROM seq_1_to_10",
    ])
    .await?;
    cx.e_ok(1, "UPDATE t SET id = id + 1 ORDER BY id DESC").await?;
    cx.everywhere(
        "SELECT GROUP_CONCAT(id ORDER BY id), SUM(v) FROM t",
        &["2,3,4,5,6,7,8,9,10,11\t550"],
    )
    .await?;
    cx.e_ok(2, "UPDATE t SET id = id - 1 ORDER BY id").await?;
    cx.everywhere("SELECT GROUP_CONCAT(id ORDER BY id) FROM t", &["1,2,3,4,5,6,7,8,9,10"])
        .await?;
    cx.everywhere("SELECT v FROM t WHERE id = 10", &["100"]).await
}

/// Issue 10: upserts whose key comes from an expression.
async fn upsert_key_from_expression(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    ])
    .await?;
    cx.e_ok(
        0,
        "INSERT INTO t VALUES (1+1, 'x') ON DUPLICATE KEY UPDATE v = 'upd2'; \
         INSERT INTO t VALUES (FLOOR(3.9), 'y') ON DUPLICATE KEY UPDATE v = 'upd3'; \
         INSERT INTO t VALUES (CAST('4' AS INT), 'new4') ON DUPLICATE KEY UPDATE v = 'no'; \
         REPLACE INTO t VALUES (0 + 1, 'r1'); \
         INSERT INTO t SELECT MAX(id), 'sel' FROM t ON DUPLICATE KEY UPDATE v = 'upd4'",
    )
    .await?;
    cx.everywhere(
        "SELECT id, v FROM t ORDER BY id",
        &["1\tr1", "2\tupd2", "3\tupd3", "4\tupd4"],
    )
    .await
}

/// Issue 10: an upsert whose key is a literal the column rounds (1.005 into DECIMAL(6,2)).
async fn upsert_rounded_decimal_key(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id DECIMAL(6,2) PRIMARY KEY, v VARCHAR(10))",
        "INSERT INTO t VALUES (1.01, 'a')",
    ])
    .await?;
    cx.e_ok(
        2,
        "INSERT INTO t VALUES (1.005, 'x') ON DUPLICATE KEY UPDATE v = 'upd'; \
         INSERT INTO t VALUES (2.999, 'b') ON DUPLICATE KEY UPDATE v = 'no'; \
         INSERT INTO t VALUES ('3.001', 'c') ON DUPLICATE KEY UPDATE v = 'upd3'; \
         REPLACE INTO t VALUES (1.0149, 'rep')",
    )
    .await?;
    cx.everywhere("SELECT id, v FROM t ORDER BY id", &["1.01\trep", "3.00\tupd3"])
        .await
}

/// Issue 10: an upsert whose key is the column's DEFAULT.
async fn upsert_default_key(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT NOT NULL DEFAULT 7 PRIMARY KEY, v VARCHAR(10))",
        "INSERT INTO t VALUES (7, 'a')",
    ])
    .await?;
    cx.e_ok(
        1,
        "INSERT INTO t (v) VALUES ('x') ON DUPLICATE KEY UPDATE v = 'upd'; \
         INSERT INTO t VALUES (DEFAULT, 'y') ON DUPLICATE KEY UPDATE v = CONCAT(v, '2'); \
         INSERT INTO t VALUES (DEFAULT(id) + 1, 'eight') ON DUPLICATE KEY UPDATE v = 'no'",
    )
    .await?;
    cx.everywhere("SELECT id, v FROM t ORDER BY id", &["7\tupd2", "8\teight"])
        .await?;
    cx.e_ok(0, "REPLACE INTO t (v) VALUES ('r')").await?;
    cx.everywhere("SELECT id, v FROM t ORDER BY id", &["7\tr", "8\teight"])
        .await
}

/// Issue 10: `SET sql_select_limit=1` limits the capture's own SELECT, not the UPDATE/DELETE.
async fn sql_select_limit_then_update_delete(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL, s VARCHAR(10) NOT NULL DEFAULT '')",
        "INSERT INTO t (id, k) SELECT seq, seq % 2 FROM seq_1_to_6",
    ])
    .await?;
    let sql = "SET sql_select_limit = 1; UPDATE t SET s = 'u' WHERE k = 1; SELECT ROW_COUNT(); \
               DELETE FROM t WHERE k = 0; SELECT ROW_COUNT()";
    let out = cx.e_ok(0, sql).await?;
    lines_are(&out, &["3", "3"], sql)?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tu", "3\tu", "5\tu"])
        .await
}

async fn insert_select_order_by_limit_ties(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE src (id INT PRIMARY KEY, k INT NOT NULL)",
        "INSERT INTO src SELECT seq, seq % 2 FROM seq_1_to_20",
        "CREATE TABLE dst (id INT PRIMARY KEY, k INT NOT NULL)",
    ])
    .await?;
    cx.e_ok(1, "INSERT INTO dst SELECT id, k FROM src ORDER BY k LIMIT 5")
        .await?;
    cx.e_ok(2, "INSERT INTO dst SELECT id + 100, k FROM src ORDER BY RAND() LIMIT 3")
        .await?;
    cx.everywhere(
        "SELECT COUNT(*), SUM(id > 100), SUM(k) FROM dst WHERE id < 100",
        &["5\t0\t0"],
    )
    .await?;
    cx.everywhere("SELECT COUNT(*) FROM dst", &["8"]).await
}

async fn nondeterministic_functions_in_writes(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, r DOUBLE, u CHAR(36), ts DATETIME(6), us BIGINT UNSIGNED)"])
        .await?;
    cx.e_ok(
        2,
        "INSERT INTO t VALUES (1, RAND(), UUID(), NOW(6), UUID_SHORT()), (2, RAND(), UUID(), SYSDATE(6), UUID_SHORT()); \
         UPDATE t SET r = RAND(), u = UUID(), ts = SYSDATE(6) WHERE id = 2",
    )
    .await?;
    cx.everywhere("SELECT COUNT(DISTINCT u), COUNT(r) FROM t", &["2\t2"])
        .await
}

/// Issue 10: statements the lexer misreads under NO_BACKSLASH_ESCAPES.
async fn no_backslash_escapes_literals(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))",
        "INSERT INTO t VALUES (3, 'c')",
    ])
    .await?;
    cx.e_ok(
        1,
        r"SET sql_mode = 'NO_BACKSLASH_ESCAPES'; INSERT INTO t VALUES (1, 'a\'), (2, 'b'); UPDATE t SET s = CONCAT(s, '\') WHERE id = 2; DELETE FROM t WHERE s = 'c\' OR id = 3",
    )
    .await?;
    cx.everywhere("SELECT id, HEX(s) FROM t ORDER BY id", &["1\t615C", "2\t625C"])
        .await
}

/// Issue 10: statements the lexer misreads under ANSI_QUOTES.
async fn ansi_quotes_identifiers(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))",
        "INSERT INTO t VALUES (2, 'b')",
    ])
    .await?;
    cx.e_ok(
        2,
        r#"SET sql_mode = 'ANSI_QUOTES'; INSERT INTO "t" ("id", "s") VALUES (1, 'x'); UPDATE "t" SET "s" = 'y' WHERE "id" = 1; DELETE FROM "t" WHERE "id" = 2; INSERT INTO t VALUES (3, 'it''s "quoted"')"#,
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\ty", "3\tit's \"quoted\""])
        .await
}

async fn ansi_mode_pipes_concat(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))",
        "INSERT INTO t VALUES (1, 'a')",
    ])
    .await?;
    cx.e_ok(
        0,
        "SET sql_mode = 'ANSI'; UPDATE t SET s = s || '!' WHERE id = 1; INSERT INTO t VALUES (2, 'b' || 'c')",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\ta!", "2\tbc"])
        .await
}

/// '運' is 0xDF 0x5C in gbk: its second byte is a backslash to a lexer that is not gbk-aware.
const GBK_YUN: &[u8] = b"\xdf\x5c";

/// Issue 10: statements the lexer misreads under `SET NAMES gbk`.
async fn gbk_connection_backslash_trail_byte(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20) CHARACTER SET utf8mb4)"])
        .await?;
    let mut sql = b"INSERT INTO t VALUES (1, '".to_vec();
    sql.extend_from_slice(GBK_YUN);
    sql.extend_from_slice(b"'), (2, 'x'); UPDATE t SET s = CONCAT(s, '");
    sql.extend_from_slice(GBK_YUN);
    sql.extend_from_slice(b"') WHERE id = 2");
    let out = cx.run(1, cx.cli(1).charset("gbk").execute(sql)).await;
    ok(&out, "gbk INSERT and UPDATE")?;
    cx.everywhere("SELECT id, HEX(s) FROM t ORDER BY id", &["1\tE9818B", "2\t78E9818B"])
        .await
}

async fn set_names_gbk_script(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20) CHARACTER SET utf8mb4)"])
        .await?;
    let mut script = b"SET NAMES gbk;\nINSERT INTO t VALUES (1, '".to_vec();
    script.extend_from_slice(GBK_YUN);
    script.extend_from_slice(b"');\nINSERT INTO t VALUES (2, 'y');\nDELETE FROM t WHERE s = '");
    script.extend_from_slice(GBK_YUN);
    script.extend_from_slice(b"' AND id = 3;\n");
    let out = cx.run(2, cx.cli(2).charset("gbk").stdin(script)).await;
    ok(&out, "SET NAMES gbk script")?;
    cx.everywhere("SELECT id, HEX(s) FROM t ORDER BY id", &["1\tE9818B", "2\t79"])
        .await
}

async fn comments_and_executable_comments(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))"])
        .await?;
    let sql = "/* lead */ INSERT INTO t VALUES (1,'c1'); /*! INSERT INTO t VALUES (2,'c2') */; \
               /*!100000 INSERT INTO t VALUES (3,'c3') */; /*M!100000 UPDATE t SET s = 'm' WHERE id = 3 */";
    let out = cx.run(0, cx.cli(0).arg("--comments").execute(sql)).await;
    ok(&out, sql)?;
    let script = "# hash comment\nINSERT INTO t VALUES (4,'c4'); -- trailing\nUPDATE t SET s = 'u4' /* inline */ WHERE id = 4 # trailing hash\n;\n";
    let out = cx.run(1, cx.cli(1).arg("--comments").stdin(script)).await;
    ok(&out, script)?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tc1", "2\tc2", "3\tm", "4\tu4"])
        .await
}

async fn statement_spellings(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))"])
        .await?;
    cx.e_ok(
        2,
        "insert into t values (5,'lower'); Insert\tInto\nt VALUES (6,'tab'); INSERT t (id, s) VALUES (7,'nointo'); \
         REPLACE t SET id = 8, s = 'set'; INSERT INTO t SET id = 9, s = 'set9'; \
         INSERT INTO t (s, id) VALUE ('value', 10); update `t` set `s` = 'bq' where `id` = 5",
    )
    .await?;
    cx.everywhere(
        "SELECT id, s FROM t ORDER BY id",
        &["5\tbq", "6\ttab", "7\tnointo", "8\tset", "9\tset9", "10\tvalue"],
    )
    .await
}

/// Unqualified names resolve in the session's schema (from the handshake, then from USE).
async fn use_other_schema_same_table_name(cx: &Ctx<'_>) -> R {
    let other = format!("{}_b", cx.db);
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))",
        &format!("CREATE DATABASE `{other}`"),
        &format!("CREATE TABLE `{other}`.t (id INT PRIMARY KEY, s VARCHAR(20))"),
    ])
    .await?;
    let sql = format!(
        "INSERT INTO `{db}`.t VALUES (1,'qualified'); INSERT INTO t VALUES (2,'unqualified'); \
         USE `{db}`; INSERT INTO t VALUES (3,'after use'); UPDATE `{other}`.t SET s = 'upd' WHERE id = 2",
        db = cx.db
    );
    let out = cx.run(1, cx.cli_nodb(1).database(&other).execute(sql.as_str())).await;
    ok(&out, &sql)?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tqualified", "3\tafter use"])
        .await?;
    cx.everywhere(&format!("SELECT id, s FROM `{other}`.t"), &["2\tupd"])
        .await?;
    compare_members(cx.g, &other, &cx.checked_members()).await
}

async fn insert_modifiers(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))"])
        .await?;
    cx.e_ok(
        0,
        "INSERT INTO t VALUES (1,'d'); INSERT LOW_PRIORITY INTO t VALUES (2,'l'); \
         UPDATE LOW_PRIORITY IGNORE t SET s = 'x' WHERE id = 2; INSERT HIGH_PRIORITY IGNORE INTO t VALUES (1, 'dup'); \
         DELETE QUICK IGNORE FROM t WHERE id = 3",
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\td", "2\tx"])
        .await
}

async fn large_insert_select_and_update(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))"])
        .await?;
    cx.e_ok(1, "INSERT INTO t SELECT seq, CONCAT('row', seq) FROM seq_1_to_3000")
        .await?;
    cx.e_ok(2, "UPDATE t SET s = CONCAT(s, '!') WHERE id % 2 = 0").await?;
    cx.e_ok(0, "DELETE FROM t WHERE id > 2000").await?;
    cx.everywhere("SELECT COUNT(*), SUM(s LIKE '%!') FROM t", &["2000\t1000"])
        .await
}

/// Issue 10: a temporary table that shadows a base table: writes to it stay local; the others
/// must not write or drop the base table.
async fn temp_table_shadowing_base_stays_local(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))",
        "INSERT INTO t VALUES (1, 'base1'), (3, 'base3')",
    ])
    .await?;
    let script = "CREATE TEMPORARY TABLE t (id INT PRIMARY KEY, s VARCHAR(20));\n\
                  INSERT INTO t VALUES (1, 'temp'), (2, 'temp');\n\
                  UPDATE t SET s = 'temp2';\n\
                  DELETE FROM t WHERE id = 1;\n\
                  SELECT COUNT(*) FROM t;\n\
                  CREATE TEMPORARY TABLE nopk (a INT);\n\
                  INSERT INTO nopk VALUES (1), (1);\n\
                  DROP TABLE t;\n\
                  SELECT s FROM t ORDER BY id;\n";
    let out = cx.script_ok(0, script).await?;
    lines_are(&out, &["1", "base1", "base3"], script)?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tbase1", "3\tbase3"])
        .await
}

async fn temp_table_rows_feed_base_table(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))"])
        .await?;
    let script = "CREATE TEMPORARY TABLE tmp (id INT PRIMARY KEY, s VARCHAR(20));\n\
                  INSERT INTO tmp VALUES (5, 'from tmp'), (6, 'x');\n\
                  INSERT INTO t SELECT * FROM tmp;\n\
                  UPDATE tmp SET s = 'changed';\n\
                  UPDATE t SET s = (SELECT s FROM tmp WHERE id = 6) WHERE id = 6;\n\
                  DROP TEMPORARY TABLE tmp;\n";
    cx.script_ok(1, script).await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["5\tfrom tmp", "6\tchanged"])
        .await
}

/// `CREATE TEMPORARY TABLE` does not commit the transaction: a later ROLLBACK undoes the
/// insert before it.
async fn create_temporary_table_does_not_commit(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20))"])
        .await?;
    let script = "BEGIN;\nINSERT INTO t VALUES (10, 'rolled back');\nCREATE TEMPORARY TABLE tt (id INT PRIMARY KEY);\n\
                  INSERT INTO tt VALUES (1);\nROLLBACK;\nSELECT COUNT(*) FROM t;\n\
                  BEGIN;\nINSERT INTO t VALUES (11, 'committed');\nDROP TEMPORARY TABLE tt;\nCOMMIT;\n";
    let out = cx.script_ok(2, script).await?;
    lines_are(&out, &["0"], script)?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["11\tcommitted"])
        .await
}
