//! Table references of DML statements, from the `sqlparser` AST.

use sqlparser::ast::{AssignmentTarget, Delete, FromTable, ObjectName, TableFactor, TableWithJoins, Update};

use super::dml_types::TableRef;

/// Identifier parts of a name, unquoted.
fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| match p.as_ident() {
            Some(id) => id.value.clone(),
            None => p.to_string(),
        })
        .collect()
}

/// A (possibly qualified) name, unquoted and dot-joined.
pub(super) fn object_name(name: &ObjectName) -> String {
    parts(name).join(".")
}

/// `[schema.]table` as a [`TableRef`].
pub(super) fn table_ref(name: &ObjectName) -> TableRef {
    let mut p = parts(name);
    let table = p.pop().unwrap_or_default();
    TableRef { schema: p.pop(), table }
}

/// A base table of a FROM/UPDATE list with its alias.
struct Factor {
    table: TableRef,
    alias: Option<String>,
}

/// Collects base tables; returns how many table factors there are in all
/// (derived tables and table functions included).
fn collect(twj: &TableWithJoins, out: &mut Vec<Factor>) -> usize {
    let mut n = factor(&twj.relation, out);
    for j in &twj.joins {
        n += factor(&j.relation, out);
    }
    n
}

fn factor(f: &TableFactor, out: &mut Vec<Factor>) -> usize {
    match f {
        TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } => {
            out.push(Factor {
                table: table_ref(name),
                alias: alias.as_ref().map(|a| a.name.value.clone()),
            });
            1
        }
        TableFactor::NestedJoin { table_with_joins, .. } => collect(table_with_joins, out),
        _ => 1,
    }
}

fn collect_all(list: &[TableWithJoins], out: &mut Vec<Factor>) -> usize {
    list.iter().map(|t| collect(t, out)).sum()
}

/// Resolves a target written as `alias`, `table` or `schema.table`.
fn resolve(target: &[String], factors: &[Factor]) -> Option<TableRef> {
    match target {
        [one] => factors
            .iter()
            .find(|f| f.alias.as_deref() == Some(one.as_str()))
            .or_else(|| {
                factors
                    .iter()
                    .find(|f| f.alias.is_none() && f.table.table.eq_ignore_ascii_case(one))
            })
            .map(|f| f.table.clone()),
        [.., schema, table] => Some(TableRef {
            schema: Some(schema.clone()),
            table: table.clone(),
        }),
        [] => None,
    }
}

fn push_unique(out: &mut Vec<TableRef>, t: TableRef) {
    if !out.contains(&t) {
        out.push(t);
    }
}

/// Target tables of an UPDATE and whether it is multi-table.
pub(super) fn update_tables(up: &Update) -> (Vec<TableRef>, bool) {
    let mut factors = Vec::new();
    let count = collect(&up.table, &mut factors);
    if count <= 1 {
        return (factors.into_iter().map(|f| f.table).collect(), false);
    }
    let mut out = Vec::new();
    for a in &up.assignments {
        let names: Vec<&ObjectName> = match &a.target {
            AssignmentTarget::ColumnName(n) => vec![n],
            AssignmentTarget::Tuple(ns) => ns.iter().collect(),
        };
        for n in names {
            let mut p = parts(n);
            p.pop(); // the column
            match resolve(&p, &factors) {
                Some(t) if !p.is_empty() => push_unique(&mut out, t),
                _ => {
                    // Unqualified or unresolvable: any base table may be written.
                    let mut all = Vec::new();
                    for f in &factors {
                        push_unique(&mut all, f.table.clone());
                    }
                    return (all, true);
                }
            }
        }
    }
    (out, true)
}

/// Target tables of a DELETE and whether it is multi-table.
pub(super) fn delete_tables(del: &Delete) -> (Vec<TableRef>, bool) {
    let from = match &del.from {
        FromTable::WithFromKeyword(v) | FromTable::WithoutKeyword(v) => v,
    };
    let mut from_factors = Vec::new();
    let from_count = collect_all(from, &mut from_factors);
    let mut using_factors = Vec::new();
    if let Some(using) = &del.using {
        collect_all(using, &mut using_factors);
    }
    let mut out = Vec::new();
    if !del.tables.is_empty() {
        // DELETE t1, t2 FROM <table references>
        for n in &del.tables {
            let p = parts(n);
            if let Some(t) = resolve(&p, &from_factors) {
                push_unique(&mut out, t);
            } else {
                push_unique(&mut out, table_ref(n));
            }
        }
        return (out, true);
    }
    if del.using.is_some() {
        // DELETE FROM t1, t2 USING <table references>
        for f in &from_factors {
            let p = vec![f.table.table.clone()];
            let t = match &f.table.schema {
                Some(_) => f.table.clone(),
                None => resolve(&p, &using_factors).unwrap_or_else(|| f.table.clone()),
            };
            push_unique(&mut out, t);
        }
        return (out, true);
    }
    for f in from_factors {
        push_unique(&mut out, f.table);
    }
    (out, from_count > 1)
}
