//! The replicated log entry format.
//!
//! Every entry proposed to Raft is one [`Entry`], encoded by [`encode`] as a
//! single leading format-version byte ([`FORMAT_VERSION`]) followed by the
//! bincode 1 encoding of the entry (varint integers, little endian, no
//! trailing bytes). The version byte lets a later release change the layout
//! while still reading (or at least clearly rejecting) older logs.
//!
//! [`decode`] is strict: an unknown version, truncated or trailing bytes, and
//! entries that break the structural invariants checked by
//! [`Entry::validate`] are all errors. Since every member decodes the same
//! bytes, a rejected entry is rejected everywhere.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Version byte written in front of every encoded [`Entry`].
pub const FORMAT_VERSION: u8 = 1;

/// Why bytes could not be turned back into an entry (or certifier snapshot).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No bytes at all (not even the version byte).
    #[error("empty input")]
    Empty,
    /// The leading version byte is not one this build understands.
    #[error("unsupported format version {found} (this build reads version {expected})")]
    UnsupportedVersion { found: u8, expected: u8 },
    /// The bytes are not a valid bincode encoding (truncated, trailing bytes, bad tag, ...).
    #[error("malformed encoding: {0}")]
    Malformed(String),
    /// The bytes decode, but the content breaks an invariant of the format.
    #[error("invalid content: {0}")]
    Invalid(String),
}

/// What is proposed to Raft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Entry {
    /// A DML transaction to certify and, if it commits, replay on other members.
    Txn(Txn),
    /// A DDL statement, executed in total order on every member (always commits).
    Ddl(Ddl),
    /// A member reports that it has applied the log up to and including
    /// `applied`. Drives garbage collection of certification state.
    Watermark { member: u64, applied: u64 },
}

/// A transaction's write set and row images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Txn {
    /// Member id of the origin.
    pub origin: u64,
    /// Origin-local id, to match the verdict to the waiting session.
    pub trx_id: u64,
    /// The origin's applied watermark (log index) when the transaction's first
    /// statement ran: the transaction saw exactly the entries `<= snapshot`.
    pub snapshot: u64,
    /// Sorted, deduplicated write-set items (see [`super::writeset`]).
    pub write_set: Vec<u128>,
    /// Tables written (for DDL conflicts and for [`RowChange`] table indices).
    pub tables: Vec<TableName>,
    /// Parallel to `tables`: the column names of that table's after images,
    /// in order, so replay does not depend on the replica's metadata cache.
    pub columns: Vec<Vec<String>>,
    /// Parallel to `tables`: the primary-key column names, the order of `before_pk` values.
    pub pk_columns: Vec<Vec<String>>,
    /// Row images to replay on other members, in execution order.
    pub rows: Vec<RowChange>,
}

/// A schema-qualified table name, compared exactly as given (the caller
/// lowercases where the server is case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TableName {
    pub schema: String,
    pub table: String,
}

impl TableName {
    pub fn new(schema: impl Into<String>, table: impl Into<String>) -> Self {
        TableName {
            schema: schema.into(),
            table: table.into(),
        }
    }
}

/// One row change. `table` indexes [`Txn::tables`] (and [`Txn::columns`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RowChange {
    Insert {
        table: u32,
        /// Full row, one value per column of `columns[table]`.
        after: Vec<Value>,
    },
    Update {
        table: u32,
        /// Primary key values before the update (the PK itself may change).
        before_pk: Vec<Value>,
        /// Full row after the update, one value per column of `columns[table]`.
        after: Vec<Value>,
    },
    Delete {
        table: u32,
        /// Primary key values of the deleted row.
        before_pk: Vec<Value>,
    },
}

impl RowChange {
    /// Index into [`Txn::tables`] of the table this change applies to.
    pub fn table(&self) -> u32 {
        match self {
            RowChange::Insert { table, .. } | RowChange::Update { table, .. } | RowChange::Delete { table, .. } => {
                *table
            }
        }
    }
}

/// A column value, mirroring the MySQL binary-protocol value kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Int(i64),
    UInt(u64),
    Float(f32),
    Double(f64),
    /// Strings, blobs, DECIMAL (as text), JSON, BIT, ...
    Bytes(Vec<u8>),
    /// DATE, DATETIME and TIMESTAMP.
    Date {
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        micro: u32,
    },
    /// TIME.
    Time {
        negative: bool,
        days: u32,
        hours: u8,
        minutes: u8,
        seconds: u8,
        micros: u32,
    },
}

