//! Structured information about one `INSERT` / `REPLACE` / `UPDATE` /
//! `DELETE` statement.
//!
//! `sqlparser` (MySQL dialect) validates the statement and gives its
//! structure (verb, tables, columns, how many rows/assignments, which values
//! are literals or `?`). Every piece of *expression text* is cut out of the
//! original SQL, never re-printed from the AST, so escapes and spelling are
//! preserved exactly; see the `source` module for how spans are used.

use std::ops::Range;

use sqlparser::ast::{
    Assignment, AssignmentTarget, Delete, Expr, FromTable, Insert, OnInsert, Query, SetExpr, Spanned, Statement,
    TableObject, UnaryOperator, Update, Value,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Span;

use super::dml_tables::{delete_tables, object_name, table_ref, update_tables};
pub use super::dml_types::{DmlError, DmlInfo, DmlVerb, TableRef, ValueExpr};
use super::source::Source;

type Result<T> = std::result::Result<T, DmlError>;

/// Parses one DML statement (a trailing `;` is allowed).
pub fn parse_dml(sql: &str) -> Result<DmlInfo> {
    let src = Source::new(sql);
    let mut end = src.toks.len();
    if let Some(semi) = (0..end).find(|&i| src.is_punct(i, ";")) {
        if (semi..end).any(|i| !src.is_punct(i, ";")) {
            return Err(DmlError::MultipleStatements);
        }
        end = semi;
    }
    if end == 0 {
        return Err(DmlError::Empty);
    }
    let (parse_text, modifier_ignore) = blank_modifiers(&src, end);
    let mut stmts = Parser::parse_sql(&MySqlDialect {}, &parse_text).map_err(|e| DmlError::Parse(e.to_string()))?;
    if stmts.len() != 1 {
        return Err(DmlError::MultipleStatements);
    }
    let ctx = Ctx { src: &src, end };
    let mut info = match stmts.remove(0) {
        Statement::Insert(ins) => ctx.insert(&ins)?,
        Statement::Update(up) => ctx.update(&up)?,
        Statement::Delete(del) => ctx.delete(&del)?,
        Statement::Query(q) => match *q.body {
            SetExpr::Update(Statement::Update(up)) => ctx.update(&up)?,
            SetExpr::Delete(Statement::Delete(del)) => ctx.delete(&del)?,
            _ => return Err(DmlError::NotDml),
        },
        _ => return Err(DmlError::NotDml),
    };
    info.ignore |= modifier_ignore;
    info.placeholders = src.placeholders();
    Ok(info)
}

/// Returns the text handed to sqlparser: a copy of the SQL in which some
/// ASCII runs are replaced by spaces of the same length, so every position is
/// unchanged:
/// - executable-comment markers (`/*!50100`, `/*M!`, `*/`): sqlparser 0.63
///   mis-positions tokens inside `/*! */` (spans are shifted left by the
///   marker length) and ignores `/*M! */` content entirely;
/// - the UPDATE/DELETE modifiers it does not know (`LOW_PRIORITY`, `QUICK`,
///   `IGNORE`; it would take `LOW_PRIORITY` for the table name).
///
/// Also returns whether `IGNORE` was among the modifiers.
fn blank_modifiers(src: &Source<'_>, end: usize) -> (String, bool) {
    let mut text = src.sql.to_owned();
    for r in &src.exec_markers {
        text.replace_range(r.clone(), &" ".repeat(r.len()));
    }
    let Some(verb) = (0..end).find(|&i| {
        src.depth[i] == 0
            && ["INSERT", "REPLACE", "UPDATE", "DELETE"]
                .iter()
                .any(|k| src.is_kw(i, k))
    }) else {
        return (text, false);
    };
    let mods: &[&str] = if src.is_kw(verb, "UPDATE") {
        &["LOW_PRIORITY", "IGNORE"]
    } else if src.is_kw(verb, "DELETE") {
        &["LOW_PRIORITY", "QUICK", "IGNORE"]
    } else {
        &[]
    };
    let mut ignore = false;
    for i in verb + 1..end {
        if !mods.iter().any(|m| src.is_kw(i, m)) {
            break;
        }
        ignore |= src.is_kw(i, "IGNORE");
        let r = src.toks[i].range();
        text.replace_range(r.clone(), &" ".repeat(r.len()));
    }
    (text, ignore)
}

struct Ctx<'s, 'a> {
    src: &'s Source<'a>,
    /// Token index one past the statement (a trailing `;` excluded).
    end: usize,
}

impl Ctx<'_, '_> {
    /// Token index of an exact single-token span.
    fn anchor(&self, span: Span, what: &'static str) -> Result<usize> {
        self.src.tok_of_span(span).ok_or(DmlError::Locate(what))
    }

    /// Checks that a node's span (if known) lies inside the chosen tokens.
    fn check(&self, span: Span, toks: &Range<usize>, what: &'static str) -> Result<()> {
        let Some(node) = self.src.span_range(span) else {
            return Ok(()); // sqlparser has no span for this node
        };
        match self.src.byte_range(toks.clone()) {
            Some(r) if r.start <= node.start && node.end <= r.end => Ok(()),
            _ => Err(DmlError::Locate(what)),
        }
    }

    /// Text of a clause that must be present.
    fn clause(&self, toks: Range<usize>, what: &'static str) -> Result<String> {
        if toks.start >= toks.end {
            return Err(DmlError::Locate(what));
        }
        Ok(self.src.text(toks).to_owned())
    }

    /// Matches assignments in `region` (comma separated) with the AST ones.
    fn assignments(
        &self,
        region: Range<usize>,
        ast: &[Assignment],
        what: &'static str,
    ) -> Result<Vec<(String, String)>> {
        let depth = self.src.depth.get(region.start).copied().unwrap_or(0);
        let items = self.src.split_commas(region, depth);
        if items.len() != ast.len() {
            return Err(DmlError::Locate(what));
        }
        let mut out = Vec::with_capacity(ast.len());
        for (item, a) in items.into_iter().zip(ast) {
            let eq = self
                .src
                .find_punct(item.clone(), depth, "=")
                .ok_or(DmlError::Locate(what))?;
            let rhs = eq + 1..item.end;
            self.check(a.target.span(), &(item.start..eq), what)?;
            self.check(a.value.span(), &rhs, what)?;
            let name = match &a.target {
                AssignmentTarget::ColumnName(n) => object_name(n),
                AssignmentTarget::Tuple(ns) => ns.iter().map(object_name).collect::<Vec<_>>().join(","),
            };
            out.push((name, self.clause(rhs, what)?));
        }
        Ok(out)
    }

    /// WHERE / ORDER BY / LIMIT after token `from` (all at `depth`).
    fn tail_clauses(
        &self,
        from: usize,
        depth: u32,
        selection: Option<&Expr>,
        has_order: bool,
        limit: Option<&Expr>,
        info: &mut DmlInfo,
    ) -> Result<usize> {
        let src = self.src;
        let range = from..self.end;
        let wh = src.find_kws(range.clone(), depth, &["WHERE"]);
        let ob = src.find_kws(range.clone(), depth, &["ORDER", "BY"]);
        let li = src.find_kws(range, depth, &["LIMIT"]);
        if wh.is_some() != selection.is_some() || ob.is_some() != has_order || li.is_some() != limit.is_some() {
            return Err(DmlError::Locate("WHERE/ORDER BY/LIMIT"));
        }
        let stop_after = |i: usize| {
            [ob, li]
                .into_iter()
                .flatten()
                .filter(|&j| j > i)
                .min()
                .unwrap_or(self.end)
        };
        if let (Some(w), Some(e)) = (wh, selection) {
            let toks = w + 1..stop_after(w);
            self.check(e.span(), &toks, "WHERE clause")?;
            info.where_clause = Some(self.clause(toks, "WHERE clause")?);
        }
        if let Some(o) = ob {
            info.order_by = Some(self.clause(o + 2..stop_after(o + 1), "ORDER BY clause")?);
        }
        if let (Some(l), Some(e)) = (li, limit) {
            let toks = l + 1..self.end;
            self.check(e.span(), &toks, "LIMIT clause")?;
            info.limit = Some(self.clause(toks, "LIMIT clause")?);
        }
        Ok([wh, ob, li].into_iter().flatten().min().unwrap_or(self.end))
    }

    fn insert(&self, ins: &Insert) -> Result<DmlInfo> {
        let src = self.src;
        let TableObject::TableName(name) = &ins.table else {
            return Err(DmlError::Unsupported("INSERT INTO TABLE FUNCTION"));
        };
        let verb_tok = self.anchor(ins.insert_token.0.span, "INSERT keyword")?;
        let depth = src.depth[verb_tok];
        let mut info = DmlInfo {
            tables: vec![table_ref(name)],
            ignore: ins.ignore,
            columns: ins.columns.iter().map(object_name).collect(),
            ..DmlInfo::default()
        };
        let body_end = match &ins.on {
            Some(OnInsert::DuplicateKeyUpdate(assigns)) => {
                let od = src
                    .find_kws(verb_tok..self.end, depth, &["ON", "DUPLICATE", "KEY", "UPDATE"])
                    .ok_or(DmlError::Locate("ON DUPLICATE KEY UPDATE"))?;
                info.on_duplicate = self.assignments(od + 4..self.end, assigns, "ON DUPLICATE KEY UPDATE")?;
                od
            }
            Some(_) => return Err(DmlError::Unsupported("ON CONFLICT")),
            None => self.end,
        };
        // Token just after the table name.
        let last_part = name.0.last().map(|p| p.span()).unwrap_or(Span::empty());
        let after_table = self.anchor(last_part, "INSERT table name")? + 1;
        match (&ins.source, ins.assignments.is_empty()) {
            (Some(q), _) => match q.body.as_ref() {
                SetExpr::Values(v) if q.with.is_none() => {
                    for row in &v.rows {
                        let open = self.anchor(row.opening_token.0.span, "VALUES row")?;
                        let close = self.anchor(row.closing_token.0.span, "VALUES row")?;
                        let items = src.split_commas(open + 1..close, src.depth[open] + 1);
                        if items.len() != row.content.len() {
                            return Err(DmlError::Locate("VALUES row"));
                        }
                        let vals = items
                            .into_iter()
                            .zip(&row.content)
                            .map(|(toks, e)| self.value(toks, e))
                            .collect::<Result<Vec<_>>>()?;
                        info.values.push(vals);
                    }
                }
                _ => info.select = Some(self.insert_source(after_table, body_end, depth, q, ins)?),
            },
            (None, false) => {
                let set = src
                    .find_kws(after_table..body_end, depth, &["SET"])
                    .ok_or(DmlError::Locate("INSERT ... SET"))?;
                info.set = self.assignments(set + 1..body_end, &ins.assignments, "INSERT ... SET")?;
            }
            (None, true) => return Err(DmlError::Unsupported("INSERT without VALUES, SET or SELECT")),
        }
        info.verb = if ins.replace_into {
            DmlVerb::Replace
        } else if !info.on_duplicate.is_empty() {
            DmlVerb::InsertOnDuplicate
        } else if ins.ignore {
            DmlVerb::InsertIgnore
        } else if info.select.is_some() {
            DmlVerb::InsertSelect
        } else {
            DmlVerb::Insert
        };
        Ok(info)
    }

    /// Text of the query of INSERT ... SELECT: after the table name, an
    /// optional `PARTITION (..)` and the column list, up to `body_end`.
    fn insert_source(&self, mut at: usize, body_end: usize, depth: u32, q: &Query, ins: &Insert) -> Result<String> {
        let src = self.src;
        let skip_parens = |i: usize| {
            (i + 1..body_end)
                .find(|&j| src.depth[j] == depth && src.is_punct(j, ")"))
                .map(|j| j + 1)
        };
        if src.is_kw(at, "PARTITION") && src.is_punct(at + 1, "(") {
            at = skip_parens(at + 1).ok_or(DmlError::Locate("PARTITION list"))?;
        }
        if src.is_punct(at, "(") && (!ins.columns.is_empty() || src.is_punct(at + 1, ")")) {
            at = skip_parens(at).ok_or(DmlError::Locate("column list"))?;
        }
        let toks = at..body_end;
        self.check(q.span(), &toks, "INSERT source query")?;
        self.clause(toks, "INSERT source query")
    }

    /// Classifies one VALUES item.
    fn value(&self, toks: Range<usize>, e: &Expr) -> Result<ValueExpr> {
        self.check(e.span(), &toks, "VALUES item")?;
        let text = self.clause(toks.clone(), "VALUES item")?;
        let literal = |v: &Value| !matches!(v, Value::Placeholder(_));
        Ok(match e {
            Expr::Value(v) if matches!(v.value, Value::Placeholder(_)) => {
                let at = self.src.toks[toks.start].start;
                ValueExpr::Placeholder(self.src.placeholders_before(at))
            }
            Expr::Value(v) if literal(&v.value) => ValueExpr::Literal(text),
            Expr::UnaryOp {
                op: UnaryOperator::Minus | UnaryOperator::Plus,
                expr,
            } if matches!(expr.as_ref(), Expr::Value(v) if matches!(v.value, Value::Number(..))) => {
                ValueExpr::Literal(text)
            }
            Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("DEFAULT") => {
                ValueExpr::Default
            }
            _ => ValueExpr::Expr(text),
        })
    }

    fn update(&self, up: &Update) -> Result<DmlInfo> {
        let src = self.src;
        if up.from.is_some() {
            return Err(DmlError::Unsupported("UPDATE ... FROM"));
        }
        let verb_tok = self.anchor(up.update_token.0.span, "UPDATE keyword")?;
        let depth = src.depth[verb_tok];
        let set = src
            .find_kws(verb_tok + 1..self.end, depth, &["SET"])
            .ok_or(DmlError::Locate("SET"))?;
        let (tables, multi_table) = update_tables(up);
        let mut info = DmlInfo {
            verb: DmlVerb::Update,
            tables,
            multi_table,
            ..DmlInfo::default()
        };
        let set_end = self.tail_clauses(
            set + 1,
            depth,
            up.selection.as_ref(),
            !up.order_by.is_empty(),
            up.limit.as_ref(),
            &mut info,
        )?;
        info.set = self.assignments(set + 1..set_end, &up.assignments, "SET list")?;
        Ok(info)
    }

    fn delete(&self, del: &Delete) -> Result<DmlInfo> {
        let verb_tok = self.anchor(del.delete_token.0.span, "DELETE keyword")?;
        let depth = self.src.depth[verb_tok];
        let FromTable::WithFromKeyword(_) = &del.from else {
            return Err(DmlError::Unsupported("DELETE without FROM"));
        };
        let (tables, multi_table) = delete_tables(del);
        let mut info = DmlInfo {
            verb: DmlVerb::Delete,
            tables,
            multi_table,
            ..DmlInfo::default()
        };
        self.tail_clauses(
            verb_tok + 1,
            depth,
            del.selection.as_ref(),
            !del.order_by.is_empty(),
            del.limit.as_ref(),
            &mut info,
        )?;
        Ok(info)
    }
}

/// Byte range helper for tests: the range of a `sqlparser` span in `sql`.
#[cfg(test)]
pub(super) fn span_bytes(sql: &str, span: Span) -> Option<Range<usize>> {
    Source::new(sql).span_range(span)
}
