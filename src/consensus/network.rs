//! Peer transport, client side, and the wire protocol shared with [`server`](super::server).
//!
//! One persistent connection per peer (TCP_NODELAY, mutual TLS, see [`peer_tls`]),
//! reconnected on demand with exponential backoff; a connection left unused for half the
//! server's idle timeout is replaced by a new one before the server would close it. Frames
//! are `u32 LE length | bincode((request id, message))` ([`frame`]). Requests are pipelined:
//! any number may be in flight on a connection; each caller writes its own frame
//! ([`FrameWriter`]) and a reader task matches responses to waiters by id.
//!
//! Failure mapping for openraft: connect or TLS handshake failure / backoff window ->
//! `Unreachable` (openraft backs off via [`RaftNetwork::backoff`]); a connection lost with the
//! request in flight -> `Network`; no answer within the RPC's TTL -> `Timeout`; an error
//! returned by the remote Raft -> `RemoteError`; an AppendEntries too large for one frame ->
//! `PayloadTooLarge` (openraft resends fewer entries).
//!
//! [`peer_tls`]: super::peer_tls
//! [`frame`]: super::frame
//! [`FrameWriter`]: super::frame_writer::FrameWriter

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::consensus::frame::{decode_frame, encode_frame, read_frame, EncodeError, FRAME_OVERHEAD};
pub use crate::consensus::frame::{MAX_FRAME, MAX_PROPOSAL};
use crate::consensus::frame_writer::FrameWriter;
use crate::consensus::peer_tls::PeerTlsContext;
use crate::consensus::types::{Blob, Node, NodeId, PeerLimits, SnapshotMeta, TypeConfig, Vote};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_millis(1000);

/// A peer connection's byte stream: TLS, or plain TCP in tests.
pub(crate) trait PeerStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> PeerStream for T {}

/// A request sent to a peer.
#[derive(Serialize, Deserialize)]
pub(crate) enum Request {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    InstallSnapshot(SnapshotChunk),
    /// A proposal from a follower: apply on the leader, reply with (index, response).
    Forward(Blob),
    /// Linearizable read barrier evaluated on the leader.
    ReadIndex,
    /// The peer's own report of itself (see `presence`).
    Status,
    /// A change of the group's members, for the leader (see `membership`).
    ChangeMembers(crate::consensus::membership::MemberChange),
    /// A request for the application's [`PeerService`](crate::consensus::membership::PeerService).
    App(Blob),
    /// From the leader, stopping: stand for election now (it votes for this member).
    Elect,
}

/// The highest Raft term a peer may send. A group would need billions of elections to get
/// there; a term near `u64::MAX` is an attack or corruption that would make openraft's term
/// arithmetic overflow (and persisted, stop the member for good).
pub(crate) const MAX_TERM: u64 = 1 << 40;

impl Request {
    /// Checks what a peer sent before it reaches openraft: terms within [`MAX_TERM`], a
    /// leader id that names a node, log ids no newer than the sender's own term.
    pub(crate) fn validate(&self) -> Result<(), String> {
        fn vote(v: &Vote) -> Result<u64, String> {
            let t = v.leader_id.term;
            if t > MAX_TERM {
                return Err(format!("term {t} is out of range"));
            }
            if v.leader_id.node_id == 0 {
                return Err("vote names node 0".into());
            }
            Ok(t)
        }
        fn log_id(l: &Option<openraft::LogId<NodeId>>, term: u64, what: &str) -> Result<(), String> {
            match l {
                Some(l) if l.leader_id.term > term => Err(format!(
                    "{what} has term {} above the sender's {term}",
                    l.leader_id.term
                )),
                _ => Ok(()),
            }
        }
        match self {
            Request::AppendEntries(r) => {
                let term = vote(&r.vote)?;
                log_id(&r.prev_log_id, term, "prev_log_id")?;
                log_id(&r.leader_commit, term, "leader_commit")?;
                for e in &r.entries {
                    log_id(&Some(e.log_id), term, "an entry")?;
                }
                Ok(())
            }
            Request::Vote(r) => {
                let term = vote(&r.vote)?;
                log_id(&r.last_log_id, term, "last_log_id")
            }
            Request::InstallSnapshot(c) => {
                let term = vote(&c.vote)?;
                log_id(&c.meta.last_log_id, term, "the snapshot")
            }
            Request::Forward(_)
            | Request::ReadIndex
            | Request::Status
            | Request::ChangeMembers(_)
            | Request::App(_)
            | Request::Elect => Ok(()),
        }
    }

