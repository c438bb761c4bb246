//! One client session after authentication: read a command, decide, forward it to the
//! session's own backend connection, relay the response. One task owns all of it.
//!
//! ```text
//!          ┌──────────── idle ◄──────────────┐
//!  command │                                 │ response complete
//!          ▼                                 │
//!   classify / map (KILL ids, LOCAL INFILE)  │
//!          │ forward raw bytes               │
//!          ▼                                 │
//!   relaying response ──(LOCAL INFILE)──► relaying client file ──┘
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use mysql_common::constants::CapabilityFlags as Caps;

use super::connect::Established;
use super::context::Context;
use super::errors::ClientError;
use super::registry::{Registration, UserSlot};
use crate::backend::relay::{relay_response, RelayError};
use crate::protocol::command::*;
use crate::protocol::io::{BoxStream, IoError, PacketIo};
use crate::protocol::packet::Packet;
use crate::protocol::response::{Expect, Outcome, ResponseState, Step, STATUS_IN_TRANS};
use crate::protocol::FrameError;
use crate::sql::{self, Classified, Detail};

mod change_user;

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionEnd {
    #[error("client quit")]
    Quit,
    #[error("client closed the connection")]
    ClientClosed,
    #[error("client: {0}")]
    Client(IoError),
    #[error("backend: {0}")]
    Backend(IoError),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("{0}")]
    Refused(ClientError),
}

/// What the proxy knows about a prepared statement.
#[derive(Debug, Clone)]
pub struct PreparedInfo {
    pub params: u16,
    pub columns: u16,
    pub class: Classified,
    /// Statement text as prepared (routes its executions).
    pub sql: String,
}

pub struct Session {
    ctx: Arc<Context>,
    pub id: u32,
    client: PacketIo<BoxStream>,
    backend: PacketIo<BoxStream>,
    pub backend_id: u32,
    caps: Caps,
    pub user: String,
    _user_slot: UserSlot,
    registration: Registration,
    /// Status flags from the last OK/EOF mysqld sent.
    pub status: u16,
    /// An error came after `status` was last set: see `settle_status`.
    pub(crate) status_stale: bool,
    /// Prepared statements by mysqld's statement id.
    pub prepared: HashMap<u32, PreparedInfo>,
    /// Statement text of the last COM_STMT_PREPARE, until its response names the id.
    pub(crate) pending_prepare: Option<(Classified, String)>,
    /// The transaction being captured (group members only).
    pub(crate) txn: Option<super::replicate::TxnState>,
    /// Current database, when known.
    pub(crate) schema: Option<String>,
    /// `schema` is what mysqld has (from the handshake, USE or COM_INIT_DB); otherwise the
    /// next need reads it with `SELECT DATABASE()`.
    pub(crate) schema_known: bool,
    /// Log index of this session's last commit (its next snapshot must include it).
    pub(crate) last_commit: u64,
    /// The open transaction was rolled back for a remote winner; the client is told next.
    pub(crate) bf_rolled_back: bool,
    /// The client holds table locks (`LOCK TABLES`): writes are refused until it unlocks.
    pub(crate) locked: bool,
    /// `ROW_COUNT()` of the autocommit write just committed (see `row_count.rs`), for the
    /// client's next statement only.
    pub(crate) shadow_row_count: Option<i64>,
    /// `group_replication_consistency` of this session (see `consistency.rs`).
    pub(crate) consistency: super::consistency::Consistency,
    /// Temporary tables this session created (schema, table): DDL on them stays local.
    pub(crate) temp_tables: std::collections::HashSet<(String, String)>,
    /// How the session's SQL text is lexed (sql_mode quoting rules, client character set).
    lex: sql::LexOptions,
    /// `lex` must be read from mysqld again before the next statement is split (group
    /// members: a statement may have changed sql_mode or the character set).
    lex_stale: bool,
    /// Class of the command being run, for its latency (`FrontendStats`).
    timed_kind: Option<sql::StatementKind>,
    /// Read-write splitting on a single-primary secondary (see `split_session.rs`).
    pub(crate) split: super::split_session::SplitState,
}

