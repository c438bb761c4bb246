//! Sequences (issue 10). mysqld advances a sequence in a transaction of its own, outside the
//! client's; the member's tap proposes the advance and every other member moves its sequence
//! at least as far (`src/replication/sequences.rs`). Each scenario goes through the `mariadb`
//! CLI with `-e` (and mysql_async where two transactions must overlap); afterwards the runner
//! compares every member's rows; the scenarios check that nothing acknowledged is missing and
//! that after quiescence NEXTVAL on any member returns more than every value any member
//! handed out before. Before grproxy replicated sequences, every statement here was refused
//! with 3098.

use super::cli::Out;
use super::harness::*;

pub fn all() -> Vec<Scenario> {
    vec![
        sc!("sequences", nextval_on_every_member),
        sc!("sequences", default_nextval_and_next_value_for_in_inserts),
        sc!("sequences", setval_moves_every_member),
        sc!("sequences", sequence_in_rolled_back_and_aborted_transactions),
        sc!("sequences", same_value_on_two_members_conflicts),
        sc!("sequences", increment_by_zero_never_collides),
        sc!("sequences", sequence_ddl),
        sc!("sequences", cycle_round_follows),
    ]
}

/// Parses one integer from a CLI output (its only line).
fn int(out: &Out, what: &str) -> Result<i64, String> {
    let lines = out.lines();
    ensure!(lines.len() == 1, "{what}: expected one line, got {lines:?}");
    lines[0]
        .trim()
        .parse()
        .map_err(|_| format!("{what}: {:?} is not an integer", lines[0]))
}

/// After convergence, `NEXTVAL(seq)` on each member in turn (converging in between) must be
/// above `*max` and above what the previous member returned; `*max` follows.
async fn next_above_everywhere(cx: &Ctx<'_>, seq: &str, max: &mut i64) -> R {
    for m in 0..3 {
        cx.converge().await?;
        let sql = format!("SELECT NEXTVAL({seq})");
        let v = int(&cx.e_ok(m, &sql).await?, &sql)?;
        ensure!(
            v > *max,
            "after quiescence NEXTVAL({seq}) on member {m} returned {v}, but {max} was handed out before"
        );
        *max = v;
    }
    cx.converge().await
}

async fn errant(cx: &Ctx<'_>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    if cx.baseline {
        return Ok(out);
    }
    for m in 0..3 {
        let rows = cx.grproxy_status(m).await?;
        out.push(
            rows.iter()
                .find(|(k, _)| k == ERRANT_VARIABLE)
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
        );
    }
    Ok(out)
}

/// NEXTVAL and NEXT VALUE FOR from every member in turn: each is above every value handed out
/// before, and none of it counts as a write that bypassed grproxy.
async fn nextval_on_every_member(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE SEQUENCE s"]).await?;
    let errant_before = errant(cx).await?;
    let mut max = 0;
    for round in 0..2 {
        for (m, sql) in [
            (0, "SELECT NEXTVAL(s)"),
            (1, "SELECT NEXTVAL(s)"),
            (2, "SELECT NEXT VALUE FOR s"),
        ] {
            let v = int(&cx.e_ok(m, sql).await?, sql)?;
            ensure!(
                v > max,
                "round {round}: {sql} on member {m} returned {v}, not above {max} handed out before"
            );
            max = v;
            cx.converge().await?;
        }
    }
    next_above_everywhere(cx, "s", &mut max).await?;
    let errant_after = errant(cx).await?;
    ensure!(
        errant_before == errant_after,
        "sequence advances were counted as errant: {ERRANT_VARIABLE} {errant_before:?} -> {errant_after:?}"
    );
    Ok(())
}