    /// Checks that a request speaks for the member that sent it: a Vote must come from its
    /// candidate, an AppendEntries or InstallSnapshot from its leader. `sender` is the member
    /// the connection authenticated as (its TLS certificate).
    pub(crate) fn check_sender(&self, sender: NodeId) -> Result<(), String> {
        let (claimed, what) = match self {
            Request::AppendEntries(r) => (r.vote.leader_id.node_id, "an AppendEntries of leader"),
            Request::Vote(r) => (r.vote.leader_id.node_id, "a Vote for candidate"),
            Request::InstallSnapshot(c) => (c.vote.leader_id.node_id, "an InstallSnapshot of leader"),
            Request::Forward(_)
            | Request::ReadIndex
            | Request::Status
            | Request::ChangeMembers(_)
            | Request::App(_)
            | Request::Elect => return Ok(()),
        };
        if claimed != sender {
            return Err(format!("member {sender} sent {what} {claimed}"));
        }
        Ok(())
    }
}

/// The answer to a [`Request`].
#[derive(Serialize, Deserialize)]
pub(crate) enum Reply {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>),
    Forward(Result<(u64, Blob), ForwardReject>),
    ReadIndex(Result<u64, ForwardReject>),
    /// The request could not be decoded.
    BadRequest(String),
    Status(Blob),
    ChangeMembers(Result<String, ForwardReject>),
    App(Result<Blob, String>),
    Elect(Result<(), String>),
}

/// `InstallSnapshotRequest` with its data as a [`Blob`] (bulk-copied by bincode).
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotChunk {
    vote: Vote,
    meta: SnapshotMeta,
    offset: u64,
    data: Blob,
    done: bool,
}

impl From<InstallSnapshotRequest<TypeConfig>> for SnapshotChunk {
    fn from(r: InstallSnapshotRequest<TypeConfig>) -> Self {
        SnapshotChunk {
            vote: r.vote,
            meta: r.meta,
            offset: r.offset,
            data: Blob(r.data),
            done: r.done,
        }
    }
}

impl From<SnapshotChunk> for InstallSnapshotRequest<TypeConfig> {
    fn from(c: SnapshotChunk) -> Self {
        InstallSnapshotRequest {
            vote: c.vote,
            meta: c.meta,
            offset: c.offset,
            data: c.data.0,
            done: c.done,
        }
    }
}

/// Why the leader-side of a forwarded request refused it.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) enum ForwardReject {
    /// The receiver is not the leader; the payload was not appended (safe to retry).
    NotLeader { leader: Option<NodeId> },
    /// The receiver is shutting down; nothing was appended.
    Shutdown,
    /// Failed after the entry may have been appended: outcome unknown.
    Failed(String),
}

// ---------------------------------------------------------------------------------------------
// Client connections

/// Why a call failed, as seen by the transport.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CallError {
    /// Not sent: could not connect, or backing off after failures.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// Sent (possibly) but the connection broke before the reply.
    #[error("connection lost: {0}")]
    Network(String),
    /// No reply within the deadline.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Not sent: the request does not fit in a frame.
    #[error("request of {0} bytes does not fit in a frame")]
    TooLarge(usize),
}

