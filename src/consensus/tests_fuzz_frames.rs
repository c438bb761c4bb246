//! Property tests of what a peer sends (see `docs/fuzzing.md`): a frame body decoded as the
//! server does (`frame::decode_frame::<Request>`, then `Request::validate` and
//! `Request::check_sender`), and replies as the client does (`decode_frame::<Reply>`).
//! Arbitrary bodies, valid frames mutated (length prefixes set to 4 GiB or u64::MAX among
//! others), and the round trip encode -> decode -> encode of every request kind.

use std::collections::{BTreeMap, BTreeSet};

use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, VoteRequest, VoteResponse};
use openraft::{CommittedLeaderId, EntryPayload, LogId, Membership};
use proptest::prelude::*;

use super::frame::{decode_frame, encode_frame};
use super::network::{ForwardReject, Reply, Request, MAX_TERM};
use super::types::{Blob, Entry, Node, NodeId, SnapshotMeta, StoredMembership, Vote};

#[path = "../../tests/fuzz/support.rs"]
mod support;

use support::{bytes, config, mutated};

/// Terms: small, at and around the limit, huge.
fn term() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..10,
        1 => Just(MAX_TERM),
        1 => Just(MAX_TERM + 1),
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ]
}

fn node() -> impl Strategy<Value = NodeId> {
    prop_oneof![4 => 0u64..4, 1 => any::<u64>()]
}

fn log_id() -> impl Strategy<Value = Option<LogId<NodeId>>> {
    prop::option::of((term(), node(), any::<u64>()).prop_map(|(t, n, i)| LogId::new(CommittedLeaderId::new(t, n), i)))
}

/// The parts of a request (requests are not `Debug`, so the strategy yields parts).
#[derive(Debug, Clone)]
enum Parts {
    Vote {
        term: u64,
        node: NodeId,
        committed: bool,
        last: Option<LogId<NodeId>>,
    },
    Append {
        term: u64,
        node: NodeId,
        prev: Option<LogId<NodeId>>,
        commit: Option<LogId<NodeId>>,
        /// (term, index, payload: None = blank, Some(empty) = membership, else proposals)
        entries: Vec<(u64, u64, Option<Vec<Vec<u8>>>)>,
    },
    Snapshot {
        term: u64,
        node: NodeId,
        last: Option<LogId<NodeId>>,
        id: String,
        offset: u64,
        data: Vec<u8>,
        done: bool,
    },
    Forward(Vec<u8>),
    ReadIndex,
}

fn parts() -> impl Strategy<Value = Parts> {
    let entry = (
        term(),
        any::<u64>(),
        prop::option::of(prop::collection::vec(bytes(40), 0..4)),
    );
    prop_oneof![
        (term(), node(), any::<bool>(), log_id()).prop_map(|(term, node, committed, last)| Parts::Vote {
            term,
            node,
            committed,
            last
        }),
        (term(), node(), log_id(), log_id(), prop::collection::vec(entry, 0..5)).prop_map(
            |(term, node, prev, commit, entries)| Parts::Append {
                term,
                node,
                prev,
                commit,
                entries
            }
        ),
        (
            term(),
            node(),
            log_id(),
            "[a-z0-9-]{0,20}",
            any::<u64>(),
            bytes(100),
            any::<bool>()
        )
            .prop_map(|(term, node, last, id, offset, data, done)| Parts::Snapshot {
                term,
                node,
                last,
                id,
                offset,
                data,
                done
            }),
        bytes(100).prop_map(Parts::Forward),
        Just(Parts::ReadIndex),
    ]
}

fn membership() -> Membership<NodeId, Node> {
    let voters: BTreeSet<NodeId> = [1, 2, 3].into_iter().collect();
    let nodes: BTreeMap<NodeId, Node> = (1..=3)
        .map(|n| (n, Node::new(format!("127.0.0.1:{}", 7000 + n))))
        .collect();
    Membership::new(vec![voters], nodes)
}

impl Parts {
    fn build(&self) -> Request {
        let vote = |term: u64, node: NodeId| Vote::new_committed(term, node);
        match self.clone() {
            Parts::Vote {
                term,
                node,
                committed,
                last,
            } => {
                let v = if committed {
                    vote(term, node)
                } else {
                    Vote::new(term, node)
                };
                Request::Vote(VoteRequest::new(v, last))
            }
            Parts::Append {
                term,
                node,
                prev,
                commit,
                entries,
            } => Request::AppendEntries(AppendEntriesRequest {
                vote: vote(term, node),
                prev_log_id: prev,
                leader_commit: commit,
                entries: entries
                    .into_iter()
                    .map(|(t, i, payload)| Entry {
                        log_id: LogId::new(CommittedLeaderId::new(t, node), i),
                        payload: match payload {
                            None => EntryPayload::Blank,
                            Some(p) if p.is_empty() => EntryPayload::Membership(membership()),
                            Some(p) => EntryPayload::Normal(p.into_iter().map(Blob).collect()),
                        },
                    })
                    .collect(),
            }),
            Parts::Snapshot {
                term,
                node,
                last,
                id,
                offset,
                data,
                done,
            } => Request::InstallSnapshot(
                InstallSnapshotRequest {
                    vote: vote(term, node),
                    meta: SnapshotMeta {
                        last_log_id: last,
                        last_membership: StoredMembership::new(last, membership()),
                        snapshot_id: id,
                    },
                    offset,
                    data,
                    done,
                }
                .into(),
            ),
            Parts::Forward(b) => Request::Forward(Blob(b)),
            Parts::ReadIndex => Request::ReadIndex,
        }
    }