/// A DDL statement, replicated as SQL text and executed in log order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ddl {
    pub origin: u64,
    pub trx_id: u64,
    /// Default schema to execute the statement in. When `tables` is empty this
    /// is also the schema whose schema-level item is marked (CREATE/DROP/ALTER
    /// DATABASE: set it to the target database). DDL that touches neither a
    /// table nor a database (CREATE USER, GRANT, ...) should leave `tables`
    /// empty and `schema` as `None` to avoid needless schema-level conflicts.
    pub schema: Option<String>,
    pub sql: String,
    /// The session's `sql_mode` at execution.
    pub sql_mode: String,
    /// The session's character set (`character_set_client`) at execution.
    pub charset: String,
    /// Affected tables (both names for RENAME); empty for database DDL.
    pub tables: Vec<TableName>,
}

impl Entry {
    /// Check the structural invariants that [`decode`] enforces:
    /// a `Txn`'s write set is strictly increasing (sorted, no duplicates),
    /// `columns` is parallel to `tables`, every row change names a table in
    /// range, and every after image has one value per column.
    pub fn validate(&self) -> Result<(), DecodeError> {
        let Entry::Txn(t) = self else {
            return Ok(());
        };
        if t.write_set.windows(2).any(|w| w[0] >= w[1]) {
            return Err(DecodeError::Invalid("write set is not sorted and deduplicated".into()));
        }
        if t.columns.len() != t.tables.len() {
            return Err(DecodeError::Invalid(format!(
                "{} column lists for {} tables",
                t.columns.len(),
                t.tables.len()
            )));
        }
        if t.pk_columns.len() != t.tables.len() {
            return Err(DecodeError::Invalid(format!(
                "{} primary-key lists for {} tables",
                t.pk_columns.len(),
                t.tables.len()
            )));
        }
        for (i, row) in t.rows.iter().enumerate() {
            let table = row.table() as usize;
            if let RowChange::Update { before_pk, .. } | RowChange::Delete { before_pk, .. } = row {
                if t.pk_columns.get(table).map(Vec::len) != Some(before_pk.len()) {
                    return Err(DecodeError::Invalid(format!(
                        "row {i} has a primary key of the wrong width"
                    )));
                }
            }
            let Some(cols) = t.columns.get(table) else {
                return Err(DecodeError::Invalid(format!(
                    "row {i} names table {table} of {}",
                    t.tables.len()
                )));
            };
            let after = match row {
                RowChange::Insert { after, .. } | RowChange::Update { after, .. } => after,
                RowChange::Delete { .. } => continue,
            };
            if after.len() != cols.len() {
                return Err(DecodeError::Invalid(format!(
                    "row {i} has {} values for {} columns",
                    after.len(),
                    cols.len()
                )));
            }
        }
        Ok(())
    }
}

/// Encode an entry: [`FORMAT_VERSION`] followed by its bincode encoding.
pub fn encode(e: &Entry) -> Vec<u8> {
    versioned_encode(FORMAT_VERSION, e)
}

/// Decode and validate an entry written by [`encode`].
pub fn decode(b: &[u8]) -> Result<Entry, DecodeError> {
    let e: Entry = versioned_decode(FORMAT_VERSION, b)?;
    e.validate()?;
    Ok(e)
}

fn bincode_options() -> impl bincode::Options + Copy {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .with_varint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// `version` byte followed by the bincode encoding of `value` (shared with the
/// certifier's snapshot format).
pub(crate) fn versioned_encode<T: Serialize>(version: u8, value: &T) -> Vec<u8> {
    use bincode::Options;
    let mut out = vec![version];
    bincode_options()
        .serialize_into(&mut out, value)
        .expect("bincode serialization into a Vec cannot fail for these types");
    out
}

/// Inverse of [`versioned_encode`]; refuses other versions and trailing bytes,
/// and never reads (or allocates for) more than the input holds.
pub(crate) fn versioned_decode<T: DeserializeOwned>(version: u8, b: &[u8]) -> Result<T, DecodeError> {
    use bincode::Options;
    let (&found, body) = b.split_first().ok_or(DecodeError::Empty)?;
    if found != version {
        return Err(DecodeError::UnsupportedVersion {
            found,
            expected: version,
        });
    }
    bincode_options()
        .with_limit(body.len() as u64)
        .deserialize(body)
        .map_err(|e| DecodeError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests;
