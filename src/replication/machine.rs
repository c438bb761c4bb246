//! The replicated state machine behind the Raft log: certification of every committed entry,
//! in log order, and what a snapshot of it holds so the log can be compacted.
//!
//! The certification index alone is not enough to restart from: entries are certified as soon
//! as they commit, but reach the local mysqld later (the applier), so a snapshot at index S
//! may cover entries this member's mysqld has not applied yet, and another member catching up
//! through the snapshot has not applied them either. A snapshot therefore also carries every
//! entry above the certifier's horizon (the lowest applied watermark any member reported), with
//! its verdict. Each member has applied everything up to the horizon, so from the snapshot
//! plus the log after it every member can resume. Both parts are derived from the log prefix
//! alone, so every member builds the same bytes for the same index.
//!
//! While a member is away its watermark holds the horizon back, and the retained entries (in
//! memory and in snapshots) grow until it returns, much like Galera's gcache, up to
//! `group.retention_bytes`: beyond that the oldest are dropped (`dropped_through`), and a
//! member that needs them is re-provisioned by state transfer. Dropping changes no verdict
//! (the certifier keeps its horizon), only what a snapshot can give a lagging member.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::applier::{Certified, Feed};
use super::certifier::{Certifier, Verdict};
use super::txn::{self, versioned_decode, versioned_encode, DecodeError};
use crate::consensus::Machine;

/// Log entries of certification state kept below the horizon: a transaction whose snapshot
/// is up to this far behind the slowest member's reported watermark is still certified
/// exactly rather than aborted conservatively (long transactions under write load).
const CERTIFICATION_HISTORY: u64 = 10_000;

/// Version byte in front of an encoded machine snapshot (1: without `dropped_through`).
const SNAPSHOT_VERSION: u8 = 2;

pub(super) struct CertifyingMachine {
    state: Mutex<State>,
    to_applier: mpsc::UnboundedSender<Feed>,
    /// The most payload bytes kept in `retained`.
    retention_bytes: u64,
    /// The last applied watermark each member reported, and when its report was certified
    /// here (local time: for flow control only, never for a verdict).
    reports: Mutex<BTreeMap<u64, (u64, Instant)>>,
    /// The last entry that was not a watermark report (see `watermarks::report`).
    last_substantive: std::sync::atomic::AtomicU64,
    /// The topology after the last certified entry (see [`super::topology`]).
    topology: tokio::sync::watch::Sender<super::topology::Topology>,
}

struct State {
    certifier: Certifier,
    /// Entries above the certifier's horizon, in index order.
    retained: VecDeque<Retained>,
    /// Payload bytes in `retained`.
    retained_bytes: u64,
    /// The last entry dropped for the byte limit: a snapshot serves only entries after it.
    dropped_through: u64,
}

impl State {
    /// Drops retained entries at or below the horizon, and the oldest beyond `limit` bytes.
    fn trim(&mut self, limit: u64) {
        let horizon = self.certifier.horizon();
        while let Some(front) = self.retained.front() {
            let over = self.retained_bytes > limit;
            if front.index > horizon && !over {
                break;
            }
            if front.index > horizon {
                // Once per episode: the first drop since the horizon passed the last one.
                if self.dropped_through <= horizon {
                    tracing::warn!(
                        index = front.index,
                        limit,
                        "retention limit reached: entries some member has not applied are dropped; \
                         that member will be re-provisioned by state transfer"
                    );
                }
                self.dropped_through = front.index;
            }
            self.retained_bytes -= front.payload.len() as u64;
            self.retained.pop_front();
        }
    }

    /// The lowest index a member must have applied to go on from a snapshot of this state.
    fn needed(&self) -> u64 {
        self.certifier.horizon().max(self.dropped_through)
    }
}

