//! Committing a client's XA transaction through the group: `XA END` and `XA PREPARE`, the
//! row events from the tap, the write-set, the proposal, then `XA COMMIT` or `XA ROLLBACK` by
//! the verdict (the diagram in `replicate.rs`).

use super::*;

impl Session {
    /// Commits the open XA transaction through the group. Returns the error to give the
    /// client when it did not commit; the transaction is over either way.
    pub(crate) async fn commit_open(&mut self) -> Result<Option<ClientError>, SessionEnd> {
        let Some(t) = self.txn.as_ref() else {
            return Ok(None);
        };
        let xid = t.xid();
        let may_write = t.may_write;
        let capture_started = std::time::Instant::now();
        self.control()
            .phase
            .store(crate::frontend::registry::PHASE_COMMITTING, Ordering::Release);
        // A transaction of plain reads is prepared and checked like any other: a read can
        // still write (a stored function behind a view), and such a write must not commit
        // here alone. It only skips the short wait for events it most likely has not got.
        let group = self.group().clone();
        let gtrid = self.txn.as_ref().expect("open").gtrid.clone();
        let mut wait = group.tap.expect(gtrid.as_bytes());
        // While this session may still finish the prepared transaction itself, the applier
        // leaves it alone.
        let _preparing = group.preparing(self.txn.as_ref().expect("open").trx_id);
        // One round trip for both: XA PREPARE prepares only a branch that XA END has ended,
        // so when XA END fails (mysqld rolled the branch back: deadlock, kill) the PREPARE
        // behind it fails too, and the rollback below covers either outcome.
        let (ended, prepared) = self
            .internal_pair_try(&format!("XA END {xid}"), &format!("XA PREPARE {xid}"))
            .await?;
        if let Err((code, msg)) = ended.and(prepared) {
            // The commit fails as it would have on mysqld.
            group.tap.forget(gtrid.as_bytes());
            self.abandon_xa().await?;
            return Ok(Some(ClientError::Internal(code, msg)));
        }
        let fast_wait = if may_write { EVENTS_FAST_WAIT } else { Duration::ZERO };
        let prepared = match wait.wait(fast_wait).await {
            Some(p) => Some(p),
            None => match self.events_if_any(&mut wait).await {
                Ok(p) => p,
                Err(e) => {
                    // Not proposed: roll it back once this connection is gone.
                    group.tap.forget(gtrid.as_bytes());
                    group.settle_soon(self.txn.as_ref().expect("open").trx_id, None);
                    return Err(self.lose_prepared(e));
                }
            },
        };
        group.tap.forget(gtrid.as_bytes());
        // The tap has read past this transaction: a sequence its statements advanced (mysqld
        // logs that apart, before it) is proposed before the client hears back.
        // (Not while the member takes no writes: the proposal below fails at once then.)
        let writable = group.unavailable().is_none() && group.quorum().refusal().is_none();
        if writable && !group.tap.unclaimed_settled(SEQUENCE_WAIT).await {
            tracing::warn!("a sequence advance before this commit is not in the log yet");
        }
        let t = self.txn.as_ref().expect("open");
        let prepared = match prepared {
            Some(p) => p,
            // Prepared with no row events and no rows matched without change: it wrote
            // nothing.
            None if t.wide.is_empty() && !t.wide_unknown => {
                let r = self.internal_try(&format!("XA COMMIT {xid}")).await?;
                return Ok(self.finish_local(r.err()).await);
            }
            // Only rows matched without change: still writes, certified by table.
            None => crate::replication::tap::Prepared {
                fde: Vec::new(),
                events: Vec::new(),
                queries: Vec::new(),
            },
        };
        group.stats.capture.record(capture_started.elapsed());
        let t = self.txn.take().expect("open");
        self.sync_control();
        if t.wide_unknown || !prepared.queries.is_empty() {
            let _ = self.internal_try(&format!("XA ROLLBACK {xid}")).await?;
            self.status &= !STATUS_IN_TRANS;
            let why = if t.wide_unknown {
                "a statement matched rows it did not change in a table grproxy could not name".to_string()
            } else {
                format!(
                    "the transaction changed data that mysqld logged as statements, not rows: {}",
                    prepared.queries.join("; ")
                )
            };
            return Ok(Some(ClientError::CannotReplicate(why)));
        }
        let metas = match self.metadata_of(&prepared).await {
            Ok(m) => m,
            Err(e) => {
                let _ = self.internal_try(&format!("XA ROLLBACK {xid}")).await?;
                self.status &= !STATUS_IN_TRANS;
                return Ok(Some(ClientError::CannotReplicate(e)));
            }
        };
        let lookup = |s: &str, n: &str| metas.iter().find(|m| m.schema == s && m.table == n).cloned();
        let derived = if prepared.events.is_empty() {
            Ok(crate::replication::keys::RowKeys::default())
        } else {
            crate::replication::keys::derive(&prepared.fde, &prepared.events, &lookup, &group.weigher).await
        };
        let keys = match derived {
            Ok(k) => k,
            Err(e) => {
                // Cached metadata may predate a DDL: the next transaction reloads it.
                group.metadata.invalidate();
                let _ = self.internal_try(&format!("XA ROLLBACK {xid}")).await?;
                self.status &= !STATUS_IN_TRANS;
                return Ok(Some(ClientError::CannotReplicate(e.to_string())));
            }
        };
        let mut tables = keys.tables;
        for tn in &t.tables {
            if !tables.contains(tn) {
                tables.push(tn.clone());
            }
        }
        let mut ws = crate::replication::writeset::WriteSetBuilder::new();
        ws.extend(keys.items);
        let entry = Entry::Txn(Txn {
            origin: group.member_id,
            trx_id: t.trx_id,
            snapshot: t.snapshot,
            write_set: ws.finish(),
            tables,
            wide: t.wide,
            fde: prepared.fde,
            events: prepared.events,
        });
        let report = group.pending.register(t.trx_id);
        let (index, verdict) = match group.propose(&entry).await {
            Ok(x) => x,
            // Refused before anything was appended (too large for the log, or this member is
            // in ERROR): the transaction is certainly not in the log; roll it back here.
            Err(
                e @ (GroupError::Consensus(ConsensusError::TooLarge { .. })
                | GroupError::MemberError(_)
                | GroupError::NoQuorum(_)),
            ) => {
                drop(report);
                group.pending.cancel(t.trx_id);
                let _ = self.internal_try(&format!("XA ROLLBACK {xid}")).await?;
                self.status &= !STATUS_IN_TRANS;
                return Ok(Some(match e {
                    GroupError::NoQuorum(why) => ClientError::NoQuorum(why),
                    e => ClientError::CannotReplicate(format!("the transaction was rolled back: {e}")),
                }));
            }
            Err(e) => {
                // The outcome is unknown: the entry may still commit. The prepared
                // transaction stays for the applier (XA COMMIT or ROLLBACK by the verdict),
                // which needs this connection gone to reach it; if the log never settles it,
                // it is rolled back as never certified.
                let _ = report.send(LocalOutcome::Lost);
                let trx_id = t.trx_id;
                group.sweep(move |trx| trx == trx_id);
                return Err(self.lose_prepared(e.to_string()));
            }
        };
        self.brute_force_mark_clear();
        match verdict {
            Verdict::Commit => {
                let started = std::time::Instant::now();
                // A state-transfer copy must know whether it holds this commit.
                let commit_guard = group.copy_gate.commit_guard().await;
                let committed = self.internal_try(&format!("XA COMMIT {xid}")).await;
                if matches!(committed, Ok(Ok(_))) {
                    group.copy_gate.committed(index);
                }
                drop(commit_guard);
                match committed {
                    Ok(Ok(_)) => {
                        let _ = report.send(LocalOutcome::Settled);
                        group.stats.local_commit.record(started.elapsed());
                        self.last_commit = index;
                        self.status &= !STATUS_IN_TRANS;
                        if self.consistency.after() {
                            return Ok(self.consistency_after(index).await);
                        }
                        Ok(None)
                    }
                    Ok(Err((code, msg))) => {
                        group.settle_soon(t.trx_id, Some(index));
                        let _ = report.send(LocalOutcome::Lost);
                        Err(self.lose_prepared(format!("XA COMMIT failed: {code} {msg}")))
                    }
                    Err(e) => {
                        group.settle_soon(t.trx_id, Some(index));
                        let _ = report.send(LocalOutcome::Lost);
                        Err(e)
                    }
                }
            }
            Verdict::Abort { conflict_index } => {
                group.stats.aborts.fetch_add(1, Ordering::Relaxed);
                let r = self.internal_try(&format!("XA ROLLBACK {xid}")).await;
                match r {
                    Ok(Ok(_)) => {
                        let _ = report.send(LocalOutcome::Settled);
                        self.status &= !STATUS_IN_TRANS;
                        Ok(Some(ClientError::CertificationConflict(conflict_index)))
                    }
                    Ok(Err((code, msg))) => {
                        group.settle_soon(t.trx_id, None);
                        let _ = report.send(LocalOutcome::Lost);
                        Err(self.lose_prepared(format!("XA ROLLBACK failed: {code} {msg}")))
                    }
                    Err(e) => {
                        group.settle_soon(t.trx_id, None);
                        let _ = report.send(LocalOutcome::Lost);
                        Err(e)
                    }
                }
            }
        }
    }