    /// What `validate` must say, from the rules it documents: terms within MAX_TERM, a
    /// leader id naming a node, no log id newer than the sender's term.
    fn valid(&self) -> bool {
        let newer = |l: &Option<LogId<NodeId>>, term: u64| l.is_some_and(|l| l.leader_id.term > term);
        match self {
            Parts::Vote { term, node, last, .. } => *term <= MAX_TERM && *node != 0 && !newer(last, *term),
            Parts::Append {
                term,
                node,
                prev,
                commit,
                entries,
            } => {
                *term <= MAX_TERM
                    && *node != 0
                    && !newer(prev, *term)
                    && !newer(commit, *term)
                    && entries.iter().all(|(t, _, _)| t <= term)
            }
            Parts::Snapshot { term, node, last, .. } => *term <= MAX_TERM && *node != 0 && !newer(last, *term),
            Parts::Forward(_) | Parts::ReadIndex => true,
        }
    }

    fn sender(&self) -> Option<NodeId> {
        match self {
            Parts::Vote { node, .. } | Parts::Append { node, .. } | Parts::Snapshot { node, .. } => Some(*node),
            Parts::Forward(_) | Parts::ReadIndex => None,
        }
    }
}

/// A frame body as the server hands it to `decode_frame` (length prefix removed).
fn body(id: u64, req: &Request) -> Vec<u8> {
    let frame = encode_frame(id, req).unwrap();
    let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
    assert_eq!(len, frame.len() - 4);
    frame[4..].to_vec()
}

/// What the server does with a body; and what it decodes is no bigger than the body.
fn serve(buf: &[u8], member: NodeId) {
    if let Ok((_, req)) = decode_frame::<Request>(buf) {
        let _ = req.validate();
        let _ = req.check_sender(member);
        let payload: usize = match &req {
            Request::AppendEntries(r) => r
                .entries
                .iter()
                .map(|e| match &e.payload {
                    EntryPayload::Normal(d) => d.iter().map(|b| b.0.len()).sum(),
                    _ => 0,
                })
                .sum(),
            Request::Forward(b) => b.0.len(),
            _ => 0,
        };
        assert!(payload <= buf.len());
    }
}

fn replies() -> Vec<Reply> {
    vec![
        Reply::AppendEntries(Ok(AppendEntriesResponse::Success)),
        Reply::AppendEntries(Ok(AppendEntriesResponse::Conflict)),
        Reply::Vote(Ok(VoteResponse::new(Vote::new(3, 2), None, true))),
        Reply::Forward(Ok((7, Blob(b"applied".to_vec())))),
        Reply::Forward(Err(ForwardReject::NotLeader { leader: Some(2) })),
        Reply::Forward(Err(ForwardReject::Failed("x".into()))),
        Reply::ReadIndex(Ok(42)),
        Reply::ReadIndex(Err(ForwardReject::Shutdown)),
        Reply::BadRequest("bad".into()),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Every request kind survives encode -> decode -> encode unchanged, and `validate` says
    /// what its rules say; `check_sender` accepts exactly the member the request names.
    #[test]
    fn requests_round_trip_and_validate(p in parts(), id: u64, member in node()) {
        let req = p.build();
        let b = body(id, &req);
        let (got_id, back) = decode_frame::<Request>(&b).unwrap();
        prop_assert_eq!(got_id, id);
        prop_assert_eq!(body(id, &back), b);
        prop_assert_eq!(back.validate().is_ok(), p.valid(), "{:?}", back.validate());
        let sender_ok = p.sender().is_none_or(|s| s == member);
        prop_assert_eq!(back.check_sender(member).is_ok(), sender_ok);
    }

    /// Arbitrary bodies, and valid ones mutated (truncated, extended, bytes flipped, length
    /// prefixes set to 4 GiB or u64::MAX): decoding refuses or yields a request no bigger
    /// than the body; validation never panics.
    #[test]
    fn peer_frames_never_panic(
        buf in prop_oneof![
            bytes(200),
            mutated((parts(), any::<u64>()).prop_map(|(p, id)| body(id, &p.build()))),
        ],
        member in node(),
    ) {
        serve(&buf, member);
    }

    /// Replies as the client reads them: arbitrary and mutated, no panic.
    #[test]
    fn peer_replies_never_panic(
        buf in prop_oneof![
            bytes(120),
            mutated((0..replies().len(), any::<u64>()).prop_map(|(i, id)| {
                let frame = encode_frame(id, &replies()[i]).unwrap();
                frame[4..].to_vec()
            })),
        ],
    ) {
        let _ = decode_frame::<Reply>(&buf);
    }
}

/// A length prefix inside the body that claims far more than the body holds fails at once,
/// whatever field it sits in.
#[test]
fn huge_inner_lengths_are_refused() {
    let req = Parts::Append {
        term: 3,
        node: 1,
        prev: None,
        commit: None,
        entries: vec![(3, 1, Some(vec![vec![1, 2, 3], vec![4; 40]]))],
    }
    .build();
    let b = body(9, &req);
    for at in 0..b.len() {
        for huge in [u64::MAX, 1 << 32, (1 << 32) - 1, 1 << 60] {
            let mut m = b.clone();
            let n = 8.min(m.len() - at);
            m[at..at + n].copy_from_slice(&huge.to_le_bytes()[..n]);
            let started = std::time::Instant::now();
            serve(&m, 1);
            assert!(started.elapsed() < std::time::Duration::from_secs(1), "offset {at}");
        }
    }
}
