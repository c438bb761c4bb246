//! The log writer thread and the segment files it owns.
//!
//! Segments `NNNNNNNNNNNNNNNNNNNN.seg` are named after the index of their first record; a
//! record is `len: u32 LE | crc32(body): u32 LE | body = bincode(Entry)`. Besides them the
//! directory holds `vote` and `purged` (atomic, durable) and `committed` (atomic rename, no
//! fsync: advisory) small files.
//!
//! The thread executes commands in order. Appends that queued up while it was busy (e.g. in
//! `fsync`) are written with one `write` and made durable with one `fsync` (group commit)
//! before their acks fire; any other command first flushes the appends queued before it.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use openraft::storage::LogFlushed;
use tokio::sync::oneshot;

use crate::consensus::files::{sync_dir, write_small};
use crate::consensus::log_store::LogStats;
use crate::consensus::types::{Entry, LogId, TypeConfig, Vote};

const RECORD_HEADER: usize = 8;
const MAX_RECORD: usize = 1 << 30;
pub(crate) const VOTE_FILE: &str = "vote";
pub(crate) const PURGED_FILE: &str = "purged";
pub(crate) const COMMITTED_FILE: &str = "committed";
/// The `committed` file is advisory: it is rewritten at most this often (and when the writer
/// stops), not after every batch, where its write and rename cost as much as the log's fsync.
const COMMITTED_EVERY: Duration = Duration::from_millis(200);

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) append_calls: AtomicU64,
    pub(crate) entries: AtomicU64,
    pub(crate) append_fsyncs: AtomicU64,
}

impl Stats {
    pub(crate) fn snapshot(&self) -> LogStats {
        LogStats {
            append_calls: self.append_calls.load(Ordering::Relaxed),
            entries: self.entries.load(Ordering::Relaxed),
            append_fsyncs: self.append_fsyncs.load(Ordering::Relaxed),
        }
    }
}

/// In-memory view shared by the store and its readers.
#[derive(Default)]
pub(crate) struct Mem {
    pub(crate) entries: BTreeMap<u64, Entry>,
    pub(crate) last_purged: Option<LogId>,
    pub(crate) vote: Option<Vote>,
    pub(crate) committed: Option<LogId>,
}

pub(crate) type Done = oneshot::Sender<io::Result<()>>;

/// Who to tell once an append is durable.
pub(crate) enum Ack {
    Raft(LogFlushed<TypeConfig>),
    Chan(Done),
}

impl Ack {
    fn complete(self, r: io::Result<()>) {
        match self {
            Ack::Raft(cb) => cb.log_io_completed(r),
            Ack::Chan(tx) => {
                let _ = tx.send(r);
            }
        }
    }
}

type PendingAppend = (Vec<u8>, Vec<(u64, u64)>, Ack);

pub(crate) enum Cmd {
    Append {
        frames: Vec<u8>,
        offsets: Vec<(u64, u64)>,
        ack: Ack,
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

pub(crate) fn io_err(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers

pub(crate) fn encode_record(e: &Entry, out: &mut Vec<u8>) -> Result<(), bincode::Error> {
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

/// Test hook: data dirs (prefixes) whose log fsyncs are slowed down, simulating a slow disk
/// so that group commit can be observed deterministically.
#[cfg(test)]
pub(crate) static SLOW_FSYNC: std::sync::Mutex<Vec<(PathBuf, Duration)>> = std::sync::Mutex::new(Vec::new());

fn simulated_fsync_delay(dir: &Path) -> Duration {
    #[cfg(test)]
    if let Some((_, d)) = SLOW_FSYNC.lock().unwrap().iter().find(|(p, _)| dir.starts_with(p)) {
        return *d;
    }
    let _ = dir;
    Duration::ZERO
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

pub(crate) struct Writer {
    dir: PathBuf,
    segment_bytes: u64,
    /// Sorted by `first`; the last one is the active segment.
    segments: Vec<Segment>,
    active: Option<File>,
    /// Live (unpurged) index -> (segment first index, byte offset of its record).
    positions: BTreeMap<u64, (u64, u64)>,
    stats: Arc<Stats>,
    /// Extra latency per append fsync (tests only; zero otherwise).
    sync_delay: Duration,
}

impl Writer {
    /// Scans all segments into `mem`, truncating a torn/corrupt tail (and anything after it).
    pub(crate) fn recover(dir: &Path, segment_bytes: u64, mem: &mut Mem, stats: Arc<Stats>) -> io::Result<Writer> {
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
        let sync_delay = simulated_fsync_delay(dir);
        Ok(Writer {
            dir: dir.to_path_buf(),
            segment_bytes,
            segments,
            active,
            positions,
            stats,
            sync_delay,
        })
    }

    pub(crate) fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        let mut appends: Vec<PendingAppend> = Vec::new();
        // The newest committed log id not written yet, and when the file was last written.
        let mut committed: Option<Option<LogId>> = None;
        let mut written_at = std::time::Instant::now();
        loop {
            let first = match committed {
                // Something to write later: wake up for it even if nothing else comes.
                Some(_) => match rx.recv_timeout(COMMITTED_EVERY.saturating_sub(written_at.elapsed())) {
                    Ok(cmd) => Some(cmd),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => Some(Cmd::Stop),
                },
                None => match rx.recv() {
                    Ok(cmd) => Some(cmd),
                    Err(_) => return,
                },
            };
            let mut batch: Vec<Cmd> = first.into_iter().collect();
            batch.extend(rx.try_iter());
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
            if committed.is_some() && (stop || written_at.elapsed() >= COMMITTED_EVERY) {
                // Advisory (openraft re-applies up to it at startup, and learns the rest from
                // the leader); written after the log entries it covers are fsynced, so it never
                // points past the durable log.
                if let Some(c) = committed.take() {
                    if let Err(e) = write_small(&self.dir, COMMITTED_FILE, &c, false) {
                        tracing::warn!(error = %e, "failed to save committed log id");
                    }
                }
                written_at = std::time::Instant::now();
            }
            if stop {
                return;
            }
        }
    }

    /// Writes all queued appends and fsyncs once (group commit), then acks them.
    fn flush(&mut self, appends: &mut Vec<PendingAppend>) {
        if appends.is_empty() {
            return;
        }
        let res = self.write_batch(appends);
        for (_, _, ack) in appends.drain(..) {
            let r = match &res {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            };
            ack.complete(r);
        }
    }

    fn write_batch(&mut self, appends: &[PendingAppend]) -> io::Result<()> {
        let Some(first_idx) = appends.iter().find_map(|a| a.1.first().map(|o| o.0)) else {
            return Ok(()); // only empty appends
        };
        let rotate = match (self.segments.last(), &self.active) {
            (Some(seg), Some(_)) => seg.len >= self.segment_bytes,
            _ => true,
        };
        if rotate {
            let path = self.dir.join(segment_name(first_idx));
            let f = super::files::private_file()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&path)?;
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
        if !self.sync_delay.is_zero() {
            std::thread::sleep(self.sync_delay);
        }
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
