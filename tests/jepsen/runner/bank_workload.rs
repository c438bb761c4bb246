//! The bank workload's clients: transfers between accounts and reads of every balance, each
//! in one transaction, through one member per client.
//!
//! A transfer reads both balances in its snapshot and writes the new balances as absolute
//! values computed from that snapshot (`SET balance = 37`, not `balance - 3`), so a lost update
//! that certification failed to abort would show as a wrong total, not be hidden by mysqld's
//! current-read UPDATE.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mysql_async::prelude::*;
use mysql_async::Conn;

use super::client::{record, BodyResult, CommitMark, Session, OP_TIMEOUT, RECONNECT_PAUSE};
use super::cluster::{Cluster, MEMBERS};
use super::rng::Rng;
use crate::jepsen::{BankOp, BankOptions, OpValue, Outcome, Recorder};

pub const ACCOUNTS: u64 = 8;
pub const BALANCE: i64 = 100;

pub fn options() -> BankOptions {
    BankOptions::uniform(ACCOUNTS, BALANCE, MEMBERS)
}

/// Creates and fills the accounts table (the `jepsen` schema exists).
pub async fn setup(c: &mut Conn) -> Result<(), mysql_async::Error> {
    c.query_drop("CREATE TABLE jepsen.accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB")
        .await?;
    let rows: Vec<String> = (0..ACCOUNTS).map(|a| format!("({a}, {BALANCE})")).collect();
    c.query_drop(format!("INSERT INTO jepsen.accounts VALUES {}", rows.join(", ")))
        .await
}

/// One client: random transfers and reads until `stop`.
pub async fn client(
    cluster: Arc<Cluster>,
    rec: Recorder,
    process: usize,
    member: usize,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
) {
    let mut session = Session::new(member, cluster.opts(member));
    while !stop.load(Ordering::Relaxed) {
        let value = if rng.chance(0.4) {
            OpValue::Bank(BankOp::Read(None))
        } else {
            let from = rng.range(0, ACCOUNTS - 1);
            let to = (from + rng.range(1, ACCOUNTS - 1)) % ACCOUNTS;
            OpValue::Bank(BankOp::Transfer {
                from,
                to,
                amount: rng.range(1, 5) as i64,
            })
        };
        if perform(&mut session, &rec, process, value).await.is_none() {
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
    }
}

/// Records and runs one op; its outcome, or None if there was no connection to run it on
/// (nothing recorded).
pub async fn perform(session: &mut Session, rec: &Recorder, process: usize, value: OpValue) -> Option<Outcome> {
    let member = session.member;
    let conn = session.conn().await?;
    let op = rec.invoke(process, member, value.clone());
    let mark = CommitMark::default();
    let r = tokio::time::timeout(OP_TIMEOUT, body(conn, &value, &mark)).await;
    Some(record(rec, op, session.settle(r, &mark).await))
}

async fn body(c: &mut Conn, value: &OpValue, mark: &CommitMark) -> BodyResult<OpValue> {
    match value {
        OpValue::Bank(BankOp::Transfer { from, to, amount }) => transfer(c, *from, *to, *amount, mark).await,
        _ => read(c, mark).await,
    }
}

async fn read(c: &mut Conn, mark: &CommitMark) -> BodyResult<OpValue> {
    c.query_drop("START TRANSACTION").await?;
    let rows: Vec<(u64, i64)> = c.query("SELECT id, balance FROM jepsen.accounts").await?;
    mark.committing();
    c.query_drop("COMMIT").await?;
    let balances: BTreeMap<u64, i64> = rows.into_iter().collect();
    Ok(Ok(OpValue::Bank(BankOp::Read(Some(balances)))))
}

async fn transfer(c: &mut Conn, from: u64, to: u64, amount: i64, mark: &CommitMark) -> BodyResult<OpValue> {
    c.query_drop("START TRANSACTION").await?;
    let rows: Vec<(u64, i64)> = c
        .query(format!(
            "SELECT id, balance FROM jepsen.accounts WHERE id IN ({from}, {to})"
        ))
        .await?;
    let balance = |id: u64| rows.iter().find(|r| r.0 == id).map(|r| r.1);
    let (Some(b_from), Some(b_to)) = (balance(from), balance(to)) else {
        c.query_drop("ROLLBACK").await?;
        return Ok(Err(format!("accounts {from}/{to} not found: read {rows:?}")));
    };
    if b_from < amount {
        c.query_drop("ROLLBACK").await?;
        return Ok(Err(format!("insufficient funds: account {from} holds {b_from}")));
    }
    c.query_drop(format!(
        "UPDATE jepsen.accounts SET balance = {} WHERE id = {from}",
        b_from - amount
    ))
    .await?;
    c.query_drop(format!(
        "UPDATE jepsen.accounts SET balance = {} WHERE id = {to}",
        b_to + amount
    ))
    .await?;
    mark.committing();
    c.query_drop("COMMIT").await?;
    Ok(Ok(OpValue::Bank(BankOp::Transfer { from, to, amount })))
}
