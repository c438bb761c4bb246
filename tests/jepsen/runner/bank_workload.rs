//! The bank workload's clients: transfers between accounts and reads of every balance, each
//! in one transaction, through one member per client.
//!
//! A transfer reads both balances in its snapshot and writes the new balances as absolute
//! values computed from that snapshot (`SET balance = 37`, not `balance - 3`), so a lost update
//! that certification failed to abort would show as a wrong total, not be hidden by mysqld's
//! current-read UPDATE. The CLI client does the same with user variables: it reads the
//! balances into `@b_from`/`@b_to` and writes `SET balance = @b_from - 3`, a value fixed by its
//! snapshot read, not mysqld's current read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mysql_async::prelude::*;
use mysql_async::Conn;

use super::client::{BodyFuture, BodyResult, Client, CommitMark, Operation, Script, RECONNECT_PAUSE};
use super::cluster::MEMBERS;
use super::rng::Rng;
use crate::jepsen::{BankOp, BankOptions, OpValue, Outcome, Recorder};

pub const ACCOUNTS: u64 = 8;
pub const BALANCE: i64 = 100;

pub fn options() -> BankOptions {
    BankOptions::uniform(ACCOUNTS, BALANCE, MEMBERS)
}

/// Creates and fills the accounts table (the `jepsen` schema exists). The CLI's transfer
/// relies on strict mode to fail a debit the source cannot cover (see
/// [`BankOperation::script`]): the set-up says so if mysqld is not in strict mode.
pub async fn setup(c: &mut Conn) -> anyhow::Result<()> {
    let mode: Option<String> = c.query_first("SELECT @@GLOBAL.sql_mode").await?;
    let mode = mode.unwrap_or_default();
    if !mode.contains("STRICT_TRANS_TABLES") && !mode.contains("STRICT_ALL_TABLES") {
        anyhow::bail!("mysqld is not in strict mode (sql_mode {mode:?}): the CLI's transfers need it");
    }
    c.query_drop("CREATE TABLE jepsen.accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB")
        .await?;
    let rows: Vec<String> = (0..ACCOUNTS).map(|a| format!("({a}, {BALANCE})")).collect();
    c.query_drop(format!("INSERT INTO jepsen.accounts VALUES {}", rows.join(", ")))
        .await?;
    Ok(())
}

/// One client: random transfers and reads until `stop`.
pub async fn client(mut client: Client, rec: Recorder, process: usize, mut rng: Rng, stop: Arc<AtomicBool>) {
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
        if perform(&mut client, &rec, process, value).await.is_none() {
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
        client.pace().await;
    }
}

/// Records and runs one op; its outcome, or None if there was no connection to run it on
/// (nothing recorded).
pub async fn perform(client: &mut Client, rec: &Recorder, process: usize, value: OpValue) -> Option<Outcome> {
    client.perform(rec, process, &BankOperation(value)).await
}

/// A transfer or a read of every balance.
struct BankOperation(OpValue);

impl Operation for BankOperation {
    fn invoked(&self) -> OpValue {
        self.0.clone()
    }

    fn body<'a>(&'a self, c: &'a mut Conn, mark: &'a CommitMark) -> BodyFuture<'a> {
        Box::pin(body(c, &self.0, mark))
    }

    /// A transfer reads both balances into user variables (in the transaction's snapshot, as
    /// the connection clients do), shows them, and writes both new balances as values computed
    /// from them. Where the source holds too little (or an account is missing) the debit
    /// writes NULL into the NOT NULL column: strict mode fails it (1048) before COMMIT, the CLI
    /// stops, and closing its connection rolls the transaction back.
    fn script(&self) -> Script {
        match &self.0 {
            OpValue::Bank(BankOp::Transfer { from, to, amount }) => Script::transaction(vec![
                format!("SELECT balance INTO @b_from FROM jepsen.accounts WHERE id = {from}"),
                format!("SELECT balance INTO @b_to FROM jepsen.accounts WHERE id = {to}"),
                "SELECT @b_from, @b_to".to_string(),
                format!(
                    "UPDATE jepsen.accounts SET balance = IF(@b_from >= {amount}, @b_from - {amount}, NULL) WHERE id = {from}"
                ),
                format!("UPDATE jepsen.accounts SET balance = @b_to + {amount} WHERE id = {to}"),
            ]),
            _ => Script::transaction(vec!["SELECT id, balance FROM jepsen.accounts".to_string()]),
        }
    }

    fn parse(&self, stdout: &str) -> Result<OpValue, String> {
        match &self.0 {
            OpValue::Bank(BankOp::Transfer { .. }) => Ok(self.0.clone()),
            _ => {
                let mut balances = BTreeMap::new();
                for line in stdout.lines().filter(|l| !l.is_empty()) {
                    let (id, balance) = line.split_once('\t').ok_or(format!("bad row {line:?}"))?;
                    let id: u64 = id.parse().map_err(|e| format!("bad id in {line:?}: {e}"))?;
                    let balance: i64 = balance.parse().map_err(|e| format!("bad balance in {line:?}: {e}"))?;
                    balances.insert(id, balance);
                }
                Ok(OpValue::Bank(BankOp::Read(Some(balances))))
            }
        }
    }
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
