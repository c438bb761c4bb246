//! The session side of group replication. Every transaction that may write runs on mysqld
//! as an XA transaction grproxy opens; at its end grproxy prepares it, takes the row events
//! mysqld wrote for it from the binlog (the tap), derives the write-set, proposes it, and
//! commits or rolls back by the group's verdict.
//!
//! ```text
//!  no txn ──BEGIN / first statement under autocommit=0──► XA START (snapshot = watermark)
//!  no txn ──autocommit write──► XA START, statement (response held), commit path, response
//!  open ──statements──► open                    (nothing else is sent on the connection)
//!  open ──COMMIT / implicit commit──► XA END, XA PREPARE, events from the tap
//!        ├─ no events (read only) ─────────────► XA COMMIT ──────────────► no txn
//!        └─ write-set, propose ──Commit─► XA COMMIT, OK ──────────────────► no txn
//!                               └─Abort──► XA ROLLBACK, 1213 ─────────────► no txn
//!        outcome unknown: the prepared transaction is left to the applier, the session ends
//!  open ──ROLLBACK──► XA END, XA ROLLBACK ──► no txn
//! ```
//!
//! The proxy's own statements run only at transaction boundaries, where the client's
//! statement (COMMIT, an autocommit write) would itself have changed the diagnostics area:
//! between two client statements inside a transaction nothing is sent, so `ROW_COUNT()`,
//! `SHOW WARNINGS` and `LAST_INSERT_ID()` are mysqld's own.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use mysql_common::constants::CapabilityFlags as Caps;

use super::errors::ClientError;
use super::route::{route, Route};
use super::session::{Session, SessionEnd};
use crate::backend::internal;
use crate::consensus::ConsensusError;
use crate::protocol::packet::Packet;
use crate::protocol::response::{Expect, OkInfo, Outcome, ResponseState, Step, STATUS_AUTOCOMMIT, STATUS_IN_TRANS};
use crate::replication::applier::LocalOutcome;
use crate::replication::certifier::Verdict;
use crate::replication::group::{Group, GroupError};
use crate::replication::txn::{xid_gtrid, Entry, TableName, Txn};
use crate::sql::{self, Classified, Detail};

mod commit;
mod ddl;
mod own_statements;
use ddl::ddl_tables;

/// How long a session waits for its prepared transaction's events before asking mysqld
/// whether the transaction wrote anything at all (the tap has them within about 100 µs of
/// `XA PREPARE` on an idle member). A transaction that wrote nothing (an UPDATE or DELETE
/// that matched no row, an INSERT IGNORE of a duplicate) pays this wait and one
/// `SHOW MASTER STATUS` on a pooled side connection: 3 ms and a new connection each made
/// such commits 3.4 ms slower than others (issue 15).
const EVENTS_FAST_WAIT: Duration = Duration::from_millis(1);
/// At most this long a commit waits for the sequence advances logged before it to be
/// proposed (`replication::sequences`).
const SEQUENCE_WAIT: Duration = Duration::from_secs(10);
/// Longest wait for the tap to read up to mysqld's binlog end.
const TAP_WAIT: Duration = Duration::from_secs(10);

/// The XA transaction a session has open.
pub struct TxnState {
    pub snapshot: u64,
    pub trx_id: u64,
    /// The XA id's gtrid.
    pub gtrid: String,
    /// Tables named by the transaction's DML (for brute-force aborts and wide writes).
    pub tables: Vec<TableName>,
    /// Tables in which a statement matched rows without changing them.
    pub wide: Vec<TableName>,
    /// A statement matched rows without changing them in a table grproxy could not name.
    pub wide_unknown: bool,
    /// A statement that may write ran: the commit must prepare and look for row events.
    pub may_write: bool,
}

impl TxnState {
    /// The transaction may hold writes that must go through the group.
    pub fn writes(&self) -> bool {
        self.may_write
    }

    fn xid(&self) -> String {
        format!("'{}'", self.gtrid)
    }
}

/// XAER_RMFAIL: mysqld refuses a statement inside an ACTIVE XA transaction (DDL, COMMIT).
const XAER_RMFAIL: u16 = 1399;

