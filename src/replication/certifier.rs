//! Certification: first-committer-wins over the totally ordered log.
//!
//! Every member feeds each committed log entry, in log order, to its own
//! [`Certifier`]. The verdict depends only on the entries fed so far, never on
//! wall-clock time, hash-map iteration order or anything local, so every
//! member computes the same verdict for every entry and holds the same state
//! after the same prefix of the log (byte-identical under [`Certifier::encode`]).
//!
//! Rules:
//! * **Txn** — aborts iff some item of its write set was last written by a
//!   committed entry with index `> snapshot`, or one of its tables had DDL at
//!   index `> snapshot`, or the schema of one of its tables had database DDL
//!   at index `> snapshot`, or one of its tables had a *wide* write (see
//!   [`Txn::wide`]) at index `> snapshot`, or, for each of its own wide tables,
//!   any committed write to that table at index `> snapshot`. On commit its
//!   index becomes the last writer of each of its items and of each table it
//!   wrote (and the wide mark of its wide tables); an aborted transaction
//!   changes nothing.
//! * **Ddl** — always commits (total-order isolation). Its index becomes the
//!   DDL mark of each listed table and the last writer of each table's
//!   [`table_item`]; with no tables and `schema: Some(s)` it is database DDL
//!   and marks `s`'s [`schema_item`].
//! * **Topology** — sets the mode and primary and commits. In single-primary
//!   mode a Txn whose origin is not the primary aborts (`conflict_index` is
//!   the topology entry): the fence that keeps a deposed primary from
//!   committing anything ordered after it lost the role.
//! * **Watermark** — raises that member's applied watermark (monotonic max,
//!   clamped below the entry's own index) and commits. The horizon is the
//!   minimum watermark over the members given to [`Certifier::new`]. Items and
//!   DDL marks at index `<= floor`, where `floor = horizon - history` (the
//!   `history` given to [`Certifier::with_history`], 0 by default), are
//!   dropped. A transaction with `snapshot < floor` is aborted conservatively,
//!   since a conflicting entry may have been collected (a false conflict is
//!   safe, a missed one would diverge the group); `snapshot >= floor` is
//!   certified exactly. The history lets a transaction that runs for a while
//!   (its snapshot falls behind the horizon) still be certified exactly.
//!
//! Membership is fixed at construction: watermarks from other member ids are
//! ignored, and a member that never reports holds the horizon (and thus
//! memory) back. With no members the horizon stays 0 and nothing is collected.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::topology::Topology;
use super::txn::{versioned_decode, versioned_encode, Ddl, DecodeError, Entry, Txn};
use super::writeset::{schema_item, table_item};

/// Version byte in front of an encoded [`Certifier`] snapshot.
pub const SNAPSHOT_VERSION: u8 = 4;

/// Outcome of certifying one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Commit,
    /// The transaction conflicts with the entry at `conflict_index` (the
    /// highest conflicting index, `> snapshot`). When the snapshot is older
    /// than the GC horizon, `conflict_index` is the horizon itself.
    Abort {
        conflict_index: u64,
    },
}

/// Which map a secondary-index entry points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Slot {
    Item,
    Ddl,
    /// Last committed write of any row of a table (keyed by `table_item`).
    TableWrite,
    /// Last committed wide write of a table (keyed by `table_item`).
    Wide,
}

/// Deterministic certification state (see the module docs for the rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certifier {
    /// Applied watermark per member.
    watermarks: BTreeMap<u64, u64>,
    /// Min of `watermarks`.
    horizon: u64,
    /// Entries of certification state kept below the horizon: everything at or below
    /// `horizon - history` has been collected.
    history: u64,
    /// Index of the last certified entry (0 before the first).
    last_index: u64,
    /// Item -> index of its last committed writer.
    items: BTreeMap<u128, u64>,
    /// `table_item` / `schema_item` -> index of the last DDL on it.
    ddl: BTreeMap<u128, u64>,
    /// `table_item` -> index of the last committed transaction that wrote the table.
    table_writes: BTreeMap<u128, u64>,
    /// `table_item` -> index of the last committed wide write to the table.
    wide: BTreeMap<u128, u64>,
    /// (index, slot, key) for every entry of `items` and `ddl`, for GC in
    /// index order. Derived: not encoded, rebuilt on decode.
    by_index: BTreeSet<(u64, Slot, u128)>,
    /// Who may write (see [`super::topology`]).
    topology: Topology,
}

