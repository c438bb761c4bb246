//! Write capture: for one DML statement, the proxy's own locking reads before and after it
//! (on the session's connection, inside its transaction), turned into row changes and
//! write-set items. The SQL built here is pure text generation, tested without a server;
//! the session runs it.
//!
//! - UPDATE / DELETE: `SELECT <image> FROM <table as written> WHERE <same where>
//!   [ORDER BY] [LIMIT] FOR UPDATE` locks exactly the rows the statement will touch; after an
//!   UPDATE the same rows are read back by primary key.
//! - INSERT / REPLACE / INSERT IGNORE / ON DUPLICATE KEY UPDATE with VALUES or SET: the rows are
//!   found by the key values written in the statement (and generated auto-increment ids);
//!   rows that may be replaced or updated are read and locked first.
//! - The changes are the difference of the two images by primary key; the row count mysqld
//!   reports must match (where it is defined), or the transaction must not be replicated.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::metadata::{Key, TableMeta};
use super::txn::{RowChange, Value};
use super::writeset::{key_item, WriteSetBuilder};
use crate::sql::{DmlInfo, DmlVerb, ValueExpr};

/// One row as read by a capture query: base column values (text protocol), then the
/// normalized forms (`WEIGHT_STRING`) of the string columns used in keys.
pub type RawRow = Vec<Option<Vec<u8>>>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CaptureError {
    #[error("{0}")]
    Refused(String),
    #[error(
        "the server reported {reported} affected rows but grproxy captured {captured}; the transaction was rolled back"
    )]
    CountMismatch { reported: u64, captured: u64 },
}

/// Quotes an identifier with backticks.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// How the capture queries read a table.
#[derive(Debug, Clone)]
pub struct ImageShape {
    pub meta: Arc<TableMeta>,
    /// Base (non-generated) columns, in table order.
    pub base: Vec<usize>,
    /// String columns used by a key, read again as `WEIGHT_STRING`.
    pub weighted: Vec<usize>,
}

impl ImageShape {
    pub fn new(meta: Arc<TableMeta>) -> Self {
        let base = meta.base_columns();
        let mut weighted: Vec<usize> = Vec::new();
        let keys = meta.primary.iter().chain(meta.uniques.iter());
        let fk_cols = meta.foreign_keys.iter().flat_map(|f| f.columns.iter());
        for &c in keys.flat_map(|k| k.columns.iter()).chain(fk_cols) {
            if meta.columns[c].is_string() && !weighted.contains(&c) {
                weighted.push(c);
            }
        }
        ImageShape { meta, base, weighted }
    }

    pub fn qualified(&self) -> String {
        format!("{}.{}", ident(&self.meta.schema), ident(&self.meta.table))
    }

    /// The select list of a capture query. TIMESTAMP values are read in UTC so that replay
    /// does not depend on the origin session's time zone.
    pub fn select_list(&self) -> String {
        let mut parts: Vec<String> = self
            .base
            .iter()
            .map(|&c| {
                let col = &self.meta.columns[c];
                if col.data_type == "timestamp" {
                    format!("CONVERT_TZ({}, @@session.time_zone, '+00:00')", ident(&col.name))
                } else if col.data_type == "float" {
                    // FLOAT prints with 6 significant digits; its exact value fits a DOUBLE,
                    // which prints round-trip exact.
                    format!("CAST({} AS DOUBLE)", ident(&col.name))
                } else {
                    ident(&col.name)
                }
            })
            .collect();
        parts.extend(
            self.weighted
                .iter()
                .map(|&c| format!("WEIGHT_STRING({})", ident(&self.meta.columns[c].name))),
        );
        parts.join(", ")
    }

    fn pk(&self) -> &Key {
        self.meta
            .primary
            .as_ref()
            .expect("tables without a primary key are refused")
    }

    /// Position of table column `c` in a raw row, and of its normalized form.
    fn value_pos(&self, c: usize) -> Option<usize> {
        self.base.iter().position(|&b| b == c)
    }

