//! Tests of the Jepsen-style harness pieces themselves: the history checkers must report
//! known-bad histories and pass known-good ones (table-driven), and the fault-injecting relay
//! must stall, close and resume connections as documented, never delivering a corrupt stream.

// The path is explicit: tests/jepsen.rs (the runner's test binary) would make `mod jepsen;`
// ambiguous.
#[path = "jepsen/mod.rs"]
mod jepsen;

use std::collections::BTreeSet;

use jepsen::AnomalyKind::{self, *};
use jepsen::{balances, check_bank, check_list_append, transfer, txn, BankOptions, History, MicroOp, OpValue, Outcome};

/// One line of a table history: outcome ("ok", "fail", "info", or "final" to mark where the
/// final reads begin), member, and the transaction in `history::txn` syntax.
type Line = (&'static str, usize, &'static str);

fn build(lines: &[Line], value: impl Fn(&str) -> OpValue) -> History {
    let mut h = History::new();
    for (process, &(outcome, member, body)) in lines.iter().enumerate() {
        let outcome = match outcome {
            "ok" => Outcome::Ok,
            "fail" => Outcome::Fail,
            "info" => Outcome::Info,
            "final" => {
                h.mark_final();
                continue;
            }
            other => panic!("bad outcome {other}"),
        };
        h.push(process, member, outcome, value(body));
    }
    h
}

struct Case {
    name: &'static str,
    members: usize,
    lines: &'static [Line],
    /// Exactly the classes expected, allowed ones included.
    expect: &'static [AnomalyKind],
}

