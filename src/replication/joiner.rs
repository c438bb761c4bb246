//! The joiner side of a state transfer: pick a donor (the ONLINE member with the most
//! applied, or the one named), ask it for a copy that covers what this member needs, stream
//! the chunks into `transfer::copy::restore` on the local mysqld, and report progress
//! (status and log). The applier then reloads its markers from the copy and applies the
//! log after it (the "IST" step). A failed attempt is retried by the applier.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Weak;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::io::AsyncWriteExt;

use super::donor::{TransferReply, TransferRequest};
use super::group::Group;
use super::recovery::Recover;
use super::transfer::copy::{restore, MysqldTarget};

/// Time allowed for one request to the donor (a chunk waits up to 5 s for the dump).
const ASK: Duration = Duration::from_secs(90);
const MIB: f64 = 1048576.0;

pub struct Joiner {
    pub group: Weak<Group>,
    pub target: MysqldTarget,
    /// Exists while this member's mysqld holds a partial copy (see [`pending_file`]).
    pub pending: std::path::PathBuf,
}

/// The file that says a state transfer into this member's mysqld began and did not finish:
/// its data is partial (its markers may even look complete), so the transfer starts again
/// at the next start-up before anything is applied.
pub fn pending_file(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("transfer.pending")
}

fn mark_pending(path: &std::path::Path, on: bool) -> Result<(), String> {
    let r = if on {
        std::fs::write(path, b"a state transfer into this member's mysqld did not finish\n")
            .and_then(|()| std::fs::File::open(path)?.sync_all())
    } else {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    };
    r.map_err(|e| format!("{}: {e}", path.display()))
}

impl Recover for Joiner {
    fn recover(&self, need: u64, from: Option<u64>) -> BoxFuture<'static, Result<String, String>> {
        let (group, target) = (self.group.clone(), self.target.clone());
        let pending = self.pending.clone();
        Box::pin(async move { transfer(group, target, need, from, &pending).await })
    }
}

async fn ask(group: &Weak<Group>, donor: u64, req: &TransferRequest) -> Result<TransferReply, String> {
    let g = group.upgrade().ok_or("shutting down")?;
    let body = bincode::serialize(req).map_err(|e| e.to_string())?;
    let reply: Vec<u8> = g.call_member(donor, body, ASK).await?;
    bincode::deserialize(&reply).map_err(|e| format!("donor {donor}: bad reply: {e}"))
}

/// The ONLINE member (not this one) with the highest applied index.
fn pick_donor(g: &Group) -> Option<u64> {
    g.members()
        .into_iter()
        .filter(|r| r.id != g.member_id && r.state == "ONLINE")
        .max_by_key(|r| r.applied)
        .map(|r| r.id)
}

async fn transfer(
    group: Weak<Group>,
    target: MysqldTarget,
    need: u64,
    from: Option<u64>,
    pending: &std::path::Path,
) -> Result<String, String> {
    let donor = match from {
        Some(d) if group.upgrade().is_some_and(|g| g.member_id == d) => {
            return Err("a member cannot be its own donor".into())
        }
        Some(d) => d,
        None => {
            // Just after start-up the others' reports may not be in yet.
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let g = group.upgrade().ok_or("shutting down")?;
                if let Some(d) = pick_donor(&g) {
                    break d;
                }
                if Instant::now() >= deadline {
                    return Err("no other ONLINE member to copy from".into());
                }
                drop(g);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let stats = |f: &dyn Fn(&super::recovery::TransferStats)| {
        if let Some(g) = group.upgrade() {
            f(&g.recovery.stats)
        }
    };
    stats(&|s| s.donor.store(donor, Relaxed));
    tracing::info!(donor, need, "state transfer: asking member {donor} for a copy");
    let id = match ask(&group, donor, &TransferRequest::Start { need }).await? {
        TransferReply::Started { id } => id,
        TransferReply::Failed(e) => return Err(format!("donor {donor}: {e}")),
        other => return Err(format!("donor {donor}: unexpected reply {other:?}")),
    };
    let started = Instant::now();
    stats(&|s| *s.started.lock().unwrap() = Some(started));
    let (mut tx, rx) = tokio::io::duplex(4 << 20);
    let fetch = {
        let group = group.clone();
        async move {
            let mut offset = 0u64;
            let mut logged = Instant::now();
            loop {
                let (data, done, written) = match ask(&group, donor, &TransferRequest::Chunk { id, offset }).await? {
                    TransferReply::Chunk { data, done, written } => (data.0, done, written),
                    TransferReply::Failed(e) => return Err(format!("donor {donor}: {e}")),
                    other => return Err(format!("donor {donor}: unexpected reply {other:?}")),
                };
                tx.write_all(&data)
                    .await
                    .map_err(|e| format!("loading into mysqld stopped: {e}"))?;
                offset += data.len() as u64;
                let Some(g) = group.upgrade() else {
                    return Err("shutting down".to_string());
                };
                let s = &g.recovery.stats;
                s.received.store(offset, Relaxed);
                s.copy_bytes.store(written, Relaxed);
                s.copy_done.store(done, Relaxed);
                if logged.elapsed() >= Duration::from_secs(5) {
                    tracing::info!("{}", s.progress());
                    logged = Instant::now();
                }
                drop(g);
                if done {
                    tx.shutdown().await.map_err(|e| e.to_string())?;
                    return Ok(offset);
                }
            }
        }
    };
    mark_pending(pending, true)?;
    let load = restore(&target, rx, |_| {});
    let (fetched, loaded) = tokio::join!(fetch, load);
    let _ = ask(&group, donor, &TransferRequest::Finish { id }).await;
    let bytes = fetched?;
    loaded.map_err(|e| format!("loading the copy: {e}"))?;
    mark_pending(pending, false)?;
    let secs = started.elapsed().as_secs_f64();
    let summary = format!(
        "rebuilt from member {donor}: {:.1} MiB in {secs:.1} s ({:.1} MiB/s)",
        bytes as f64 / MIB,
        bytes as f64 / MIB / secs.max(0.001)
    );
    tracing::info!("state transfer: {summary}");
    Ok(summary)
}