/// Buffered response of one command.
pub(crate) struct Buffered {
    bytes: BytesMut,
    /// Offset of the last packet (the OK that ends a DML response).
    last: usize,
    pub(crate) outcome: Outcome,
}

impl Session {
    pub(crate) fn group(&self) -> &std::sync::Arc<Group> {
        self.context()
            .group
            .as_ref()
            .expect("replication hooks run only in a group")
    }

    /// Forwards a command and collects its response instead of relaying it.
    pub(crate) async fn forward_buffered(&mut self, packet: &Packet, expect: Expect) -> Result<Buffered, SessionEnd> {
        let deprecate_eof = self.caps().contains(Caps::CLIENT_DEPRECATE_EOF);
        let backend = self.backend_mut();
        backend.queue_raw(&packet.raw);
        backend.flush().await.map_err(|e| SessionEnd::Backend(e.into()))?;
        let mut state = ResponseState::new(expect, deprecate_eof);
        let mut bytes = BytesMut::new();
        let mut last;
        loop {
            let p = backend.expect_packet().await.map_err(SessionEnd::Backend)?;
            last = bytes.len();
            bytes.extend_from_slice(&p.raw);
            match state.feed(&p.payload, p.payload.len().min(crate::protocol::packet::MAX_CHUNK)) {
                Ok(Step::Done) => break,
                Ok(Step::More) => {}
                Ok(Step::LocalInfile) => return Err(SessionEnd::Protocol("unexpected LOCAL INFILE request".into())),
                Err(e) => return Err(SessionEnd::Protocol(e.to_string())),
            }
        }
        if let Some(s) = state.outcome.status {
            self.status = s;
        }
        if state.outcome.error.is_some() {
            self.status_stale = true;
        }
        Ok(Buffered {
            bytes,
            last,
            outcome: state.outcome,
        })
    }

    pub(crate) async fn send_buffered(&mut self, b: &Buffered) -> Result<(), SessionEnd> {
        self.client_mut()
            .write_through(&b.bytes)
            .await
            .map_err(|e| SessionEnd::Client(e.into()))
    }

    /// Sends an OK for a command the proxy answered itself (COMMIT, ROLLBACK).
    async fn reply_ok(&mut self) -> Result<(), SessionEnd> {
        let status = self.status & !STATUS_IN_TRANS;
        let payload = crate::protocol::err_packet::ok_payload(0, status, 0);
        self.client_mut()
            .send(1, &payload)
            .await
            .map_err(|e| SessionEnd::Client(e.into()))
    }

    /// After an error, mysqld may have rolled the transaction back (deadlock, KILL) and an
    /// error packet carries no status flags. Ask mysqld (`DO 0` answers OK with the flags)
    /// before trusting them. Only needed outside an XA transaction: inside one, grproxy
    /// knows the state itself.
    pub(crate) async fn settle_status(&mut self) -> Result<(), SessionEnd> {
        if self.txn.is_some() || !self.status_stale {
            return Ok(());
        }
        for _ in 0..3 {
            if self.internal_try("DO 0").await?.is_ok() {
                self.status_stale = false;
                return Ok(());
            }
        }
        Err(SessionEnd::Protocol(
            "cannot learn the transaction state from mysqld".into(),
        ))
    }