#[derive(Serialize, Deserialize)]
struct Retained {
    index: u64,
    verdict: Vec<u8>,
    payload: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct SnapshotState {
    certifier: Vec<u8>,
    retained: Vec<Retained>,
    dropped_through: u64,
}

/// Version 1 snapshots (before the retention limit).
#[derive(Deserialize)]
struct SnapshotStateV1 {
    certifier: Vec<u8>,
    retained: Vec<Retained>,
}

impl CertifyingMachine {
    pub(super) fn new(members: &[u64], to_applier: mpsc::UnboundedSender<Feed>) -> Self {
        CertifyingMachine {
            state: Mutex::new(State {
                certifier: Certifier::with_history(members, CERTIFICATION_HISTORY),
                retained: VecDeque::new(),
                retained_bytes: 0,
                dropped_through: 0,
            }),
            last_substantive: Default::default(),
            to_applier,
            retention_bytes: crate::replication::group::DEFAULT_RETENTION_BYTES,
            reports: Mutex::new(BTreeMap::new()),
            topology: tokio::sync::watch::channel(Default::default()).0,
        }
    }

    /// Follows the topology as entries are certified.
    pub(super) fn topology(&self) -> tokio::sync::watch::Receiver<super::topology::Topology> {
        self.topology.subscribe()
    }

    fn publish_topology(&self, t: &super::topology::Topology) {
        self.topology.send_if_modified(|cur| {
            let changed = cur != t;
            if changed {
                *cur = t.clone();
            }
            changed
        });
    }

    /// The lowest watermark reported within `fresh` by a member other than `me` (a member
    /// silent for longer is taken to be away and does not hold the others back).
    pub(super) fn slowest_report(&self, me: u64, fresh: Duration) -> Option<u64> {
        let now = Instant::now();
        self.reports
            .lock()
            .unwrap()
            .iter()
            .filter(|&(&m, &(_, at))| m != me && now.duration_since(at) <= fresh)
            .map(|(_, &(w, _))| w)
            .min()
    }

    /// The index of the last certified entry that was not a watermark report.
    pub(super) fn last_substantive(&self) -> u64 {
        self.last_substantive.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Keeps at most `bytes` of entries for members that have not applied them.
    pub(super) fn with_retention(mut self, bytes: u64) -> Self {
        self.retention_bytes = bytes;
        self
    }

    /// Entries kept for snapshots (diagnostics).
    pub(super) fn retained(&self) -> usize {
        self.state.lock().unwrap().retained.len()
    }

    /// Bytes of entries kept for snapshots, and the last one dropped for the limit.
    pub(super) fn retention(&self) -> (u64, u64) {
        let st = self.state.lock().unwrap();
        (st.retained_bytes, st.dropped_through)
    }
}

impl Machine for CertifyingMachine {
    fn apply(&self, index: u64, payload: &[u8]) -> Vec<u8> {
        let entry = match txn::decode(payload) {
            Ok(e) => e,
            Err(e) => {
                // Every member decodes the same bytes the same way: abort it everywhere.
                tracing::error!(index, error = %e, "undecodable log entry; treated as aborted");
                return encode_verdict(Verdict::Abort { conflict_index: 0 });
            }
        };
        if let super::txn::Entry::Watermark { member, applied } = &entry {
            let mut reports = self.reports.lock().unwrap();
            let w = reports.get(member).map_or(0, |r| r.0).max(*applied);
            reports.insert(*member, (w, Instant::now()));
        } else {
            self.last_substantive
                .fetch_max(index, std::sync::atomic::Ordering::Relaxed);
        }
        let mut st = self.state.lock().unwrap();
        let verdict = st.certifier.certify(index, &entry);
        if matches!(entry, super::txn::Entry::Topology(_)) {
            self.publish_topology(st.certifier.topology());
        }
        let encoded = encode_verdict(verdict);
        st.retained.push_back(Retained {
            index,
            verdict: encoded.clone(),
            payload: payload.to_vec(),
        });
        st.retained_bytes += payload.len() as u64;
        st.trim(self.retention_bytes);
        drop(st);
        let _ = self.to_applier.send(Feed::Entry(Certified { index, entry, verdict }));
        encoded
    }

