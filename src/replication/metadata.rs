//! Table metadata the capture and apply paths need: columns (and which are generated), the
//! primary key, unique keys, foreign keys (both directions), engine and triggers. Loaded from
//! information_schema on a side connection and cached; the cache is dropped after any DDL.
//!
//! Write-set derivation from row events (`replication::keys`) also needs, per column, its
//! signedness and collation, and per key part its prefix length: columns are matched to the
//! row images by ordinal position, and every key value is normalized the way its index
//! compares it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mysql_async::prelude::Queryable;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Column {
    pub name: String,
    /// information_schema DATA_TYPE, lower case (`int`, `varchar`, `timestamp`, ...).
    pub data_type: String,
    pub generated: bool,
    pub auto_increment: bool,
    /// `UNSIGNED` (or `ZEROFILL`, which implies it) in COLUMN_TYPE: row events store integers
    /// without saying whether they are signed.
    pub unsigned: bool,
    /// A generated column computed when read (`VIRTUAL`); `generated` also covers `STORED`.
    /// MariaDB's FULL row images carry virtual columns too, with their computed values.
    pub virtual_generated: bool,
    /// CHARACTER_SET_NAME (`None` for non-string types).
    pub charset: Option<String>,
    /// COLLATION_NAME (`None` for non-string types).
    pub collation: Option<String>,
}

