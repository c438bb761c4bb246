//! Applying the certified log to the local mysqld, in log order, exactly once.
//!
//! Every entry reaches the applier with its verdict. Aborted transactions of other members
//! and watermark entries only advance the applied watermark. Committed transactions of other
//! members are replayed from their row events with `BINLOG` statements (`applier/replay.rs`),
//! with the applied-index marker in the same mysqld transaction, several entries per round
//! trip. This member's own transactions are prepared XA transactions on mysqld: their session
//! commits or rolls them back by the verdict and reports; when it cannot (its connection
//! broke, the outcome became unknown, the proxy restarted), the applier settles the prepared
//! transaction itself (`applier/local.rs`). DDL from other members runs with the origin
//! session's context; the origin ran its own before proposing it. A replay that fails stops
//! the applier: the member goes to ERROR and never skips an entry.
//!
//! The applier's connection writes in its own GTID domain ([`APPLIER_DOMAIN`]), so the binlog
//! tap can tell replayed writes from writes that bypassed grproxy. Clients never need any
//! privilege on the marker table; the session refuses statements that name `grproxy.*`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::TxOpts;
use tokio::sync::{mpsc, oneshot, watch};

use super::ident;
use super::tap::APPLIER_DOMAIN;
use crate::backend::service_conn::{ServiceConn, ServiceError, ServiceTarget};

/// Most entries replayed in one mysqld transaction.
const MAX_BATCH: usize = 32;
/// How often (at most) the applied watermark is recorded in mysqld while entries arrive, and
/// how long the applier waits idle before recording it.
const COMPACT_EVERY: Duration = Duration::from_millis(500);
use super::certifier::Verdict;
use super::metadata::MetadataCache;
use super::txn::{Ddl, Entry, SequenceAdvance, TableName, Txn};

mod inbox;
mod local;
pub mod replay;
mod roles;
pub use inbox::Feed;
use inbox::Inbox;

/// Schema and table of the applied-index markers.
pub const MARKER_SCHEMA: &str = "grproxy";
pub const MARKER_TABLE: &str = "applied";

/// One certified entry, in log order.
pub struct Certified {
    pub index: u64,
    pub entry: Entry,
    pub verdict: Verdict,
}

/// What the origin session did with its own certified entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalOutcome {
    /// Finished by the verdict: its XA transaction committed or rolled back (a DDL: ran).
    Settled,
    /// The session could not finish it (its connection broke, or the outcome was unknown to
    /// it): the applier settles the prepared transaction.
    Lost,
}

/// Sessions of this member waiting for their entry's turn, by transaction id.
#[derive(Default, Clone)]
pub struct PendingLocal {
    inner: Arc<Mutex<HashMap<u64, oneshot::Receiver<LocalOutcome>>>>,
}

impl PendingLocal {
    /// Registers a transaction before it is proposed; the session reports through the sender.
    pub fn register(&self, trx_id: u64) -> oneshot::Sender<LocalOutcome> {
        let (tx, rx) = oneshot::channel();
        self.inner.lock().unwrap().insert(trx_id, rx);
        tx
    }

    /// Drops a registration whose transaction was certainly not proposed.
    pub fn cancel(&self, trx_id: u64) {
        self.inner.lock().unwrap().remove(&trx_id);
    }

    fn take(&self, trx_id: u64) -> Option<oneshot::Receiver<LocalOutcome>> {
        self.inner.lock().unwrap().remove(&trx_id)
    }
}