/// How a node dials its peers.
pub(crate) struct Dialer {
    /// `None`: plain TCP (tests only).
    pub(crate) tls: Option<PeerTlsContext>,
    pub(crate) limits: PeerLimits,
    /// Counts of what is sent.
    pub(crate) traffic: Arc<crate::consensus::traffic::Traffic>,
}

type Pending = Arc<StdMutex<HashMap<u64, oneshot::Sender<Reply>>>>;

/// What a caller needs of a live connection.
#[derive(Clone)]
struct Link {
    writer: FrameWriter,
    pending: Pending,
    alive: Arc<AtomicBool>,
}

impl Link {
    /// Marks the connection dead and wakes every waiter ("connection lost"); the next call
    /// connects anew.
    fn fail(&self) {
        self.alive.store(false, Ordering::Release);
        self.pending.lock().unwrap().clear();
    }
}

struct Live {
    link: Link,
    /// When the connection was last handed to a caller.
    last_used: Instant,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Default)]
struct ConnState {
    live: Option<Live>,
    failures: u32,
    retry_at: Option<Instant>,
}

/// A persistent, pipelined connection to one peer.
pub(crate) struct PeerConn {
    target: NodeId,
    addr: String,
    dialer: Arc<Dialer>,
    next_id: AtomicU64,
    state: Mutex<ConnState>,
}

impl PeerConn {
    pub(crate) fn new(target: NodeId, addr: String, dialer: Arc<Dialer>) -> Self {
        PeerConn {
            target,
            addr,
            dialer,
            next_id: AtomicU64::new(1),
            state: Mutex::new(ConnState::default()),
        }
    }

    /// Returns a live connection, connecting if needed.
    async fn live(&self) -> Result<Link, CallError> {
        let mut st = self.state.lock().await;
        if let Some(l) = &mut st.live {
            // A connection unused for half the server's idle timeout is replaced rather than
            // reused: the server may close it as idle just as a request goes out on it.
            let fresh = l.last_used.elapsed() < self.dialer.limits.idle_timeout / 2;
            let link = &l.link;
            if link.alive.load(Ordering::Acquire) && (fresh || !link.pending.lock().unwrap().is_empty()) {
                l.last_used = Instant::now();
                return Ok(link.clone());
            }
            st.live = None;
        }
        if let Some(at) = st.retry_at {
            if Instant::now() < at {
                return Err(CallError::Unreachable(format!("peer {} backing off", self.target)));
            }
        }
        let stream = match self.connect().await {
            Ok(s) => s,
            Err(why) => return Err(self.connect_failed(&mut st, why)),
        };
        st.failures = 0;
        st.retry_at = None;
        let (mut rd, wr) = tokio::io::split(stream);
        let link = Link {
            writer: FrameWriter::new(wr),
            pending: Pending::default(),
            alive: Arc::new(AtomicBool::new(true)),
        };
        let drain = {
            let link = link.clone();
            tokio::spawn(async move {
                link.writer.drain().await;
                link.fail();
            })
        };
        let reader = {
            let (link, target) = (link.clone(), self.target);
            tokio::spawn(async move {
                loop {
                    match read_frame(&mut rd, MAX_FRAME).await {
                        Ok(Some(buf)) => match decode_frame::<Reply>(&buf) {
                            Ok((id, reply)) => {
                                if let Some(w) = link.pending.lock().unwrap().remove(&id) {
                                    let _ = w.send(reply);
                                }
                            }
                            Err(e) => {
                                tracing::warn!(target, error = %e, "undecodable reply; dropping connection");
                                break;
                            }
                        },
                        Ok(None) => break,
                        Err(e) => {
                            tracing::debug!(target, error = %e, "peer connection read failed");
                            break;
                        }
                    }
                }
                link.fail();
            })
        };
        st.live = Some(Live {
            link: link.clone(),
            last_used: Instant::now(),
            tasks: vec![drain, reader],
        });
        Ok(link)
    }