    fn norm<'a>(&self, row: &'a RawRow, c: usize) -> Option<&'a [u8]> {
        if let Some(w) = self.weighted.iter().position(|&x| x == c) {
            row.get(self.base.len() + w)?.as_deref()
        } else {
            row.get(self.value_pos(c)?)?.as_deref()
        }
    }

    /// Primary-key values (text) of a row: the identity used to diff images.
    pub fn pk_values(&self, row: &RawRow) -> Vec<Option<Vec<u8>>> {
        self.pk()
            .columns
            .iter()
            .map(|&c| self.value_pos(c).and_then(|p| row[p].clone()))
            .collect()
    }

    /// Adds the items of one row image: primary key, unique keys, foreign-key parents.
    pub fn add_items(&self, row: &RawRow, ws: &mut WriteSetBuilder) {
        let m = &self.meta;
        for key in m.primary.iter().chain(m.uniques.iter()) {
            if let Some(parts) = self.key_parts(row, &key.columns) {
                ws.add(key_item(&m.schema, &m.table, &key.name, &parts));
            }
        }
        for fk in &m.foreign_keys {
            if let Some(parts) = self.key_parts(row, &fk.columns) {
                ws.add(key_item(&fk.parent_schema, &fk.parent_table, &fk.parent_index, &parts));
            }
        }
    }

    /// Normalized key parts, or `None` when a part is NULL (the key does not constrain).
    fn key_parts<'a>(&self, row: &'a RawRow, cols: &[usize]) -> Option<Vec<&'a [u8]>> {
        cols.iter().map(|&c| self.norm(row, c)).collect()
    }

    /// Row image as replicated values (base columns only).
    pub fn values(&self, row: &RawRow) -> Vec<Value> {
        row[..self.base.len()]
            .iter()
            .map(|v| match v {
                Some(b) => Value::Bytes(b.clone()),
                None => Value::Null,
            })
            .collect()
    }

    /// `WHERE` predicate matching rows by primary key values.
    pub fn pk_predicate(&self, pks: &[Vec<Option<Vec<u8>>>]) -> String {
        let key = &self.pk().columns;
        let cols: Vec<String> = key.iter().map(|&c| ident(&self.meta.columns[c].name)).collect();
        let numeric: Vec<bool> = key.iter().map(|&c| self.meta.columns[c].is_numeric()).collect();
        let rows: Vec<String> = pks
            .iter()
            .map(|pk| {
                let vals: Vec<String> = pk
                    .iter()
                    .zip(&numeric)
                    .map(|(v, &n)| text_literal(v.as_deref(), n))
                    .collect();
                format!("({})", vals.join(", "))
            })
            .collect();
        format!("({}) IN ({})", cols.join(", "), rows.join(", "))
    }
}

/// A text value read from the server as a literal it will read back identically.
fn text_literal(v: Option<&[u8]>, numeric: bool) -> String {
    match v {
        None => "NULL".into(),
        // Numbers as numbers: a hexadecimal literal is an integer in numeric context.
        Some(b) if numeric && !b.is_empty() && b.iter().all(|c| c.is_ascii_digit() || b"+-.eE".contains(c)) => {
            String::from_utf8_lossy(b).into_owned()
        }
        Some(b) => {
            let mut s = String::with_capacity(3 + 2 * b.len());
            s.push_str("X'");
            for byte in b {
                s.push_str(&format!("{byte:02X}"));
            }
            s.push('\'');
            s
        }
    }
}

/// The capture queries of one statement.
#[derive(Debug, Clone)]
pub struct DmlPlan {
    pub shape: ImageShape,
    pub verb: DmlVerb,
    /// Locking read before the statement, if the statement can touch existing rows.
    pub before: Option<String>,
    /// Predicate over the key values written in an INSERT (rows found after it).
    insert_keys: Option<String>,
    /// INSERT rows whose primary key the server generates (auto-increment).
    pub generated_rows: usize,
    /// For an UPDATE that assigns primary-key columns: the new value of each key column
    /// (its SET expression, or the column itself).
    pk_exprs: Option<Vec<String>>,
    table_ref: String,
    /// INSERT ... SELECT with explicit keys: the SELECT to run first, and the key positions.
    select_keys: Option<(String, Vec<usize>)>,
    /// INSERT ... SELECT with generated keys: as many as the server reports inserted.
    generated_from_count: bool,
    /// Point UPDATE/DELETE (see [`point`]): the primary key it names; there is no locking
    /// read before it.
    point: Option<Vec<Vec<u8>>>,
    /// Rows the server reported affected, once the statement ran.
    affected: u64,
}

