//! The peer listener: serves Raft RPCs and requests forwarded by followers.
//!
//! Each accepted connection runs its TLS handshake (the client must present a member
//! certificate, see [`peer_tls`](super::peer_tls)), then a reader loop (TCP_NODELAY).
//! AppendEntries, Vote and Status are answered in the reader loop itself: the leader sends a
//! follower one AppendEntries at a time, so a task of their own would only add a wakeup.
//! Every other request (forwarded proposals, read barriers, snapshots, membership and
//! service calls, which may wait for a commit) runs in a task of its own, so requests
//! pipelined on one connection are served concurrently and answered in completion order,
//! tagged with their request id. Replies are written by whoever has one
//! ([`FrameWriter`](super::frame_writer::FrameWriter)). A request is checked before it reaches Raft: its terms and ids
//! ([`Request::validate`]) and that it speaks for the member the connection authenticated
//! as ([`Request::check_sender`]).
//!
//! Limits ([`PeerLimits`]): at most `max_connections` served (authenticated) connections
//! (more are closed at once after their handshake), at most `max_connections` handshakes in
//! progress (a new connection beyond that evicts the oldest pending one, so sockets that never
//! present a certificate cannot keep members out), a handshake timeout, a timeout for a frame once its first byte arrived, an idle timeout,
//! at most `max_handlers` requests of a connection in progress (the connection is not read
//! while all are busy) and at most `reply_queue` replies waiting for the socket (the
//! connection is not read while more wait).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, Fatal, RaftError};
use openraft::metrics::WaitError;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::consensus::batcher::Batcher;
use crate::consensus::frame::{decode_frame, encode_frame, read_frame_after, MAX_FRAME};
use crate::consensus::frame_writer::FrameWriter;
use crate::consensus::network::{ForwardReject, PeerStream, Reply, Request, MAX_PROPOSAL};
use crate::consensus::peer_tls::PeerTlsContext;
use crate::consensus::types::{Blob, NodeId, PeerLimits, Raft};

/// What request handlers need.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) raft: Raft,
    pub(crate) batcher: Batcher,
    /// Machine index of the last proposal applied locally.
    pub(crate) applied: watch::Receiver<u64>,
    pub(crate) timeout: Duration,
    pub(crate) presence: std::sync::Arc<crate::consensus::presence::Presence>,
    pub(crate) tls: Option<PeerTlsContext>,
    pub(crate) service: crate::consensus::membership::ServiceSlot,
}

/// Counters of the peer listener (diagnostics and tests).
#[derive(Debug, Default)]
pub(crate) struct ServerStats {
    /// Connections served (after a successful handshake).
    pub(crate) served: AtomicU64,
    /// Authenticated connections closed at once because `max_connections` were served.
    pub(crate) over_capacity: AtomicU64,
    /// Pending handshakes dropped to make room for a newer connection.
    pub(crate) evicted: AtomicU64,
    /// TLS handshakes that failed or timed out (bad or missing certificate, ...).
    pub(crate) handshake_failed: AtomicU64,
    /// Requests handed to Raft or the batcher.
    pub(crate) requests: AtomicU64,
    /// Requests answered with `BadRequest`.
    pub(crate) refused: AtomicU64,
    /// Connections closed as idle.
    pub(crate) closed_idle: AtomicU64,
    /// Connections closed because a frame did not arrive in full in time.
    pub(crate) closed_partial: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Handle of a running peer listener.
pub(crate) struct Server {
    accept: JoinHandle<()>,
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) stats: Arc<ServerStats>,
}

/// What every served connection shares.
struct Shared {
    ctx: Ctx,
    /// `None`: plain TCP (tests only).
    tls: Option<PeerTlsContext>,
    limits: PeerLimits,
    stats: Arc<ServerStats>,
}

