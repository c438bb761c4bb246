//! `RaftStateMachine` adapter around the caller's [`Machine`].
//!
//! The adapter tracks the last applied log id, the last membership and the machine index
//! `seq` (number of proposals applied so far). A normal Raft entry is a batch of proposals,
//! applied one by one as `Machine::apply(seq + 1, ..)`, `Machine::apply(seq + 2, ..)`, ...;
//! blank and membership entries never reach the machine and get an empty response.
//! A snapshot is `meta` (last applied log id + membership) plus the data
//! `seq: u64 LE | Machine::snapshot()`, persisted to `<dir>/snapshot` as
//! `crc32 | meta_len: u32 LE | bincode(meta) | data`, atomically (tmp + fsync + rename + fsync
//! dir) on a blocking thread. At open the latest snapshot is restored into the machine;
//! openraft then re-applies the committed entries after it.

use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, SnapshotId, StorageIOError};
use tokio::sync::watch;

use crate::consensus::files::{read_checked, write_checked};
use crate::consensus::types::{
    Applied, Entry, LogId, Machine, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

const SNAPSHOT_FILE: &str = "snapshot";

/// A snapshot as persisted on disk.
#[derive(Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

impl StoredSnapshot {
    fn encode(&self) -> io::Result<Vec<u8>> {
        let meta = bincode::serialize(&self.meta).map_err(io::Error::other)?;
        let mut body = Vec::with_capacity(4 + meta.len() + self.data.len());
        body.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        body.extend_from_slice(&meta);
        body.extend_from_slice(&self.data);
        Ok(body)
    }

    fn decode(mut body: Vec<u8>) -> io::Result<StoredSnapshot> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed snapshot file");
        let len = u32::from_le_bytes(body.get(..4).ok_or_else(bad)?.try_into().unwrap()) as usize;
        let meta_bytes = body.get(4..4 + len).ok_or_else(bad)?;
        let meta = bincode::deserialize(meta_bytes).map_err(|_| bad())?;
        body.drain(..4 + len);
        Ok(StoredSnapshot { meta, data: body })
    }

    fn to_snapshot(&self) -> Snapshot {
        Snapshot {
            meta: self.meta.clone(),
            snapshot: Box::new(Cursor::new(self.data.clone())),
        }
    }
}

struct Shared {
    dir: PathBuf,
    /// Latest persisted snapshot; also serializes snapshot file writes.
    current: Mutex<Option<StoredSnapshot>>,
    /// Machine index of the last applied proposal (including via snapshot restore).
    applied: watch::Sender<u64>,
}

impl Shared {
    /// Persists `snap` unless a snapshot at least as new is already stored.
    fn store(&self, snap: StoredSnapshot) -> io::Result<()> {
        let mut cur = self.current.lock().unwrap();
        if let Some(c) = cur.as_ref() {
            if c.meta.last_log_id > snap.meta.last_log_id {
                return Ok(());
            }
        }
        write_checked(&self.dir, SNAPSHOT_FILE, &snap.encode()?, true)?;
        *cur = Some(snap);
        Ok(())
    }
}

/// The state machine handed to openraft.
pub struct StateMachineStore {
    machine: Arc<dyn Machine>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    /// Proposals applied so far = machine index of the last one.
    seq: u64,
    shared: Arc<Shared>,
}

/// Builds a snapshot from state captured by `get_snapshot_builder` (consistent with the
/// applied log id at that moment) and persists it.
pub struct SnapshotBuilder {
    pending: Option<StoredSnapshot>,
    shared: Arc<Shared>,
}

fn encode_data(seq: u64, machine: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + machine.len());
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend_from_slice(machine);
    v
}

fn decode_data(data: &[u8]) -> io::Result<(u64, &[u8])> {
    if data.len() < 8 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "snapshot data shorter than its header",
        ));
    }
    Ok((u64::from_le_bytes(data[..8].try_into().unwrap()), &data[8..]))
}

