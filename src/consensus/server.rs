//! The peer listener: serves Raft RPCs and requests forwarded by followers.
//!
//! Each accepted connection gets a reader loop and a writer (TCP_NODELAY); every request
//! is handled in its own task, so requests pipelined on one connection are served
//! concurrently and answered in completion order, tagged with their request id.

use std::time::Duration;

use openraft::error::{CheckIsLeaderError, ClientWriteError, Fatal, RaftError};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use crate::consensus::network::{decode_frame, encode_frame, read_frame, write_frames, ForwardReject, Reply, Request};
use crate::consensus::types::Raft;

/// Handle of a running peer listener.
pub(crate) struct Server {
    accept: JoinHandle<()>,
}

impl Server {
    /// Starts serving `listener` for `raft`.
    pub(crate) fn spawn(listener: TcpListener, raft: Raft, propose_timeout: Duration) -> Server {
        let accept = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    res = listener.accept() => match res {
                        Ok((stream, peer)) => {
                            tracing::debug!(%peer, "peer connected");
                            conns.spawn(serve_conn(stream, raft.clone(), propose_timeout));
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

async fn serve_conn(stream: TcpStream, raft: Raft, propose_timeout: Duration) {
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
            let (raft, tx) = (raft.clone(), tx.clone());
            handlers.spawn(async move {
                let reply = handle(&raft, req, propose_timeout).await;
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

async fn handle(raft: &Raft, req: Request, propose_timeout: Duration) -> Reply {
    match req {
        Request::AppendEntries(rpc) => Reply::AppendEntries(raft.append_entries(rpc).await),
        Request::Vote(rpc) => Reply::Vote(raft.vote(rpc).await),
        Request::InstallSnapshot(rpc) => Reply::InstallSnapshot(raft.install_snapshot(rpc).await),
        Request::Forward(payload) => Reply::Forward(leader_write(raft, payload, propose_timeout).await),
        Request::ReadIndex => Reply::ReadIndex(leader_read_index(raft, propose_timeout).await),
    }
}

/// Appends `payload` on this node as leader and waits until it is applied here.
/// `NotLeader`/`Shutdown` mean nothing was appended; `Failed` means the outcome is unknown.
pub(crate) async fn leader_write(
    raft: &Raft,
    payload: Vec<u8>,
    timeout: Duration,
) -> Result<(u64, Vec<u8>), ForwardReject> {
    match tokio::time::timeout(timeout, raft.client_write(payload)).await {
        Ok(Ok(resp)) => Ok((resp.log_id.index, resp.data)),
        // Either rejected before appending, or the appended entry was truncated by a new
        // leader (never committed): safe to retry elsewhere.
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
            Err(ForwardReject::NotLeader { leader: f.leader_id })
        }
        Ok(Err(RaftError::APIError(e))) => Err(ForwardReject::Failed(e.to_string())),
        Ok(Err(RaftError::Fatal(Fatal::Stopped))) => Err(ForwardReject::Failed("raft stopped".into())),
        Ok(Err(RaftError::Fatal(e))) => Err(ForwardReject::Failed(e.to_string())),
        Err(_) => Err(ForwardReject::Failed(format!("not applied within {timeout:?}"))),
    }
}

/// Confirms leadership with a quorum and returns the index reads must wait for.
pub(crate) async fn leader_read_index(raft: &Raft, timeout: Duration) -> Result<u64, ForwardReject> {
    match tokio::time::timeout(timeout, raft.get_read_log_id()).await {
        Ok(Ok((read, _applied))) => Ok(read.map(|l| l.index).unwrap_or(0)),
        Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)))) => {
            Err(ForwardReject::NotLeader { leader: f.leader_id })
        }
        Ok(Err(RaftError::APIError(e))) => Err(ForwardReject::Failed(e.to_string())),
        Ok(Err(RaftError::Fatal(Fatal::Stopped))) => Err(ForwardReject::Shutdown),
        Ok(Err(RaftError::Fatal(e))) => Err(ForwardReject::Failed(e.to_string())),
        Err(_) => Err(ForwardReject::Failed(format!(
            "leadership not confirmed within {timeout:?}"
        ))),
    }
}
