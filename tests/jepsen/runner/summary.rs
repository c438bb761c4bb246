//! The figures of a run, as printed at its end: per workload the op counts, lost acknowledged
//! writes and anomalies by class; per fault the time until the group committed again and the
//! time the hit members took to catch up; the final checksums of every member.

use std::fmt::Write as _;
use std::time::Duration;

use super::faults::{secs, FaultEvent};
use super::status::Checksums;
use std::collections::BTreeMap;

use crate::jepsen::{BankOp, History, MicroOp, Op, OpValue, Outcome, Report};

/// Recovery goal: a majority commits again within this long of a fault.
pub const RECOVERY_GOAL: Duration = Duration::from_secs(5);

fn is_write(op: &Op) -> bool {
    match &op.value {
        OpValue::Bank(BankOp::Transfer { .. }) => true,
        OpValue::Txn(mops) => mops.iter().any(|m| matches!(m, MicroOp::Append(..))),
        _ => false,
    }
}

/// Per fault: from its effective start until the first acknowledged write invoked after it
/// completed (None if none did).
pub fn recovery(events: &[FaultEvent], ops: &[Op]) -> Vec<Option<Duration>> {
    events
        .iter()
        .map(|ev| {
            ops.iter()
                .filter(|o| o.outcome == Outcome::Ok && !o.is_final && is_write(o) && o.invoked >= ev.effective)
                .filter_map(|o| o.completed)
                .min()
                .map(|c| c.saturating_sub(ev.effective))
        })
        .collect()
}

/// Acknowledged writes completed after `t`, per member.
pub fn writes_after(ops: &[Op], t: Duration, members: usize) -> Vec<usize> {
    let mut n = vec![0; members];
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok && is_write(o)) {
        if o.completed.is_some_and(|c| c >= t) && o.member < members {
            n[o.member] += 1;
        }
    }
    n
}

/// Op counts of one kind of client: attempted, ok, failed, unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub attempted: usize,
    pub ok: usize,
    pub failed: usize,
    pub unknown: usize,
}

/// Per process label (the client kind), the counts of the ops before the final reads.
pub fn by_kind(history: &History) -> BTreeMap<String, Counts> {
    let mut by: BTreeMap<String, Counts> = BTreeMap::new();
    for o in history.ops().iter().filter(|o| !o.is_final) {
        let c = by
            .entry(history.label(o.process).unwrap_or("unlabelled").to_string())
            .or_default();
        c.attempted += 1;
        match o.outcome {
            Outcome::Ok => c.ok += 1,
            Outcome::Fail => c.failed += 1,
            Outcome::Info => c.unknown += 1,
        }
    }
    by
}

pub struct Summary<'a> {
    pub header: String,
    pub reports: Vec<(&'static str, &'a Report)>,
    pub events: &'a [FaultEvent],
    pub recovery: Vec<Option<Duration>>,
    pub writes_after_heal: Vec<usize>,
    /// Per workload, the op counts of each kind of client.
    pub by_kind: Vec<(&'static str, BTreeMap<String, Counts>)>,
    pub converged_in: Option<Duration>,
    pub checksums: Vec<Option<Checksums>>,
    pub elapsed: Duration,
}

impl Summary<'_> {
    pub fn render(&self) -> String {
        let mut s = format!("\n==== jepsen run: {} ====\n", self.header);
        let _ = writeln!(
            s,
            "{:<8} {:>9} {:>7} {:>7} {:>8} {:>10}  anomalies",
            "workload", "attempted", "ok", "failed", "unknown", "lost-acked"
        );
        for (name, r) in &self.reports {
            let f = &r.figures;
            let anomalies: Vec<String> = f
                .anomalies
                .iter()
                .map(|(k, n)| format!("{k} x{n}{}", if k.allowed_under_si() { " (allowed)" } else { "" }))
                .collect();
            let _ = writeln!(
                s,
                "{:<8} {:>9} {:>7} {:>7} {:>8} {:>10}  {}",
                name,
                f.attempted,
                f.acknowledged,
                f.failed,
                f.unknown,
                f.lost_acknowledged,
                if anomalies.is_empty() {
                    "none".into()
                } else {
                    anomalies.join(", ")
                }
            );
        }
        let _ = writeln!(
            s,
            "by client kind: {:<8} {:<11} {:>9} {:>7} {:>7} {:>8}",
            "workload", "kind", "attempted", "ok", "failed", "unknown"
        );
        for (name, kinds) in &self.by_kind {
            for (kind, c) in kinds {
                let _ = writeln!(
                    s,
                    "                {:<8} {:<11} {:>9} {:>7} {:>7} {:>8}",
                    name, kind, c.attempted, c.ok, c.failed, c.unknown
                );
            }
        }
        let _ = writeln!(s, "faults ({}):", self.events.len());
        for (ev, rec) in self.events.iter().zip(&self.recovery) {
            let slow = match rec {
                Some(d) if *d <= RECOVERY_GOAL => "",
                _ => "  (over the 5 s goal)",
            };
            let from = if ev.effective > ev.start { " after restart" } else { "" };
            let _ = writeln!(
                s,
                "  [{:>6.1}s] {:<58} commits again{from} {}{slow}; hit members caught up {} after heal{}",
                ev.start.as_secs_f64(),
                format!("{}: {}", ev.kind.name(), ev.what),
                secs(*rec),
                secs(ev.catch_up),
                ev.trouble
                    .as_deref()
                    .map(|t| format!("; TROUBLE: {t}"))
                    .unwrap_or_default()
            );
        }
        let measured: Vec<Duration> = self.recovery.iter().flatten().copied().collect();
        if let Some(max) = measured.iter().max() {
            let _ = writeln!(
                s,
                "recovery (fault -> majority commits): max {:.2}s, {} of {} within the 5 s goal",
                max.as_secs_f64(),
                measured.iter().filter(|d| **d <= RECOVERY_GOAL).count(),
                self.recovery.len()
            );
        }
        let _ = writeln!(
            s,
            "acknowledged writes per member after the final heal: {:?}",
            self.writes_after_heal
        );
        let _ = writeln!(s, "converged after heal in {}", secs(self.converged_in));
        for (m, c) in self.checksums.iter().enumerate() {
            let shown = match c {
                Some(rows) => rows
                    .iter()
                    .map(|(t, v)| format!("{t}={}", v.map(|v| v.to_string()).unwrap_or("NULL".into())))
                    .collect::<Vec<_>>()
                    .join(" "),
                None => "no answer".into(),
            };
            let _ = writeln!(s, "final CHECKSUM TABLE m{m}: {shown}");
        }
        let equal = self.checksums.iter().all(|c| c.is_some() && *c == self.checksums[0]);
        let _ = writeln!(
            s,
            "checksums equal on every member: {}",
            if equal { "yes" } else { "NO" }
        );
        let _ = writeln!(s, "wall time: {:.1}s", self.elapsed.as_secs_f64());
        s
    }
}
