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
pub const FORMAT_VERSION: u8 = 2;

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
    /// A sequence moved forward on the origin's mysqld (a `NEXTVAL` that reserved a new cache
    /// block, a `SETVAL`): mysqld does that in a transaction of its own, outside the client's,
    /// and the tap proposes it (`super::sequences`). Always commits; the other members move
    /// their sequence at least as far (`SETVAL`, which never moves a sequence back).
    Sequence(SequenceAdvance),
    /// A change of the group's mode or primary (see [`super::topology`]); always commits.
    Topology(super::topology::TopologyChange),
}

/// Where a sequence stands after its origin advanced it: the row mysqld logged for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceAdvance {
    /// Member id of the origin.
    pub origin: u64,
    pub schema: String,
    pub sequence: String,
    /// The row's `next_not_cached_value`: every value the origin handed out or holds in its
    /// cache lies before it.
    pub next_not_cached: i64,
    /// The row's `cycle_count` (the round of a `CYCLE` sequence).
    pub round: i64,
}

/// A transaction's write set and the row events mysqld wrote for it.
///
/// The row images are mysqld's own: the Table_map and Rows events its binlog holds for the
/// transaction once it was prepared as XA on the origin, byte for byte (checksums
/// included), interpreted with the origin's Format_description event. Replay hands them
/// back to mysqld (`BINLOG` statements), so values are never decoded and re-encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Txn {
    /// Member id of the origin.
    pub origin: u64,
    /// Origin-local id, to match the verdict to the waiting session. Also the XA
    /// transaction's id on the origin's mysqld (see [`xid_gtrid`]).
    pub trx_id: u64,
    /// The origin's applied watermark (log index) when the transaction's first
    /// statement ran: the transaction saw exactly the entries `<= snapshot`.
    pub snapshot: u64,
    /// Sorted, deduplicated write-set items (see [`super::writeset`]).
    pub write_set: Vec<u128>,
    /// Tables written (for DDL conflicts and brute-force aborts).
    pub tables: Vec<TableName>,
    /// Tables in which the transaction wrote rows it cannot name: an UPDATE (or an upsert)
    /// matched rows without changing them, and mysqld logs no row event for those. Such a
    /// transaction conflicts with every concurrent write to these tables (a false conflict
    /// is safe; a missed one would lose an update).
    pub wide: Vec<TableName>,
    /// The origin binlog's Format_description event, raw.
    pub fde: Vec<u8>,
    /// Table_map and Rows events, raw, in the order mysqld wrote them.
    pub events: Vec<Vec<u8>>,
}

/// The XA gtrid grproxy uses on a member's mysqld for one of its transactions:
/// `grproxy-<member>-<trx_id>`, so a member recognises its own prepared transactions
/// after a restart (`XA RECOVER`).
pub fn xid_gtrid(member: u64, trx_id: u64) -> String {
    format!("grproxy-{member}-{trx_id}")
}

/// Parses [`xid_gtrid`] back into (member, trx_id).
pub fn parse_xid_gtrid(gtrid: &[u8]) -> Option<(u64, u64)> {
    let s = std::str::from_utf8(gtrid).ok()?;
    let rest = s.strip_prefix("grproxy-")?;
    let (m, t) = rest.split_once('-')?;
    Some((m.parse().ok()?, t.parse().ok()?))
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

/// A DDL (or account) statement, replicated as SQL text and executed in log order after
/// the origin ran it successfully with the client's own privileges.
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
    /// The origin session's variables that change what the statement does
    /// (sql_mode, character set and collation, time zone, timestamp, checks,
    /// storage engine, auto-increment step, ...), as `(name, value)` pairs to set
    /// before executing it; values are SQL literals.
    pub context: Vec<(String, String)>,
    /// Affected tables (both names for RENAME); empty for database DDL.
    pub tables: Vec<TableName>,
}

impl Entry {
    /// Check the structural invariants that [`decode`] enforces: a `Txn`'s write
    /// set is strictly increasing (sorted, no duplicates), and row events come
    /// with the format description that reads them.
    pub fn validate(&self) -> Result<(), DecodeError> {
        let Entry::Txn(t) = self else {
            return Ok(());
        };
        if t.write_set.windows(2).any(|w| w[0] >= w[1]) {
            return Err(DecodeError::Invalid("write set is not sorted and deduplicated".into()));
        }
        if !t.events.is_empty() && t.fde.is_empty() {
            return Err(DecodeError::Invalid("row events without a format description".into()));
        }
        if let Some(i) = t.events.iter().position(|e| e.len() < 19) {
            return Err(DecodeError::Invalid(format!(
                "row event {i} is shorter than an event header"
            )));
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