/// The proxy's sessions, as the applier sees them: open local transactions that may block a
/// certified remote one are marked aborted (their clients get 1213); the backend threads of
/// those in the middle of a statement are returned so the applier can `KILL QUERY` them.
pub trait LocalSessions: Send + Sync {
    fn brute_force(&self, tables: &[TableName], all: bool) -> Vec<u32>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplierState {
    Online,
    /// A state transfer is under way (see `transfer`).
    Recovering,
    Error(String),
}

/// Why [`Applier::apply_until_stop`] returned.
enum Stop {
    Closed,
    /// A restore this member cannot follow from its own data.
    Gap(String),
    /// An entry could not be applied.
    Failed(String),
    /// An operator asked for a rebuild.
    Rebuild(Option<u64>, super::recovery::Reply),
}

/// What the apply loop keeps between its runs.
struct RunState {
    /// Entries above the watermark already applied (their markers were found).
    applied_above: std::collections::BTreeSet<u64>,
    watermark: u64,
    durable: u64,
    /// Entries taken from the feed but not applied yet.
    queue: VecDeque<Certified>,
    /// How many at the queue's front must be applied one by one (a batch that failed).
    solo: usize,
}

impl RunState {
    fn new(base: u64, markers: Vec<u64>) -> Self {
        RunState {
            applied_above: markers.into_iter().collect(),
            watermark: base,
            durable: base,
            queue: VecDeque::new(),
            solo: 0,
        }
    }
}

pub struct Applier {
    pub member_id: u64,
    pub pool: mysql_async::Pool,
    pub metadata: MetadataCache,
    pub pending: PendingLocal,
    pub watermark: watch::Sender<u64>,
    /// The watermark recorded in mysqld (see [`Applier::compact`]): what a restart resumes after.
    pub durable: watch::Sender<u64>,
    /// The entry the applier is working on: everything before it is applied.
    pub reached: watch::Sender<u64>,
    pub state: watch::Sender<ApplierState>,
    pub sessions: Option<Arc<dyn LocalSessions>>,
    pub stats: Arc<super::stats::GroupStats>,
    /// Transactions of an earlier process of this member that were rolled back as orphans
    /// (`local::sweep_orphans`): if one commits in the log after all, it is replayed.
    pub swept: Arc<Mutex<std::collections::HashSet<u64>>>,
    /// This member's transactions between `XA PREPARE` and their settling by a live session.
    pub preparing: Arc<Mutex<std::collections::HashSet<u64>>>,
    /// State transfer: requests to rebuild and the member's way to do it.
    pub recovery: Arc<super::recovery::Recovery>,
    /// DDL waits while a state-transfer copy is taken here.
    pub copy_gate: Arc<super::donor::CopyGate>,
    /// Replays go to this member's binlog too (`group.log_replays`); otherwise the replay
    /// connection runs with `sql_log_bin = 0`.
    pub log_replays: bool,
    /// Where the replay connection logs in.
    pub service: ServiceTarget,
    /// The connection other members' transactions are replayed on (raw: a batch is one
    /// multi-statement query, see `replay::batch_statements`). Only the apply loop uses it.
    pub replay_conn: tokio::sync::Mutex<Option<ServiceConn>>,
}

pub use local::{settle_soon, sweep_orphans};

/// Creates the marker table if needed and returns the indexes already applied: everything up
/// to the smallest marker (older markers are compacted away), plus the markers above it.
pub async fn load_applied(pool: &mysql_async::Pool, log_replays: bool) -> Result<(u64, Vec<u64>), mysql_async::Error> {
    let mut c = pool.get_conn().await?;
    c.query_drop(own_writes_session(log_replays)).await?;
    c.query_drop(format!("CREATE DATABASE IF NOT EXISTS {}", ident(MARKER_SCHEMA)))
        .await?;
    c.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {}.{} (idx BIGINT UNSIGNED NOT NULL PRIMARY KEY) ENGINE=InnoDB",
        ident(MARKER_SCHEMA),
        ident(MARKER_TABLE)
    ))
    .await?;
    let idx: Vec<u64> = c
        .query(format!(
            "SELECT idx FROM {}.{} ORDER BY idx",
            ident(MARKER_SCHEMA),
            ident(MARKER_TABLE)
        ))
        .await?;
    let base = idx.first().copied().unwrap_or(0);
    Ok((base, idx))
}