impl Server {
    /// Starts serving `listener`.
    pub(crate) fn spawn(listener: TcpListener, ctx: Ctx, tls: Option<PeerTlsContext>, limits: PeerLimits) -> Server {
        let stats = Arc::new(ServerStats::default());
        let shared = Arc::new(Shared {
            ctx,
            tls,
            limits,
            stats: stats.clone(),
        });
        let accept = tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(shared.limits.max_connections));
            let mut conns = JoinSet::new();
            let mut handshakes: JoinSet<Option<Authenticated>> = JoinSet::new();
            let mut pending: VecDeque<AbortHandle> = VecDeque::new();
            let mut last_warning: Option<Instant> = None;
            loop {
                tokio::select! {
                    res = listener.accept() => match res {
                        Ok((stream, peer)) => {
                            let _ = stream.set_nodelay(true);
                            let Some(tls) = shared.tls.clone() else {
                                // Plain TCP (tests only): served at once.
                                if let Ok(permit) = slots.clone().try_acquire_owned() {
                                    let sh = shared.clone();
                                    conns.spawn(async move {
                                        let _slot = permit;
                                        serve_conn(stream, None, &sh).await
                                    });
                                }
                                continue;
                            };
                            pending.retain(|h| !h.is_finished());
                            while pending.len() >= shared.limits.max_connections.max(1) {
                                if let Some(oldest) = pending.pop_front() {
                                    oldest.abort();
                                    bump(&shared.stats.evicted);
                                }
                            }
                            let timeout = shared.limits.handshake_timeout;
                            let stats = shared.stats.clone();
                            pending.push_back(handshakes.spawn(handshake(tls, stream, peer, timeout, stats)));
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    },
                    Some(done) = handshakes.join_next(), if !handshakes.is_empty() => {
                        let Ok(Some(a)) = done else { continue };
                        let Ok(permit) = slots.clone().try_acquire_owned() else {
                            bump(&shared.stats.over_capacity);
                            if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                                last_warning = Some(Instant::now());
                                tracing::warn!(peer = %a.peer, member = a.member, max = shared.limits.max_connections,
                                    "peer connection limit reached; closing new peer connections");
                            }
                            continue;
                        };
                        tracing::debug!(peer = %a.peer, member = a.member, "peer connected");
                        let sh = shared.clone();
                        conns.spawn(async move {
                            let _slot = permit;
                            serve_conn(a.stream, Some(a.member), &sh).await
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Server { accept, stats }
    }

    /// Stops accepting and drops every served connection (closing the listener socket).
    pub(crate) async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
    }
}

/// A connection whose TLS handshake presented a member's certificate.
struct Authenticated {
    stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    member: NodeId,
    peer: SocketAddr,
}

/// Runs the TLS handshake (within the handshake timeout) and names the member its
/// certificate is for; `None` (logged) for anything else.
async fn handshake(
    tls: PeerTlsContext,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    timeout: Duration,
    stats: Arc<ServerStats>,
) -> Option<Authenticated> {
    let stream = match tokio::time::timeout(timeout, tls.acceptor().accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            bump(&stats.handshake_failed);
            tracing::warn!(%peer, error = %e, "refused a peer connection: TLS handshake failed");
            return None;
        }
        Err(_) => {
            bump(&stats.handshake_failed);
            tracing::warn!(%peer, "refused a peer connection: no TLS handshake within {timeout:?}");
            return None;
        }
    };
    match tls.authenticated(stream.get_ref().1) {
        Ok(member) => Some(Authenticated { stream, member, peer }),
        Err(e) => {
            bump(&stats.handshake_failed);
            tracing::warn!(%peer, error = %e, "refused a peer connection");
            None
        }
    }
}

async fn serve_conn<S: PeerStream>(stream: S, member: Option<NodeId>, sh: &Shared) {
    bump(&sh.stats.served);
    let limits = &sh.limits;
    let (mut rd, wr) = tokio::io::split(stream);
    let writer = FrameWriter::new(wr);
    let busy = Arc::new(Semaphore::new(limits.max_handlers.max(1)));
    let mut handlers = JoinSet::new();
    let reader = async {
        loop {
            // A frame's first byte may take any time while requests are in progress, and up
            // to the idle timeout otherwise.
            let mut first = [0u8; 1];
            let got = loop {
                tokio::select! {
                    r = rd.read(&mut first) => break r,
                    _ = tokio::time::sleep(limits.idle_timeout) => {
                        if busy.available_permits() == limits.max_handlers.max(1) {
                            bump(&sh.stats.closed_idle);
                            tracing::debug!(?member, "closing an idle peer connection");
                            return;
                        }
                    }
                }
            };
            match got {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(?member, error = %e, "peer connection read failed");
                    return;
                }
            }
            let buf = match tokio::time::timeout(limits.frame_timeout, read_frame_after(&mut rd, first[0], MAX_FRAME))
                .await
            {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => {
                    tracing::warn!(?member, error = %e, "bad peer frame; closing the connection");
                    return;
                }
                Err(_) => {
                    bump(&sh.stats.closed_partial);
                    tracing::warn!(
                        ?member,
                        "a peer frame did not arrive within {:?}; closing the connection",
                        limits.frame_timeout
                    );
                    return;
                }
            };
            let (id, req) = match decode_frame::<Request>(&buf) {
                Ok(x) => x,
                Err(e) => {
                    // Without a trustworthy id we cannot answer; drop the connection.
                    tracing::warn!(?member, error = %e, "undecodable peer request");
                    return;
                }
            };
            drop(buf);
            if matches!(req, Request::AppendEntries(_) | Request::Vote(_) | Request::Status) {
                let reply = handle(&sh.ctx, member, req, &sh.stats).await;
                if !answer(&writer, id, &reply) {
                    return;
                }
            } else {
                // Back-pressure: no more reading while every handler slot is busy.
                let Ok(permit) = busy.clone().acquire_owned().await else {
                    return;
                };
                let (ctx, writer, stats) = (sh.ctx.clone(), writer.clone(), sh.stats.clone());
                handlers.spawn(async move {
                    let reply = handle(&ctx, member, req, &stats).await;
                    answer(&writer, id, &reply);
                    drop(permit);
                });
            }
            while handlers.try_join_next().is_some() {}
            // Back-pressure: a peer that does not read its replies is not read either.
            writer.queued_at_most(limits.reply_queue.max(1)).await;
        }
    };
    tokio::select! {
        _ = reader => {}
        _ = writer.drain() => {}
    }
}

/// Sends the reply to request `id`; false when the connection is broken.
fn answer(writer: &FrameWriter, id: u64, reply: &Reply) -> bool {
    match encode_frame(id, reply) {
        Ok(frame) => writer.send(frame).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "failed to encode reply");
            true
        }
    }
}