impl Session {
    /// A session; its id is its mysqld thread's (the id its greeting carried).
    pub fn new(ctx: Arc<Context>, e: Established) -> Self {
        let id = e.backend_id;
        let registration = ctx.registry.register(id, e.backend_id);
        let consistency = ctx.settings.default_consistency;
        Session {
            ctx,
            id,
            client: e.client,
            backend: e.backend,
            backend_id: e.backend_id,
            caps: e.caps,
            user: e.user,
            _user_slot: e.user_slot,
            registration,
            status: e.status,
            status_stale: false,
            prepared: HashMap::new(),
            pending_prepare: None,
            txn: None,
            schema: e.database.clone(),
            schema_known: true,
            last_commit: 0,
            bf_rolled_back: false,
            locked: false,
            lex: sql::LexOptions::default(),
            lex_stale: true,
            temp_tables: std::collections::HashSet::new(),
            shadow_row_count: None,
            consistency,
            timed_kind: None,
            split: super::split_session::SplitState::new(e.proof, e.hello, e.forwarded_by),
        }
    }

    pub(crate) fn caps(&self) -> Caps {
        self.caps
    }

    pub(crate) fn backend_mut(&mut self) -> &mut PacketIo<BoxStream> {
        &mut self.backend
    }

    pub(crate) fn client_mut(&mut self) -> &mut PacketIo<BoxStream> {
        &mut self.client
    }

    pub(crate) fn forget_schema(&mut self) {
        self.schema = None;
        self.schema_known = false;
    }

    fn replicating(&self) -> bool {
        self.ctx.group.is_some()
    }

    pub fn in_transaction(&self) -> bool {
        self.status & STATUS_IN_TRANS != 0
    }

    /// Serves commands until the client quits or a connection fails.
    pub async fn run(mut self) -> SessionEnd {
        let end = self.command_loop().await;
        match &end {
            SessionEnd::Quit | SessionEnd::ClientClosed => {}
            SessionEnd::Refused(e) => {
                let _ = self.client.send(1, &e.payload()).await;
            }
            SessionEnd::Client(_) | SessionEnd::Protocol(_) | SessionEnd::Backend(_) => {
                // The backend may be mid-response or mid-statement: make sure mysqld stops
                // working for a client that is gone.
                let side = self.ctx.side.clone();
                let thread = self.backend_id;
                tokio::spawn(async move {
                    if let Err(e) = side.kill(thread, false).await {
                        tracing::warn!(thread, error = %e, "could not kill backend thread of a broken session");
                    }
                });
            }
        }
        self.client.shutdown().await;
        self.backend.shutdown().await;
        end
    }

    async fn command_loop(&mut self) -> SessionEnd {
        loop {
            let packet = match self.next_command().await {
                Ok(Some(p)) => p,
                Ok(None) => return SessionEnd::ClientClosed,
                Err(end) => return end,
            };
            match self.dispatch(packet).await {
                Ok(true) => {}
                Ok(false) => return SessionEnd::Quit,
                Err(end) => return end,
            }
        }
    }