/// `DEFAULT NEXTVAL(s)` columns and `NEXT VALUE FOR s` in VALUES, from every member: every
/// acknowledged row is on every member, ids distinct, and the sequence is past them all.
async fn default_nextval_and_next_value_for_in_inserts(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE SEQUENCE s",
        "CREATE TABLE t (id BIGINT PRIMARY KEY DEFAULT NEXTVAL(s), m VARCHAR(10))",
        "CREATE TABLE u (id BIGINT PRIMARY KEY, m VARCHAR(10))",
    ])
    .await?;
    for m in 0..3 {
        let sql = format!(
            "INSERT INTO t (m) VALUES ('m{m}'), ('m{m}'); INSERT INTO u VALUES (NEXT VALUE FOR s, 'm{m}'); \
             INSERT INTO t (id, m) VALUES (DEFAULT, 'm{m}')"
        );
        cx.e_ok(m, &sql).await?;
        cx.converge().await?;
    }
    cx.everywhere("SELECT COUNT(*), COUNT(DISTINCT id) FROM t", &["9\t9"])
        .await?;
    cx.everywhere(
        "SELECT m, COUNT(*) FROM t GROUP BY m ORDER BY m",
        &["m0\t3", "m1\t3", "m2\t3"],
    )
    .await?;
    cx.everywhere("SELECT m FROM u ORDER BY m", &["m0", "m1", "m2"]).await?;
    let max: i64 = cx
        .value_everywhere("SELECT GREATEST((SELECT MAX(id) FROM t), (SELECT MAX(id) FROM u))")
        .await?
        .parse()
        .map_err(|e| format!("max id: {e}"))?;
    let ids = cx.value_everywhere("SELECT COUNT(*) FROM t JOIN u USING (id)").await?;
    ensure!(ids == "0", "t and u share {ids} ids drawn from one sequence");
    let mut max = max;
    next_above_everywhere(cx, "s", &mut max).await
}

/// SETVAL on one member moves the sequence on every member; a SETVAL below the current value
/// changes nothing (as in mysqld); a SETVAL inside a transaction that rolls back still moves
/// the sequence (mysqld changes it outside the transaction).
async fn setval_moves_every_member(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE SEQUENCE s"]).await?;
    let mut max = int(&cx.e_ok(0, "SELECT NEXTVAL(s)").await?, "NEXTVAL")?;
    cx.e_ok(1, "SELECT SETVAL(s, 5000)").await?;
    cx.converge().await?;
    let v = int(&cx.e_ok(2, "SELECT NEXTVAL(s)").await?, "NEXTVAL after SETVAL(s, 5000)")?;
    ensure!(
        v == 5001,
        "NEXTVAL on member 2 after SETVAL(s, 5000) on member 1 returned {v}"
    );
    max = max.max(v);
    let out = cx.e_ok(0, "SELECT SETVAL(s, 10)").await?;
    lines_are(&out, &["NULL"], "SETVAL below the current value")?;
    next_above_everywhere(cx, "s", &mut max).await?;
    cx.e_ok(2, "SELECT SETVAL(s, 20000, 0)").await?;
    cx.converge().await?;
    let v = int(
        &cx.e_ok(1, "SELECT NEXTVAL(s)").await?,
        "NEXTVAL after SETVAL(s, 20000, 0)",
    )?;
    ensure!(
        v == 20000,
        "NEXTVAL on member 1 after SETVAL(s, 20000, 0) on member 2 returned {v}"
    );
    cx.e_ok(1, "BEGIN; SELECT SETVAL(s, 30000); ROLLBACK").await?;
    // A ROLLBACK does not wait for the advance to reach the log; the next commit on the
    // member does.
    let v = int(
        &cx.e_ok(1, "SELECT NEXTVAL(s)").await?,
        "NEXTVAL after a rolled-back SETVAL",
    )?;
    ensure!(v == 30001, "NEXTVAL after a rolled-back SETVAL(s, 30000) returned {v}");
    max = v;
    next_above_everywhere(cx, "s", &mut max).await
}

