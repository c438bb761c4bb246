//! How the applier asks for a state transfer, and how operators ask for a rebuild.
//!
//! The applier runs the transfer itself (it must not apply while its mysqld is replaced): at
//! a restore it cannot follow, and in ERROR when an operator runs `GRPROXY REBUILD`, it calls
//! the member's [`Recover`] (`joiner`), then reloads its applied markers from the copy.

use std::sync::{Arc, Mutex, OnceLock};

use futures_util::future::BoxFuture;
use tokio::sync::{oneshot, Notify};

/// Where an operator's rebuild learns how it went.
pub type Reply = oneshot::Sender<Result<String, String>>;

/// A member's way of replacing its mysqld's data with a donor's.
pub trait Recover: Send + Sync + 'static {
    /// Copies a donor's data (donor `from`, or the best one) that has every log entry up to
    /// `need` applied. Returns a one-line summary.
    fn recover(&self, need: u64, from: Option<u64>) -> BoxFuture<'static, Result<String, String>>;
}

/// Counters of this member's state transfers as a joiner (status and /metrics).
#[derive(Default)]
pub struct TransferStats {
    pub active: std::sync::atomic::AtomicBool,
    /// Bytes of the copy received in the current (or last) transfer.
    pub received: std::sync::atomic::AtomicU64,
    /// Bytes the donor has written of that copy so far.
    pub copy_bytes: std::sync::atomic::AtomicU64,
    /// The copy is complete (its size is `copy_bytes`).
    pub copy_done: std::sync::atomic::AtomicBool,
    /// The donor of the current (or last) transfer, 0 before one is picked.
    pub donor: std::sync::atomic::AtomicU64,
    /// When the current (or last) transfer began receiving.
    pub started: Mutex<Option<std::time::Instant>>,
    pub completed: std::sync::atomic::AtomicU64,
    pub failed: std::sync::atomic::AtomicU64,
}

impl TransferStats {
    /// One line for status and the log: the donor, bytes received of the copy, the rate.
    pub fn progress(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        const MIB: f64 = 1048576.0;
        let donor = self.donor.load(Relaxed);
        let Some(started) = *self.started.lock().unwrap() else {
            return match donor {
                0 => "state transfer starting".into(),
                d => format!("state transfer from member {d}: asking for a copy"),
            };
        };
        let (received, written) = (self.received.load(Relaxed), self.copy_bytes.load(Relaxed));
        format!(
            "state transfer from member {donor}: {:.1} MiB of {:.1} MiB{} received, {:.1} MiB/s",
            received as f64 / MIB,
            written as f64 / MIB,
            if self.copy_done.load(Relaxed) { "" } else { " so far" },
            received as f64 / MIB / started.elapsed().as_secs_f64().max(0.001)
        )
    }

    fn reset(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.received.store(0, Relaxed);
        self.copy_bytes.store(0, Relaxed);
        self.copy_done.store(false, Relaxed);
        self.donor.store(0, Relaxed);
        *self.started.lock().unwrap() = None;
    }
}

/// Shared between the applier, the group and the sessions.
#[derive(Default)]
pub struct Recovery {
    pub stats: TransferStats,
    handler: OnceLock<Arc<dyn Recover>>,
    request: Mutex<Option<(Option<u64>, Reply)>>,
    notify: Notify,
}

impl Recovery {
    pub fn set_handler(&self, h: Arc<dyn Recover>) {
        let _ = self.handler.set(h);
    }

    pub fn has_handler(&self) -> bool {
        self.handler.get().is_some()
    }

    /// Asks the applier to rebuild this member; the answer comes when the transfer ended.
    pub async fn rebuild(&self, from: Option<u64>) -> Result<String, String> {
        if !self.has_handler() {
            return Err("this member cannot do a state transfer".into());
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut r = self.request.lock().unwrap();
            if r.is_some() {
                return Err("a rebuild is already requested".into());
            }
            *r = Some((from, tx));
        }
        self.notify.notify_one();
        rx.await
            .unwrap_or_else(|_| Err("the applier stopped before the rebuild".into()))
    }

    /// Asks for a rebuild without waiting for it (an interrupted transfer found at start-up).
    pub fn request(&self, from: Option<u64>) {
        let (tx, _rx) = oneshot::channel();
        *self.request.lock().unwrap() = Some((from, tx));
        self.notify.notify_one();
    }

    /// A pending rebuild request, if any.
    pub(crate) fn take_request(&self) -> Option<(Option<u64>, Reply)> {
        self.request.lock().unwrap().take()
    }

    /// Whether this member can do a state transfer; at start-up the handler is set just after
    /// the applier starts, so this waits for it a little.
    pub(crate) async fn ready(&self) -> bool {
        for _ in 0..50 {
            if self.has_handler() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.has_handler()
    }

    /// Waits for a rebuild request.
    pub(crate) async fn wait_request(&self) -> (Option<u64>, Reply) {
        loop {
            let notified = self.notify.notified();
            if let Some(r) = self.take_request() {
                return r;
            }
            notified.await;
        }
    }

    pub(crate) async fn run(&self, need: u64, from: Option<u64>) -> Result<String, String> {
        use std::sync::atomic::Ordering::Relaxed;
        self.ready().await;
        self.stats.reset();
        self.stats.active.store(true, Relaxed);
        let r = match self.handler.get() {
            Some(h) => h.recover(need, from).await,
            None => Err("this member cannot do a state transfer".into()),
        };
        self.stats.active.store(false, Relaxed);
        match &r {
            Ok(_) => self.stats.completed.fetch_add(1, Relaxed),
            Err(_) => self.stats.failed.fetch_add(1, Relaxed),
        };
        r
    }
}
