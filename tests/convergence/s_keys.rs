//! Key semantics (two members write rows the server considers the same key: the write-set
//! must say so, or the group diverges) and certification conflicts (first committer wins, no
//! lost update, 1213 / SQLSTATE 40001 for the loser).

use super::harness::*;

pub fn all() -> Vec<Scenario> {
    vec![
        sc!("keys", unique_key_trailing_spaces_conflict),
        sc!("keys", unique_key_case_insensitive_conflict),
        sc!("keys", unique_key_accent_insensitive_conflict),
        sc!("keys", prefix_unique_index_conflict),
        sc!("keys", unique_virtual_column_conflict),
        sc!("keys", zerofill_keys_conflict),
        sc!("keys", composite_unique_key_conflict),
        sc!("keys", nulls_in_unique_key),
        sc!("keys", fk_child_insert_races_parent_delete),
        sc!("keys", unique_value_swap_in_one_transaction),
        sc!("conflicts", same_row_update_first_committer_wins),
        sc!("conflicts", same_row_update_race_via_cli),
        sc!("conflicts", same_primary_key_insert_race),
        sc!("conflicts", delete_races_update),
        sc!("conflicts", disjoint_rows_both_commit),
        sc!("conflicts", lost_update_read_modify_write_aborts),
        sc!("conflicts", upsert_increment_race),
    ]
}

/// Issue 10: trailing spaces (PAD SPACE collations): 'a' and 'a  ' are the same key.
async fn unique_key_trailing_spaces_conflict(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, u VARCHAR(10) NOT NULL, UNIQUE KEY (u))",
        "CREATE TABLE p (k VARCHAR(10) PRIMARY KEY, v INT)",
    ])
    .await?;
    cx.first_committer_wins(
        0,
        &["INSERT INTO t VALUES (1, 'a')"],
        1,
        &["INSERT INTO t VALUES (2, 'a  ')"],
    )
    .await?;
    cx.first_committer_wins(
        2,
        &["INSERT INTO p VALUES ('k ', 1)"],
        0,
        &["INSERT INTO p VALUES ('k', 2)"],
    )
    .await?;
    cx.everywhere("SELECT id, CONCAT('[', u, ']') FROM t ORDER BY id", &["1\t[a]"])
        .await?;
    cx.everywhere("SELECT CONCAT('[', k, ']'), v FROM p", &["[k ]\t1"])
        .await
}

async fn unique_key_case_insensitive_conflict(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, u VARCHAR(10) NOT NULL, UNIQUE KEY (u)) COLLATE utf8mb4_general_ci",
    ])
    .await?;
    cx.first_committer_wins(
        1,
        &["INSERT INTO t VALUES (1, 'abc')"],
        2,
        &["INSERT INTO t VALUES (2, 'ABC')"],
    )
    .await?;
    // An UPDATE that moves another row onto the same key (in another case).
    cx.setup(&["INSERT INTO t VALUES (3, 'zzz')"]).await?;
    cx.first_committer_wins(
        0,
        &["UPDATE t SET u = 'Xy' WHERE id = 1"],
        1,
        &["UPDATE t SET u = 'xY' WHERE id = 3"],
    )
    .await?;
    cx.everywhere("SELECT id, u FROM t ORDER BY id", &["1\tXy", "3\tzzz"])
        .await
}

async fn unique_key_accent_insensitive_conflict(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, u VARCHAR(10) NOT NULL, UNIQUE KEY (u)) COLLATE utf8mb4_general_ci",
    ])
    .await?;
    cx.first_committer_wins(
        2,
        &["INSERT INTO t VALUES (1, 'resume')"],
        0,
        &["INSERT INTO t VALUES (2, 'résumé')"],
    )
    .await?;
    cx.everywhere("SELECT id, u FROM t ORDER BY id", &["1\tresume"]).await
}

/// Issue 10: prefix indexes: UNIQUE (s(3)) makes 'abcdef' and 'abcxyz' the same key.
async fn prefix_unique_index_conflict(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20) NOT NULL, UNIQUE KEY (s(3)))"])
        .await?;
    cx.first_committer_wins(
        0,
        &["INSERT INTO t VALUES (1, 'abcdef')"],
        2,
        &["INSERT INTO t VALUES (2, 'abcxyz')"],
    )
    .await?;
    cx.everywhere("SELECT id, s FROM t ORDER BY id", &["1\tabcdef"]).await
}