    /// One client command on a group member: `statements` are the command's statement texts
    /// with their classes (one for COM_STMT_EXECUTE: the prepared text). `packet` is what the
    /// client sent and is what mysqld gets.
    pub(crate) async fn group_command(
        &mut self,
        packet: &Packet,
        statements: &[&[u8]],
        classes: &[Classified],
    ) -> Result<bool, SessionEnd> {
        let decision = route(statements, classes);
        let class = classes.first();
        if let Some(r) = self.split_command(packet, statements, classes, &decision).await? {
            return Ok(r);
        }
        if let Some(e) = self.read_only_port_refusal(&decision) {
            self.reply_error(e).await?;
            return Ok(true);
        }
        // Single-primary: only a caught-up primary runs writes itself (a read-only port's
        // transactions only read).
        if matches!(decision, Route::Write | Route::Ddl)
            || (decision == Route::Begin && self.split.port_role != super::split::PortRole::ReadOnly)
        {
            if let Some(e) = self.writer_refusal().await {
                self.reply_error(e).await?;
                return Ok(true);
            }
        }
        if let Some(e) = self.group().unavailable() {
            if matches!(decision, Route::Write | Route::Ddl | Route::Begin) {
                self.reply_error(ClientError::MemberError(e)).await?;
                return Ok(true);
            }
        }
        // BEFORE: a transaction (or a statement outside one) starts from the group's commit
        // index, applied here.
        // BEFORE_ON_PRIMARY_FAILOVER: on a primary just elected, nothing runs until it has
        // applied what the old primary committed.
        if self.consistency == super::consistency::Consistency::BeforeOnPrimaryFailover {
            if let Err(crate::replication::primary::NotWriter::CatchingUp { through }) =
                self.group().settle_writer(super::consistency::WAIT).await
            {
                let e = ClientError::ConsistencyTimeout(format!(
                    "this member became primary and has not applied the log through index {through}"
                ));
                self.reply_error(e).await?;
                return Ok(true);
            }
        }
        if self.consistency.before()
            && self.txn.is_none()
            && !self.in_transaction()
            && matches!(
                decision,
                Route::Read | Route::Write | Route::Begin | Route::Ddl | Route::CommitFirst
            )
        {
            if let Some(e) = self.consistency_before().await? {
                self.reply_error(e).await?;
                return Ok(true);
            }
        }
        // Without a majority nothing can commit: refuse writes now rather than after a
        // proposal timeout (a DDL must not even run here). Reads go on.
        if matches!(decision, Route::Write | Route::Ddl) {
            if let Some(why) = self.group().quorum().refusal() {
                self.reply_error(ClientError::NoQuorum(why)).await?;
                return Ok(true);
            }
        }
        self.settle_status().await?;
        match decision {
            Route::Refuse(why) => self.reply_error(ClientError::CannotReplicate(why)).await?,
            Route::Forward => {
                let temporary_ddl = matches!(
                    class.map(|c| &c.detail),
                    Some(Detail::CreateTable { temporary: true } | Detail::DropTable { temporary: true, .. })
                );
                let named = if temporary_ddl {
                    let schema = self.current_schema().await?;
                    let text = String::from_utf8_lossy(statements.first().copied().unwrap_or_default()).into_owned();
                    ddl_tables(&text, schema.as_deref())
                } else {
                    Vec::new()
                };
                let outcome = self.forward(packet, Expect::QueryResult).await?;
                match class.map(|c| &c.detail) {
                    Some(Detail::Use { schema }) if outcome.error.is_none() => {
                        self.schema = Some(schema.clone());
                        self.schema_known = true;
                    }
                    // A failed USE leaves the default schema as it was.
                    Some(Detail::Use { .. }) => {}
                    Some(Detail::CreateTable { temporary: true }) if outcome.error.is_none() => {
                        self.temp_tables.extend(named.into_iter().map(|t| (t.schema, t.table)));
                    }
                    Some(Detail::DropTable { temporary: true, .. }) => {
                        for t in named {
                            self.temp_tables.remove(&(t.schema, t.table));
                        }
                    }
                    _ => {}
                }
            }
            Route::CommitFirst => {
                if !self.commit_open_or_report().await? {
                    return Ok(true);
                }
                let outcome = self.forward(packet, Expect::QueryResult).await?;
                if outcome.error.is_none() {
                    match class.map(|c| &c.detail) {
                        Some(Detail::Lock) => self.locked = true,
                        Some(Detail::Unlock) => self.locked = false,
                        _ => {}
                    }
                }
            }
            Route::Begin => {
                if !self.commit_open_or_report().await? {
                    return Ok(true);
                }
                if self.locked {
                    let e = ClientError::CannotReplicate("a transaction under LOCK TABLES; UNLOCK TABLES first".into());
                    self.reply_error(e).await?;
                    return Ok(true);
                }
                // The client's BEGIN becomes XA START; mysqld's answer is the client's.
                self.end_plain_transaction().await?;
                let (sql, state) = self.new_xa().await;
                let mut payload = vec![crate::protocol::command::COM_QUERY];
                payload.extend_from_slice(sql.as_bytes());
                let start = Packet::from_payload(0, payload);
                let outcome = self.forward(&start, Expect::QueryResult).await?;
                if outcome.error.is_none() {
                    self.txn = Some(state);
                }
            }
            Route::Commit { chain, release } => {
                // `AND CHAIN RELEASE` is a syntax error for mysqld: it answers, nothing ends.
                if self.txn.is_none() || (chain && release) {
                    let outcome = self.forward(packet, Expect::QueryResult).await?;
                    return Ok(!(release && outcome.error.is_none()));
                }
                match self.commit_open().await? {
                    Some(e) => self.reply_error(e).await?,
                    None => {
                        if chain {
                            self.start_xa_internal().await?;
                        }
                        self.reply_ok().await?;
                        return Ok(!release);
                    }
                }
            }
            Route::Rollback { chain, release } => {
                if self.txn.is_none() || (chain && release) {
                    let outcome = self.forward(packet, Expect::QueryResult).await?;
                    return Ok(!(release && outcome.error.is_none()));
                }
                self.abandon_xa().await?;
                if chain {
                    self.start_xa_internal().await?;
                }
                self.reply_ok().await?;
                return Ok(!release);
            }
            Route::Ddl => {
                if !self.commit_open_or_report().await? {
                    return Ok(true);
                }
                let raw = statements.first().copied().unwrap_or_default();
                self.replicated_ddl(packet, raw, class.expect("a DDL statement"))
                    .await?;
            }
            Route::Write => self.write(packet, statements, classes).await?,
            Route::Read => {
                if self.txn.is_none() && self.status & STATUS_AUTOCOMMIT == 0 && !self.in_transaction() && !self.locked
                {
                    // autocommit=0: this statement starts a transaction; make it grproxy's.
                    self.start_xa_internal().await?;
                }
                self.forward(packet, Expect::QueryResult).await?;
            }
        }
        Ok(true)
    }

