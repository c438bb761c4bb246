//! Who this node can hear, and what it tells peers about itself.
//!
//! - **Quorum.** A leader is in contact with a majority while openraft's
//!   `millis_since_quorum_ack` stays short; a follower while AppendEntries from a leader keep
//!   arriving (a leader only sends them while it holds its term, and its heartbeats stop
//!   reaching a minority side). A member without either for [`Presence::quorum_window`] has
//!   no quorum: it says so, and the layer above refuses writes at once instead of letting
//!   them wait for a proposal timeout.
//! - **Reports.** The application above sets an opaque report (its state, applied index, ...)
//!   that peers fetch with a `Status` request; [`crate::consensus::Consensus::peer_reports`]
//!   asks every peer.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use openraft::ServerState;

/// What a node knows of its own contact with the group.
pub(crate) struct Presence {
    started: Instant,
    window: Duration,
    /// The last AppendEntries a leader sent that this node accepted or checked.
    leader_contact: Mutex<Option<Instant>>,
    report: Mutex<Vec<u8>>,
}

/// Whether this node is in contact with a majority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quorum {
    Ok,
    /// No majority in contact, with why (for operators and the client's error).
    Lost(String),
    /// This member is no longer in the group's membership.
    Removed,
}

impl Quorum {
    /// Why this member takes no writes, if it takes none.
    pub fn refusal(&self) -> Option<String> {
        match self {
            Quorum::Ok => None,
            Quorum::Lost(why) => Some(why.clone()),
            Quorum::Removed => Some("this member was removed from the group".into()),
        }
    }
}

impl Presence {
    pub(crate) fn new(window: Duration) -> Self {
        Presence {
            started: Instant::now(),
            window,
            leader_contact: Mutex::new(None),
            report: Mutex::new(Vec::new()),
        }
    }

    /// How long without contact before a member says it has no quorum.
    pub(crate) fn quorum_window(&self) -> Duration {
        self.window
    }

    pub(crate) fn heard_from_leader(&self) {
        *self.leader_contact.lock().unwrap() = Some(Instant::now());
    }

    pub(crate) fn set_report(&self, r: Vec<u8>) {
        *self.report.lock().unwrap() = r;
    }

    pub(crate) fn report(&self) -> Vec<u8> {
        self.report.lock().unwrap().clone()
    }

    /// Decides from openraft's view (`state`, `millis_since_quorum_ack`) and the last leader
    /// contact. `voters` is the number of voting members (1: always a quorum).
    pub(crate) fn quorum(&self, state: ServerState, millis_since_quorum_ack: Option<u64>, voters: usize) -> Quorum {
        if voters <= 1 {
            return Quorum::Ok;
        }
        let window_ms = self.window.as_millis() as u64;
        match state {
            ServerState::Leader => match millis_since_quorum_ack {
                Some(ms) if ms > window_ms => Quorum::Lost(format!(
                    "as leader, no majority of the {voters} members acknowledged it for {ms} ms"
                )),
                // Elected with a majority's votes; acknowledgements follow within a heartbeat.
                _ => Quorum::Ok,
            },
            _ => {
                let since = self.leader_contact.lock().unwrap().unwrap_or(self.started);
                let quiet = since.elapsed();
                if quiet > self.window {
                    Quorum::Lost(format!(
                        "no leader has reached this member for {} ms (a majority of the {voters} members is not reachable from here)",
                        quiet.as_millis()
                    ))
                } else {
                    Quorum::Ok
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_decisions() {
        let p = Presence::new(Duration::from_millis(100));
        assert_eq!(p.quorum(ServerState::Follower, None, 1), Quorum::Ok);
        assert_eq!(p.quorum(ServerState::Leader, Some(50), 3), Quorum::Ok);
        assert_eq!(p.quorum(ServerState::Leader, None, 3), Quorum::Ok);
        assert!(matches!(p.quorum(ServerState::Leader, Some(500), 3), Quorum::Lost(_)));
        // A fresh follower gets the window to hear from a leader.
        assert_eq!(p.quorum(ServerState::Follower, None, 3), Quorum::Ok);
        std::thread::sleep(Duration::from_millis(150));
        assert!(matches!(p.quorum(ServerState::Follower, None, 3), Quorum::Lost(_)));
        assert!(matches!(p.quorum(ServerState::Candidate, None, 3), Quorum::Lost(_)));
        p.heard_from_leader();
        assert_eq!(p.quorum(ServerState::Follower, None, 3), Quorum::Ok);
    }
}
