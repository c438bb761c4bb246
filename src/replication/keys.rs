//! The write-set of a prepared transaction, derived from its row events.
//!
//! For every row of every Rows event the transaction's binlog group holds (an update counts
//! its before and its after image), [`derive`] adds a [`key_item`] for the primary key and for
//! every unique key whose parts are all non-NULL (NULLs never collide in a unique index), and,
//! for the after image of an inserted or updated row, the parent's key item of every foreign
//! key whose columns are all non-NULL: the same item the parent row's own primary or unique
//! key gets, so the child conflicts with a concurrent delete or key change of its parent.
//! Table-level items are not added: the certifier derives those from [`RowKeys::tables`].
//!
//! Two values that are equal in the index must give equal key parts; the converse may fail
//! (a false conflict aborts a transaction, a missed one diverges the group). Key parts are:
//!
//! | column | key part |
//! |---|---|
//! | integer types | decimal text, signed or not as the column is (`-1`, `18446744073709551615`) |
//! | DECIMAL | decimal text without leading or trailing zeros (`-0.05`, `1.5`, `0`) |
//! | FLOAT, DOUBLE | shortest round-trip exponent form of the value as a double, `-0` as `0` |
//! | ENUM, SET | the stored number, as decimal text |
//! | temporal, BIT, YEAR | the stored bytes (one encoding per value at a given precision) |
//! | binary strings | the stored bytes, cut to the prefix length in bytes |
//! | other strings | mysqld's `WEIGHT_STRING` of the value cut to its prefix length in characters, trailing spaces trimmed under PAD SPACE (MariaDB's `WEIGHT_STRING` keeps them) |
//!
//! String weights come from a [`Weigher`], which runs [`weigh_sql`] on the server, once per
//! transaction: the collation rules live there, not here. Schema and table names are hashed
//! as the binlog and information_schema spell them; index names in lower case (the server
//! compares them case-insensitively).
//!
//! The row images must match the metadata column by column (ordinal position): a Table_map
//! whose column count or column types disagree with [`TableMeta`] is a
//! [`KeyError::SchemaMismatch`], never a guess.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use super::binlog::event::{types, FormatDescription, Header};
use super::binlog::rows::{col, Cell, RowsEvent, TableMap};
use super::binlog::BinlogError;
use super::metadata::{Key, TableMeta};
use super::txn::TableName;
use super::writeset::{key_item, WriteSetBuilder};
use normalize::{normalize, type_matches, Norm};

mod normalize;

/// What a prepared transaction wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowKeys {
    /// Tables with row events, in first-seen order.
    pub tables: Vec<TableName>,
    /// Write-set items, sorted and deduplicated.
    pub items: Vec<u128>,
    /// Changed rows (an update is one).
    pub rows: usize,
}

/// What the server compares in a unique index, for one key part that is a non-binary string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WeighRequest {
    /// The value as stored, in the column's character set.
    pub bytes: Vec<u8>,
    pub charset: String,
    pub collation: String,
    /// Trim trailing spaces (after the prefix cut) before weighing.
    pub pad_space: bool,
    /// The index holds only this many leading characters.
    pub prefix_chars: Option<u32>,
}

/// Computes collation weights on mysqld: one weight per request, in order.
pub trait Weigher {
    fn weigh(&self, parts: Vec<WeighRequest>) -> impl Future<Output = Result<Vec<Vec<u8>>, String>> + Send;
}

/// Table metadata by (schema, table), as the caller has it cached.
pub type MetaLookup<'a> = &'a (dyn Fn(&str, &str) -> Option<Arc<TableMeta>> + Sync);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("reading the transaction's row events: {0}")]
    Binlog(#[from] BinlogError),
    #[error("no table metadata for {schema}.{table}")]
    NoMetadata { schema: String, table: String },
    #[error("row events of {schema}.{table} do not match its metadata ({detail}); was it altered?")]
    SchemaMismatch {
        schema: String,
        table: String,
        detail: String,
    },
    #[error("a Rows event for table id {0} without a Table_map event before it")]
    UnknownTable(u64),
    #[error("the row image of {schema}.{table} lacks key column {column} (binlog_row_image must be FULL)")]
    MissingColumn {
        schema: String,
        table: String,
        column: String,
    },
    #[error("malformed {what} value in {schema}.{table}.{column}")]
    BadValue {
        schema: String,
        table: String,
        column: String,
        what: &'static str,
    },
    /// `table` and `parent` as `schema.table`.
    #[error(
        "foreign key {foreign_key} of {table} references {parent} by index {parent_index}, which is not its \
         primary key or a unique key over the same columns; grproxy cannot certify writes through it"
    )]
    ParentKeyNotUnique {
        table: String,
        foreign_key: String,
        parent: String,
        parent_index: String,
    },
    #[error("computing collation weights of string keys: {0}")]
    Weigher(String),
    #[error("{got} collation weights came back for {expected} key parts")]
    WeightCount { expected: usize, got: usize },
}

