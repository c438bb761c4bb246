//! The session side of group replication: transaction tracking (snapshot at the first
//! statement), write capture around every DML statement, and the commit path (propose,
//! certify, commit or roll back, answer the client).
//!
//! ```text
//!  no txn ──first statement──► open(snapshot = watermark)
//!  open ──DML──► capture: locking read, statement, read back, diff ──► open (+rows)
//!  open ──COMMIT / implicit commit──► propose ──Commit──► marker + COMMIT ──► no txn
//!                                            └─Abort───► ROLLBACK, 1213 ──► no txn
//!  autocommit DML = START TRANSACTION + capture + commit path, answered with the statement's OK
//! ```

use std::time::Duration;

use bytes::BytesMut;
use mysql_common::constants::CapabilityFlags as Caps;

use super::errors::ClientError;
use super::session::{Session, SessionEnd};
use crate::backend::internal;
use crate::protocol::packet::Packet;
use crate::protocol::response::{Expect, Outcome, ResponseState, Step, STATUS_AUTOCOMMIT, STATUS_IN_TRANS};
use crate::replication::applier::{marker_sql, LocalOutcome};
use crate::replication::capture::{self, DmlPlan, ImageShape, RawRow};
use crate::replication::certifier::Verdict;
use crate::replication::group::Group;
use crate::replication::txn::{Ddl, Entry, RowChange, TableName, Txn};
use crate::replication::writeset::WriteSetBuilder;
use crate::sql::{self, Classified, Detail, StatementKind};

/// A transaction being captured.
#[derive(Default)]
pub struct TxnState {
    pub snapshot: u64,
    pub tables: Vec<TableName>,
    pub columns: Vec<Vec<String>>,
    pub pk_columns: Vec<Vec<String>>,
    pub rows: Vec<RowChange>,
    pub ws: WriteSetBuilder,
}

impl TxnState {
    /// The transaction wrote something that must be certified: row changes, or rows an
    /// UPDATE matched without changing them (write-set items only).
    pub fn writes(&self) -> bool {
        !self.rows.is_empty() || !self.ws.is_empty()
    }

    fn table_index(&mut self, shape: &ImageShape) -> u32 {
        let m = &shape.meta;
        if let Some(i) = self
            .tables
            .iter()
            .position(|t| t.schema == m.schema && t.table == m.table)
        {
            return i as u32;
        }
        self.tables.push(TableName::new(&m.schema, &m.table));
        self.columns
            .push(shape.base.iter().map(|&c| m.columns[c].name.clone()).collect());
        let pk = m
            .primary
            .as_ref()
            .map(|k| k.columns.iter().map(|&c| m.columns[c].name.clone()).collect());
        self.pk_columns.push(pk.unwrap_or_default());
        (self.tables.len() - 1) as u32
    }
}

/// Buffered response of one command.
struct Buffered {
    bytes: BytesMut,
    /// Offset of the last packet (the OK that ends a DML response).
    last: usize,
    outcome: Outcome,
}

fn conflict_error(index: u64) -> ClientError {
    ClientError::CertificationConflict(index)
}

impl Session {
    fn group(&self) -> &std::sync::Arc<Group> {
        self.context()
            .group
            .as_ref()
            .expect("replication hooks run only in a group")
    }

    /// Runs a proxy statement on the session's connection.
    async fn internal(&mut self, sql: &str) -> Result<internal::TextResult, SessionEnd> {
        let caps = self.caps();
        match internal::query(self.backend_mut(), caps, sql).await {
            Ok(r) => {
                if let Some(s) = r.status {
                    self.status = s;
                }
                Ok(r)
            }
            Err(internal::InternalError::Server { code, message }) => {
                self.status_stale = true;
                Err(SessionEnd::Refused(ClientError::Internal(code, message)))
            }
            Err(other) => Err(SessionEnd::Protocol(other.to_string())),
        }
    }

