//! The session side of read-write splitting on a single-primary secondary: carries out
//! `split::place` — opens the leg to the primary (`primary_leg`) when a command needs it,
//! relays the primary's response to the client, mirrors session state onto the leg, pins,
//! and makes the session's next local read wait for its own writes (read-your-writes).

use std::time::Duration;

use bytes::BytesMut;
use mysql_common::constants::CapabilityFlags as Caps;

use super::errors::ClientError;
use super::identity::Proof;
use super::primary_leg::{self, LegError, LegLogin, PrimaryLeg};
use super::route::Route;
use super::session::{Session, SessionEnd};
use super::split::{place, Place, PortRole, SplitView};
use crate::protocol::command::*;
use crate::protocol::packet::{encode_packet, Packet};
use crate::protocol::response::{Expect, ResponseState, Step, STATUS_AUTOCOMMIT, STATUS_IN_TRANS};
use crate::sql::Classified;

/// How long a write waits for a primary to be elected (or to catch up) before it is refused.
const PRIMARY_WAIT: Duration = Duration::from_secs(10);
/// How long a statement running on a primary that has since been replaced may still take to
/// answer before the session gives up on it (see `on_primary`).
const PRIMARY_GONE_GRACE: Duration = Duration::from_secs(1);
/// Session-state statements kept for a leg opened later.
const MAX_REPLAY: usize = 256;
/// How long a write waits to learn the primary's client address (from its report).
const ADDRESS_WAIT: Duration = Duration::from_secs(5);

/// A session's splitting state.
#[derive(Default)]
pub struct SplitState {
    leg: Option<PrimaryLeg>,
    /// The session runs wholly on the primary from now on, and why.
    pinned: Option<&'static str>,
    /// Session state to set on a leg when it opens (`SET`, `SET NAMES`, `USE` statements), in
    /// order.
    replay: Vec<Vec<u8>>,
    /// The last command ran on the primary.
    last_remote: bool,
    /// A write ran on the primary (its `LAST_INSERT_ID()` is there).
    wrote_remote: bool,
    /// A command ran on the primary since the last local read: the next one waits until this
    /// member has applied what the group had committed (read-your-writes).
    dirty: bool,
    /// What the client proved at login.
    pub(crate) proof: Proof,
    /// The client's handshake response as mysqld got it.
    pub(crate) hello: Vec<u8>,
    /// Another member logged this session in on a client's behalf: never sent on again.
    pub(crate) forwarded_by: Option<u64>,
    /// `SHA1(password)` once derived (`Some(None)`: an empty password).
    stage1: Option<Option<[u8; 20]>>,
    /// The port the session came in on.
    pub(crate) port_role: PortRole,
}

impl SplitState {
    pub fn new(proof: Proof, hello: Vec<u8>, forwarded_by: Option<u64>) -> Self {
        SplitState {
            proof,
            hello,
            forwarded_by,
            ..Default::default()
        }
    }
}

fn packet_of(payload: &[u8]) -> Packet {
    let mut raw = BytesMut::new();
    encode_packet(0, payload, &mut raw);
    Packet {
        seq: 0,
        last_seq: 0,
        payload: bytes::Bytes::copy_from_slice(payload),
        raw: raw.freeze(),
    }
}

impl Session {
    /// Whether this session's commands are split: it came from a client (not from another
    /// member), and this member is a single-primary secondary. A session that already has a
    /// leg keeps using it while its transaction or pin lasts, whatever the topology.
    fn splitting(&self) -> bool {
        let Some(g) = &self.context().group else { return false };
        // (the read-only port runs everything here and refuses writes)
        if self.split.forwarded_by.is_some() || self.split.port_role == PortRole::ReadOnly {
            return false;
        }
        g.is_secondary() || self.split.pinned.is_some() || self.remote_in_trans()
    }

    fn remote_in_trans(&self) -> bool {
        self.split.leg.as_ref().is_some_and(|l| l.status & STATUS_IN_TRANS != 0)
    }

    fn split_view(&self) -> SplitView {
        SplitView {
            pinned: self.split.pinned.is_some(),
            remote_in_trans: self.remote_in_trans(),
            local_in_trans: self.in_transaction() || self.txn.is_some(),
            last_remote: self.split.last_remote,
            wrote_remote: self.split.wrote_remote,
        }
    }

