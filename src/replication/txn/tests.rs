use super::*;

/// A raw "event" of `len` bytes whose content depends on `seed` (covers every byte value).
fn event(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Event sizes around the varint length boundaries (250/251, 2^16) and the 19-byte header.
const EVENT_SIZES: &[usize] = &[19, 20, 127, 128, 250, 251, 252, 255, 256, 1000, 65_535, 65_536, 70_000];

fn sample_txn() -> Txn {
    Txn {
        origin: 3,
        trx_id: u64::MAX,
        snapshot: 1234,
        write_set: vec![0, 1, 1 << 64, u128::MAX],
        tables: vec![TableName::new("shop", "orders"), TableName::new("shop", "all")],
        wide: vec![TableName::new("shop", "all")],
        fde: event(121, 0xfd),
        events: vec![event(19, 1), event(40, 2), event(251, 3), event(19, 4)],
    }
}

fn empty_txn() -> Txn {
    Txn {
        origin: 0,
        trx_id: 0,
        snapshot: 0,
        write_set: vec![],
        tables: vec![],
        wide: vec![],
        fde: vec![],
        events: vec![],
    }
}

fn sample_entries() -> Vec<(&'static str, Entry)> {
    vec![
        ("txn with events", Entry::Txn(sample_txn())),
        ("empty txn", Entry::Txn(empty_txn())),
        (
            "format description without events",
            Entry::Txn(Txn {
                fde: event(19, 9),
                ..empty_txn()
            }),
        ),
        (
            "wide-only txn",
            Entry::Txn(Txn {
                tables: vec![TableName::new("db", "t")],
                wide: vec![TableName::new("db", "t"), TableName::new("db", "u")],
                ..empty_txn()
            }),
        ),
        (
            "table ddl",
            Entry::Ddl(Ddl {
                origin: 1,
                trx_id: 9,
                schema: Some("shop".into()),
                sql: "ALTER TABLE orders ADD COLUMN x INT".into(),
                context: vec![
                    ("sql_mode".into(), "'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'".into()),
                    ("character_set_client".into(), "'utf8mb4'".into()),
                    ("time_zone".into(), "'+00:00'".into()),
                    ("timestamp".into(), "1700000000.123456".into()),
                ],
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
                context: vec![("sql_mode".into(), "''".into())],
                tables: vec![],
            }),
        ),
        (
            "ddl without schema or context",
            Entry::Ddl(Ddl {
                origin: 2,
                trx_id: 11,
                schema: None,
                sql: "CREATE USER 'u'@'%'".into(),
                context: vec![],
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
        (
            "sequence advance",
            Entry::Sequence(SequenceAdvance {
                origin: 2,
                schema: "v".into(),
                sequence: "s".into(),
                next_not_cached: -9_223_372_036_854_775_807,
                round: 3,
            }),
        ),
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

/// Raw row events (and the format description) come back byte for byte, whatever their
/// size and number, including none at all.
#[test]
fn raw_events_round_trip_byte_exact() {
    let mut cases: Vec<(String, Vec<u8>, Vec<Vec<u8>>)> = vec![
        ("no events, no fde".into(), vec![], vec![]),
        ("no events, fde".into(), event(121, 7), vec![]),
        (
            "every size at once".into(),
            event(121, 7),
            EVENT_SIZES
                .iter()
                .enumerate()
                .map(|(i, &n)| event(n, i as u8))
                .collect(),
        ),
        (
            "many small events".into(),
            event(19, 0),
            (0..300).map(|i| event(19 + i % 3, i as u8)).collect(),
        ),
    ];
    for &n in EVENT_SIZES {
        cases.push((
            format!("one event of {n} bytes"),
            event(n, 0xee),
            vec![event(n, n as u8)],
        ));
        cases.push((
            format!("fde of {n} bytes, two events"),
            event(n, 1),
            vec![event(19, 2), event(n, 3)],
        ));
    }
    for (name, fde, events) in cases {
        let e = Entry::Txn(Txn {
            fde: fde.clone(),
            events: events.clone(),
            ..sample_txn()
        });
        let bytes = encode(&e);
        let Ok(Entry::Txn(t)) = decode(&bytes) else {
            panic!("{name}: does not decode to a txn");
        };
        assert_eq!(t.fde, fde, "{name}: fde");
        assert_eq!(t.events.len(), events.len(), "{name}: event count");
        for (i, (got, want)) in t.events.iter().zip(&events).enumerate() {
            assert_eq!(got, want, "{name}: event {i}");
        }
        assert_eq!(Entry::Txn(t), e, "{name}");
        assert_eq!(encode(&decode(&bytes).unwrap()), bytes, "{name}: re-encode");
        for n in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..n]).is_err(), "{name}: truncated to {n} bytes");
        }
    }
}

/// The exact bytes of small entries: catches accidental format changes.
#[test]
fn encoding_is_pinned() {
    let e = Entry::Watermark {
        member: 2,
        applied: 300,
    };
    // version 2, variant 2 (varint), member 2, applied 300 = 251 (u16 marker) + 300 LE.
    assert_eq!(encode(&e), vec![2, 2, 2, 251, 0x2c, 0x01]);

    let e = Entry::Ddl(Ddl {
        origin: 1,
        trx_id: 2,
        schema: Some("s".into()),
        sql: "q".into(),
        context: vec![("a".into(), "b".into())],
        tables: vec![TableName::new("s", "t")],
    });
    assert_eq!(
        encode(&e),
        vec![
            2, 1, 1, 2, // version, Ddl, origin, trx_id
            1, 1, b's', // Some("s")
            1, b'q', // sql
            1, 1, b'a', 1, b'b', // context: one pair
            1, 1, b's', 1, b't', // tables
        ]
    );

    let e = Entry::Txn(Txn {
        origin: 1,
        trx_id: 2,
        snapshot: 300,
        write_set: vec![5],
        tables: vec![TableName::new("s", "t")],
        wide: vec![TableName::new("s", "t")],
        fde: vec![0xaa],
        events: vec![vec![0x11; 19]],
    });
    let mut want = vec![
        2, 0, 1, 2, // version, Txn, origin, trx_id
        251, 0x2c, 0x01, // snapshot 300
        1, 5, // write set
        1, 1, b's', 1, b't', // tables
        1, 1, b's', 1, b't', // wide
        1, 0xaa, // fde
        1, 19, // one event of 19 bytes
    ];
    want.extend([0x11; 19]);
    assert_eq!(encode(&e), want);
    assert_eq!(FORMAT_VERSION, 2);
}

#[test]
fn decode_rejects_bad_bytes() {
    let good = encode(&Entry::Txn(sample_txn()));
    let mut other_version = good.clone();
    other_version[0] = FORMAT_VERSION + 1;
    let mut old_version = good.clone();
    old_version[0] = 1;
    let mut trailing = good.clone();
    trailing.push(0);
    let mut bad_variant = good.clone();
    bad_variant[1] = 3;
    // A Vec<u8> claiming u64::MAX bytes must fail without allocating them.
    let huge_len = {
        let mut b = encode(&Entry::Txn(Txn {
            tables: vec![TableName::new("", "")],
            ..empty_txn()
        }));
        // Layout: version, variant 0, origin, trx_id, snapshot, write_set len 0,
        // tables len 1, schema len (index 7).
        assert_eq!(b[7], 0);
        b.truncate(7);
        b.push(253);
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b
    };
    // Likewise a list of u64::MAX events, and one event claiming u64::MAX bytes.
    let huge_event_count = {
        let mut b = encode(&Entry::Txn(empty_txn()));
        // The last byte is the (empty) event list's length.
        assert_eq!(b.pop(), Some(0));
        b.push(253);
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b
    };
    let huge_event = {
        let mut b = encode(&Entry::Txn(Txn {
            fde: vec![1],
            events: vec![vec![]],
            ..empty_txn()
        }));
        // Ends with: events len 1, event len 0.
        assert_eq!(b.pop(), Some(0));
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
        ("version 1 (row images)", old_version, |e| {
            *e == DecodeError::UnsupportedVersion {
                found: 1,
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
        ("huge event count", huge_event_count, |e| {
            matches!(e, DecodeError::Malformed(_))
        }),
        ("huge event", huge_event, |e| matches!(e, DecodeError::Malformed(_))),
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
    let cases: &[(&str, Edit, &str)] = &[
        ("unsorted write set", |t| t.write_set = vec![2, 1], "write set"),
        ("duplicate write-set item", |t| t.write_set = vec![1, 1], "write set"),
        ("events without fde", |t| t.fde.clear(), "format description"),
        (
            "one event without fde",
            |t| {
                t.fde.clear();
                t.events = vec![vec![0; 19]];
            },
            "format description",
        ),
        ("empty event", |t| t.events.push(vec![]), "row event 4 "),
        (
            "event one byte short of a header",
            |t| t.events[0] = vec![0; 18],
            "row event 0 ",
        ),
        ("a single-byte event", |t| t.events[2] = vec![7], "row event 2 "),
        (
            "short event after long ones",
            |t| t.events.extend([vec![0; 70_000], vec![0; 3]]),
            "row event 5 ",
        ),
    ];
    for &(name, edit, says) in cases {
        let mut t = sample_txn();
        edit(&mut t);
        let e = Entry::Txn(t);
        match e.validate() {
            Err(DecodeError::Invalid(why)) => assert!(why.contains(says), "{name}: {why}"),
            other => panic!("{name}: validate gave {other:?}"),
        }
        assert!(
            matches!(decode(&encode(&e)), Err(DecodeError::Invalid(_))),
            "{name}: decode"
        );
    }
    for (name, e) in sample_entries() {
        assert_eq!(e.validate(), Ok(()), "{name}");
    }
    // Exactly a header's worth is enough; an empty fde is fine without events.
    let ok = Entry::Txn(Txn {
        fde: vec![1],
        events: vec![vec![0; 19]],
        ..empty_txn()
    });
    assert_eq!(ok.validate(), Ok(()));
}

#[test]
fn xid_gtrid_round_trips() {
    for (member, trx_id) in [(0, 0), (1, 42), (u64::MAX, u64::MAX)] {
        let g = xid_gtrid(member, trx_id);
        assert_eq!(parse_xid_gtrid(g.as_bytes()), Some((member, trx_id)), "{g}");
    }
    assert_eq!(xid_gtrid(3, 17), "grproxy-3-17");
    for bad in [
        &b""[..],
        b"grproxy-",
        b"grproxy-1",
        b"grproxy-1-",
        b"grproxy--1",
        b"grproxy-a-1",
        b"grproxy-1-2-3",
        b"other-1-2",
        b"grproxy-1-\xff",
    ] {
        assert_eq!(parse_xid_gtrid(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}
