//! The list-append workload's clients (Elle's model): transactions of 1-4 micro-ops, each
//! appending a unique value to a keyed list or reading a list, through one member per client.
//!
//! Storage: `lists(k BIGINT PRIMARY KEY, v TEXT)`, one row per list, elements comma-separated.
//! An append is `INSERT ... VALUES (k, 'x') ON DUPLICATE KEY UPDATE v = CONCAT(v, ',x')`, so
//! every append writes the key's row: two concurrent appends to one key conflict and first
//! committer wins. Most transactions are explicit; a lone append sometimes runs as an
//! autocommit statement, to cover that commit path too. Keys rotate: a key that took
//! [`MAX_APPENDS`] appends is retired and a fresh one takes its place, keeping lists short.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mysql_async::prelude::*;
use mysql_async::Conn;

use super::client::{BodyFuture, BodyResult, Client, CommitMark, Operation, Script, RECONNECT_PAUSE};
use super::rng::Rng;
use crate::jepsen::{Key, MicroOp, OpValue, Outcome, Recorder, Value};

/// Keys being written at any time.
const ACTIVE_KEYS: usize = 6;
/// Appends a key takes before it is retired.
const MAX_APPENDS: usize = 24;
const MAX_TXN_LEN: u64 = 4;

/// Which keys are in play, shared by all clients of a run.
pub struct Keys {
    active: Vec<Key>,
    appends: BTreeMap<Key, usize>,
    next_key: Key,
    next_value: Value,
}

impl Keys {
    pub fn new() -> Arc<Mutex<Keys>> {
        Arc::new(Mutex::new(Keys {
            active: (0..ACTIVE_KEYS as Key).collect(),
            appends: BTreeMap::new(),
            next_key: ACTIVE_KEYS as Key,
            next_value: 1,
        }))
    }

    /// Every key any op may have written.
    pub fn all(&self) -> BTreeSet<Key> {
        self.appends.keys().copied().collect()
    }

    fn read_key(&self, rng: &mut Rng) -> Key {
        *rng.pick(&self.active)
    }

    /// A key to append to and a value never appended before.
    fn append(&mut self, rng: &mut Rng) -> (Key, Value) {
        let i = rng.next() as usize % self.active.len();
        let k = self.active[i];
        let n = self.appends.entry(k).or_default();
        *n += 1;
        if *n >= MAX_APPENDS {
            self.active[i] = self.next_key;
            self.next_key += 1;
        }
        let v = self.next_value;
        self.next_value += 1;
        (k, v)
    }
}

pub async fn setup(c: &mut Conn) -> Result<(), mysql_async::Error> {
    c.query_drop("CREATE TABLE jepsen.lists (k BIGINT PRIMARY KEY, v TEXT NOT NULL) ENGINE=InnoDB")
        .await
}

fn lock(keys: &Mutex<Keys>) -> std::sync::MutexGuard<'_, Keys> {
    keys.lock().unwrap_or_else(|e| e.into_inner())
}

fn generate(keys: &Mutex<Keys>, rng: &mut Rng) -> Vec<MicroOp> {
    let mut k = lock(keys);
    (0..rng.range(1, MAX_TXN_LEN))
        .map(|_| {
            if rng.chance(0.5) {
                let (key, v) = k.append(rng);
                MicroOp::Append(key, v)
            } else {
                MicroOp::Read(k.read_key(rng), None)
            }
        })
        .collect()
}

/// One client: random transactions until `stop`.
pub async fn client(
    mut client: Client,
    rec: Recorder,
    keys: Arc<Mutex<Keys>>,
    process: usize,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        if !client.ready().await {
            tokio::time::sleep(RECONNECT_PAUSE).await;
            continue;
        }
        let mops = generate(&keys, &mut rng);
        let autocommit = matches!(mops[..], [MicroOp::Append(..)]) && rng.chance(0.5);
        perform(&mut client, &rec, process, mops, autocommit).await;
        client.pace().await;
    }
}

/// Records and runs one transaction; its outcome, or None if there was no connection.
pub async fn perform(
    client: &mut Client,
    rec: &Recorder,
    process: usize,
    mops: Vec<MicroOp>,
    autocommit: bool,
) -> Option<Outcome> {
    client.perform(rec, process, &AppendTxn { mops, autocommit }).await
}

/// A list-append transaction (a lone append may run as an autocommit statement).
struct AppendTxn {
    mops: Vec<MicroOp>,
    autocommit: bool,
}

impl AppendTxn {
    fn is_autocommit(&self) -> bool {
        self.autocommit && matches!(self.mops[..], [MicroOp::Append(..)])
    }
}

impl Operation for AppendTxn {
    fn invoked(&self) -> OpValue {
        OpValue::Txn(self.mops.clone())
    }