/// The new primary key of each row an UPDATE assigns keys in, or `None` when it assigns none.
/// MySQL evaluates single-table SET assignments left to right; a key expression that reads a
/// column assigned before it cannot be evaluated up front, and is refused.
fn pk_assignments(shape: &ImageShape, set: &[(String, String)]) -> Result<Option<Vec<String>>, CaptureError> {
    use crate::sql::lexer::{tokenize, unquote_ident, TokenKind};
    let pk = shape.pk();
    let bare = |c: &str| c.rsplit('.').next().unwrap_or(c).to_string();
    let mut exprs: Vec<String> = pk.columns.iter().map(|&c| ident(&shape.meta.columns[c].name)).collect();
    let mut any = false;
    for (i, (col, expr)) in set.iter().enumerate() {
        let name = bare(col);
        let Some(k) = pk
            .columns
            .iter()
            .position(|&c| shape.meta.columns[c].name.eq_ignore_ascii_case(&name))
        else {
            continue;
        };
        let src = expr.as_bytes();
        let reads_assigned = tokenize(src).tokens.iter().any(|t| {
            matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent)
                && set[..i]
                    .iter()
                    .any(|(c, _)| bare(c).eq_ignore_ascii_case(&unquote_ident(t.text(src))))
        });
        if reads_assigned {
            return Err(CaptureError::Refused(
                "UPDATE whose new primary key reads a column assigned earlier in SET is not replicated yet".into(),
            ));
        }
        exprs[k] = format!("({expr})");
        any = true;
    }
    Ok(any.then_some(exprs))
}

impl DmlPlan {
    /// Builds the plan. `sql` is the statement with parameters already substituted, `info`
    /// its parse, `table_ref` the table reference as written (for UPDATE/DELETE, so aliases
    /// in WHERE keep working).
    pub fn new(shape: ImageShape, sql_info: &DmlInfo, table_ref: &str) -> Result<Self, CaptureError> {
        let verb = sql_info.verb;
        match verb {
            DmlVerb::Update | DmlVerb::Delete => {
                let pk_exprs = if verb == DmlVerb::Update {
                    pk_assignments(&shape, &sql_info.set)?
                } else {
                    None
                };
                let point = match (&sql_info.where_clause, &pk_exprs, &sql_info.order_by, &sql_info.limit) {
                    (Some(w), None, None, None) => point::point_key(&shape, w),
                    _ => None,
                };
                let before = point.is_none().then(|| locking_read(&shape, sql_info, table_ref));
                Ok(DmlPlan {
                    shape,
                    verb,
                    before,
                    insert_keys: None,
                    generated_rows: 0,
                    pk_exprs,
                    table_ref: table_ref.to_string(),
                    select_keys: None,
                    generated_from_count: false,
                    point,
                    affected: 0,
                })
            }
            DmlVerb::Insert | DmlVerb::InsertIgnore | DmlVerb::InsertOnDuplicate | DmlVerb::Replace => {
                Self::insert_plan(shape, sql_info)
            }
            DmlVerb::InsertSelect => Self::insert_select_plan(shape, sql_info),
        }
    }

    /// INSERT ... SELECT: the rows to be inserted are found by running the SELECT first (their
    /// primary keys), or are the generated auto-increment ids. If the SELECT's result changed
    /// in between, the row-count check catches it and the transaction is rolled back.
    fn insert_select_plan(shape: ImageShape, info: &DmlInfo) -> Result<Self, CaptureError> {
        let Some(select) = &info.select else {
            return Err(CaptureError::Refused("INSERT ... SELECT without a SELECT".into()));
        };
        if info.ignore || !info.on_duplicate.is_empty() {
            return Err(CaptureError::Refused(
                "INSERT IGNORE / ON DUPLICATE KEY UPDATE ... SELECT is not replicated yet".into(),
            ));
        }
        let meta = shape.meta.clone();
        let cols = insert_columns(&shape, info)?;
        let pk = shape.pk().clone();
        let positions: Option<Vec<usize>> = pk.columns.iter().map(|c| cols.iter().position(|x| x == c)).collect();
        let (select_keys, generated) = match positions {
            Some(p) => (Some((format!("SELECT * FROM ({select}) AS grproxy_src"), p)), false),
            None if pk.columns.len() == 1 && meta.columns[pk.columns[0]].auto_increment => (None, true),
            None => {
                return Err(CaptureError::Refused(
                    "INSERT ... SELECT that leaves primary-key columns to defaults".into(),
                ))
            }
        };
        Ok(DmlPlan {
            shape,
            verb: DmlVerb::InsertSelect,
            before: None,
            insert_keys: None,
            generated_rows: 0,
            pk_exprs: None,
            table_ref: String::new(),
            select_keys,
            generated_from_count: generated,
            point: None,
            affected: 0,
        })
    }

