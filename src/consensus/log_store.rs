//! Durable Raft log (`RaftLogStorage`) and vote storage.
//!
//! On disk (`<dir>/`):
//! - `NNNNNNNNNNNNNNNNNNNN.seg`: append-only segments named after the index of their first
//!   record. A record is `len: u32 LE | crc32(body): u32 LE | body = bincode(Entry)`.
//! - `vote`, `purged`: `crc32 | bincode(..)` files replaced atomically
//!   (write tmp, fsync, rename, fsync dir).
//! - `committed`: same format, replaced by rename without fsync (advisory, see below).
//!
//! All file I/O happens on one writer thread fed by a channel, which serializes vote and log
//! I/O in call order. Appends that queue up while the writer is inside `fsync` are written and
//! fsynced together (group commit); openraft's `LogFlushed` callback fires only after that
//! fsync. Truncate rewinds the segment (ftruncate + delete later segments) and purge persists a
//! `purged` marker before deleting whole segments; both return only once durable.
//!
//! Live entries (those not yet purged) are also kept in memory for readers; the snapshot
//! policy bounds them to about `snapshot_every + max_in_snapshot_log_to_keep` entries.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::thread::JoinHandle;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{RaftLogReader, StorageIOError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::consensus::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// Default size at which the active segment is rotated.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
const RECORD_HEADER: usize = 8;
const MAX_RECORD: usize = 1 << 30;
const VOTE_FILE: &str = "vote";
const PURGED_FILE: &str = "purged";
const COMMITTED_FILE: &str = "committed";

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

#[derive(Default)]
struct Stats {
    append_calls: AtomicU64,
    entries: AtomicU64,
    append_fsyncs: AtomicU64,
}

impl Stats {
    fn snapshot(&self) -> LogStats {
        LogStats {
            append_calls: self.append_calls.load(Ordering::Relaxed),
            entries: self.entries.load(Ordering::Relaxed),
            append_fsyncs: self.append_fsyncs.load(Ordering::Relaxed),
        }
    }
}

/// In-memory view shared by the store and its readers.
#[derive(Default)]
struct Mem {
    entries: BTreeMap<u64, Entry>,
    last_purged: Option<LogId>,
    vote: Option<Vote>,
    committed: Option<LogId>,
}

type Done = oneshot::Sender<io::Result<()>>;

enum Cmd {
    Append {
        frames: Vec<u8>,
        offsets: Vec<(u64, u64)>,
        ack: LogFlushed<TypeConfig>,
    },
    Truncate {
        since: u64,
        done: Done,
    },
    Purge {
        upto: LogId,
        done: Done,
    },
    Vote {
        vote: Vote,
        done: Done,
    },
    Committed {
        committed: Option<LogId>,
    },
    Stop,
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
    tx: mpsc::Sender<Cmd>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Stats>,
}

impl LogHandle {
    pub fn stats(&self) -> LogStats {
        self.stats.snapshot()
    }

