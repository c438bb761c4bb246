use super::*;
use crate::replication::txn::{Entry, TableName, Txn};
use crate::replication::writeset::key_item;

/// An encoded transaction of `origin` with snapshot `snapshot` writing rows `ids` of db.t
/// (one stand-in row event per row).
fn txn(origin: u64, snapshot: u64, ids: &[u64]) -> Vec<u8> {
    let mut write_set: Vec<u128> = ids
        .iter()
        .map(|id| key_item("db", "t", "PRIMARY", &[id.to_string().as_bytes()]))
        .collect();
    write_set.sort_unstable();
    txn::encode(&Entry::Txn(Txn {
        origin,
        trx_id: snapshot,
        snapshot,
        write_set,
        tables: vec![TableName::new("db", "t")],
        wide: vec![],
        fde: vec![0xfd; 100],
        events: ids
            .iter()
            .map(|&id| {
                let mut ev = vec![0u8; 19];
                ev.extend_from_slice(&id.to_le_bytes());
                ev
            })
            .collect(),
    }))
}

fn watermark(member: u64, applied: u64) -> Vec<u8> {
    txn::encode(&Entry::Watermark { member, applied })
}

fn machine() -> (CertifyingMachine, mpsc::UnboundedReceiver<Feed>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (CertifyingMachine::new(&[1, 2, 3], tx), rx)
}

/// What the machine sent its applier: `(index, verdict)` per entry, `(u64::MAX, horizon)` per
/// restore notice.
fn drain(rx: &mut mpsc::UnboundedReceiver<Feed>) -> Vec<(u64, Verdict)> {
    let mut out = Vec::new();
    while let Ok(f) = rx.try_recv() {
        out.push(match f {
            Feed::Entry(c) => (c.index, c.verdict),
            Feed::Restored { horizon, .. } => (
                u64::MAX,
                Verdict::Abort {
                    conflict_index: horizon,
                },
            ),
        });
    }
    out
}

/// A log: conflicting and independent transactions, and watermarks that move the horizon.
fn log() -> Vec<Vec<u8>> {
    vec![
        txn(1, 0, &[1]),    // 1 commit
        txn(2, 0, &[1]),    // 2 abort (1 wrote row 1 after snapshot 0)
        txn(2, 1, &[2]),    // 3 commit
        watermark(1, 3),    // 4
        watermark(2, 2),    // 5
        watermark(3, 2),    // 6: horizon 2
        txn(3, 2, &[2]),    // 7 abort (3)
        txn(1, 3, &[1, 3]), // 8 commit
        watermark(3, 1),    // 9: watermarks never go back
        txn(2, 8, &[3]),    // 10 commit
    ]
}

#[test]
fn retained_entries_are_those_above_the_horizon() {
    let (m, mut rx) = machine();
    let mut retained = Vec::new();
    for (i, payload) in log().iter().enumerate() {
        m.apply(i as u64 + 1, payload);
        retained.push(m.retained());
    }
    // Horizon 0 until entry 6 (all three members reported), then 2: entries 1 and 2 go.
    assert_eq!(retained, vec![1, 2, 3, 4, 5, 4, 5, 6, 7, 8]);
    let verdicts: Vec<Verdict> = drain(&mut rx).into_iter().map(|(_, v)| v).collect();
    assert_eq!(verdicts[1], Verdict::Abort { conflict_index: 1 });
    assert_eq!(verdicts[6], Verdict::Abort { conflict_index: 3 });
}