    /// Metadata of every table the prepared transaction's row events write (checked for what
    /// grproxy cannot replicate).
    async fn metadata_of(
        &mut self,
        prepared: &crate::replication::tap::Prepared,
    ) -> Result<Vec<std::sync::Arc<crate::replication::metadata::TableMeta>>, String> {
        let group = self.group().clone();
        let mut out: Vec<std::sync::Arc<crate::replication::metadata::TableMeta>> = Vec::new();
        for (schema, table, columns) in crate::replication::tap::table_names(&prepared.fde, &prepared.events)? {
            if out.iter().any(|m| m.schema == schema && m.table == table) {
                continue;
            }
            let mut meta = group.metadata.get(&schema, &table).await.map_err(|e| e.to_string())?;
            if meta.columns.len() != columns {
                // Cached before a DDL that this member has run since: read it again.
                group.metadata.invalidate();
                meta = group.metadata.get(&schema, &table).await.map_err(|e| e.to_string())?;
            }
            if let Some(why) = refusal(&meta) {
                return Err(why);
            }
            out.push(meta);
        }
        Ok(out)
    }

    /// The end of a transaction that needed no certification.
    async fn finish_local(&mut self, err: Option<(u16, String)>) -> Option<ClientError> {
        self.txn = None;
        self.status &= !STATUS_IN_TRANS;
        self.sync_control();
        err.map(|(code, msg)| ClientError::Internal(code, msg))
    }

    /// The prepared transaction's events, or `None` when mysqld's binlog shows it wrote
    /// nothing: the tap has read past mysqld's binlog end and no events came.
    async fn events_if_any(
        &mut self,
        wait: &mut crate::replication::tap::PreparedWait,
    ) -> Result<Option<crate::replication::tap::Prepared>, String> {
        let group = self.group().clone();
        let at = group.tap.position();
        let end = group.binlog_end().await.map_err(|e| e.to_string())?;
        group.tap.check_end(&at, &end)?;
        if !group.tap.reached(&end, TAP_WAIT).await {
            return Err("the binlog tap does not keep up with mysqld".into());
        }
        Ok(wait.try_take())
    }

    /// Ends the session after its prepared transaction's outcome became unknown: the
    /// applier settles it by the log's verdict once this connection is gone.
    fn lose_prepared(&mut self, why: String) -> SessionEnd {
        tracing::warn!(session = self.id, reason = %why, "commit outcome unknown; the applier settles the prepared transaction");
        self.txn = None;
        SessionEnd::Refused(ClientError::CommitUnknown(why))
    }
}
