use super::*;
use crate::replication::metadata::{Column, ForeignKey, Key, TableMeta};
use crate::sql::parse_dml;

fn col(name: &str, ty: &str, ai: bool) -> Column {
    Column {
        name: name.into(),
        data_type: ty.into(),
        generated: false,
        auto_increment: ai,
    }
}

fn meta() -> Arc<TableMeta> {
    Arc::new(TableMeta {
        schema: "db".into(),
        table: "t".into(),
        columns: vec![
            col("id", "int", true),
            col("email", "varchar", false),
            col("n", "int", false),
            col("ts", "timestamp", false),
        ],
        primary: Some(Key {
            name: "PRIMARY".into(),
            columns: vec![0],
        }),
        uniques: vec![Key {
            name: "email".into(),
            columns: vec![1],
        }],
        foreign_keys: vec![],
        referenced_with_cascade: false,
        engine: "InnoDB".into(),
        has_triggers: false,
    })
}

fn plan(sql: &str) -> Result<DmlPlan, CaptureError> {
    let info = parse_dml(sql).unwrap();
    let table_ref = table_ref_text(sql, info.verb).unwrap_or_default();
    DmlPlan::new(ImageShape::new(meta()), &info, &table_ref)
}

const LIST: &str = "`id`, `email`, `n`, CONVERT_TZ(`ts`, @@session.time_zone, '+00:00'), WEIGHT_STRING(`email`)";

#[test]
fn update_and_delete_plans_lock_the_rows_they_touch() {
    let cases: &[(&str, &str)] = &[
        ("UPDATE t SET n = n + 1 WHERE id = 5", "FROM t WHERE id = 5 FOR UPDATE"),
        (
            "UPDATE db.t AS x SET x.n = 1 WHERE x.email LIKE 'a%' ORDER BY x.id LIMIT 3",
            "FROM db.t AS x WHERE x.email LIKE 'a%' ORDER BY x.id LIMIT 3 FOR UPDATE",
        ),
        ("UPDATE LOW_PRIORITY t SET n = 2", "FROM t FOR UPDATE"),
        ("DELETE FROM t WHERE n IN (1, 2)", "FROM t WHERE n IN (1, 2) FOR UPDATE"),
        (
            "DELETE FROM `t` ORDER BY id DESC LIMIT 1",
            "FROM `t` ORDER BY id DESC LIMIT 1 FOR UPDATE",
        ),
    ];
    for (sql, tail) in cases {
        let p = plan(sql).unwrap();
        assert_eq!(
            p.before.as_deref(),
            Some(format!("SELECT {LIST} {tail}").as_str()),
            "{sql}"
        );
    }
    let p = plan("UPDATE t SET id = id + 10, n = 0 WHERE n > 1").unwrap();
    assert_eq!(
        p.new_keys_query(&[row("1", Some("a"), "2")]).unwrap(),
        "SELECT `id`, (id + 10) FROM t WHERE (`id`) IN ((1))"
    );
    assert!(matches!(
        plan("UPDATE t SET n = 5, id = n + 1"),
        Err(CaptureError::Refused(_))
    ));
}

#[test]
fn insert_plans_find_rows_by_written_keys_and_generated_ids() {
    let p = plan("INSERT INTO t (id, email, n) VALUES (1, 'a@x', 1), (2, 'b@x', 2)").unwrap();
    assert_eq!(p.before, None, "a plain insert cannot touch existing rows");
    assert_eq!(p.generated_rows, 0);
    assert_eq!(
        p.after(&[], &Rekey::new(), 0, 1).unwrap(),
        format!("SELECT {LIST} FROM `db`.`t` WHERE (`id` = 1) OR (`email` = 'a@x') OR (`id` = 2) OR (`email` = 'b@x') FOR UPDATE")
    );
    let p = plan("INSERT INTO t (email) VALUES ('a'), ('b'), ('c')").unwrap();
    assert_eq!(p.generated_rows, 3);
    assert!(p
        .after(&[], &Rekey::new(), 10, 3)
        .unwrap()
        .contains("`id` IN (10, 13, 16)"));
    let p = plan("REPLACE INTO t (id, email) VALUES (1, 'a')").unwrap();
    assert!(p
        .before
        .unwrap()
        .ends_with("WHERE (`id` = 1) OR (`email` = 'a') FOR UPDATE"));
    let p = plan("INSERT INTO t SET id = 4, email = 'z', n = 1 ON DUPLICATE KEY UPDATE n = n + 1").unwrap();
    assert!(p.before.is_some());
    assert!(matches!(
        plan("INSERT INTO t (id) VALUES (UUID_SHORT())"),
        Err(CaptureError::Refused(_))
    ));
    let p = plan("INSERT INTO t (n, id) SELECT n, id + 100 FROM t WHERE n > 0").unwrap();
    let (q, positions) = p.select_keys().unwrap();
    assert_eq!(
        q,
        "SELECT * FROM (SELECT n, id + 100 FROM t WHERE n > 0) AS grproxy_src"
    );
    assert_eq!(positions, &vec![1]);
    let p = plan("INSERT INTO t (email) SELECT email FROM t").unwrap();
    assert!(
        p.select_keys().is_none(),
        "auto-increment keys come from the server's count"
    );
}

fn row(id: &str, email: Option<&str>, n: &str) -> RawRow {
    vec![
        Some(id.as_bytes().to_vec()),
        email.map(|e| e.as_bytes().to_vec()),
        Some(n.as_bytes().to_vec()),
        None,
        email.map(|e| e.to_uppercase().into_bytes()),
    ]
}