#[test]
fn a_restored_machine_resends_retained_entries_and_goes_on_identically() {
    let entries = log();
    for cut in 0..=entries.len() {
        let (a, mut rx_a) = machine();
        for (i, p) in entries[..cut].iter().enumerate() {
            a.apply(i as u64 + 1, p);
        }
        let sent = drain(&mut rx_a);
        let snap = a.snapshot();

        let (b, mut rx_b) = machine();
        b.restore(cut as u64, &snap);
        assert_eq!(b.snapshot(), snap, "cut {cut}: canonical bytes after restore");
        let resent = drain(&mut rx_b);
        let (notice, rest) = resent.split_first().expect("restore notice");
        let horizon = match notice {
            (u64::MAX, Verdict::Abort { conflict_index }) => *conflict_index,
            other => panic!("cut {cut}: first message {other:?}"),
        };
        let above: Vec<(u64, Verdict)> = sent.into_iter().filter(|&(i, _)| i > horizon).collect();
        assert_eq!(
            rest,
            above.as_slice(),
            "cut {cut}: retained entries with their verdicts"
        );

        // Both go on with the rest of the log (and more) and agree on every verdict.
        let more = [txn(3, 10, &[3]), txn(1, 10, &[4]), watermark(1, 11)];
        for (i, p) in entries[cut..].iter().chain(&more).enumerate() {
            let index = (cut + i) as u64 + 1;
            assert_eq!(a.apply(index, p), b.apply(index, p), "cut {cut}, entry {index}");
        }
        assert_eq!(a.snapshot(), b.snapshot(), "cut {cut}: same state at the end");
    }
}

#[test]
fn unreadable_snapshots_are_reported_to_the_applier() {
    let (a, _) = machine();
    a.apply(1, &txn(1, 0, &[1]));
    let good = a.snapshot();
    let cases: [(&str, Vec<u8>); 3] = [
        ("empty", vec![]),
        ("other version", [vec![9], good[1..].to_vec()].concat()),
        ("truncated", good[..good.len() - 3].to_vec()),
    ];
    for (name, bytes) in cases {
        let (b, mut rx) = machine();
        b.restore(1, &bytes);
        assert_eq!(
            drain(&mut rx),
            vec![(
                u64::MAX,
                Verdict::Abort {
                    conflict_index: u64::MAX
                }
            )],
            "{name}"
        );
    }
}

#[test]
fn flow_control_sees_the_slowest_fresh_report_of_another_member() {
    let (m, _rx) = machine();
    assert_eq!(m.slowest_report(1, Duration::from_secs(5)), None, "nobody reported yet");
    let reports = [watermark(1, 3), watermark(2, 7), watermark(3, 5), watermark(3, 4)];
    for (i, p) in reports.iter().enumerate() {
        m.apply(i as u64 + 10, p);
    }
    // Member 3's watermark never goes back; member 1 (asking) is left out.
    assert_eq!(m.slowest_report(1, Duration::from_secs(5)), Some(5));
    assert_eq!(m.slowest_report(3, Duration::from_secs(5)), Some(3));
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        m.slowest_report(1, Duration::from_millis(10)),
        None,
        "stale reports: away"
    );
}

/// An encoded transaction that wrote rows of db.t it cannot name (a wide write).
fn wide_txn(origin: u64, snapshot: u64) -> Vec<u8> {
    txn::encode(&Entry::Txn(Txn {
        origin,
        trx_id: snapshot,
        snapshot,
        write_set: vec![],
        tables: vec![TableName::new("db", "t")],
        wide: vec![TableName::new("db", "t")],
        fde: vec![],
        events: vec![],
    }))
}

#[test]
fn wide_marks_survive_a_snapshot() {
    let (a, _rx_a) = machine();
    assert_eq!(decode_verdict(&a.apply(1, &txn(1, 0, &[1]))), Some(Verdict::Commit));
    assert_eq!(decode_verdict(&a.apply(2, &wide_txn(2, 1))), Some(Verdict::Commit));
    let (b, _rx_b) = machine();
    b.restore(2, &a.snapshot());
    assert_eq!(b.snapshot(), a.snapshot());
    // Any row of db.t, written from a snapshot older than the wide write, conflicts with it.
    for (index, payload) in [(3, txn(3, 1, &[7])), (4, wide_txn(3, 0)), (5, txn(3, 2, &[7]))] {
        let (va, vb) = (a.apply(index, &payload), b.apply(index, &payload));
        assert_eq!(va, vb, "entry {index}");
        let want = match index {
            3 => Verdict::Abort { conflict_index: 2 },
            4 => Verdict::Abort { conflict_index: 2 },
            _ => Verdict::Commit,
        };
        assert_eq!(decode_verdict(&va), Some(want), "entry {index}");
    }
}