/// Encoded form of a [`Certifier`]: maps as key-sorted vectors.
#[derive(Serialize, Deserialize)]
struct SnapshotState {
    watermarks: Vec<(u64, u64)>,
    horizon: u64,
    last_index: u64,
    items: Vec<(u128, u64)>,
    ddl: Vec<(u128, u64)>,
    table_writes: Vec<(u128, u64)>,
    wide: Vec<(u128, u64)>,
    history: u64,
    topology: Topology,
}

/// Version 3 snapshots (before single-primary mode): no topology.
#[derive(Deserialize)]
struct SnapshotStateV3 {
    watermarks: Vec<(u64, u64)>,
    horizon: u64,
    last_index: u64,
    items: Vec<(u128, u64)>,
    ddl: Vec<(u128, u64)>,
    table_writes: Vec<(u128, u64)>,
    wide: Vec<(u128, u64)>,
    history: u64,
}

impl Certifier {
    /// A certifier for a group of `members` (duplicates ignored), all at
    /// watermark 0, that collects everything at or below the horizon.
    pub fn new(members: &[u64]) -> Self {
        Self::with_history(members, 0)
    }

    /// Like [`new`](Self::new), keeping `history` entries of certification
    /// state below the horizon.
    pub fn with_history(members: &[u64], history: u64) -> Self {
        Certifier {
            watermarks: members.iter().map(|&m| (m, 0)).collect(),
            horizon: 0,
            history,
            last_index: 0,
            items: BTreeMap::new(),
            ddl: BTreeMap::new(),
            table_writes: BTreeMap::new(),
            wide: BTreeMap::new(),
            by_index: BTreeSet::new(),
            topology: Topology::default(),
        }
    }

    /// Certify the entry at log `index`. Indices must be strictly increasing
    /// across calls (gaps are fine: non-`Entry` log records are skipped).
    /// The same sequence of calls yields the same verdicts and state on
    /// every member.
    ///
    /// # Panics
    /// If `index` is not greater than the previous call's index (or, after
    /// [`decode`](Self::decode), the snapshot's last index): certifying out of
    /// order would silently diverge the group.
    pub fn certify(&mut self, index: u64, entry: &Entry) -> Verdict {
        assert!(
            index > self.last_index,
            "certify: index {index} is not after the last certified index {}",
            self.last_index
        );
        self.last_index = index;
        match entry {
            Entry::Txn(txn) => self.certify_txn(index, txn),
            Entry::Ddl(ddl) => {
                self.apply_ddl(index, ddl);
                Verdict::Commit
            }
            Entry::Watermark { member, applied } => {
                self.apply_watermark(index, *member, *applied);
                Verdict::Commit
            }
            // Nothing to certify: a sequence only moves forward, whoever moved it.
            Entry::Sequence(_) => Verdict::Commit,
            Entry::Topology(change) => {
                self.topology = Topology::after(change, index);
                Verdict::Commit
            }
        }
    }

    /// The lowest applied watermark of any member: every member has applied
    /// everything at or below it.
    pub fn horizon(&self) -> u64 {
        self.horizon
    }

    /// Certification state at or below this index has been garbage-collected.
    pub fn floor(&self) -> u64 {
        self.horizon.saturating_sub(self.history)
    }

