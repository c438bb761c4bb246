//! The binlog tap: one replication connection to the member's own mysqld, reading its binlog
//! as it is written. It hands each session the row events of its prepared XA transaction
//! (the exact images mysqld wrote), and notices transactions that reached mysqld without
//! grproxy (writes straight to mysqld, or anything that escaped capture) and reports them.
//!
//! ```text
//!   mysqld binlog ──dump──► tap ──Assembler──► Prepared{xid} ──► the session waiting on xid
//!                                          ├─► XaCompleted       (its own commits: nothing to do)
//!                                          └─► Plain             ─► applier's domain? ignore
//!                                                                   row events? ─► Unclaimed
//!                                                                   statement? errant unless
//!                                                                   a session announced it
//! ```
//!
//! Row events outside any grproxy transaction go to whoever claimed them
//! ([`Tap::claim_row_writes`]: `super::sequences`, which proposes what mysqld wrote to a
//! sequence in a transaction of its own and reports the rest with [`Tap::report_errant`]);
//! unclaimed, they are errant.
//!
//! Sessions register the XA id before `XA PREPARE`, so the events find their waiter. A
//! transaction that wrote nothing leaves no binlog event at all; a session tells that case
//! apart by asking mysqld for its binlog end (`SHOW MASTER STATUS`) and waiting until the tap
//! has read that far ([`Tap::reached`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use tokio::sync::{mpsc, oneshot, watch};

use super::binlog::assemble::{Assembled, Assembler};

/// GTID domain of the applier's own transactions, so the tap can tell replayed writes from
/// writes that bypassed grproxy.
pub const APPLIER_DOMAIN: u32 = 7207;

/// A prepared transaction's row events, as mysqld wrote them.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The binlog's Format_description event, raw.
    pub fde: Vec<u8>,
    /// Table_map and Rows events, raw.
    pub events: Vec<Vec<u8>>,
    /// Statement-logged changes inside the transaction (see [`Assembled::Prepared`]): if
    /// any, its row events do not describe it and it cannot be replicated.
    pub queries: Vec<String>,
}

/// A binlog position: file name and offset (names sort in creation order).
pub type Position = (String, u64);

#[derive(Default)]
struct Shared {
    waiters: Mutex<HashMap<Vec<u8>, oneshot::Sender<Prepared>>>,
    position: Mutex<Option<watch::Sender<Position>>>,
    errant: AtomicU64,
    last_errant: Mutex<Option<String>>,
    failures: AtomicU64,
    /// Why the tap cannot resume where it stopped (mysqld no longer has that binlog), while
    /// that lasts.
    lost: Mutex<Option<String>>,
    /// Statements (DDL, account changes) grproxy sessions are running, by mysqld connection
    /// id: how many, and when the last was announced. A logged statement from a connection
    /// without one bypassed grproxy.
    statements: Mutex<HashMap<u32, (u32, Instant)>>,
    /// Where row writes outside grproxy's transactions go, once claimed.
    unclaimed: Mutex<Option<mpsc::UnboundedSender<Unclaimed>>>,
    /// How many were handed over, and how many of those the claimant has dealt with.
    unclaimed_sent: AtomicU64,
    unclaimed_done: AtomicU64,
    unclaimed_progress: tokio::sync::Notify,
}

/// A transaction with row events that is neither a grproxy XA transaction nor the applier's:
/// a sequence that mysqld advanced in a transaction of its own, or a write that bypassed
/// grproxy.
#[derive(Debug, Clone)]
pub struct Unclaimed {
    /// `GTID d-s-n: ...`, for the log and `last_errant_transaction`.
    pub what: String,
    /// The binlog's Format_description event, raw.
    pub fde: Vec<u8>,
    /// The transaction's Table_map and Rows events, raw.
    pub events: Vec<Vec<u8>>,
}

/// How long an announced statement that never reached the binlog (it failed) stays
/// expected.
const STATEMENT_CREDIT: Duration = Duration::from_secs(120);

/// Handle on the tap task; cheap to clone.
#[derive(Clone)]
pub struct Tap {
    shared: Arc<Shared>,
    position: watch::Receiver<Position>,
}

/// A session's registration for its prepared transaction's events.
pub struct PreparedWait {
    rx: oneshot::Receiver<Prepared>,
}

