//! `RaftStateMachine` adapter around the caller's [`Machine`].
//!
//! The adapter tracks the last applied log id and the last membership; blank and membership
//! entries are answered with an empty response and never reach `Machine::apply`.
//! A snapshot is `(meta: last applied log id + membership, data: Machine::snapshot())`,
//! persisted to `<dir>/snapshot` atomically (crc-framed bincode, tmp + fsync + rename + fsync
//! dir). At open the latest snapshot is restored into the machine; openraft then re-applies
//! the committed entries after it.

use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, SnapshotId, StorageIOError};
use serde::{Deserialize, Serialize};

use crate::consensus::log_store::{read_small, write_small};
use crate::consensus::types::{
    Entry, LogId, Machine, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

const SNAPSHOT_FILE: &str = "snapshot";

/// A snapshot as persisted on disk.
#[derive(Serialize, Deserialize, Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

impl StoredSnapshot {
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
    /// Last log index applied to the machine (including via snapshot restore), for
    /// `Consensus::applied_index`. `u64::MAX` stands for "nothing applied yet".
    applied: Arc<AtomicU64>,
}

impl Shared {
    /// Persists `snap` unless a snapshot at least as new is already stored.
    fn store(&self, snap: StoredSnapshot) -> Result<(), StorageError> {
        let mut cur = self.current.lock().unwrap();
        if let Some(c) = cur.as_ref() {
            if c.meta.last_log_id > snap.meta.last_log_id {
                return Ok(());
            }
        }
        write_small(&self.dir, SNAPSHOT_FILE, &snap, true)
            .map_err(|e| StorageError::from(StorageIOError::write_snapshot(Some(snap.meta.signature()), &e)))?;
        *cur = Some(snap);
        Ok(())
    }
}

/// The state machine handed to openraft.
pub struct StateMachineStore {
    machine: Arc<dyn Machine>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    shared: Arc<Shared>,
}

/// Builds a snapshot from state captured by `get_snapshot_builder` (consistent with the
/// applied log id at that moment) and persists it.
pub struct SnapshotBuilder {
    pending: Option<StoredSnapshot>,
    shared: Arc<Shared>,
}

/// Encodes an applied index for the shared atomic (`None` -> `u64::MAX`).
pub(crate) fn encode_applied(l: Option<LogId>) -> u64 {
    l.map(|l| l.index).unwrap_or(u64::MAX)
}

impl StateMachineStore {
    /// Opens the snapshot directory and restores the latest snapshot into `machine`.
    /// Returns the store and the shared applied-index counter.
    pub fn open(dir: &Path, machine: Arc<dyn Machine>) -> io::Result<(StateMachineStore, Arc<AtomicU64>)> {
        std::fs::create_dir_all(dir)?;
        let stored: Option<StoredSnapshot> = read_small(&dir.join(SNAPSHOT_FILE))?;
        let mut last_applied = None;
        let mut membership = StoredMembership::default();
        if let Some(s) = &stored {
            let index = s.meta.last_log_id.map(|l| l.index).unwrap_or(0);
            tracing::info!(index, bytes = s.data.len(), "restoring snapshot from disk");
            machine.restore(index, &s.data);
            last_applied = s.meta.last_log_id;
            membership = s.meta.last_membership.clone();
        }
        let applied = Arc::new(AtomicU64::new(encode_applied(last_applied)));
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            current: Mutex::new(stored),
            applied: applied.clone(),
        });
        Ok((
            StateMachineStore {
                machine,
                last_applied,
                membership,
                shared,
            },
            applied,
        ))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let snap = self.pending.take().expect("build_snapshot called once");
        self.shared.store(snap.clone())?;
        Ok(snap.to_snapshot())
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<u8>>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        for e in entries {
            self.last_applied = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => out.push(Vec::new()),
                EntryPayload::Normal(data) => out.push(self.machine.apply(e.log_id.index, &data)),
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(e.log_id), m);
                    out.push(Vec::new());
                }
            }
            self.shared.applied.store(e.log_id.index, Ordering::Release);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        // Called on the state-machine task between applies, so the machine state matches
        // `last_applied` here; the (slow) persistence happens later in `build_snapshot`.
        let data = self.machine.snapshot();
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
        let data = snapshot.into_inner();
        let index = meta.last_log_id.map(|l| l.index).unwrap_or(0);
        tracing::info!(index, bytes = data.len(), "installing snapshot received from leader");
        let snap = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        // Persist first: if we crash after restoring but before persisting, we would restart
        // with an older snapshot and a log purged past it.
        self.shared.store(snap.clone())?;
        self.machine.restore(index, &snap.data);
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.shared
            .applied
            .store(encode_applied(self.last_applied), Ordering::Release);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        Ok(self.shared.current.lock().unwrap().as_ref().map(|s| s.to_snapshot()))
    }
}

fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
