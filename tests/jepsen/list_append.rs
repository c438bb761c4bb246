//! List-append inference: from the reads and appends of a history, the version order of each
//! key, the dependency edges between transactions, and the anomalies that need no cycle.
//!
//! Every appended value is unique per key, so a read list names the exact writer of each of
//! its elements, and the longest read of a key is the best known version order of that key
//! (every other read must be a prefix of it). From the order:
//! - ww: the writer of element i+1 depends on the writer of element i;
//! - wr: a reader depends on the writer of the last element it saw;
//! - rw: the writer of the element right after the last one a reader saw depends on that
//!   reader (the reader did not see it, so it was installed later).
//!
//! A transaction may read its own appends. Its first read of a key must end with the appends it
//! made to that key so far; what comes before them is the external part, the state it read
//! from others, and only that part yields wr/rw edges. Later reads of the key in the same
//! transaction must equal the earlier read plus the appends since (internal consistency).
//!
//! Which transactions count: `Ok` ones are committed; `Fail` ones did not happen (any of their
//! appends seen by a committed read is G1a, aborted read); `Info` ones may have happened, and
//! take part in edges through appends that were seen. The reads of `Fail` and `Info`
//! transactions are not trusted: the client never learned whether that snapshot committed.

use std::collections::{HashMap, HashSet};

use super::cycles::{Dep, Graph};
use super::history::{Key, MicroOp, Op, OpId, OpValue, Outcome, Value};
use super::report::{Anomaly, AnomalyKind};

/// Who appended a value, and whether they appended more to the same key afterwards.
#[derive(Clone, Copy, Debug)]
struct Writer {
    op: OpId,
    outcome: Outcome,
    /// The value this writer appended next to the same key, if any.
    next_own: Option<Value>,
}

/// A committed transaction's first read of a key.
#[derive(Debug)]
struct Read<'a> {
    op: OpId,
    key: Key,
    /// The whole list as read, own appends included.
    list: &'a [Value],
    /// How many leading elements came from other transactions.
    external: usize,
}

/// Runs the whole list-append analysis: inference, non-cycle anomalies, and cycles.
pub fn check(ops: &[Op]) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let writers = index_writers(ops, &mut anomalies);
    let reads = committed_reads(ops, &mut anomalies);
    let mut graph = Graph::new();

    let mut by_key: HashMap<Key, Vec<&Read>> = HashMap::new();
    for r in &reads {
        by_key.entry(r.key).or_default().push(r);
    }
    let mut keys: Vec<Key> = by_key.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        infer_key(key, &by_key[&key], &writers, &mut graph, &mut anomalies);
    }
    anomalies.extend(graph.anomalies());
    anomalies
}

/// Maps every attempted append to its writer. The same value appended twice to a key breaks
/// the workload's uniqueness rule; that is reported and the first writer kept.
fn index_writers(ops: &[Op], anomalies: &mut Vec<Anomaly>) -> HashMap<(Key, Value), Writer> {
    let mut writers: HashMap<(Key, Value), Writer> = HashMap::new();
    for op in ops {
        let OpValue::Txn(mops) = &op.value else { continue };
        let mut last_of_key: HashMap<Key, Value> = HashMap::new();
        for m in mops {
            let MicroOp::Append(k, v) = *m else { continue };
            if let Some(prev) = writers.get(&(k, v)) {
                anomalies.push(Anomaly::new(
                    AnomalyKind::DuplicateAppend,
                    vec![prev.op, op.id],
                    format!("value {v} appended to key {k} by T{} and T{}", prev.op, op.id),
                ));
                continue;
            }
            if let Some(prev) = last_of_key.insert(k, v) {
                if let Some(w) = writers.get_mut(&(k, prev)) {
                    w.next_own = Some(v);
                }
            }
            writers.insert(
                (k, v),
                Writer {
                    op: op.id,
                    outcome: op.outcome,
                    next_own: None,
                },
            );
        }
    }
    writers
}

/// The first read of each key by each committed transaction, after checking the
/// transaction's reads against its own appends.
fn committed_reads<'a>(ops: &'a [Op], anomalies: &mut Vec<Anomaly>) -> Vec<Read<'a>> {
    let mut reads = Vec::new();
    for op in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        let OpValue::Txn(mops) = &op.value else { continue };
        // Per key: the list as this txn must now see it (once read), and its own appends.
        let mut seen: HashMap<Key, Vec<Value>> = HashMap::new();
        let mut own: HashMap<Key, Vec<Value>> = HashMap::new();
        for m in mops {
            match m {
                MicroOp::Append(k, v) => {
                    if let Some(l) = seen.get_mut(k) {
                        l.push(*v);
                    }
                    own.entry(*k).or_default().push(*v);
                }
                MicroOp::Read(_, None) => {}
                MicroOp::Read(k, Some(list)) => {
                    if let Some(expected) = seen.get(k) {
                        if expected != list {
                            anomalies.push(internal(op.id, *k, list, expected));
                        }
                        continue;
                    }
                    let own_k = own.get(k).map(Vec::as_slice).unwrap_or_default();
                    if list.ends_with(own_k) {
                        let external = list.len() - own_k.len();
                        reads.push(Read {
                            op: op.id,
                            key: *k,
                            list,
                            external,
                        });
                    } else {
                        anomalies.push(Anomaly::new(
                            AnomalyKind::Internal,
                            vec![op.id],
                            format!(
                                "T{} read key {k} as {list:?}, not ending with its own appends {own_k:?}",
                                op.id
                            ),
                        ));
                    }
                    seen.insert(*k, list.clone());
                }
            }
        }
    }
    reads
}

