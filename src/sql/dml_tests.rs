//! Tests of [`parse_dml`]: exact original-text extraction.

use super::dml::{parse_dml, DmlInfo, DmlVerb as V, TableRef, ValueExpr};

fn t(name: &str) -> TableRef {
    match name.split_once('.') {
        Some((s, n)) => TableRef {
            schema: Some(s.into()),
            table: n.into(),
        },
        None => TableRef {
            schema: None,
            table: name.into(),
        },
    }
}

pub(super) fn lit(s: &str) -> ValueExpr {
    ValueExpr::Literal(s.into())
}

pub(super) fn ex(s: &str) -> ValueExpr {
    ValueExpr::Expr(s.into())
}

pub(super) fn p(i: usize) -> ValueExpr {
    ValueExpr::Placeholder(i)
}

pub(super) fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

pub(super) fn parse(sql: &str) -> DmlInfo {
    parse_dml(sql).unwrap_or_else(|e| panic!("parse_dml({sql:?}): {e}"))
}

/// Checks the fields that matter for each case; others must be default.
pub(super) struct Case {
    pub sql: &'static str,
    pub want: DmlInfo,
}

pub(super) fn run(cases: Vec<Case>) {
    for c in cases {
        let got = parse(c.sql);
        assert_eq!(got, c.want, "parse_dml({:?})", c.sql);
    }
}

pub(super) fn info(verb: V, tables: &[&str]) -> DmlInfo {
    DmlInfo {
        verb,
        tables: tables.iter().map(|n| t(n)).collect(),
        ..DmlInfo::default()
    }
}

#[test]
fn sysbench_statements() {
    run(vec![
        Case {
            sql: "UPDATE sbtest1 SET k=k+1 WHERE id=?",
            want: DmlInfo {
                set: pairs(&[("k", "k+1")]),
                where_clause: Some("id=?".into()),
                placeholders: 1,
                ..info(V::Update, &["sbtest1"])
            },
        },
        Case {
            sql: "UPDATE sbtest1 SET k=k+1 WHERE id=5012",
            want: DmlInfo {
                set: pairs(&[("k", "k+1")]),
                where_clause: Some("id=5012".into()),
                ..info(V::Update, &["sbtest1"])
            },
        },
        Case {
            sql: "UPDATE sbtest1 SET c=? WHERE id=?",
            want: DmlInfo {
                set: pairs(&[("c", "?")]),
                where_clause: Some("id=?".into()),
                placeholders: 2,
                ..info(V::Update, &["sbtest1"])
            },
        },
        Case {
            sql: "DELETE FROM sbtest1 WHERE id=?",
            want: DmlInfo {
                where_clause: Some("id=?".into()),
                placeholders: 1,
                ..info(V::Delete, &["sbtest1"])
            },
        },
        Case {
            sql: "INSERT INTO sbtest1 (id, k, c, pad) VALUES (?, ?, ?, ?)",
            want: DmlInfo {
                columns: vec!["id".into(), "k".into(), "c".into(), "pad".into()],
                values: vec![vec![p(0), p(1), p(2), p(3)]],
                placeholders: 4,
                ..info(V::Insert, &["sbtest1"])
            },
        },
        Case {
            sql: "INSERT INTO sbtest1 (id, k, c, pad) VALUES (5012, 4993, '6848-9643', '2219-6328')",
            want: DmlInfo {
                columns: vec!["id".into(), "k".into(), "c".into(), "pad".into()],
                values: vec![vec![lit("5012"), lit("4993"), lit("'6848-9643'"), lit("'2219-6328'")]],
                ..info(V::Insert, &["sbtest1"])
            },
        },
        Case {
            sql: "INSERT INTO sbtest1(k, c, pad) VALUES(1,'a','b'),(2,'c','d'),(3,'e','f')",
            want: DmlInfo {
                columns: vec!["k".into(), "c".into(), "pad".into()],
                values: vec![
                    vec![lit("1"), lit("'a'"), lit("'b'")],
                    vec![lit("2"), lit("'c'"), lit("'d'")],
                    vec![lit("3"), lit("'e'"), lit("'f'")],
                ],
                ..info(V::Insert, &["sbtest1"])
            },
        },
    ]);
}