impl Applier {
    /// Applies entries as they arrive until the channel closes. A restore this member cannot
    /// follow, a failed apply (state ERROR) or an operator's `GRPROXY REBUILD` leads to a
    /// state transfer when the member has one (`transfer`), after which applying resumes
    /// from the copy's watermark.
    pub async fn run(self, rx: mpsc::UnboundedReceiver<Feed>, base: u64, markers: Vec<u64>) {
        let mut inbox = Inbox::new(rx, base);
        let mut st = RunState::new(base, markers);
        // A rebuild asked for while in ERROR (after a failed transfer too).
        let mut next: Option<(u64, Option<u64>, Option<super::recovery::Reply>)> = None;
        loop {
            let (need, from, reply) = match next.take() {
                Some(n) => n,
                None => match self.apply_until_stop(&mut inbox, &mut st).await {
                    Stop::Closed => return,
                    Stop::Gap(msg) if self.recovery.ready().await => {
                        tracing::warn!("{msg}; starting a state transfer");
                        (inbox.gap_horizon().unwrap_or(st.watermark), None, None)
                    }
                    Stop::Gap(msg) | Stop::Failed(msg) => {
                        tracing::error!("{msg}; this member stops applying (state ERROR)");
                        let _ = self.state.send(ApplierState::Error(msg));
                        // An operator may rebuild it (GRPROXY REBUILD): a state transfer, then on.
                        let (from, reply) = self.recovery.wait_request().await;
                        (st.watermark.max(inbox.gap_horizon().unwrap_or(0)), from, Some(reply))
                    }
                    Stop::Rebuild(from, reply) => (st.watermark, from, Some(reply)),
                },
            };
            let _ = self.state.send(ApplierState::Recovering);
            let outcome = match self.recovery.run(need, from).await {
                Ok(summary) => match load_applied(&self.pool, self.log_replays).await {
                    Ok((b, m)) if b >= need || (b + 1..=need).all(|i| m.binary_search(&i).is_ok()) => {
                        st = RunState::new(b, m);
                        inbox.rebase(b);
                        let _ = self.watermark.send(b);
                        let _ = self.durable.send(b);
                        let _ = self.reached.send(b);
                        let _ = self.state.send(ApplierState::Online);
                        tracing::info!(index = b, "state transfer done; applying the log from index {b}");
                        Ok(summary)
                    }
                    Ok((b, _)) => Err(format!(
                        "the copy is at log index {b}, below the {need} this member needs; rebuild it again"
                    )),
                    Err(e) => Err(format!("reading the copy's applied markers: {e}")),
                },
                Err(e) => Err(e),
            };
            if let Err(e) = &outcome {
                tracing::error!("state transfer failed: {e}");
                let _ = self
                    .state
                    .send(ApplierState::Error(format!("state transfer failed: {e}")));
            }
            let failed = outcome.is_err();
            if let Some(reply) = reply {
                let _ = reply.send(outcome);
            }
            if failed {
                // In ERROR until a rebuild succeeds: automatic ones retry after a pause.
                let again = tokio::select! {
                    (f, reply) = self.recovery.wait_request() => (f, Some(reply)),
                    _ = tokio::time::sleep(Duration::from_secs(10)) => (None, None),
                };
                let (from, reply) = again;
                next = Some((need, from, reply));
            }
        }
    }

