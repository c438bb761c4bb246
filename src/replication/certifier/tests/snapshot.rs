//! The certifier's snapshot format: pinned bytes and what decoding refuses.

use super::*;

/// The exact bytes of a small snapshot: catches accidental format changes.
#[test]
fn snapshot_encoding_is_pinned() {
    let c = Certifier::new(&[5, 1]);
    // version, 2 watermarks (1,0) (5,0), horizon 0, last_index 0, no items, no marks,
    // no table writes, no wide marks, history 0, topology (multi-primary, no primary, since 0,
    // no reason)
    assert_eq!(c.encode(), vec![4, 2, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let h = Certifier::with_history(&[1], 7);
    assert_eq!(h.encode(), vec![4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0]);
    assert_eq!(SNAPSHOT_VERSION, 4);
    // A version 3 snapshot (before topologies) still decodes, as multi-primary.
    let v3 = Certifier::decode(&[3, 1, 1, 0, 0, 0, 0, 0, 0, 0, 7]).unwrap();
    assert_eq!(v3, h);

    // One wide write to db.t at index 1: a table-write and a wide mark under its table item.
    let mut w = Certifier::new(&[1]);
    assert_eq!(w.certify(1, &wide(0)), Commit);
    assert!(table_item("db", "t") > u64::MAX as u128, "needs the u128 varint form");
    let mut key = vec![254]; // bincode varint: u128 follows
    key.extend_from_slice(&table_item("db", "t").to_le_bytes());
    let mut want = vec![4, 1, 1, 0, 0, 1, 0, 0];
    want.extend([&[1][..], &key, &[1]].concat()); // table_writes: (db.t, 1)
    want.extend([&[1][..], &key, &[1]].concat()); // wide: (db.t, 1)
    want.extend([0, 0, 0, 0, 0]); // history 0, topology
    assert_eq!(w.encode(), want);
    assert!(c.is_empty());
    assert_eq!(c.last_index(), 0);
}

#[test]
fn snapshot_decode_rejects_bad_input() {
    let mut c = Certifier::new(&[1, 2]);
    for (i, e) in [
        (1, dml(0, &[row(1)])),
        (2, ddl_tables(&[("db", "t")])),
        (3, wm(1, 2)),
        (4, wm(2, 1)),
    ] {
        c.certify(i, &e);
    }
    let good = c.encode();
    assert_eq!(Certifier::decode(&good).as_ref(), Ok(&c));

    let state = |f: fn(&mut SnapshotState)| {
        let mut s = SnapshotState {
            watermarks: vec![(1, 2), (2, 1)],
            horizon: 1,
            last_index: 4,
            items: vec![(10, 2), (20, 3)],
            ddl: vec![(10, 2)],
            table_writes: vec![(10, 2), (30, 4), (40, 3)],
            wide: vec![(30, 4)],
            history: 0,
            topology: Default::default(),
        };
        f(&mut s);
        versioned_encode(SNAPSHOT_VERSION, &s)
    };
    assert!(Certifier::decode(&state(|_| {})).is_ok(), "baseline");

    let mut trailing = good.clone();
    trailing.push(0);
    let mut version = good.clone();
    version[0] = SNAPSHOT_VERSION + 1;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("unknown version", version),
        ("trailing byte", trailing),
        ("entry bytes", crate::replication::txn::encode(&wm(1, 1))),
        ("unsorted items", state(|s| s.items.reverse())),
        ("duplicate item", state(|s| s.items[1].0 = s.items[0].0)),
        ("duplicate mark", state(|s| s.ddl.push((10, 3)))),
        ("unsorted members", state(|s| s.watermarks.reverse())),
        ("horizon not the min watermark", state(|s| s.horizon = 0)),
        ("item at the horizon", state(|s| s.items[0].1 = 1)),
        ("mark at the horizon", state(|s| s.ddl[0].1 = 1)),
        ("item after last index", state(|s| s.items[1].1 = 5)),
        ("unsorted table writes", state(|s| s.table_writes.swap(0, 1))),
        (
            "unsorted table writes (last pair)",
            state(|s| s.table_writes.swap(1, 2)),
        ),
        (
            "duplicate table write",
            state(|s| s.table_writes[1].0 = s.table_writes[0].0),
        ),
        ("unsorted wide marks", state(|s| s.wide.insert(0, (40, 2)))),
        ("duplicate wide mark", state(|s| s.wide.push((30, 3)))),
        ("table write at the horizon", state(|s| s.table_writes[2].1 = 1)),
        ("wide mark at the horizon", state(|s| s.wide[0].1 = 1)),
        ("table write after last index", state(|s| s.table_writes[0].1 = 5)),
        ("wide mark after last index", state(|s| s.wide[0].1 = 5)),
        ("watermark after last index", state(|s| s.watermarks[0].1 = 5)),
    ];
    for (name, bytes) in cases {
        assert!(Certifier::decode(&bytes).is_err(), "{name}");
    }
    for n in 0..good.len() {
        assert!(Certifier::decode(&good[..n]).is_err(), "truncated to {n}");
    }
}