    /// INSERT ... SELECT: the query yielding the rows to be inserted, and where the primary
    /// key columns are in them.
    pub fn select_keys(&self) -> Option<&(String, Vec<usize>)> {
        self.select_keys.as_ref()
    }

    /// Sets the INSERT ... SELECT key predicate from the rows its SELECT returned.
    pub fn set_selected_keys(&mut self, rows: &[RawRow]) {
        let Some((_, positions)) = &self.select_keys else {
            return;
        };
        let pks: Vec<PkValues> = rows
            .iter()
            .map(|r| positions.iter().map(|&p| r.get(p).cloned().flatten()).collect())
            .collect();
        if !pks.is_empty() {
            self.insert_keys = Some(self.shape.pk_predicate(&pks));
        }
    }

    /// Notes the affected-row count the server reported for the statement (for INSERT ...
    /// SELECT with generated keys, that is the number of rows).
    pub fn set_affected(&mut self, affected: u64) {
        self.affected = affected;
        if self.generated_from_count {
            self.generated_rows = affected as usize;
        }
    }

    fn insert_plan(shape: ImageShape, info: &DmlInfo) -> Result<Self, CaptureError> {
        let meta = shape.meta.clone();
        // Rows as (column index, expression) lists.
        let rows: Vec<Vec<(usize, ValueExpr)>> = if !info.values.is_empty() {
            let cols = insert_columns(&shape, info)?;
            info.values
                .iter()
                .map(|r| cols.iter().copied().zip(r.iter().cloned()).collect())
                .collect()
        } else {
            let row: Vec<(usize, ValueExpr)> = info
                .set
                .iter()
                .map(|(c, e)| {
                    let i = meta
                        .column_index(c)
                        .ok_or_else(|| CaptureError::Refused(format!("unknown column {c}")))?;
                    Ok((i, expr_value(e)))
                })
                .collect::<Result<_, CaptureError>>()?;
            vec![row]
        };
        let pk = shape.pk().clone();
        let mut preds = Vec::new();
        let mut generated_rows = 0;
        for row in &rows {
            let lookup = |c: usize| row.iter().find(|(i, _)| *i == c).map(|(_, e)| e);
            let pk_exprs: Vec<Option<&ValueExpr>> = pk.columns.iter().map(|&c| lookup(c)).collect();
            let auto = pk.columns.len() == 1
                && meta.columns[pk.columns[0]].auto_increment
                && match pk_exprs[0] {
                    None | Some(ValueExpr::Default) => true,
                    Some(ValueExpr::Literal(l)) => l.eq_ignore_ascii_case("NULL") || l.trim() == "0",
                    _ => false,
                };
            if auto {
                generated_rows += 1;
            } else {
                preds.push(key_predicate(&meta, &pk.columns, &lookup).ok_or_else(|| {
                    CaptureError::Refused(format!(
                        "the primary key of {}.{} is not a literal or parameter in this INSERT",
                        meta.schema, meta.table
                    ))
                })?);
            }
            for u in &meta.uniques {
                if let Some(p) = key_predicate(&meta, &u.columns, &lookup) {
                    preds.push(p);
                }
            }
        }
        let insert_keys = (!preds.is_empty()).then(|| preds.join(" OR "));
        let touches_existing = info.verb != DmlVerb::Insert;
        let before = match (&insert_keys, touches_existing) {
            (Some(k), true) => Some(format!(
                "SELECT {} FROM {} WHERE {} FOR UPDATE",
                shape.select_list(),
                shape.qualified(),
                k
            )),
            _ => None,
        };
        Ok(DmlPlan {
            shape,
            verb: info.verb,
            before,
            insert_keys,
            generated_rows,
            pk_exprs: None,
            table_ref: String::new(),
            select_keys: None,
            generated_from_count: false,
            point: None,
            affected: 0,
        })
    }

