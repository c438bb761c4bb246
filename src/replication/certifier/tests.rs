use super::*;
use crate::replication::txn::{RowChange, TableName, Value};
use crate::replication::writeset::{key_item, WriteSetBuilder};

use Verdict::Commit;

fn abort(conflict_index: u64) -> Verdict {
    Verdict::Abort { conflict_index }
}

/// Primary-key item of row `id` in `schema.table`.
fn pk(schema: &str, table: &str, id: u64) -> u128 {
    key_item(schema, table, "PRIMARY", &[id.to_string().as_bytes()])
}

/// Item of row `id` in the default table `db.t`.
fn row(id: u64) -> u128 {
    pk("db", "t", id)
}

/// A transaction with the given snapshot writing `items` to the listed tables.
fn dml_on(snapshot: u64, tables: &[(&str, &str)], items: &[u128]) -> Entry {
    let mut ws = WriteSetBuilder::new();
    ws.extend(items.iter().copied());
    let e = Entry::Txn(Txn {
        origin: 1,
        trx_id: snapshot,
        snapshot,
        write_set: ws.finish(),
        tables: tables.iter().map(|&(s, t)| TableName::new(s, t)).collect(),
        columns: tables.iter().map(|_| vec!["id".to_string()]).collect(),
        pk_columns: tables.iter().map(|_| vec!["id".to_string()]).collect(),
        rows: vec![RowChange::Insert {
            table: 0,
            after: vec![Value::Int(1)],
        }],
    });
    e.validate().expect("test entry is valid");
    e
}

/// A transaction on `db.t`.
fn dml(snapshot: u64, items: &[u128]) -> Entry {
    dml_on(snapshot, &[("db", "t")], items)
}

fn ddl_tables(tables: &[(&str, &str)]) -> Entry {
    Entry::Ddl(Ddl {
        origin: 2,
        trx_id: 1,
        schema: tables.first().map(|&(s, _)| s.to_string()),
        sql: "ALTER TABLE ...".into(),
        sql_mode: String::new(),
        charset: "utf8mb4".into(),
        tables: tables.iter().map(|&(s, t)| TableName::new(s, t)).collect(),
    })
}

fn ddl_database(schema: &str) -> Entry {
    Entry::Ddl(Ddl {
        origin: 2,
        trx_id: 1,
        schema: Some(schema.into()),
        sql: format!("DROP DATABASE {schema}"),
        sql_mode: String::new(),
        charset: "utf8mb4".into(),
        tables: vec![],
    })
}

fn wm(member: u64, applied: u64) -> Entry {
    Entry::Watermark { member, applied }
}

enum Step {
    /// Certify the entry at the index and expect the verdict.
    C(u64, Entry, Verdict),
    /// Expect `len()`.
    Len(usize),
    /// Expect `horizon()`.
    Horizon(u64),
}
use Step::{Horizon, Len, C};

struct Case {
    name: &'static str,
    members: &'static [u64],
    steps: Vec<Step>,
}