    /// Stops the writer thread after it has drained queued commands, and waits for it.
    pub fn stop(mut self) {
        let _ = self.tx.send(Cmd::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn io_err(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
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
        fs::create_dir_all(dir)?;
        let mut mem = Mem {
            vote: read_small(&dir.join(VOTE_FILE))?,
            last_purged: read_small(&dir.join(PURGED_FILE))?,
            committed: read_small(&dir.join(COMMITTED_FILE)).unwrap_or(None),
            ..Mem::default()
        };
        let stats = Arc::new(Stats::default());
        let writer = Writer::recover(dir, segment_bytes, &mut mem, stats.clone())?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || writer.run(rx))?;
        let store = LogStore {
            mem: Arc::new(RwLock::new(mem)),
            tx: tx.clone(),
            stats: stats.clone(),
        };
        Ok((
            store,
            LogHandle {
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

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        Ok(read_range(&self.mem, range))
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
        let mut frames = Vec::new();
        let mut offsets = Vec::new();
        let mut encoded = Vec::new();
        for e in entries {
            offsets.push((e.log_id.index, frames.len() as u64));
            encode_record(&e, &mut frames).map_err(sto_write)?;
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
            .send(Cmd::Append {
                frames,
                offsets,
                ack: callback,
            })
            .map_err(|_| sto_write(io_err("log writer stopped")))
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

// ---------------------------------------------------------------------------------------------
// Encoding helpers

fn encode_record(e: &Entry, out: &mut Vec<u8>) -> Result<(), bincode::Error> {
    let body = bincode::serialize(e)?;
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

/// Decodes the record at `buf[off..]`: `Some((entry, record_len))`, or `None` if the bytes
/// there are torn or corrupt.
fn decode_record(buf: &[u8], off: usize) -> Option<(Entry, usize)> {
    let rest = &buf[off..];
    if rest.len() < RECORD_HEADER {
        return None;
    }
    let len = u32::from_le_bytes(rest[0..4].try_into().unwrap()) as usize;
    let crc = u32::from_le_bytes(rest[4..8].try_into().unwrap());
    if len > MAX_RECORD || rest.len() - RECORD_HEADER < len {
        return None;
    }
    let body = &rest[RECORD_HEADER..RECORD_HEADER + len];
    if crc32fast::hash(body) != crc {
        return None;
    }
    let e: Entry = bincode::deserialize(body).ok()?;
    Some((e, RECORD_HEADER + len))
}

/// Reads a `crc32 | bincode(T)` file; a missing file is `None`.
pub(crate) fn read_small<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    let buf = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if buf.len() < 4 || crc32fast::hash(&buf[4..]) != u32::from_le_bytes(buf[0..4].try_into().unwrap()) {
        return Err(io_err(format!("corrupt file {}", path.display())));
    }
    bincode::deserialize(&buf[4..])
        .map(Some)
        .map_err(|e| io_err(format!("decode {}: {e}", path.display())))
}

/// Replaces `dir/name` with `crc32 | bincode(value)`: write tmp, (fsync), rename, (fsync dir).
pub(crate) fn write_small<T: Serialize>(dir: &Path, name: &str, value: &T, durable: bool) -> io::Result<()> {
    let body = bincode::serialize(value).map_err(|e| io_err(e.to_string()))?;
    let mut buf = Vec::with_capacity(body.len() + 4);
    buf.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    buf.extend_from_slice(&body);
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&buf)?;
        if durable {
            f.sync_all()?;
        }
    }
    fs::rename(&tmp, dir.join(name))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.seg")
}

// ---------------------------------------------------------------------------------------------
// Writer thread

struct Segment {
    first: u64,
    path: PathBuf,
    len: u64,
}

struct Writer {
    dir: PathBuf,
    segment_bytes: u64,
    /// Sorted by `first`; the last one is the active segment.
    segments: Vec<Segment>,
    active: Option<File>,
    /// Live (unpurged) index -> (segment first index, byte offset of its record).
    positions: BTreeMap<u64, (u64, u64)>,
    stats: Arc<Stats>,
}

impl Writer {
    /// Scans all segments into `mem`, truncating a torn/corrupt tail (and anything after it).
    fn recover(dir: &Path, segment_bytes: u64, mem: &mut Mem, stats: Arc<Stats>) -> io::Result<Writer> {
        let mut segments = Vec::new();
        for de in fs::read_dir(dir)? {
            let name = de?.file_name().to_string_lossy().into_owned();
            if let Some(first) = name.strip_suffix(".seg").and_then(|s| s.parse::<u64>().ok()) {
                segments.push(Segment {
                    first,
                    path: dir.join(&name),
                    len: 0,
                });
            }
        }
        segments.sort_by_key(|s| s.first);

        let purged = mem.last_purged.map(|l| l.index);
        let mut positions = BTreeMap::new();
        let mut last: Option<u64> = None;
        let mut cut: Option<(usize, u64)> = None;
        'segs: for (i, seg) in segments.iter_mut().enumerate() {
            let buf = fs::read(&seg.path)?;
            seg.len = buf.len() as u64;
            let mut off = 0usize;
            while off < buf.len() {
                let Some((e, n)) = decode_record(&buf, off) else {
                    cut = Some((i, off as u64));
                    break 'segs;
                };
                let idx = e.log_id.index;
                if purged.is_some_and(|p| idx <= p) {
                    off += n; // stale record below the purge point
                    continue;
                }
                let expected = last.map(|l| l + 1).or(purged.map(|p| p + 1));
                if expected.is_some_and(|x| x != idx) {
                    tracing::warn!(idx, ?expected, "non-contiguous log record; truncating log tail");
                    cut = Some((i, off as u64));
                    break 'segs;
                }
                positions.insert(idx, (seg.first, off as u64));
                mem.entries.insert(idx, e);
                last = Some(idx);
                off += n;
            }
        }
        if let Some((i, off)) = cut {
            tracing::warn!(segment = %segments[i].path.display(), off, "truncating torn/corrupt log tail");
            for seg in segments.drain(i + 1..) {
                fs::remove_file(&seg.path)?;
            }
            let f = OpenOptions::new().write(true).open(&segments[i].path)?;
            f.set_len(off)?;
            f.sync_all()?;
            segments[i].len = off;
            sync_dir(dir)?;
        }
        let active = match segments.last() {
            Some(seg) => Some(OpenOptions::new().append(true).open(&seg.path)?),
            None => None,
        };
        Ok(Writer {
            dir: dir.to_path_buf(),
            segment_bytes,
            segments,
            active,
            positions,
            stats,
        })
    }

    fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        let mut appends: Vec<(Vec<u8>, Vec<(u64, u64)>, LogFlushed<TypeConfig>)> = Vec::new();
        loop {
            let Ok(first) = rx.recv() else { return };
            let mut batch = vec![first];
            batch.extend(rx.try_iter());
            let mut committed = None;
            let mut stop = false;
            for cmd in batch {
                match cmd {
                    Cmd::Append { frames, offsets, ack } => appends.push((frames, offsets, ack)),
                    Cmd::Committed { committed: c } => committed = Some(c),
                    other => {
                        self.flush(&mut appends);
                        match other {
                            Cmd::Truncate { since, done } => {
                                let _ = done.send(self.truncate(since));
                            }
                            Cmd::Purge { upto, done } => {
                                let _ = done.send(self.purge(upto));
                            }
                            Cmd::Vote { vote, done } => {
                                let _ = done.send(write_small(&self.dir, VOTE_FILE, &vote, true));
                            }
                            Cmd::Stop => stop = true,
                            Cmd::Append { .. } | Cmd::Committed { .. } => unreachable!(),
                        }
                    }
                }
            }
            self.flush(&mut appends);
            if let Some(c) = committed {
                // Advisory (openraft re-applies up to it at startup); written after the log
                // entries it covers are fsynced, so it never points past the durable log.
                if let Err(e) = write_small(&self.dir, COMMITTED_FILE, &c, false) {
                    tracing::warn!(error = %e, "failed to save committed log id");
                }
            }
            if stop {
                return;
            }
        }
    }

    /// Writes all queued appends and fsyncs once (group commit), then acks them.
    fn flush(&mut self, appends: &mut Vec<(Vec<u8>, Vec<(u64, u64)>, LogFlushed<TypeConfig>)>) {
        if appends.is_empty() {
            return;
        }
        let res = self.write_batch(appends);
        for (_, _, ack) in appends.drain(..) {
            let r = match &res {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            };
            ack.log_io_completed(r);
        }
    }

    fn write_batch(&mut self, appends: &[(Vec<u8>, Vec<(u64, u64)>, LogFlushed<TypeConfig>)]) -> io::Result<()> {
        let Some(first_idx) = appends.iter().find_map(|a| a.1.first().map(|o| o.0)) else {
            return Ok(()); // only empty appends
        };
        let rotate = match (self.segments.last(), &self.active) {
            (Some(seg), Some(_)) => seg.len >= self.segment_bytes,
            _ => true,
        };
        if rotate {
            let path = self.dir.join(segment_name(first_idx));
            let f = OpenOptions::new().create(true).write(true).truncate(true).open(&path)?;
            sync_dir(&self.dir)?;
            self.segments.push(Segment {
                first: first_idx,
                path,
                len: 0,
            });
            self.active = Some(f);
        }
        let seg = self.segments.last_mut().unwrap();
        let file = self.active.as_mut().unwrap();
        let mut buf = Vec::with_capacity(appends.iter().map(|a| a.0.len()).sum());
        for (frames, offsets, _) in appends {
            let base = seg.len + buf.len() as u64;
            for (idx, off) in offsets {
                self.positions.insert(*idx, (seg.first, base + off));
            }
            buf.extend_from_slice(frames);
        }
        file.write_all(&buf)?;
        seg.len += buf.len() as u64;
        file.sync_data()?;
        self.stats.append_fsyncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Durably removes every record with index >= `since`.
    fn truncate(&mut self, since: u64) -> io::Result<()> {
        let Some((&_, &(seg_first, off))) = self.positions.range(since..).next() else {
            return Ok(());
        };
        self.positions.split_off(&since);
        let k = self
            .segments
            .iter()
            .position(|s| s.first == seg_first)
            .expect("segment of position");
        // Later segments first, then cut this one: a crash in between leaves a valid prefix.
        let remove_this = off == 0;
        let from = if remove_this { k } else { k + 1 };
        self.active = None;
        for seg in self.segments.drain(from..).rev() {
            fs::remove_file(&seg.path)?;
        }
        sync_dir(&self.dir)?;
        if !remove_this {
            let seg = &mut self.segments[k];
            let f = OpenOptions::new().write(true).open(&seg.path)?;
            f.set_len(off)?;
            f.sync_all()?;
            seg.len = off;
        }
        if let Some(seg) = self.segments.last() {
            self.active = Some(OpenOptions::new().append(true).open(&seg.path)?);
        }
        Ok(())
    }

    /// Durably forgets every record with index <= `upto.index`.
    fn purge(&mut self, upto: LogId) -> io::Result<()> {
        write_small(&self.dir, PURGED_FILE, &upto, true)?;
        self.positions = self.positions.split_off(&(upto.index + 1));
        // A segment is dead once the next one starts at or below upto + 1. Never delete the
        // active (last) segment: its stale records are skipped on recovery via `purged`.
        let mut dead = 0;
        while dead + 1 < self.segments.len() && self.segments[dead + 1].first <= upto.index + 1 {
            dead += 1;
        }
        if dead > 0 {
            for seg in self.segments.drain(..dead) {
                fs::remove_file(&seg.path)?;
            }
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}