    /// Commits the open transaction (an implicit commit); false when it failed and the
    /// client got the error instead of running its statement.
    async fn commit_open_or_report(&mut self) -> Result<bool, SessionEnd> {
        if self.txn.is_none() {
            return Ok(true);
        }
        match self.commit_open().await? {
            None => Ok(true),
            Some(e) => {
                self.reply_error(e).await?;
                Ok(false)
            }
        }
    }

    /// A new XA transaction's start statement and state (snapshot taken now).
    async fn new_xa(&mut self) -> (String, TxnState) {
        let group = self.group().clone();
        // Flow control holds a transaction back here, before it takes any lock.
        group.pace().await;
        let snapshot = self.snapshot_now().await;
        let trx_id = group.new_trx_id();
        let gtrid = xid_gtrid(group.member_id, trx_id);
        let state = TxnState {
            snapshot,
            trx_id,
            gtrid: gtrid.clone(),
            tables: Vec::new(),
            wide: Vec::new(),
            wide_unknown: false,
            may_write: false,
        };
        (format!("XA START '{gtrid}'"), state)
    }

    async fn start_xa_internal(&mut self) -> Result<(), SessionEnd> {
        self.end_plain_transaction().await?;
        let (sql, state) = self.new_xa().await;
        self.internal(&sql).await?;
        self.txn = Some(state);
        self.sync_control();
        Ok(())
    }

    /// A plain (non-XA) transaction mysqld has open ends before an XA one starts, as the
    /// client's BEGIN would end it. grproxy refuses writes in such transactions, so it holds
    /// none.
    async fn end_plain_transaction(&mut self) -> Result<(), SessionEnd> {
        if self.txn.is_none() && self.in_transaction() {
            self.internal("COMMIT").await?;
        }
        Ok(())
    }

