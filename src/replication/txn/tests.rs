use super::*;

fn all_values() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Int(0),
        Value::Int(-1),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::UInt(0),
        Value::UInt(250),
        Value::UInt(251),
        Value::UInt(u64::MAX),
        Value::Float(1.5),
        Value::Float(-0.0),
        Value::Float(f32::INFINITY),
        Value::Float(f32::MIN_POSITIVE),
        Value::Double(-2.25),
        Value::Double(f64::NEG_INFINITY),
        Value::Double(f64::MAX),
        Value::Bytes(vec![]),
        Value::Bytes(b"hello \0 world".to_vec()),
        Value::Bytes((0..=255).collect()),
        Value::Date {
            year: 2024,
            month: 2,
            day: 29,
            hour: 23,
            minute: 59,
            second: 58,
            micro: 999_999,
        },
        Value::Date {
            year: 0,
            month: 0,
            day: 0,
            hour: 0,
            minute: 0,
            second: 0,
            micro: 0,
        },
        Value::Time {
            negative: true,
            days: 34,
            hours: 22,
            minutes: 59,
            seconds: 59,
            micros: 1,
        },
        Value::Time {
            negative: false,
            days: 0,
            hours: 0,
            minutes: 0,
            seconds: 0,
            micros: 0,
        },
    ]
}

fn sample_txn() -> Txn {
    let values = all_values();
    Txn {
        origin: 3,
        trx_id: u64::MAX,
        snapshot: 1234,
        write_set: vec![0, 1, 1 << 64, u128::MAX],
        tables: vec![TableName::new("shop", "orders"), TableName::new("shop", "all")],
        columns: vec![
            vec!["id".into(), "note".into()],
            (0..values.len()).map(|i| format!("c{i}")).collect(),
        ],
        pk_columns: vec![vec!["id".into()], (0..values.len()).map(|i| format!("c{i}")).collect()],
        rows: vec![
            RowChange::Insert {
                table: 1,
                after: values.clone(),
            },
            RowChange::Update {
                table: 0,
                before_pk: vec![Value::Int(1)],
                after: vec![Value::Int(2), Value::Bytes(b"moved".to_vec())],
            },
            RowChange::Delete {
                table: 0,
                before_pk: vec![Value::Int(2)],
            },
            RowChange::Delete {
                table: 1,
                before_pk: values,
            },
        ],
    }
}

fn sample_entries() -> Vec<(&'static str, Entry)> {
    vec![
        ("txn with every value kind", Entry::Txn(sample_txn())),
        (
            "empty txn",
            Entry::Txn(Txn {
                origin: 0,
                trx_id: 0,
                snapshot: 0,
                write_set: vec![],
                tables: vec![],
                columns: vec![],
                pk_columns: vec![],
                rows: vec![],
            }),
        ),
        (
            "table ddl",
            Entry::Ddl(Ddl {
                origin: 1,
                trx_id: 9,
                schema: Some("shop".into()),
                sql: "ALTER TABLE orders ADD COLUMN x INT".into(),
                sql_mode: "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION".into(),
                charset: "utf8mb4".into(),
                tables: vec![TableName::new("shop", "orders")],
            }),
        ),
        (
            "database ddl",
            Entry::Ddl(Ddl {
                origin: 2,
                trx_id: 10,
                schema: Some("newdb".into()),
                sql: "CREATE DATABASE newdb".into(),
                sql_mode: String::new(),
                charset: "utf8mb4".into(),
                tables: vec![],
            }),
        ),
        (
            "ddl without schema",
            Entry::Ddl(Ddl {
                origin: 2,
                trx_id: 11,
                schema: None,
                sql: "CREATE USER 'u'@'%'".into(),
                sql_mode: String::new(),
                charset: "latin1".into(),
                tables: vec![],
            }),
        ),
        (
            "watermark",
            Entry::Watermark {
                member: 7,
                applied: 1 << 40,
            },
        ),
        ("watermark zero", Entry::Watermark { member: 0, applied: 0 }),
    ]
}

#[test]
fn round_trip_every_variant() {
    for (name, e) in sample_entries() {
        let bytes = encode(&e);
        assert_eq!(bytes[0], FORMAT_VERSION, "{name}");
        assert_eq!(decode(&bytes).as_ref(), Ok(&e), "{name}");
        assert_eq!(encode(&decode(&bytes).unwrap()), bytes, "{name}: re-encode");
    }
}