    /// Index of the last certified entry (0 if none).
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// Number of tracked keys: write-set items plus table/schema DDL marks.
    pub fn len(&self) -> usize {
        self.items.len() + self.ddl.len() + self.table_writes.len() + self.wide.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Snapshot for Raft: [`SNAPSHOT_VERSION`] then bincode. Canonical: equal
    /// states encode to equal bytes.
    pub fn encode(&self) -> Vec<u8> {
        let state = SnapshotState {
            watermarks: self.watermarks.iter().map(|(&m, &w)| (m, w)).collect(),
            horizon: self.horizon,
            last_index: self.last_index,
            items: self.items.iter().map(|(&k, &i)| (k, i)).collect(),
            ddl: self.ddl.iter().map(|(&k, &i)| (k, i)).collect(),
            table_writes: self.table_writes.iter().map(|(&k, &i)| (k, i)).collect(),
            wide: self.wide.iter().map(|(&k, &i)| (k, i)).collect(),
            history: self.history,
            topology: self.topology.clone(),
        };
        versioned_encode(SNAPSHOT_VERSION, &state)
    }

    /// Restore a snapshot written by [`encode`](Self::encode), checking its
    /// invariants (sorted unique keys, horizon = min watermark, every tracked
    /// index in `(floor, last_index]`).
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let s: SnapshotState = match b.first() {
            Some(3) => {
                let v3: SnapshotStateV3 = versioned_decode(3, b)?;
                SnapshotState {
                    watermarks: v3.watermarks,
                    horizon: v3.horizon,
                    last_index: v3.last_index,
                    items: v3.items,
                    ddl: v3.ddl,
                    table_writes: v3.table_writes,
                    wide: v3.wide,
                    history: v3.history,
                    topology: Topology::default(),
                }
            }
            _ => versioned_decode(SNAPSHOT_VERSION, b)?,
        };
        let invalid = |what: &str| Err(DecodeError::Invalid(format!("certifier snapshot: {what}")));
        let sorted = |v: &[(u128, u64)]| v.windows(2).all(|w| w[0].0 < w[1].0);
        if !s.watermarks.windows(2).all(|w| w[0].0 < w[1].0) {
            return invalid("member ids not sorted and unique");
        }
        if !sorted(&s.items) || !sorted(&s.ddl) || !sorted(&s.table_writes) || !sorted(&s.wide) {
            return invalid("keys not sorted and unique");
        }
        let min_watermark = s.watermarks.iter().map(|&(_, w)| w).min().unwrap_or(0);
        if s.horizon != min_watermark {
            return invalid("horizon is not the minimum watermark");
        }
        let floor = s.horizon.saturating_sub(s.history);
        if s.topology.since > s.last_index {
            return invalid("topology set after the last index");
        }
        if s.horizon > s.last_index
            || s.watermarks.iter().any(|&(_, w)| w > s.last_index)
            || s.items
                .iter()
                .chain(&s.ddl)
                .chain(&s.table_writes)
                .chain(&s.wide)
                .any(|&(_, i)| i <= floor || i > s.last_index)
        {
            return invalid("index outside (floor, last_index]");
        }
        let by_index = s
            .items
            .iter()
            .map(|&(k, i)| (i, Slot::Item, k))
            .chain(s.ddl.iter().map(|&(k, i)| (i, Slot::Ddl, k)))
            .chain(s.table_writes.iter().map(|&(k, i)| (i, Slot::TableWrite, k)))
            .chain(s.wide.iter().map(|&(k, i)| (i, Slot::Wide, k)))
            .collect();
        Ok(Certifier {
            watermarks: s.watermarks.into_iter().collect(),
            horizon: s.horizon,
            history: s.history,
            last_index: s.last_index,
            items: s.items.into_iter().collect(),
            ddl: s.ddl.into_iter().collect(),
            table_writes: s.table_writes.into_iter().collect(),
            wide: s.wide.into_iter().collect(),
            by_index,
            topology: s.topology,
        })
    }

