//! Counters of the client side (connections, statements by class), plain atomics bumped on
//! the data path and read by whoever reports them (`/metrics`, see `crate::admin`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::sql::{Classified, StatementKind};

/// Statement classes counted, in the order of [`FrontendStats::statements`].
pub const STATEMENT_CLASSES: [&str; 7] = ["read", "dml", "ddl", "transaction", "session", "admin", "other"];

fn class_index(kind: StatementKind) -> usize {
    match kind {
        StatementKind::Read => 0,
        StatementKind::Dml => 1,
        StatementKind::Ddl => 2,
        StatementKind::Transaction => 3,
        StatementKind::Session => 4,
        StatementKind::Admin => 5,
        StatementKind::Unsupported => 6,
    }
}

#[derive(Debug, Default)]
pub struct FrontendStats {
    /// Client connections accepted (before the limit is checked).
    pub accepted: AtomicU64,
    /// Connections refused with 1040: over `limits.max_connections`, or no handshake turn
    /// within the handshake timeout.
    pub refused_limit: AtomicU64,
    /// Connections whose login mysqld refused.
    pub auth_failed: AtomicU64,
    /// Connections that could not get a mysqld connection (the client got 1053).
    pub backend_unreachable: AtomicU64,
    /// Sessions that logged in.
    pub sessions: AtomicU64,
    /// Client connections open now (in the handshake or logged in).
    pub open: AtomicU64,
    /// Statements by class (`STATEMENT_CLASSES`): each statement of a COM_QUERY, and each
    /// COM_STMT_EXECUTE by its prepared text.
    statements: [AtomicU64; 7],
    /// Time from a COM_QUERY / COM_STMT_EXECUTE to the end of its response, by the class
    /// of its (first) statement. On a group member a COMMIT's includes the proposal,
    /// certification and the local commit.
    latency: [Latency; 7],
}

pub use crate::latency::{Latency, LatencySnapshot, LATENCY_BUCKETS};

impl FrontendStats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_statements<'a>(&self, classes: impl IntoIterator<Item = &'a Classified>) {
        for c in classes {
            self.statements[class_index(c.kind)].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn observe(&self, kind: StatementKind, d: Duration) {
        self.latency[class_index(kind)].observe(d);
    }

    /// (class, latency histogram) for every class in `STATEMENT_CLASSES`.
    pub fn latencies(&self) -> Vec<(&'static str, LatencySnapshot)> {
        STATEMENT_CLASSES
            .iter()
            .zip(&self.latency)
            .map(|(name, l)| (*name, l.snapshot()))
            .collect()
    }

    /// (class, count) for every class in `STATEMENT_CLASSES`.
    pub fn statements(&self) -> Vec<(&'static str, u64)> {
        STATEMENT_CLASSES
            .iter()
            .zip(&self.statements)
            .map(|(name, n)| (*name, n.load(Ordering::Relaxed)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_counted_by_class() {
        let s = FrontendStats::default();
        let classes: Vec<Classified> = ["SELECT 1", "insert into t values (1)", "BEGIN", "COMMIT", "frobnicate"]
            .iter()
            .map(|q| crate::sql::classify(q))
            .collect();
        s.count_statements(&classes);
        let got: std::collections::HashMap<_, _> = s.statements().into_iter().collect();
        assert_eq!(got["read"], 1);
        assert_eq!(got["dml"], 1);
        assert_eq!(got["transaction"], 2);
        assert_eq!(got["other"], 1);
        assert_eq!(got["ddl"], 0);
    }

    #[test]
    fn latency_buckets() {
        let l = Latency::default();
        l.observe(Duration::from_micros(300));
        l.observe(Duration::from_millis(3));
        l.observe(Duration::from_secs(60));
        let (sum, count, buckets) = l.snapshot();
        assert_eq!(count, 3);
        assert!((sum - 60.0033).abs() < 1e-9, "{sum}");
        assert_eq!(buckets.len(), LATENCY_BUCKETS.len() + 1);
        assert_eq!(buckets[0], (0.0005, 1));
        assert_eq!(buckets[3], (0.005, 1));
        assert_eq!(buckets[14], (f64::INFINITY, 1));
        assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 3);
    }
}
