//! Durable Raft log (`RaftLogStorage`) and vote storage.
//!
//! On disk (`<dir>/`):
//! - `NNNNNNNNNNNNNNNNNNNN.seg`: append-only segments named after the index of their first
//!   record. A record is `len: u32 LE | crc32(body): u32 LE | body = bincode(Entry)`.
//! - `vote`, `purged`: `crc32 | bincode(..)` files replaced atomically
//!   (write tmp, fsync, rename, fsync dir).
//! - `committed`: same format, replaced by rename without fsync (advisory: written only after
//!   the entries it covers are fsynced; openraft re-applies up to it at startup).
//!
//! All file I/O happens on one writer thread fed by a channel (see `log_writer`), which
//! serializes vote and log I/O in call order. Appends that queue up while the writer is inside
//! `fsync` are written and fsynced together (group commit); openraft's `LogFlushed` callback
//! fires only after that fsync. NOTE: openraft 0.9's core awaits each append's flush before
//! issuing the next one, so under openraft 0.9 this batching only kicks in for appends issued
//! without waiting (`append_nowait`); proposal-level group commit is done by `batcher`. Truncate rewinds the segment (ftruncate + delete later segments) and purge persists a
//! `purged` marker before deleting whole segments; both return only once durable.
//!
//! Live entries (those not yet purged) are also kept in memory for readers; the snapshot
//! policy bounds them to about `snapshot_every + max_in_snapshot_log_to_keep` entries.

use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, RwLock};
use std::thread::JoinHandle;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{RaftLogReader, StorageIOError};
use tokio::sync::oneshot;

use crate::consensus::files::read_small;
use crate::consensus::log_writer::{
    encode_record, io_err, Ack, Cmd, Done, Mem, Stats, Writer, COMMITTED_FILE, PURGED_FILE, VOTE_FILE,
};
use crate::consensus::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// Default size at which the active segment is rotated.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

/// Counters exposed for diagnostics and tests (group commit efficiency).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// `append` calls received from openraft.
    pub append_calls: u64,
    /// Entries appended.
    pub entries: u64,
    /// fsyncs issued to make appended entries durable (one per group-commit batch).
    pub append_fsyncs: u64,
}

/// The Raft log store handed to openraft.
pub struct LogStore {
    mem: Arc<RwLock<Mem>>,
    tx: mpsc::Sender<Cmd>,
    stats: Arc<Stats>,
}

/// Cheap read handle used by openraft's replication tasks.
#[derive(Clone)]
pub struct LogReader {
    mem: Arc<RwLock<Mem>>,
}

/// Owner-side handle: stats and orderly shutdown of the writer thread.
pub struct LogHandle {
    mem: Arc<RwLock<Mem>>,
    tx: mpsc::Sender<Cmd>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Stats>,
}

impl LogHandle {
    pub fn stats(&self) -> LogStats {
        self.stats.snapshot()
    }

    /// A copy of the live (unpurged) log entries, for diagnostics and tests.
    pub fn entries(&self) -> Vec<Entry> {
        read_range(&self.mem, ..)
    }

    /// Stops the writer thread after it has drained queued commands, and waits for it.
    pub fn stop(mut self) {
        let _ = self.tx.send(Cmd::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn sto_write(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_logs(&e).into()
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, repairing a torn tail.
    pub fn open(dir: &Path) -> io::Result<(LogStore, LogHandle)> {
        Self::open_with(dir, DEFAULT_SEGMENT_BYTES)
    }

    /// As [`LogStore::open`] with an explicit segment rotation size.
    pub fn open_with(dir: &Path, segment_bytes: u64) -> io::Result<(LogStore, LogHandle)> {
        super::files::private_dir(dir)?;
        let mut mem = Mem {
            vote: read_small(&dir.join(VOTE_FILE))?,
            last_purged: read_small(&dir.join(PURGED_FILE))?,
            committed: read_small::<Option<LogId>>(&dir.join(COMMITTED_FILE))
                .ok()
                .flatten()
                .flatten(),
            ..Mem::default()
        };
        // A vote no peer may make this member save (see `Request::validate`): a file written by
        // an older version that accepted one. Refused here, with the way out, rather than
        // letting openraft overflow the term at the next election.
        if let Some(v) = &mem.vote {
            if v.leader_id().term > super::network::MAX_TERM {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: saved term {} is beyond {}; this member's Raft state is unusable: \
                         remove the member's group.data_dir and let it rejoin by state transfer",
                        dir.join(VOTE_FILE).display(),
                        v.leader_id().term,
                        super::network::MAX_TERM
                    ),
                ));
            }
        }
        let stats = Arc::new(Stats::default());
        let writer = Writer::recover(dir, segment_bytes, &mut mem, stats.clone())?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || writer.run(rx))?;
        let mem = Arc::new(RwLock::new(mem));
        let store = LogStore {
            mem: mem.clone(),
            tx: tx.clone(),
            stats: stats.clone(),
        };
        Ok((
            store,
            LogHandle {
                mem,
                tx,
                thread: Some(thread),
                stats,
            },
        ))
    }

    async fn call(&self, make: impl FnOnce(Done) -> Cmd) -> Result<(), io::Error> {
        let (done, rx) = oneshot::channel();
        self.tx.send(make(done)).map_err(|_| io_err("log writer stopped"))?;
        rx.await.map_err(|_| io_err("log writer stopped"))?
    }
}

