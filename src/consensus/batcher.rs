//! Group commit at the proposal level.
//!
//! openraft 0.9 appends one Raft entry per `client_write` and its core waits for each
//! append's fsync before taking the next message, so one proposal per entry means one
//! leader fsync per proposal — and a flood of queued `client_write`s keeps the core from
//! sending heartbeats. The batcher therefore packs every proposal that queued up while
//! earlier batches were in flight into one Raft entry (`D = Vec<Vec<u8>>`), and keeps at
//! most `in_flight` batches (`group.raft_batches_in_flight`, default [`DEFAULT_IN_FLIGHT`])
//! inside openraft at a time. Batches are submitted in arrival
//! order. The state machine assigns each proposal of a batch its own machine index.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::ClientWriteError;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use crate::consensus::network::ForwardReject;
use crate::consensus::types::{Applied, Blob, Raft};

/// Default of the most batches handed to openraft and not yet answered.
pub const DEFAULT_IN_FLIGHT: usize = 4;
/// Upper bounds of one batch (a single larger proposal makes a batch of its own).
pub const MAX_BATCH: usize = 1024;
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// Outcome of one proposal on the leader: (machine index, response).
pub(crate) type ProposeResult = Result<(u64, Vec<u8>), ForwardReject>;
type Waiter = oneshot::Sender<ProposeResult>;

/// Batching counters (diagnostics and tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    /// Proposals submitted to openraft through this node's batcher.
    pub proposals: u64,
    /// Raft entries (batches) they were packed into.
    pub batches: u64,
}

#[derive(Default)]
struct Counters {
    proposals: AtomicU64,
    batches: AtomicU64,
}

/// Handle to a node's proposal batcher.
#[derive(Clone)]
pub(crate) struct Batcher {
    tx: mpsc::UnboundedSender<(Vec<u8>, Waiter)>,
    counters: Arc<Counters>,
}

impl Batcher {
    pub(crate) fn spawn(raft: Raft, timeout: Duration, in_flight: usize) -> (Batcher, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(run(raft, rx, timeout, in_flight.max(1), counters.clone()));
        (Batcher { tx, counters }, task)
    }

    /// Proposes `payload` through this node's Raft, which must be the leader.
    /// `NotLeader`/`Shutdown` mean the payload was certainly not appended.
    pub(crate) async fn propose(&self, payload: Vec<u8>) -> ProposeResult {
        let (tx, rx) = oneshot::channel();
        if self.tx.send((payload, tx)).is_err() {
            return Err(ForwardReject::Shutdown);
        }
        rx.await
            .unwrap_or_else(|_| Err(ForwardReject::Failed("proposal batcher stopped".into())))
    }

    pub(crate) fn stats(&self) -> BatchStats {
        BatchStats {
            proposals: self.counters.proposals.load(Ordering::Relaxed),
            batches: self.counters.batches.load(Ordering::Relaxed),
        }
    }
}

async fn run(
    raft: Raft,
    mut rx: mpsc::UnboundedReceiver<(Vec<u8>, Waiter)>,
    timeout: Duration,
    in_flight: usize,
    counters: Arc<Counters>,
) {
    let slots = Arc::new(Semaphore::new(in_flight));
    // A proposal that would have taken a batch past MAX_BATCH_BYTES opens the next one, so an
    // entry is at most MAX_BATCH_BYTES or one proposal, whichever is larger (see `frame`).
    let mut carried = None;
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let first = match carried.take() {
            Some(p) => p,
            None => match rx.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let mut bytes = first.0.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) if bytes + p.0.len() > MAX_BATCH_BYTES => {
                    carried = Some(p);
                    break;
                }
                Ok(p) => {
                    bytes += p.0.len();
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        let (payloads, waiters): (Vec<_>, Vec<_>) = batch.into_iter().map(|(p, w)| (Blob(p), w)).unzip();
        counters.proposals.fetch_add(payloads.len() as u64, Ordering::Relaxed);
        counters.batches.fetch_add(1, Ordering::Relaxed);
        // Enqueue in the Raft core right here, so batches keep their arrival order.
        let resp_rx = match raft.client_write_ff(payloads).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "raft not running; rejecting batch");
                answer(waiters, |_| Err(ForwardReject::Shutdown));
                continue;
            }
        };
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(timeout, resp_rx).await {
                Ok(Ok(Ok(resp))) => {
                    let Applied { first, responses } = resp.data;
                    let mut responses = responses.into_iter();
                    for (i, w) in waiters.into_iter().enumerate() {
                        let r = responses.next().unwrap_or_default();
                        let _ = w.send(Ok((first + i as u64, r)));
                    }
                }
                // Rejected before appending, or appended and then truncated by a newer leader
                // (so never committed): safe to retry elsewhere.
                Ok(Ok(Err(ClientWriteError::ForwardToLeader(f)))) => {
                    answer(waiters, |_| Err(ForwardReject::NotLeader { leader: f.leader_id }))
                }
                Ok(Ok(Err(e))) => answer(waiters, |_| Err(ForwardReject::Failed(e.to_string()))),
                Ok(Err(_)) => answer(waiters, |_| Err(ForwardReject::Failed("raft stopped".into()))),
                Err(_) => answer(waiters, |_| {
                    Err(ForwardReject::Failed(format!("not applied within {timeout:?}")))
                }),
            }
        });
    }
}

fn answer(waiters: Vec<Waiter>, f: impl Fn(usize) -> ProposeResult) {
    for (i, w) in waiters.into_iter().enumerate() {
        let _ = w.send(f(i));
    }
}