/// The write-set of a prepared transaction from its Table_map and Rows events (`events`, raw,
/// in binlog order, under the Format_description event `fde`).
///
/// `meta` must know every table the events write; foreign-key parents need no lookup (the
/// server makes referencing and referenced columns the same type, charset and collation).
pub async fn derive(
    fde: &[u8],
    events: &[Vec<u8>],
    meta: MetaLookup<'_>,
    weigher: &impl Weigher,
) -> Result<RowKeys, KeyError> {
    let plan = plan(fde, events, meta)?;
    let weights = if plan.requests.is_empty() {
        Vec::new()
    } else {
        weigher.weigh(plan.requests.clone()).await.map_err(KeyError::Weigher)?
    };
    plan.finish(weights)
}

/// The tables the events write, in first-seen order (to load their metadata before
/// [`derive`]).
pub fn written_tables(fde: &[u8], events: &[Vec<u8>]) -> Result<Vec<TableName>, KeyError> {
    let fde = FormatDescription::parse(fde)?;
    let mut out: Vec<TableName> = Vec::new();
    for raw in events {
        if Header::parse(raw)?.event_type == types::TABLE_MAP {
            let map = TableMap::parse(&fde, raw)?;
            let name = TableName::new(map.schema, map.table);
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    Ok(out)
}

/// A key part: ready, or waiting for the weight of request `n`.
#[derive(Debug, Clone)]
enum Part {
    Ready(Vec<u8>),
    Weight(usize),
}

#[derive(Debug, Clone)]
struct PendingItem {
    schema: String,
    table: String,
    index: String,
    parts: Vec<Part>,
}

/// [`derive`] in two steps, for callers that compute the weights themselves:
/// [`plan`], then [`KeyPlan::requests`] to weigh, then [`KeyPlan::finish`].
#[derive(Debug, Clone)]
pub struct KeyPlan {
    tables: Vec<TableName>,
    rows: usize,
    items: Vec<PendingItem>,
    requests: Vec<WeighRequest>,
    request_index: HashMap<WeighRequest, usize>,
}

/// Decodes the events and builds every item that needs no collation weight.
pub fn plan(fde: &[u8], events: &[Vec<u8>], meta: MetaLookup<'_>) -> Result<KeyPlan, KeyError> {
    let fde = FormatDescription::parse(fde)?;
    let mut plan = KeyPlan {
        tables: Vec::new(),
        rows: 0,
        items: Vec::new(),
        requests: Vec::new(),
        request_index: HashMap::new(),
    };
    let mut maps: HashMap<u64, (TableMap, Arc<TableMeta>)> = HashMap::new();
    for raw in events {
        let t = Header::parse(raw)?.event_type;
        if t == types::TABLE_MAP {
            let map = TableMap::parse(&fde, raw)?;
            let m = meta(&map.schema, &map.table).ok_or_else(|| KeyError::NoMetadata {
                schema: map.schema.clone(),
                table: map.table.clone(),
            })?;
            check_columns(&map, &m)?;
            let name = TableName::new(&map.schema, &map.table);
            if !plan.tables.contains(&name) {
                plan.tables.push(name);
            }
            maps.insert(map.table_id, (map, m));
        } else if types::is_rows(t) {
            let rows = RowsEvent::parse(&fde, raw)?;
            let (map, m) = maps.get(&rows.table_id).ok_or(KeyError::UnknownTable(rows.table_id))?;
            for change in rows.rows(map)? {
                plan.rows += 1;
                if let Some(before) = &change.before {
                    plan.add_row(map, m, before, false)?;
                }
                if let Some(after) = &change.after {
                    plan.add_row(map, m, after, true)?;
                }
            }
        } else {
            return Err(BinlogError::Unexpected {
                event_type: t,
                context: "among a transaction's row events",
            }
            .into());
        }
    }
    Ok(plan)
}

impl KeyPlan {
    /// The string key parts to weigh (deduplicated), in the order [`finish`](Self::finish)
    /// expects their weights.
    pub fn requests(&self) -> &[WeighRequest] {
        &self.requests
    }

    /// The write-set, given one weight per request.
    pub fn finish(self, weights: Vec<Vec<u8>>) -> Result<RowKeys, KeyError> {
        if weights.len() != self.requests.len() {
            return Err(KeyError::WeightCount {
                expected: self.requests.len(),
                got: weights.len(),
            });
        }
        let mut ws = WriteSetBuilder::new();
        for item in &self.items {
            let parts: Vec<&[u8]> = item
                .parts
                .iter()
                .map(|p| match p {
                    Part::Ready(b) => b.as_slice(),
                    Part::Weight(i) => weights[*i].as_slice(),
                })
                .collect();
            ws.add(key_item(&item.schema, &item.table, &item.index, &parts));
        }
        Ok(RowKeys {
            tables: self.tables,
            items: ws.finish(),
            rows: self.rows,
        })
    }

    /// Items of one row image: its keys, and for an after image its foreign-key parents.
    fn add_row(&mut self, map: &TableMap, m: &TableMeta, image: &[Cell<'_>], after: bool) -> Result<(), KeyError> {
        for key in m.primary.iter().chain(&m.uniques) {
            if let Some(parts) = self.key_parts(map, m, image, &key.columns, Some(key))? {
                self.items.push(PendingItem {
                    schema: m.schema.clone(),
                    table: m.table.clone(),
                    index: key.name.to_lowercase(),
                    parts,
                });
            }
        }
        if !after {
            return Ok(());
        }
        for fk in &m.foreign_keys {
            let Some(parts) = self.key_parts(map, m, image, &fk.columns, None)? else {
                continue;
            };
            if !fk.parent_unique {
                return Err(KeyError::ParentKeyNotUnique {
                    table: format!("{}.{}", m.schema, m.table),
                    foreign_key: fk.name.clone(),
                    parent: format!("{}.{}", fk.parent_schema, fk.parent_table),
                    parent_index: fk.parent_index.clone(),
                });
            }
            self.items.push(PendingItem {
                schema: fk.parent_schema.clone(),
                table: fk.parent_table.clone(),
                index: fk.parent_index.to_lowercase(),
                parts,
            });
        }
        Ok(())
    }

    /// Normalized parts of the key over `columns`, or `None` when a part is NULL.
    fn key_parts(
        &mut self,
        map: &TableMap,
        m: &TableMeta,
        image: &[Cell<'_>],
        columns: &[usize],
        key: Option<&Key>,
    ) -> Result<Option<Vec<Part>>, KeyError> {
        let mut parts = Vec::with_capacity(columns.len());
        for (i, &c) in columns.iter().enumerate() {
            let (Some(column), Some(def), Some(cell)) = (m.columns.get(c), map.columns.get(c), image.get(c)) else {
                return Err(mismatch(m, format!("key column #{c} is not in the table")));
            };
            let value = match cell {
                Cell::Null => return Ok(None),
                Cell::Absent => {
                    return Err(KeyError::MissingColumn {
                        schema: m.schema.clone(),
                        table: m.table.clone(),
                        column: column.name.clone(),
                    })
                }
                Cell::Value(v) => *v,
            };
            let prefix = key.and_then(|k| k.prefix(i));
            let part = match normalize(def, column, value, prefix) {
                Ok(Norm::Bytes(b)) => Part::Ready(b),
                Ok(Norm::Weigh(req)) => {
                    let next = self.requests.len();
                    let n = *self.request_index.entry(req.clone()).or_insert(next);
                    if n == next {
                        self.requests.push(req);
                    }
                    Part::Weight(n)
                }
                Err(what) => {
                    return Err(KeyError::BadValue {
                        schema: m.schema.clone(),
                        table: m.table.clone(),
                        column: column.name.clone(),
                        what,
                    })
                }
            };
            parts.push(part);
        }
        Ok(Some(parts))
    }
}

fn mismatch(m: &TableMeta, detail: String) -> KeyError {
    KeyError::SchemaMismatch {
        schema: m.schema.clone(),
        table: m.table.clone(),
        detail,
    }
}

/// The Table_map must describe the table the metadata describes, column by column, plus the
/// hidden hash column of each long unique key (a BIGINT the server computes; not a key part).
fn check_columns(map: &TableMap, m: &TableMeta) -> Result<(), KeyError> {
    let hidden = m.hidden_hash_columns();
    if map.columns.len() != m.columns.len() + hidden {
        return Err(mismatch(
            m,
            format!(
                "{} columns in the binlog, {} in information_schema{}",
                map.columns.len(),
                m.columns.len(),
                if hidden > 0 {
                    format!(" and {hidden} long unique hash(es)")
                } else {
                    String::new()
                }
            ),
        ));
    }
    if let Some(def) = map.columns[m.columns.len()..]
        .iter()
        .find(|d| d.binlog_type != col::LONGLONG)
    {
        return Err(mismatch(
            m,
            format!("a long unique hash column of binlog type {}", def.binlog_type),
        ));
    }
    for (def, column) in map.columns.iter().zip(&m.columns) {
        if !type_matches(&column.data_type, def.real_type()) {
            return Err(mismatch(
                m,
                format!(
                    "column {} is {} but the binlog stores type {}",
                    column.name,
                    column.data_type,
                    def.real_type()
                ),
            ));
        }
    }
    Ok(())
}

/// One `SELECT` computing every request's weight on mysqld, one column per request, in order:
/// `WEIGHT_STRING(<value> COLLATE <collation>)` where the value is the stored bytes as a hex
/// literal converted to the column's character set, cut with `LEFT(.., n)` to a prefix and
/// with trailing spaces trimmed under PAD SPACE. Character set and collation names are
/// reduced to `[A-Za-z0-9_]`, so a bad name is an SQL error, not SQL.
pub fn weigh_sql(parts: &[WeighRequest]) -> String {
    let name = |s: &str| -> String { s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
    let mut sql = String::from("SELECT ");
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let hex: String = p.bytes.iter().map(|b| format!("{b:02X}")).collect();
        let mut value = format!("CONVERT(X'{hex}' USING {})", name(&p.charset));
        if let Some(n) = p.prefix_chars {
            value = format!("LEFT({value}, {n})");
        }
        if p.pad_space {
            value = format!("TRIM(TRAILING ' ' FROM {value})");
        }
        sql.push_str(&format!("WEIGHT_STRING({value} COLLATE {})", name(&p.collation)));
    }
    sql
}

/// A stand-in [`Weigher`] for tests: folds case and common Latin accents under `_ci`/`_ai`
/// collations, nothing under others. Only an approximation of real collations.
#[cfg(test)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FoldWeigher;

#[cfg(test)]
impl Weigher for FoldWeigher {
    async fn weigh(&self, parts: Vec<WeighRequest>) -> Result<Vec<Vec<u8>>, String> {
        Ok(parts.iter().map(fold_weight).collect())
    }
}

#[cfg(test)]
pub(crate) fn fold_weight(p: &WeighRequest) -> Vec<u8> {
    let mut s: String = if p.charset.starts_with("utf8") {
        String::from_utf8_lossy(&p.bytes).into_owned()
    } else {
        p.bytes.iter().map(|&b| char::from(b)).collect() // latin1 and ASCII
    };
    if let Some(n) = p.prefix_chars {
        s = s.chars().take(n as usize).collect();
    }
    if p.pad_space {
        s.truncate(s.trim_end_matches(' ').len());
    }
    let insensitive = p.collation.contains("_ci") || p.collation.contains("_ai");
    if !insensitive {
        return s.into_bytes();
    }
    s.to_lowercase()
        .chars()
        .map(|c| match c {
            'à'..='å' => 'a',
            'è'..='ë' => 'e',
            'ì'..='ï' => 'i',
            'ò'..='ö' => 'o',
            'ù'..='ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c => c,
        })
        .collect::<String>()
        .into_bytes()
}

#[cfg(test)]
mod tests;
