//! Write-set items: 128-bit hashes naming what a transaction wrote.
//!
//! An item is XXH3-128 (seed 0) over an unambiguous encoding:
//!
//! ```text
//! kind: u8            1 = schema, 2 = table, 3 = key
//! field*              each identifier and key part as: len: u64 LE, bytes
//! (key items only)    number of key parts as u64 LE, before the parts
//! ```
//!
//! so different splits of the same bytes (`("ab","c")` vs `("a","bc")`), a
//! schema/table boundary moving, or a key vs table vs schema item can only
//! collide by a 128-bit hash collision. XXH3 is defined byte-for-byte and
//! independent of platform, endianness and process, so items are stable
//! across machines, processes and versions. **Changing this encoding is a
//! wire-format change**: members of one group must agree on it (the tests pin
//! known values).
//!
//! Identifiers (schema, table, index) are hashed exactly as given, i.e.
//! compared case-sensitively; the caller lowercases them where the server
//! compares them case-insensitively (`lower_case_table_names`, index names).
//!
//! Key parts are already normalized bytes, the caller's job: the server's
//! `WEIGHT_STRING()` output for string columns (so collation-equal values
//! collide), canonical decimal text for numbers, and so on. A unique key with
//! any NULL part does not constrain (NULLs never conflict in a unique index),
//! so the caller skips the item for such a key rather than passing NULL.
//!
//! What a transaction adds, per changed row: one key item per primary key and
//! per unique key (before and after images of an update when they differ),
//! the referenced parent's key item for each foreign key of an inserted or
//! updated child row (so it conflicts with a concurrent parent delete), and
//! [`table_item`] for tables with no usable key.

use xxhash_rust::xxh3::xxh3_128;

const KIND_SCHEMA: u8 = 1;
const KIND_TABLE: u8 = 2;
const KIND_KEY: u8 = 3;

fn put(buf: &mut Vec<u8>, field: &[u8]) {
    buf.extend_from_slice(&(field.len() as u64).to_le_bytes());
    buf.extend_from_slice(field);
}

/// Item for one key value: (schema, table, index name, normalized key parts).
pub fn key_item(schema: &str, table: &str, index: &str, key_parts: &[&[u8]]) -> u128 {
    let parts_len: usize = key_parts.iter().map(|p| p.len() + 8).sum();
    let mut buf = Vec::with_capacity(1 + 3 * 8 + schema.len() + table.len() + index.len() + 8 + parts_len);
    buf.push(KIND_KEY);
    put(&mut buf, schema.as_bytes());
    put(&mut buf, table.as_bytes());
    put(&mut buf, index.as_bytes());
    buf.extend_from_slice(&(key_parts.len() as u64).to_le_bytes());
    for part in key_parts {
        put(&mut buf, part);
    }
    xxh3_128(&buf)
}

/// Table-level item: written by DDL on the table, and used as a coarse item
/// for rows of tables without a usable (primary or non-null unique) key.
pub fn table_item(schema: &str, table: &str) -> u128 {
    let mut buf = Vec::with_capacity(1 + 2 * 8 + schema.len() + table.len());
    buf.push(KIND_TABLE);
    put(&mut buf, schema.as_bytes());
    put(&mut buf, table.as_bytes());
    xxh3_128(&buf)
}

/// Schema-level item, for database DDL (CREATE/DROP/ALTER DATABASE).
pub fn schema_item(schema: &str) -> u128 {
    let mut buf = Vec::with_capacity(1 + 8 + schema.len());
    buf.push(KIND_SCHEMA);
    put(&mut buf, schema.as_bytes());
    xxh3_128(&buf)
}

/// Collects a transaction's items; [`finish`](Self::finish) yields the sorted,
/// deduplicated form stored in [`super::txn::Txn::write_set`].
#[derive(Debug, Clone, Default)]
pub struct WriteSetBuilder {
    items: Vec<u128>,
}

impl WriteSetBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one item (duplicates are fine).
    pub fn add(&mut self, item: u128) {
        self.items.push(item);
    }

    /// Shorthand for `add(key_item(..))`.
    pub fn add_key(&mut self, schema: &str, table: &str, index: &str, key_parts: &[&[u8]]) {
        self.add(key_item(schema, table, index, key_parts));
    }

    /// Items added so far, counting duplicates.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The sorted, deduplicated write set.
    pub fn finish(mut self) -> Vec<u128> {
        self.items.sort_unstable();
        self.items.dedup();
        self.items
    }
}

impl Extend<u128> for WriteSetBuilder {
    fn extend<I: IntoIterator<Item = u128>>(&mut self, iter: I) {
        self.items.extend(iter);
    }
}

#[cfg(test)]
mod tests;