#[test]
fn diff_yields_changes_items_and_counts() {
    let shape = ImageShape::new(meta());
    let before = vec![row("1", Some("a"), "1"), row("2", Some("b"), "2"), row("3", None, "3")];
    let after = vec![
        row("1", Some("a"), "1"),
        row("2", Some("b"), "20"),
        row("4", Some("d"), "4"),
    ];
    let mut ws = WriteSetBuilder::default();
    let c = diff(&shape, 0, &before, &after, &Rekey::new(), &mut ws);
    assert_eq!((c.inserted, c.updated, c.deleted, c.matched), (1, 1, 1, 3));
    assert_eq!(c.changes.len(), 3);
    let items = ws.finish();
    // id 1 matched unchanged (pk, email: still a write), id 3 (pk only: NULL email does not
    // constrain), id 2 before+after (pk, email), id 4 (pk, email).
    assert_eq!(items.len(), 7);
    assert!(items.contains(&key_item("db", "t", "PRIMARY", &[b"1"])));
    assert!(
        items.contains(&key_item("db", "t", "email", &[b"B"])),
        "unique items use the normalized form"
    );
    assert_eq!(check_count(DmlVerb::Update, &c, 1, false), Ok(()));
    assert_eq!(check_count(DmlVerb::Update, &c, 3, true), Ok(()));
    assert_eq!(
        check_count(DmlVerb::Delete, &c, 2, false),
        Err(CaptureError::CountMismatch {
            reported: 2,
            captured: 1
        })
    );
}

#[test]
fn foreign_keys_add_parent_items() {
    let mut m = (*meta()).clone();
    m.foreign_keys.push(ForeignKey {
        name: "fk".into(),
        columns: vec![2],
        parent_schema: "db".into(),
        parent_table: "parent".into(),
        parent_index: "PRIMARY".into(),
        cascades: false,
    });
    let shape = ImageShape::new(Arc::new(m));
    let mut ws = WriteSetBuilder::default();
    diff(&shape, 0, &[], &[row("9", None, "77")], &Rekey::new(), &mut ws);
    assert!(ws.finish().contains(&key_item("db", "parent", "PRIMARY", &[b"77"])));
}

#[test]
fn primary_key_changes_become_updates_of_the_old_key() {
    let shape = ImageShape::new(meta());
    let before = vec![row("1", Some("a"), "1")];
    let after = vec![row("11", Some("a"), "1")];
    let rekey = rekey_from(&[vec![Some(b"1".to_vec()), Some(b"11".to_vec())]], 1);
    let mut ws = WriteSetBuilder::default();
    let c = diff(&shape, 0, &before, &after, &rekey, &mut ws);
    assert_eq!(c.updated, 1);
    match &c.changes[0] {
        RowChange::Update { before_pk, after, .. } => {
            assert_eq!(before_pk, &vec![Value::Bytes(b"1".to_vec())]);
            assert_eq!(after[0], Value::Bytes(b"11".to_vec()));
        }
        other => panic!("{other:?}"),
    }
    // Both the old and the new key are in the write-set.
    let items = ws.finish();
    assert!(items.contains(&key_item("db", "t", "PRIMARY", &[b"1"])));
    assert!(items.contains(&key_item("db", "t", "PRIMARY", &[b"11"])));
}

/// Point statements (PK-only table): no locking read; the key from the statement drives the
/// capture, by the affected-row count.
#[test]
fn point_statements_capture_by_key_and_count() {
    let meta = Arc::new(TableMeta {
        uniques: vec![],
        ..(*meta()).clone()
    });
    let point_plan = |sql: &str| {
        let info = parse_dml(sql).unwrap();
        let table_ref = table_ref_text(sql, info.verb).unwrap_or_default();
        DmlPlan::new(ImageShape::new(meta.clone()), &info, &table_ref).unwrap()
    };
    let pk_item = key_item("db", "t", "PRIMARY", &[b"7"]);
    // (statement, affected, after rows, changes, items, after-read expected)
    let after_row = vec![Some(b"7".to_vec()), None, Some(b"8".to_vec()), None];
    type Case = (&'static str, u64, Vec<RawRow>, usize, Vec<u128>, bool);
    let cases: Vec<Case> = vec![
        ("DELETE FROM t WHERE id = 7", 1, vec![], 1, vec![pk_item], false),
        ("DELETE FROM t WHERE id = 7", 0, vec![], 0, vec![], false),
        (
            "UPDATE t SET n = 8 WHERE id = 7",
            1,
            vec![after_row],
            1,
            vec![pk_item],
            true,
        ),
        ("UPDATE t SET n = 8 WHERE id = 7", 0, vec![], 0, vec![pk_item], false),
    ];
    for (sql, affected, after, changes, items, reads_after) in cases {
        let mut p = point_plan(sql);
        assert!(p.before.is_none(), "{sql}: no locking read");
        p.set_affected(affected);
        let after_sql = p.after(&[], &Rekey::new(), 0, 1);
        assert_eq!(after_sql.is_some(), reads_after, "{sql} affected {affected}");
        if let Some(q) = after_sql {
            assert!(q.ends_with("WHERE (`id`) IN ((7)) FOR UPDATE"), "{q}");
        }
        let mut ws = WriteSetBuilder::default();
        let c = p.capture(0, &[], &after, &Rekey::new(), &mut ws);
        assert_eq!(c.changes.len(), changes, "{sql} affected {affected}");
        assert_eq!(ws.finish(), items, "{sql} affected {affected}");
        check_count(p.verb, &c, affected, false).unwrap();
    }
    // Not a point statement: a range, or a table with a unique key.
    assert!(point_plan("DELETE FROM t WHERE id > 7").before.is_some());
    assert!(plan("DELETE FROM t WHERE id = 7").unwrap().before.is_some());
}