    fn body<'a>(&'a self, c: &'a mut Conn, mark: &'a CommitMark) -> BodyFuture<'a> {
        Box::pin(body(c, self.mops.clone(), self.autocommit, mark))
    }

    /// A read is `SELECT (SELECT v FROM jepsen.lists WHERE k = K)`: exactly one line of output
    /// per read (`NULL` for a list not written yet), so the lines map to the reads in order.
    fn script(&self) -> Script {
        if self.is_autocommit() {
            if let [MicroOp::Append(k, v)] = self.mops[..] {
                return Script::autocommit(append_sql(k, v));
            }
        }
        Script::transaction(
            self.mops
                .iter()
                .map(|m| match m {
                    MicroOp::Append(k, v) => append_sql(*k, *v),
                    MicroOp::Read(k, _) => format!("SELECT (SELECT v FROM jepsen.lists WHERE k = {k})"),
                })
                .collect(),
        )
    }

    fn parse(&self, stdout: &str) -> Result<OpValue, String> {
        let mut lines = stdout.lines();
        let mut mops = self.mops.clone();
        for m in mops.iter_mut() {
            if let MicroOp::Read(k, out) = m {
                let line = lines.next().ok_or(format!("no line for the read of key {k}"))?;
                *out = Some(if line == "NULL" { Vec::new() } else { parse_list(line) });
            }
        }
        if let Some(extra) = lines.find(|l| !l.is_empty()) {
            return Err(format!("unexpected line {extra:?}"));
        }
        Ok(OpValue::Txn(mops))
    }
}

fn append_sql(k: Key, v: Value) -> String {
    format!("INSERT INTO jepsen.lists (k, v) VALUES ({k}, '{v}') ON DUPLICATE KEY UPDATE v = CONCAT(v, ',{v}')")
}

/// The elements of a stored list. A malformed element is kept as a value no one appends
/// (`u64::MAX`), so the checker reports it rather than the harness hiding it.
fn parse_list(text: &str) -> Vec<Value> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().parse().unwrap_or(Value::MAX))
        .collect()
}

async fn body(c: &mut Conn, mut mops: Vec<MicroOp>, autocommit: bool, mark: &CommitMark) -> BodyResult<OpValue> {
    if autocommit {
        if let [MicroOp::Append(k, v)] = mops[..] {
            mark.committing();
            c.query_drop(append_sql(k, v)).await?;
            return Ok(Ok(OpValue::Txn(mops)));
        }
    }
    c.query_drop("START TRANSACTION").await?;
    for m in mops.iter_mut() {
        match m {
            MicroOp::Append(k, v) => c.query_drop(append_sql(*k, *v)).await?,
            MicroOp::Read(k, out) => {
                let text: Option<String> = c
                    .query_first(format!("SELECT v FROM jepsen.lists WHERE k = {k}"))
                    .await?;
                *out = Some(text.as_deref().map(parse_list).unwrap_or_default());
            }
        }
    }
    mark.committing();
    c.query_drop("COMMIT").await?;
    Ok(Ok(OpValue::Txn(mops)))
}

/// A final read of every key in `keys` (and any other the table holds), in one transaction.
pub async fn final_read(client: &mut Client, rec: &Recorder, process: usize, keys: &BTreeSet<Key>) -> Option<Outcome> {
    client.perform(rec, process, &FinalRead { keys: keys.clone() }).await
}

/// Every list, in one transaction.
struct FinalRead {
    keys: BTreeSet<Key>,
}

impl FinalRead {
    fn value(&self, rows: &[(Key, String)]) -> OpValue {
        let mut lists: BTreeMap<Key, Vec<Value>> = self.keys.iter().map(|&k| (k, Vec::new())).collect();
        lists.extend(rows.iter().map(|(k, v)| (*k, parse_list(v))));
        OpValue::Txn(lists.into_iter().map(|(k, l)| MicroOp::Read(k, Some(l))).collect())
    }
}

impl Operation for FinalRead {
    fn invoked(&self) -> OpValue {
        OpValue::Txn(self.keys.iter().map(|&k| MicroOp::Read(k, None)).collect())
    }

    fn body<'a>(&'a self, c: &'a mut Conn, mark: &'a CommitMark) -> BodyFuture<'a> {
        Box::pin(async move {
            c.query_drop("START TRANSACTION").await?;
            let rows: Vec<(Key, String)> = c.query("SELECT k, v FROM jepsen.lists").await?;
            mark.committing();
            c.query_drop("COMMIT").await?;
            Ok(Ok(self.value(&rows)))
        })
    }

    fn script(&self) -> Script {
        Script::transaction(vec!["SELECT k, v FROM jepsen.lists".to_string()])
    }

    fn parse(&self, stdout: &str) -> Result<OpValue, String> {
        let mut rows = Vec::new();
        for line in stdout.lines().filter(|l| !l.is_empty()) {
            let (k, v) = line.split_once('\t').ok_or(format!("bad row {line:?}"))?;
            rows.push((
                k.parse().map_err(|e| format!("bad key in {line:?}: {e}"))?,
                v.to_string(),
            ));
        }
        Ok(self.value(&rows))
    }
}