fn cases() -> Vec<Case> {
    const M: &[u64] = &[1, 2, 3];
    vec![
        Case {
            name: "concurrent same-row updates: stale snapshot aborts, fresh one commits",
            members: M,
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                C(2, dml(0, &[row(1)]), abort(1)),
                C(3, dml(1, &[row(1)]), Commit),
                C(4, dml(2, &[row(1)]), abort(3)),
                C(5, dml(3, &[row(1)]), Commit),
            ],
        },
        Case {
            name: "unique-key race between different primary keys",
            members: M,
            steps: vec![
                C(1, dml(0, &[row(1), key_item("db", "t", "uk_email", &[b"a@x"])]), Commit),
                C(
                    2,
                    dml(0, &[row(2), key_item("db", "t", "uk_email", &[b"a@x"])]),
                    abort(1),
                ),
                C(3, dml(0, &[row(3), key_item("db", "t", "uk_email", &[b"b@x"])]), Commit),
            ],
        },
        Case {
            name: "parent delete then child insert carrying the parent item",
            members: M,
            steps: vec![
                C(1, dml_on(0, &[("db", "parent")], &[pk("db", "parent", 7)]), Commit),
                C(
                    2,
                    dml_on(0, &[("db", "child")], &[pk("db", "child", 100), pk("db", "parent", 7)]),
                    abort(1),
                ),
                // A child of another parent is unaffected.
                C(
                    3,
                    dml_on(0, &[("db", "child")], &[pk("db", "child", 101), pk("db", "parent", 8)]),
                    Commit,
                ),
            ],
        },
        Case {
            name: "child insert then parent delete",
            members: M,
            steps: vec![
                C(
                    1,
                    dml_on(0, &[("db", "child")], &[pk("db", "child", 100), pk("db", "parent", 7)]),
                    Commit,
                ),
                C(2, dml_on(0, &[("db", "parent")], &[pk("db", "parent", 7)]), abort(1)),
            ],
        },
        Case {
            name: "non-conflicting concurrent transactions both commit",
            members: M,
            steps: vec![
                C(1, dml(0, &[row(1), row(2)]), Commit),
                C(2, dml(0, &[row(3), row(4)]), Commit),
                C(3, dml_on(0, &[("db", "u")], &[pk("db", "u", 1)]), Commit),
                C(4, dml_on(0, &[("other", "t")], &[pk("other", "t", 1)]), Commit),
                C(5, dml(0, &[]), Commit),
                Len(6),
            ],
        },
        Case {
            name: "snapshot boundaries",
            members: M,
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                // last writer == snapshot: the transaction saw it.
                C(2, dml(1, &[row(1)]), Commit),
                // last writer (2) == snapshot + 1: it did not.
                C(3, dml(1, &[row(1)]), abort(2)),
                C(4, dml(2, &[row(1)]), Commit),
            ],
        },
        Case {
            name: "lost update: read at s, remote write at s+1, write back aborts",
            members: M,
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                C(2, dml(1, &[row(1)]), Commit),
                C(3, dml(1, &[row(1)]), abort(2)),
            ],
        },
        Case {
            name: "conflict index is the highest conflicting writer",
            members: M,
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                C(2, dml(0, &[row(2)]), Commit),
                C(3, dml(0, &[row(2), row(1)]), abort(2)),
                C(4, dml(1, &[row(2), row(1)]), abort(2)),
            ],
        },
        Case {
            name: "table DDL vs DML",
            members: M,
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                C(2, ddl_tables(&[("db", "t")]), Commit),
                // Older snapshot on the same table, even on an untouched row.
                C(3, dml(1, &[row(9)]), abort(2)),
                // Another table is unaffected.
                C(4, dml_on(1, &[("db", "u")], &[pk("db", "u", 1)]), Commit),
                // Same name in another schema is unaffected.
                C(5, dml_on(1, &[("db2", "t")], &[pk("db2", "t", 1)]), Commit),
                // Snapshot after the DDL commits.
                C(6, dml(2, &[row(9)]), Commit),
                // DDL always commits, even after concurrent DML.
                C(7, ddl_tables(&[("db", "t")]), Commit),
                // Multi-table transaction touching the altered table aborts.
                C(8, dml_on(6, &[("db", "u"), ("db", "t")], &[pk("db", "u", 2)]), abort(7)),
            ],
        },
        Case {
            name: "DDL marks the table item for keyless-table DML",
            members: M,
            steps: vec![
                C(1, dml(0, &[table_item("db", "t")]), Commit),
                C(2, dml(0, &[table_item("db", "t")]), abort(1)),
                C(3, ddl_tables(&[("db", "t")]), Commit),
                C(4, dml(1, &[table_item("db", "t")]), abort(3)),
                C(5, dml(3, &[table_item("db", "t")]), Commit),
            ],
        },
        Case {
            name: "rename marks both tables",
            members: M,
            steps: vec![
                C(1, ddl_tables(&[("db", "a"), ("db", "b")]), Commit),
                C(2, dml_on(0, &[("db", "a")], &[pk("db", "a", 1)]), abort(1)),
                C(3, dml_on(0, &[("db", "b")], &[pk("db", "b", 1)]), abort(1)),
                C(4, dml_on(0, &[("db", "c")], &[pk("db", "c", 1)]), Commit),
            ],
        },
        Case {
            name: "database DDL vs table DML",
            members: M,
            steps: vec![
                C(1, ddl_database("shop"), Commit),
                C(
                    2,
                    dml_on(0, &[("shop", "orders")], &[pk("shop", "orders", 1)]),
                    abort(1),
                ),
                C(
                    3,
                    dml_on(0, &[("other", "orders")], &[pk("other", "orders", 1)]),
                    Commit,
                ),
                C(4, dml_on(1, &[("shop", "orders")], &[pk("shop", "orders", 1)]), Commit),
                // DDL with neither tables nor schema marks nothing.
                C(5, ddl_without_schema(), Commit),
                C(6, dml_on(1, &[("shop", "orders")], &[pk("shop", "orders", 2)]), Commit),
            ],
        },
        Case {
            name: "aborted transaction leaves no trace",
            members: M,
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                C(2, dml(0, &[row(1), row(2)]), abort(1)),
                Len(1),
                C(3, dml(0, &[row(2)]), Commit),
            ],
        },
        Case {
            name: "GC: horizon is the minimum watermark",
            members: M,
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                C(2, dml(0, &[row(2)]), Commit),
                C(3, dml(2, &[row(3)]), Commit),
                C(4, ddl_tables(&[("db", "t")]), Commit),
                Len(5), // 3 rows + table item + DDL mark
                C(5, wm(1, 3), Commit),
                C(6, wm(2, 3), Commit),
                Horizon(0),
                Len(5),
                // An unknown member does not count.
                C(7, wm(99, 10), Commit),
                Horizon(0),
                C(8, wm(3, 2), Commit),
                Horizon(2),
                Len(3), // rows 1 and 2 collected
                // Watermarks never go back.
                C(9, wm(1, 1), Commit),
                Horizon(2),
                // snapshot == horizon: exact verdicts.
                C(10, dml(2, &[row(3)]), abort(4)),
                C(11, dml(2, &[row(1)]), abort(4)), // via the DDL on db.t
                C(12, dml_on(2, &[("db", "u")], &[pk("db", "u", 1)]), Commit),
                // snapshot < horizon: conservative abort, even without a real conflict.
                C(13, dml_on(1, &[("db", "u")], &[pk("db", "u", 2)]), abort(2)),
                C(14, dml(4, &[row(1), row(2)]), Commit),
                Len(6),
                C(15, wm(3, 4), Commit),
                C(16, wm(2, 4), Commit),
                Horizon(3),
                C(17, wm(1, 4), Commit),
                Horizon(4),
                Len(3), // rows 1, 2 (index 14) and u/1 (index 12)
                C(18, dml(4, &[row(3)]), Commit),
                C(19, dml(3, &[row(3)]), abort(4)),
            ],
        },
        Case {
            name: "GC: watermark is clamped below its own index",
            members: &[1, 2],
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                C(2, wm(1, 1000), Commit),
                C(3, wm(2, 1000), Commit),
                Horizon(1),
                Len(0),
                C(4, dml(1, &[row(1)]), Commit),
                C(5, dml(1, &[row(1)]), abort(4)),
                C(6, wm(1, 1000), Commit),
                C(7, wm(2, 1000), Commit),
                Horizon(5),
                Len(0),
            ],
        },
        Case {
            name: "GC: single member",
            members: &[1],
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                C(2, ddl_database("db"), Commit),
                Len(2),
                C(3, wm(1, 2), Commit),
                Horizon(2),
                Len(0),
                C(4, dml(2, &[row(1)]), Commit),
                C(5, dml(1, &[row(2)]), abort(2)),
            ],
        },
        Case {
            name: "no members: nothing is collected",
            members: &[],
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                C(2, wm(1, 1), Commit),
                Horizon(0),
                Len(1),
                C(3, dml(0, &[row(1)]), abort(1)),
            ],
        },
        Case {
            name: "index gaps are fine",
            members: M,
            steps: vec![
                C(10, dml(0, &[row(1)]), Commit),
                C(20, dml(9, &[row(1)]), abort(10)),
                C(30, dml(10, &[row(1)]), Commit),
            ],
        },
    ]
}