impl PreparedWait {
    /// The events, if they arrived within `timeout`.
    pub async fn wait(&mut self, timeout: Duration) -> Option<Prepared> {
        match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(Ok(p)) => Some(p),
            _ => None,
        }
    }

    /// The events, if they already arrived.
    pub fn try_take(&mut self) -> Option<Prepared> {
        self.rx.try_recv().ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TapError {
    #[error("mysqld: {0}")]
    Mysql(#[from] mysql_async::Error),
    #[error("mysqld has no binary log: grproxy needs log_bin, binlog_format=ROW and binlog_row_image=FULL")]
    NoBinlog,
}

impl Tap {
    /// Connects and starts reading at mysqld's current binlog end.
    pub async fn start(opts: mysql_async::Opts, replica_server_id: u32) -> Result<Tap, TapError> {
        let start = master_position(&opts).await?;
        let (tx, rx) = watch::channel(start.clone());
        let shared = Arc::new(Shared::default());
        *shared.position.lock().unwrap() = Some(tx);
        let tap = Tap { shared, position: rx };
        let shared = Arc::downgrade(&tap.shared);
        tokio::spawn(run(shared, opts, replica_server_id, start));
        Ok(tap)
    }

    /// Registers a session's XA id (its gtrid) before it runs `XA PREPARE`.
    pub fn expect(&self, gtrid: &[u8]) -> PreparedWait {
        let (tx, rx) = oneshot::channel();
        self.shared.waiters.lock().unwrap().insert(gtrid.to_vec(), tx);
        PreparedWait { rx }
    }

    /// Announces that the session on mysqld connection `thread_id` is about to run a
    /// statement grproxy replicates as a statement (DDL, an account change), so the tap does
    /// not report its binlog event as errant.
    pub fn expect_statement(&self, thread_id: u32) {
        let now = Instant::now();
        let mut m = self.shared.statements.lock().unwrap();
        m.retain(|_, (_, at)| now.duration_since(*at) < STATEMENT_CREDIT);
        let e = m.entry(thread_id).or_insert((0, now));
        e.0 += 1;
        e.1 = now;
    }

    /// From now on, transactions with row events that did not come through grproxy are
    /// handed to the returned receiver instead of being counted as errant at once.
    pub fn claim_row_writes(&self) -> mpsc::UnboundedReceiver<Unclaimed> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.shared.unclaimed.lock().unwrap() = Some(tx);
        rx
    }

    /// The claimant has dealt with one more handed-over transaction (proposed what it holds,
    /// or reported it).
    pub fn unclaimed_handled(&self) {
        self.shared.unclaimed_done.fetch_add(1, Ordering::SeqCst);
        self.shared.unclaimed_progress.notify_waiters();
    }

    /// Waits (at most `timeout`) until the claimant has dealt with every transaction the tap
    /// handed over so far. A session calls it once the tap has read past its own prepared
    /// transaction: a sequence its statements advanced is then in the log before the client
    /// hears back. Returns false on timeout.
    pub async fn unclaimed_settled(&self, timeout: Duration) -> bool {
        let target = self.shared.unclaimed_sent.load(Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let progress = self.shared.unclaimed_progress.notified();
            if self.shared.unclaimed_done.load(Ordering::SeqCst) >= target {
                return true;
            }
            if tokio::time::timeout_at(deadline, progress).await.is_err() {
                return false;
            }
        }
    }

    /// Counts and logs a transaction that bypassed grproxy.
    pub fn report_errant(&self, what: String) {
        errant(&self.shared, what);
    }

    /// Drops a registration that will not be used (the transaction was rolled back).
    pub fn forget(&self, gtrid: &[u8]) {
        self.shared.waiters.lock().unwrap().remove(gtrid);
    }

    /// Waits until the tap has read the binlog up to `pos`.
    pub async fn reached(&self, pos: &Position, timeout: Duration) -> bool {
        let mut rx = self.position.clone();
        tokio::time::timeout(timeout, rx.wait_for(|p| p >= pos))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Checks mysqld's binlog `end` against `at`, where the tap had read to *before* `end` was
    /// read (the other order races with writes in between): an end before it means the binlog
    /// was reset under the tap (`RESET MASTER` on mysqld directly), which then waits at a place
    /// that no longer exists and would take every later transaction for one that wrote
    /// nothing. The member is then in ERROR for good.
    pub fn check_end(&self, at: &Position, end: &Position) -> Result<(), String> {
        if let Some(why) = self.lost() {
            return Err(why);
        }
        if at <= end {
            return Ok(());
        }
        let why = format!(
            "mysqld's binlog ends at {} {} before where the binlog tap has read to ({} {}): it was reset outside grproxy",
            end.0, end.1, at.0, at.1
        );
        tracing::error!("{why}; this member cannot capture its own transactions");
        *self.shared.lost.lock().unwrap() = Some(why.clone());
        Err(why)
    }

    /// Transactions seen in the binlog that did not come through grproxy, and the last one.
    pub fn errant(&self) -> (u64, Option<String>) {
        (
            self.shared.errant.load(Ordering::Relaxed),
            self.shared.last_errant.lock().unwrap().clone(),
        )
    }

    /// Where the tap has read to.
    pub fn position(&self) -> Position {
        self.position.borrow().clone()
    }

    /// How often the replication connection failed and was reopened.
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::Relaxed)
    }

    /// Set while the tap's place in mysqld's binlog is gone (`RESET MASTER` or a purge run
    /// on mysqld directly): this member cannot read its own transactions.
    pub fn lost(&self) -> Option<String> {
        self.shared.lost.lock().unwrap().clone()
    }
}

