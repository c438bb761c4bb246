//! Shared types: the openraft type configuration, the user-facing [`Machine`] trait,
//! [`ConsensusConfig`] and [`ConsensusError`].

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::consensus::peer_tls::PeerSecurity;

openraft::declare_raft_types!(
    /// openraft type configuration of the consensus layer. A Raft entry carries a batch of
    /// opaque proposals (group commit at the proposal level, see `batcher`).
    pub TypeConfig:
        D = Vec<Blob>,
        R = Applied,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// An opaque byte string that serde formats see as one `bytes` value, so bincode copies it
/// in bulk instead of element by element (`Vec<u8>` serializes as a sequence of `u8`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl serde::Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Blob, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(b) = seq.next_element()? {
                    v.push(b);
                }
                Ok(Blob(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// Result of applying one Raft entry: the machine index given to its first proposal and
/// one response per proposal of the batch (empty for blank/membership entries).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Applied {
    pub first: u64,
    pub responses: Vec<Vec<u8>>,
}

/// Node identifier of a group member.
pub type NodeId = u64;
pub type Node = openraft::BasicNode;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, Node>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, Node>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type Raft = openraft::Raft<TypeConfig>;

/// The replicated state machine, provided by the caller (the certifier). Deterministic.
///
/// Indexes are positions in the replicated sequence of proposals: 1, 2, 3, ... without gaps
/// and identical on every member. (They are not openraft's raw log indexes: a Raft entry
/// carries a batch of proposals, and blank/membership entries carry none.)
pub trait Machine: Send + Sync + 'static {
    /// Applies committed entry `index` (log order; entries at or below the last restored
    /// snapshot are not re-applied). Returns the response delivered to the proposer.
    fn apply(&self, index: u64, payload: &[u8]) -> Vec<u8>;
    /// State covering everything applied so far, for a Raft snapshot.
    fn snapshot(&self) -> Vec<u8>;
    /// Replaces the state with a snapshot taken at `index`.
    fn restore(&self, index: u64, data: &[u8]);
    /// The group's members (voters and learners) changed: a membership entry was applied
    /// right after the proposals applied so far (the same place on every member).
    fn members_changed(&self, _members: &[u64]) {}
}

/// Configuration of one consensus member.
#[derive(Debug)]
pub struct ConsensusConfig {
    pub node_id: u64,
    /// Every voter's "host:port" peer address, self included.
    pub members: BTreeMap<u64, String>,
    /// Log + vote + snapshot files.
    pub data_dir: PathBuf,
    /// Leader heartbeat interval; also the AppendEntries RPC timeout openraft uses.
    pub heartbeat_ms: u64,
    /// Randomized election timeout range (min, max).
    pub election_timeout_ms: (u64, u64),
    /// Entries between snapshots / log purge.
    pub snapshot_every: u64,
    /// The most proposal batches (Raft entries) the leader keeps inside openraft at once;
    /// proposals arriving meanwhile are packed into the next batch (`batcher`).
    pub batches_in_flight: usize,
    /// Pre-bound peer listener (tests bind port 0); else `members[node_id]` is bound.
    pub listener: Option<TcpListener>,
    /// Mutual TLS on peer links, or (tests only) plain TCP.
    pub peer_security: PeerSecurity,
    /// Limits of the peer listener and peer connections.
    pub peer_limits: PeerLimits,
}

/// Limits of the peer port. The defaults suit production; tests shorten the timeouts.
#[derive(Debug, Clone)]
pub struct PeerLimits {
    /// Concurrent peer connections the listener serves; more are closed at once.
    pub max_connections: usize,
    /// Time a connection has for its TLS handshake (both sides).
    pub handshake_timeout: Duration,
    /// Time a frame has to arrive in full once its first byte did.
    pub frame_timeout: Duration,
    /// A served connection that sends no frame for this long, with no request of it still
    /// running, is closed. Clients drop their own connection after half this idle time, so
    /// they never send on one the server is about to close.
    pub idle_timeout: Duration,
    /// Requests of one connection handled at a time; the connection is not read further
    /// while all are busy (back-pressure).
    pub max_handlers: usize,
    /// Replies of one connection waiting for its socket; the connection is not read further
    /// while more wait.
    pub reply_queue: usize,
}

