//! Acknowledged writes: after healing, every member's final reads must hold every write the
//! clients were told committed.
//!
//! Final reads are the committed reads invoked after [`History::mark_final`]. When a member
//! gave several final reads of a key, the latest one counts. Writes with unknown outcome may or
//! may not be present. Failed writes must be absent; a committed read holding one is G1a, which
//! the list-append analysis already reports for every read, final ones included, so it is not
//! reported twice here. The final reads of all members must also agree with each other: the
//! runner is expected to let the group settle before taking them.
//!
//! [`History::mark_final`]: super::history::History::mark_final

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::bank::BankOptions;
use super::history::{BankOp, Key, MicroOp, Op, OpId, OpValue, Outcome, Value};
use super::report::{Anomaly, AnomalyKind};

/// Unknown-outcome transfers beyond this many are checked by bounds only (the exact check
/// tries every subset).
const EXACT_SUBSET_LIMIT: usize = 20;

fn final_ops(ops: &[Op]) -> impl Iterator<Item = &Op> {
    ops.iter().filter(|o| o.is_final && o.outcome == Outcome::Ok)
}

fn no_final_read(member: usize) -> Anomaly {
    Anomaly::new(
        AnomalyKind::NoFinalRead,
        vec![],
        format!("member {member} gave no final read"),
    )
}

/// A member's final read of a key: (member, reading op, list read).
type FinalRead<'a> = (usize, OpId, &'a [Value]);

/// Per member, per key: the final read that counts (reading op, list read).
type FinalLists<'a> = BTreeMap<usize, BTreeMap<Key, (OpId, &'a Vec<Value>)>>;

/// Checks that every acknowledged append is in each of `members` members' final reads.
pub fn check_appends(ops: &[Op], members: usize) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let mut finals: FinalLists = BTreeMap::new();
    for op in final_ops(ops) {
        let OpValue::Txn(mops) = &op.value else { continue };
        let member = finals.entry(op.member).or_default();
        for m in mops {
            if let MicroOp::Read(k, Some(list)) = m {
                member.insert(*k, (op.id, list));
            }
        }
    }
    let contents: BTreeMap<(usize, Key), HashSet<Value>> = finals
        .iter()
        .flat_map(|(&m, keys)| {
            keys.iter()
                .map(move |(&k, (_, list))| ((m, k), list.iter().copied().collect()))
        })
        .collect();
    anomalies.extend((0..members).filter(|m| !finals.contains_key(m)).map(no_final_read));

    let mut missing_keys: BTreeSet<(usize, Key)> = BTreeSet::new();
    for op in ops.iter().filter(|o| o.outcome == Outcome::Ok && !o.is_final) {
        let OpValue::Txn(mops) = &op.value else { continue };
        for m in mops {
            let MicroOp::Append(k, v) = *m else { continue };
            let mut lost_on = Vec::new();
            let mut readers = vec![op.id];
            for (&member, keys) in &finals {
                match keys.get(&k) {
                    None => {
                        missing_keys.insert((member, k));
                    }
                    Some((reader, _)) if !contents[&(member, k)].contains(&v) => {
                        lost_on.push(member);
                        readers.push(*reader);
                    }
                    Some(_) => {}
                }
            }
            if !lost_on.is_empty() {
                anomalies.push(Anomaly::new(
                    AnomalyKind::LostAppend,
                    readers,
                    format!(
                        "acknowledged append of {v} to key {k} by T{} missing on member(s) {lost_on:?}",
                        op.id
                    ),
                ));
            }
        }
    }
    for (member, k) in missing_keys {
        anomalies.push(Anomaly::new(
            AnomalyKind::FinalReadMissing,
            vec![],
            format!("member {member}'s final reads skip key {k}, which acknowledged appends wrote"),
        ));
    }

    // Convergence: all members that read a key in the end read the same list.
    // key -> [(member, reading op, list)]
    let mut by_key: BTreeMap<Key, Vec<FinalRead>> = BTreeMap::new();
    for (&member, keys) in &finals {
        for (&k, (reader, list)) in keys {
            by_key.entry(k).or_default().push((member, *reader, list.as_slice()));
        }
    }
    for (k, lists) in by_key {
        if lists.windows(2).any(|w| w[0].2 != w[1].2) {
            let shown: Vec<String> = lists.iter().map(|(m, _, l)| format!("member {m}: {l:?}")).collect();
            anomalies.push(Anomaly::new(
                AnomalyKind::FinalReadsDiffer,
                lists.iter().map(|l| l.1).collect(),
                format!("final reads of key {k} differ: {}", shown.join("; ")),
            ));
        }
    }
    anomalies
}