    async fn next_command(&mut self) -> Result<Option<Packet>, SessionEnd> {
        let killed = self.registration.killed.clone();
        let control = self.registration.control.clone();
        let mut draining = self.ctx.draining.clone();
        loop {
            enum Event {
                Read(Result<Option<Packet>, SessionEnd>),
                Killed,
                Wake,
                Drain,
            }
            // Draining (SIGTERM): a session ends between commands once it is outside a
            // transaction; one inside a transaction is left to finish it.
            let open_txn = self.txn.is_some() || self.in_transaction();
            if !open_txn && self.ctx.is_draining() {
                return Err(SessionEnd::Refused(ClientError::ShuttingDown));
            }
            let event = {
                let read = async {
                    match self.ctx.limits.idle_timeout() {
                        Some(t) => tokio::time::timeout(t, self.client.read_packet())
                            .await
                            .map_err(|_| SessionEnd::Refused(ClientError::Timeout))?,
                        None => self.client.read_packet().await,
                    }
                    .map_err(client_read_error)
                };
                tokio::select! {
                    r = read => Event::Read(r),
                    _ = killed.notified() => Event::Killed,
                    _ = control.wake.notified() => Event::Wake,
                    Ok(_) = draining.wait_for(|d| d.is_some()), if !open_txn => Event::Drain,
                }
            };
            match event {
                Event::Read(r) => return r,
                Event::Killed => return Err(SessionEnd::Refused(ClientError::Killed)),
                Event::Drain => return Err(SessionEnd::Refused(ClientError::ShuttingDown)),
                // A certified remote transaction needs this idle session's locks: roll back
                // now; the client learns at its next statement.
                Event::Wake => self.brute_force_rollback().await?,
            }
        }
    }

    /// Rolls back a transaction the applier aborted (brute force), keeping the flag so the
    /// client's next statement gets 1213.
    pub(crate) async fn brute_force_rollback(&mut self) -> Result<(), SessionEnd> {
        let control = self.registration.control.clone();
        if control.bf_abort.load(std::sync::atomic::Ordering::Acquire) && self.txn.is_some() {
            self.abandon_xa().await?;
            self.bf_rolled_back = true;
            self.sync_control();
        }
        Ok(())
    }

    /// Publishes the session's transaction state for the applier.
    pub(crate) fn sync_control(&self) {
        use std::sync::atomic::Ordering;
        let c = &self.registration.control;
        c.in_txn
            .store(self.txn.is_some() || self.in_transaction(), Ordering::Release);
        let mut tables = c.tables.lock().unwrap();
        match &self.txn {
            Some(t) => {
                tables.clone_from(&t.tables);
            }
            None => tables.clear(),
        }
    }

    pub(crate) fn control(&self) -> &std::sync::Arc<super::registry::SessionControl> {
        &self.registration.control
    }

    /// Handles one command; `Ok(false)` means the client quit.
    async fn dispatch(&mut self, packet: Packet) -> Result<bool, SessionEnd> {
        use super::registry::{PHASE_BUSY, PHASE_IDLE};
        use std::sync::atomic::Ordering;
        if !self.replicating() {
            return self.dispatch_command(packet).await;
        }
        let control = self.registration.control.clone();
        if control.bf_abort.swap(false, Ordering::AcqRel) {
            control.bf_abort.store(true, Ordering::Release);
            self.brute_force_rollback().await?;
            control.bf_abort.store(false, Ordering::Release);
        }
        if std::mem::take(&mut self.bf_rolled_back) {
            let is_rollback = packet.first() == Some(COM_QUERY)
                && matches!(
                    sql::classify_bytes(&packet.payload[1..]).detail,
                    Detail::Rollback { .. }
                );
            if !is_rollback && packet.first() != Some(COM_QUIT) {
                self.reply_error(ClientError::BruteForceAborted).await?;
                return Ok(true);
            }
        }
        control.phase.store(PHASE_BUSY, Ordering::Release);
        let r = self.dispatch_command(packet).await;
        self.sync_control();
        control.phase.store(PHASE_IDLE, Ordering::Release);
        r
    }