    /// For an UPDATE that changes primary keys: the query, run after the locking read and
    /// before the statement, that yields each row's old key followed by its new key.
    pub fn new_keys_query(&self, before: &[RawRow]) -> Option<String> {
        let exprs = self.pk_exprs.as_ref()?;
        if before.is_empty() {
            return None;
        }
        let old: Vec<String> = self
            .shape
            .pk()
            .columns
            .iter()
            .map(|&c| ident(&self.shape.meta.columns[c].name))
            .collect();
        let pks: Vec<_> = before.iter().map(|r| self.shape.pk_values(r)).collect();
        Some(format!(
            "SELECT {}, {} FROM {} WHERE {}",
            old.join(", "),
            exprs.join(", "),
            self.table_ref,
            self.shape.pk_predicate(&pks)
        ))
    }

    /// The read after the statement: rows by primary key of the before-image (or by the new
    /// keys, when the statement changes them), by the INSERT's key values, and by generated
    /// ids (`first_id`, `first_id + increment`, ...).
    pub fn after(&self, before: &[RawRow], rekey: &Rekey, first_id: u64, increment: u64) -> Option<String> {
        if self.verb == DmlVerb::Delete || (self.point.is_some() && self.affected == 0) {
            return None;
        }
        let mut preds = Vec::new();
        if let Some(pk) = &self.point {
            let pk: Vec<Option<Vec<u8>>> = pk.iter().cloned().map(Some).collect();
            preds.push(self.shape.pk_predicate(&[pk]));
        }
        if !before.is_empty() {
            let pks: Vec<_> = before
                .iter()
                .map(|r| {
                    let pk = self.shape.pk_values(r);
                    rekey.get(&pk).cloned().unwrap_or(pk)
                })
                .collect();
            preds.push(self.shape.pk_predicate(&pks));
        }
        if let Some(k) = &self.insert_keys {
            preds.push(k.clone());
        }
        if self.generated_rows > 0 && first_id > 0 {
            let pk = ident(&self.shape.meta.columns[self.shape.pk().columns[0]].name);
            let ids: Vec<String> = (0..self.generated_rows as u64)
                .map(|k| (first_id + k * increment.max(1)).to_string())
                .collect();
            preds.push(format!("{pk} IN ({})", ids.join(", ")));
        }
        if preds.is_empty() {
            return None;
        }
        Some(format!(
            "SELECT {} FROM {} WHERE {} FOR UPDATE",
            self.shape.select_list(),
            self.shape.qualified(),
            preds.join(" OR ")
        ))
    }
}

/// `SELECT <image> FROM <table as written> WHERE .. ORDER BY .. LIMIT .. FOR UPDATE`: locks
/// exactly the rows an UPDATE or DELETE will touch.
fn locking_read(shape: &ImageShape, info: &DmlInfo, table_ref: &str) -> String {
    let mut sql = format!("SELECT {} FROM {}", shape.select_list(), table_ref);
    for (kw, part) in [
        (" WHERE ", &info.where_clause),
        (" ORDER BY ", &info.order_by),
        (" LIMIT ", &info.limit),
    ] {
        if let Some(p) = part {
            sql.push_str(kw);
            sql.push_str(p);
        }
    }
    sql.push_str(" FOR UPDATE");
    sql
}

/// The table columns an INSERT names (all base columns when it names none).
fn insert_columns(shape: &ImageShape, info: &DmlInfo) -> Result<Vec<usize>, CaptureError> {
    if info.columns.is_empty() {
        return Ok(shape.base.clone());
    }
    info.columns
        .iter()
        .map(|c| {
            shape
                .meta
                .column_index(c)
                .ok_or_else(|| CaptureError::Refused(format!("unknown column {c}")))
        })
        .collect()
}