/// Issue 10: a unique key on a virtual column.
async fn unique_virtual_column_conflict(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, a INT NOT NULL, va INT AS (a % 10) VIRTUAL, UNIQUE KEY (va))"])
        .await?;
    cx.first_committer_wins(
        1,
        &["INSERT INTO t (id, a) VALUES (1, 1)"],
        0,
        &["INSERT INTO t (id, a) VALUES (2, 21)"],
    )
    .await?;
    cx.everywhere("SELECT id, a, va FROM t ORDER BY id", &["1\t1\t1"]).await
}

/// Issue 10: ZEROFILL keys.
async fn zerofill_keys_conflict(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT(5) ZEROFILL PRIMARY KEY, k INT(4) ZEROFILL, v INT NOT NULL, UNIQUE KEY (k))",
        "INSERT INTO t VALUES (1, 7, 0)",
        "CREATE TABLE zp (id INT(5) ZEROFILL PRIMARY KEY, v INT NOT NULL)",
        "INSERT INTO zp VALUES (1, 0)",
    ])
    .await?;
    // A primary-key-only table: a DELETE names the key as a plain literal (mysqld prints it
    // as 00001), an UPDATE finds the same row through a range.
    cx.first_committer_wins(
        1,
        &["DELETE FROM zp WHERE id = 1"],
        0,
        &["UPDATE zp SET v = v + 10 WHERE id BETWEEN 1 AND 1"],
    )
    .await?;
    cx.everywhere("SELECT COUNT(*) FROM zp", &["0"]).await?;
    cx.first_committer_wins(
        0,
        &["UPDATE t SET v = v + 1 WHERE id = 1"],
        2,
        &["UPDATE t SET v = v + 10 WHERE id = '00001'"],
    )
    .await?;
    cx.first_committer_wins(
        1,
        &["INSERT INTO t VALUES (2, 8, 0)"],
        2,
        &["INSERT INTO t VALUES (3, '0008', 0)"],
    )
    .await?;
    cx.e_ok(2, "UPDATE t SET v = 5, k = 9 WHERE id = 00002").await?;
    cx.everywhere(
        "SELECT id, k, v FROM t ORDER BY id",
        &["00001\t0007\t1", "00002\t0009\t5"],
    )
    .await
}

async fn composite_unique_key_conflict(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(5) NOT NULL, UNIQUE KEY (a, b))"])
        .await?;
    cx.first_committer_wins(
        2,
        &["INSERT INTO t VALUES (1, 1, 'x')"],
        1,
        &["INSERT INTO t VALUES (2, 1, 'X ')"],
    )
    .await?;
    // Different composite values: the server allows both; a false conflict would be safe, so
    // accept either outcome but every acknowledged row must be everywhere.
    let (ra, rb) = cx
        .race(
            0,
            &["INSERT INTO t VALUES (3, 1, 'y')"],
            1,
            &["INSERT INTO t VALUES (4, 2, 'x')"],
        )
        .await?;
    ensure!(ra.is_ok(), "first COMMIT failed: {ra:?}");
    let mut expected = vec!["1\t1\tx", "3\t1\ty"];
    match rb {
        Ok(()) => expected.push("4\t2\tx"),
        Err(e) if is_conflict(&e) => {}
        Err(e) => return Err(format!("second COMMIT: {e}")),
    }
    cx.everywhere("SELECT id, a, b FROM t ORDER BY id", &expected).await
}

/// NULLs in a unique key never collide in the server; whatever each client was told must hold
/// everywhere.
async fn nulls_in_unique_key(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT, UNIQUE KEY (a, b))"])
        .await?;
    let (ra, rb) = cx
        .race(
            0,
            &["INSERT INTO t VALUES (1, 1, NULL)"],
            2,
            &["INSERT INTO t VALUES (2, 1, NULL)"],
        )
        .await?;
    ensure!(ra.is_ok(), "first COMMIT failed: {ra:?}");
    let mut expected = vec!["1\t1\tNULL"];
    match rb {
        Ok(()) => expected.push("2\t1\tNULL"),
        Err(e) if is_conflict(&e) => {}
        Err(e) => return Err(format!("second COMMIT: {e}")),
    }
    cx.e_ok(1, "INSERT INTO t VALUES (3, NULL, NULL), (4, NULL, NULL)")
        .await?;
    expected.extend(["3\tNULL\tNULL", "4\tNULL\tNULL"]);
    cx.everywhere("SELECT id, a, b FROM t ORDER BY id", &expected).await
}