/// A value drawn inside a transaction that rolls back, or that loses certification, is
/// consumed anyway (as AUTO_INCREMENT): the sequence stays past it on every member, and the
/// row holds the winner's value everywhere.
async fn sequence_in_rolled_back_and_aborted_transactions(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE SEQUENCE s",
        "CREATE TABLE t (id INT PRIMARY KEY, v BIGINT)",
        "INSERT INTO t VALUES (1, 0)",
    ])
    .await?;
    let out = cx
        .e_ok(
            0,
            "BEGIN; SELECT NEXTVAL(s); UPDATE t SET v = NEXTVAL(s) WHERE id = 1; SELECT v FROM t; ROLLBACK",
        )
        .await?;
    let mut max: i64 = out
        .lines()
        .iter()
        .filter_map(|l| l.trim().parse().ok())
        .max()
        .unwrap_or(0);
    // A ROLLBACK does not wait for the advance to reach the log; the next commit does.
    max = max.max(int(&cx.e_ok(0, "SELECT NEXTVAL(s)").await?, "NEXTVAL")?);
    cx.everywhere("SELECT v FROM t", &["0"]).await?;
    next_above_everywhere(cx, "s", &mut max).await?;
    if cx.baseline {
        return Ok(());
    }
    // Two transactions on two members draw values and write the same row: the second COMMIT
    // loses certification.
    let mut a = cx.conn(1).await?;
    let mut b = cx.conn(2).await?;
    cx.q_ok(1, &mut a, "BEGIN").await?;
    cx.q_ok(2, &mut b, "BEGIN").await?;
    let va: i64 = cx.q_ok(1, &mut a, "SELECT NEXTVAL(s)").await?[0].parse().unwrap_or(0);
    let vb: i64 = cx.q_ok(2, &mut b, "SELECT NEXTVAL(s)").await?[0].parse().unwrap_or(0);
    cx.q_ok(1, &mut a, &format!("UPDATE t SET v = {va} WHERE id = 1"))
        .await?;
    cx.q_ok(2, &mut b, &format!("UPDATE t SET v = {vb} WHERE id = 1"))
        .await?;
    cx.qd(1, &mut a, "COMMIT")
        .await
        .map_err(|e| format!("the first COMMIT failed: {e}"))?;
    match cx.qd(2, &mut b, "COMMIT").await {
        Err(e) if is_conflict(&e) => {}
        other => {
            return Err(format!(
                "the second COMMIT on the same row: expected 1213, got {other:?}"
            ))
        }
    }
    let _ = a.disconnect().await;
    let _ = b.disconnect().await;
    cx.everywhere("SELECT v FROM t", &[&va.to_string()]).await?;
    max = max.max(va).max(vb);
    next_above_everywhere(cx, "s", &mut max).await
}

/// Two members hand out the same value when they draw at the same moment (each from the
/// same point of the sequence): the rows then conflict in certification and the second
/// gets 1213; nothing acknowledged is lost and no value is in two rows.
async fn same_value_on_two_members_conflicts(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE SEQUENCE s",
        "CREATE TABLE t (id BIGINT PRIMARY KEY, m VARCHAR(10))",
    ])
    .await?;
    if cx.baseline {
        return Ok(());
    }
    let mut a = cx.conn(0).await?;
    let mut b = cx.conn(1).await?;
    cx.q_ok(0, &mut a, "BEGIN").await?;
    cx.q_ok(1, &mut b, "BEGIN").await?;
    let (ra, rb) = tokio::join!(
        cx.q(0, &mut a, "INSERT INTO t VALUES (NEXTVAL(s), 'a') RETURNING id"),
        cx.q(1, &mut b, "INSERT INTO t VALUES (NEXTVAL(s), 'b') RETURNING id"),
    );
    let ida = ra.map_err(|e| format!("member 0 insert: {e}"))?;
    let idb = rb.map_err(|e| format!("member 1 insert: {e}"))?;
    cx.note(format!("drawn: member 0 {ida:?}, member 1 {idb:?}"));
    let ca = cx.qd(0, &mut a, "COMMIT").await;
    let cb = cx.qd(1, &mut b, "COMMIT").await;
    let _ = a.disconnect().await;
    let _ = b.disconnect().await;
    ensure!(ca.is_ok(), "the first COMMIT failed: {ca:?}");
    let mut expected = vec![format!("{}\ta", ida[0])];
    match cb {
        Ok(()) => {
            ensure!(ida != idb, "both members committed id {ida:?}");
            expected.push(format!("{}\tb", idb[0]));
        }
        Err(e) if is_conflict(&e) => {
            ensure!(
                ida == idb,
                "the second COMMIT aborted although the ids differ: {ida:?} {idb:?}"
            );
        }
        Err(e) => return Err(format!("the second COMMIT: expected success or 1213, got {e}")),
    }
    expected.sort();
    let want: Vec<&str> = expected.iter().map(String::as_str).collect();
    cx.everywhere("SELECT id, m FROM t ORDER BY id, m", &want).await?;
    let mut max = ida[0].parse::<i64>().unwrap_or(0).max(idb[0].parse().unwrap_or(0));
    next_above_everywhere(cx, "s", &mut max).await
}

