//! Who leads, as a channel that changes only when the leader or the term does.
//!
//! openraft's metrics channel changes on every append, commit and apply: a task waiting on it
//! for a leader change wakes several times per Raft entry. One follower task reads it and
//! publishes `(leader, term)` only when that pair changes, so proposals forwarded to the
//! leader (one waiter each while in flight) sleep until something they care about happens.
//! The same task reports, once, a Raft core that stopped on its own.

use std::time::Duration;

use tokio::sync::watch;

use crate::consensus::types::{ConsensusError, NodeId, Raft};

/// Leader (if known) and term, as this member sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeaderTerm {
    pub(crate) leader: Option<NodeId>,
    pub(crate) term: u64,
}

/// The receiving side; cheap to clone.
#[derive(Clone)]
pub(crate) struct LeaderWatch(watch::Receiver<LeaderTerm>);

impl LeaderWatch {
    /// Starts following `raft`'s metrics; the task ends when the Raft core does.
    pub(crate) fn spawn(raft: Raft, id: NodeId) -> (LeaderWatch, tokio::task::JoinHandle<()>) {
        let now = current(&raft);
        let (tx, rx) = watch::channel(now);
        (LeaderWatch(rx), tokio::spawn(follow(raft, id, tx)))
    }

    /// Waits until `done` holds for the published pair; `NoLeader` after `timeout`,
    /// `Shutdown` when the Raft core is gone.
    pub(crate) async fn wait(
        &self,
        timeout: Duration,
        done: impl Fn(&LeaderTerm) -> bool,
    ) -> Result<LeaderTerm, ConsensusError> {
        let mut rx = self.0.clone();
        let res = match tokio::time::timeout(timeout, rx.wait_for(|lt| done(lt))).await {
            Ok(Ok(lt)) => Ok(*lt),
            Ok(Err(_)) => Err(ConsensusError::Shutdown),
            Err(_) => Err(ConsensusError::NoLeader),
        };
        res
    }
}

fn current(raft: &Raft) -> LeaderTerm {
    let m = raft.metrics();
    let m = m.borrow();
    LeaderTerm {
        leader: m.current_leader,
        term: m.current_term,
    }
}

/// Why the Raft core is no longer running, if it is not: openraft records a fatal error in
/// its metrics, and a core task that panicked drops the metrics sender.
pub(crate) fn core_stopped(raft: &Raft) -> Option<String> {
    let rx = raft.metrics();
    let running = rx.borrow().running_state.clone();
    if let Err(e) = running {
        return Some(e.to_string());
    }
    rx.has_changed()
        .is_err()
        .then(|| "the raft core task ended (panicked)".to_string())
}

async fn follow(raft: Raft, id: NodeId, tx: watch::Sender<LeaderTerm>) {
    let mut rx = raft.metrics();
    loop {
        let gone = rx.changed().await.is_err();
        let now = current(&raft);
        tx.send_if_modified(|old| std::mem::replace(old, now) != now);
        if let Some(why) = core_stopped(&raft) {
            tracing::error!(
                id,
                reason = %why,
                "the raft core stopped; this member takes no further part in the group until it is restarted"
            );
            // Dropping the sender wakes every waiter with `Shutdown`.
            return;
        }
        if gone {
            return;
        }
    }
}