fn ddl_without_schema() -> Entry {
    Entry::Ddl(Ddl {
        origin: 2,
        trx_id: 1,
        schema: None,
        sql: "CREATE USER 'u'@'%'".into(),
        sql_mode: String::new(),
        charset: "utf8mb4".into(),
        tables: vec![],
    })
}

fn entries(case: &Case) -> Vec<(u64, &Entry)> {
    case.steps
        .iter()
        .filter_map(|s| match s {
            C(i, e, _) => Some((*i, e)),
            _ => None,
        })
        .collect()
}

fn run_all(c: &mut Certifier, entries: &[(u64, &Entry)]) -> Vec<Verdict> {
    entries.iter().map(|&(i, e)| c.certify(i, e)).collect()
}

#[test]
fn table_of_cases() {
    for case in cases() {
        let mut c = Certifier::new(case.members);
        for (n, step) in case.steps.iter().enumerate() {
            match step {
                C(index, entry, want) => {
                    assert_eq!(
                        c.certify(*index, entry),
                        *want,
                        "{}: step {n} (index {index})",
                        case.name
                    )
                }
                Len(want) => assert_eq!(c.len(), *want, "{}: step {n} len", case.name),
                Horizon(want) => assert_eq!(c.horizon(), *want, "{}: step {n} horizon", case.name),
            }
        }
    }
}