#[test]
fn update_exact_text() {
    run(vec![
        Case {
            sql: "UPDATE t SET a='x;y', b=b+1 WHERE id IN (1,2) ORDER BY id LIMIT 2",
            want: DmlInfo {
                set: pairs(&[("a", "'x;y'"), ("b", "b+1")]),
                where_clause: Some("id IN (1,2)".into()),
                order_by: Some("id".into()),
                limit: Some("2".into()),
                ..info(V::Update, &["t"])
            },
        },
        Case {
            sql: "UPDATE t SET a = CAST(b AS CHAR), c = NOT d, e = (f + 1), g = -h, s = 'it\\'s' \
                  WHERE x IS NOT NULL",
            want: DmlInfo {
                set: pairs(&[
                    ("a", "CAST(b AS CHAR)"),
                    ("c", "NOT d"),
                    ("e", "(f + 1)"),
                    ("g", "-h"),
                    ("s", "'it\\'s'"),
                ]),
                where_clause: Some("x IS NOT NULL".into()),
                ..info(V::Update, &["t"])
            },
        },
        Case {
            sql: "UPDATE t SET a = 'é', `b c` = 'ü' WHERE c = 'ñ' -- done",
            want: DmlInfo {
                set: pairs(&[("a", "'é'"), ("b c", "'ü'")]),
                where_clause: Some("c = 'ñ'".into()),
                ..info(V::Update, &["t"])
            },
        },
        Case {
            sql: "UPDATE t\nSET a = 1,\n    b = 'x\ny'\nWHERE id = 3\n  AND z = \"q\"\n",
            want: DmlInfo {
                set: pairs(&[("a", "1"), ("b", "'x\ny'")]),
                where_clause: Some("id = 3\n  AND z = \"q\"".into()),
                ..info(V::Update, &["t"])
            },
        },
        Case {
            sql: "UPDATE t SET a = 1 WHERE b = (SELECT MAX(c) FROM u ORDER BY c LIMIT 1) LIMIT 3;",
            want: DmlInfo {
                set: pairs(&[("a", "1")]),
                where_clause: Some("b = (SELECT MAX(c) FROM u ORDER BY c LIMIT 1)".into()),
                limit: Some("3".into()),
                ..info(V::Update, &["t"])
            },
        },
        Case {
            sql: "UPDATE t SET a = CASE WHEN b > 1 THEN 'x' ELSE 'y' END, j = JSON_SET(j, '$.a', 1) \
                  ORDER BY id DESC, k",
            want: DmlInfo {
                set: pairs(&[
                    ("a", "CASE WHEN b > 1 THEN 'x' ELSE 'y' END"),
                    ("j", "JSON_SET(j, '$.a', 1)"),
                ]),
                order_by: Some("id DESC, k".into()),
                ..info(V::Update, &["t"])
            },
        },
        Case {
            sql: "UPDATE LOW_PRIORITY IGNORE db.t SET a = DEFAULT WHERE b = 2 LIMIT 10",
            want: DmlInfo {
                ignore: true,
                set: pairs(&[("a", "DEFAULT")]),
                where_clause: Some("b = 2".into()),
                limit: Some("10".into()),
                ..info(V::Update, &["db.t"])
            },
        },
        Case {
            sql: "WITH c AS (SELECT id FROM u) UPDATE t SET a = 1 WHERE id IN (SELECT id FROM c)",
            want: DmlInfo {
                set: pairs(&[("a", "1")]),
                where_clause: Some("id IN (SELECT id FROM c)".into()),
                ..info(V::Update, &["t"])
            },
        },
        Case {
            sql: "/* app */ UPDATE t SET a = /* keep */ ? WHERE id = ? /*trailing*/",
            want: DmlInfo {
                set: pairs(&[("a", "?")]),
                where_clause: Some("id = ?".into()),
                placeholders: 2,
                ..info(V::Update, &["t"])
            },
        },
    ]);
}