/// `(c1 <=> v1 AND ...)` when every key column has a literal value in the row.
fn key_predicate<'a>(
    meta: &TableMeta,
    cols: &[usize],
    lookup: &impl Fn(usize) -> Option<&'a ValueExpr>,
) -> Option<String> {
    let mut parts = Vec::new();
    for &c in cols {
        match lookup(c)? {
            ValueExpr::Literal(l) if !l.eq_ignore_ascii_case("NULL") => {
                parts.push(format!("{} = {}", ident(&meta.columns[c].name), l))
            }
            _ => return None,
        }
    }
    Some(format!("({})", parts.join(" AND ")))
}

/// An INSERT ... SET value: a literal if it lexes as one token of literal kind.
fn expr_value(text: &str) -> ValueExpr {
    use crate::sql::lexer::{tokenize, TokenKind};
    let t = text.trim();
    let lexed = tokenize(t.as_bytes());
    match lexed.tokens.as_slice() {
        [one] if matches!(one.kind, TokenKind::Number | TokenKind::String) => ValueExpr::Literal(t.to_string()),
        [one] if one.is_kw(t.as_bytes(), "NULL") => ValueExpr::Literal("NULL".into()),
        [one] if one.is_kw(t.as_bytes(), "DEFAULT") => ValueExpr::Default,
        _ => ValueExpr::Expr(t.to_string()),
    }
}

/// Primary key values of a row.
pub type PkValues = Vec<Option<Vec<u8>>>;
/// Old primary key -> new primary key, for UPDATEs that change keys.
pub type Rekey = BTreeMap<PkValues, PkValues>;

/// Builds the key map from the rows of [`DmlPlan::new_keys_query`] (old key columns, then new).
pub fn rekey_from(rows: &[RawRow], key_len: usize) -> Rekey {
    rows.iter()
        .filter(|r| r.len() == 2 * key_len)
        .map(|r| (r[..key_len].to_vec(), r[key_len..].to_vec()))
        .filter(|(o, n)| o != n)
        .collect()
}

/// Row changes and write-set items from the two images.
#[derive(Debug, Default, PartialEq)]
pub struct Captured {
    pub changes: Vec<RowChange>,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    pub matched: u64,
}

impl DmlPlan {
    /// The statement's row changes and write-set items: the difference of the images, or for
    /// a point statement (no before-image) the named row as deleted or as read back.
    pub fn capture(
        &self,
        table: u32,
        before: &[RawRow],
        after: &[RawRow],
        rekey: &Rekey,
        ws: &mut WriteSetBuilder,
    ) -> Captured {
        let Some(point) = &self.point else {
            return diff(&self.shape, table, before, after, rekey, ws);
        };
        let mut out = Captured::default();
        let mut key_row: RawRow = vec![None; self.shape.base.len()];
        for (&c, v) in self.shape.pk().columns.iter().zip(point) {
            if let Some(p) = self.shape.value_pos(c) {
                key_row[p] = Some(v.clone());
            }
        }
        if self.affected == 0 {
            // Nothing changed, but the statement wrote (or looked for) this key: it conflicts
            // with concurrent writers of it, as an unchanged row in `diff` does.
            if self.verb == DmlVerb::Update {
                self.shape.add_items(&key_row, ws);
            }
            return out;
        }
        if self.verb == DmlVerb::Delete {
            self.shape.add_items(&key_row, ws);
            out.changes.push(RowChange::Delete {
                table,
                before_pk: point.iter().map(|v| Value::Bytes(v.clone())).collect(),
            });
            out.deleted = 1;
            out.matched = 1;
            return out;
        }
        for row in after {
            // The primary key is not assigned, so before and after share it (and the write-set
            // items: the table has no other key).
            self.shape.add_items(row, ws);
            out.changes.push(RowChange::Update {
                table,
                before_pk: pk_values(&self.shape.pk_values(row)),
                after: self.shape.values(row),
            });
            out.updated += 1;
            out.matched += 1;
        }
        out
    }
}

