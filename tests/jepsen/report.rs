//! What a check found: anomalies by class, per-run figures, and a readable account of both.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::history::{History, Op, OpId, Outcome};

/// Classes of anomaly the checkers report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnomalyKind {
    // Dependency cycles (Adya), list-append.
    /// Cycle of write-write edges only (dirty write).
    G0,
    /// Aborted read: a committed txn saw a value written by a failed txn.
    G1a,
    /// Intermediate read: a txn saw a list ending at a value its writer later appended past.
    G1b,
    /// Cycle of write-write and write-read edges (circular information flow).
    G1c,
    /// Cycle with exactly one read-write anti-dependency (read skew, lost update).
    GSingle,
    /// Cycle with two or more anti-dependencies: write skew. Allowed under snapshot isolation.
    G2Item,
    // Other list-append anomalies.
    /// A txn's read disagreed with its own earlier reads and appends of the same key.
    Internal,
    /// Two reads of one key, neither a prefix of the other.
    IncompatibleOrder,
    /// A read list holding the same value twice (an append applied twice).
    DuplicateElements,
    /// A read holding a value nobody ever tried to append.
    NeverWritten,
    /// Two ops appended the same value to the same key: the workload broke its own rule, so
    /// the inference is unsound for that key.
    DuplicateAppend,
    // Acknowledged writes.
    /// An acknowledged append missing from a member's final read of its key.
    LostAppend,
    /// A member's final reads left out a key that acknowledged appends wrote.
    FinalReadMissing,
    /// A member was expected to give final reads and gave none.
    NoFinalRead,
    /// Two members' final reads of a key differ: the group did not converge.
    FinalReadsDiffer,
    // Bank.
    /// A read whose balances do not add up to the initial total.
    WrongTotal,
    /// A negative balance, where the workload forbids them.
    NegativeBalance,
    /// A read lacking an account.
    MissingAccount,
    /// A read holding an account that was never created.
    UnexpectedAccount,
    /// Final balances are not the initial ones plus every acknowledged transfer plus some
    /// subset of unknown ones (a lost acknowledged transfer, or a failed one applied).
    LedgerMismatch,
}

impl AnomalyKind {
    /// Whether a snapshot-isolated store may legitimately show this.
    pub fn allowed_under_si(self) -> bool {
        matches!(self, AnomalyKind::G2Item)
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            AnomalyKind::G0 => "G0",
            AnomalyKind::G1a => "G1a",
            AnomalyKind::G1b => "G1b",
            AnomalyKind::G1c => "G1c",
            AnomalyKind::GSingle => "G-single",
            AnomalyKind::G2Item => "G2-item",
            AnomalyKind::Internal => "internal",
            AnomalyKind::IncompatibleOrder => "incompatible-order",
            AnomalyKind::DuplicateElements => "duplicate-elements",
            AnomalyKind::NeverWritten => "never-written",
            AnomalyKind::DuplicateAppend => "duplicate-append",
            AnomalyKind::LostAppend => "lost-append",
            AnomalyKind::FinalReadMissing => "final-read-missing",
            AnomalyKind::NoFinalRead => "no-final-read",
            AnomalyKind::FinalReadsDiffer => "final-reads-differ",
            AnomalyKind::WrongTotal => "wrong-total",
            AnomalyKind::NegativeBalance => "negative-balance",
            AnomalyKind::MissingAccount => "missing-account",
            AnomalyKind::UnexpectedAccount => "unexpected-account",
            AnomalyKind::LedgerMismatch => "ledger-mismatch",
        };
        f.write_str(s)
    }
}

/// One finding: its class, the ops involved, and a sentence saying what was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub ops: Vec<OpId>,
    pub detail: String,
}

impl Anomaly {
    pub fn new(kind: AnomalyKind, ops: Vec<OpId>, detail: impl Into<String>) -> Self {
        Anomaly {
            kind,
            ops,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allowed = if self.kind.allowed_under_si() {
            " (allowed under SI)"
        } else {
            ""
        };
        write!(f, "{}{}: {}", self.kind, allowed, self.detail)
    }
}

/// Counts for one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Every invoked op, final reads included.
    pub attempted: usize,
    pub acknowledged: usize,
    pub failed: usize,
    /// Completed with unknown outcome, or never completed.
    pub unknown: usize,
    /// Acknowledged writes missing from final reads (appends), or acknowledged transfers the
    /// final balances cannot account for (0 or 1 per member for the bank: see the detail).
    pub lost_acknowledged: usize,
    pub anomalies: BTreeMap<AnomalyKind, usize>,
}

