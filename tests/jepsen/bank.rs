//! Bank workload: transfers move money between accounts, so every committed read of all
//! accounts, on any member and at any time (during faults too), must add up to the initial
//! total, hold every account and nothing else, and (if the workload forbids overdrafts) show
//! no negative balance. A snapshot read that mixes before- and after-states of a transfer, or a
//! transfer applied twice or half-applied, breaks the total.

use std::collections::BTreeMap;

use super::history::{BankOp, Key, Op, OpValue, Outcome};
use super::report::{Anomaly, AnomalyKind};

/// What the bank workload started from and promises.
#[derive(Clone, Debug)]
pub struct BankOptions {
    /// Balance of every account before the first transfer.
    pub initial: BTreeMap<Key, i64>,
    /// Whether transfers may overdraw an account.
    pub allow_negative: bool,
    /// Group size: each member is expected to give a final read.
    pub members: usize,
}

impl BankOptions {
    /// `accounts` accounts numbered from 0, each holding `balance`, overdrafts forbidden.
    pub fn uniform(accounts: u64, balance: i64, members: usize) -> Self {
        BankOptions {
            initial: (0..accounts).map(|a| (a, balance)).collect(),
            allow_negative: false,
            members,
        }
    }

    pub fn total(&self) -> i64 {
        self.initial.values().sum()
    }
}

/// Checks every committed read of the balances.
pub fn check_reads(ops: &[Op], opts: &BankOptions) -> Vec<Anomaly> {
    let total = opts.total();
    let mut anomalies = Vec::new();
    for op in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        let OpValue::Bank(BankOp::Read(Some(b))) = &op.value else {
            continue;
        };
        let mut add = |kind, detail: String| anomalies.push(Anomaly::new(kind, vec![op.id], detail));
        let missing: Vec<Key> = opts.initial.keys().filter(|a| !b.contains_key(a)).copied().collect();
        if !missing.is_empty() {
            add(
                AnomalyKind::MissingAccount,
                format!("T{} read lacks accounts {missing:?}", op.id),
            );
        }
        let extra: Vec<Key> = b.keys().filter(|a| !opts.initial.contains_key(a)).copied().collect();
        if !extra.is_empty() {
            add(
                AnomalyKind::UnexpectedAccount,
                format!("T{} read has unknown accounts {extra:?}", op.id),
            );
        }
        let sum: i64 = b.values().sum();
        if sum != total {
            add(
                AnomalyKind::WrongTotal,
                format!("T{} read total {sum}, expected {total}", op.id),
            );
        }
        let negative: Vec<(Key, i64)> = b.iter().filter(|(_, v)| **v < 0).map(|(k, v)| (*k, *v)).collect();
        if !opts.allow_negative && !negative.is_empty() {
            add(
                AnomalyKind::NegativeBalance,
                format!("T{} read negative balances {negative:?}", op.id),
            );
        }
    }
    anomalies
}