    /// After an error inside a transaction, mysqld may have rolled the whole transaction back
    /// (deadlock, lock wait timeout with `innodb_rollback_on_timeout`, KILL), and an error
    /// packet carries no status flags: the flags seen last may wrongly say "in a transaction".
    /// A DML statement run on that belief would autocommit without certification, and a
    /// COMMIT would certify rows mysqld no longer has. So before such a decision, ask
    /// mysqld (`DO 0` answers OK with the flags); a transaction that is gone takes its
    /// captured rows with it (the client already had the error).
    pub(crate) async fn settle_status(&mut self) -> Result<(), SessionEnd> {
        if !self.in_transaction() {
            self.status_stale = false;
        }
        // A brute-force KILL QUERY may interrupt the probe itself: ask again.
        for _ in 0..3 {
            if !self.status_stale {
                return Ok(());
            }
            if self.internal_try("DO 0").await?.is_ok() {
                self.status_stale = false;
                if !self.in_transaction() && self.txn.take().is_some_and(|t| t.writes()) {
                    tracing::debug!(session = self.id, "mysqld rolled the transaction back after an error");
                }
            }
        }
        Err(SessionEnd::Protocol(
            "cannot learn the transaction state from mysqld".into(),
        ))
    }

    /// Like `internal`, but a server error is returned as a value.
    async fn internal_try(&mut self, sql: &str) -> Result<Result<internal::TextResult, (u16, String)>, SessionEnd> {
        match self.internal(sql).await {
            Ok(r) => Ok(Ok(r)),
            Err(SessionEnd::Refused(ClientError::Internal(code, msg))) => Ok(Err((code, msg))),
            Err(e) => Err(e),
        }
    }