    /// Connects and, with TLS, runs the handshake (the server must prove it is `target`).
    async fn connect(&self) -> Result<Box<dyn PeerStream>, String> {
        let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("connect timed out".into()),
        };
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &self.dialer.tls else {
            return Ok(Box::new(tcp));
        };
        let name = PeerTlsContext::server_name(self.target)?;
        match tokio::time::timeout(self.dialer.limits.handshake_timeout, tls.connector().connect(name, tcp)).await {
            Ok(Ok(s)) => Ok(Box::new(s)),
            Ok(Err(e)) => {
                tracing::warn!(target = self.target, addr = %self.addr, error = %e, "peer TLS handshake failed");
                Err(format!("TLS handshake: {e}"))
            }
            Err(_) => Err("TLS handshake timed out".into()),
        }
    }

    fn connect_failed(&self, st: &mut ConnState, why: String) -> CallError {
        st.failures = st.failures.saturating_add(1);
        let backoff = BACKOFF_MIN.saturating_mul(1 << st.failures.min(5)).min(BACKOFF_MAX);
        st.retry_at = Some(Instant::now() + backoff);
        CallError::Unreachable(format!("connect to peer {} at {}: {why}", self.target, self.addr))
    }

    /// Sends `req` and waits up to `ttl` for its reply.
    pub(crate) async fn call(&self, req: &Request, ttl: Duration) -> Result<Reply, CallError> {
        self.call_until(req, ttl, std::future::pending()).await
    }

    /// Like [`PeerConn::call`], but stops waiting for the reply when `give_up` completes (with
    /// the reason); the request may have been processed, as when the connection is lost.
    pub(crate) async fn call_until(
        &self,
        req: &Request,
        ttl: Duration,
        give_up: impl std::future::Future<Output = String>,
    ) -> Result<Reply, CallError> {
        let deadline = Instant::now() + ttl;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode_frame(id, req).map_err(|e| match e {
            EncodeError::TooLarge(n) => CallError::TooLarge(n),
            EncodeError::Codec(e) => CallError::Unreachable(format!("encode: {e}")),
        })?;
        let link = tokio::time::timeout_at(deadline, self.live())
            .await
            .map_err(|_| CallError::Unreachable(format!("peer {}: connecting timed out", self.target)))??;
        let pending = &link.pending;
        let (wtx, wrx) = oneshot::channel();
        pending.lock().unwrap().insert(id, wtx);
        // A failing connection is marked dead before `pending` is cleared: either our waiter
        // was cleared (woken below) or we see the dead flag here.
        if !link.alive.load(Ordering::Acquire) {
            pending.lock().unwrap().remove(&id);
            return Err(CallError::Network("connection closed".into()));
        }
        self.dialer.traffic.sent(req, frame.len());
        if let Err(e) = link.writer.send(frame) {
            link.fail();
            return Err(CallError::Network(format!("send to peer {}: {e}", self.target)));
        }
        tokio::select! {
            r = tokio::time::timeout_at(deadline, wrx) => match r {
                Ok(Ok(reply)) => Ok(reply),
                Ok(Err(_)) => Err(CallError::Network(format!("connection to peer {} lost", self.target))),
                Err(_) => {
                    pending.lock().unwrap().remove(&id);
                    Err(CallError::Timeout(ttl))
                }
            },
            why = give_up => {
                pending.lock().unwrap().remove(&id);
                Err(CallError::Network(why))
            }
        }
    }

    async fn close(&self) {
        self.state.lock().await.live = None;
    }
}

/// All peer connections of a node, shared by openraft's network clients and the
/// proposal-forwarding path.
pub(crate) struct PeerPool {
    dialer: Arc<Dialer>,
    conns: StdMutex<HashMap<NodeId, Arc<PeerConn>>>,
}

impl PeerPool {
    pub(crate) fn new(dialer: Dialer) -> Self {
        PeerPool {
            dialer: Arc::new(dialer),
            conns: StdMutex::default(),
        }
    }