    async fn dispatch_command(&mut self, packet: Packet) -> Result<bool, SessionEnd> {
        if packet.seq != 0 {
            return Err(SessionEnd::Refused(ClientError::Malformed));
        }
        let Some(command) = packet.first() else {
            return Err(SessionEnd::Refused(ClientError::Malformed));
        };
        // mysqld's ROW_COUNT() survives a COM_STMT_PREPARE and COM_STMT_CLOSE: the shadow
        // waits for the statement (text or prepared) that may read it.
        if !matches!(
            command,
            COM_QUERY | COM_STMT_PREPARE | COM_STMT_EXECUTE | COM_STMT_CLOSE
        ) {
            self.shadow_row_count = None;
        }
        if self.replicating() && command != COM_QUERY {
            if let Some(r) = self.split_other(&packet).await? {
                return Ok(r);
            }
        }
        match command {
            COM_QUIT => {
                self.backend.queue_raw(&packet.raw);
                let _ = self.backend.flush().await;
                return Ok(false);
            }
            COM_QUERY => {
                let started = std::time::Instant::now();
                let r = self.query(packet).await;
                if let Some(kind) = self.timed_kind.take() {
                    self.ctx.stats.observe(kind, started.elapsed());
                }
                return r;
            }
            COM_STMT_PREPARE => {
                let text = &packet.payload[1..];
                self.pending_prepare = Some((
                    sql::classify_bytes_with(text, self.lex),
                    String::from_utf8_lossy(text).into_owned(),
                ));
                self.forward(&packet, Expect::Prepare).await.map(drop)?;
            }
            COM_STMT_EXECUTE => {
                let started = std::time::Instant::now();
                let id = packet
                    .payload
                    .get(1..5)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                let kind = id.and_then(|id| self.prepared.get(&id)).map(|info| info.class.kind);
                if let Some(info) = id.and_then(|id| self.prepared.get(&id)) {
                    self.ctx.stats.count_statements([&info.class]);
                }
                let r = if self.replicating() {
                    self.execute_in_group(&packet).await
                } else {
                    self.forward(&packet, Expect::QueryResult).await.map(|_| true)
                };
                if let Some(kind) = kind {
                    self.ctx.stats.observe(kind, started.elapsed());
                }
                return r;
            }
            COM_STMT_FETCH | COM_FIELD_LIST => self.forward(&packet, Expect::UntilTerminator).await.map(drop)?,
            COM_STMT_CLOSE | COM_STMT_SEND_LONG_DATA => {
                if let (COM_STMT_CLOSE, Some(id)) = (command, statement_id(&packet.payload)) {
                    self.prepared.remove(&id);
                }
                self.backend.queue_raw(&packet.raw);
                self.backend.flush().await.map_err(backend_write_error)?;
            }
            COM_PING | COM_STMT_RESET | COM_SET_OPTION | COM_REFRESH | COM_DEBUG | COM_CREATE_DB | COM_DROP_DB => {
                self.forward(&packet, Expect::OkOrErr).await.map(drop)?
            }
            COM_RESET_CONNECTION => {
                if self.txn.is_some() {
                    self.abandon_xa().await?;
                }
                self.forward(&packet, Expect::OkOrErr).await.map(drop)?;
                self.prepared.clear();
                self.locked = false;
                self.lex_stale = true;
                self.temp_tables.clear();
                // mysqld keeps the default schema across COM_RESET_CONNECTION (checked on
                // MariaDB 10.11 by `proxy_reads_leave_found_rows_and_row_count`).
            }
            COM_INIT_DB => {
                let own = super::route::OWN_SCHEMA.as_bytes();
                if self.replicating() && packet.payload[1..].eq_ignore_ascii_case(own) {
                    let e = ClientError::CannotReplicate(format!(
                        "the `{}` schema belongs to grproxy",
                        super::route::OWN_SCHEMA
                    ));
                    self.reply_error(e).await?;
                    return Ok(true);
                }
                let outcome = self.forward(&packet, Expect::OkOrErr).await?;
                // A failed COM_INIT_DB leaves the default schema as it was.
                if outcome.error.is_none() {
                    self.schema = Some(String::from_utf8_lossy(&packet.payload[1..]).into_owned());
                    self.schema_known = true;
                }
            }
            COM_STATISTICS => self.forward(&packet, Expect::Opaque).await.map(drop)?,
            COM_PROCESS_INFO => self.forward(&packet, Expect::QueryResult).await.map(drop)?,
            COM_PROCESS_KILL => self.kill_command(packet).await?,
            COM_CHANGE_USER => self.change_user(packet).await?,
            COM_SHUTDOWN => {
                self.reply_error(ClientError::NotSupported("COM_SHUTDOWN through a proxy"))
                    .await?
            }
            _ => self.reply_error(ClientError::UnknownCommand).await?,
        }
        Ok(true)
    }

