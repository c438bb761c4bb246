//! Settling this member's own prepared XA transactions when their session could not: the
//! session's connection broke, its proposal's outcome became unknown, or the proxy restarted
//! between `XA PREPARE` and `XA COMMIT`.
//!
//! mysqld keeps a prepared XA transaction across disconnects and restarts (MariaDB 10.5+),
//! and only a connection that does not hold it may commit it. So: while it is listed by
//! `XA RECOVER`, commit or roll it back by the verdict (retrying while its old connection is
//! still closing); once it is not listed, it was settled already. A transaction whose verdict
//! is Commit is never rolled back by anyone, and its prepare was durable in mysqld's binlog
//! before it was proposed (the tap reads only what mysqld has written), so "not listed" with
//! a Commit verdict means committed.

use std::time::Duration;

use mysql_async::prelude::Queryable;

use super::super::txn::{xid_gtrid, Txn};

/// How long to keep trying while the transaction's old connection is still open.
const SETTLE_PATIENCE: Duration = Duration::from_secs(30);

/// Commits (`commit`) or rolls back this member's prepared transaction `t`.
pub async fn settle(conn: &mut mysql_async::Conn, member: u64, t: &Txn, commit: bool) -> Result<(), String> {
    settle_trx(conn, member, t.trx_id, commit).await
}

/// Settles a prepared transaction whose session knows its fate but lost the connection that
/// held it (or never proposed it: then `commit` is false), as soon as mysqld lets another
/// connection reach it: waiting for the applier to get there in log order could deadlock
/// with an earlier entry that waits for this transaction's row locks.
pub async fn settle_soon(pool: mysql_async::Pool, member: u64, trx_id: u64, commit: bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        let r = async {
            let mut c = pool.get_conn().await.map_err(|e| e.to_string())?;
            settle_trx(&mut c, member, trx_id, commit).await
        }
        .await;
        match r {
            Ok(()) => return,
            Err(e) if std::time::Instant::now() < deadline => {
                tracing::debug!(trx_id, error = %e, "prepared transaction not settled yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                tracing::error!(trx_id, error = %e, "cannot settle a prepared transaction of this member");
                return;
            }
        }
    }
}

async fn settle_trx(conn: &mut mysql_async::Conn, member: u64, trx_id: u64, commit: bool) -> Result<(), String> {
    let gtrid = xid_gtrid(member, trx_id);
    let verb = if commit { "COMMIT" } else { "ROLLBACK" };
    let started = std::time::Instant::now();
    loop {
        if !is_prepared(conn, &gtrid).await? {
            return Ok(());
        }
        match conn.query_drop(format!("XA {verb} '{gtrid}'")).await {
            Ok(()) => {
                tracing::info!(xid = %gtrid, "settled a prepared transaction of this member ({verb})");
                return Ok(());
            }
            // Still held by the session's connection, which is going away.
            Err(mysql_async::Error::Server(e)) if e.code == 1397 && started.elapsed() < SETTLE_PATIENCE => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(format!("cannot {verb} prepared transaction {gtrid}: {e}")),
        }
    }
}

/// Whether `gtrid` is a prepared XA transaction in mysqld.
async fn is_prepared(conn: &mut mysql_async::Conn, gtrid: &str) -> Result<bool, String> {
    let rows: Vec<mysql_async::Row> = conn.query("XA RECOVER").await.map_err(|e| e.to_string())?;
    Ok(rows.iter().any(|r| {
        let data: Option<Vec<u8>> = r.get(3);
        data.as_deref() == Some(gtrid.as_bytes())
    }))
}

/// This member's prepared transactions that mysqld holds, by trx id.
async fn prepared_of(conn: &mut mysql_async::Conn, member: u64) -> Result<Vec<u64>, String> {
    let rows: Vec<mysql_async::Row> = conn.query("XA RECOVER").await.map_err(|e| e.to_string())?;
    Ok(rows
        .iter()
        .filter_map(|r| r.get::<Vec<u8>, _>(3))
        .filter_map(|d| super::super::txn::parse_xid_gtrid(&d))
        .filter(|&(m, _)| m == member)
        .map(|(_, trx)| trx)
        .collect())
}

/// Rolls back prepared transactions that were never proposed, which would otherwise hold
/// their row locks for ever: those a previous process of this member left behind (it
/// crashed between `XA PREPARE` and the proposal), and one whose proposal's outcome became
/// unknown to its session and that the log has not settled since. Runs once the applier has applied everything the log had
/// committed by then: every prepared transaction of the previous process that is in the log
/// up to there has been settled, so what is still prepared was never certified (or its
/// proposal is still in flight: if it commits later, the applier replays its row events,
/// knowing from `swept` that it was rolled back here).
pub async fn sweep_orphans(
    pool: mysql_async::Pool,
    member: u64,
    orphan: impl Fn(u64) -> bool,
    applied_to: impl std::future::Future<Output = ()>,
    swept: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<u64>>>,
) {
    applied_to.await;
    let r = async {
        let mut c = pool.get_conn().await.map_err(|e| e.to_string())?;
        for trx in prepared_of(&mut c, member).await? {
            if !orphan(trx) {
                continue;
            }
            let gtrid = xid_gtrid(member, trx);
            swept.lock().unwrap().insert(trx);
            match c.query_drop(format!("XA ROLLBACK '{gtrid}'")).await {
                Ok(()) => tracing::warn!(xid = %gtrid, "rolled back a prepared transaction that was never certified"),
                Err(e) => {
                    swept.lock().unwrap().remove(&trx);
                    tracing::warn!(xid = %gtrid, error = %e, "cannot roll back an orphaned prepared transaction");
                }
            }
        }
        Ok::<(), String>(())
    }
    .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, "orphaned prepared transactions were not checked");
    }
}

/// Rolls back this member's prepared transactions that no live session is finishing
/// (`preparing` lists those that one is), when a certified replay waits for their row locks.
/// Such a transaction's fate comes later in the log (or never, if its proposal was lost):
/// an abort there is what this does now, and a commit is replayed from its row events,
/// because it is recorded in `swept`. A remote winner never waits on a local loser.
pub async fn release_unowned(
    conn: &mut mysql_async::Conn,
    member: u64,
    preparing: &std::collections::HashSet<u64>,
    swept: &std::sync::Mutex<std::collections::HashSet<u64>>,
) {
    let Ok(held) = prepared_of(conn, member).await else {
        return;
    };
    for trx in held.into_iter().filter(|t| !preparing.contains(t)) {
        let gtrid = xid_gtrid(member, trx);
        swept.lock().unwrap().insert(trx);
        match conn.query_drop(format!("XA ROLLBACK '{gtrid}'")).await {
            Ok(()) => {
                tracing::info!(xid = %gtrid, "rolled back a prepared transaction no session finishes, for a certified replay")
            }
            Err(e) => {
                // Not rolled back (still held by its closing connection): not swept either.
                swept.lock().unwrap().remove(&trx);
                tracing::debug!(xid = %gtrid, error = %e, "cannot roll back a prepared transaction yet");
            }
        }
    }
}