    /// Forwards a command and collects its response instead of relaying it.
    async fn forward_buffered(&mut self, packet: &Packet, expect: Expect) -> Result<Buffered, SessionEnd> {
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

    async fn send_buffered(&mut self, b: &Buffered) -> Result<(), SessionEnd> {
        self.client_mut()
            .write_through(&b.bytes)
            .await
            .map_err(|e| SessionEnd::Client(e.into()))
    }

    /// Called before a statement is forwarded in a group: notes the snapshot a transaction
    /// starting with it would have, and commits first when the statement would commit
    /// implicitly. Returns false when the statement must not run (an error was sent).
    pub(crate) async fn before_statement(&mut self, class: &Classified) -> Result<bool, SessionEnd> {
        self.settle_status().await?;
        if self.txn.as_ref().is_some_and(TxnState::writes) && commits_implicitly(class) {
            if let Some(err) = self.commit_captured(None).await? {
                self.reply_error(err).await?;
                return Ok(false);
            }
        }
        if !self.in_transaction() {
            self.pending_snapshot = self.snapshot_now().await;
        }
        Ok(true)
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

    /// Called after a forwarded statement: opens or closes the tracked transaction.
    pub(crate) fn after_statement(&mut self) {
        if self.in_transaction() {
            if self.txn.is_none() {
                self.txn = Some(TxnState {
                    snapshot: self.pending_snapshot,
                    ..TxnState::default()
                });
            }
        } else if let Some(t) = self.txn.take() {
            if t.writes() {
                // A statement the classifier did not know to commit did so: the captured rows
                // were committed locally without certification. Say so loudly.
                tracing::error!(
                    session = self.id,
                    "transaction with captured rows ended outside grproxy's commit path"
                );
            }
        }
    }

    /// A DML statement in a group (COM_QUERY text, or a prepared statement's text with its
    /// parameters substituted). `packet` is what the client sent and is forwarded unchanged.
    pub(crate) async fn replicated_dml(
        &mut self,
        packet: &Packet,
        sql_text: &str,
        expect: Expect,
    ) -> Result<(), SessionEnd> {
        if let Some(e) = self.group().error_state() {
            return self.reply_error(ClientError::MemberError(e)).await;
        }
        let info = match sql::parse_dml(sql_text) {
            Ok(i) => i,
            Err(e) => {
                return self
                    .reply_error(ClientError::CannotReplicate(format!(
                        "cannot capture this statement: {e}"
                    )))
                    .await
            }
        };
        if info.multi_table || info.tables.len() != 1 {
            return self
                .reply_error(ClientError::CannotReplicate(
                    "multi-table UPDATE/DELETE is not replicated yet".into(),
                ))
                .await;
        }
        let target = &info.tables[0];
        let schema = match &target.schema {
            Some(s) => s.clone(),
            None => match self.current_schema().await? {
                Some(s) => s,
                None => {
                    return self
                        .reply_error(ClientError::Internal(1046, "No database selected".into()))
                        .await
                }
            },
        };
        let meta = match self.group().metadata.get(&schema, &target.table).await {
            Ok(m) => m,
            // Let mysqld produce its own error for a missing table.
            Err(crate::replication::metadata::MetadataError::NoSuchTable(..)) => {
                return self.forward(packet, expect).await.map(drop);
            }
            Err(e) => return self.reply_error(ClientError::CannotReplicate(e.to_string())).await,
        };
        if let Some(why) = meta.refusal(true) {
            return self.reply_error(ClientError::CannotReplicate(why)).await;
        }
        let shape = ImageShape::new(meta);
        let table_ref = capture::table_ref_text(sql_text, info.verb).unwrap_or_else(|| shape.qualified());
        let mut plan = match DmlPlan::new(shape, &info, &table_ref) {
            Ok(p) => p,
            Err(e) => return self.reply_error(ClientError::CannotReplicate(e.to_string())).await,
        };

        let autocommit_statement = !self.in_transaction() && self.status & STATUS_AUTOCOMMIT != 0;
        if !self.in_transaction() {
            self.pending_snapshot = self.snapshot_now().await;
            self.internal("START TRANSACTION").await?;
            self.txn = Some(TxnState {
                snapshot: self.pending_snapshot,
                ..TxnState::default()
            });
        } else if self.txn.is_none() {
            self.txn = Some(TxnState {
                snapshot: self.pending_snapshot,
                ..TxnState::default()
            });
        }

        let started = std::time::Instant::now();
        let before: Vec<RawRow> = match &plan.before {
            Some(sql) => match self.internal_try(sql).await? {
                Ok(r) => r.rows,
                Err((code, msg)) => {
                    return self
                        .abandon_statement(autocommit_statement, ClientError::Internal(code, msg))
                        .await
                }
            },
            None => Vec::new(),
        };
        if let Some((sql, _)) = plan.select_keys().cloned() {
            match self.internal_try(&sql).await? {
                Ok(r) => plan.set_selected_keys(&r.rows),
                Err((code, msg)) => {
                    return self
                        .abandon_statement(autocommit_statement, ClientError::Internal(code, msg))
                        .await
                }
            }
        }
        let rekey = match plan.new_keys_query(&before) {
            Some(sql) => match self.internal_try(&sql).await? {
                Ok(r) => capture::rekey_from(&r.rows, plan.shape.meta.primary.as_ref().map_or(0, |k| k.columns.len())),
                Err((code, msg)) => {
                    return self
                        .abandon_statement(autocommit_statement, ClientError::Internal(code, msg))
                        .await
                }
            },
            None => capture::Rekey::new(),
        };
        let response = self.forward_buffered(packet, expect).await?;
        if response.outcome.error.is_some() && self.control().bf_abort.swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            // Interrupted by the applier (KILL QUERY) for a conflicting remote transaction.
            self.internal("ROLLBACK").await?;
            self.txn = None;
            self.status &= !STATUS_IN_TRANS;
            return self.reply_error(ClientError::BruteForceAborted).await;
        }
        if response.outcome.error.is_some() {
            // The statement failed and changed nothing; mysqld rolled back the statement only.
            if autocommit_statement {
                self.internal("ROLLBACK").await?;
                self.txn = None;
            }
            return self.send_buffered(&response).await;
        }
        let ok = response.outcome.oks.last().copied().unwrap_or_default();
        let increment = self.auto_increment_increment().await?;
        plan.set_affected(ok.affected_rows);
        let after: Vec<RawRow> = match plan.after(&before, &rekey, ok.last_insert_id, increment) {
            Some(sql) => match self.internal_try(&sql).await? {
                Ok(r) => r.rows,
                Err((code, msg)) => return self.abandon_transaction(ClientError::Internal(code, msg)).await,
            },
            None => Vec::new(),
        };
        let txn = self.txn.as_mut().expect("opened above");
        let table = txn.table_index(&plan.shape);
        let mut ws = std::mem::take(&mut txn.ws);
        let captured = plan.capture(table, &before, &after, &rekey, &mut ws);
        txn.ws = ws;
        let found_rows = self.caps().contains(Caps::CLIENT_FOUND_ROWS);
        if let Err(e) = capture::check_count(plan.verb, &captured, ok.affected_rows, found_rows) {
            return self
                .abandon_transaction(ClientError::CannotReplicate(e.to_string()))
                .await;
        }
        self.txn.as_mut().expect("open").rows.extend(captured.changes);
        self.sync_control();
        self.group().stats.capture.record(started.elapsed());

        if !autocommit_statement {
            return self.send_buffered(&response).await;
        }
        let lost = if self.txn.as_ref().is_some_and(TxnState::writes) {
            self.commit_captured(None).await?
        } else {
            // Matched nothing: nothing to certify.
            self.txn = None;
            self.internal("COMMIT").await?;
            self.status &= !STATUS_IN_TRANS;
            None
        };
        match lost {
            None => {
                let mut response = response;
                patch_status(&mut response, STATUS_IN_TRANS);
                self.send_buffered(&response).await
            }
            Some(err) => self.reply_error(err).await,
        }
    }

    /// The statement cannot be captured: undo it (and an implicit transaction) and answer.
    async fn abandon_statement(&mut self, autocommit_statement: bool, err: ClientError) -> Result<(), SessionEnd> {
        if autocommit_statement {
            self.internal("ROLLBACK").await?;
            self.txn = None;
        }
        self.reply_error(err).await
    }

    /// The statement ran but its changes cannot be replicated completely: never replicate an
    /// incomplete change set, so the whole transaction is rolled back.
    async fn abandon_transaction(&mut self, err: ClientError) -> Result<(), SessionEnd> {
        self.internal("ROLLBACK").await?;
        self.txn = None;
        self.reply_error(err).await
    }

    /// COMMIT from the client.
    pub(crate) async fn replicated_commit(&mut self, packet: &Packet) -> Result<(), SessionEnd> {
        self.settle_status().await?;
        if !self.txn.as_ref().is_some_and(TxnState::writes) {
            self.txn = None;
            return self.forward(packet, Expect::QueryResult).await.map(drop);
        }
        match self.commit_captured(Some(packet)).await? {
            None => Ok(()),
            Some(err) => self.reply_error(err).await,
        }
    }

    /// Proposes the captured transaction and finishes it locally by its verdict. With
    /// `client_commit`, the client's COMMIT is forwarded and its response relayed; otherwise
    /// the proxy commits itself. Returns the error to give the client, if it lost.
    async fn commit_captured(&mut self, client_commit: Option<&Packet>) -> Result<Option<ClientError>, SessionEnd> {
        let state = self.txn.take().expect("a captured transaction");
        let group = self.group().clone();
        let trx_id = group.new_trx_id();
        let entry = Entry::Txn(Txn {
            origin: group.member_id,
            trx_id,
            snapshot: state.snapshot,
            write_set: state.ws.finish(),
            tables: state.tables,
            columns: state.columns,
            pk_columns: state.pk_columns,
            rows: state.rows,
        });
        let report = group.pending.register(trx_id);
        let (index, verdict) = match group.propose(&entry).await {
            Ok(x) => x,
            Err(e) => {
                // The outcome is unknown: if the entry was committed after all, the applier
                // replays it from its row images.
                let _ = report.send(LocalOutcome::Lost);
                self.internal("ROLLBACK").await?;
                return Ok(Some(ClientError::CommitUnknown(e.to_string())));
            }
        };
        // The verdict decides; a brute-force mark set while waiting for it is moot now.
        self.control()
            .bf_abort
            .store(false, std::sync::atomic::Ordering::Release);
        match verdict {
            Verdict::Commit => {
                self.control()
                    .phase
                    .store(super::registry::PHASE_COMMITTING, std::sync::atomic::Ordering::Release);
                let started = std::time::Instant::now();
                if let Err(e) = self.internal(&marker_sql(index)).await {
                    let _ = report.send(LocalOutcome::Lost);
                    return Err(e);
                }
                let result = match client_commit {
                    Some(p) => self.forward(p, Expect::QueryResult).await.map(drop),
                    None => self.internal("COMMIT").await.map(drop),
                };
                let _ = report.send(if result.is_ok() {
                    LocalOutcome::Committed
                } else {
                    LocalOutcome::Lost
                });
                result?;
                group.stats.local_commit.record(started.elapsed());
                // The session's next transaction must see this one in its snapshot.
                self.last_commit = index;
                self.status &= !STATUS_IN_TRANS;
                Ok(None)
            }
            Verdict::Abort { conflict_index } => {
                group.stats.aborts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = report.send(LocalOutcome::Lost);
                self.internal("ROLLBACK").await?;
                self.status &= !STATUS_IN_TRANS;
                Ok(Some(conflict_error(conflict_index)))
            }
        }
    }

    /// DDL in total order: proposed first, executed by this session when everything before it
    /// in the log is applied locally, and by every other member at the same place.
    pub(crate) async fn replicated_ddl(
        &mut self,
        packet: &Packet,
        text: &str,
        class: &Classified,
    ) -> Result<(), SessionEnd> {
        if matches!(
            class.detail,
            Detail::CreateTable { temporary: true } | Detail::DropTable { temporary: true, .. }
        ) {
            return self.forward(packet, Expect::QueryResult).await.map(drop);
        }
        let schema = self.current_schema().await?;
        let vars = self
            .internal("SELECT @@session.sql_mode, @@session.character_set_client")
            .await?;
        let row = vars.rows.first().cloned().unwrap_or_default();
        let text_of = |i: usize| {
            row.get(i)
                .cloned()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let group = self.group().clone();
        let trx_id = group.new_trx_id();
        let tables = ddl_tables(text, schema.as_deref());
        let entry = Entry::Ddl(Ddl {
            origin: group.member_id,
            trx_id,
            schema: schema.clone(),
            sql: text.to_string(),
            sql_mode: text_of(0),
            charset: text_of(1),
            tables,
        });
        let report = group.pending.register(trx_id);
        let index = match group.propose(&entry).await {
            Ok((i, _)) => i,
            Err(e) => {
                let _ = report.send(LocalOutcome::Lost);
                return self.reply_error(ClientError::CommitUnknown(e.to_string())).await;
            }
        };
        if !group.wait_turn(index, Duration::from_secs(60)).await {
            let _ = report.send(LocalOutcome::Lost);
            return self
                .reply_error(ClientError::CommitUnknown(
                    "timed out waiting for earlier transactions".into(),
                ))
                .await;
        }
        let r = self.forward(packet, Expect::QueryResult).await;
        let _ = report.send(LocalOutcome::Committed);
        self.last_commit = index;
        self.forget_schema();
        r.map(drop)
    }

    async fn current_schema(&mut self) -> Result<Option<String>, SessionEnd> {
        if let Some(s) = &self.schema {
            return Ok(Some(s.clone()));
        }
        let r = self.internal("SELECT DATABASE()").await?;
        let s = r
            .rows
            .first()
            .and_then(|row| row.first().cloned().flatten())
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        self.schema = s.clone();
        Ok(s)
    }

    async fn auto_increment_increment(&mut self) -> Result<u64, SessionEnd> {
        if let Some(i) = self.auto_inc {
            return Ok(i);
        }
        let r = self.internal("SELECT @@session.auto_increment_increment").await?;
        let i = r
            .rows
            .first()
            .and_then(|row| row.first().cloned().flatten())
            .and_then(|b| String::from_utf8_lossy(&b).parse().ok())
            .unwrap_or(1);
        self.auto_inc = Some(i);
        Ok(i)
    }
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

/// Statements that make mysqld commit an open transaction first.
fn commits_implicitly(c: &Classified) -> bool {
    match c.kind {
        StatementKind::Ddl | StatementKind::Admin => true,
        StatementKind::Transaction => matches!(c.detail, Detail::Begin { .. } | Detail::Lock | Detail::Unlock),
        StatementKind::Session => matches!(
            c.detail,
            Detail::SetAutocommit(Some(true)) | Detail::Lock | Detail::Unlock
        ),
        _ => false,
    }
}

/// Tables a DDL statement names after TABLE / INDEX ... ON / RENAME TABLE, for certification
/// (DDL conflicts with older-snapshot writes to those tables).
fn ddl_tables(text: &str, default_schema: Option<&str>) -> Vec<TableName> {
    use crate::sql::lexer::{tokenize, unquote_ident, TokenKind};
    let src = text.as_bytes();
    let toks = tokenize(src).tokens;
    let mut out: Vec<TableName> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let starts = t.is_kw(src, "TABLE") || t.is_kw(src, "ON") || t.is_kw(src, "TO") || t.is_punct(src, ",");
        if starts {
            let mut j = i + 1;
            while toks
                .get(j)
                .is_some_and(|t| t.is_kw(src, "IF") || t.is_kw(src, "NOT") || t.is_kw(src, "EXISTS"))
            {
                j += 1;
            }
            let name = |k: usize| {
                toks.get(k)
                    .filter(|t| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent))
            };
            if let Some(a) = name(j) {
                let first = unquote_ident(a.text(src));
                let qualified = toks.get(j + 1).is_some_and(|t| t.is_punct(src, "."));
                let tn = match (qualified, name(j + 2)) {
                    (true, Some(b)) => Some(TableName::new(&first, unquote_ident(b.text(src)))),
                    (false, _) => default_schema.map(|s| TableName::new(s, &first)),
                    _ => None,
                };
                if let Some(tn) = tn {
                    if !out.contains(&tn) && !matches!(tn.table.to_ascii_uppercase().as_str(), "SELECT" | "LIKE") {
                        out.push(tn);
                    }
                }
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_table_names() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("CREATE TABLE t (id INT PRIMARY KEY)", &[("db", "t")]),
            ("CREATE TABLE IF NOT EXISTS `x`.`y` (a INT)", &[("x", "y")]),
            ("ALTER TABLE t ADD COLUMN c INT", &[("db", "t")]),
            ("DROP TABLE a, b.c", &[("db", "a"), ("b", "c")]),
            ("RENAME TABLE a TO b", &[("db", "a"), ("db", "b")]),
            ("CREATE INDEX k ON t (c)", &[("db", "t")]),
            ("TRUNCATE TABLE t", &[("db", "t")]),
            ("CREATE DATABASE d", &[]),
        ];
        for (sql, want) in cases {
            let got: Vec<(String, String)> = ddl_tables(sql, Some("db"))
                .into_iter()
                .map(|t| (t.schema, t.table))
                .collect();
            let want: Vec<(String, String)> = want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            assert_eq!(got, want, "{sql}");
        }
    }
}