    /// Sends the proxy's own error for the current command (sequence id 1).
    pub(crate) async fn reply_error(&mut self, e: ClientError) -> Result<(), SessionEnd> {
        self.client
            .send(1, &e.payload())
            .await
            .map_err(|e| SessionEnd::Client(e.into()))
    }

    /// Reads the session's sql_mode and client character set from mysqld when a statement
    /// may have changed them, so statements are split and classified as mysqld reads them
    /// (NO_BACKSLASH_ESCAPES, ANSI_QUOTES, multi-byte character sets such as gbk).
    ///
    /// The read is a statement of its own on the client's connection, and it resets what
    /// `ROW_COUNT()`, `FOUND_ROWS()` and `SHOW WARNINGS` return; so it waits for a statement
    /// whose reading depends on the settings: one with a quote, a backslash or a non-ASCII
    /// byte. `SET NAMES gbk; SHOW WARNINGS` or `SELECT FOUND_ROWS()` lex the same either way.
    /// `FOUND_ROWS()` is set back afterwards (`own_select`), and `ROW_COUNT()` as it was
    /// before the read is what the client's statement gets for its calls (`row_count.rs`).
    async fn refresh_lex(&mut self, text: &[u8]) -> Result<(), SessionEnd> {
        if !self.replicating() || !self.lex_stale || !sql::lexing_depends_on_settings(text) {
            return Ok(());
        }
        let r = self
            .own_select("@@session.sql_mode, @@session.character_set_client, ROW_COUNT()")
            .await?;
        let row = r.rows.first().cloned().unwrap_or_default();
        let text = |i: usize| {
            row.get(i)
                .cloned()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let mut lex = sql::LexOptions::default().with_sql_mode(&text(0));
        lex.charset = sql::LexCharset::from_name(&text(1));
        self.lex = lex;
        self.lex_stale = false;
        // After an autocommit write the shadow holds the write's count already.
        if self.shadow_row_count.is_none() {
            self.shadow_row_count = text(2).parse().ok();
        }
        Ok(())
    }

    /// Notes statements after which `lex` must be read again.
    fn note_lex_changes(&mut self, statements: &[&[u8]], classes: &[sql::Classified]) {
        let changes = statements.iter().zip(classes).any(|(t, c)| {
            matches!(c.detail, Detail::SetNames)
                || sql::session_variables_set_with(t, self.lex)
                    .iter()
                    .any(|(scope, name)| {
                        *scope == sql::VarScope::Session
                            && matches!(
                                name.as_str(),
                                "sql_mode" | "character_set_client" | "names" | "character set" | "charset"
                            )
                    })
        });
        if changes {
            self.lex_stale = true;
        }
    }

    async fn query(&mut self, packet: Packet) -> Result<bool, SessionEnd> {
        let text = &packet.payload[1..];
        self.refresh_lex(text).await?;
        let mut statements = sql::split_statements_bytes_with(text, self.lex);
        // A stored program's body holds `;`s of its own: the whole command is one statement
        // (clients send such a statement alone, after their own DELIMITER handling).
        if statements.len() > 1
            && matches!(
                sql::classify_bytes_with(text, self.lex).detail,
                Detail::CreateRoutine | Detail::CreateTrigger
            )
        {
            statements = std::iter::once(0..text.len()).collect();
        }
        let mut kill = None;
        let mut classes = Vec::with_capacity(statements.len());
        for range in &statements {
            let class = sql::classify_bytes_with(&text[range.clone()], self.lex);
            match class.detail {
                Detail::LoadData { local: true } if !self.ctx.settings.local_infile => {
                    return self.reply_error(ClientError::LocalInfileDisabled).await.map(|_| true);
                }
                Detail::Kill { .. } => kill = Some((range.clone(), class.clone())),
                _ => {}
            }
            classes.push(class);
        }
        self.ctx.stats.count_statements(&classes);
        self.timed_kind = classes.first().map(|c| c.kind);
        if let Some((range, class)) = kill {
            return self.kill_statement(&packet, range, class).await.map(|_| true);
        }
        if let [class] = classes.as_slice() {
            if class.detail == Detail::ProxyStatus {
                return self.proxy_status().await.map(|_| true);
            }
            if class.detail == Detail::ProxyMembers {
                return self.proxy_members(text).await.map(|_| true);
            }
            if class.detail == Detail::ProxyCommand {
                return self.proxy_command(text).await.map(|_| true);
            }
        }
        if self.replicating() {
            // Only a plain `SET` of variables can be the consistency level: nothing else is
            // tokenized again on this path.
            if let [Classified {
                detail: Detail::SetVariables { .. },
                ..
            }] = classes.as_slice()
            {
                if let Some(r) = super::consistency::parse_set(text, self.lex) {
                    let set = r.is_ok();
                    self.set_consistency(r).await?;
                    if set {
                        self.share_with_primary(&packet.payload).await;
                    }
                    return Ok(true);
                }
            }
            let shadow = self.shadow_row_count.take();
            if let (Some(n), [class]) = (shadow, classes.as_slice()) {
                let targets = super::row_count::diagnostics_targets(text, self.lex);
                if !targets.is_empty() {
                    let outcome = self.forward(&packet, Expect::QueryResult).await?;
                    if outcome.error.is_none() {
                        for v in targets {
                            let caps = self.caps;
                            crate::backend::internal::query(&mut self.backend, caps, &format!("SET {v} = {n}"))
                                .await
                                .map_err(|e| SessionEnd::Protocol(e.to_string()))?;
                        }
                    }
                    return Ok(true);
                }
                if let Some(spliced) = super::row_count::splice(text, n, self.lex) {
                    let mut payload = vec![COM_QUERY];
                    payload.extend_from_slice(&spliced);
                    let packet = Packet::from_payload(0, payload);
                    let class = class.clone();
                    return self.group_command(&packet, &[&packet.payload[1..]], &[class]).await;
                }
            }
            let parts: Vec<&[u8]> = statements.iter().map(|r| &text[r.clone()]).collect();
            self.note_lex_changes(&parts, &classes);
            return self.group_command(&packet, &parts, &classes).await;
        }
        self.forward(&packet, Expect::QueryResult).await.map(|_| true)
    }

    /// COM_STMT_EXECUTE on a group member: routed by the prepared statement's text.
    async fn execute_in_group(&mut self, packet: &Packet) -> Result<bool, SessionEnd> {
        let id = packet
            .payload
            .get(1..5)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let Some(info) = id.and_then(|id| self.prepared.get(&id)) else {
            return self.forward(packet, Expect::QueryResult).await.map(|_| true);
        };
        let class = info.class.clone();
        let text = info.sql.clone();
        let params = info.params;
        if let Some(n) = self.shadow_row_count.take() {
            if let Some(spliced) = super::row_count::splice(text.as_bytes(), n, self.lex) {
                if super::row_count::execute_sends_types(&packet.payload, params) {
                    return self.execute_spliced(packet, &spliced, &text, class).await;
                }
            }
        }
        self.group_command(packet, &[text.as_bytes()], &[class]).await
    }

    /// A prepared statement that reads `ROW_COUNT()` right after an autocommit write (whose
    /// XA statements reset mysqld's): the statement is prepared again with the count in place
    /// of the calls, executed with the client's parameters under the new id, and closed.
    /// A COM_STMT_PREPARE does not change what the execution's diagnostics start from.
    async fn execute_spliced(
        &mut self,
        packet: &Packet,
        spliced: &[u8],
        text: &str,
        class: Classified,
    ) -> Result<bool, SessionEnd> {
        let mut prepare = vec![COM_STMT_PREPARE];
        prepare.extend_from_slice(spliced);
        self.backend.send(0, &prepare).await.map_err(backend_write_error)?;
        let mut state = ResponseState::new(Expect::Prepare, self.caps.contains(Caps::CLIENT_DEPRECATE_EOF));
        loop {
            let p = self.backend.expect_packet().await.map_err(SessionEnd::Backend)?;
            let len = p.payload.len().min(crate::protocol::packet::MAX_CHUNK);
            match state.feed(&p.payload, len) {
                Ok(Step::Done) => break,
                Ok(_) => {}
                Err(e) => return Err(SessionEnd::Protocol(e.to_string())),
            }
        }
        let Some((id, _, _)) = state.outcome.prepared else {
            // mysqld refused the rewritten text: run the client's own statement.
            return self.group_command(packet, &[text.as_bytes()], &[class]).await;
        };
        let payload = super::row_count::with_statement_id(&packet.payload, id);
        let execute = Packet::from_payload(0, payload);
        let r = self.group_command(&execute, &[text.as_bytes()], &[class]).await;
        let mut close = vec![COM_STMT_CLOSE];
        close.extend_from_slice(&id.to_le_bytes());
        self.backend.send(0, &close).await.map_err(backend_write_error)?;
        r
    }

    /// Forwards a client packet unchanged and relays the whole response.
    pub(crate) async fn forward(&mut self, packet: &Packet, expect: Expect) -> Result<Outcome, SessionEnd> {
        self.backend.queue_raw(&packet.raw);
        self.backend.flush().await.map_err(backend_write_error)?;
        self.relay(expect).await
    }

    /// Relays the response to the command just sent, including any LOCAL INFILE exchange.
    pub(crate) async fn relay(&mut self, expect: Expect) -> Result<Outcome, SessionEnd> {
        let deprecate_eof = self.caps.contains(Caps::CLIENT_DEPRECATE_EOF);
        let mut state = ResponseState::new(expect, deprecate_eof);
        loop {
            let step = relay_response(&mut self.backend, &mut self.client, &mut state)
                .await
                .map_err(|e| match e {
                    RelayError::Client(e) => SessionEnd::Client(e.into()),
                    RelayError::Backend(e) => SessionEnd::Backend(e),
                    RelayError::Protocol(e) => SessionEnd::Protocol(e.to_string()),
                })?;
            match step {
                Step::Done => break,
                Step::More => unreachable!("relay_response returns only at an end or a request"),
                Step::LocalInfile => self.relay_local_file().await?,
            }
        }
        let outcome = state.outcome;
        if let Some(status) = outcome.status {
            self.status = status;
        }
        if outcome.error.is_some() {
            self.status_stale = true;
        }
        if let Some((id, columns, params)) = outcome.prepared {
            if let Some((class, sql)) = self.pending_prepare.take() {
                let info = PreparedInfo {
                    params,
                    columns,
                    class,
                    sql,
                };
                self.prepared.insert(id, info);
            }
        }
        Ok(outcome)
    }

    /// Client file contents for LOAD DATA LOCAL INFILE, up to the empty packet that ends them.
    async fn relay_local_file(&mut self) -> Result<(), SessionEnd> {
        loop {
            let p = self.client.expect_packet().await.map_err(client_read_error)?;
            self.backend.queue_raw(&p.raw);
            if p.payload.is_empty() {
                break;
            }
            self.backend.flush().await.map_err(backend_write_error)?;
        }
        self.backend.flush().await.map_err(backend_write_error)
    }

    pub(crate) fn lex_options(&self) -> sql::LexOptions {
        self.lex
    }

    pub(crate) fn context(&self) -> &Arc<Context> {
        &self.ctx
    }
}

fn client_read_error(e: IoError) -> SessionEnd {
    match e {
        IoError::Frame(FrameError::TooLarge { .. }) => SessionEnd::Refused(ClientError::PacketTooLarge),
        IoError::Frame(FrameError::OutOfOrder { .. }) => SessionEnd::Refused(ClientError::Malformed),
        other => SessionEnd::Client(other),
    }
}

fn backend_write_error(e: std::io::Error) -> SessionEnd {
    SessionEnd::Backend(e.into())
}
