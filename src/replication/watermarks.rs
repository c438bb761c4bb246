//! The member's durable watermark, reported to the log as it moves.

use std::time::Duration;

use super::group::Group;
use super::txn::Entry;

/// How often a member reports its durable watermark (when it moved).
const REPORT_EVERY: Duration = Duration::from_millis(500);

/// Reports this member's durable watermark to the log from time to time, so certification
/// state and the entries a snapshot retains can be collected deterministically. Only what
/// mysqld has recorded is reported: after any restart this member resumes at or above it, so
/// it never needs an entry the group has let go.
pub(super) async fn report(group: std::sync::Weak<Group>) {
    let mut last = 0;
    loop {
        tokio::time::sleep(REPORT_EVERY).await;
        let Some(g) = group.upgrade() else { return };
        let w = *g.durable.borrow();
        let entry = Entry::Watermark {
            member: g.member_id,
            applied: w,
        };
        if w > last && g.propose(&entry).await.is_ok() {
            last = w;
        }
    }
}
