use super::*;
use crate::replication::txn::TableName;
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

fn names(tables: &[(&str, &str)]) -> Vec<TableName> {
    tables.iter().map(|&(s, t)| TableName::new(s, t)).collect()
}

/// A transaction with the given snapshot writing `items` to the listed tables, and rows it
/// cannot name to the `wide` tables.
fn txn_on(snapshot: u64, tables: &[(&str, &str)], wide: &[(&str, &str)], items: &[u128]) -> Entry {
    let mut ws = WriteSetBuilder::new();
    ws.extend(items.iter().copied());
    let e = Entry::Txn(Txn {
        origin: 1,
        trx_id: snapshot,
        snapshot,
        write_set: ws.finish(),
        tables: names(tables),
        wide: names(wide),
        fde: vec![0xfd; 19],
        events: vec![vec![0; 19]],
    });
    e.validate().expect("test entry is valid");
    e
}

/// A transaction with the given snapshot writing `items` to the listed tables.
fn dml_on(snapshot: u64, tables: &[(&str, &str)], items: &[u128]) -> Entry {
    txn_on(snapshot, tables, &[], items)
}

/// A transaction on `table` that wrote rows of it it cannot name (and `items`).
fn wide_on(snapshot: u64, table: (&str, &str), items: &[u128]) -> Entry {
    txn_on(snapshot, &[table], &[table], items)
}

/// A wide write to `db.t`.
fn wide(snapshot: u64) -> Entry {
    wide_on(snapshot, ("db", "t"), &[])
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
        context: vec![("sql_mode".into(), "''".into())],
        tables: tables.iter().map(|&(s, t)| TableName::new(s, t)).collect(),
    })
}