impl Figures {
    pub fn count(ops: &[Op]) -> Self {
        let of = |o: Outcome| ops.iter().filter(|op| op.outcome == o).count();
        Figures {
            attempted: ops.len(),
            acknowledged: of(Outcome::Ok),
            failed: of(Outcome::Fail),
            unknown: of(Outcome::Info),
            ..Default::default()
        }
    }
}

/// The result of checking a history.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub figures: Figures,
    pub anomalies: Vec<Anomaly>,
}

impl Report {
    pub fn new(ops: &[Op], anomalies: Vec<Anomaly>) -> Self {
        let mut figures = Figures::count(ops);
        for a in &anomalies {
            *figures.anomalies.entry(a.kind).or_default() += 1;
            if a.kind == AnomalyKind::LostAppend {
                figures.lost_acknowledged += 1;
            }
            if a.kind == AnomalyKind::LedgerMismatch {
                figures.lost_acknowledged += 1;
            }
        }
        Report { figures, anomalies }
    }

    /// True when nothing a snapshot-isolated store must prevent was found.
    pub fn is_valid(&self) -> bool {
        self.violations().next().is_none()
    }

    pub fn violations(&self) -> impl Iterator<Item = &Anomaly> {
        self.anomalies.iter().filter(|a| !a.kind.allowed_under_si())
    }

    /// The classes found, violations and allowed ones alike.
    pub fn kinds(&self) -> BTreeSet<AnomalyKind> {
        self.anomalies.iter().map(|a| a.kind).collect()
    }

    /// The summary, then every anomaly followed by the ops it involves.
    pub fn explain(&self, history: &History) -> String {
        let ops = history.ops();
        let mut s = format!("{self}\n");
        for a in &self.anomalies {
            s.push_str(&format!("\n{a}\n"));
            for id in &a.ops {
                if let Some(op) = ops.iter().find(|o| o.id == *id) {
                    match history.label(op.process) {
                        Some(l) => s.push_str(&format!("    {op}  [{l}]\n")),
                        None => s.push_str(&format!("    {op}\n")),
                    }
                }
            }
        }
        s
    }

    /// Panics with [`Report::explain`] unless valid. The full history follows if short, and is
    /// written to a file in the temp directory otherwise.
    pub fn assert_valid(&self, history: &History) {
        if self.is_valid() {
            return;
        }
        let mut msg = self.explain(history);
        if history.events().len() <= 400 {
            msg.push_str("\nhistory:\n");
            msg.push_str(&history.render());
        } else {
            // Too long to read in a panic message: kept in a file instead.
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let path = std::env::temp_dir().join(format!(
                "jepsen-history-{}-{}.txt",
                std::process::id(),
                stamp.as_nanos()
            ));
            let saved = match std::fs::write(&path, history.render()) {
                Ok(()) => format!("written to {}", path.display()),
                Err(e) => format!("not saved: {e}"),
            };
            msg.push_str(&format!("\n(history of {} events {saved})\n", history.events().len()));
        }
        panic!("history check failed\n{msg}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fg = &self.figures;
        writeln!(f, "{}", if self.is_valid() { "VALID" } else { "INVALID" })?;
        writeln!(
            f,
            "ops: {} attempted, {} ok, {} failed, {} unknown; lost acknowledged: {}",
            fg.attempted, fg.acknowledged, fg.failed, fg.unknown, fg.lost_acknowledged
        )?;
        if fg.anomalies.is_empty() {
            write!(f, "anomalies: none")
        } else {
            let parts: Vec<String> = fg
                .anomalies
                .iter()
                .map(|(k, n)| format!("{k} x{n}{}", if k.allowed_under_si() { " (allowed)" } else { "" }))
                .collect();
            write!(f, "anomalies: {}", parts.join(", "))
        }
    }
}