impl Default for PeerLimits {
    fn default() -> Self {
        PeerLimits {
            max_connections: 64,
            handshake_timeout: Duration::from_secs(5),
            frame_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            max_handlers: 256,
            reply_queue: 64,
        }
    }
}

impl ConsensusConfig {
    /// A config with the default timings (heartbeat 50 ms, elections 300..600 ms,
    /// snapshot every 20000 entries), default peer limits and no pre-bound listener.
    pub fn new(
        node_id: u64,
        members: BTreeMap<u64, String>,
        data_dir: impl Into<PathBuf>,
        peer_security: PeerSecurity,
    ) -> Self {
        ConsensusConfig {
            node_id,
            members,
            data_dir: data_dir.into(),
            heartbeat_ms: 50,
            election_timeout_ms: (300, 600),
            snapshot_every: 20_000,
            batches_in_flight: crate::consensus::batcher::DEFAULT_IN_FLIGHT,
            listener: None,
            peer_security,
            peer_limits: PeerLimits::default(),
        }
    }

    /// How long a proposal may take before `propose` gives up with [`ConsensusError::Timeout`].
    pub(crate) fn propose_timeout(&self) -> Duration {
        Duration::from_millis((self.election_timeout_ms.1 * 10).max(5_000))
    }
}

/// Errors of the consensus layer.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// The configuration is unusable (e.g. node_id missing from members, bad timings).
    #[error("invalid consensus config: {0}")]
    Config(String),
    /// Local I/O failure (data dir, listener, log or snapshot files).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Log / vote / snapshot storage failure reported through openraft.
    #[error("storage error: {0}")]
    Storage(String),
    /// No leader is known (election in progress or no quorum).
    #[error("no leader known")]
    NoLeader,
    /// This node (or the node a request was forwarded to) is not the leader.
    #[error("not the leader (leader hint: {leader:?})")]
    NotLeader { leader: Option<u64> },
    /// The operation did not finish in time; a proposal may or may not have been committed.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, &'static str),
    /// Forwarding a request to the leader failed (transport error or remote failure) after
    /// the request may have reached the leader; the outcome is unknown.
    #[error("forward to leader {leader} failed: {reason}")]
    Forward { leader: u64, reason: String },
    /// Could not reach a peer at all (connection refused / backing off).
    #[error("peer {0} unreachable: {1}")]
    Unreachable(u64, String),
    /// A membership change was refused or failed.
    #[error("membership change failed: {0}")]
    Membership(String),
    /// Raft initialization of a fresh cluster failed.
    #[error("cluster initialization failed: {0}")]
    Initialize(String),
    /// openraft reported a fatal error (storage failure, panic).
    #[error("raft fatal error: {0}")]
    Fatal(String),
    /// The node is shutting down or stopped.
    #[error("consensus is shut down")]
    Shutdown,
    /// The proposal is larger than a log entry may be (see `network::MAX_PROPOSAL`); nothing
    /// was appended.
    #[error("proposal of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    /// Wire/disk encoding failure.
    #[error("codec error: {0}")]
    Codec(String),
}

impl From<openraft::error::Fatal<NodeId>> for ConsensusError {
    fn from(e: openraft::error::Fatal<NodeId>) -> Self {
        match e {
            openraft::error::Fatal::Stopped => ConsensusError::Shutdown,
            openraft::error::Fatal::StorageError(s) => ConsensusError::Storage(s.to_string()),
            other => ConsensusError::Fatal(other.to_string()),
        }
    }
}

impl From<bincode::Error> for ConsensusError {
    fn from(e: bincode::Error) -> Self {
        ConsensusError::Codec(e.to_string())
    }
}

/// A node's Raft state as operators see it (`SHOW GRPROXY STATUS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftStatus {
    /// leader / follower / candidate / learner / shutdown.
    pub role: &'static str,
    /// The leader this node knows of.
    pub leader: Option<NodeId>,
    pub term: u64,
    /// Raft log index of the last entry in the local log.
    pub last_log_index: u64,
    /// Raft log index of the last entry applied to the local state machine.
    pub last_applied_log_index: u64,
    /// Raft log index of the last entry in the latest snapshot (0: none).
    pub snapshot_log_index: u64,
    /// Raft log index of the last entry purged from the log (0: none).
    pub purged_log_index: u64,
    /// Why the Raft core stopped, when it did (fatal storage error, panic). A stopped core
    /// never recovers: the member must be restarted.
    pub stopped: Option<String>,
}
