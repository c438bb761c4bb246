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

use super::client::{record, BodyResult, CommitMark, Session, OP_TIMEOUT, RECONNECT_PAUSE};
use super::cluster::Cluster;
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
    cluster: Arc<Cluster>,
    rec: Recorder,
    keys: Arc<Mutex<Keys>>,
    process: usize,
    member: usize,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
) {
    let mut session = Session::new(member, cluster.opts(member));
    while !stop.load(Ordering::Relaxed) {
        if session.conn().await.is_none() {
            tokio::time::sleep(RECONNECT_PAUSE).await;
            continue;
        }
        let mops = generate(&keys, &mut rng);
        let autocommit = matches!(mops[..], [MicroOp::Append(..)]) && rng.chance(0.5);
        perform(&mut session, &rec, process, mops, autocommit).await;
    }
}

/// Records and runs one transaction; its outcome, or None if there was no connection.
pub async fn perform(
    session: &mut Session,
    rec: &Recorder,
    process: usize,
    mops: Vec<MicroOp>,
    autocommit: bool,
) -> Option<Outcome> {
    let member = session.member;
    let conn = session.conn().await?;
    let op = rec.invoke(process, member, OpValue::Txn(mops.clone()));
    let mark = CommitMark::default();
    let r = tokio::time::timeout(OP_TIMEOUT, body(conn, mops, autocommit, &mark)).await;
    Some(record(rec, op, session.settle(r, &mark).await))
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
pub async fn final_read(
    session: &mut Session,
    rec: &Recorder,
    process: usize,
    keys: &BTreeSet<Key>,
) -> Option<Outcome> {
    let member = session.member;
    let conn = session.conn().await?;
    let invoked: Vec<MicroOp> = keys.iter().map(|&k| MicroOp::Read(k, None)).collect();
    let op = rec.invoke(process, member, OpValue::Txn(invoked));
    let mark = CommitMark::default();
    let keys = keys.clone();
    let committing = &mark;
    let read_all = async move {
        conn.query_drop("START TRANSACTION").await?;
        let rows: Vec<(Key, String)> = conn.query("SELECT k, v FROM jepsen.lists").await?;
        committing.committing();
        conn.query_drop("COMMIT").await?;
        let mut lists: BTreeMap<Key, Vec<Value>> = keys.iter().map(|&k| (k, Vec::new())).collect();
        lists.extend(rows.iter().map(|(k, v)| (*k, parse_list(v))));
        let mops = lists.into_iter().map(|(k, l)| MicroOp::Read(k, Some(l))).collect();
        Ok(Ok(OpValue::Txn(mops)))
    };
    let r = tokio::time::timeout(OP_TIMEOUT, read_all).await;
    Some(record(rec, op, session.settle(r, &mark).await))
}