/// A child insert on one member races the parent's delete on another: exactly one commits,
/// and no member ends with an orphan.
async fn fk_child_insert_races_parent_delete(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE parent (id INT PRIMARY KEY)",
        "CREATE TABLE child (id INT PRIMARY KEY, pid INT NOT NULL, FOREIGN KEY (pid) REFERENCES parent (id))",
        "INSERT INTO parent VALUES (1), (2), (3)",
    ])
    .await?;
    cx.first_committer_wins(
        0,
        &["DELETE FROM parent WHERE id = 1"],
        1,
        &["INSERT INTO child VALUES (1, 1)"],
    )
    .await?;
    cx.first_committer_wins(
        1,
        &["INSERT INTO child VALUES (2, 2)"],
        2,
        &["DELETE FROM parent WHERE id = 2"],
    )
    .await?;
    cx.first_committer_wins(
        2,
        &["UPDATE child SET pid = 3 WHERE id = 2"],
        0,
        &["DELETE FROM parent WHERE id = 3"],
    )
    .await?;
    cx.everywhere(
        "SELECT COUNT(*) FROM child LEFT JOIN parent ON parent.id = child.pid WHERE parent.id IS NULL",
        &["0"],
    )
    .await?;
    cx.everywhere("SELECT id, pid FROM child", &["2\t3"]).await?;
    cx.everywhere("SELECT id FROM parent ORDER BY id", &["2", "3"]).await
}

/// One transaction moves a unique value through a temporary one: the replay must apply the
/// row changes in order.
async fn unique_value_swap_in_one_transaction(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, u VARCHAR(5) NOT NULL, UNIQUE KEY (u))",
        "INSERT INTO t VALUES (1, 'x'), (2, 'y')",
    ])
    .await?;
    cx.script_ok(
        1,
        "BEGIN;\nUPDATE t SET u = 'tmp' WHERE id = 1;\nUPDATE t SET u = 'x' WHERE id = 2;\nUPDATE t SET u = 'y' WHERE id = 1;\n\
         DELETE FROM t WHERE id = 2;\nINSERT INTO t VALUES (2, 'x2'), (3, 'x');\nCOMMIT;\n",
    )
    .await?;
    cx.everywhere("SELECT id, u FROM t ORDER BY id", &["1\ty", "2\tx2", "3\tx"])
        .await
}

const COUNTER: [&str; 2] = [
    "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, u VARCHAR(10) UNIQUE)",
    "INSERT INTO t VALUES (1, 0, 'a'), (2, 0, 'b')",
];

/// Two members update the same row in explicit transactions: the first COMMIT wins, the
/// second gets 1213 (40001), and no update is lost.
async fn same_row_update_first_committer_wins(cx: &Ctx<'_>) -> R {
    cx.setup(&COUNTER).await?;
    cx.first_committer_wins(
        0,
        &["UPDATE t SET v = v + 1 WHERE id = 1"],
        2,
        &["UPDATE t SET v = v + 10 WHERE id = 1"],
    )
    .await?;
    cx.everywhere("SELECT id, v FROM t ORDER BY id", &["1\t1", "2\t0"])
        .await
}

/// The same through two concurrent CLI processes: whoever loses sees `ERROR 1213 (40001)`,
/// and the final value is the sum of what was acknowledged.
async fn same_row_update_race_via_cli(cx: &Ctx<'_>) -> R {
    cx.setup(&COUNTER).await?;
    let a = "BEGIN; UPDATE t SET v = v + 1 WHERE id = 1; DO SLEEP(1.5); COMMIT";
    let b = "BEGIN; UPDATE t SET v = v + 10 WHERE id = 1; DO SLEEP(1.5); COMMIT";
    let (oa, ob) = tokio::join!(cx.e(1, a), cx.e(2, b));
    let mut expected = 0;
    for (out, inc) in [(&oa, 1), (&ob, 10)] {
        if out.ok() {
            expected += inc;
        } else {
            let e = out.errors.first();
            ensure!(
                e.is_some_and(|e| e.code == CONFLICT && e.sqlstate == "40001"),
                "a losing transaction must see ERROR 1213 (40001): {}",
                out.describe()
            );
        }
    }
    ensure!(expected > 0, "neither transaction committed");
    cx.everywhere("SELECT v FROM t WHERE id = 1", &[&expected.to_string()])
        .await
}