    /// Ends the open XA transaction without committing it (ROLLBACK, or a statement's
    /// failure that mysqld turned into a rollback).
    pub(crate) async fn abandon_xa(&mut self) -> Result<(), SessionEnd> {
        let Some(t) = self.txn.take() else {
            return Ok(());
        };
        let xid = t.xid();
        // XA END fails when the branch is already ended or rolled back: either is fine, and
        // the ROLLBACK behind it (same round trip) runs as it would after it.
        let (_, rolled_back) = self
            .internal_pair_try(&format!("XA END {xid}"), &format!("XA ROLLBACK {xid}"))
            .await?;
        if let Err((code, msg)) = rolled_back {
            if code != 1397 {
                tracing::debug!(session = self.id, code, msg, "XA ROLLBACK");
            }
        }
        self.status &= !STATUS_IN_TRANS;
        self.status_stale = false;
        self.sync_control();
        Ok(())
    }

    /// The snapshot for a transaction starting now: the applied watermark, once it covers this
    /// session's own last commit (read-your-writes; otherwise the session's next transaction
    /// would conflict with its own previous one).
    async fn snapshot_now(&mut self) -> u64 {
        let group = self.group().clone();
        if group.watermark() < self.last_commit && !group.wait_applied(self.last_commit, Duration::from_secs(10)).await
        {
            tracing::warn!(
                session = self.id,
                index = self.last_commit,
                "local apply lags behind this session's commit"
            );
        }
        group.watermark()
    }

    /// A statement that may write.
    async fn write(&mut self, packet: &Packet, statements: &[&[u8]], classes: &[Classified]) -> Result<(), SessionEnd> {
        if self.locked {
            let e = ClientError::CannotReplicate(
                "writes under LOCK TABLES (grproxy replicates transactions); use a transaction instead".into(),
            );
            return self.reply_error(e).await;
        }
        if self.txn.is_none() && self.in_transaction() {
            let e = ClientError::CannotReplicate(
                "a write inside a transaction grproxy did not open (START TRANSACTION READ ONLY?)".into(),
            );
            return self.reply_error(e).await;
        }
        let targets = match self.write_targets(statements, classes).await? {
            Ok(t) => t,
            Err(why) => return self.reply_error(ClientError::CannotReplicate(why)).await,
        };
        let autocommit = self.txn.is_none() && self.status & STATUS_AUTOCOMMIT != 0;
        if self.txn.is_none() {
            self.start_xa_internal().await?;
        }
        {
            let t = self.txn.as_mut().expect("open");
            t.may_write = true;
            for tn in &targets.tables {
                if !t.tables.contains(tn) {
                    t.tables.push(tn.clone());
                }
            }
        }
        self.sync_control();
        if !autocommit {
            let outcome = self.forward(packet, Expect::QueryResult).await?;
            return self.after_write(&outcome, &targets, statements).await;
        }
        let mut response = self.forward_buffered(packet, Expect::QueryResult).await?;
        if let Some((XAER_RMFAIL, msg)) = &response.outcome.error {
            // The statement (a CALL, a function) ran one that mysqld cannot run inside
            // grproxy's XA transaction: DDL or anything else that commits implicitly. Directly
            // on mysqld it would have committed part of the work; here nothing is kept.
            let why = format!(
                concat!(
                    "a stored program ran a statement that commits implicitly (DDL, COMMIT); ",
                    "grproxy runs every write in an XA transaction, where mysqld refuses it (`{}`); ",
                    "nothing of the statement was kept. Run the DDL as a statement of its own"
                ),
                msg
            );
            self.abandon_xa().await?;
            return self.reply_error(ClientError::CannotReplicate(why)).await;
        }
        if response.outcome.error.is_some() && response.outcome.oks.is_empty() {
            // Nothing ran: undo the transaction grproxy opened and pass the error on.
            self.abandon_xa().await?;
            if self.control().bf_abort.swap(false, Ordering::AcqRel) {
                // Interrupted (KILL QUERY) for a conflicting remote transaction.
                return self.reply_error(ClientError::BruteForceAborted).await;
            }
            return self.send_buffered(&response).await;
        }
        self.note_wide(&response.outcome, &targets, statements);
        match self.commit_open().await? {
            None => {
                patch_status(&mut response, STATUS_IN_TRANS);
                // The XA statements reset mysqld's ROW_COUNT(); the client's next statement
                // gets the write's own (see row_count.rs).
                self.shadow_row_count = Some(match (response.outcome.result_sets, response.outcome.oks.last()) {
                    (0, Some(ok)) => ok.affected_rows as i64,
                    _ => -1,
                });
                self.send_buffered(&response).await
            }
            Some(e) => self.reply_error(e).await,
        }
    }