    /// Runs a client command by the split decision. `None`: run it here, as usual (after
    /// mirroring session state onto the leg, or waiting for the session's own writes).
    pub(crate) async fn split_command(
        &mut self,
        packet: &Packet,
        statements: &[&[u8]],
        classes: &[Classified],
        decision: &Route,
    ) -> Result<Option<bool>, SessionEnd> {
        // A statement prepared here (before this member became a secondary) runs here: its id
        // means nothing on the primary.
        if !self.splitting() || packet.first() == Some(COM_STMT_EXECUTE) {
            return Ok(None);
        }
        // While a primary is being elected (a new group, a failover), wait for it: this
        // member may be the one.
        if let Some(g) = self.context().group.clone() {
            if g.is_secondary() && g.primary().is_none() {
                let _ = g.settle_writer(PRIMARY_WAIT).await;
                if !self.splitting() {
                    return Ok(None);
                }
            }
        }
        if self.split.port_role == PortRole::ReadWrite && self.split.pinned.is_none() {
            self.split.pinned = Some("the read-write port");
        }
        // A session whose server default is autocommit=0 starts transactions implicitly.
        if self.status & STATUS_AUTOCOMMIT == 0 && self.split.pinned.is_none() && self.split.leg.is_none() {
            self.split.pinned = Some("autocommit=0");
        }
        let d = place(decision, statements, classes, self.split_view(), self.lex_options());
        if let Some(why) = d.pin {
            if self.split.pinned.is_none() {
                tracing::debug!(session = self.id, reason = why, "session pinned to the primary");
            }
            self.split.pinned = Some(why);
        }
        match d.place {
            // DDL and account statements: the client's OK waits until this member has them
            // too, so its next connection here finds the database, table or account (a
            // fresh connection naming a database that is not here yet gets 1049).
            Place::Primary if matches!(decision, Route::Ddl) && !self.remote_in_trans() => {
                self.on_primary_synced(packet).await?;
                Ok(Some(true))
            }
            Place::Primary => {
                self.on_primary(packet, Expect::QueryResult).await?;
                Ok(Some(!matches!(
                    decision,
                    Route::Commit { release: true, .. } | Route::Rollback { release: true, .. }
                )))
            }
            Place::Both => {
                let state: Vec<u8> = packet.payload.to_vec();
                self.mirror(&state).await;
                self.remember(state);
                self.split.last_remote = false;
                Ok(None)
            }
            Place::Local => {
                self.split.last_remote = false;
                if std::mem::take(&mut self.split.dirty) {
                    if let Some(e) = self.consistency_before().await? {
                        self.reply_error(e).await?;
                        return Ok(Some(true));
                    }
                }
                Ok(None)
            }
        }
    }

    /// Commands other than queries and executions while splitting: `Some(result)` when
    /// handled here. Binary-protocol prepared statements pin the session (their ids and
    /// parameters live on one server); `COM_INIT_DB` is mirrored; a pinned session sends
    /// everything to the primary.
    pub(crate) async fn split_other(&mut self, packet: &Packet) -> Result<Option<bool>, SessionEnd> {
        if !self.splitting() {
            return Ok(None);
        }
        let command = packet.first().unwrap_or_default();
        if command == COM_STMT_PREPARE && self.split.pinned.is_none() {
            self.split.pinned = Some("prepared statements");
        }
        let pinned = self.split.pinned.is_some() || self.remote_in_trans();
        match command {
            COM_QUIT => {
                if let Some(mut leg) = self.split.leg.take() {
                    leg.io.queue_raw(&packet.raw);
                    let _ = leg.io.flush().await;
                    leg.io.shutdown().await;
                }
                Ok(None)
            }
            COM_INIT_DB if !pinned => {
                let state = packet.payload.to_vec();
                self.mirror(&state).await;
                self.remember(state);
                Ok(None)
            }
            COM_RESET_CONNECTION | COM_CHANGE_USER => {
                // Both servers' session state starts over: the leg is closed (a new one logs
                // in afresh) and the session is no longer pinned.
                if let Some(mut leg) = self.split.leg.take() {
                    leg.io.shutdown().await;
                }
                self.split.pinned = None;
                self.split.replay.clear();
                self.split.last_remote = false;
                if command == COM_CHANGE_USER {
                    // The new user's proof is not kept: its writes are refused on a secondary.
                    self.split.proof = Proof::default();
                    self.split.stage1 = None;
                }
                Ok(None)
            }
            COM_STMT_PREPARE | COM_STMT_EXECUTE | COM_STMT_RESET | COM_STMT_FETCH | COM_FIELD_LIST if pinned => {
                let expect = match command {
                    COM_STMT_PREPARE => {
                        let text = &packet.payload[1..];
                        self.pending_prepare = Some((
                            crate::sql::classify_bytes_with(text, self.lex_options()),
                            String::from_utf8_lossy(text).into_owned(),
                        ));
                        Expect::Prepare
                    }
                    COM_STMT_EXECUTE => Expect::QueryResult,
                    COM_STMT_RESET => Expect::OkOrErr,
                    _ => Expect::UntilTerminator,
                };
                self.on_primary(packet, expect).await?;
                Ok(Some(true))
            }
            COM_STMT_CLOSE | COM_STMT_SEND_LONG_DATA if pinned => {
                // No response.
                if let Some(leg) = self.split.leg.as_mut() {
                    leg.io.queue_raw(&packet.raw);
                    if leg.io.flush().await.is_err() {
                        self.split.leg = None;
                    }
                }
                if let (COM_STMT_CLOSE, Some(id)) = (command, statement_id(&packet.payload)) {
                    self.prepared.remove(&id);
                }
                Ok(Some(true))
            }
            _ => Ok(None),
        }
    }