fn ddl_database(schema: &str) -> Entry {
    Entry::Ddl(Ddl {
        origin: 2,
        trx_id: 1,
        schema: Some(schema.into()),
        sql: format!("DROP DATABASE {schema}"),
        context: vec![("sql_mode".into(), "''".into())],
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
                Len(9), // 6 rows + table-write marks of db.t, db.u and other.t
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
                Len(2), // row 1 and db.t's table-write mark, both from index 1
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
                Len(6), // 3 rows + table item + DDL mark + db.t's table-write mark (3)
                C(5, wm(1, 3), Commit),
                C(6, wm(2, 3), Commit),
                Horizon(0),
                Len(6),
                // An unknown member does not count.
                C(7, wm(99, 10), Commit),
                Horizon(0),
                C(8, wm(3, 2), Commit),
                Horizon(2),
                Len(4), // rows 1 and 2 collected
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
                Len(8), // + u/1, rows 1 and 2, db.u's table-write mark (db.t's moves to 14)
                C(15, wm(3, 4), Commit),
                C(16, wm(2, 4), Commit),
                Horizon(3),
                C(17, wm(1, 4), Commit),
                Horizon(4),
                Len(5), // rows 1, 2 and db.t's mark (index 14), u/1 and db.u's mark (index 12)
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
                Len(3),
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
                Len(2),
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
        Case {
            name: "wide write, then any row of the table from an older snapshot conflicts",
            members: M,
            steps: vec![
                C(1, dml_on(0, &[("db", "u")], &[pk("db", "u", 1)]), Commit),
                C(2, dml_on(0, &[("other", "t")], &[pk("other", "t", 1)]), Commit),
                C(3, wide(2), Commit),
                C(4, dml(2, &[row(1)]), abort(3)),
                C(5, dml(0, &[row(999)]), abort(3)),
                C(6, dml(2, &[table_item("db", "t")]), abort(3)),
                C(7, dml(2, &[]), abort(3)),
                C(8, dml_on(2, &[("db", "u"), ("db", "t")], &[pk("db", "u", 2)]), abort(3)),
                C(9, wide(2), abort(3)),
                C(10, wide_on(2, ("db", "t"), &[row(5)]), abort(3)),
                // Named only as wide (no rows it can name): still a write to the table.
                C(11, txn_on(2, &[], &[("db", "t")], &[]), abort(3)),
                C(12, dml(3, &[row(1)]), Commit),
                // The conflict index is the highest conflicting write (row 1 at 12).
                C(13, dml(2, &[row(1)]), abort(12)),
                // items u/1, other.t/1, row 1; table writes db.u, other.t, db.t; wide db.t
                Len(7),
            ],
        },
        Case {
            name: "row write, then a wide write from an older snapshot conflicts",
            members: M,
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                C(2, wide(0), abort(1)),
                C(3, wide_on(0, ("db", "t"), &[row(2)]), abort(1)),
                C(4, txn_on(0, &[], &[("db", "t")], &[]), abort(1)),
                C(5, dml(0, &[row(2)]), Commit),
                // The highest conflicting write to the table.
                C(6, wide(1), abort(5)),
                C(7, wide(5), Commit),
                // DDL on the table conflicts through its DDL mark.
                C(8, ddl_tables(&[("db", "x")]), Commit),
                C(9, wide_on(7, ("db", "x"), &[]), abort(8)),
                // Every table of a multi-table transaction gets a table-write mark.
                C(10, dml_on(9, &[("db", "u"), ("db", "v")], &[pk("db", "u", 1)]), Commit),
                C(11, wide_on(9, ("db", "v"), &[]), abort(10)),
                C(12, wide_on(9, ("db", "u"), &[]), abort(10)),
                C(13, wide_on(10, ("db", "v"), &[]), Commit),
            ],
        },
        Case {
            name: "wide write on db.t does not conflict with other tables",
            members: M,
            steps: vec![
                C(1, wide(0), Commit),
                C(2, dml_on(0, &[("db", "u")], &[pk("db", "u", 1)]), Commit),
                C(3, dml_on(0, &[("db2", "t")], &[pk("db2", "t", 1)]), Commit),
                C(4, wide_on(0, ("db", "v"), &[]), Commit),
                C(5, dml_on(0, &[("db", "u")], &[pk("db", "u", 2)]), Commit),
                C(6, txn_on(0, &[("db", "w")], &[("db2", "w")], &[]), Commit),
                // items u/1, db2.t/1, u/2; table writes db.t, db.u, db2.t, db.v, db.w,
                // db2.w; wide db.t, db.v, db2.w
                Len(12),
            ],
        },
        Case {
            name: "snapshot at or after the wide write does not conflict",
            members: M,
            steps: vec![
                C(1, wide(0), Commit),
                C(2, dml(1, &[row(1)]), Commit),
                C(3, wide(2), Commit),
                C(4, dml(3, &[row(1)]), Commit),
                C(5, wide(4), Commit),
                // One below the wide write: conflicts.
                C(6, dml(4, &[row(2)]), abort(5)),
                C(7, dml(5, &[row(2)]), Commit),
                C(8, wide(7), Commit),
                C(9, dml(100, &[row(3)]), Commit),
            ],
        },
        Case {
            name: "GC: wide marks are collected below the floor like items",
            members: &[1, 2],
            steps: vec![
                C(1, wide(0), Commit),
                C(2, wide(1), Commit),
                C(3, dml_on(0, &[("db", "u")], &[pk("db", "u", 1)]), Commit),
                Len(4), // wide db.t and table write db.t (2), u/1 and table write db.u (3)
                C(4, wm(1, 1), Commit),
                C(5, wm(2, 1), Commit),
                Horizon(1),
                Len(4),
                // snapshot == floor: exact, the wide write at 2 conflicts.
                C(6, dml(1, &[row(5)]), abort(2)),
                C(7, dml(2, &[row(5)]), Commit),
                Len(5),
                C(8, wm(1, 3), Commit),
                C(9, wm(2, 3), Commit),
                Horizon(3),
                Len(2), // the wide mark (2) is gone with u/1 (3); row 5 and db.t's write (7) stay
                // snapshot >= floor: exact (the collected wide mark is at or below it).
                C(10, dml(3, &[row(6)]), Commit),
                // snapshot < floor: conservative abort.
                C(11, dml(2, &[row(6)]), abort(3)),
                C(12, wide(3), abort(10)),
                C(13, wide(10), Commit),
                Len(4), // rows 5 and 6, db.t's table write and wide marks (13)
                C(14, wm(1, 13), Commit),
                C(15, wm(2, 13), Commit),
                Horizon(13),
                Len(0),
                C(16, dml(13, &[row(1)]), Commit),
                C(17, dml(12, &[row(1)]), abort(13)),
            ],
        },
        Case {
            name: "aborted wide transaction leaves no marks",
            members: M,
            steps: vec![
                C(1, dml(0, &[row(1)]), Commit),
                Len(2),
                C(
                    2,
                    txn_on(
                        0,
                        &[("db", "t"), ("db", "v"), ("db", "w")],
                        &[("db", "t"), ("db", "v")],
                        &[row(2)],
                    ),
                    abort(1),
                ),
                Len(2),
                // No wide mark on db.v or db.t, no item for row 2.
                C(3, dml_on(0, &[("db", "v")], &[pk("db", "v", 1)]), Commit),
                C(4, dml(1, &[row(2)]), Commit),
                // No table-write mark on db.w.
                C(5, wide_on(0, ("db", "w"), &[]), Commit),
                Len(7),
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
        context: vec![("sql_mode".into(), "''".into())],
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

mod random_logs;

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
    assert_eq!(
        c.len(),
        2,
        "rows 1 and 2 (indexes 1, 2) collected, row 3 and db.t's table-write mark (5) kept"
    );
    // Snapshot 2 < horizon 5, but within the history: exact.
    assert_eq!(c.certify(8, &dml(2, &[row(3)])), abort(5), "real conflict with index 5");
    assert_eq!(c.certify(9, &dml(2, &[row(4)])), Commit, "no conflict: commits");
    // Snapshot 1 < floor 2: conservative abort.
    assert_eq!(c.certify(10, &dml(1, &[row(5)])), abort(2));
    let d = Certifier::decode(&c.encode()).unwrap();
    assert_eq!(d, c, "history survives a snapshot");
}

/// Table-write and wide marks survive a snapshot: the restored certifier holds the same
/// state, re-encodes to the same bytes, and goes on with the same verdicts.
#[test]
fn snapshot_round_trips_wide_and_table_write_state() {
    let mut c = Certifier::with_history(&[1, 2], 2);
    let log = [
        (1, wide(0)),
        (2, dml_on(0, &[("db", "u"), ("db", "v")], &[pk("db", "u", 1)])),
        (3, wide_on(1, ("db", "w"), &[pk("db", "w", 1)])),
        (4, ddl_tables(&[("db", "x")])),
        (5, wm(1, 3)),
        (6, wm(2, 4)),
        (7, txn_on(4, &[("db", "t")], &[("db", "u")], &[row(9)])),
    ];
    for (i, e) in &log {
        c.certify(*i, e);
    }
    assert_eq!((c.horizon(), c.floor()), (3, 1));
    let bytes = c.encode();
    let mut d = Certifier::decode(&bytes).expect("decodes");
    assert_eq!(d, c);
    assert_eq!(d.encode(), bytes);
    assert_eq!(d.len(), c.len());
    // The wide mark on db.t (1) is at the floor and gone; the rest is not.
    let next = [
        (8, dml(1, &[row(1)]), Commit),
        (9, dml_on(2, &[("db", "w")], &[pk("db", "w", 2)]), abort(3)),
        (10, wide_on(1, ("db", "v"), &[]), abort(2)),
        (11, dml_on(6, &[("db", "u")], &[pk("db", "u", 5)]), abort(7)),
        (12, wide_on(3, ("db", "x"), &[]), abort(4)),
        (13, dml_on(7, &[("db", "u")], &[pk("db", "u", 5)]), Commit),
    ];
    for (i, e, want) in &next {
        assert_eq!(c.certify(*i, e), *want, "original, index {i}");
        assert_eq!(d.certify(*i, e), *want, "restored, index {i}");
    }
    assert_eq!(d.encode(), c.encode());
}

/// With a history, a wide mark behind the horizon but within the history still conflicts
/// exactly; it is collected at `horizon - history` like any item.
#[test]
fn history_keeps_wide_marks_exact_below_the_horizon() {
    let mut c = Certifier::with_history(&[1, 2], 3);
    assert_eq!(c.certify(1, &dml(0, &[row(1)])), Commit);
    assert_eq!(c.certify(2, &dml_on(1, &[("db", "u")], &[pk("db", "u", 1)])), Commit);
    assert_eq!(c.certify(3, &wide(2)), Commit);
    assert_eq!(c.certify(4, &wm(1, 4)), Commit);
    assert_eq!(c.certify(5, &wm(2, 4)), Commit);
    assert_eq!(
        (c.horizon(), c.floor()),
        (3, 0),
        "watermarks clamped below their own index"
    );
    assert_eq!(c.certify(6, &wm(1, 5)), Commit);
    assert_eq!(c.certify(7, &wm(2, 5)), Commit);
    assert_eq!((c.horizon(), c.floor()), (5, 2));
    assert_eq!(
        c.len(),
        2,
        "row 1, u/1 and db.u's mark collected; db.t's wide and write marks (3) kept"
    );
    // Snapshot 2 < horizon 5, but not below the floor: exact.
    assert_eq!(c.certify(8, &dml(2, &[row(9)])), abort(3), "the wide write at 3");
    assert_eq!(c.certify(9, &dml_on(2, &[("db", "u")], &[pk("db", "u", 2)])), Commit);
    assert_eq!(c.certify(10, &dml(3, &[row(9)])), Commit);
    // Snapshot 1 < floor 2: conservative abort.
    assert_eq!(c.certify(11, &dml(1, &[row(10)])), abort(2));
    let d = Certifier::decode(&c.encode()).unwrap();
    assert_eq!(d, c);
}

mod snapshot;
mod topology;