    fn brute_force_mark_clear(&self) {
        self.control().bf_abort.store(false, Ordering::Release);
    }

    /// After a write inside an open transaction (its response already relayed).
    async fn after_write(
        &mut self,
        outcome: &Outcome,
        targets: &Targets,
        statements: &[&[u8]],
    ) -> Result<(), SessionEnd> {
        self.note_wide(outcome, targets, statements);
        if let Some((code, _)) = &outcome.error {
            let bf = self.control().bf_abort.swap(false, Ordering::AcqRel);
            // A deadlock or a kill rolls the XA branch back in mysqld (a lock wait timeout
            // too, under innodb_rollback_on_timeout): end it here too, so the session goes
            // on like mysqld's own would (no transaction open).
            let whole =
                matches!(code, 1213 | 1614 | 1317 | 1927) || (*code == 1205 && self.group().rollback_on_timeout);
            if bf || whole {
                self.abandon_xa().await?;
                if bf {
                    self.bf_rolled_back = true;
                }
            }
        }
        Ok(())
    }

    /// Notes tables where a statement matched rows without changing them (see `Txn::wide`).
    fn note_wide(&mut self, outcome: &Outcome, targets: &Targets, statements: &[&[u8]]) {
        let found_rows = self.caps().contains(Caps::CLIENT_FOUND_ROWS);
        let hidden = outcome
            .oks
            .iter()
            .any(|ok| hides_rows(ok, targets.upsert, found_rows, statements.len() == 1));
        let Some(t) = self.txn.as_mut() else { return };
        if !hidden {
            return;
        }
        if targets.tables.is_empty() {
            t.wide_unknown = true;
        }
        for tn in &targets.tables {
            if !t.wide.contains(tn) {
                t.wide.push(tn.clone());
            }
        }
    }

    /// The tables a write names, checked for what grproxy cannot replicate. Statements it
    /// cannot parse (CALL, EXECUTE, functions) are captured all the same; they just name
    /// no table here.
    async fn write_targets(
        &mut self,
        statements: &[&[u8]],
        classes: &[Classified],
    ) -> Result<Result<Targets, String>, SessionEnd> {
        let mut targets = Targets::default();
        for (text, class) in statements.iter().zip(classes) {
            if class.kind != sql::StatementKind::Dml || matches!(class.detail, Detail::Call) {
                continue;
            }
            // Only single-table statements name their written table; multi-table ones are
            // captured all the same and checked when their row events are read.
            let Ok(info) = sql::parse_dml(&String::from_utf8_lossy(text)) else {
                continue;
            };
            if info.multi_table {
                continue;
            }
            targets.upsert |= !info.on_duplicate.is_empty();
            for t in &info.tables {
                let schema = match &t.schema {
                    Some(s) => s.clone(),
                    None => match self.current_schema().await? {
                        Some(s) => s,
                        // mysqld answers "No database selected" itself.
                        None => continue,
                    },
                };
                match self.group().metadata.get(&schema, &t.table).await {
                    // A view (no engine): the rows it writes are checked when the row events
                    // name their tables.
                    Ok(meta) if meta.engine.is_empty() => {}
                    Ok(meta) => {
                        if let Some(why) = refusal(&meta) {
                            return Ok(Err(why));
                        }
                        let tn = TableName::new(&meta.schema, &meta.table);
                        if !targets.tables.contains(&tn) {
                            targets.tables.push(tn);
                        }
                    }
                    // A missing table (or a temporary one): mysqld answers for itself.
                    Err(crate::replication::metadata::MetadataError::NoSuchTable(..)) => {}
                    Err(e) => return Ok(Err(e.to_string())),
                }
            }
        }
        Ok(Ok(targets))
    }