fn internal(op: OpId, k: Key, list: &[Value], expected: &[Value]) -> Anomaly {
    Anomaly::new(
        AnomalyKind::Internal,
        vec![op],
        format!("T{op} read key {k} as {list:?}, but its earlier read and appends imply {expected:?}"),
    )
}

/// Checks the reads of one key and adds the edges they imply.
fn infer_key(
    key: Key,
    reads: &[&Read],
    writers: &HashMap<(Key, Value), Writer>,
    graph: &mut Graph,
    anomalies: &mut Vec<Anomaly>,
) {
    let longest = reads
        .iter()
        .max_by_key(|r| r.list.len())
        .expect("at least one read per key");
    let order = longest.list;
    // Reads that are prefixes of the order are checked element by element through the order
    // itself (once, however many reads there are); any other read on its own.
    let (mut prefixes, odd): (Vec<&Read>, Vec<&Read>) = reads.iter().partition(|r| order.starts_with(r.list));
    prefixes.sort_by_key(|r| r.list.len());
    let mut sound = check_elements(key, order, &prefixes, writers, anomalies);
    for r in &odd {
        sound &= check_elements(key, r.list, &[r], writers, anomalies);
    }
    if let Some(r) = odd.first() {
        sound = false;
        anomalies.push(Anomaly::new(
            AnomalyKind::IncompatibleOrder,
            vec![longest.op, r.op],
            format!(
                "key {key} read as {:?} by T{} and as {:?} by T{}: neither is a prefix of the other",
                order, longest.op, r.list, r.op
            ),
        ));
    }
    for r in reads.iter().filter(|r| r.external > 0) {
        let last = r.list[r.external - 1];
        if let Some(w) = writers.get(&(key, last)) {
            if w.op != r.op && w.outcome != Outcome::Fail {
                if let Some(next) = w.next_own {
                    anomalies.push(Anomaly::new(
                        AnomalyKind::G1b,
                        vec![w.op, r.op],
                        format!(
                            "T{} read key {key} ending at {last}, an intermediate append of T{} (which then appended {next})",
                            r.op, w.op
                        ),
                    ));
                }
            }
        }
    }
    if !sound {
        // Positions in the order no longer identify versions; edges would be guesses.
        return;
    }

    // Writers that certainly or possibly committed take part; aborted ones do not.
    let committed = |v: &Value| {
        writers
            .get(&(key, *v))
            .filter(|w| w.outcome != Outcome::Fail)
            .map(|w| w.op)
    };
    for pair in order.windows(2) {
        if let (Some(a), Some(b)) = (committed(&pair[0]), committed(&pair[1])) {
            graph.add(a, b, Dep::WW, key);
        }
    }
    for r in reads {
        if r.external > 0 {
            if let Some(w) = committed(&order[r.external - 1]) {
                graph.add(w, r.op, Dep::WR, key);
            }
        }
        if let Some(w) = order.get(r.external).and_then(committed) {
            graph.add(r.op, w, Dep::RW, key);
        }
    }
}

/// Checks the elements of `list`, as seen by `readers` (each read a prefix of `list`, sorted
/// by length): duplicates, values nobody appended, values whose append failed. Returns false
/// if the list cannot serve as a version order.
fn check_elements(
    key: Key,
    list: &[Value],
    readers: &[&Read],
    writers: &HashMap<(Key, Value), Writer>,
    anomalies: &mut Vec<Anomaly>,
) -> bool {
    // The readers whose read includes position i.
    let covering = |i: usize| &readers[readers.partition_point(|r| r.list.len() <= i)..];
    let mut sound = true;
    let mut seen = HashSet::new();
    if let Some(i) = list.iter().position(|v| !seen.insert(*v)) {
        sound = false;
        for r in covering(i) {
            anomalies.push(Anomaly::new(
                AnomalyKind::DuplicateElements,
                vec![r.op],
                format!("T{} read key {key} as {:?}: value {} twice", r.op, r.list, list[i]),
            ));
        }
    }
    for (i, v) in list.iter().enumerate() {
        match writers.get(&(key, *v)) {
            None => {
                sound = false;
                let r = covering(i)[0];
                anomalies.push(Anomaly::new(
                    AnomalyKind::NeverWritten,
                    vec![r.op],
                    format!("T{} read value {v} in key {key}, which no op appended", r.op),
                ));
            }
            Some(w) if w.outcome == Outcome::Fail => {
                for r in covering(i) {
                    anomalies.push(Anomaly::new(
                        AnomalyKind::G1a,
                        vec![w.op, r.op],
                        format!("T{} read value {v} in key {key}, appended by failed T{}", r.op, w.op),
                    ));
                }
            }
            Some(_) => {}
        }
    }
    sound
}
