//! Counts of the peer requests a member sends, by kind: with the log's fsync count they say
//! how many messages and syncs a committed transaction costs the group (`SHOW GRPROXY
//! STATUS`, read by `deploy/bench.py` around each run).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::consensus::network::Request;

/// Live counters, shared by every peer connection of a node.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    appends: AtomicU64,
    empty_appends: AtomicU64,
    votes: AtomicU64,
    forwards: AtomicU64,
    other: AtomicU64,
    bytes: AtomicU64,
}

/// A snapshot of [`Traffic`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficCounts {
    /// AppendEntries requests carrying entries.
    pub appends: u64,
    /// AppendEntries requests without entries: heartbeats and commit-index updates.
    pub empty_appends: u64,
    /// Vote requests.
    pub votes: u64,
    /// Proposals forwarded to the leader.
    pub forwards: u64,
    /// Everything else (snapshots, read barriers, status, membership, service calls).
    pub other: u64,
    /// Bytes of every request frame sent.
    pub bytes: u64,
}

impl TrafficCounts {
    /// Every request sent (each has one reply).
    pub fn requests(&self) -> u64 {
        self.appends + self.empty_appends + self.votes + self.forwards + self.other
    }
}

impl Traffic {
    /// Counts one request of `frame_len` bytes about to be sent.
    pub(crate) fn sent(&self, req: &Request, frame_len: usize) {
        let counter = match req {
            Request::AppendEntries(r) if r.entries.is_empty() => &self.empty_appends,
            Request::AppendEntries(_) => &self.appends,
            Request::Vote(_) => &self.votes,
            Request::Forward(_) => &self.forwards,
            _ => &self.other,
        };
        counter.fetch_add(1, Relaxed);
        self.bytes.fetch_add(frame_len as u64, Relaxed);
    }

    pub(crate) fn counts(&self) -> TrafficCounts {
        TrafficCounts {
            appends: self.appends.load(Relaxed),
            empty_appends: self.empty_appends.load(Relaxed),
            votes: self.votes.load(Relaxed),
            forwards: self.forwards.load(Relaxed),
            other: self.other.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::types::{Blob, Vote};
    use openraft::raft::{AppendEntriesRequest, VoteRequest};

    #[test]
    fn requests_are_counted_by_kind() {
        let append = |n: usize| {
            Request::AppendEntries(AppendEntriesRequest {
                vote: Vote::new_committed(1, 1),
                prev_log_id: None,
                entries: (0..n)
                    .map(|i| openraft::Entry {
                        log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(1, 1), i as u64),
                        payload: openraft::EntryPayload::Blank,
                    })
                    .collect(),
                leader_commit: None,
            })
        };
        let cases: Vec<(Request, TrafficCounts)> = vec![
            (
                append(2),
                TrafficCounts {
                    appends: 1,
                    bytes: 10,
                    ..Default::default()
                },
            ),
            (
                append(0),
                TrafficCounts {
                    empty_appends: 1,
                    bytes: 10,
                    ..Default::default()
                },
            ),
            (
                Request::Vote(VoteRequest::new(Vote::new(2, 2), None)),
                TrafficCounts {
                    votes: 1,
                    bytes: 10,
                    ..Default::default()
                },
            ),
            (
                Request::Forward(Blob(vec![1])),
                TrafficCounts {
                    forwards: 1,
                    bytes: 10,
                    ..Default::default()
                },
            ),
            (
                Request::Status,
                TrafficCounts {
                    other: 1,
                    bytes: 10,
                    ..Default::default()
                },
            ),
        ];
        for (i, (req, want)) in cases.into_iter().enumerate() {
            let t = Traffic::default();
            t.sent(&req, 10);
            assert_eq!(t.counts(), want, "case {i}");
            assert_eq!(t.counts().requests(), 1, "case {i}");
        }
    }
}