    /// The apply loop: returns when the feed closes, a restore leaves a gap, an apply fails
    /// or a rebuild is requested.
    async fn apply_until_stop(&self, inbox: &mut Inbox, st: &mut RunState) -> Stop {
        let RunState {
            applied_above,
            watermark,
            durable,
            queue,
            solo,
        } = st;
        let mut conn = None;
        let mut compacted_at = std::time::Instant::now();
        loop {
            if let Some((from, reply)) = self.recovery.take_request() {
                return Stop::Rebuild(from, reply);
            }
            if *watermark > *durable && (*watermark - *durable >= 1000 || compacted_at.elapsed() >= COMPACT_EVERY) {
                *durable = self.compact(*watermark, *durable).await;
                compacted_at = std::time::Instant::now();
            }
            let c = match queue.pop_front() {
                Some(c) => c,
                None => match tokio::time::timeout(COMPACT_EVERY, inbox.recv()).await {
                    Err(_) => continue, // idle: time to make the watermark durable
                    Ok(Ok(Some(c))) => c,
                    Ok(Ok(None)) => return Stop::Closed,
                    Ok(Err(msg)) => {
                        queue.clear();
                        return Stop::Gap(msg);
                    }
                },
            };
            let alone = *solo > 0;
            *solo = solo.saturating_sub(1);
            if c.index <= *watermark {
                continue;
            }
            let batchable = |e: &Certified| self.batchable(e) && !applied_above.contains(&e.index);
            let c = if !alone && batchable(&c) {
                // Other members' transactions already waiting are applied together, in one
                // mysqld transaction with their markers: one commit instead of one each.
                let mut batch = vec![c];
                while batch.len() < MAX_BATCH {
                    match queue.pop_front().or_else(|| inbox.try_recv()) {
                        Some(n) if batchable(&n) => batch.push(n),
                        Some(n) => {
                            queue.push_front(n);
                            break;
                        }
                        None => break,
                    }
                }
                if batch.len() > 1 {
                    let _ = self.reached.send(batch[0].index);
                    match self.replay_batch(&batch).await {
                        Ok(()) => {
                            *watermark = batch.last().expect("non-empty").index;
                            let _ = self.reached.send(*watermark);
                            let _ = self.watermark.send(*watermark);
                        }
                        Err(e) => {
                            // Rolled back (or committed with its markers if only the reply
                            // was lost): apply entry by entry, which checks markers, retries
                            // and brute-forces as usual.
                            tracing::debug!(error = %e, "batched replay failed; applying one by one");
                            conn = None;
                            *solo += batch.len();
                            for e in batch.into_iter().rev() {
                                queue.push_front(e);
                            }
                        }
                    }
                    continue;
                }
                batch.pop().expect("one entry")
            } else {
                c
            };
            let _ = self.reached.send(c.index);
            let already = applied_above.remove(&c.index);
            if !already {
                if let Err(msg) = self.apply_retrying(&mut conn, &c).await {
                    // Kept: a rebuild that lands below it applies it again.
                    queue.push_front(c);
                    return Stop::Failed(msg);
                }
            }
            *watermark = c.index;
            let _ = self.watermark.send(*watermark);
        }
    }