#[test]
fn multi_table() {
    run(vec![
        Case {
            sql: "UPDATE a JOIN b ON a.id = b.id SET a.x = b.y, a.z = 1 WHERE b.k = 2",
            want: DmlInfo {
                multi_table: true,
                set: pairs(&[("a.x", "b.y"), ("a.z", "1")]),
                where_clause: Some("b.k = 2".into()),
                ..info(V::Update, &["a"])
            },
        },
        Case {
            sql: "UPDATE a AS p JOIN db2.b AS q ON p.id=q.id SET q.v = p.v, p.w = 0",
            want: DmlInfo {
                multi_table: true,
                set: pairs(&[("q.v", "p.v"), ("p.w", "0")]),
                ..info(V::Update, &["db2.b", "a"])
            },
        },
        Case {
            sql: "UPDATE a JOIN b USING (id) SET x = 1",
            want: DmlInfo {
                multi_table: true,
                set: pairs(&[("x", "1")]),
                ..info(V::Update, &["a", "b"])
            },
        },
        Case {
            sql: "DELETE a FROM a JOIN b ON a.id=b.id WHERE b.x=1",
            want: DmlInfo {
                multi_table: true,
                where_clause: Some("b.x=1".into()),
                ..info(V::Delete, &["a"])
            },
        },
        Case {
            sql: "DELETE t1, t2 FROM t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id=t2.id AND t2.id=t3.id",
            want: DmlInfo {
                multi_table: true,
                where_clause: Some("t1.id=t2.id AND t2.id=t3.id".into()),
                ..info(V::Delete, &["t1", "t2"])
            },
        },
        Case {
            sql: "DELETE FROM t1 USING t1 JOIN t2 ON t1.id = t2.id WHERE t2.x = 0",
            want: DmlInfo {
                multi_table: true,
                where_clause: Some("t2.x = 0".into()),
                ..info(V::Delete, &["t1"])
            },
        },
        Case {
            sql: "DELETE p FROM db.parent AS p JOIN child c ON c.pid = p.id",
            want: DmlInfo {
                multi_table: true,
                ..info(V::Delete, &["db.parent"])
            },
        },
    ]);
}

#[test]
fn delete_forms() {
    run(vec![
        Case {
            sql: "DELETE FROM t WHERE a = 'x' AND b IS NULL",
            want: DmlInfo {
                where_clause: Some("a = 'x' AND b IS NULL".into()),
                ..info(V::Delete, &["t"])
            },
        },
        Case {
            sql: "DELETE FROM `db`.`t`",
            want: info(V::Delete, &["db.t"]),
        },
        Case {
            sql: "DELETE LOW_PRIORITY QUICK IGNORE FROM t WHERE a = 1 ORDER BY id DESC LIMIT 5",
            want: DmlInfo {
                ignore: true,
                where_clause: Some("a = 1".into()),
                order_by: Some("id DESC".into()),
                limit: Some("5".into()),
                ..info(V::Delete, &["t"])
            },
        },
        Case {
            sql: "DELETE FROM t WHERE MATCH(a) AGAINST ('x') AND s = 'a\\'b'",
            want: DmlInfo {
                where_clause: Some("MATCH(a) AGAINST ('x') AND s = 'a\\'b'".into()),
                ..info(V::Delete, &["t"])
            },
        },
        Case {
            sql: "DELETE FROM t ORDER BY id LIMIT ?",
            want: DmlInfo {
                order_by: Some("id".into()),
                limit: Some("?".into()),
                placeholders: 1,
                ..info(V::Delete, &["t"])
            },
        },
    ]);
}