/// Replays `entries` into fresh certifiers and into certifiers restored from
/// `encode/decode` at every split point; all must agree on every verdict and
/// on the final encoded state. Returns the verdicts.
fn assert_deterministic(name: &str, members: &[u64], entries: &[(u64, &Entry)]) -> Vec<Verdict> {
    let mut a = Certifier::new(members);
    let verdicts = run_all(&mut a, entries);
    let state = a.encode();

    let mut reversed: Vec<u64> = members.to_vec();
    reversed.reverse();
    reversed.extend_from_slice(members); // duplicates are ignored
    let mut b = Certifier::new(&reversed);
    assert_eq!(run_all(&mut b, entries), verdicts, "{name}: second replay");
    assert_eq!(b.encode(), state, "{name}: second replay state");
    assert_eq!(b, a, "{name}: second replay state");

    for k in 0..=entries.len() {
        let mut c = Certifier::new(members);
        let mut got = run_all(&mut c, &entries[..k]);
        let bytes = c.encode();
        let mut d = Certifier::decode(&bytes).unwrap_or_else(|e| panic!("{name}: decode at {k}: {e}"));
        assert_eq!(d, c, "{name}: restored state at {k}");
        assert_eq!(d.encode(), bytes, "{name}: re-encode at {k}");
        got.extend(run_all(&mut d, &entries[k..]));
        assert_eq!(got, verdicts, "{name}: verdicts after restore at {k}");
        assert_eq!(d.encode(), state, "{name}: final state after restore at {k}");
    }
    verdicts
}

#[test]
fn determinism_over_cases() {
    for case in cases() {
        let entries = entries(&case);
        assert_deterministic(case.name, case.members, &entries);
    }
}

/// Small deterministic PRNG (xorshift64*), so tests need no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SCHEMAS: &[&str] = &["a", "b"];
const TABLES: &[&str] = &["t", "u", "v"];