    fn members_changed(&self, members: &[u64]) {
        let mut st = self.state.lock().unwrap();
        st.certifier.set_members(members);
        st.trim(self.retention_bytes);
        drop(st);
        self.reports.lock().unwrap().retain(|m, _| members.contains(m));
    }

    fn snapshot(&self) -> Vec<u8> {
        let st = self.state.lock().unwrap();
        encode_snapshot(&st.certifier, st.retained.iter(), st.dropped_through)
    }

    fn restore(&self, index: u64, data: &[u8]) {
        let (certifier, retained, dropped_through, feed) = match decode_snapshot(data) {
            Ok(s) => s,
            Err(e) => {
                // The applier cannot know what it missed: it stops (ERROR) rather than skip.
                tracing::error!(index, error = %e, "cannot restore the certification state from a snapshot");
                let _ = self.to_applier.send(Feed::Restored {
                    horizon: u64::MAX,
                    index,
                });
                return;
            }
        };
        let retained_bytes = retained.iter().map(|r| r.payload.len() as u64).sum();
        let state = State {
            certifier,
            retained: retained.into(),
            retained_bytes,
            dropped_through,
        };
        let _ = self.to_applier.send(Feed::Restored {
            horizon: state.needed(),
            index,
        });
        for c in feed {
            let _ = self.to_applier.send(Feed::Entry(c));
        }
        self.publish_topology(state.certifier.topology());
        *self.state.lock().unwrap() = state;
    }
}

fn encode_snapshot<'a>(
    certifier: &Certifier,
    retained: impl Iterator<Item = &'a Retained>,
    dropped_through: u64,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        certifier: Vec<u8>,
        retained: Vec<&'a Retained>,
        dropped_through: u64,
    }
    versioned_encode(
        SNAPSHOT_VERSION,
        &Borrowed {
            certifier: certifier.encode(),
            retained: retained.collect(),
            dropped_through,
        },
    )
}

/// A snapshot's certifier, retained entries and their decoded form for the applier, checked: entries strictly increasing and all
/// in `(horizon, last certified index]`.
#[allow(clippy::type_complexity)]
fn decode_snapshot(data: &[u8]) -> Result<(Certifier, Vec<Retained>, u64, Vec<Certified>), DecodeError> {
    let s: SnapshotState = match data.first() {
        Some(1) => {
            let v1: SnapshotStateV1 = versioned_decode(1, data)?;
            SnapshotState {
                certifier: v1.certifier,
                retained: v1.retained,
                dropped_through: 0,
            }
        }
        _ => versioned_decode(SNAPSHOT_VERSION, data)?,
    };
    let certifier = Certifier::decode(&s.certifier)?;
    let (lo, hi) = (certifier.horizon().max(s.dropped_through), certifier.last_index());
    let increasing = s.retained.windows(2).all(|w| w[0].index < w[1].index);
    if !increasing || s.retained.iter().any(|r| r.index <= lo || r.index > hi) {
        return Err(DecodeError::Invalid(format!(
            "machine snapshot: retained entries not increasing within ({lo}, {hi}]"
        )));
    }
    let feed = s
        .retained
        .iter()
        .map(|r| {
            let verdict = decode_verdict(&r.verdict)
                .ok_or_else(|| DecodeError::Invalid(format!("machine snapshot: verdict of entry {}", r.index)))?;
            Ok(Certified {
                index: r.index,
                entry: txn::decode(&r.payload)?,
                verdict,
            })
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    Ok((certifier, s.retained, s.dropped_through, feed))
}

pub(super) fn encode_verdict(v: Verdict) -> Vec<u8> {
    match v {
        Verdict::Commit => vec![0],
        Verdict::Abort { conflict_index } => {
            let mut b = vec![1];
            b.extend_from_slice(&conflict_index.to_le_bytes());
            b
        }
    }
}

pub(super) fn decode_verdict(b: &[u8]) -> Option<Verdict> {
    match b {
        [0] => Some(Verdict::Commit),
        [1, rest @ ..] if rest.len() == 8 => Some(Verdict::Abort {
            conflict_index: u64::from_le_bytes(rest.try_into().ok()?),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