/// Diffs before and after images by primary key. `table` is the table's index in the txn.
pub fn diff(
    shape: &ImageShape,
    table: u32,
    before: &[RawRow],
    after: &[RawRow],
    rekey: &Rekey,
    ws: &mut WriteSetBuilder,
) -> Captured {
    let n = shape.base.len();
    // Before-images keyed by the key their row has after the statement.
    let b: BTreeMap<_, _> = before
        .iter()
        .map(|r| {
            let old = shape.pk_values(r);
            (rekey.get(&old).cloned().unwrap_or_else(|| old.clone()), (old, r))
        })
        .collect();
    let a: BTreeMap<_, _> = after.iter().map(|r| (shape.pk_values(r), r)).collect();
    let mut out = Captured {
        matched: b.len() as u64,
        ..Captured::default()
    };
    for (key, (pk, row)) in &b {
        if !a.contains_key(key) {
            shape.add_items(row, ws);
            out.changes.push(RowChange::Delete {
                table,
                before_pk: pk_values(pk),
            });
            out.deleted += 1;
        }
    }
    for (pk, row) in &a {
        match b.get(pk) {
            // Matched but unchanged: still a write under snapshot isolation (a concurrent
            // transaction that wrote the row must conflict), so its items are certified.
            Some((_, old)) if old[..n] == row[..n] => shape.add_items(row, ws),
            Some((old_pk, old)) => {
                shape.add_items(old, ws);
                shape.add_items(row, ws);
                out.changes.push(RowChange::Update {
                    table,
                    before_pk: pk_values(old_pk),
                    after: shape.values(row),
                });
                out.updated += 1;
            }
            None => {
                shape.add_items(row, ws);
                out.changes.push(RowChange::Insert {
                    table,
                    after: shape.values(row),
                });
                out.inserted += 1;
            }
        }
    }
    out
}

fn pk_values(pk: &[Option<Vec<u8>>]) -> Vec<Value> {
    pk.iter()
        .map(|v| v.clone().map(Value::Bytes).unwrap_or(Value::Null))
        .collect()
}

/// The row count mysqld reports for the statement must match what was captured.
pub fn check_count(verb: DmlVerb, c: &Captured, reported: u64, found_rows: bool) -> Result<(), CaptureError> {
    let captured = match verb {
        DmlVerb::Insert | DmlVerb::InsertIgnore => c.inserted,
        DmlVerb::Delete => c.deleted,
        DmlVerb::Update if found_rows => c.matched,
        DmlVerb::Update => c.updated,
        // ON DUPLICATE KEY UPDATE and REPLACE count rows in ways that depend on which keys
        // collided; their images are complete by construction (every candidate row is read).
        DmlVerb::InsertSelect => c.inserted,
        DmlVerb::InsertOnDuplicate | DmlVerb::Replace => return Ok(()),
    };
    if captured == reported {
        Ok(())
    } else {
        Err(CaptureError::CountMismatch { reported, captured })
    }
}

#[cfg(test)]
mod tests;

pub mod point;

/// The table reference of a single-table UPDATE or DELETE exactly as written (alias
/// included), so the capture query's WHERE clause resolves names the same way.
pub fn table_ref_text(sql: &str, verb: DmlVerb) -> Option<String> {
    use crate::sql::lexer::{tokenize, TokenKind};
    let src = sql.as_bytes();
    let toks = tokenize(src).tokens;
    let is_kw = |i: usize, kw: &str| toks.get(i).is_some_and(|t| t.is_kw(src, kw));
    let mut i = toks.iter().position(|t| t.kind == TokenKind::Word)?;
    let (start, stops): (usize, &[&str]) = match verb {
        DmlVerb::Update => {
            i += 1;
            while is_kw(i, "LOW_PRIORITY") || is_kw(i, "IGNORE") {
                i += 1;
            }
            (i, &["SET"])
        }
        DmlVerb::Delete => {
            while i < toks.len() && !is_kw(i, "FROM") {
                i += 1;
            }
            (i + 1, &["WHERE", "ORDER", "LIMIT", "RETURNING"])
        }
        _ => return None,
    };
    let mut depth = 0i32;
    let mut end = start;
    while end < toks.len() {
        let t = &toks[end];
        if t.is_punct(src, "(") {
            depth += 1;
        } else if t.is_punct(src, ")") {
            depth -= 1;
        } else if depth == 0 && (stops.iter().any(|s| t.is_kw(src, s)) || t.is_punct(src, ";")) {
            break;
        }
        end += 1;
    }
    if end == start || start >= toks.len() {
        return None;
    }
    Some(sql[toks[start].start..toks[end - 1].end].to_string())
}