async fn same_primary_key_insert_race(cx: &Ctx<'_>) -> R {
    cx.setup(&COUNTER).await?;
    cx.first_committer_wins(
        1,
        &["INSERT INTO t VALUES (5, 1, NULL)"],
        0,
        &["INSERT INTO t VALUES (5, 2, NULL)"],
    )
    .await?;
    cx.first_committer_wins(
        2,
        &["INSERT INTO t VALUES (6, 1, 'same')"],
        1,
        &["INSERT INTO t VALUES (7, 2, 'same')"],
    )
    .await?;
    cx.everywhere(
        "SELECT id, v, u FROM t WHERE id > 2 ORDER BY id",
        &["5\t1\tNULL", "6\t1\tsame"],
    )
    .await
}

async fn delete_races_update(cx: &Ctx<'_>) -> R {
    cx.setup(&COUNTER).await?;
    cx.first_committer_wins(
        0,
        &["DELETE FROM t WHERE id = 1"],
        1,
        &["UPDATE t SET v = 5 WHERE id = 1"],
    )
    .await?;
    cx.first_committer_wins(
        2,
        &["UPDATE t SET v = 7 WHERE u = 'b'"],
        0,
        &["DELETE FROM t WHERE u = 'b'"],
    )
    .await?;
    cx.everywhere("SELECT id, v FROM t ORDER BY id", &["2\t7"]).await
}

async fn disjoint_rows_both_commit(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)",
        "INSERT INTO t VALUES (1, 0), (2, 0)",
    ])
    .await?;
    let (ra, rb) = cx
        .race(
            0,
            &["UPDATE t SET v = 1 WHERE id = 1"],
            1,
            &["UPDATE t SET v = 2 WHERE id = 2"],
        )
        .await?;
    ensure!(
        ra.is_ok() && rb.is_ok(),
        "updates of different rows must both commit: {ra:?} / {rb:?}"
    );
    cx.everywhere("SELECT id, v FROM t ORDER BY id", &["1\t1", "2\t2"])
        .await
}

/// Read, a concurrent write on another member commits, write back what was read + 1: the
/// write back must lose (no lost update).
async fn lost_update_read_modify_write_aborts(cx: &Ctx<'_>) -> R {
    cx.setup(&COUNTER).await?;
    let mut a = cx.conn(0).await?;
    cx.q_ok(0, &mut a, "BEGIN").await?;
    let v = cx.q_ok(0, &mut a, "SELECT v FROM t WHERE id = 2").await?;
    let v: i64 = v.first().and_then(|s| s.parse().ok()).unwrap_or(-1);
    cx.e_ok(2, "UPDATE t SET v = v + 1000 WHERE id = 2").await?;
    cx.converge().await?;
    cx.q_ok(0, &mut a, &format!("UPDATE t SET v = {} WHERE id = 2", v + 1))
        .await?;
    match cx.qd(0, &mut a, "COMMIT").await {
        Err(e) if is_conflict(&e) => {}
        other => {
            return Err(format!(
                "the stale write-back must fail with 1213 (40001), got {other:?}"
            ))
        }
    }
    let _ = a.disconnect().await;
    cx.everywhere("SELECT v FROM t WHERE id = 2", &["1000"]).await
}

async fn upsert_increment_race(cx: &Ctx<'_>) -> R {
    cx.setup(&COUNTER).await?;
    cx.first_committer_wins(
        1,
        &["INSERT INTO t VALUES (1, 1, 'a') ON DUPLICATE KEY UPDATE v = v + 1"],
        2,
        &["INSERT INTO t VALUES (1, 1, 'a') ON DUPLICATE KEY UPDATE v = v + 1"],
    )
    .await?;
    cx.first_committer_wins(
        0,
        &["REPLACE INTO t VALUES (9, 9, 'b')"],
        1,
        &["UPDATE t SET v = v + 100 WHERE id = 2"],
    )
    .await?;
    cx.everywhere("SELECT id, v, u FROM t ORDER BY id", &["1\t1\ta", "9\t9\tb"])
        .await
}
