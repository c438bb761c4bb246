//! The peer listener: serves Raft RPCs and requests forwarded by followers.
//!
//! Each accepted connection gets a reader loop and a writer (TCP_NODELAY); every request
//! is handled in its own task, so requests pipelined on one connection are served
//! concurrently and answered in completion order, tagged with their request id.

use std::time::Duration;

use openraft::error::{CheckIsLeaderError, Fatal, RaftError};
use openraft::metrics::WaitError;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::consensus::batcher::Batcher;
use crate::consensus::network::{decode_frame, encode_frame, read_frame, write_frames, ForwardReject, Reply, Request};
use crate::consensus::types::{Blob, Raft};

/// What request handlers need.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) raft: Raft,
    pub(crate) batcher: Batcher,
    /// Machine index of the last proposal applied locally.
    pub(crate) applied: watch::Receiver<u64>,
    pub(crate) timeout: Duration,
}

/// Handle of a running peer listener.
pub(crate) struct Server {
    accept: JoinHandle<()>,
}

impl Server {
    /// Starts serving `listener`.
    pub(crate) fn spawn(listener: TcpListener, ctx: Ctx) -> Server {
        let accept = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    res = listener.accept() => match res {
                        Ok((stream, peer)) => {
                            tracing::debug!(%peer, "peer connected");
                            conns.spawn(serve_conn(stream, ctx.clone()));
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    },
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Server { accept }
    }

    /// Stops accepting and drops every served connection (closing the listener socket).
    pub(crate) async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
    }
}

async fn serve_conn(stream: TcpStream, ctx: Ctx) {
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let mut handlers = JoinSet::new();
    let reader = async {
        loop {
            let buf = match read_frame(&mut rd).await {
                Ok(Some(b)) => b,
                Ok(None) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "peer connection read failed");
                    return;
                }
            };
            let (id, req) = match decode_frame::<Request>(&buf) {
                Ok(x) => x,
                Err(e) => {
                    // Without a trustworthy id we cannot answer; drop the connection.
                    tracing::warn!(error = %e, "undecodable peer request");
                    return;
                }
            };
            let (ctx, tx) = (ctx.clone(), tx.clone());
            handlers.spawn(async move {
                let reply = handle(&ctx, req).await;
                match encode_frame(id, &reply) {
                    Ok(frame) => {
                        let _ = tx.send(frame);
                    }
                    Err(e) => tracing::error!(error = %e, "failed to encode reply"),
                }
            });
            while handlers.try_join_next().is_some() {}
        }
    };
    tokio::select! {
        _ = reader => {}
        _ = write_frames(wr, rx) => {}
    }
}

async fn handle(ctx: &Ctx, req: Request) -> Reply {
    let raft = &ctx.raft;
    if let Err(why) = req.validate() {
        tracing::warn!(reason = %why, "refused a peer request");
        return Reply::BadRequest(why);
    }
    match req {
        Request::AppendEntries(rpc) => Reply::AppendEntries(raft.append_entries(rpc).await),
        Request::Vote(rpc) => Reply::Vote(raft.vote(rpc).await),
        Request::InstallSnapshot(chunk) => Reply::InstallSnapshot(raft.install_snapshot(chunk.into()).await),
        Request::Forward(payload) => Reply::Forward(ctx.batcher.propose(payload.0).await.map(|(i, r)| (i, Blob(r)))),
        Request::ReadIndex => Reply::ReadIndex(leader_read_index(ctx).await),
    }
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