fn read_range(mem: &RwLock<Mem>, range: impl RangeBounds<u64>) -> Vec<Entry> {
    let m = mem.read().unwrap();
    m.entries.range(range).map(|(_, e)| e.clone()).collect()
}

/// Bytes of entries (their proposals) one AppendEntries carries at most, beyond its first
/// entry. openraft gives every AppendEntries one heartbeat interval (50-100 ms) and then resends
/// the same range: a new leader probes a follower's log from its middle with up to
/// `max_payload_entries` entries, and with large rows (96 of 1 MiB in a test) each probe was
/// tens of MB that a loaded follower could not take in one interval, so every resend timed
/// out and the group stopped committing.
pub(crate) const APPEND_BYTES: usize = 1 << 20;

/// The first entries of `start..end` whose proposals add up to at most [`APPEND_BYTES`]
/// (always at least one).
fn read_limited(mem: &RwLock<Mem>, start: u64, end: u64) -> Vec<Entry> {
    let m = mem.read().unwrap();
    let mut bytes = 0usize;
    let mut out = Vec::new();
    for (_, e) in m.entries.range(start..end) {
        let size: usize = match &e.payload {
            openraft::EntryPayload::Normal(batch) => batch.iter().map(|b| b.0.len()).sum(),
            _ => 0,
        };
        if !out.is_empty() && bytes + size > APPEND_BYTES {
            break;
        }
        bytes += size;
        out.push(e.clone());
    }
    out
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        Ok(read_range(&self.mem, range))
    }

    async fn limited_get_log_entries(&mut self, start: u64, end: u64) -> Result<Vec<Entry>, StorageError> {
        Ok(read_limited(&self.mem, start, end))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        Ok(read_range(&self.mem, range))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let m = self.mem.read().unwrap();
        let last = m.entries.values().next_back().map(|e| e.log_id).or(m.last_purged);
        Ok(LogState {
            last_purged_log_id: m.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        LogReader { mem: self.mem.clone() }
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let v = *vote;
        self.call(|done| Cmd::Vote { vote: v, done })
            .await
            .map_err(|e| StorageError::from(StorageIOError::write_vote(&e)))?;
        self.mem.write().unwrap().vote = Some(v);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.mem.read().unwrap().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.mem.write().unwrap().committed = committed;
        self.tx
            .send(Cmd::Committed { committed })
            .map_err(|_| sto_write(io_err("log writer stopped")))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.mem.read().unwrap().committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        self.submit_append(entries, Ack::Raft(callback)).map_err(sto_write)
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.mem.write().unwrap().entries.split_off(&log_id.index);
        self.call(|done| Cmd::Truncate {
            since: log_id.index,
            done,
        })
        .await
        .map_err(sto_write)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut m = self.mem.write().unwrap();
            let keep = m.entries.split_off(&(log_id.index + 1));
            m.entries = keep;
            m.last_purged = Some(log_id);
        }
        self.call(|done| Cmd::Purge { upto: log_id, done })
            .await
            .map_err(sto_write)
    }
}

impl LogStore {
    /// Makes `entries` readable at once and queues them for the writer thread.
    fn submit_append(&mut self, entries: impl IntoIterator<Item = Entry>, ack: Ack) -> io::Result<()> {
        let mut frames = Vec::new();
        let mut offsets = Vec::new();
        let mut encoded = Vec::new();
        for e in entries {
            offsets.push((e.log_id.index, frames.len() as u64));
            encode_record(&e, &mut frames).map_err(|e| io_err(e.to_string()))?;
            encoded.push(e);
        }
        self.stats.append_calls.fetch_add(1, Ordering::Relaxed);
        self.stats.entries.fetch_add(encoded.len() as u64, Ordering::Relaxed);
        {
            let mut m = self.mem.write().unwrap();
            for e in encoded {
                m.entries.insert(e.log_id.index, e);
            }
        }
        self.tx
            .send(Cmd::Append { frames, offsets, ack })
            .map_err(|_| io_err("log writer stopped"))
    }

    /// Appends without waiting for durability; the receiver resolves after the fsync.
    /// (Same path as openraft's `append`, for tests that need many appends in flight.)
    pub fn append_nowait(
        &mut self,
        entries: impl IntoIterator<Item = Entry>,
    ) -> io::Result<oneshot::Receiver<io::Result<()>>> {
        let (tx, rx) = oneshot::channel();
        self.submit_append(entries, Ack::Chan(tx))?;
        Ok(rx)
    }
}
