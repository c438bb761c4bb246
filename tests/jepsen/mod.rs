//! Jepsen-style checking for group-replication tests: a history recorder, checkers for the
//! list-append and bank workloads (snapshot isolation, acknowledged writes), per-run figures,
//! and a fault-injecting TCP relay.
//!
//! Use from a test file with `mod jepsen;`. A runner records every operation through a
//! [`Recorder`], calls [`Recorder::mark_final`] once the faults are healed and the group has
//! settled, takes a final read on every member, then checks the history with
//! [`check_list_append`] or [`check_bank`] and calls [`Report::assert_valid`].
#![allow(dead_code, unused_imports)]

pub mod acked;
pub mod bank;
pub mod cycles;
pub mod history;
pub mod list_append;
pub mod relay;
pub mod report;

pub use bank::BankOptions;
pub use history::{
    balances, transfer, txn, BankOp, History, Key, MicroOp, Op, OpId, OpValue, Outcome, Recorder, Value,
};
pub use relay::{Fault, HealPolicy, Relay};
pub use report::{Anomaly, AnomalyKind, Figures, Report};

/// Checks a list-append history from a group of `members` members: snapshot isolation
/// (dependency cycles and the other list anomalies) and acknowledged appends.
pub fn check_list_append(history: &History, members: usize) -> Report {
    let ops = history.ops();
    let mut anomalies = list_append::check(&ops);
    anomalies.extend(acked::check_appends(&ops, members));
    Report::new(&ops, anomalies)
}

/// Checks a bank history: every read's balances, and final balances against acknowledged
/// transfers.
pub fn check_bank(history: &History, opts: &BankOptions) -> Report {
    let ops = history.ops();
    let mut anomalies = bank::check_reads(&ops, opts);
    anomalies.extend(acked::check_transfers(&ops, opts));
    Report::new(&ops, anomalies)
}