    pub(crate) fn get(&self, target: NodeId, addr: &str) -> Arc<PeerConn> {
        let mut m = self.conns.lock().unwrap();
        match m.get(&target) {
            Some(c) if c.addr == addr => c.clone(),
            _ => {
                let c = Arc::new(PeerConn::new(target, addr.to_string(), self.dialer.clone()));
                m.insert(target, c.clone());
                c
            }
        }
    }

    pub(crate) async fn close_all(&self) {
        let conns: Vec<_> = self.conns.lock().unwrap().drain().map(|(_, c)| c).collect();
        for c in conns {
            c.close().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// openraft network

/// openraft `RaftNetworkFactory` over the [`PeerPool`].
pub(crate) struct NetworkFactory {
    pub(crate) me: NodeId,
    pub(crate) pool: Arc<PeerPool>,
    /// Peer addresses from this member's own config. They win over the addresses recorded in
    /// the Raft membership, so each member may reach a peer its own way (e.g. via a relay).
    pub(crate) dial: Arc<std::collections::BTreeMap<NodeId, String>>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> PeerClient {
        PeerClient {
            me: self.me,
            target,
            conn: self.pool.get(target, self.dial.get(&target).unwrap_or(&node.addr)),
        }
    }
}

/// openraft `RaftNetwork` for one target peer.
pub(crate) struct PeerClient {
    me: NodeId,
    target: NodeId,
    conn: Arc<PeerConn>,
}

type RpcErr<E = openraft::error::Infallible> = RPCError<NodeId, Node, RaftError<NodeId, E>>;

impl PeerClient {
    fn map_err<E: std::error::Error>(&self, e: CallError, action: RPCTypes) -> RpcErr<E> {
        match e {
            CallError::Unreachable(m) => RPCError::Unreachable(Unreachable::new(&std::io::Error::other(m))),
            CallError::Network(m) => RPCError::Network(NetworkError::new(&std::io::Error::other(m))),
            CallError::Timeout(ttl) => RPCError::Timeout(Timeout {
                action,
                id: self.me,
                target: self.target,
                timeout: ttl,
            }),
            CallError::TooLarge(n) => {
                tracing::error!(
                    target = self.target,
                    bytes = n,
                    ?action,
                    "peer request too large to send"
                );
                RPCError::Network(NetworkError::new(&std::io::Error::other(format!(
                    "request of {n} bytes exceeds the frame limit"
                ))))
            }
        }
    }

    fn unexpected<E: std::error::Error>(&self, r: Reply) -> RpcErr<E> {
        let what = match r {
            Reply::BadRequest(m) => format!("peer rejected request: {m}"),
            _ => "unexpected reply type".to_string(),
        };
        RPCError::Network(NetworkError::new(&std::io::Error::other(what)))
    }

    fn remote<E: std::error::Error>(&self, e: RaftError<NodeId, E>) -> RpcErr<E> {
        RPCError::RemoteError(RemoteError::new(self.target, e))
    }
}

/// How many of `entries`, from the first, to send instead so that they fit in one frame
/// (fewer than all); `None` when not even the first one fits (it cannot be sent at all:
/// proposals are bounded so that this never happens).
fn entries_that_fit(entries: &[crate::consensus::types::Entry]) -> Option<u64> {
    if entries.len() < 2 {
        return None;
    }
    let budget = (MAX_FRAME - FRAME_OVERHEAD) as u64;
    let mut total = 0u64;
    let mut fit = 0u64;
    for e in entries {
        total += bincode::serialized_size(e).unwrap_or(u64::MAX / 2);
        if total > budget {
            break;
        }
        fit += 1;
    }
    (fit > 0).then_some(fit.min(entries.len() as u64 - 1))
}

/// Lower bound of the time an AppendEntries call may take before it counts as failed.
const APPEND_MIN_TTL: Duration = Duration::from_millis(500);

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr> {
        let req = Request::AppendEntries(rpc);
        // openraft allows one heartbeat interval; an append of a large batch that the follower
        // must fsync can take longer on a loaded machine, and timing it out only makes the
        // leader resend it. A real outage is still noticed well within an election timeout.
        let ttl = option.hard_ttl().max(APPEND_MIN_TTL);
        match self.conn.call(&req, ttl).await {
            Ok(Reply::AppendEntries(r)) => r.map_err(|e| self.remote(e)),
            Ok(other) => Err(self.unexpected(other)),
            Err(CallError::TooLarge(n)) => {
                let Request::AppendEntries(rpc) = &req else {
                    unreachable!()
                };
                match entries_that_fit(&rpc.entries) {
                    Some(fit) => {
                        tracing::debug!(
                            target = self.target,
                            bytes = n,
                            fit,
                            "AppendEntries too large; sending fewer"
                        );
                        Err(RPCError::PayloadTooLarge(PayloadTooLarge::new_entries_hint(fit)))
                    }
                    None => Err(self.map_err(CallError::TooLarge(n), RPCTypes::AppendEntries)),
                }
            }
            Err(e) => Err(self.map_err(e, RPCTypes::AppendEntries)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        let req = Request::InstallSnapshot(rpc.into());
        match self.conn.call(&req, option.hard_ttl()).await {
            Ok(Reply::InstallSnapshot(r)) => r.map_err(|e| self.remote(e)),
            Ok(other) => Err(self.unexpected(other)),
            Err(e) => Err(self.map_err(e, RPCTypes::InstallSnapshot)),
        }
    }

    async fn vote(&mut self, rpc: VoteRequest<NodeId>, option: RPCOption) -> Result<VoteResponse<NodeId>, RpcErr> {
        let req = Request::Vote(rpc);
        match self.conn.call(&req, option.hard_ttl()).await {
            Ok(Reply::Vote(r)) => r.map_err(|e| self.remote(e)),
            Ok(other) => Err(self.unexpected(other)),
            Err(e) => Err(self.map_err(e, RPCTypes::Vote)),
        }
    }

    fn backoff(&self) -> Backoff {
        // Used by openraft after `Unreachable`: 50, 100, 200, 400, 500, 500, ... ms.
        Backoff::new((0..).map(|i: u32| (BACKOFF_MIN * 2u32.saturating_pow(i.min(4))).min(BACKOFF_MAX / 2)))
    }
}

#[cfg(test)]
mod validate_tests {
    use super::*;

    fn log_id(term: u64, index: u64) -> openraft::LogId<NodeId> {
        openraft::LogId::new(openraft::CommittedLeaderId::new(term, 1), index)
    }

    #[test]
    fn peer_requests_out_of_range_are_refused() {
        let vote = |term, last| Request::Vote(VoteRequest::new(Vote::new(term, 2), last));
        let cases = [
            (vote(3, Some(log_id(3, 10))), true),
            (vote(3, None), true),
            (vote(MAX_TERM, None), true),
            (vote(u64::MAX, None), false),
            (vote(MAX_TERM + 1, None), false),
            (vote(3, Some(log_id(4, 10))), false),
            (Request::Vote(VoteRequest::new(Vote::new(3, 0), None)), false),
            (Request::ReadIndex, true),
        ];
        for (i, (req, ok)) in cases.into_iter().enumerate() {
            assert_eq!(req.validate().is_ok(), ok, "case {i}: {:?}", req.validate());
        }
        let append = |term, prev: Option<openraft::LogId<NodeId>>| {
            Request::AppendEntries(AppendEntriesRequest {
                vote: Vote::new_committed(term, 1),
                prev_log_id: prev,
                entries: vec![],
                leader_commit: prev,
            })
        };
        assert!(append(5, Some(log_id(5, 1))).validate().is_ok());
        assert!(append(5, Some(log_id(6, 1))).validate().is_err());
        assert!(append(u64::MAX, None).validate().is_err());
    }
}