impl Column {
    /// Numeric types (their text form is a valid SQL number).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self.data_type.as_str(),
            "tinyint"
                | "smallint"
                | "mediumint"
                | "int"
                | "integer"
                | "bigint"
                | "decimal"
                | "numeric"
                | "float"
                | "double"
        )
    }

    /// String-like types whose keys must be normalized by the server (collations).
    pub fn is_string(&self) -> bool {
        matches!(
            self.data_type.as_str(),
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
        )
    }

    /// A string compared byte by byte: BINARY, VARBINARY, the BLOBs, or any string column in
    /// the `binary` character set.
    pub fn is_binary_string(&self) -> bool {
        matches!(
            self.data_type.as_str(),
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
        ) || (self.is_string() && self.collation.as_deref().is_none_or(|c| c == "binary"))
    }

    /// Trailing spaces do not count in comparisons: PAD SPACE collations (MariaDB names the
    /// others `*_nopad_*`), and always for CHAR, whose stored value is padded to its length.
    pub fn pad_space(&self) -> bool {
        self.data_type == "char"
            || self
                .collation
                .as_deref()
                .is_some_and(|c| c != "binary" && !c.contains("_nopad_"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Key {
    pub name: String,
    /// Column positions (into `TableMeta::columns`), in key order.
    pub columns: Vec<usize>,
    /// Per key part, STATISTICS.SUB_PART: the index holds only the first n characters
    /// (bytes for binary strings) of the column. Empty means no prefixes.
    pub prefixes: Vec<Option<u32>>,
    /// A MariaDB "long unique" key (INDEX_TYPE `HASH`: UNIQUE on a BLOB/TEXT without a
    /// prefix). The server enforces it through a hidden hash column that information_schema
    /// does not list but row images carry, after the table's columns.
    pub long_hash: bool,
}

impl Key {
    /// The prefix length of key part `i`, if the index holds only a prefix of it.
    pub fn prefix(&self, i: usize) -> Option<u32> {
        self.prefixes.get(i).copied().flatten()
    }
}

/// A foreign key of this table onto a parent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<usize>,
    pub parent_schema: String,
    pub parent_table: String,
    /// The parent key (unique index) the foreign key references, by index name.
    pub parent_index: String,
    pub cascades: bool,
    /// The referenced parent index is the parent's primary key or a unique key over exactly
    /// as many columns as the foreign key, without prefixes. Only then does a parent row carry
    /// a write-set item that this foreign key's item can meet (InnoDB also accepts a
    /// non-unique index, or a longer one whose first columns match).
    pub parent_unique: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableMeta {
    pub schema: String,
    pub table: String,
    pub columns: Vec<Column>,
    pub primary: Option<Key>,
    pub uniques: Vec<Key>,
    pub foreign_keys: Vec<ForeignKey>,
    /// Another table has a cascading (or SET NULL / SET DEFAULT) foreign key onto this one.
    pub referenced_with_cascade: bool,
    pub engine: String,
    pub has_triggers: bool,
}

impl TableMeta {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Hidden columns row images carry after [`columns`](Self::columns): one hash per
    /// [`Key::long_hash`] key.
    pub fn hidden_hash_columns(&self) -> usize {
        self.primary.iter().chain(&self.uniques).filter(|k| k.long_hash).count()
    }

    /// Base (non-generated) column positions: the columns a statement can write.
    pub fn base_columns(&self) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&i| !self.columns[i].generated)
            .collect()
    }

    /// Why writes to this table cannot be replicated safely, if they cannot.
    pub fn refusal(&self, multi_primary: bool) -> Option<String> {
        let name = format!("{}.{}", self.schema, self.table);
        if self.primary.is_none() {
            return Some(format!(
                "table {name} has no primary key; grproxy replicates only tables with one"
            ));
        }
        if !self.engine.eq_ignore_ascii_case("InnoDB") {
            return Some(format!(
                "table {name} uses engine {}; grproxy replicates only InnoDB tables",
                self.engine
            ));
        }
        if multi_primary && self.has_triggers {
            return Some(format!("table {name} has triggers, which grproxy cannot capture yet"));
        }
        if multi_primary && (self.referenced_with_cascade || self.foreign_keys.iter().any(|f| f.cascades)) {
            return Some(format!(
                "table {name} takes part in a cascading foreign key, which grproxy cannot capture yet"
            ));
        }
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("table {0}.{1} does not exist")]
    NoSuchTable(String, String),
    #[error("reading table metadata: {0}")]
    Query(#[from] mysql_async::Error),
}

type TableKey = (String, String);

/// Cached metadata, shared by all sessions of a proxy.
#[derive(Clone)]
pub struct MetadataCache {
    pool: mysql_async::Pool,
    tables: Arc<Mutex<HashMap<TableKey, Arc<TableMeta>>>>,
}

impl MetadataCache {
    pub fn new(pool: mysql_async::Pool) -> Self {
        Self {
            pool,
            tables: Arc::default(),
        }
    }

    pub async fn get(&self, schema: &str, table: &str) -> Result<Arc<TableMeta>, MetadataError> {
        let key = (schema.to_string(), table.to_string());
        if let Some(m) = self.tables.lock().unwrap().get(&key) {
            return Ok(m.clone());
        }
        // A pooled connection can be broken (mysqld restarted, connection killed), and a
        // loaded mysqld may refuse a new connection for a moment: retry transport failures
        // on a fresh connection for a few seconds before giving up.
        let mut attempt = 0;
        let meta = loop {
            match self.load(schema, table).await {
                Ok(m) => break Arc::new(m),
                Err(MetadataError::Query(e)) if !matches!(e, mysql_async::Error::Server(_)) && attempt < 8 => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "metadata load failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        };
        self.tables.lock().unwrap().insert(key, meta.clone());
        Ok(meta)
    }

    /// Forgets everything (after DDL anywhere in the group).
    pub fn invalidate(&self) {
        self.tables.lock().unwrap().clear();
    }

    async fn load(&self, schema: &str, table: &str) -> Result<TableMeta, MetadataError> {
        let mut c = self.pool.get_conn().await?;
        let t: Option<(String, Option<String>)> = c
            .exec_first(
                "SELECT TABLE_TYPE, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (schema, table),
            )
            .await?;
        let Some((_, engine)) = t else {
            return Err(MetadataError::NoSuchTable(schema.into(), table.into()));
        };
        type ColumnRow = (String, String, String, String, String, Option<String>, Option<String>);
        let cols: Vec<ColumnRow> = c
            .exec(
                "SELECT COLUMN_NAME, LOWER(DATA_TYPE), EXTRA, IS_GENERATED, LOWER(COLUMN_TYPE), \
                 CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (schema, table),
            )
            .await?;
        let columns: Vec<Column> = cols
            .into_iter()
            .map(|(name, data_type, extra, generated, column_type, charset, collation)| {
                let extra = extra.to_ascii_uppercase();
                Column {
                    name,
                    data_type,
                    generated: generated.eq_ignore_ascii_case("ALWAYS") || extra.contains("GENERATED"),
                    auto_increment: extra.contains("AUTO_INCREMENT"),
                    unsigned: column_type.contains("unsigned") || column_type.contains("zerofill"),
                    virtual_generated: extra.contains("VIRTUAL"),
                    charset,
                    collation,
                }
            })
            .collect();
        let pos = |n: &str| columns.iter().position(|c| c.name.eq_ignore_ascii_case(n));
        let stats: Vec<(String, i64, String, Option<i64>, String)> = c
            .exec(
                "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, INDEX_TYPE FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX",
                (schema, table),
            )
            .await?;
        let mut primary: Option<Key> = None;
        let mut uniques: Vec<Key> = Vec::new();
        for (index, non_unique, column, sub_part, index_type) in stats {
            if non_unique != 0 {
                continue;
            }
            let Some(p) = pos(&column) else { continue };
            let key = if index == "PRIMARY" {
                primary.get_or_insert_with(|| Key {
                    name: index.clone(),
                    ..Key::default()
                })
            } else if let Some(i) = uniques.iter().position(|k| k.name == index) {
                &mut uniques[i]
            } else {
                uniques.push(Key {
                    name: index,
                    ..Key::default()
                });
                uniques.last_mut().expect("just pushed")
            };
            key.columns.push(p);
            key.prefixes.push(sub_part.and_then(|n| u32::try_from(n).ok()));
            key.long_hash = index_type.eq_ignore_ascii_case("HASH");
        }
        for key in primary.iter_mut().chain(uniques.iter_mut()) {
            if key.prefixes.iter().all(Option::is_none) {
                key.prefixes.clear();
            }
        }
        let fks: Vec<(String, String, String, String, String, String, String)> = c
            .exec(
                "SELECT k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, \
                 r.UNIQUE_CONSTRAINT_NAME, r.UPDATE_RULE, r.DELETE_RULE \
                 FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
                 ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
                 AND r.TABLE_NAME = k.TABLE_NAME \
                 WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL \
                 ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
                (schema, table),
            )
            .await?;
        let mut foreign_keys: Vec<ForeignKey> = Vec::new();
        for (name, column, pschema, ptable, pindex, upd, del) in fks {
            let Some(p) = pos(&column) else { continue };
            let cascades = !is_restrict(&upd) || !is_restrict(&del);
            if let Some(f) = foreign_keys.iter_mut().find(|f| f.name == name) {
                f.columns.push(p);
            } else {
                foreign_keys.push(ForeignKey {
                    name,
                    columns: vec![p],
                    parent_schema: pschema,
                    parent_table: ptable,
                    parent_index: pindex,
                    cascades,
                    parent_unique: false,
                });
            }
        }
        for fk in &mut foreign_keys {
            let parent: Option<(i64, i64, i64)> = c
                .exec_first(
                    "SELECT MAX(NON_UNIQUE), COUNT(*), COUNT(SUB_PART) FROM information_schema.STATISTICS \
                     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = ? HAVING COUNT(*) > 0",
                    (&fk.parent_schema, &fk.parent_table, &fk.parent_index),
                )
                .await?;
            fk.parent_unique = matches!(parent, Some((0, n, 0)) if n as usize == fk.columns.len());
        }
        let referenced: Option<i64> = c
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE UNIQUE_CONSTRAINT_SCHEMA = ? \
                 AND REFERENCED_TABLE_NAME = ? AND (UPDATE_RULE NOT IN ('RESTRICT', 'NO ACTION') \
                 OR DELETE_RULE NOT IN ('RESTRICT', 'NO ACTION'))",
                (schema, table),
            )
            .await?;
        let triggers: Option<i64> = c
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?",
                (schema, table),
            )
            .await?;
        Ok(TableMeta {
            schema: schema.into(),
            table: table.into(),
            columns,
            primary,
            uniques,
            foreign_keys,
            referenced_with_cascade: referenced.unwrap_or(0) > 0,
            engine: engine.unwrap_or_default(),
            has_triggers: triggers.unwrap_or(0) > 0,
        })
    }
}

fn is_restrict(rule: &str) -> bool {
    rule.eq_ignore_ascii_case("RESTRICT") || rule.eq_ignore_ascii_case("NO ACTION")
}
