//! Result and error types of [`parse_dml`](super::parse_dml).

/// The kind of write, most specific first (a `REPLACE ... SELECT` is
/// `Replace`; see the [`DmlInfo`] fields for the other aspects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DmlVerb {
    /// `INSERT ... VALUES|SET`.
    #[default]
    Insert,
    /// `INSERT IGNORE` (without `ON DUPLICATE KEY UPDATE`).
    InsertIgnore,
    /// `INSERT ... ON DUPLICATE KEY UPDATE`.
    InsertOnDuplicate,
    /// `REPLACE` (any form).
    Replace,
    /// `INSERT ... SELECT|TABLE|WITH`.
    InsertSelect,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
}

/// A table name, identifiers unquoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableRef {
    /// Schema (database) qualifier, if written.
    pub schema: Option<String>,
    /// Table name.
    pub table: String,
}

/// One value of an `INSERT ... VALUES` row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueExpr {
    /// A literal (number, string, NULL, TRUE/FALSE, signed number) exactly as
    /// written, e.g. `'it\'s'`.
    Literal(String),
    /// A `?` marker; the index is its 0-based position among all `?` of the
    /// statement (i.e. the COM_STMT_EXECUTE parameter number).
    Placeholder(usize),
    /// The `DEFAULT` keyword.
    Default,
    /// Any other expression, exactly as written.
    Expr(String),
}

/// Information extracted from a DML statement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DmlInfo {
    /// The verb.
    pub verb: DmlVerb,
    /// Target tables. INSERT/REPLACE: the one target. Single-table
    /// UPDATE/DELETE: the table. Multi-table DELETE: the tables rows are
    /// deleted from (aliases resolved). Multi-table UPDATE: the tables named
    /// by qualified `SET` targets, or every base table referenced when some
    /// target is unqualified.
    pub tables: Vec<TableRef>,
    /// The multi-table form (joins / several table references) is used.
    pub multi_table: bool,
    /// `IGNORE` modifier.
    pub ignore: bool,
    /// INSERT column list, if given (unquoted).
    pub columns: Vec<String>,
    /// INSERT ... VALUES rows.
    pub values: Vec<Vec<ValueExpr>>,
    /// UPDATE `SET` and INSERT ... `SET` assignments: (column, expression
    /// text). The column is unquoted and dot-joined if qualified (`a.x`).
    pub set: Vec<(String, String)>,
    /// `ON DUPLICATE KEY UPDATE` assignments, as for `set`.
    pub on_duplicate: Vec<(String, String)>,
    /// Text of the source query of INSERT ... SELECT.
    pub select: Option<String>,
    /// Text of the WHERE expression (without the keyword).
    pub where_clause: Option<String>,
    /// Text of the ORDER BY list (without the keywords).
    pub order_by: Option<String>,
    /// Text of the LIMIT clause (without the keyword).
    pub limit: Option<String>,
    /// Number of `?` markers in the statement.
    pub placeholders: usize,
}

/// Why [`parse_dml`](super::parse_dml) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DmlError {
    /// Only whitespace/comments.
    #[error("empty statement")]
    Empty,
    /// More than one statement was given.
    #[error("more than one statement; split the query first")]
    MultipleStatements,
    /// `sqlparser` rejected the statement.
    #[error("cannot parse statement: {0}")]
    Parse(String),
    /// The statement parsed but is not INSERT/REPLACE/UPDATE/DELETE.
    #[error("not an INSERT, REPLACE, UPDATE or DELETE statement")]
    NotDml,
    /// A DML form this module does not handle.
    #[error("unsupported DML form: {0}")]
    Unsupported(&'static str),
    /// The parse tree and the source text could not be matched up.
    #[error("cannot locate {0} in the statement text")]
    Locate(&'static str),
}