const LIST_APPEND_CASES: &[Case] = &[
    // ---- known-good ----
    Case {
        name: "empty history",
        members: 0,
        lines: &[],
        expect: &[],
    },
    Case {
        name: "serial appends, reads and converged final reads",
        members: 2,
        lines: &[
            ("ok", 0, "a1:1"),
            ("ok", 1, "r1:[1] a1:2"),
            ("ok", 0, "r1:[1,2] r2:[]"),
            ("final", 0, ""),
            ("ok", 0, "r1:[1,2] r2:[]"),
            ("ok", 1, "r1:[1,2] r2:[]"),
        ],
        expect: &[],
    },
    Case {
        name: "a txn reads its own appends",
        members: 0,
        lines: &[
            ("ok", 0, "a1:1 r1:[1] a1:2 r1:[1,2]"),
            ("ok", 1, "r1:[1,2] a1:3 r1:[1,2,3]"),
            ("ok", 2, "r1:[1,2,3]"),
        ],
        expect: &[],
    },
    Case {
        name: "stale but consistent snapshots",
        members: 0,
        lines: &[
            ("ok", 0, "a1:1 a2:1"),
            ("ok", 1, "a1:2 a2:2"),
            ("ok", 2, "r1:[1] r2:[1]"),
            ("ok", 0, "r1:[] r2:[]"),
        ],
        expect: &[],
    },
    Case {
        name: "write skew only (G2-item, allowed under SI)",
        members: 0,
        lines: &[
            ("ok", 0, "r1:[] r2:[] a1:1"),
            ("ok", 1, "r1:[] r2:[] a2:2"),
            ("ok", 2, "r1:[1] r2:[2]"),
        ],
        expect: &[G2Item],
    },
    Case {
        name: "unknown outcomes, seen and unseen",
        members: 1,
        lines: &[
            ("ok", 0, "a1:1"),
            ("info", 1, "a1:3"),
            ("info", 2, "a2:4"),
            ("fail", 0, "a1:5"),
            ("ok", 1, "r2:[4]"),
            ("final", 0, ""),
            ("ok", 0, "r1:[1] r2:[4]"),
        ],
        expect: &[],
    },
    // ---- known-bad ----
    Case {
        name: "lost update: both read empty, both appended, both committed",
        members: 0,
        lines: &[("ok", 0, "r1:[] a1:1"), ("ok", 1, "r1:[] a1:2"), ("ok", 2, "r1:[1,2]")],
        expect: &[GSingle],
    },
    Case {
        name: "lost update where the overwritten append vanished",
        members: 1,
        lines: &[
            ("ok", 0, "r1:[] a1:1"),
            ("ok", 1, "r1:[] a1:2"),
            ("final", 0, ""),
            ("ok", 0, "r1:[2]"),
        ],
        expect: &[LostAppend],
    },
    Case {
        name: "G0: two writers interleaved on two keys",
        members: 0,
        lines: &[
            ("ok", 0, "a1:1 a2:2"),
            ("ok", 1, "a1:3 a2:4"),
            ("ok", 2, "r1:[1,3] r2:[4,2]"),
        ],
        expect: &[G0],
    },
    Case {
        name: "G1a: committed read of a failed append",
        members: 0,
        lines: &[("fail", 0, "a1:1"), ("ok", 1, "r1:[1]")],
        expect: &[G1a],
    },
    Case {
        name: "G1a: failed append present in a final read",
        members: 1,
        lines: &[
            ("ok", 0, "a1:1"),
            ("fail", 1, "a1:2"),
            ("final", 0, ""),
            ("ok", 0, "r1:[1,2]"),
        ],
        expect: &[G1a],
    },
    Case {
        name: "G1b: read of an intermediate append",
        members: 0,
        lines: &[("ok", 0, "a1:1 a1:2"), ("ok", 1, "r1:[1]")],
        expect: &[G1b],
    },
    Case {
        name: "G1c: each txn read the other's append",
        members: 0,
        lines: &[("ok", 0, "a1:1 r2:[2]"), ("ok", 1, "a2:2 r1:[1]")],
        expect: &[G1c],
    },
    Case {
        name: "G-single: read skew",
        members: 0,
        lines: &[("ok", 0, "a1:1 a2:2"), ("ok", 1, "r1:[] r2:[2]"), ("ok", 2, "r1:[1]")],
        expect: &[GSingle],
    },
    Case {
        name: "internal: a read missing the txn's own append",
        members: 0,
        lines: &[("ok", 0, "a1:1 r1:[]")],
        expect: &[Internal],
    },
    Case {
        name: "internal: a second read disagreeing with the first",
        members: 0,
        lines: &[("ok", 0, "a1:1"), ("ok", 1, "r1:[] r1:[1]")],
        expect: &[Internal],
    },
    Case {
        name: "duplicated append: a value twice in one list",
        members: 0,
        lines: &[("ok", 0, "a1:1"), ("ok", 1, "r1:[1,1]")],
        expect: &[DuplicateElements],
    },
    Case {
        name: "incompatible order",
        members: 0,
        lines: &[
            ("ok", 0, "a1:1"),
            ("ok", 1, "a1:2"),
            ("ok", 2, "r1:[1,2]"),
            ("ok", 0, "r1:[2,1]"),
        ],
        expect: &[IncompatibleOrder],
    },
    Case {
        name: "read of a value never written",
        members: 0,
        lines: &[("ok", 0, "r1:[9]")],
        expect: &[NeverWritten],
    },
    Case {
        name: "workload appended one value twice",
        members: 0,
        lines: &[("ok", 0, "a1:1"), ("ok", 1, "a1:1")],
        expect: &[DuplicateAppend],
    },
    Case {
        name: "acknowledged append missing on one member",
        members: 2,
        lines: &[
            ("ok", 0, "a1:1"),
            ("ok", 1, "a1:2"),
            ("final", 0, ""),
            ("ok", 0, "r1:[1,2]"),
            ("ok", 1, "r1:[1]"),
        ],
        expect: &[LostAppend, FinalReadsDiffer],
    },
    Case {
        name: "final reads skip a written key",
        members: 1,
        lines: &[("ok", 0, "a1:1 a2:2"), ("final", 0, ""), ("ok", 0, "r1:[1]")],
        expect: &[FinalReadMissing],
    },
    Case {
        name: "a member gave no final read",
        members: 2,
        lines: &[("ok", 0, "a1:1"), ("final", 0, ""), ("ok", 0, "r1:[1]")],
        expect: &[NoFinalRead],
    },
];