/// mysqld's binlog end (`SHOW MASTER STATUS`).
pub async fn master_position(opts: &mysql_async::Opts) -> Result<Position, TapError> {
    let mut c = mysql_async::Conn::new(opts.clone()).await?;
    let pos = current_position(&mut c).await;
    let _ = c.disconnect().await;
    pos
}

/// mysqld's binlog end, on a connection the caller has.
pub async fn current_position(c: &mut mysql_async::Conn) -> Result<Position, TapError> {
    let row: Option<mysql_async::Row> = c.query_first("SHOW MASTER STATUS").await?;
    let row = row.ok_or(TapError::NoBinlog)?;
    let file: Option<String> = row.get(0);
    let pos: Option<u64> = row.get(1);
    match (file, pos) {
        (Some(f), Some(p)) => Ok((f, p)),
        _ => Err(TapError::NoBinlog),
    }
}

async fn run(shared: std::sync::Weak<Shared>, opts: mysql_async::Opts, server_id: u32, mut from: Position) {
    loop {
        let Some(s) = shared.upgrade() else { return };
        match read(&s, &opts, server_id, &mut from).await {
            Ok(()) => return,
            Err(e) => {
                s.failures.fetch_add(1, Ordering::Relaxed);
                // 1236: mysqld cannot send from that place (its binlog was reset or purged).
                if matches!(&e, TapError::Mysql(mysql_async::Error::Server(se)) if se.code == 1236) {
                    let why = format!(
                        "the binlog tap lost its place in mysqld's binlog ({} at {}; reset or purged outside grproxy): {e}",
                        from.0, from.1
                    );
                    if s.lost.lock().unwrap().replace(why.clone()).is_none() {
                        tracing::error!("{why}; this member cannot capture its own transactions");
                    }
                } else {
                    tracing::warn!(error = %e, file = %from.0, pos = from.1, "binlog tap: connection lost; reconnecting");
                }
            }
        }
        drop(s);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Reads from `from` until the connection fails; `from` moves to the end of the last whole
/// transaction read, where a new connection resumes.
async fn read(s: &Shared, opts: &mysql_async::Opts, server_id: u32, from: &mut Position) -> Result<(), TapError> {
    let mut c = mysql_async::Conn::new(opts.clone()).await?;
    // Ask for MariaDB's own events (GTID events with XA ids) rather than the rewritten
    // stream an old replica gets, and for heartbeats so an idle stream still moves.
    c.query_drop("SET @mariadb_slave_capability = 4, @master_heartbeat_period = 1000000000")
        .await?;
    // (mysql_async then sets @master_binlog_checksum itself, so events keep their CRC32.)
    let file = from.0.clone();
    let request = mysql_async::BinlogStreamRequest::new(server_id)
        .with_filename(file.as_bytes())
        .with_pos(from.1);
    let mut stream = c.get_binlog_stream(request).await?;
    let mut assembler = Assembler::new();
    let mut raw = Vec::with_capacity(1024);
    while let Some(event) = stream.next().await {
        let event = event?;
        raw.clear();
        event
            .write(mysql_common::binlog::consts::BinlogVersion::Version4, &mut raw)
            .map_err(|e| mysql_async::Error::Io(e.into()))?;
        let out = match assembler.push(&raw) {
            Ok(out) => out,
            Err(e) => {
                // Nothing replicated depends on this event being understood except a
                // prepared transaction's, whose session then times out and refuses.
                tracing::error!(error = %e, "binlog tap: cannot read an event");
                None
            }
        };
        if let Some(out) = out {
            handle(s, out, &assembler);
        }
        *from = assembler.resume_position();
        if let Some(tx) = s.position.lock().unwrap().as_ref() {
            tx.send_replace(assembler.position());
        }
    }
    Ok(())
}

fn handle(s: &Shared, out: Assembled, assembler: &Assembler) {
    match out {
        Assembled::Prepared {
            xid, events, queries, ..
        } => {
            let waiter = s.waiters.lock().unwrap().remove(&xid.gtrid);
            let fde = assembler.fde_raw().map(<[u8]>::to_vec).unwrap_or_default();
            match waiter {
                Some(tx) => {
                    let _ = tx.send(Prepared { fde, events, queries });
                }
                None if super::txn::parse_xid_gtrid(&xid.gtrid).is_some() => {
                    tracing::debug!(xid = %String::from_utf8_lossy(&xid.gtrid), "binlog tap: prepared transaction with no waiting session");
                }
                None => errant(s, format!("XA transaction {} prepared outside grproxy", xid.to_sql())),
            }
        }
        Assembled::XaCompleted { .. } => {}
        Assembled::Plain {
            gtid,
            events,
            queries,
            thread_id,
            ..
        } => {
            if gtid.domain == APPLIER_DOMAIN {
                return;
            }
            if events.is_empty() && queries.iter().any(|q| changes_schema_or_accounts(q)) {
                if !take_statement_credit(s, thread_id) {
                    let text: String = queries.join("; ").chars().take(200).collect();
                    errant(
                        s,
                        format!(
                            "GTID {}-{}-{}: statement run on mysqld without grproxy (connection {}): {text}",
                            gtid.domain,
                            gtid.server,
                            gtid.seq,
                            thread_id.map_or("?".into(), |t| t.to_string())
                        ),
                    );
                }
                return;
            }
            if !events.is_empty() {
                let what = format!(
                    "GTID {}-{}-{}: {} row event(s) written to mysqld without grproxy",
                    gtid.domain,
                    gtid.server,
                    gtid.seq,
                    events.len()
                );
                let sink = s.unclaimed.lock().unwrap().clone();
                let fde = assembler.fde_raw().map(<[u8]>::to_vec).unwrap_or_default();
                match sink {
                    Some(tx) => {
                        s.unclaimed_sent.fetch_add(1, Ordering::SeqCst);
                        if let Err(mpsc::error::SendError(u)) = tx.send(Unclaimed { what, fde, events }) {
                            s.unclaimed_sent.fetch_sub(1, Ordering::SeqCst);
                            errant(s, u.what);
                        }
                    }
                    None => errant(s, what),
                }
            } else if !queries.is_empty() {
                tracing::debug!(gtid = %format!("{}-{}-{}", gtid.domain, gtid.server, gtid.seq), ?queries, "binlog tap: statement");
            }
        }
    }
}

/// Uses up one announced statement of connection `thread_id`, if it has one.
fn take_statement_credit(s: &Shared, thread_id: Option<u32>) -> bool {
    let Some(t) = thread_id else { return false };
    let mut m = s.statements.lock().unwrap();
    match m.get_mut(&t) {
        Some((n, _)) if *n > 1 => {
            *n -= 1;
            true
        }
        Some(_) => {
            m.remove(&t);
            true
        }
        None => false,
    }
}

/// True for a logged statement that changes schema objects or accounts (what grproxy
/// replicates as a statement), as opposed to maintenance such as `ANALYZE TABLE` or `FLUSH`.
fn changes_schema_or_accounts(q: &str) -> bool {
    use crate::sql::lexer::{tokenize_with, TokenKind};
    let text = q.as_bytes();
    let toks = tokenize_with(text, crate::sql::LexOptions::default()).tokens;
    let mut words = toks.iter().filter(|t| t.kind == TokenKind::Word);
    let Some(first) = words.next() else { return false };
    let kw = |w: &str| first.is_kw(text, w);
    if ["CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "GRANT", "REVOKE"]
        .iter()
        .any(|w| kw(w))
    {
        // Temporary tables stay on the member that made them.
        return !words.next().is_some_and(|w| w.is_kw(text, "TEMPORARY"));
    }
    kw("SET") && words.next().is_some_and(|w| w.is_kw(text, "PASSWORD"))
}

fn errant(s: &Shared, what: String) {
    s.errant.fetch_add(1, Ordering::Relaxed);
    tracing::error!("errant transaction on this member's mysqld: {what}; the group may diverge");
    *s.last_errant.lock().unwrap() = Some(what);
}

/// The (schema, table, column count) of every Table_map event among a prepared
/// transaction's events, in order, read with the transaction's format description.
pub fn table_names(fde: &[u8], events: &[Vec<u8>]) -> Result<Vec<(String, String, usize)>, String> {
    use super::binlog::event::{types, Header};
    use super::binlog::rows::TableMap;
    use super::binlog::FormatDescription;
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let fde = FormatDescription::parse(fde).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for raw in events {
        let h = Header::parse(raw).map_err(|e| e.to_string())?;
        if h.event_type != types::TABLE_MAP {
            continue;
        }
        let tm = TableMap::parse(&fde, raw).map_err(|e| e.to_string())?;
        out.push((tm.schema, tm.table, tm.columns.len()));
    }
    Ok(out)
}
