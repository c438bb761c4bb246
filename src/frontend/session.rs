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

use super::connect::{relay_auth, AuthResult, Established};
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
    /// Statement text as prepared (for capture).
    pub sql: String,
    /// Parameter types bound by the last execution.
    pub types: crate::replication::params::ParamTypes,
    /// COM_STMT_SEND_LONG_DATA values for the next execution, by parameter.
    pub long_data: Vec<(u16, Vec<u8>)>,
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
    pending_prepare: Option<(Classified, String)>,
    /// The transaction being captured (group members only).
    pub(crate) txn: Option<super::replicate::TxnState>,
    /// Watermark noted before a statement that may start a transaction.
    pub(crate) pending_snapshot: u64,
    /// Current database, when known.
    pub(crate) schema: Option<String>,
    /// `@@auto_increment_increment` of the session, when known.
    pub(crate) auto_inc: Option<u64>,
    /// Log index of this session's last commit (its next snapshot must include it).
    pub(crate) last_commit: u64,
    /// The open transaction was rolled back for a remote winner; the client is told next.
    pub(crate) bf_rolled_back: bool,
}

impl Session {
    pub fn new(ctx: Arc<Context>, id: u32, e: Established) -> Self {
        let registration = ctx.registry.register(id, e.backend_id);
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
            status: 0,
            status_stale: false,
            prepared: HashMap::new(),
            pending_prepare: None,
            txn: None,
            pending_snapshot: 0,
            schema: None,
            auto_inc: None,
            last_commit: 0,
            bf_rolled_back: false,
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
        loop {
            enum Event {
                Read(Result<Option<Packet>, SessionEnd>),
                Killed,
                Wake,
            }
            let event = {
                let read = async {
                    match self.ctx.settings.idle_timeout {
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
                }
            };
            match event {
                Event::Read(r) => return r,
                Event::Killed => return Err(SessionEnd::Refused(ClientError::Killed)),
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
        if control.bf_abort.load(std::sync::atomic::Ordering::Acquire) && (self.txn.is_some() || self.in_transaction())
        {
            let caps = self.caps;
            crate::backend::internal::query(&mut self.backend, caps, "ROLLBACK")
                .await
                .map_err(|e| SessionEnd::Protocol(e.to_string()))?;
            self.status &= !STATUS_IN_TRANS;
            self.txn = None;
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
        match command {
            COM_QUIT => {
                self.backend.queue_raw(&packet.raw);
                let _ = self.backend.flush().await;
                return Ok(false);
            }
            COM_QUERY => self.query(packet).await?,
            COM_STMT_PREPARE => {
                let text = &packet.payload[1..];
                self.pending_prepare = Some((sql::classify_bytes(text), String::from_utf8_lossy(text).into_owned()));
                self.forward(&packet, Expect::Prepare).await.map(drop)?;
            }
            COM_STMT_EXECUTE if self.replicating() => self.execute_in_group(&packet).await?,
            COM_STMT_EXECUTE => self.forward(&packet, Expect::QueryResult).await.map(drop)?,
            COM_STMT_FETCH | COM_FIELD_LIST => self.forward(&packet, Expect::UntilTerminator).await.map(drop)?,
            COM_STMT_CLOSE | COM_STMT_SEND_LONG_DATA => {
                if command == COM_STMT_CLOSE && packet.payload.len() >= 5 {
                    let id = u32::from_le_bytes([
                        packet.payload[1],
                        packet.payload[2],
                        packet.payload[3],
                        packet.payload[4],
                    ]);
                    self.prepared.remove(&id);
                }
                self.backend.queue_raw(&packet.raw);
                self.backend.flush().await.map_err(backend_write_error)?;
            }
            COM_PING | COM_STMT_RESET | COM_SET_OPTION | COM_REFRESH | COM_DEBUG | COM_CREATE_DB | COM_DROP_DB => {
                self.forward(&packet, Expect::OkOrErr).await.map(drop)?
            }
            COM_RESET_CONNECTION => {
                self.forward(&packet, Expect::OkOrErr).await.map(drop)?;
                self.prepared.clear();
                self.txn = None;
                self.schema = None;
                self.auto_inc = None;
            }
            COM_INIT_DB => {
                self.forward(&packet, Expect::OkOrErr).await.map(drop)?;
                self.schema = None;
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

    async fn query(&mut self, packet: Packet) -> Result<(), SessionEnd> {
        let text = &packet.payload[1..];
        let statements = sql::split_statements_bytes(text);
        let mut kill = None;
        let mut classes = Vec::with_capacity(statements.len());
        for range in &statements {
            let class = sql::classify_bytes(&text[range.clone()]);
            match class.detail {
                Detail::LoadData { local: true } if !self.ctx.settings.local_infile => {
                    return self.reply_error(ClientError::LocalInfileDisabled).await;
                }
                Detail::Kill { .. } => kill = Some((range.clone(), class.clone())),
                _ => {}
            }
            classes.push(class);
        }
        if let Some((range, class)) = kill {
            return self.kill_statement(&packet, range, class).await;
        }
        if let [class] = classes.as_slice() {
            if class.detail == Detail::ProxyStatus {
                return self.proxy_status().await;
            }
        }
        if self.replicating() {
            return self.query_in_group(&packet, &statements, &classes).await;
        }
        self.forward(&packet, Expect::QueryResult).await.map(|_| ())
    }

    /// COM_QUERY on a group member: writes go through capture and certification.
    async fn query_in_group(
        &mut self,
        packet: &Packet,
        statements: &[std::ops::Range<usize>],
        classes: &[Classified],
    ) -> Result<(), SessionEnd> {
        let writes = |c: &Classified| {
            matches!(c.kind, sql::StatementKind::Dml | sql::StatementKind::Ddl)
                || matches!(c.detail, Detail::Commit { .. } | Detail::Begin { .. })
        };
        if classes.len() > 1 && classes.iter().any(writes) {
            let e = ClientError::CannotReplicate("multi-statement queries that write or end a transaction".into());
            return self.reply_error(e).await;
        }
        let Some(class) = classes.first() else {
            return self.forward(packet, Expect::QueryResult).await.map(drop);
        };
        let text = String::from_utf8_lossy(&packet.payload[1..][statements[0].clone()]).into_owned();
        self.statement_in_group(packet, &text, class).await
    }

    /// One statement on a group member, sent as COM_QUERY or as COM_STMT_EXECUTE (then `text`
    /// is the prepared text, with parameters substituted for DML). The client's packet is what
    /// is forwarded.
    async fn statement_in_group(&mut self, packet: &Packet, text: &str, class: &Classified) -> Result<(), SessionEnd> {
        match (&class.kind, &class.detail) {
            (_, Detail::LoadData { .. }) | (_, Detail::Call) => {
                let e = ClientError::CannotReplicate("LOAD DATA and CALL are not replicated yet".into());
                return self.reply_error(e).await;
            }
            (sql::StatementKind::Dml, _) => {
                if !self.before_statement(class).await? {
                    return Ok(());
                }
                return self.replicated_dml(packet, text, Expect::QueryResult).await;
            }
            (_, Detail::Commit { .. }) => return self.replicated_commit(packet).await,
            (_, Detail::RollbackToSavepoint { .. }) if self.txn.as_ref().is_some_and(|t| t.writes()) => {
                let e = ClientError::CannotReplicate("ROLLBACK TO SAVEPOINT after writes".into());
                return self.reply_error(e).await;
            }
            (_, Detail::Rollback { .. }) => {
                self.txn = None;
                self.forward(packet, Expect::QueryResult).await?;
                self.after_statement();
                return Ok(());
            }
            (sql::StatementKind::Ddl, _) => {
                if !self.before_statement(class).await? {
                    return Ok(());
                }
                return self.replicated_ddl(packet, text, class).await;
            }
            (sql::StatementKind::Unsupported, Detail::Unknown) => {
                let e = ClientError::CannotReplicate("statement the classifier cannot place".into());
                return self.reply_error(e).await;
            }
            (_, Detail::Use { .. }) => self.schema = None,
            _ => {}
        }
        if !self.before_statement(class).await? {
            return Ok(());
        }
        self.forward(packet, Expect::QueryResult).await?;
        self.after_statement();
        Ok(())
    }

    /// COM_STMT_EXECUTE on a group member.
    async fn execute_in_group(&mut self, packet: &Packet) -> Result<(), SessionEnd> {
        let id = packet
            .payload
            .get(1..5)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let Some(info) = id.and_then(|id| self.prepared.get_mut(&id)) else {
            return self.forward(packet, Expect::QueryResult).await.map(drop);
        };
        let long_data = std::mem::take(&mut info.long_data);
        let class = info.class.clone();
        if class.kind != sql::StatementKind::Dml {
            let text = info.sql.clone();
            return self.statement_in_group(packet, &text, &class).await;
        }
        let no_backslash = self.status & 0x0200 != 0;
        let values = crate::replication::params::decode_execute(
            &packet.payload,
            info.params as usize,
            &mut info.types,
            &long_data,
        );
        let sql_text = match values {
            Ok(v) => crate::replication::params::substitute(&info.sql, &v, no_backslash),
            Err(_) => None,
        };
        let Some(sql_text) = sql_text else {
            return self
                .reply_error(ClientError::CannotReplicate(
                    "cannot decode the statement's parameters".into(),
                ))
                .await;
        };
        self.statement_in_group(packet, &sql_text, &class).await
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
                    types: Vec::new(),
                    long_data: Vec::new(),
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

    async fn change_user(&mut self, packet: Packet) -> Result<(), SessionEnd> {
        let new_user = change_user_name(&packet.payload).ok_or(SessionEnd::Refused(ClientError::Malformed))?;
        let slot = match self
            .ctx
            .registry
            .acquire_user(&new_user, self.ctx.settings.max_connections_per_user)
        {
            Ok(s) => s,
            Err(e) => return self.reply_error(e).await,
        };
        self.backend.queue_raw(&packet.raw);
        self.backend.flush().await.map_err(backend_write_error)?;
        match relay_auth(&mut self.client, &mut self.backend, 0).await {
            Ok(AuthResult::Ok) => {
                self.user = new_user;
                self._user_slot = slot;
                self.prepared.clear();
                self.status = 0;
                self.txn = None;
                self.schema = None;
                self.auto_inc = None;
                Ok(())
            }
            // mysqld closes the connection after a failed COM_CHANGE_USER.
            Ok(AuthResult::Err(code, msg)) => {
                Err(SessionEnd::Protocol(format!("COM_CHANGE_USER refused: {code} {msg}")))
            }
            Err(e) => Err(SessionEnd::Protocol(e.to_string())),
        }
    }

    pub(crate) fn context(&self) -> &Arc<Context> {
        &self.ctx
    }
}

/// The user name in a COM_CHANGE_USER payload (`0x11 user NUL ...`).
fn change_user_name(payload: &[u8]) -> Option<String> {
    let body = payload.get(1..)?;
    let nul = body.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&body[..nul]).into_owned())
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