#[test]
fn retained_entries_keep_their_row_events() {
    let (a, _rx_a) = machine();
    let payloads = [txn(1, 0, &[1, 2]), txn(2, 1, &[3]), wide_txn(3, 2)];
    for (i, p) in payloads.iter().enumerate() {
        a.apply(i as u64 + 1, p);
    }
    let (b, mut rx_b) = machine();
    b.restore(3, &a.snapshot());
    let mut resent = Vec::new();
    while let Ok(f) = rx_b.try_recv() {
        if let Feed::Entry(c) = f {
            resent.push(c.entry);
        }
    }
    let want: Vec<Entry> = payloads.iter().map(|p| txn::decode(p).unwrap()).collect();
    assert_eq!(resent, want);
    let Entry::Txn(t) = &resent[0] else {
        panic!("not a txn");
    };
    assert_eq!(t.fde, vec![0xfd; 100]);
    assert_eq!(t.events.len(), 2);
    assert_eq!(&t.events[1][19..], &2u64.to_le_bytes());
}

#[test]
fn an_invalid_entry_is_aborted_everywhere() {
    let (m, mut rx) = machine();
    let mut bad = txn::encode(&Entry::Txn(Txn {
        origin: 1,
        trx_id: 1,
        snapshot: 0,
        write_set: vec![],
        tables: vec![],
        wide: vec![],
        fde: vec![1],
        events: vec![vec![0; 19]],
    }));
    // Drop the format description's byte and empty it: events without a format description.
    let at = bad.len() - 1 - 19 - 1 - 1 - 1;
    assert_eq!(&bad[at..at + 2], &[1, 1], "fde length and byte");
    bad.splice(at..at + 2, [0]);
    assert!(matches!(txn::decode(&bad), Err(DecodeError::Invalid(_))));
    assert_eq!(
        decode_verdict(&m.apply(1, &bad)),
        Some(Verdict::Abort { conflict_index: 0 })
    );
    assert!(rx.try_recv().is_err(), "nothing reaches the applier");
}

/// The retention limit: with members 2 and 3 silent (horizon 0), entries beyond the byte
/// limit are dropped from the front; a restore from the snapshot tells the applier it needs
/// everything up to the last dropped entry, and feeds only what is kept. Verdicts are those
/// of an unlimited machine.
#[test]
fn retention_limit_drops_the_oldest_entries_and_restores_say_so() {
    let entry_len = txn(1, 0, &[1]).len() as u64;
    // (limit in entries, entries kept, last dropped)
    let cases: &[(u64, usize, u64)] = &[(100, 10, 0), (10, 10, 0), (4, 4, 6), (1, 1, 9)];
    for &(limit, kept, dropped) in cases {
        let (unlimited, mut rx_u) = machine();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let m = CertifyingMachine::new(&[1, 2, 3], tx).with_retention(limit * entry_len);
        for i in 1..=10u64 {
            let p = txn(1, i - 1, &[i]);
            assert_eq!(m.apply(i, &p), unlimited.apply(i, &p), "limit {limit}, entry {i}");
        }
        assert_eq!(drain(&mut rx), drain(&mut rx_u));
        assert_eq!(m.retained(), kept, "limit {limit}");
        assert_eq!(m.retention().1, dropped, "limit {limit}");
        let snap = m.snapshot();
        let (tx2, mut rx2) = mpsc::unbounded_channel();
        let restored = CertifyingMachine::new(&[1, 2, 3], tx2).with_retention(limit * entry_len);
        restored.restore(10, &snap);
        let fed = drain(&mut rx2);
        assert_eq!(
            fed[0],
            (
                u64::MAX,
                Verdict::Abort {
                    conflict_index: dropped
                }
            ),
            "limit {limit}"
        );
        let indexes: Vec<u64> = fed[1..].iter().map(|f| f.0).collect();
        assert_eq!(indexes, (dropped + 1..=10).collect::<Vec<_>>(), "limit {limit}");
        assert_eq!(restored.retention(), m.retention());
    }
}