/// A random but valid log: mostly small overlapping transactions with recent
/// snapshots, some DDL, and watermarks (including from an unknown member and
/// beyond the entry's own index).
fn random_log(seed: u64, n: usize) -> Vec<(u64, Entry)> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut log = Vec::with_capacity(n);
    let mut index = 0u64;
    let pick = |rng: &mut Rng, xs: &[&'static str]| xs[rng.below(xs.len() as u64) as usize];
    for _ in 0..n {
        let prev = index;
        index += 1 + rng.below(2);
        let roll = rng.below(100);
        let entry = if roll < 70 {
            let mut tables: Vec<(&str, &str)> = Vec::new();
            let mut items = Vec::new();
            for _ in 0..1 + rng.below(2) {
                let (s, t) = (pick(&mut rng, SCHEMAS), pick(&mut rng, TABLES));
                if !tables.contains(&(s, t)) {
                    tables.push((s, t));
                }
                match rng.below(10) {
                    0 => items.push(table_item(s, t)),
                    1 => {
                        // Foreign-key parent item in another table.
                        items.push(pk(s, t, rng.below(6)));
                        items.push(pk(pick(&mut rng, SCHEMAS), "parent", rng.below(3)));
                    }
                    _ => {
                        for _ in 0..1 + rng.below(3) {
                            items.push(pk(s, t, rng.below(6)));
                        }
                    }
                }
            }
            // Mostly recent snapshots; some long-running transactions.
            let age = if rng.below(10) == 0 {
                rng.below(40)
            } else {
                rng.below(12)
            };
            let snapshot = prev.saturating_sub(age);
            dml_on(snapshot, &tables, &items)
        } else if roll < 75 {
            let (s, t) = (pick(&mut rng, SCHEMAS), pick(&mut rng, TABLES));
            ddl_tables(&[(s, t)])
        } else if roll < 77 {
            ddl_database(pick(&mut rng, SCHEMAS))
        } else {
            let member = 1 + rng.below(4); // member 4 is not in the group
            let applied = if rng.below(20) == 0 {
                prev + 100
            } else {
                prev.saturating_sub(rng.below(8))
            };
            wm(member, applied)
        };
        log.push((index, entry));
    }
    log
}

/// Certification straight from the rules, keeping the whole committed log and
/// never collecting anything.
struct Reference {
    watermarks: BTreeMap<u64, u64>,
    /// (index, items written, DDL marks set)
    committed: Vec<(u64, Vec<u128>, Vec<u128>)>,
}

impl Reference {
    fn new(members: &[u64]) -> Self {
        Reference {
            watermarks: members.iter().map(|&m| (m, 0)).collect(),
            committed: Vec::new(),
        }
    }

    fn horizon(&self) -> u64 {
        self.watermarks.values().copied().min().unwrap_or(0)
    }

    fn certify(&mut self, index: u64, entry: &Entry) -> Verdict {
        match entry {
            Entry::Txn(t) => {
                if t.snapshot < self.horizon() {
                    return abort(self.horizon());
                }
                let marks_hit: Vec<u128> = t
                    .tables
                    .iter()
                    .flat_map(|tn| [table_item(&tn.schema, &tn.table), schema_item(&tn.schema)])
                    .collect();
                let conflict = self
                    .committed
                    .iter()
                    .filter(|(i, items, marks)| {
                        *i > t.snapshot
                            && (items.iter().any(|x| t.write_set.contains(x))
                                || marks.iter().any(|m| marks_hit.contains(m)))
                    })
                    .map(|(i, _, _)| *i)
                    .max();
                match conflict {
                    Some(i) => abort(i),
                    None => {
                        self.committed.push((index, t.write_set.clone(), vec![]));
                        Commit
                    }
                }
            }
            Entry::Ddl(d) => {
                let tables: Vec<u128> = d.tables.iter().map(|t| table_item(&t.schema, &t.table)).collect();
                let mut marks = tables.clone();
                if d.tables.is_empty() {
                    marks.extend(d.schema.as_deref().map(schema_item));
                }
                self.committed.push((index, tables, marks));
                Commit
            }
            Entry::Watermark { member, applied } => {
                if let Some(w) = self.watermarks.get_mut(member) {
                    *w = (*w).max((*applied).min(index - 1));
                }
                Commit
            }
        }
    }