    async fn current_schema(&mut self) -> Result<Option<String>, SessionEnd> {
        if self.schema_known {
            return Ok(self.schema.clone());
        }
        let r = self.own_select("DATABASE()").await?;
        let s = r
            .rows
            .first()
            .and_then(|row| row.first().cloned().flatten())
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        self.schema = s.clone();
        self.schema_known = true;
        Ok(s)
    }
}

/// Tables a write names, and whether one of its statements is an upsert.
#[derive(Default)]
struct Targets {
    tables: Vec<TableName>,
    upsert: bool,
}

/// Whether an OK says the statement matched rows it did not change (no row events for
/// them): an UPDATE's "Rows matched > Changed", or an upsert that found duplicates it may
/// have left as they were.
fn hides_rows(ok: &OkInfo, upsert: bool, found_rows: bool, single: bool) -> bool {
    if ok.unchanged > 0 {
        return true;
    }
    if !upsert {
        return false;
    }
    if ok.duplicates > 0 {
        return true;
    }
    // A one-row upsert has no info text: 0 rows affected is an unchanged update, and with
    // CLIENT_FOUND_ROWS 1 may be one too.
    single && (ok.affected_rows == 0 || (found_rows && ok.affected_rows == 1))
}

/// Why writes to a table cannot be replicated, if they cannot.
fn refusal(meta: &crate::replication::metadata::TableMeta) -> Option<String> {
    let name = format!("{}.{}", meta.schema, meta.table);
    // The statement named it in a way the text check cannot see (dynamic SQL, a routine).
    if meta.schema == super::route::OWN_SCHEMA {
        return Some(format!(
            "table {name}: the `{}` schema belongs to grproxy",
            super::route::OWN_SCHEMA
        ));
    }
    if meta.primary.is_none() {
        return Some(format!(
            "table {name} has no primary key; grproxy replicates only tables with one"
        ));
    }
    if !meta.engine.eq_ignore_ascii_case("InnoDB") {
        return Some(format!(
            "table {name} uses engine {}; grproxy replicates only InnoDB tables",
            meta.engine
        ));
    }
    if meta.referenced_with_cascade || meta.foreign_keys.iter().any(|f| f.cascades) {
        return Some(format!(
            "table {name} takes part in a cascading foreign key (InnoDB does not log cascaded rows)"
        ));
    }
    None
}

/// Clears status bits in the OK packet that ends a buffered DML response.
fn patch_status(b: &mut Buffered, clear: u16) {
    let payload = &mut b.bytes[b.last + 4..];
    if payload.first() != Some(&0x00) {
        return;
    }
    let mut rest: &[u8] = &payload[1..];
    let before = rest.len();
    if crate::protocol::packet::read_lenenc(&mut rest).is_none()
        || crate::protocol::packet::read_lenenc(&mut rest).is_none()
    {
        return;
    }
    let at = 1 + before - rest.len();
    if payload.len() >= at + 2 {
        let status = u16::from_le_bytes([payload[at], payload[at + 1]]) & !clear;
        payload[at..at + 2].copy_from_slice(&status.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_hidden_from_the_binlog() {
        let ok = |affected_rows, unchanged, duplicates| OkInfo {
            affected_rows,
            unchanged,
            duplicates,
            ..OkInfo::default()
        };
        // (ok, upsert, found_rows, single statement) -> hides rows
        let cases = [
            (ok(1, 0, 0), false, false, true, false),
            (ok(1, 1, 0), false, false, true, true),
            (ok(0, 0, 0), false, false, true, false),
            (ok(0, 0, 0), true, false, true, true),
            (ok(1, 0, 0), true, false, true, false),
            (ok(1, 0, 0), true, true, true, true),
            (ok(2, 0, 0), true, true, true, false),
            (ok(3, 0, 1), true, false, false, true),
            (ok(3, 0, 0), true, false, false, false),
        ];
        for (i, (o, upsert, found, single, want)) in cases.into_iter().enumerate() {
            assert_eq!(hides_rows(&o, upsert, found, single), want, "case {i}");
        }
    }
}