    /// A write on a member that must not run it itself (single-primary secondary, a session
    /// another member sent on, or a primary still catching up): the error to answer, if any.
    pub(crate) async fn writer_refusal(&mut self) -> Option<ClientError> {
        let g = self.context().group.clone()?;
        use crate::replication::primary::NotWriter;
        match g.settle_writer(PRIMARY_WAIT).await {
            Ok(()) => None,
            Err(NotWriter::Secondary { primary }) => Some(ClientError::NotPrimary(match primary {
                Some(p) if self.split.forwarded_by.is_some() => {
                    format!("member {p} is the primary now; the statement was not run")
                }
                Some(p) => format!("the primary is member {p}"),
                None => format!("no primary was elected within {PRIMARY_WAIT:?}"),
            })),
            Err(NotWriter::CatchingUp { through }) => Some(ClientError::NotPrimary(format!(
                "this member became primary and has not applied the log through index {through} within {PRIMARY_WAIT:?}"
            ))),
        }
    }

    /// Runs one command on the primary and relays its response to the client.
    async fn on_primary(&mut self, packet: &Packet, expect: Expect) -> Result<(), SessionEnd> {
        match self.ensure_leg().await {
            Ok(()) => {}
            Err(e) if self.split.pinned.is_some() && self.split.leg.is_some() => {
                // The session's state is on a primary that is gone: it ends, as a direct
                // connection to a failed server would.
                self.split.leg = None;
                return Err(SessionEnd::Refused(e));
            }
            Err(e) => return self.reply_error(e).await,
        }
        let mut leg = self.split.leg.take().expect("just opened");
        std::mem::swap(self.backend_mut(), &mut leg.io);
        let (status, stale) = (self.status, self.status_stale);
        self.status = leg.status;
        // A primary cut off from the group (a partition) answers nothing until its own quorum
        // check fails (seconds): once another member is primary and this one has still not
        // answered after PRIMARY_GONE_GRACE, the statement's outcome is unknown and the session
        // ends, as a connection to a failed server would, so the client retries on the new
        // primary. (A switchover's old primary answers within the grace: commit or fenced.)
        let g = self.context().group.clone().expect("splitting runs in a group");
        let member = leg.member;
        let gone = async move {
            g.primary_moved_from(member).await;
            tokio::time::sleep(PRIMARY_GONE_GRACE).await;
        };
        let r = tokio::select! {
            r = self.forward(packet, expect) => r,
            _ = gone => Err(SessionEnd::Backend(crate::protocol::io::IoError::Io(std::io::Error::other(format!(
                "member {member} stopped being primary and did not answer within {PRIMARY_GONE_GRACE:?}; \
                 the statement's outcome is unknown"
            ))))),
        };
        std::mem::swap(self.backend_mut(), &mut leg.io);
        leg.status = self.status;
        (self.status, self.status_stale) = (status, stale);
        self.split.last_remote = true;
        self.split.wrote_remote = true;
        self.split.dirty = true;
        match r {
            Ok(_) => {
                self.split.leg = Some(leg);
                Ok(())
            }
            Err(SessionEnd::Backend(e)) => {
                // The primary went away. What the client saw of the response is unknown: the
                // session ends, as a direct connection to a failed server would.
                tracing::warn!(session = self.id, member = leg.member, error = %e, "lost the session's connection to the primary");
                Err(SessionEnd::Refused(ClientError::NotPrimary(format!(
                    "the connection to the primary (member {}) was lost: {e}; reconnect",
                    leg.member
                ))))
            }
            Err(other) => Err(other),
        }
    }