#[test]
fn floats_round_trip_bit_exact() {
    for bits in [f64::NAN.to_bits(), 0x7ff8_dead_beef_0001, (-0.0f64).to_bits()] {
        let e = Entry::Txn(Txn {
            origin: 1,
            trx_id: 1,
            snapshot: 0,
            write_set: vec![],
            tables: vec![TableName::new("s", "t")],
            columns: vec![vec!["f".into(), "d".into()]],
            pk_columns: vec![vec!["f".into()]],
            rows: vec![RowChange::Insert {
                table: 0,
                after: vec![
                    Value::Float(f32::from_bits(bits as u32)),
                    Value::Double(f64::from_bits(bits)),
                ],
            }],
        });
        let Entry::Txn(t) = decode(&encode(&e)).unwrap() else {
            panic!("not a txn");
        };
        let RowChange::Insert { after, .. } = &t.rows[0] else {
            panic!("not an insert");
        };
        match after.as_slice() {
            [Value::Float(f), Value::Double(d)] => {
                assert_eq!(f.to_bits(), bits as u32);
                assert_eq!(d.to_bits(), bits);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The exact bytes of a small entry: catches accidental format changes.
#[test]
fn encoding_is_pinned() {
    let e = Entry::Watermark {
        member: 2,
        applied: 300,
    };
    // version 1, variant 2 (varint), member 2, applied 300 = 251 (u16 marker) + 300 LE.
    assert_eq!(encode(&e), vec![1, 2, 2, 251, 0x2c, 0x01]);

    let e = Entry::Ddl(Ddl {
        origin: 1,
        trx_id: 2,
        schema: Some("s".into()),
        sql: "q".into(),
        sql_mode: String::new(),
        charset: "c".into(),
        tables: vec![TableName::new("s", "t")],
    });
    assert_eq!(
        encode(&e),
        vec![1, 1, 1, 2, 1, 1, b's', 1, b'q', 0, 1, b'c', 1, 1, b's', 1, b't']
    );
}

#[test]
fn decode_rejects_bad_bytes() {
    let good = encode(&Entry::Txn(sample_txn()));
    let mut other_version = good.clone();
    other_version[0] = FORMAT_VERSION + 1;
    let mut trailing = good.clone();
    trailing.push(0);
    let mut bad_variant = good.clone();
    bad_variant[1] = 3;
    // A Vec<u8> claiming u64::MAX bytes must fail without allocating them.
    let huge_len = {
        let mut b = encode(&Entry::Txn(Txn {
            origin: 0,
            trx_id: 0,
            snapshot: 0,
            write_set: vec![],
            tables: vec![TableName::new("", "")],
            columns: vec![vec![]],
            pk_columns: vec![vec![]],
            rows: vec![],
        }));
        // Layout: version, variant 0, origin, trx_id, snapshot, write_set len 0,
        // tables len 1, schema len (index 7).
        assert_eq!(b[7], 0);
        b.truncate(7);
        b.push(253);
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b
    };

    type Check = fn(&DecodeError) -> bool;
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        ("empty", vec![], |e| *e == DecodeError::Empty),
        ("unknown version", other_version, |e| {
            *e == DecodeError::UnsupportedVersion {
                found: FORMAT_VERSION + 1,
                expected: FORMAT_VERSION,
            }
        }),
        ("version only", vec![FORMAT_VERSION], |e| {
            matches!(e, DecodeError::Malformed(_))
        }),
        ("trailing byte", trailing, |e| matches!(e, DecodeError::Malformed(_))),
        ("unknown variant", bad_variant, |e| {
            matches!(e, DecodeError::Malformed(_))
        }),
        ("huge length prefix", huge_len, |e| {
            matches!(e, DecodeError::Malformed(_))
        }),
    ];
    for (name, bytes, ok) in cases {
        match decode(&bytes) {
            Err(e) => assert!(ok(&e), "{name}: wrong error {e:?}"),
            Ok(e) => panic!("{name}: decoded {e:?}"),
        }
    }

    for n in 0..good.len() {
        assert!(decode(&good[..n]).is_err(), "truncated to {n} bytes");
    }
}

#[test]
fn decode_rejects_invalid_txns() {
    type Edit = fn(&mut Txn);
    let cases: &[(&str, Edit)] = &[
        ("unsorted write set", |t| t.write_set = vec![2, 1]),
        ("duplicate write-set item", |t| t.write_set = vec![1, 1]),
        ("columns not parallel to tables", |t| {
            t.columns.pop();
        }),
        ("row names a missing table", |t| {
            t.rows.push(RowChange::Delete {
                table: 2,
                before_pk: vec![],
            })
        }),
        ("insert image too short", |t| {
            t.rows.push(RowChange::Insert {
                table: 0,
                after: vec![Value::Int(1)],
            })
        }),
        ("update image too long", |t| {
            t.rows.push(RowChange::Update {
                table: 0,
                before_pk: vec![Value::Int(1)],
                after: vec![Value::Null; 3],
            })
        }),
    ];
    for &(name, edit) in cases {
        let mut t = sample_txn();
        edit(&mut t);
        let e = Entry::Txn(t);
        assert!(matches!(e.validate(), Err(DecodeError::Invalid(_))), "{name}: validate");
        assert!(
            matches!(decode(&encode(&e)), Err(DecodeError::Invalid(_))),
            "{name}: decode"
        );
    }
    for (name, e) in sample_entries() {
        assert_eq!(e.validate(), Ok(()), "{name}");
    }
}

#[test]
fn row_change_table() {
    let t = sample_txn();
    let tables: Vec<u32> = t.rows.iter().map(RowChange::table).collect();
    assert_eq!(tables, vec![1, 0, 0, 1]);
}
