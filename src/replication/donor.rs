//! The donor side of a state transfer: a consistent copy of this member's mysqld
//! (`transfer::copy::start_dump`, one InnoDB snapshot that includes the applied markers),
//! written to a file under the group's data dir and served to the joiner in chunks over the
//! peer link (mutual TLS: only members may ask).
//!
//! While a copy is being taken, DDL and account statements wait ([`CopyGate`]): the copy's
//! snapshot covers tables, but not statements that change what tables and accounts exist.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::{watch, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use super::transfer::copy::{start_dump, MysqldTarget};
use crate::consensus::types::Blob;
use crate::consensus::{NodeId, PeerService};

/// Bytes per chunk request (fits a peer frame with room to spare).
pub const CHUNK: usize = 2 << 20;
/// How long the donor waits for its own applier to reach what the joiner needs.
const CATCH_UP: Duration = Duration::from_secs(60);
/// How long a copy waits for DDL in flight to finish before it gives up (and is retried).
const GATE_WAIT: Duration = Duration::from_secs(30);
/// A copy nobody asked for in this long is deleted.
const ABANDONED: Duration = Duration::from_secs(600);

#[derive(Debug, Serialize, Deserialize)]
pub enum TransferRequest {
    /// Take a copy that has every entry up to `need` applied.
    Start {
        need: u64,
    },
    Chunk {
        id: u64,
        offset: u64,
    },
    Finish {
        id: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum TransferReply {
    Started {
        id: u64,
    },
    /// Bytes from `offset`; `done`: the copy is complete and this is its end.
    Chunk {
        data: Blob,
        done: bool,
        written: u64,
    },
    Finished,
    Failed(String),
}

/// What a state-transfer copy holds off on this member, so that the copy's markers say
/// exactly what it holds.
///
/// DDL and copies exclude each other. A DDL of this member's own session holds its guard
/// from running the statement until the applier recorded its marker, so a copy never sees
/// the statement's effect without its marker.
///
/// This member's own transactions commit by `XA COMMIT` without an applied marker (the
/// applier knows them from `XA RECOVER`); a copy must still tell the joiner which of them it
/// holds. Their commits hold [`CopyGate::commit_guard`] and register their log index; a copy
/// takes the commits exclusively until its snapshot is established and writes markers for
/// the registered ones into the copy.
#[derive(Default)]
pub struct CopyGate {
    /// DDL (read) against copies (write).
    lock: Arc<RwLock<()>>,
    holds: Mutex<Holds>,
    /// This member's own commits (read) against a copy's start (write).
    commits: Arc<RwLock<()>>,
    /// Log indexes of this member's own transactions committed here, above the durable
    /// watermark (pruned as it moves).
    own: Mutex<std::collections::BTreeSet<u64>>,
}

#[derive(Default)]
struct Holds {
    guards: HashMap<u64, OwnedRwLockReadGuard<()>>,
    /// Marked before their session handed its guard over (the applier was quick).
    early: std::collections::VecDeque<u64>,
}

impl CopyGate {
    pub async fn enter(&self) -> OwnedRwLockReadGuard<()> {
        self.lock.clone().read_owned().await
    }

    /// Keeps `guard` until [`CopyGate::marked`] for `trx_id`.
    pub fn hold_until_marked(&self, trx_id: u64, guard: OwnedRwLockReadGuard<()>) {
        let mut h = self.holds.lock().unwrap();
        if let Some(i) = h.early.iter().position(|&t| t == trx_id) {
            h.early.remove(i);
            return;
        }
        h.guards.insert(trx_id, guard);
    }

    pub fn marked(&self, trx_id: u64) {
        let mut h = self.holds.lock().unwrap();
        if h.guards.remove(&trx_id).is_none() {
            h.early.push_back(trx_id);
            if h.early.len() > 1024 {
                h.early.pop_front();
            }
        }
    }

    async fn exclusive(&self) -> Option<OwnedRwLockWriteGuard<()>> {
        tokio::time::timeout(GATE_WAIT, self.lock.clone().write_owned())
            .await
            .ok()
    }

    /// Held around the `XA COMMIT` of this member's own transaction and its registration.
    pub async fn commit_guard(&self) -> OwnedRwLockReadGuard<()> {
        self.commits.clone().read_owned().await
    }

    /// This member's own transaction at log `index` committed here.
    pub fn committed(&self, index: u64) {
        self.own.lock().unwrap().insert(index);
    }

    /// Everything up to `durable` is covered by the applied marker.
    pub fn prune(&self, durable: u64) {
        let mut own = self.own.lock().unwrap();
        *own = own.split_off(&(durable + 1));
    }

    async fn commits_exclusive(&self) -> Option<OwnedRwLockWriteGuard<()>> {
        tokio::time::timeout(GATE_WAIT, self.commits.clone().write_owned())
            .await
            .ok()
    }
}

struct Copy {
    path: PathBuf,
    written: watch::Sender<u64>,
    result: watch::Sender<Option<Result<(), String>>>,
    last_used: Mutex<Instant>,
}

pub struct Donor {
    pub target: MysqldTarget,
    /// The service account's name: its own account is not copied.
    pub service_user: String,
    pub dir: PathBuf,
    pub gate: Arc<CopyGate>,
    /// This member's durable applied watermark.
    pub durable: watch::Receiver<u64>,
    copies: Mutex<HashMap<u64, Arc<Copy>>>,
    next: AtomicU64,
}

impl Donor {
    pub fn new(
        target: MysqldTarget,
        service_user: String,
        dir: PathBuf,
        gate: Arc<CopyGate>,
        durable: watch::Receiver<u64>,
    ) -> Arc<Donor> {
        // Copies of an earlier process are of no use.
        let _ = std::fs::remove_dir_all(&dir);
        Arc::new(Donor {
            target,
            service_user,
            dir,
            gate,
            durable,
            copies: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        })
    }

    async fn handle(self: Arc<Self>, from: Option<NodeId>, req: TransferRequest) -> TransferReply {
        match req {
            TransferRequest::Start { need } => match self.start(from, need).await {
                Ok(id) => TransferReply::Started { id },
                Err(e) => TransferReply::Failed(e),
            },
            TransferRequest::Chunk { id, offset } => self.chunk(id, offset).await,
            TransferRequest::Finish { id } => {
                if let Some(c) = self.copies.lock().unwrap().remove(&id) {
                    let _ = std::fs::remove_file(&c.path);
                }
                TransferReply::Finished
            }
        }
    }

    async fn start(self: &Arc<Self>, from: Option<NodeId>, need: u64) -> Result<u64, String> {
        self.sweep();
        let mut durable = self.durable.clone();
        if tokio::time::timeout(CATCH_UP, durable.wait_for(|d| *d >= need))
            .await
            .is_err()
        {
            return Err(format!(
                "this donor has applied up to {} only, not the {need} the joiner needs",
                *self.durable.borrow()
            ));
        }
        // The copy holds every row and the accounts' password hashes: this user's only.
        crate::consensus::files::private_dir(&self.dir).map_err(|e| format!("creating {}: {e}", self.dir.display()))?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("copy-{id}.sql"));
        let copy = Arc::new(Copy {
            path: path.clone(),
            written: watch::channel(0).0,
            result: watch::channel(None).0,
            last_used: Mutex::new(Instant::now()),
        });
        self.copies.lock().unwrap().insert(id, copy.clone());
        tracing::info!(joiner = ?from, id, need, "state transfer: taking a copy for a joiner");
        let me = self.clone();
        tokio::spawn(async move {
            let r = me.write_copy(&copy).await;
            match &r {
                Ok(()) => tracing::info!(id, bytes = *copy.written.borrow(), "state transfer: copy complete"),
                Err(e) => tracing::warn!(id, error = %e, "state transfer: copy failed"),
            }
            copy.result.send_replace(Some(r));
        });
        Ok(id)
    }

    async fn write_copy(&self, copy: &Copy) -> Result<(), String> {
        let _exclusive = self
            .gate
            .exclusive()
            .await
            .ok_or("DDL kept running on the donor; try again")?;
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&copy.path)
            .await
            .map_err(|e| format!("creating {}: {e}", copy.path.display()))?;
        // This member's own commits wait until the dump's snapshot is established: the ones
        // before it are in the copy, and get markers there.
        let mut commits = Some(
            self.gate
                .commits_exclusive()
                .await
                .ok_or("commits kept running on the donor; try again")?,
        );
        let own: Vec<u64> = {
            let durable = *self.durable.borrow();
            self.gate.prune(durable);
            self.gate.own.lock().unwrap().iter().copied().collect()
        };
        let mut dump = start_dump(&self.target, &self.service_user)
            .await
            .map_err(|e| e.to_string())?;
        if !own.is_empty() {
            let values: Vec<String> = own.iter().map(|i| format!("({i})")).collect();
            dump.append_sql(
                format!(
                    "INSERT IGNORE INTO {}.{} (idx) VALUES {};\n",
                    super::ident(super::applier::MARKER_SCHEMA),
                    super::ident(super::applier::MARKER_TABLE),
                    values.join(",")
                )
                .into_bytes(),
            );
        }
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        // mariadb-dump starts its snapshot before it writes the first database.
        let mut tail: Vec<u8> = Vec::new();
        loop {
            let n = dump
                .read(&mut buf)
                .await
                .map_err(|e| format!("reading the dump: {e}"))?;
            if n == 0 {
                break;
            }
            if commits.is_some() {
                tail.extend_from_slice(&buf[..n]);
                if tail.windows(16).any(|w| w == b"CREATE DATABASE ") {
                    commits = None;
                    tail = Vec::new();
                } else if tail.len() > 64 {
                    tail.drain(..tail.len() - 64);
                }
            }
            file.write_all(&buf[..n])
                .await
                .map_err(|e| format!("writing the copy: {e}"))?;
            // tokio's File hands writes to a background thread: only after a flush can a
            // chunk request read them back.
            file.flush().await.map_err(|e| format!("writing the copy: {e}"))?;
            total += n as u64;
            copy.written.send_replace(total);
        }
        file.flush().await.map_err(|e| e.to_string())?;
        dump.finish().await.map_err(|e| e.to_string())
    }