    /// Like `on_primary`, holding the response until this member has applied what the group
    /// committed by then.
    async fn on_primary_synced(&mut self, packet: &Packet) -> Result<(), SessionEnd> {
        match self.ensure_leg().await {
            Ok(()) => {}
            Err(e) => return self.reply_error(e).await,
        }
        let mut leg = self.split.leg.take().expect("just opened");
        std::mem::swap(self.backend_mut(), &mut leg.io);
        let (status, stale) = (self.status, self.status_stale);
        self.status = leg.status;
        let r = self.forward_buffered(packet, Expect::QueryResult).await;
        std::mem::swap(self.backend_mut(), &mut leg.io);
        leg.status = self.status;
        (self.status, self.status_stale) = (status, stale);
        self.split.last_remote = true;
        self.split.wrote_remote = true;
        let buffered = match r {
            Ok(b) => b,
            Err(SessionEnd::Backend(e)) => {
                return Err(SessionEnd::Refused(ClientError::NotPrimary(format!(
                    "the connection to the primary (member {}) was lost: {e}; reconnect",
                    leg.member
                ))))
            }
            Err(other) => return Err(other),
        };
        self.split.leg = Some(leg);
        if buffered.outcome.error.is_none() {
            // Best effort: a timeout only means the client may not see it here at once.
            match self.consistency_before().await? {
                None => self.split.dirty = false,
                Some(e) => {
                    tracing::warn!(session = self.id, error = %e, "a DDL sent to the primary is not applied here yet");
                    self.split.dirty = true;
                }
            }
        }
        self.send_buffered(&buffered).await
    }