impl StateMachineStore {
    /// Opens the snapshot directory and restores the latest snapshot into `machine`.
    /// Returns the store and a receiver of the machine index of the last applied proposal.
    pub fn open(dir: &Path, machine: Arc<dyn Machine>) -> io::Result<(StateMachineStore, watch::Receiver<u64>)> {
        super::files::private_dir(dir)?;
        let stored = read_checked(&dir.join(SNAPSHOT_FILE))?
            .map(StoredSnapshot::decode)
            .transpose()?;
        let mut last_applied = None;
        let mut membership = StoredMembership::default();
        let mut seq = 0;
        if let Some(s) = &stored {
            let (index, data) = decode_data(&s.data)?;
            tracing::info!(index, log_id = ?s.meta.last_log_id, bytes = data.len(), "restoring snapshot from disk");
            machine.restore(index, data);
            seq = index;
            last_applied = s.meta.last_log_id;
            membership = s.meta.last_membership.clone();
        }
        let (applied, rx) = watch::channel(seq);
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            current: Mutex::new(stored),
            applied,
        });
        Ok((
            StateMachineStore {
                machine,
                last_applied,
                membership,
                seq,
                shared,
            },
            rx,
        ))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let snap = self.pending.take().expect("build_snapshot called once");
        persist(&self.shared, &snap).await?;
        Ok(snap.to_snapshot())
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        for e in entries {
            self.last_applied = Some(e.log_id);
            let first = self.seq + 1;
            let mut responses = Vec::new();
            match e.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(batch) => {
                    responses.reserve(batch.len());
                    for payload in batch {
                        self.seq += 1;
                        // A panicking machine must stop Raft (a storage error is fatal to the
                        // core, which then reports why), not only this worker task: a core
                        // left running would look healthy while nothing is applied.
                        let (machine, seq) = (&self.machine, self.seq);
                        let r =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| machine.apply(seq, &payload.0)));
                        match r {
                            Ok(resp) => responses.push(resp),
                            Err(panic) => {
                                let what = panic
                                    .downcast_ref::<&str>()
                                    .map(|s| s.to_string())
                                    .or_else(|| panic.downcast_ref::<String>().cloned())
                                    .unwrap_or_else(|| "a panic".into());
                                let err = std::io::Error::other(format!(
                                    "the state machine panicked applying entry {seq}: {what}"
                                ));
                                return Err(StorageIOError::apply(e.log_id, &err).into());
                            }
                        }
                    }
                }
                EntryPayload::Membership(m) => {
                    let ids: Vec<u64> = m.nodes().map(|(id, _)| *id).collect();
                    self.machine.members_changed(&ids);
                    self.membership = StoredMembership::new(Some(e.log_id), m);
                }
            }
            out.push(Applied { first, responses });
        }
        self.shared.applied.send_replace(self.seq);
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        // Called on the state-machine task between applies, so the machine state matches
        // `last_applied` here; the (slow) persistence happens later in `build_snapshot`.
        let data = encode_data(self.seq, &self.machine.snapshot());
        let id = match self.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id, l.index, unique_suffix()),
            None => format!("none-{}", unique_suffix()),
        };
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id: SnapshotId::from(id),
        };
        SnapshotBuilder {
            pending: Some(StoredSnapshot { meta, data }),
            shared: self.shared.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let snap = StoredSnapshot {
            meta: meta.clone(),
            data: snapshot.into_inner(),
        };
        let sig = || Some(meta.signature());
        let (index, data) =
            decode_data(&snap.data).map_err(|e| StorageError::from(StorageIOError::read_snapshot(sig(), &e)))?;
        tracing::info!(index, log_id = ?meta.last_log_id, bytes = data.len(), "installing snapshot from leader");
        // Persist first: if we crash after restoring but before persisting, we would restart
        // with an older snapshot and a log purged past it.
        persist(&self.shared, &snap).await?;
        self.machine.restore(index, data);
        self.seq = index;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.shared.applied.send_replace(self.seq);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        Ok(self.shared.current.lock().unwrap().as_ref().map(|s| s.to_snapshot()))
    }
}

/// Persists `snap` on a blocking thread (large write + fsyncs stay off the runtime).
async fn persist(shared: &Arc<Shared>, snap: &StoredSnapshot) -> Result<(), StorageError> {
    let (shared, s) = (shared.clone(), snap.clone());
    let res = tokio::task::spawn_blocking(move || shared.store(s))
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)));
    res.map_err(|e| StorageIOError::write_snapshot(Some(snap.meta.signature()), &e).into())
}

fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