    /// Applies one entry. While mysqld is unreachable (restarting after a crash) it waits and
    /// tries again, checking the marker first (the entry may have committed just before the
    /// connection broke). An error with mysqld up is retried twice, then is final.
    async fn apply_retrying(&self, conn: &mut Option<mysql_async::Conn>, c: &Certified) -> Result<(), String> {
        let mut failures = 0;
        loop {
            let err = match self.apply_one(conn, c).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            *conn = None;
            loop {
                match self.marker_present(c.index).await {
                    Ok(true) => return Ok(()),
                    Ok(false) => break,
                    Err(e) => {
                        tracing::warn!(index = c.index, error = %e, "mysqld unreachable; the applier waits for it");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            failures += 1;
            if failures >= 3 {
                return Err(format!("cannot apply log index {}: {err}", c.index));
            }
            tracing::warn!(index = c.index, error = %err, "apply failed; retrying");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Entries that may share a mysqld transaction: other members' certified transactions,
    /// and entries that change nothing locally (aborted transactions, watermarks).
    fn batchable(&self, c: &Certified) -> bool {
        match (&c.entry, c.verdict) {
            (Entry::Txn(t), _) => t.origin != self.member_id,
            (Entry::Watermark { .. } | Entry::Topology(_), _) => true,
            _ => false,
        }
    }

    /// Replays several entries in one mysqld transaction, with their markers (one round trip
    /// when their events fit one bounded `BINLOG`: see `replay::batch_statements`).
    async fn replay_batch(&self, batch: &[Certified]) -> Result<(), String> {
        let started = std::time::Instant::now();
        let txns: Vec<(u64, &Txn)> = batch
            .iter()
            .filter_map(|e| match (&e.entry, e.verdict) {
                (Entry::Txn(t), Verdict::Commit) => Some((e.index, t)),
                _ => None,
            })
            .collect();
        if txns.is_empty() {
            return Ok(());
        }
        self.replay(&replay::batch_statements(&txns))
            .await
            .map_err(|e| e.message)?;
        self.stats
            .replay_batches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let per_txn = started.elapsed() / txns.len() as u32;
        for _ in 0..txns.len() {
            self.stats.replay.record(per_txn);
        }
        Ok(())
    }

    /// Runs a replay's queries on the replay connection (opened when there is none). On an
    /// error the transaction they opened is rolled back (the connection is dropped when it
    /// broke) and the error returned.
    async fn replay(&self, queries: &[replay::Query]) -> Result<(), ServiceError> {
        let mut guard = self.replay_conn.lock().await;
        let c = match &mut *guard {
            Some(c) => c,
            empty => {
                let setup = format!("{}, innodb_lock_wait_timeout = 1", own_writes_session(self.log_replays));
                empty.insert(ServiceConn::open(&self.service, &setup, Duration::from_secs(10)).await?)
            }
        };
        for q in queries {
            if let Err(e) = c.run(&q.sql, q.statements).await {
                if e.code.is_none() || c.run("ROLLBACK", 1).await.is_err() {
                    *guard = None;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    async fn marker_present(&self, index: u64) -> Result<bool, mysql_async::Error> {
        let mut c = self.pool.get_conn().await?;
        let sql = format!(
            "SELECT COUNT(*) FROM {}.{} WHERE idx = ?",
            ident(MARKER_SCHEMA),
            ident(MARKER_TABLE)
        );
        let n: Option<i64> = c.exec_first(sql, (index,)).await?;
        Ok(n.unwrap_or(0) > 0)
    }

    async fn apply_one(&self, conn: &mut Option<mysql_async::Conn>, c: &Certified) -> Result<(), String> {
        match (&c.entry, c.verdict) {
            (Entry::Txn(t), Verdict::Commit)
                if t.origin == self.member_id && self.swept.lock().unwrap().contains(&t.trx_id) =>
            {
                self.replay_winning(conn, c.index, t).await
            }
            (Entry::Txn(t), verdict) if t.origin == self.member_id => {
                if let Some(rx) = self.pending.take(t.trx_id) {
                    if let Ok(LocalOutcome::Settled) = rx.await {
                        return Ok(());
                    }
                }
                let conn = self.connection(conn).await?;
                let _commit = self.copy_gate.commit_guard().await;
                let commit = verdict == Verdict::Commit;
                // The end of a transaction mysqld logged at XA PREPARE is logged too.
                self.log_client_xa(conn, true).await?;
                let r = local::settle(conn, self.member_id, t, commit).await;
                self.log_client_xa(conn, false).await?;
                if r.is_ok() && commit {
                    self.copy_gate.committed(c.index);
                }
                r
            }
            (Entry::Txn(t), Verdict::Commit) => self.replay_winning(conn, c.index, t).await,
            (Entry::Ddl(d), _) => {
                if d.origin == self.member_id {
                    // The origin ran it before proposing it.
                    if let Some(rx) = self.pending.take(d.trx_id) {
                        let _ = rx.await;
                    }
                    self.metadata.invalidate();
                    let conn = self.connection(conn).await?;
                    let r = write_marker(conn, c.index).await;
                    // The statement's effect and its marker are both in: a copy may start.
                    self.copy_gate.marked(d.trx_id);
                    return r;
                }
                let _gate = self.copy_gate.enter().await;
                let c2 = self.connection(conn).await?;
                let r = run_ddl(c2, c.index, d).await;
                // The statement's session variables must not stay on the applier's connection.
                *conn = None;
                self.metadata.invalidate();
                r
            }
            (Entry::Sequence(a), _) => {
                if a.origin == self.member_id {
                    // Its origin holds it already (with the cache it reserved, which a SETVAL
                    // here would throw away).
                    return Ok(());
                }
                let conn = self.connection(conn).await?;
                advance_sequence(conn, c.index, a).await
            }
            _ => Ok(()),
        }
    }

    async fn connection<'a>(
        &self,
        conn: &'a mut Option<mysql_async::Conn>,
    ) -> Result<&'a mut mysql_async::Conn, String> {
        if conn.is_none() {
            let mut c = self.pool.get_conn().await.map_err(|e| e.to_string())?;
            c.query_drop(format!(
                "{}, innodb_lock_wait_timeout = 1",
                own_writes_session(self.log_replays)
            ))
            .await
            .map_err(|e| e.to_string())?;
            *conn = Some(c);
        }
        Ok(conn.as_mut().expect("just set"))
    }

    /// Replays a certified transaction; it never waits on an undecided local one: on a lock
    /// wait timeout or deadlock, the local transactions that may hold its rows are aborted
    /// (brute force) and the replay is retried.
    async fn replay_winning(&self, conn: &mut Option<mysql_async::Conn>, index: u64, t: &Txn) -> Result<(), String> {
        let mut attempt = 0u32;
        let started = std::time::Instant::now();
        loop {
            match self.replay(&replay::batch_statements(&[(index, t)])).await {
                Ok(()) => {
                    self.stats.replay.record(started.elapsed());
                    return Ok(());
                }
                Err(ServiceError {
                    code: Some(1205 | 1213),
                    message,
                }) if attempt < 100 => {
                    attempt += 1;
                    let all = attempt > 3;
                    let victims = self
                        .sessions
                        .as_ref()
                        .map(|s| s.brute_force(&t.tables, all))
                        .unwrap_or_default();
                    tracing::debug!(
                        index,
                        attempt,
                        ?victims,
                        "replay blocked ({message}); aborting local transactions"
                    );
                    let c = self.connection(conn).await?;
                    for thread in victims {
                        let _ = c.query_drop(format!("KILL QUERY {thread}")).await;
                    }
                    if attempt >= 2 {
                        // A prepared transaction of this member that no session is finishing
                        // cannot be killed, and its own entry (if any) comes later in the log.
                        let preparing = self.preparing.lock().unwrap().clone();
                        self.log_client_xa(c, true).await?;
                        local::release_unowned(c, self.member_id, &preparing, &self.swept).await;
                        self.log_client_xa(c, false).await?;
                    }
                    tokio::time::sleep(Duration::from_millis(20 * attempt.min(10) as u64)).await;
                }
                Err(e) => return Err(e.message),
            }
        }
    }

    /// Drops markers far below the watermark, keeping the newest ones.
    /// Makes `watermark` durable in mysqld: its marker (everything up to it is applied) in
    /// place of every older one, in one transaction. A restart then resumes after it, and it
    /// is what this member reports to the group ([`Applier::durable`]). Returns the durable
    /// watermark (the old one if mysqld refused).
    async fn compact(&self, watermark: u64, durable: u64) -> u64 {
        let markers = format!("{}.{}", ident(MARKER_SCHEMA), ident(MARKER_TABLE));
        let r = async {
            let mut c = self.pool.get_conn().await?;
            c.query_drop(own_writes_session(self.log_replays)).await?;
            let mut tx = c.start_transaction(TxOpts::default()).await?;
            tx.exec_drop(format!("INSERT IGNORE INTO {markers} (idx) VALUES (?)"), (watermark,))
                .await?;
            tx.exec_drop(format!("DELETE FROM {markers} WHERE idx < ?"), (watermark,))
                .await?;
            tx.commit().await
        }
        .await;
        match r {
            Ok(()) => {
                let _ = self.durable.send(watermark);
                self.copy_gate.prune(watermark);
                watermark
            }
            Err(e) => {
                tracing::warn!(watermark, error = %e, "cannot record the applied watermark in mysqld");
                durable
            }
        }
    }
}

async fn write_marker(conn: &mut mysql_async::Conn, index: u64) -> Result<(), String> {
    conn.exec_drop(
        format!(
            "INSERT IGNORE INTO {}.{} (idx) VALUES (?)",
            ident(MARKER_SCHEMA),
            ident(MARKER_TABLE)
        ),
        (index,),
    )
    .await
    .map_err(|e| e.to_string())
}

/// Moves a sequence at least as far as its origin moved it: `SETVAL(s, next_not_cached, 0,
/// round)` makes `next_not_cached` the next value unless the sequence is already there or
/// beyond (then mysqld changes nothing and returns NULL), so applying it again after a crash
/// is harmless. mysqld runs it in a transaction of its own (logged in the applier's GTID
/// domain, like every write of this connection); the marker follows it. A sequence that no
/// longer exists (dropped or replaced by DDL earlier in the log) has nothing to move, on
/// every member alike.
async fn advance_sequence(conn: &mut mysql_async::Conn, index: u64, a: &SequenceAdvance) -> Result<(), String> {
    let sql = format!(
        "SELECT SETVAL({}.{}, {}, 0, {})",
        ident(&a.schema),
        ident(&a.sequence),
        a.next_not_cached,
        a.round
    );
    match conn.query_drop(sql.as_str()).await {
        Ok(()) => {}
        // Unknown database, table or sequence; not a sequence.
        Err(mysql_async::Error::Server(e)) if [1049, 1146, 4089, 4090, 4091].contains(&e.code) => {
            tracing::debug!(index, error = %e.message, "sequence advance: nothing to move");
        }
        Err(e) => return Err(format!("sequence advance at log index {index} ({sql}): {e}")),
    }
    write_marker(conn, index).await
}

async fn run_ddl(conn: &mut mysql_async::Conn, index: u64, d: &Ddl) -> Result<(), String> {
    // The statement runs as the origin's session ran it: its schema and the variables that
    // change what it does. A fresh connection afterwards: nothing of it stays.
    let mut sets: Vec<String> = d
        .context
        .iter()
        .filter(|(name, _)| name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .map(|(name, value)| format!("@@session.{name} = {value}"))
        .collect();
    sets.push(format!("@@session.gtid_domain_id = {APPLIER_DOMAIN}"));
    let use_schema = match &d.schema {
        Some(s) => format!("USE {}", ident(s)),
        None => "DO 0".to_string(),
    };
    let r = async {
        if conn.query_drop(use_schema.as_str()).await.is_err() {
            // The schema may be what this DDL creates or drops.
            conn.query_drop("USE grproxy").await?;
        }
        conn.query_drop(format!("SET {}", sets.join(", "))).await?;
        let roles = crate::sql::role_grant::granted_roles(&d.sql);
        if roles.is_empty() {
            return conn.query_drop(d.sql.as_str()).await;
        }
        let admin = roles::grant_admin(conn, &roles).await?;
        let r = conn.query_drop(d.sql.as_str()).await;
        admin.revoke(conn).await?;
        r
    }
    .await;
    if let Err(e) = r {
        // It succeeded on its origin: failing here means this member's data differs.
        return Err(format!(
            "DDL at log index {index} failed here but ran on member {}: {e}",
            d.origin
        ));
    }
    write_marker(conn, index).await
}

impl Applier {
    /// Around `XA COMMIT` / `XA ROLLBACK` of this member's own prepared transactions on the
    /// replay connection: their `XA PREPARE` is in the binlog, so their end goes there too,
    /// whatever `group.log_replays` says.
    async fn log_client_xa(&self, conn: &mut mysql_async::Conn, around: bool) -> Result<(), String> {
        if self.log_replays {
            return Ok(());
        }
        let on = if around { 1 } else { 0 };
        conn.query_drop(format!("SET SESSION sql_log_bin = {on}"))
            .await
            .map_err(|e| e.to_string())
    }
}

/// The session settings of every connection that writes for the applier (replays, markers,
/// the marker table): GTID domain [`APPLIER_DOMAIN`], and out of the binlog unless
/// `group.log_replays`. mysqld's own crash recovery needs no binlog for them: the data and
/// its marker commit in InnoDB together.
fn own_writes_session(log_replays: bool) -> String {
    format!(
        "SET SESSION gtid_domain_id = {APPLIER_DOMAIN}, sql_log_bin = {}",
        u8::from(log_replays)
    )
}

/// Waits until the watermark reaches `index`.
pub async fn wait_for(watermark: &watch::Receiver<u64>, index: u64, timeout: Duration) -> bool {
    let mut rx = watermark.clone();
    tokio::time::timeout(timeout, rx.wait_for(|w| *w >= index))
        .await
        .is_ok_and(|r| r.is_ok())
}
