//! Random but valid logs: the certifier against a naive reference model, and determinism.

use super::*;

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
            // Some transactions write rows they cannot name: wide on one of their tables,
            // rarely on a table they do not otherwise list.
            let wide: Vec<(&str, &str)> = match rng.below(16) {
                0 | 1 => vec![tables[rng.below(tables.len() as u64) as usize]],
                2 => vec![(pick(&mut rng, SCHEMAS), pick(&mut rng, TABLES))],
                _ => vec![],
            };
            txn_on(snapshot, &tables, &wide, &items)
        } else if roll < 75 {
            let (s, t) = (pick(&mut rng, SCHEMAS), pick(&mut rng, TABLES));
            ddl_tables(&[(s, t)])
        } else if roll < 77 {
            ddl_database(pick(&mut rng, SCHEMAS))
        } else if roll < 79 {
            // Mode and primary changes: transactions (all from member 1) are fenced while
            // member 2 is the primary.
            let mode = if rng.below(3) == 0 {
                crate::replication::topology::Mode::MultiPrimary
            } else {
                crate::replication::topology::Mode::SinglePrimary
            };
            Entry::Topology(crate::replication::topology::TopologyChange {
                mode,
                primary: Some(1 + rng.below(2)),
                reason: String::new(),
            })
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

/// What one committed entry wrote, for [`Reference`].
struct Committed {
    index: u64,
    /// Write-set items (for DDL: its tables' items).
    items: Vec<u128>,
    /// DDL marks (table and schema items).
    marks: Vec<u128>,
    /// Tables (as `table_item`) written, wide or not.
    tables: Vec<u128>,
    /// Tables (as `table_item`) written wide.
    wide: Vec<u128>,
}

/// Certification straight from the rules, keeping the whole committed log and
/// never collecting anything.
struct Reference {
    watermarks: BTreeMap<u64, u64>,
    committed: Vec<Committed>,
    /// Single-primary mode: the primary and the index of the change; `None`: multi-primary.
    primary: Option<(u64, u64)>,
}

fn table_items(tables: &[TableName]) -> Vec<u128> {
    tables.iter().map(|t| table_item(&t.schema, &t.table)).collect()
}

impl Reference {
    fn new(members: &[u64]) -> Self {
        Reference {
            watermarks: members.iter().map(|&m| (m, 0)).collect(),
            committed: Vec::new(),
            primary: None,
        }
    }

    fn horizon(&self) -> u64 {
        self.watermarks.values().copied().min().unwrap_or(0)
    }

    fn certify(&mut self, index: u64, entry: &Entry) -> Verdict {
        let meets = |a: &[u128], b: &[u128]| a.iter().any(|x| b.contains(x));
        match entry {
            Entry::Txn(t) => {
                if let Some((p, since)) = self.primary {
                    if p != t.origin {
                        return abort(since);
                    }
                }
                if t.snapshot < self.horizon() {
                    return abort(self.horizon());
                }
                let marks_hit: Vec<u128> = t
                    .tables
                    .iter()
                    .flat_map(|tn| [table_item(&tn.schema, &tn.table), schema_item(&tn.schema)])
                    .collect();
                let tables = table_items(&t.tables);
                let wide = table_items(&t.wide);
                let conflict = self
                    .committed
                    .iter()
                    .filter(|c| {
                        c.index > t.snapshot
                            && (meets(&c.items, &t.write_set)
                                || meets(&c.marks, &marks_hit)
                                || meets(&c.wide, &tables)
                                || meets(&c.tables, &wide))
                    })
                    .map(|c| c.index)
                    .max();
                match conflict {
                    Some(i) => abort(i),
                    None => {
                        self.committed.push(Committed {
                            index,
                            items: t.write_set.clone(),
                            marks: vec![],
                            tables: tables.into_iter().chain(wide.iter().copied()).collect(),
                            wide,
                        });
                        Commit
                    }
                }
            }
            Entry::Ddl(d) => {
                let tables = table_items(&d.tables);
                let mut marks = tables.clone();
                if d.tables.is_empty() {
                    marks.extend(d.schema.as_deref().map(schema_item));
                }
                self.committed.push(Committed {
                    index,
                    items: tables,
                    marks,
                    tables: vec![],
                    wide: vec![],
                });
                Commit
            }
            Entry::Watermark { member, applied } => {
                if let Some(w) = self.watermarks.get_mut(member) {
                    *w = (*w).max((*applied).min(index - 1));
                }
                Commit
            }
            Entry::Sequence(_) => Commit,
            Entry::Topology(change) => {
                self.primary = match change.mode {
                    crate::replication::topology::Mode::SinglePrimary => change.primary.map(|p| (p, index)),
                    crate::replication::topology::Mode::MultiPrimary => None,
                };
                Commit
            }
        }
    }

    /// Keys of each kind whose last write is above the horizon.
    fn len(&self) -> usize {
        let h = self.horizon();
        let kinds: [fn(&Committed) -> &Vec<u128>; 4] = [|c| &c.items, |c| &c.marks, |c| &c.tables, |c| &c.wide];
        kinds
            .iter()
            .map(|kind| {
                let mut last = BTreeMap::new();
                for c in &self.committed {
                    last.extend(kind(c).iter().map(|&x| (x, c.index)));
                }
                last.values().filter(|&&i| i > h).count()
            })
            .sum()
    }
}

#[test]
fn matches_reference_model_on_random_logs() {
    let members = [1, 2, 3];
    let (mut commits, mut aborts, mut stale, mut max_horizon) = (0, 0, 0, 0);
    let (mut wide_commits, mut wide_aborts, mut fences) = (0, 0, 0);
    for seed in 0..40 {
        let log = random_log(seed, 500);
        let mut c = Certifier::new(&members);
        let mut r = Reference::new(&members);
        for (n, (index, entry)) in log.iter().enumerate() {
            let is_txn = matches!(entry, Entry::Txn(_));
            let fenced = matches!(entry, Entry::Txn(t) if r.primary.is_some_and(|(p, _)| p != t.origin));
            let stale_snapshot = !fenced && matches!(entry, Entry::Txn(t) if t.snapshot < r.horizon());
            let is_wide = matches!(entry, Entry::Txn(t) if !t.wide.is_empty());
            let want = r.certify(*index, entry);
            assert_eq!(c.certify(*index, entry), want, "seed {seed} entry {n} (index {index})");
            assert_eq!(c.horizon(), r.horizon(), "seed {seed} entry {n} horizon");
            assert_eq!(c.len(), r.len(), "seed {seed} entry {n} len");
            match (is_txn, want) {
                (true, Verdict::Abort { .. }) if fenced => fences += 1,
                (true, Commit) => commits += 1,
                (true, Verdict::Abort { .. }) if stale_snapshot => stale += 1,
                (true, Verdict::Abort { .. }) => aborts += 1,
                _ => {}
            }
            match (is_wide && !stale_snapshot && !fenced, want) {
                (true, Commit) => wide_commits += 1,
                (true, Verdict::Abort { .. }) => wide_aborts += 1,
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
    assert!(wide_commits > 200 && wide_aborts > 200, "{wide_commits} {wide_aborts}");
    assert!(fences > 500, "{fences}");
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