async fn handle(ctx: &Ctx, member: Option<NodeId>, req: Request, stats: &ServerStats) -> Reply {
    let raft = &ctx.raft;
    let checked = req
        .validate()
        .and_then(|()| member.map_or(Ok(()), |m| req.check_sender(m)))
        .and_then(|()| match &req {
            Request::Forward(p) if p.0.len() > MAX_PROPOSAL => Err(format!(
                "forwarded proposal of {} bytes exceeds the limit of {MAX_PROPOSAL} bytes",
                p.0.len()
            )),
            _ => Ok(()),
        });
    let checked = checked.and_then(|()| match (&req, member) {
        // Only members take part: a removed member's forwarded writes would commit in a log
        // it no longer receives.
        (Request::Forward(_) | Request::ReadIndex | Request::App(_), Some(m)) if !in_membership(ctx, m) => {
            Err(format!("member {m} is not in the group's membership"))
        }
        _ => Ok(()),
    });
    if let Err(why) = checked {
        bump(&stats.refused);
        tracing::warn!(?member, reason = %why, "refused a peer request");
        return Reply::BadRequest(why);
    }
    bump(&stats.requests);
    match req {
        Request::AppendEntries(rpc) => {
            let r = raft.append_entries(rpc).await;
            if matches!(
                &r,
                Ok(openraft::raft::AppendEntriesResponse::Success
                    | openraft::raft::AppendEntriesResponse::PartialSuccess(_)
                    | openraft::raft::AppendEntriesResponse::Conflict)
            ) {
                ctx.presence.heard_from_leader();
            }
            Reply::AppendEntries(r)
        }
        Request::Vote(rpc) => Reply::Vote(raft.vote(rpc).await),
        Request::InstallSnapshot(chunk) => Reply::InstallSnapshot(raft.install_snapshot(chunk.into()).await),
        Request::Forward(payload) => Reply::Forward(ctx.batcher.propose(payload.0).await.map(|(i, r)| (i, Blob(r)))),
        Request::ReadIndex => Reply::ReadIndex(leader_read_index(ctx).await),
        Request::Status => Reply::Status(Blob(ctx.presence.report())),
        Request::ChangeMembers(change) => Reply::ChangeMembers(change_members_as_leader(ctx, &change).await),
        Request::Elect => Reply::Elect({
            let (leader, me) = {
                let m = ctx.raft.metrics();
                let m = m.borrow();
                (m.current_leader, m.id)
            };
            match (member, leader) {
                // Asked again after it already won (the asker had not heard yet): done.
                (_, Some(l)) if l == me => Ok(()),
                // Only the leader this member follows may ask (plain test links: anyone).
                (Some(m), Some(l)) if m != l => Err(format!("member {m} is not the leader ({l} is)")),
                _ => ctx.raft.trigger().elect().await.map_err(|e| e.to_string()),
            }
        }),
        Request::App(body) => Reply::App(match ctx.service.get() {
            Some(svc) => svc.call(member, body.0).await.map(Blob),
            None => Err("this member is still starting".into()),
        }),
    }
}

