//! Counters of a member's write path, shown by `SHOW GRPROXY STATUS` so operators (and
//! benchmarks) can see where a transaction's time goes without a profiler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A count, the total time spent in one phase, and its histogram (for /metrics).
#[derive(Default, Debug)]
pub struct Timer {
    count: AtomicU64,
    micros: AtomicU64,
    histogram: crate::latency::Latency,
}

impl Timer {
    pub fn record(&self, d: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        self.histogram.observe(d);
    }

    pub fn histogram(&self) -> crate::latency::LatencySnapshot {
        self.histogram.snapshot()
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Mean time per event in microseconds (0 when nothing was recorded).
    pub fn mean_micros(&self) -> u64 {
        self.micros.load(Ordering::Relaxed) / self.count().max(1)
    }
}

/// The phases of this member's write path.
#[derive(Default, Debug)]
pub struct GroupStats {
    /// Capture around one DML statement (locking read, the statement, read-back).
    pub capture: Timer,
    /// Proposal of a transaction until its verdict is known.
    pub propose: Timer,
    /// Certified and committed at the origin: marker and COMMIT on the session's connection.
    pub local_commit: Timer,
    /// Transactions the certifier aborted at the origin (their clients got 1213).
    pub aborts: AtomicU64,
    /// Replay of another member's transaction on the local mysqld.
    pub replay: Timer,
    /// mysqld transactions that replayed several log entries at once.
    pub replay_batches: AtomicU64,
    /// Proposals held back by flow control (a member too far behind), and for how long.
    pub flow_control: Timer,
}

impl GroupStats {
    /// The phases as (metric name, help, histogram), for /metrics.
    pub fn histograms(&self) -> Vec<(&'static str, &'static str, crate::latency::LatencySnapshot)> {
        vec![
            (
                "capture_duration",
                "XA END + XA PREPARE + the transaction's row events from the binlog tap, per commit.",
                self.capture.histogram(),
            ),
            (
                "propose_duration",
                "A transaction's proposal until its certification verdict (the Raft round included).",
                self.propose.histogram(),
            ),
            (
                "local_commit_duration",
                "XA COMMIT of a certified transaction at its origin.",
                self.local_commit.histogram(),
            ),
            (
                "replay_duration",
                "Replay of another member's transaction on this member's mysqld.",
                self.replay.histogram(),
            ),
            (
                "flow_control_wait_duration",
                "Time a transaction waited for flow control before its proposal.",
                self.flow_control.histogram(),
            ),
        ]
    }

    pub fn rows(&self) -> Vec<(&'static str, String)> {
        vec![
            ("captures", self.capture.count().to_string()),
            ("capture_avg_us", self.capture.mean_micros().to_string()),
            ("proposals", self.propose.count().to_string()),
            ("propose_avg_us", self.propose.mean_micros().to_string()),
            ("local_commits", self.local_commit.count().to_string()),
            ("local_commit_avg_us", self.local_commit.mean_micros().to_string()),
            ("certification_aborts", self.aborts.load(Ordering::Relaxed).to_string()),
            ("replayed_transactions", self.replay.count().to_string()),
            ("replay_avg_us", self.replay.mean_micros().to_string()),
            (
                "replay_batches",
                self.replay_batches.load(Ordering::Relaxed).to_string(),
            ),
            ("flow_control_waits", self.flow_control.count().to_string()),
            ("flow_control_wait_avg_us", self.flow_control.mean_micros().to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_mean() {
        let t = Timer::default();
        assert_eq!(t.mean_micros(), 0);
        t.record(Duration::from_micros(100));
        t.record(Duration::from_micros(300));
        assert_eq!((t.count(), t.mean_micros()), (2, 200));
    }
}