/// `INCREMENT BY 0` steps by auto_increment_increment from auto_increment_offset, which
/// grproxy sets per member: members writing at the same time never draw the same value.
async fn increment_by_zero_never_collides(cx: &Ctx<'_>) -> R {
    cx.setup(&[
        "CREATE SEQUENCE z INCREMENT BY 0",
        "CREATE TABLE t (id BIGINT PRIMARY KEY DEFAULT NEXTVAL(z), m INT)",
    ])
    .await?;
    let writer = |m: usize| async move {
        let mut c = cx.conn(m).await?;
        for _ in 0..15 {
            cx.qd(m, &mut c, &format!("INSERT INTO t (m) VALUES ({m})"))
                .await
                .map_err(|e| format!("member {m}: {e}"))?;
        }
        let _ = c.disconnect().await;
        Ok::<(), String>(())
    };
    let members = if cx.baseline { 1 } else { 3 };
    let results = futures_util::future::join_all((0..members).map(writer)).await;
    for r in results {
        r?;
    }
    let want = format!("{}\t{}", 15 * members, 15 * members);
    cx.everywhere("SELECT COUNT(*), COUNT(DISTINCT id) FROM t", &[want.as_str()])
        .await?;
    let mut max: i64 = cx
        .value_everywhere("SELECT MAX(id) FROM t")
        .await?
        .parse()
        .map_err(|e| format!("max id: {e}"))?;
    next_above_everywhere(cx, "z", &mut max).await
}

/// CREATE / ALTER / DROP SEQUENCE go through the log like other DDL: definitions match, and
/// values follow a RESTART on every member.
async fn sequence_ddl(cx: &Ctx<'_>) -> R {
    cx.setup(&[]).await?;
    cx.e_ok(0, "CREATE SEQUENCE s START WITH 100 INCREMENT BY 5 CACHE 10")
        .await?;
    cx.converge().await?;
    let v = int(&cx.e_ok(1, "SELECT NEXTVAL(s)").await?, "NEXTVAL")?;
    ensure!(v == 100, "the first NEXTVAL on member 1 returned {v}");
    cx.e_ok(2, "ALTER SEQUENCE s RESTART WITH 1000").await?;
    cx.converge().await?;
    let v = int(&cx.e_ok(0, "SELECT NEXTVAL(s)").await?, "NEXTVAL after RESTART")?;
    ensure!(
        v == 1000,
        "NEXTVAL on member 0 after RESTART WITH 1000 on member 2 returned {v}"
    );
    let mut max = v;
    next_above_everywhere(cx, "s", &mut max).await?;
    cx.e_ok(1, "CREATE SEQUENCE gone; DROP SEQUENCE gone").await?;
    cx.converge().await?;
    cx.everywhere(
        &format!(
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}'",
            cx.db
        ),
        &["s\tSEQUENCE"],
    )
    .await
}

/// A `CYCLE` sequence that wrapped on one member continues in the same round on the others
/// (the entry carries `cycle_count`; `SETVAL`'s round argument lets a lower value in).
async fn cycle_round_follows(cx: &Ctx<'_>) -> R {
    cx.setup(&["CREATE SEQUENCE c MINVALUE 1 MAXVALUE 5 CYCLE CACHE 2"])
        .await?;
    let out = cx
        .e_ok(
            0,
            "SELECT NEXTVAL(c); SELECT NEXTVAL(c); SELECT NEXTVAL(c); SELECT NEXTVAL(c); \
             SELECT NEXTVAL(c); SELECT NEXTVAL(c); SELECT NEXTVAL(c)",
        )
        .await?;
    lines_are(&out, &["1", "2", "3", "4", "5", "1", "2"], "NEXTVAL around the cycle")?;
    if cx.baseline {
        // One mysqld: its cache, not another member's advance, decides what comes next.
        return Ok(());
    }
    cx.converge().await?;
    let v = int(&cx.e_ok(1, "SELECT NEXTVAL(c)").await?, "NEXTVAL on member 1")?;
    ensure!(v == 3, "member 1 after member 0 wrapped to 1, 2: NEXTVAL returned {v}");
    cx.converge().await?;
    let v = int(&cx.e_ok(2, "SELECT NEXTVAL(c)").await?, "NEXTVAL on member 2")?;
    ensure!(v == 5, "member 2 after member 1 drew 3 (cache 2): NEXTVAL returned {v}");
    cx.everywhere("SELECT cycle_count FROM c", &["1"]).await
}