    async fn chunk(&self, id: u64, offset: u64) -> TransferReply {
        let Some(copy) = self.copies.lock().unwrap().get(&id).cloned() else {
            return TransferReply::Failed(format!("no copy {id} on this donor (it restarted or gave up)"));
        };
        *copy.last_used.lock().unwrap() = Instant::now();
        let mut written = copy.written.subscribe();
        let mut result = copy.result.subscribe();
        // Wait (a little) for bytes past `offset` or the end.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::select! {
                _ = written.wait_for(|w| *w > offset) => {}
                _ = result.wait_for(|r| r.is_some()) => {}
            }
        })
        .await;
        let finished = copy.result.borrow().clone();
        if let Some(Err(e)) = finished {
            return TransferReply::Failed(e);
        }
        let total = *copy.written.borrow();
        let want = total.saturating_sub(offset).min(CHUNK as u64) as usize;
        let mut data = vec![0u8; want];
        if want > 0 {
            let r = async {
                let mut f = tokio::fs::File::open(&copy.path).await?;
                f.seek(std::io::SeekFrom::Start(offset)).await?;
                f.read_exact(&mut data).await
            }
            .await;
            if let Err(e) = r {
                return TransferReply::Failed(format!("reading the copy: {e}"));
            }
        }
        let done = finished.is_some() && offset + want as u64 == total;
        TransferReply::Chunk {
            data: Blob(data),
            done,
            written: total,
        }
    }

    fn sweep(&self) {
        self.copies.lock().unwrap().retain(|_, c| {
            let keep = c.last_used.lock().unwrap().elapsed() < ABANDONED;
            if !keep {
                let _ = std::fs::remove_file(&c.path);
            }
            keep
        });
    }
}

impl PeerService for Arc<Donor> {
    fn call(&self, from: Option<NodeId>, request: Vec<u8>) -> BoxFuture<'static, Result<Vec<u8>, String>> {
        let me = self.clone();
        Box::pin(async move {
            let req: TransferRequest = bincode::deserialize(&request).map_err(|e| format!("bad request: {e}"))?;
            let reply = me.handle(from, req).await;
            bincode::serialize(&reply).map_err(|e| e.to_string())
        })
    }
}
