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
        if !worth_reporting(w, last, g.last_substantive()) {
            continue;
        }
        let entry = Entry::Watermark {
            member: g.member_id,
            applied: w,
        };
        if g.propose(&entry).await.is_ok() {
            last = w;
        }
    }
}

/// Whether a durable watermark `w` is worth a log entry, after `last` was reported and with
/// `substantive` the last entry that was not a report. Reports are entries themselves, and
/// applying one moves every member's watermark: reporting every move kept an idle group
/// writing a few entries a second (and as many marker updates in each mysqld) for ever. So a
/// move over nothing but reports is not reported; the first report of a process always is.
fn worth_reporting(w: u64, last: u64, substantive: u64) -> bool {
    w > last && (last == 0 || substantive > last)
}

#[cfg(test)]
mod tests {
    use super::worth_reporting;

    #[test]
    fn moves_over_reports_alone_are_not_reported() {
        // (durable watermark, last reported, last entry that was not a report, report?)
        let cases = [
            (10, 0, 0, true),    // the first report of a process
            (10, 10, 10, false), // no move
            (12, 10, 11, true),  // a transaction at 11
            (14, 12, 11, false), // 13 and 14 were other members' reports
            (20, 14, 30, true),  // still catching up with real entries
            (30, 20, 30, true),
            (33, 30, 30, false), // idle again
            (9, 10, 30, false),  // never backwards
        ];
        for (w, last, substantive, want) in cases {
            assert_eq!(worth_reporting(w, last, substantive), want, "{w} {last} {substantive}");
        }
    }
}