    /// Who may write after the entries certified so far.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    fn certify_txn(&mut self, index: u64, txn: &Txn) -> Verdict {
        // Single-primary fence: only the primary named by the last topology change commits.
        if !self.topology.admits(txn.origin) {
            return Verdict::Abort {
                conflict_index: self.topology.since,
            };
        }
        if txn.snapshot < self.floor() {
            return Verdict::Abort {
                conflict_index: self.floor(),
            };
        }
        let snapshot = txn.snapshot;
        let mut conflict: Option<u64> = None;
        let mut note = |at: Option<&u64>| {
            if let Some(&at) = at {
                if at > snapshot {
                    conflict = Some(conflict.map_or(at, |c| c.max(at)));
                }
            }
        };
        for item in &txn.write_set {
            note(self.items.get(item));
        }
        for t in &txn.tables {
            let table = table_item(&t.schema, &t.table);
            if !self.ddl.is_empty() {
                note(self.ddl.get(&table));
                note(self.ddl.get(&schema_item(&t.schema)));
            }
            note(self.wide.get(&table));
        }
        for t in &txn.wide {
            note(self.table_writes.get(&table_item(&t.schema, &t.table)));
        }
        if let Some(conflict_index) = conflict {
            return Verdict::Abort { conflict_index };
        }
        for &item in &txn.write_set {
            self.set(Slot::Item, item, index);
        }
        for t in txn.tables.iter().chain(&txn.wide) {
            self.set(Slot::TableWrite, table_item(&t.schema, &t.table), index);
        }
        for t in &txn.wide {
            self.set(Slot::Wide, table_item(&t.schema, &t.table), index);
        }
        Verdict::Commit
    }

    fn apply_ddl(&mut self, index: u64, ddl: &Ddl) {
        for t in &ddl.tables {
            let item = table_item(&t.schema, &t.table);
            self.set(Slot::Ddl, item, index);
            self.set(Slot::Item, item, index);
        }
        if ddl.tables.is_empty() {
            if let Some(schema) = &ddl.schema {
                self.set(Slot::Ddl, schema_item(schema), index);
            }
        }
    }

    /// The group's members changed at this point of the log (every member sees the change at
    /// the same place): a new member starts at the horizon, because it is provisioned from a
    /// snapshot or a state transfer that covers it, and a removed member no longer holds the
    /// horizon back.
    pub fn set_members(&mut self, members: &[u64]) {
        let horizon = self.horizon;
        self.watermarks.retain(|m, _| members.contains(m));
        for &m in members {
            self.watermarks.entry(m).or_insert(horizon);
        }
        self.raise_horizon();
    }

    /// The members whose watermarks make the horizon.
    pub fn members(&self) -> Vec<u64> {
        self.watermarks.keys().copied().collect()
    }

    fn raise_horizon(&mut self) {
        let horizon = self.watermarks.values().copied().min().unwrap_or(self.horizon);
        if horizon > self.horizon {
            self.horizon = horizon;
            self.collect();
        }
    }

    fn apply_watermark(&mut self, index: u64, member: u64, applied: u64) {
        let Some(w) = self.watermarks.get_mut(&member) else {
            return;
        };
        // A member cannot have applied this entry or anything after it.
        *w = (*w).max(applied.min(index - 1));
        self.raise_horizon();
    }

    /// Drop every item and DDL mark at index `<= floor`.
    fn collect(&mut self) {
        let floor = self.floor();
        while let Some(&(at, slot, key)) = self.by_index.first() {
            if at > floor {
                break;
            }
            self.by_index.pop_first();
            self.map(slot).remove(&key);
        }
    }

    fn map(&mut self, slot: Slot) -> &mut BTreeMap<u128, u64> {
        match slot {
            Slot::Item => &mut self.items,
            Slot::Ddl => &mut self.ddl,
            Slot::TableWrite => &mut self.table_writes,
            Slot::Wide => &mut self.wide,
        }
    }

    fn set(&mut self, slot: Slot, key: u128, index: u64) {
        if let Some(old) = self.map(slot).insert(key, index) {
            self.by_index.remove(&(old, slot, key));
        }
        self.by_index.insert((index, slot, key));
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_members;