    /// Items and marks whose last write is above the horizon.
    fn len(&self) -> usize {
        let mut items = BTreeMap::new();
        let mut marks = BTreeMap::new();
        for (i, its, mks) in &self.committed {
            items.extend(its.iter().map(|&x| (x, *i)));
            marks.extend(mks.iter().map(|&x| (x, *i)));
        }
        let h = self.horizon();
        items.values().chain(marks.values()).filter(|&&i| i > h).count()
    }
}

#[test]
fn matches_reference_model_on_random_logs() {
    let members = [1, 2, 3];
    let (mut commits, mut aborts, mut stale, mut max_horizon) = (0, 0, 0, 0);
    for seed in 0..40 {
        let log = random_log(seed, 500);
        let mut c = Certifier::new(&members);
        let mut r = Reference::new(&members);
        for (n, (index, entry)) in log.iter().enumerate() {
            let is_txn = matches!(entry, Entry::Txn(_));
            let stale_snapshot = matches!(entry, Entry::Txn(t) if t.snapshot < r.horizon());
            let want = r.certify(*index, entry);
            assert_eq!(c.certify(*index, entry), want, "seed {seed} entry {n} (index {index})");
            assert_eq!(c.horizon(), r.horizon(), "seed {seed} entry {n} horizon");
            assert_eq!(c.len(), r.len(), "seed {seed} entry {n} len");
            match (is_txn, want) {
                (true, Commit) => commits += 1,
                (true, Verdict::Abort { .. }) if stale_snapshot => stale += 1,
                (true, Verdict::Abort { .. }) => aborts += 1,
                _ => {}
            }
        }
        max_horizon = max_horizon.max(c.horizon());
    }
    // The generator exercises every path.
    assert!(
        commits > 1000 && aborts > 1000 && stale > 100,
        "{commits} {aborts} {stale}"
    );
    assert!(max_horizon > 400, "{max_horizon}");
}

#[test]
fn determinism_over_random_logs() {
    for seed in 100..104 {
        let log = random_log(seed, 250);
        let entries: Vec<(u64, &Entry)> = log.iter().map(|(i, e)| (*i, e)).collect();
        let a = assert_deterministic(&format!("seed {seed}"), &[1, 2, 3], &entries);
        // Round-tripping every entry through the wire format changes nothing.
        let decoded: Vec<(u64, Entry)> = log
            .iter()
            .map(|(i, e)| {
                (
                    *i,
                    crate::replication::txn::decode(&crate::replication::txn::encode(e)).unwrap(),
                )
            })
            .collect();
        let mut c = Certifier::new(&[1, 2, 3]);
        let b: Vec<Verdict> = decoded.iter().map(|(i, e)| c.certify(*i, e)).collect();
        assert_eq!(a, b, "seed {seed}: decoded entries");
    }
}

/// The exact bytes of a small snapshot: catches accidental format changes.
#[test]
fn snapshot_encoding_is_pinned() {
    let c = Certifier::new(&[5, 1]);
    // version, 2 watermarks (1,0) (5,0), horizon 0, last_index 0, no items, no marks, history 0
    assert_eq!(c.encode(), vec![SNAPSHOT_VERSION, 2, 1, 0, 5, 0, 0, 0, 0, 0, 0]);
    let h = Certifier::with_history(&[1], 7);
    assert_eq!(h.encode(), vec![SNAPSHOT_VERSION, 1, 1, 0, 0, 0, 0, 0, 7]);
    assert!(c.is_empty());
    assert_eq!(c.last_index(), 0);
}

