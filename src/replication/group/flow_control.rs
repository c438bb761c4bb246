//! Flow control: writers wait for the slowest member (see [`Group::pace`]).

use std::time::Duration;

use super::Group;

/// A member whose last watermark report is older than this is away: it does not hold the
/// others back.
const FRESH: Duration = Duration::from_secs(5);
/// Longest a transaction waits for the slowest member: the group slows down, it never stops.
const MAX_WAIT: Duration = Duration::from_secs(2);
/// Longest a waiting transaction goes without looking again when nothing was applied.
const RECHECK: Duration = Duration::from_millis(100);

impl Group {
    /// Flow control: while the slowest member (this one included) is more than
    /// `flow_control_entries` behind the certified index, a transaction waits before it
    /// starts (at most [`MAX_WAIT`]), so members that replay more slowly than
    /// the writers commit are not left ever further behind. Other members' positions come
    /// from their watermark reports (their durable watermark, about a second old).
    ///
    /// It waits before the transaction takes any lock, never at its commit: a prepared
    /// transaction held back here kept the rows the applier needed, so a member that fell
    /// 2000 entries behind replayed about one entry a second while its clients wrote (each
    /// replay waited out its lock timeout) and never caught up (Jepsen, 600 s run).
    pub async fn pace(&self) {
        if self.flow_control_entries == 0 {
            return;
        }
        let started = std::time::Instant::now();
        let mut applied = self.watermark.clone();
        loop {
            let slowest = self
                .machine
                .slowest_report(self.member_id, FRESH)
                .unwrap_or(u64::MAX)
                .min(self.watermark());
            let waited = started.elapsed();
            if self.certified_index().saturating_sub(slowest) <= self.flow_control_entries || waited >= MAX_WAIT {
                break;
            }
            // What ends the wait moves this member's watermark: its own applying, and other
            // members' reports, which are log entries it applies. A report that goes stale
            // moves nothing, hence the bound on each wait.
            let _ = tokio::time::timeout((MAX_WAIT - waited).min(RECHECK), applied.changed()).await;
        }
        if started.elapsed() >= Duration::from_millis(5) {
            self.stats.flow_control.record(started.elapsed());
        }
    }
}