/// Net effect of a transfer on each account it touches.
fn effect(from: Key, to: Key, amount: i64) -> [(Key, i64); 2] {
    [(from, -amount), (to, amount)]
}

/// Checks each member's final balances against the initial ones plus every acknowledged
/// transfer plus some subset of the unknown-outcome ones. Failed transfers must not count.
pub fn check_transfers(ops: &[Op], opts: &BankOptions) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let mut expected = opts.initial.clone();
    let mut unknown: Vec<(OpId, Key, Key, i64)> = Vec::new();
    for op in ops {
        let OpValue::Bank(BankOp::Transfer { from, to, amount }) = op.value else {
            continue;
        };
        match op.outcome {
            Outcome::Ok => {
                for (acct, d) in effect(from, to, amount) {
                    *expected.entry(acct).or_default() += d;
                }
            }
            Outcome::Info => unknown.push((op.id, from, to, amount)),
            Outcome::Fail => {}
        }
    }

    let mut finals: BTreeMap<usize, (OpId, &BTreeMap<Key, i64>)> = BTreeMap::new();
    for op in final_ops(ops) {
        if let OpValue::Bank(BankOp::Read(Some(b))) = &op.value {
            finals.insert(op.member, (op.id, b));
        }
    }
    anomalies.extend((0..opts.members).filter(|m| !finals.contains_key(m)).map(no_final_read));

    for (&member, &(reader, balances)) in &finals {
        // What the unknown transfers would have to add up to, per account.
        let mut gap: BTreeMap<Key, i64> = BTreeMap::new();
        for acct in expected.keys().chain(balances.keys()) {
            let d = balances.get(acct).copied().unwrap_or(0) - expected.get(acct).copied().unwrap_or(0);
            if d != 0 {
                gap.insert(*acct, d);
            }
        }
        if !explained_by_some_subset(&gap, &unknown) {
            anomalies.push(Anomaly::new(
                AnomalyKind::LedgerMismatch,
                vec![reader],
                format!(
                    "member {member}'s final balances differ from initial + acknowledged transfers by {gap:?}, \
                     which no subset of the {} unknown-outcome transfers explains",
                    unknown.len()
                ),
            ));
        }
    }

    let distinct: BTreeSet<&BTreeMap<Key, i64>> = finals.values().map(|f| f.1).collect();
    if distinct.len() > 1 {
        let shown: Vec<String> = finals.iter().map(|(m, (_, b))| format!("member {m}: {b:?}")).collect();
        anomalies.push(Anomaly::new(
            AnomalyKind::FinalReadsDiffer,
            finals.values().map(|f| f.0).collect(),
            format!("final balances differ: {}", shown.join("; ")),
        ));
    }
    anomalies
}

/// Whether some subset of `unknown` transfers has exactly the net effect `gap`. Exact (every
/// subset, in Gray-code order so each step applies or undoes one transfer) up to
/// [`EXACT_SUBSET_LIMIT`] transfers; beyond, only checks each account's gap lies between the
/// most it could lose and the most it could gain.
fn explained_by_some_subset(gap: &BTreeMap<Key, i64>, unknown: &[(OpId, Key, Key, i64)]) -> bool {
    if gap.is_empty() {
        return true;
    }
    if unknown.len() > EXACT_SUBSET_LIMIT {
        let mut range: BTreeMap<Key, (i64, i64)> = BTreeMap::new();
        for &(_, from, to, amount) in unknown {
            for (acct, d) in effect(from, to, amount) {
                let r = range.entry(acct).or_default();
                if d < 0 {
                    r.0 += d;
                } else {
                    r.1 += d;
                }
            }
        }
        return gap
            .iter()
            .all(|(acct, d)| range.get(acct).is_some_and(|&(lo, hi)| lo <= *d && *d <= hi));
    }
    // remaining[acct] = gap still to cover by the transfers not (yet) applied.
    let mut remaining = gap.clone();
    let mut nonzero = remaining.len();
    let mut applied = vec![false; unknown.len()];
    for step in 1u64..(1u64 << unknown.len()) {
        let i = step.trailing_zeros() as usize;
        applied[i] = !applied[i];
        let sign = if applied[i] { -1 } else { 1 };
        let (_, from, to, amount) = unknown[i];
        for (acct, d) in effect(from, to, amount) {
            let r = remaining.entry(acct).or_default();
            let was_zero = *r == 0;
            *r += sign * d;
            match (was_zero, *r == 0) {
                (true, false) => nonzero += 1,
                (false, true) => nonzero -= 1,
                _ => {}
            }
        }
        if nonzero == 0 {
            return true;
        }
    }
    false
}