    /// Opens the leg to the current primary unless one is open to it. A leg to a member that
    /// is no longer primary is replaced, unless the session's state is there (pinned, or a
    /// transaction open), which cannot move: then the session must reconnect.
    async fn ensure_leg(&mut self) -> Result<(), ClientError> {
        let g = self.context().group.clone().expect("splitting runs in a group");
        let primary = g.primary();
        if let Some(leg) = &self.split.leg {
            if Some(leg.member) == primary || self.remote_in_trans() {
                return Ok(());
            }
            if self.split.pinned.is_some() {
                // (the caller ends the session)
                return Err(ClientError::NotPrimary(format!(
                    "the primary changed from member {} while this session's state ({}) was on it; reconnect",
                    leg.member,
                    self.split.pinned.unwrap_or_default()
                )));
            }
            if let Some(mut old) = self.split.leg.take() {
                old.io.shutdown().await;
            }
        }
        if g.is_secondary() {
            if let Some(e) = self.writer_refusal_wait(&g).await {
                return Err(e);
            }
        }
        // A primary that cannot be reached (killed, its mysqld down) is replaced by the group
        // within seconds: the statement, which has run nowhere yet, waits for the new one.
        let failover_deadline = tokio::time::Instant::now() + PRIMARY_WAIT;
        let mut leg = loop {
            let (member, address) = self.primary_address(&g).await?;
            if member == g.member_id {
                return Err(ClientError::NotPrimary(
                    "this member became primary; run the statement again".into(),
                ));
            }
            let stage1 = match self.split.stage1 {
                Some(s) => s,
                None => {
                    let pool = self.context().side.pool();
                    let s = primary_leg::derive_stage1(&pool, &self.user, &self.split.proof)
                        .await
                        .map_err(|e| {
                            ClientError::NotPrimary(format!("the statement cannot be sent to the primary: {e}"))
                        })?;
                    self.split.stage1 = Some(s);
                    s
                }
            };
            let schema = self.schema.clone().filter(|_| self.schema_known);
            let login = LegLogin {
                user: &self.user,
                stage1,
                hello: &self.split.hello,
                schema: schema.as_deref(),
                me: g.member_id,
            };
            let s = &self.context().settings;
            let e = match primary_leg::open(member, &address, login, s.connect_timeout, s.max_packet).await {
                Ok(leg) => break leg,
                Err(e) => e,
            };
            let unreachable = matches!(e, LegError::Connect { .. } | LegError::Refused(1053, _));
            if unreachable && tokio::time::Instant::now() < failover_deadline {
                tracing::debug!(session = self.id, member, error = %e, "the primary is unreachable; waiting for the group to elect another");
                while g.primary() == Some(member) && tokio::time::Instant::now() < failover_deadline {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                if g.primary() != Some(member) {
                    continue;
                }
            }
            return Err(ClientError::NotPrimary(format!(
                "the statement cannot be sent to the primary: {e}"
            )));
        };
        // The session's state, as set here so far.
        let deprecate_eof = self.caps().contains(Caps::CLIENT_DEPRECATE_EOF);
        for state in self.split.replay.clone() {
            if let Err(e) = drain(&mut leg, &state, deprecate_eof).await {
                return Err(ClientError::NotPrimary(format!(
                    "setting the session's state on the primary: {e}"
                )));
            }
        }
        tracing::debug!(
            session = self.id,
            member = leg.member,
            "opened the session's connection to the primary"
        );
        self.split.leg = Some(leg);
        Ok(())
    }

    /// The primary's id and client address; a primary just elected or started is known by
    /// its report within a poll or two.
    async fn primary_address(&self, g: &crate::replication::group::Group) -> Result<(u64, String), ClientError> {
        let deadline = tokio::time::Instant::now() + ADDRESS_WAIT;
        loop {
            if let Some(found) = g.primary_sql_address() {
                return Ok(found);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::NotPrimary(match g.primary() {
                    Some(p) => format!("the client address of the primary (member {p}) is not known"),
                    None => "the group has no primary".into(),
                }));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sessions on the read-only port: writes (DML, DDL, accounts) are refused.
    pub(crate) fn read_only_port_refusal(&self, decision: &Route) -> Option<ClientError> {
        (self.split.port_role == PortRole::ReadOnly && matches!(decision, Route::Write | Route::Ddl)).then(|| {
            ClientError::NotPrimary(
                "this session came in on the read-only port; use the read-write port for writes".into(),
            )
        })
    }

    /// Waits for a primary to be known (a write during an election).
    async fn writer_refusal_wait(&self, g: &crate::replication::group::Group) -> Option<ClientError> {
        use crate::replication::primary::NotWriter;
        match g.settle_writer(PRIMARY_WAIT).await {
            Ok(()) | Err(NotWriter::Secondary { primary: Some(_) }) | Err(NotWriter::CatchingUp { .. }) => None,
            Err(NotWriter::Secondary { primary: None }) => Some(ClientError::NotPrimary(format!(
                "no primary was elected within {PRIMARY_WAIT:?}"
            ))),
        }
    }

    /// Session state grproxy answers itself (the consistency level), which the session on the
    /// primary must share: its writes there wait (AFTER) as the client asked here.
    pub(crate) async fn share_with_primary(&mut self, payload: &[u8]) {
        if self.splitting() {
            self.mirror(payload).await;
            self.remember(payload.to_vec());
        }
    }

    /// Keeps a session-state statement for legs opened later. A session that piles up more
    /// than [`MAX_REPLAY`] of them is pinned instead (its next leg gets them all, once).
    fn remember(&mut self, state: Vec<u8>) {
        if self.split.replay.last() != Some(&state) {
            self.split.replay.push(state);
        }
        if self.split.replay.len() > MAX_REPLAY && self.split.pinned.is_none() {
            self.split.pinned = Some("session state too long to replay");
        }
    }

    /// Sends session state to the leg, if one is open; a leg that refuses it is closed (the
    /// next one gets the state again, and reports what fails).
    async fn mirror(&mut self, payload: &[u8]) {
        let deprecate_eof = self.caps().contains(Caps::CLIENT_DEPRECATE_EOF);
        if let Some(leg) = self.split.leg.as_mut() {
            if drain(leg, payload, deprecate_eof).await.is_err() {
                if let Some(mut leg) = self.split.leg.take() {
                    leg.io.shutdown().await;
                }
            }
        }
    }
}

/// Runs a command on the leg and reads its whole response, which nobody sees: errors are
/// returned as text.
async fn drain(leg: &mut PrimaryLeg, payload: &[u8], deprecate_eof: bool) -> Result<(), String> {
    let p = packet_of(payload);
    leg.io.queue_raw(&p.raw);
    leg.io.flush().await.map_err(|e| e.to_string())?;
    let expect = if payload.first() == Some(&COM_INIT_DB) {
        Expect::OkOrErr
    } else {
        Expect::QueryResult
    };
    let mut state = ResponseState::new(expect, deprecate_eof);
    loop {
        let p = leg.io.expect_packet().await.map_err(|e| e.to_string())?;
        match state.feed(&p.payload, p.payload.len().min(crate::protocol::packet::MAX_CHUNK)) {
            Ok(Step::Done) => break,
            Ok(Step::More) => {}
            Ok(Step::LocalInfile) => return Err("unexpected LOCAL INFILE request".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
    if let Some(s) = state.outcome.status {
        leg.status = s;
    }
    match state.outcome.error {
        Some((code, msg)) => Err(format!("{msg} ({code})")),
        None => Ok(()),
    }
}
