//! The client limits a running proxy can change on SIGHUP: connections (overall and per
//! user), concurrent handshakes, the handshake and idle timeouts.
//!
//! The two counts are semaphores whose size can change: growing adds permits at once;
//! shrinking takes the free permits away at once and the rest as sessions end (until then
//! new clients are refused as over the limit). Sessions already past a smaller limit are not
//! cut.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::context::Settings;

/// A semaphore of adjustable size.
pub struct Capacity {
    sem: Arc<Semaphore>,
    size: Mutex<usize>,
}

impl Capacity {
    pub fn new(size: usize) -> Self {
        Capacity {
            sem: Arc::new(Semaphore::new(size)),
            size: Mutex::new(size),
        }
    }

    pub fn semaphore(&self) -> Arc<Semaphore> {
        self.sem.clone()
    }

    pub fn size(&self) -> usize {
        *self.size.lock().unwrap()
    }

    /// Changes the size; returns the old one.
    pub fn resize(&self, new: usize) -> usize {
        let mut size = self.size.lock().unwrap();
        let old = *size;
        if new > old {
            self.sem.add_permits(new - old);
        } else if new < old {
            let owed = old - new;
            let taken = self.sem.forget_permits(owed);
            if taken < owed {
                // The rest are in use: they are taken as they are released.
                let sem = self.sem.clone();
                tokio::spawn(async move {
                    if let Ok(p) = sem.acquire_many_owned((owed - taken) as u32).await {
                        p.forget();
                    }
                });
            }
        }
        *size = new;
        old
    }
}

pub struct Limits {
    pub connections: Capacity,
    pub handshakes: Capacity,
    per_user: AtomicU32,
    handshake_timeout_ms: AtomicU64,
    /// 0: no idle timeout.
    idle_timeout_ms: AtomicU64,
    /// What mysqld allows this proxy (see `backend_check`): `max_connections` never exceeds it.
    connections_cap: AtomicU64,
}

impl Limits {
    pub fn new(s: &Settings) -> Self {
        Limits {
            connections: Capacity::new(s.max_connections),
            handshakes: Capacity::new(s.max_handshakes),
            per_user: AtomicU32::new(s.max_connections_per_user),
            handshake_timeout_ms: AtomicU64::new(s.handshake_timeout.as_millis() as u64),
            idle_timeout_ms: AtomicU64::new(s.idle_timeout.map_or(0, |d| d.as_millis() as u64)),
            connections_cap: AtomicU64::new(s.max_connections_cap.unwrap_or(u64::MAX)),
        }
    }

    pub fn per_user(&self) -> u32 {
        self.per_user.load(Ordering::Relaxed)
    }

    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms.load(Ordering::Relaxed))
    }

    pub fn idle_timeout(&self) -> Option<Duration> {
        match self.idle_timeout_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// Applies new values from the config file; returns what changed, one entry per key.
    pub fn apply(&self, l: &crate::config::Limits) -> Vec<String> {
        let mut changed = Vec::new();
        let cap = self.connections_cap.load(Ordering::Relaxed);
        let max = (l.max_connections as u64).min(cap) as usize;
        let old = self.connections.resize(max);
        if old != max {
            let capped = if max as u64 == cap && (l.max_connections as u64) > cap {
                format!(" (mysqld allows {cap})")
            } else {
                String::new()
            };
            changed.push(format!("limits.max_connections {old} -> {max}{capped}"));
        }
        let old = self.handshakes.resize(l.max_handshakes as usize);
        if old != l.max_handshakes as usize {
            changed.push(format!("limits.max_handshakes {old} -> {}", l.max_handshakes));
        }
        let old = self.per_user.swap(l.max_connections_per_user, Ordering::Relaxed);
        if old != l.max_connections_per_user {
            changed.push(format!(
                "limits.max_connections_per_user {old} -> {}",
                l.max_connections_per_user
            ));
        }
        let old = self
            .handshake_timeout_ms
            .swap(l.handshake_timeout_ms, Ordering::Relaxed);
        if old != l.handshake_timeout_ms {
            changed.push(format!(
                "limits.handshake_timeout_ms {old} -> {}",
                l.handshake_timeout_ms
            ));
        }
        let idle_ms = l.idle_timeout_s.saturating_mul(1000);
        let old = self.idle_timeout_ms.swap(idle_ms, Ordering::Relaxed);
        if old != idle_ms {
            changed.push(format!("limits.idle_timeout_s {} -> {}", old / 1000, l.idle_timeout_s));
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn capacity_grows_at_once_and_shrinks_as_permits_come_back() {
        let c = Capacity::new(3);
        let sem = c.semaphore();
        let a = sem.clone().try_acquire_owned().unwrap();
        let b = sem.clone().try_acquire_owned().unwrap();
        // (new size, free permits right after), two permits in use throughout.
        let steps: &[(usize, usize)] = &[(5, 3), (2, 0), (4, 2), (1, 0)];
        for &(size, free) in steps {
            c.resize(size);
            tokio::task::yield_now().await;
            assert_eq!(sem.available_permits(), free, "size {size}");
            assert_eq!(c.size(), size);
        }
        // Size 1 with 2 in use: one more permit is owed; the first release pays it.
        drop(a);
        tokio::task::yield_now().await;
        assert_eq!(sem.available_permits(), 0);
        drop(b);
        tokio::task::yield_now().await;
        assert_eq!(sem.available_permits(), 1);
    }
}