/// Whether `id` is a node (voter or learner) of the membership this member knows; before
/// the first membership entry everyone configured is.
fn in_membership(ctx: &Ctx, id: NodeId) -> bool {
    let m = ctx.raft.metrics();
    let m = m.borrow();
    let membership = m.membership_config.membership();
    membership.nodes().next().is_none() || membership.get_node(&id).is_some()
}

/// Carries out a membership change if this member leads the group.
pub(crate) async fn change_members_as_leader(
    ctx: &Ctx,
    change: &crate::consensus::membership::MemberChange,
) -> Result<String, ForwardReject> {
    let (leader, me) = {
        let m = ctx.raft.metrics();
        let m = m.borrow();
        (m.current_leader, m.id)
    };
    if leader != Some(me) {
        return Err(ForwardReject::NotLeader { leader });
    }
    crate::consensus::membership::apply_on_leader(&ctx.raft, ctx.tls.as_ref(), change)
        .await
        .map_err(ForwardReject::Failed)
}

/// Confirms leadership with a quorum, waits until this node applied everything committed
/// before, and returns the local machine index reads must wait for.
pub(crate) async fn leader_read_index(ctx: &Ctx) -> Result<u64, ForwardReject> {
    let timeout = ctx.timeout;
    let read = match tokio::time::timeout(timeout, ctx.raft.get_read_log_id()).await {
        Ok(Ok((read, _applied))) => read,
        Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)))) => {
            return Err(ForwardReject::NotLeader { leader: f.leader_id })
        }
        Ok(Err(RaftError::APIError(e))) => return Err(ForwardReject::Failed(e.to_string())),
        Ok(Err(RaftError::Fatal(Fatal::Stopped))) => return Err(ForwardReject::Shutdown),
        Ok(Err(RaftError::Fatal(e))) => return Err(ForwardReject::Failed(e.to_string())),
        Err(_) => {
            return Err(ForwardReject::Failed(format!(
                "leadership not confirmed within {timeout:?}"
            )))
        }
    };
    if let Some(read) = read {
        ctx.raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(read.index), "read_index")
            .await
            .map_err(|e| match e {
                WaitError::ShuttingDown => ForwardReject::Shutdown,
                WaitError::Timeout(..) => ForwardReject::Failed(format!("not applied within {timeout:?}")),
            })?;
    }
    let seq = *ctx.applied.borrow();
    Ok(seq)
}
