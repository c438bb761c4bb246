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
    /// Prepared statements by mysqld's statement id.
    pub prepared: HashMap<u32, PreparedInfo>,
    /// Statement text of the last COM_STMT_PREPARE, until its response names the id.
    pending_prepare: Option<Classified>,
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
            prepared: HashMap::new(),
            pending_prepare: None,
        }
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
            r = read => r,
            _ = killed.notified() => Err(SessionEnd::Refused(ClientError::Killed)),
        }
    }

    /// Handles one command; `Ok(false)` means the client quit.
    async fn dispatch(&mut self, packet: Packet) -> Result<bool, SessionEnd> {
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
                self.pending_prepare = Some(sql::classify_bytes(&packet.payload[1..]));
                self.forward(&packet, Expect::Prepare).await.map(drop)?;
            }
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
            COM_PING | COM_INIT_DB | COM_STMT_RESET | COM_SET_OPTION | COM_REFRESH | COM_DEBUG | COM_CREATE_DB
            | COM_DROP_DB => self.forward(&packet, Expect::OkOrErr).await.map(drop)?,
            COM_RESET_CONNECTION => {
                self.forward(&packet, Expect::OkOrErr).await.map(drop)?;
                self.prepared.clear();
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
        let mut kill = None;
        for range in sql::split_statements_bytes(text) {
            let class = sql::classify_bytes(&text[range.clone()]);
            match class.detail {
                Detail::LoadData { local: true } if !self.ctx.settings.local_infile => {
                    return self.reply_error(ClientError::LocalInfileDisabled).await;
                }
                Detail::Kill { .. } => kill = Some((range, class)),
                _ => {}
            }
        }
        if let Some((range, class)) = kill {
            return self.kill_statement(&packet, range, class).await;
        }
        self.forward(&packet, Expect::QueryResult).await.map(|_| ())
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
        if let Some((id, columns, params)) = outcome.prepared {
            if let Some(class) = self.pending_prepare.take() {
                self.prepared.insert(id, PreparedInfo { params, columns, class });
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