#[test]
fn snapshot_decode_rejects_bad_input() {
    let mut c = Certifier::new(&[1, 2]);
    for (i, e) in [
        (1, dml(0, &[row(1)])),
        (2, ddl_tables(&[("db", "t")])),
        (3, wm(1, 2)),
        (4, wm(2, 1)),
    ] {
        c.certify(i, &e);
    }
    let good = c.encode();
    assert_eq!(Certifier::decode(&good).as_ref(), Ok(&c));

    let state = |f: fn(&mut SnapshotState)| {
        let mut s = SnapshotState {
            watermarks: vec![(1, 2), (2, 1)],
            horizon: 1,
            last_index: 4,
            items: vec![(10, 2), (20, 3)],
            ddl: vec![(10, 2)],
            history: 0,
        };
        f(&mut s);
        versioned_encode(SNAPSHOT_VERSION, &s)
    };
    assert!(Certifier::decode(&state(|_| {})).is_ok(), "baseline");

    let mut trailing = good.clone();
    trailing.push(0);
    let mut version = good.clone();
    version[0] = SNAPSHOT_VERSION + 1;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("unknown version", version),
        ("trailing byte", trailing),
        ("entry bytes", crate::replication::txn::encode(&wm(1, 1))),
        ("unsorted items", state(|s| s.items.reverse())),
        ("duplicate item", state(|s| s.items[1].0 = s.items[0].0)),
        ("duplicate mark", state(|s| s.ddl.push((10, 3)))),
        ("unsorted members", state(|s| s.watermarks.reverse())),
        ("horizon not the min watermark", state(|s| s.horizon = 0)),
        ("item at the horizon", state(|s| s.items[0].1 = 1)),
        ("mark at the horizon", state(|s| s.ddl[0].1 = 1)),
        ("item after last index", state(|s| s.items[1].1 = 5)),
        ("watermark after last index", state(|s| s.watermarks[0].1 = 5)),
    ];
    for (name, bytes) in cases {
        assert!(Certifier::decode(&bytes).is_err(), "{name}");
    }
    for n in 0..good.len() {
        assert!(Certifier::decode(&good[..n]).is_err(), "truncated to {n}");
    }
}

#[test]
#[should_panic(expected = "not after the last certified index")]
fn repeated_index_panics() {
    let mut c = Certifier::new(&[1]);
    c.certify(1, &dml(0, &[row(1)]));
    c.certify(1, &dml(0, &[row(2)]));
}

#[test]
#[should_panic(expected = "not after the last certified index")]
fn restored_certifier_remembers_last_index() {
    let mut c = Certifier::new(&[1]);
    c.certify(7, &dml(0, &[row(1)]));
    let mut d = Certifier::decode(&c.encode()).unwrap();
    d.certify(7, &dml(0, &[row(1)]));
}

/// With a history, a transaction whose snapshot is behind the horizon but within the history
/// is certified exactly (a real conflict aborts, none commits); only one older than the kept
/// history is aborted conservatively, and state is collected at `horizon - history`.
#[test]
fn history_keeps_exact_certification_below_the_horizon() {
    let mut c = Certifier::with_history(&[1, 2], 3);
    assert_eq!(c.certify(1, &dml(0, &[row(1)])), Commit);
    assert_eq!(c.certify(2, &dml(1, &[row(2)])), Commit);
    assert_eq!(c.certify(3, &wm(1, 2)), Commit);
    assert_eq!(c.certify(4, &wm(2, 3)), Commit);
    assert_eq!((c.horizon(), c.floor()), (2, 0), "nothing collected yet");
    assert_eq!(c.certify(5, &dml(4, &[row(3)])), Commit);
    assert_eq!(c.certify(6, &wm(1, 5)), Commit);
    assert_eq!(c.certify(7, &wm(2, 5)), Commit);
    assert_eq!((c.horizon(), c.floor()), (5, 2));
    assert_eq!(c.len(), 1, "rows 1 and 2 (indexes 1, 2) collected, row 3 kept");
    // Snapshot 2 < horizon 5, but within the history: exact.
    assert_eq!(c.certify(8, &dml(2, &[row(3)])), abort(5), "real conflict with index 5");
    assert_eq!(c.certify(9, &dml(2, &[row(4)])), Commit, "no conflict: commits");
    // Snapshot 1 < floor 2: conservative abort.
    assert_eq!(c.certify(10, &dml(1, &[row(5)])), abort(2));
    let d = Certifier::decode(&c.encode()).unwrap();
    assert_eq!(d, c, "history survives a snapshot");
}