#[test]
fn list_append_table() {
    let mut failures = Vec::new();
    for case in LIST_APPEND_CASES {
        let h = build(case.lines, txn);
        let report = check_list_append(&h, case.members);
        let want: BTreeSet<AnomalyKind> = case.expect.iter().copied().collect();
        let valid = want.iter().all(|k| k.allowed_under_si());
        if report.kinds() != want || report.is_valid() != valid {
            failures.push(format!("--- {}: want {want:?}\n{}", case.name, report.explain(&h)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

const BANK_CASES: &[Case] = &[
    // ---- known-good ----
    Case {
        name: "transfers, consistent reads, unknown transfer applied",
        members: 2,
        lines: &[
            ("ok", 0, "t 0 1 10"),
            ("ok", 1, "r 90 110"),
            ("info", 2, "t 1 0 5"),
            ("fail", 0, "t 0 1 50"),
            ("final", 0, ""),
            ("ok", 0, "r 95 105"),
            ("ok", 1, "r 95 105"),
        ],
        expect: &[],
    },
    Case {
        name: "unknown transfer not applied",
        members: 1,
        lines: &[
            ("ok", 0, "t 0 1 10"),
            ("info", 2, "t 1 0 5"),
            ("final", 0, ""),
            ("ok", 0, "r 90 110"),
        ],
        expect: &[],
    },
    // ---- known-bad ----
    Case {
        name: "total off",
        members: 0,
        lines: &[("ok", 0, "r 90 100")],
        expect: &[WrongTotal],
    },
    Case {
        name: "negative balance",
        members: 0,
        lines: &[("ok", 0, "r -10 210")],
        expect: &[NegativeBalance],
    },
    Case {
        name: "missing account",
        members: 0,
        lines: &[("ok", 0, "r 200")],
        expect: &[MissingAccount],
    },
    Case {
        name: "unexpected account",
        members: 0,
        lines: &[("ok", 0, "r 100 100 0")],
        expect: &[UnexpectedAccount],
    },
    Case {
        name: "acknowledged transfer lost",
        members: 1,
        lines: &[("ok", 0, "t 0 1 10"), ("final", 0, ""), ("ok", 0, "r 100 100")],
        expect: &[LedgerMismatch],
    },
    Case {
        name: "failed transfer applied",
        members: 1,
        lines: &[("fail", 0, "t 0 1 10"), ("final", 0, ""), ("ok", 0, "r 90 110")],
        expect: &[LedgerMismatch],
    },
    Case {
        name: "members disagree in the end",
        members: 2,
        lines: &[
            ("info", 0, "t 0 1 10"),
            ("final", 0, ""),
            ("ok", 0, "r 90 110"),
            ("ok", 1, "r 100 100"),
        ],
        expect: &[FinalReadsDiffer],
    },
];

/// Bank line syntax: `t FROM TO AMOUNT` or `r B0 B1 ..` (balances of accounts 0, 1, ..).
fn bank_value(s: &str) -> OpValue {
    let mut words = s.split_whitespace();
    let nums = |w: std::str::SplitWhitespace| w.map(|n| n.parse::<i64>().unwrap()).collect::<Vec<_>>();
    match words.next() {
        Some("t") => {
            let n = nums(words);
            transfer(n[0] as u64, n[1] as u64, n[2])
        }
        Some("r") => {
            let pairs: Vec<(u64, i64)> = nums(words)
                .into_iter()
                .enumerate()
                .map(|(i, b)| (i as u64, b))
                .collect();
            balances(&pairs)
        }
        _ => panic!("bad bank line {s:?}"),
    }
}

#[test]
fn bank_table() {
    let mut failures = Vec::new();
    for case in BANK_CASES {
        let h = build(case.lines, bank_value);
        let report = check_bank(&h, &BankOptions::uniform(2, 100, case.members));
        let want: BTreeSet<AnomalyKind> = case.expect.iter().copied().collect();
        if report.kinds() != want || report.is_valid() != want.is_empty() {
            failures.push(format!("--- {}: want {want:?}\n{}", case.name, report.explain(&h)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn bank_negative_balances_can_be_allowed() {
    let h = build(&[("ok", 0, "r -10 210")], bank_value);
    let opts = BankOptions {
        allow_negative: true,
        ..BankOptions::uniform(2, 100, 0)
    };
    assert!(check_bank(&h, &opts).anomalies.is_empty());
}

#[test]
fn bank_many_unknown_transfers_checked_by_bounds() {
    // 25 unknown transfers of 1 from account 0 to 1: too many to try every subset.
    let mut lines: Vec<Line> = vec![("info", 0, "t 0 1 1"); 25];
    lines.push(("final", 0, ""));
    lines.push(("ok", 0, "r 90 110"));
    let opts = BankOptions::uniform(2, 100, 1);
    assert!(check_bank(&build(&lines, bank_value), &opts).is_valid());
    *lines.last_mut().unwrap() = ("ok", 0, "r 70 130");
    let report = check_bank(&build(&lines, bank_value), &opts);
    assert_eq!(report.kinds(), [LedgerMismatch].into());
}

#[test]
fn figures_count_outcomes_and_lost_writes() {
    let lines: &[Line] = &[
        ("ok", 0, "a1:1"),
        ("ok", 0, "a1:2"),
        ("fail", 1, "a1:3"),
        ("info", 2, "a1:4"),
        ("final", 0, ""),
        ("ok", 0, "r1:[1]"),
    ];
    let h = build(lines, txn);
    let report = check_list_append(&h, 1);
    let f = &report.figures;
    assert_eq!((f.attempted, f.acknowledged, f.failed, f.unknown), (5, 3, 1, 1));
    assert_eq!(f.lost_acknowledged, 1);
    assert_eq!(f.anomalies.get(&LostAppend), Some(&1));
    let summary = report.to_string();
    assert!(summary.starts_with("INVALID"), "{summary}");
    assert!(summary.contains("lost acknowledged: 1"), "{summary}");
    let explained = report.explain(&h);
    assert!(
        explained.contains("a1:2") && explained.contains("[final]"),
        "{explained}"
    );
}

#[test]
fn failing_check_panics_with_readable_history() {
    let h = build(&[("fail", 0, "a1:1"), ("ok", 1, "r1:[1]")], txn);
    let report = check_list_append(&h, 0);
    let panic = std::panic::catch_unwind(|| report.assert_valid(&h)).unwrap_err();
    let msg = panic.downcast_ref::<String>().expect("panic message is a String");
    assert!(
        msg.contains("G1a") && msg.contains("history:") && msg.contains("fail"),
        "{msg}"
    );
    // A valid report does not panic.
    check_list_append(&build(&[("ok", 0, "a1:1")], txn), 0).assert_valid(&h);
}

#[test]
fn cycle_examples_name_the_transactions() {
    let h = build(
        &[("ok", 0, "r1:[] a1:1"), ("ok", 1, "r1:[] a1:2"), ("ok", 2, "r1:[1,2]")],
        txn,
    );
    let report = check_list_append(&h, 0);
    let g = report
        .anomalies
        .iter()
        .find(|a| a.kind == GSingle)
        .expect("G-single reported");
    assert_eq!(g.ops.iter().copied().collect::<BTreeSet<_>>(), [0, 1].into());
    assert!(
        g.detail.contains("-rw(k1)->") && g.detail.contains("-ww(k1)->"),
        "{}",
        g.detail
    );
}

#[test]
fn recorder_is_shared_across_threads_and_pairs_completions() {
    let rec = jepsen::Recorder::new();
    let threads: Vec<_> = (0..4)
        .map(|p| {
            let rec = rec.clone();
            std::thread::spawn(move || {
                for i in 0..50u64 {
                    let v = p as u64 * 1000 + i;
                    let id = rec.invoke(p, p % 3, txn(&format!("a{p}:{v}")));
                    match i % 3 {
                        0 => rec.ok(id, txn(&format!("a{p}:{v}"))),
                        1 => rec.fail(id, "1213 deadlock"),
                        _ => rec.info(id, "connection lost"),
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    // One invocation that never completes: its outcome is unknown.
    rec.invoke(9, 0, txn("a9:1"));
    let ops = rec.history().ops();
    assert_eq!(ops.len(), 201);
    assert_eq!(ops.iter().filter(|o| o.outcome == Outcome::Ok).count(), 4 * 17);
    assert_eq!(ops.iter().filter(|o| o.outcome == Outcome::Fail).count(), 4 * 17);
    let last = ops.last().unwrap();
    assert_eq!((last.outcome, last.completed), (Outcome::Info, None));
    assert!(ops
        .iter()
        .filter(|o| o.outcome == Outcome::Fail)
        .all(|o| o.error.as_deref() == Some("1213 deadlock")));
}

#[test]
fn txn_syntax_round_trips() {
    for s in ["a1:5 r1:[5,6] r2:[] r3:?", "r10:[1,2,3]", ""] {
        assert_eq!(txn(s).to_string(), s);
    }
}

#[test]
fn long_histories_check_quickly() {
    // 20,000 sequential appends to one key, read back in full on 3 members: a 20,000-node ww
    // chain, plus 200 mid-run reads.
    let n = 20_000u64;
    let read = |list: &[u64]| OpValue::Txn(vec![MicroOp::Read(1, Some(list.to_vec()))]);
    let mut h = History::new();
    let mut list = Vec::new();
    for v in 0..n {
        h.push(
            0,
            (v % 3) as usize,
            Outcome::Ok,
            OpValue::Txn(vec![MicroOp::Append(1, v)]),
        );
        list.push(v);
        if v % 100 == 0 {
            h.push(1, 0, Outcome::Ok, read(&list));
        }
    }
    h.mark_final();
    for m in 0..3 {
        h.push(2, m, Outcome::Ok, read(&list));
    }
    let started = std::time::Instant::now();
    let report = check_list_append(&h, 3);
    assert!(report.anomalies.is_empty(), "{report}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn long_ww_cycle_is_found_without_recursion() {
    // T_i appends to keys i and i+1 in an order that makes a ww ring through all of them.
    let n = 5_000u64;
    let mut h = History::new();
    for i in 0..n {
        h.push(
            i as usize,
            0,
            Outcome::Ok,
            txn(&format!("a{i}:{} a{}:{}", 2 * i + 1, (i + 1) % n, 2 * i + 2)),
        );
    }
    // Key k holds T_{k-1}'s value then T_k's value: ww T_{k-1} -> T_k for every k, a ring.
    let mut reads = String::new();
    for k in 0..n {
        let prev = (k + n - 1) % n;
        reads.push_str(&format!("r{k}:[{},{}] ", 2 * prev + 2, 2 * k + 1));
    }
    h.push(n as usize, 0, Outcome::Ok, txn(&reads));
    let report = check_list_append(&h, 0);
    assert!(report.kinds().contains(&G0), "{report}");
}

/// A tiny in-memory multi-version store, to feed the checker realistic concurrent histories:
/// snapshot isolation with first-committer-wins, or deliberately broken variants of it.
mod sim {
    use std::collections::BTreeMap;

    use super::jepsen::{History, MicroOp, OpId, OpValue, Outcome};

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Store {
        /// Correct snapshot isolation.
        Snapshot,
        /// Snapshot reads, but concurrent writers both commit; the later overwrites the list
        /// with its snapshot plus its own appends (lost updates).
        NoFirstCommitterWins,
        /// Each read sees the latest committed state rather than the snapshot.
        ReadCommitted,
    }

    /// xorshift64*: deterministic, dependency-free randomness for reproducible histories.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
        }
    }

    struct Open {
        op: OpId,
        start: u64,
        plan: Vec<MicroOp>,
        done: Vec<MicroOp>,
        writes: BTreeMap<u64, Vec<u64>>,
    }

    /// Runs `steps` interleaved steps of `clients` clients against `store` over `keys` keys,
    /// then takes final reads on each of 3 members.
    pub fn run(store: Store, seed: u64, clients: usize, keys: u64, steps: usize) -> History {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut h = History::new();
        // key -> versions (commit timestamp, list), oldest first
        let mut versions: BTreeMap<u64, Vec<(u64, Vec<u64>)>> = (0..keys).map(|k| (k, vec![(0, vec![])])).collect();
        let mut now = 0u64;
        let mut next_value = 0u64;
        let mut open: Vec<Option<Open>> = (0..clients).map(|_| None).collect();
        let at = |versions: &BTreeMap<u64, Vec<(u64, Vec<u64>)>>, k: u64, ts: u64| -> Vec<u64> {
            versions[&k].iter().rev().find(|(c, _)| *c <= ts).unwrap().1.clone()
        };
        for _ in 0..steps {
            let c = rng.below(clients as u64) as usize;
            let Some(t) = open[c].as_mut() else {
                let plan: Vec<MicroOp> = (0..1 + rng.below(4))
                    .map(|_| {
                        let k = rng.below(keys);
                        if rng.below(2) == 0 {
                            MicroOp::Read(k, None)
                        } else {
                            next_value += 1;
                            MicroOp::Append(k, next_value)
                        }
                    })
                    .collect();
                let op = h.invoke(c, c % 3, OpValue::Txn(plan.clone()));
                open[c] = Some(Open {
                    op,
                    start: now,
                    plan,
                    done: vec![],
                    writes: BTreeMap::new(),
                });
                continue;
            };
            if t.done.len() < t.plan.len() {
                let m = match t.plan[t.done.len()].clone() {
                    MicroOp::Read(k, _) => {
                        let ts = if store == Store::ReadCommitted { now } else { t.start };
                        let mut list = at(&versions, k, ts);
                        list.extend(t.writes.get(&k).into_iter().flatten());
                        MicroOp::Read(k, Some(list))
                    }
                    MicroOp::Append(k, v) => {
                        t.writes.entry(k).or_default().push(v);
                        MicroOp::Append(k, v)
                    }
                };
                t.done.push(m);
                continue;
            }
            let t = open[c].take().unwrap();
            let conflict = t.writes.keys().any(|k| versions[k].last().unwrap().0 > t.start);
            let crash = rng.below(40) == 0;
            if crash {
                h.complete(
                    t.op,
                    Outcome::Info,
                    OpValue::Txn(t.plan),
                    Some("connection lost before commit".into()),
                );
                continue;
            }
            if conflict && store != Store::NoFirstCommitterWins {
                h.complete(t.op, Outcome::Fail, OpValue::Txn(t.plan), Some("1213".into()));
                continue;
            }
            now += 1;
            for (k, appended) in &t.writes {
                let base = if store == Store::NoFirstCommitterWins {
                    at(&versions, *k, t.start)
                } else {
                    at(&versions, *k, now)
                };
                let mut list = base;
                list.extend(appended);
                versions.get_mut(k).unwrap().push((now, list));
            }
            if rng.below(20) == 0 {
                h.complete(
                    t.op,
                    Outcome::Info,
                    OpValue::Txn(t.plan),
                    Some("connection lost during commit".into()),
                );
            } else {
                h.complete(t.op, Outcome::Ok, OpValue::Txn(t.done), None);
            }
        }
        h.mark_final();
        for m in 0..3 {
            let reads = (0..keys)
                .map(|k| MicroOp::Read(k, Some(at(&versions, k, now))))
                .collect();
            let op = h.invoke(100 + m, m, OpValue::Txn(vec![]));
            h.complete(op, Outcome::Ok, OpValue::Txn(reads), None);
        }
        h
    }
}

#[test]
fn simulated_snapshot_isolation_histories_pass() {
    let mut saw_g2 = false;
    for seed in 0..40 {
        let h = sim::run(sim::Store::Snapshot, seed, 6, 4, 600);
        let report = check_list_append(&h, 3);
        report.assert_valid(&h);
        saw_g2 |= report.kinds().contains(&G2Item);
    }
    assert!(
        saw_g2,
        "no write skew in 40 simulated SI runs: the simulation is too tame to be a test"
    );
}

#[test]
fn simulated_broken_stores_are_caught() {
    for (store, expected) in [
        (sim::Store::NoFirstCommitterWins, &[LostAppend, IncompatibleOrder][..]),
        (sim::Store::ReadCommitted, &[GSingle][..]),
    ] {
        let (mut kinds, mut caught) = (BTreeSet::new(), 0);
        for seed in 0..10 {
            let h = sim::run(store, seed, 6, 4, 600);
            let report = check_list_append(&h, 3);
            caught += usize::from(!report.is_valid());
            kinds.extend(report.kinds());
        }
        // A short random run may happen not to trip over the bug; most must.
        assert!(caught >= 7, "{store:?}: only {caught} of 10 runs reported invalid");
        for k in expected {
            assert!(kinds.contains(k), "{store:?}: never reported {k}; reported {kinds:?}");
        }
    }
}

mod relay {
    //! Relay tests against a local echo server, or with the test holding both ends.

    use std::net::SocketAddr;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::jepsen::{Fault, HealPolicy, Relay};

    /// Long enough to be sure bytes are not coming; short enough to keep tests quick.
    const QUIET: Duration = Duration::from_millis(300);
    /// Generous bound for things that must happen (busy machine).
    const SOON: Duration = Duration::from_secs(10);

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn connect(relay: &Relay) -> TcpStream {
        let s = TcpStream::connect(relay.addr()).await.unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// Reads exactly `n` bytes, or None if they do not all come within `wait`.
    async fn recv(s: &mut TcpStream, n: usize, wait: Duration) -> Option<Vec<u8>> {
        let mut buf = vec![0; n];
        match tokio::time::timeout(wait, s.read_exact(&mut buf)).await {
            Ok(Ok(_)) => Some(buf),
            _ => None,
        }
    }

    /// Whether the peer closes `s` within `wait` (end of stream or reset), discarding data.
    async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
            }
        }
    }

    async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> bool {
        s.write_all(msg).await.unwrap();
        recv(s, msg.len(), SOON).await.as_deref() == Some(msg)
    }

    /// A client connected through the relay and the target-side socket the relay opened.
    async fn both_ends(relay: &Relay, target: &TcpListener) -> (TcpStream, TcpStream) {
        let client = connect(relay).await;
        let (server, _) = tokio::time::timeout(SOON, target.accept()).await.unwrap().unwrap();
        (client, server)
    }

    #[tokio::test]
    async fn passes_bytes_on_many_connections() {
        let relay = Relay::start(echo_server().await).await.unwrap();
        let mut clients = Vec::new();
        for i in 0..3u8 {
            let mut c = connect(&relay).await;
            assert!(round_trip(&mut c, &[i; 100_000]).await);
            clients.push(c);
        }
        assert_eq!(relay.open_connections(), 3);
        assert_eq!(relay.fault(), Fault::Pass);
        drop(clients);
        tokio::time::timeout(SOON, async {
            while relay.open_connections() > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("connections deregister when clients leave");
    }

    #[tokio::test]
    async fn partition_stalls_and_holds_then_heal_closes() {
        let relay = Relay::start(echo_server().await).await.unwrap();
        let mut old = connect(&relay).await;
        assert!(round_trip(&mut old, b"before").await);

        relay.partition();
        old.write_all(b"during").await.unwrap();
        assert_eq!(recv(&mut old, 6, QUIET).await, None, "partition passed bytes");
        let mut new = connect(&relay).await;
        new.write_all(b"new").await.unwrap();
        assert_eq!(
            recv(&mut new, 3, QUIET).await,
            None,
            "connection opened in a partition passed bytes"
        );
        assert!(
            !closed_within(&mut old, QUIET).await,
            "partition closed an existing connection"
        );
        assert_eq!(relay.open_connections(), 2);

        relay.heal();
        assert!(
            closed_within(&mut old, SOON).await,
            "heal did not close a connection that lived through the partition"
        );
        assert!(
            closed_within(&mut new, SOON).await,
            "heal did not close a connection opened during the partition"
        );
        let mut fresh = connect(&relay).await;
        assert!(round_trip(&mut fresh, b"after").await);
    }

    #[tokio::test]
    async fn partition_with_resume_delivers_held_bytes_in_order() {
        let relay = Relay::start(echo_server().await).await.unwrap();
        relay.set_heal_policy(HealPolicy::Resume);
        let mut old = connect(&relay).await;
        assert!(round_trip(&mut old, b"before").await);
        relay.partition();
        let mut new = connect(&relay).await;
        old.write_all(b"held").await.unwrap();
        new.write_all(b"queued").await.unwrap();
        assert_eq!(recv(&mut old, 4, QUIET).await, None);
        relay.heal();
        assert_eq!(recv(&mut old, 4, SOON).await.as_deref(), Some(&b"held"[..]));
        assert_eq!(recv(&mut new, 6, SOON).await.as_deref(), Some(&b"queued"[..]));
    }

    #[tokio::test]
    async fn reset_closes_now_and_refuses_until_healed() {
        let relay = Relay::start(echo_server().await).await.unwrap();
        let mut old = connect(&relay).await;
        assert!(round_trip(&mut old, b"x").await);
        relay.reset();
        assert!(
            closed_within(&mut old, SOON).await,
            "reset did not close an existing connection"
        );
        let mut refused = connect(&relay).await;
        assert!(
            closed_within(&mut refused, SOON).await,
            "reset did not close a new connection"
        );
        assert_eq!(relay.open_connections(), 0);
        relay.heal();
        let mut fresh = connect(&relay).await;
        assert!(round_trip(&mut fresh, b"y").await);
    }

    #[tokio::test]
    async fn client_to_server_loss_is_one_way() {
        let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay::start(target.local_addr().unwrap()).await.unwrap();
        let (mut client, mut server) = both_ends(&relay, &target).await;
        relay.drop_client_to_server();
        server.write_all(b"down").await.unwrap();
        assert_eq!(recv(&mut client, 4, SOON).await.as_deref(), Some(&b"down"[..]));
        client.write_all(b"up").await.unwrap();
        assert_eq!(
            recv(&mut server, 2, QUIET).await,
            None,
            "stalled direction passed bytes"
        );
        relay.heal();
        assert!(closed_within(&mut client, SOON).await);
        assert!(closed_within(&mut server, SOON).await);
    }

    #[tokio::test]
    async fn server_to_client_loss_is_one_way() {
        let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay::start(target.local_addr().unwrap()).await.unwrap();
        relay.set_heal_policy(HealPolicy::Resume);
        let (mut client, mut server) = both_ends(&relay, &target).await;
        relay.drop_server_to_client();
        client.write_all(b"up").await.unwrap();
        assert_eq!(recv(&mut server, 2, SOON).await.as_deref(), Some(&b"up"[..]));
        server.write_all(b"down").await.unwrap();
        assert_eq!(
            recv(&mut client, 4, QUIET).await,
            None,
            "stalled direction passed bytes"
        );
        relay.heal();
        assert_eq!(recv(&mut client, 4, SOON).await.as_deref(), Some(&b"down"[..]));
    }

    /// Streams a counting sequence through the echo server while faults flap, and checks that
    /// whatever comes back is exactly the sequence, from the start, with nothing missing.
    /// Returns how many words came back and whether the relay closed the connection.
    async fn flapping(policy: HealPolicy) -> (u32, bool) {
        let relay = Relay::start(echo_server().await).await.unwrap();
        relay.set_heal_policy(policy);
        let client = connect(&relay).await;
        let (mut r, mut w) = client.into_split();
        let writer = tokio::spawn(async move {
            for batch in 0u32.. {
                let words: Vec<u8> = (batch * 1024..(batch + 1) * 1024).flat_map(u32::to_be_bytes).collect();
                if w.write_all(&words).await.is_err() {
                    break;
                }
            }
        });
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let reader = tokio::spawn(async move {
            let (mut next, mut partial) = (0u32, Vec::with_capacity(4));
            let mut buf = [0u8; 8192];
            let closed = loop {
                let n = tokio::select! {
                    _ = &mut stopped => break false,
                    read = r.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break true,
                        Ok(n) => n,
                    },
                };
                for &b in &buf[..n] {
                    partial.push(b);
                    if partial.len() == 4 {
                        assert_eq!(partial, next.to_be_bytes(), "corrupt stream at word {next}");
                        partial.clear();
                        next += 1;
                    }
                }
            };
            (next, closed)
        });
        for fault in [
            Fault::Partition,
            Fault::DropClientToServer,
            Fault::Pass,
            Fault::DropServerToClient,
            Fault::Pass,
        ] {
            tokio::time::sleep(Duration::from_millis(100)).await;
            relay.set(fault);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = stop.send(());
        let result = reader.await.unwrap();
        writer.abort();
        result
    }

    #[tokio::test]
    async fn flapping_faults_with_resume_never_corrupt_the_stream() {
        let (words, closed) = flapping(HealPolicy::Resume).await;
        assert!(!closed, "resume policy closed the connection");
        assert!(words > 1000, "only {words} words came through");
    }

    #[tokio::test]
    async fn flapping_faults_with_close_end_the_stream_cleanly() {
        let (_words, closed) = flapping(HealPolicy::CloseAffected).await;
        assert!(closed, "connection that lived through faults was not closed");
    }
}
