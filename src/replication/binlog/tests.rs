//! The assembler and event parsers over real MariaDB 10.11 streams (`fixtures.rs`), and over
//! truncated and garbled copies of them.

use super::event::{checksum_ok, gtid_flags, types, GtidEvent, Header, Query, Rotate, XaPrepare};
use super::fixtures::*;
use super::*;

fn feed(a: &mut Assembler, events: &[&str]) -> Vec<Assembled> {
    events
        .iter()
        .filter_map(|e| a.push(&unhex(e)).expect("fixture event accepted"))
        .collect()
}

fn fde() -> FormatDescription {
    FormatDescription::parse(&unhex(FDE)).unwrap()
}

fn xid(gtrid: &[u8], bqual: &[u8], format_id: u32) -> Xid {
    Xid {
        format_id,
        gtrid: gtrid.to_vec(),
        bqual: bqual.to_vec(),
    }
}

fn gtid(seq: u64) -> Gtid {
    Gtid {
        domain: 0,
        server: 1,
        seq,
    }
}

fn pos(p: u64) -> Position {
    ("bin.000001".to_string(), p)
}

#[test]
fn format_description_declares_crc32() {
    let f = fde();
    assert!(f.checksum);
    assert!(f.server_version.starts_with("10.11.19-MariaDB"), "{}", f.server_version);
    assert_eq!(f.post_header_len(types::QUERY), Some(13));
    assert_eq!(f.post_header_len(types::TABLE_MAP), Some(8));
    assert_eq!(f.post_header_len(types::WRITE_ROWS_V1), Some(8));
    assert_eq!(f.raw(), unhex(FDE).as_slice());
    assert!(STREAM_TXNS.iter().all(|e| checksum_ok(&unhex(e))));
}

#[test]
fn stream_start_and_ddl() {
    let mut a = Assembler::new();
    let rotate = Rotate::parse(&unhex(STREAM_START[0]), None).unwrap();
    assert_eq!((rotate.file.as_str(), rotate.position), ("bin.000001", 4));
    let out = feed(&mut a, STREAM_START);
    assert_eq!(
        out,
        vec![Assembled::Plain {
            gtid: gtid(1),
            events: vec![],
            queries: vec!["CREATE DATABASE fx".into()],
            thread_id: Some(6),
            end_pos: pos(0x1bf),
        }]
    );
    assert_eq!(a.fde_raw(), Some(unhex(FDE).as_slice()));
    assert_eq!(a.position(), pos(0x1bf));
    assert!(!a.in_group());
}

/// What each group of `STREAM_TXNS` assembles to: (variant, gtid seq, xid, row events,
/// queries, end position).
#[test]
fn xa_prepare_commit_rollback_and_plain_transactions() {
    let mut a = Assembler::new();
    feed(&mut a, STREAM_START);
    let out = feed(&mut a, STREAM_TXNS);
    let x1 = xid(b"x1", b"", 1);
    let xb = xid(&[0x01, 0xff], b"bq", 7);
    let rows = |types_: &[u8]| -> Vec<u8> { types_.to_vec() };
    type Want = (&'static str, u64, Option<Xid>, Vec<u8>, Vec<&'static str>, u64);
    let want: Vec<Want> = vec![
        ("prepared", 14, Some(x1.clone()), rows(&[19, 23]), vec![], 4101),
        ("commit", 15, Some(x1), vec![], vec![], 4233),
        ("prepared", 16, Some(xb.clone()), rows(&[19, 24]), vec![], 4598),
        ("rollback", 17, Some(xb), vec![], vec![], 4738),
        ("plain", 18, None, rows(&[19, 23]), vec![], 4985),
        ("plain", 19, None, rows(&[19, 23]), vec![], 5236),
        ("plain", 20, None, rows(&[19, 24, 19, 25]), vec![], 5659),
        (
            "plain",
            21,
            None,
            vec![],
            vec!["CREATE TABLE t_ddl (id INT PRIMARY KEY)"],
            5814,
        ),
    ];
    assert_eq!(out.len(), want.len(), "{out:#?}");
    let kinds = |evs: &[Vec<u8>]| evs.iter().map(|e| e[4]).collect::<Vec<u8>>();
    for (got, (kind, seq, x, evs, queries, end)) in out.iter().zip(want) {
        let queries: Vec<String> = queries.into_iter().map(String::from).collect();
        match got {
            Assembled::Prepared {
                xid,
                gtid: g,
                events,
                queries: q,
                end_pos,
                ..
            } => {
                assert_eq!(kind, "prepared");
                assert_eq!(
                    (Some(xid.clone()), *g, kinds(events), q, end_pos),
                    (x, gtid(seq), evs, &queries, &pos(end))
                );
                // Exactly the bytes received, checksums included.
                for e in events {
                    assert!(STREAM_TXNS.contains(&unhex_back(e).as_str()));
                }
            }
            Assembled::XaCompleted {
                xid,
                commit,
                gtid: g,
                end_pos,
            } => {
                assert_eq!(kind, if *commit { "commit" } else { "rollback" });
                assert_eq!((Some(xid.clone()), *g, end_pos), (x, gtid(seq), &pos(end)));
            }
            Assembled::Plain {
                gtid: g,
                events,
                queries: q,
                end_pos,
                ..
            } => {
                assert_eq!(kind, "plain");
                assert_eq!((*g, kinds(events), q, end_pos), (gtid(seq), evs, &queries, &pos(end)));
            }
        }
    }
    assert_eq!(a.position(), pos(5814));
}

fn unhex_back(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn xid_sql_form_matches_the_servers() {
    assert_eq!(xid(b"x1", b"", 1).to_sql(), "X'7831',X'',1");
    assert_eq!(xid(&[0x01, 0xff], b"bq", 7).to_sql(), "X'01ff',X'6271',7");
    // The server prints the same form in the group's own statements.
    let f = fde();
    let texts: Vec<String> = STREAM_TXNS
        .iter()
        .map(|e| unhex(e))
        .filter(|e| e[4] == types::QUERY)
        .map(|e| Query::parse(&f, &e).unwrap().query)
        .collect();
    assert!(texts.contains(&"XA END X'7831',X'',1".to_string()), "{texts:?}");
    assert!(
        texts.contains(&"XA ROLLBACK X'01ff',X'6271',7".to_string()),
        "{texts:?}"
    );
}

/// flags2 and the xid of every GTID event in the fixtures.
#[test]
fn gtid_event_layout() {
    use gtid_flags::*;
    let f = fde();
    let all: Vec<GtidEvent> = [STREAM_START, STREAM_TXNS, GROUP_COMMIT]
        .concat()
        .iter()
        .map(|e| unhex(e))
        .filter(|e| e[4] == types::GTID)
        .map(|e| GtidEvent::parse(&f, &e).unwrap())
        .collect();
    type Summary = (u64, u8, Option<u64>, Option<Vec<u8>>);
    let summary: Vec<Summary> = all
        .iter()
        .map(|g| {
            (
                g.gtid.seq,
                g.flags2,
                g.commit_id,
                g.xid.as_ref().map(|x| x.gtrid.clone()),
            )
        })
        .collect();
    let ddl = FL_DDL | FL_ALLOW_PARALLEL | FL_STANDALONE;
    let prepared = FL_PREPARED_XA | FL_ALLOW_PARALLEL | FL_TRANSACTIONAL;
    let completed = FL_COMPLETED_XA | FL_ALLOW_PARALLEL | FL_TRANSACTIONAL | FL_STANDALONE;
    let plain = FL_TRANSACTIONAL | FL_ALLOW_PARALLEL;
    let x = |s: &[u8]| Some(s.to_vec());
    assert_eq!(
        summary,
        vec![
            (1, ddl, None, None),
            (14, prepared, None, x(b"x1")),
            (15, completed, None, x(b"x1")),
            (16, prepared, None, x(&[1, 0xff])),
            (17, completed, None, x(&[1, 0xff])),
            (18, plain, None, None),
            (19, plain, None, None),
            (20, plain, None, None),
            (21, ddl, None, None),
            (71, prepared | FL_GROUP_COMMIT_ID, Some(432), x(b"gc1")),
            (72, prepared | FL_GROUP_COMMIT_ID, Some(432), x(b"gc2")),
            (73, completed | FL_GROUP_COMMIT_ID, Some(439), x(b"gc2")),
            (74, completed | FL_GROUP_COMMIT_ID, Some(439), x(b"gc1")),
            (75, plain | FL_GROUP_COMMIT_ID, Some(443), None),
            (76, plain | FL_GROUP_COMMIT_ID, Some(443), None),
        ]
    );
    assert_eq!(prepared, 0x4c);
    assert_eq!(completed, 0x8d);
    assert_eq!(ddl, 0x29);
}

#[test]
fn group_commit_ids_do_not_hide_the_xid() {
    let mut a = Assembler::new();
    feed(&mut a, STREAM_START);
    let out = feed(&mut a, GROUP_COMMIT);
    let shape: Vec<(&str, u64)> = out
        .iter()
        .map(|o| match o {
            Assembled::Prepared { gtid, .. } => ("prepared", gtid.seq),
            Assembled::XaCompleted { gtid, commit: true, .. } => ("commit", gtid.seq),
            Assembled::XaCompleted { gtid, .. } => ("rollback", gtid.seq),
            Assembled::Plain { gtid, .. } => ("plain", gtid.seq),
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            ("prepared", 71),
            ("prepared", 72),
            ("commit", 73),
            ("commit", 74),
            ("plain", 75),
            ("plain", 76)
        ]
    );
}

/// A savepoint rolled back to is cut from the group by the server; SAVEPOINT markers are not
/// statements the caller must refuse.
#[test]
fn savepoints_inside_a_prepared_group() {
    let mut a = Assembler::new();
    feed(&mut a, STREAM_START);
    let out = feed(&mut a, SAVEPOINT);
    let Assembled::Prepared {
        xid: x,
        events,
        queries,
        ..
    } = &out[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!(x.gtrid, b"sp");
    assert_eq!(events.iter().map(|e| e[4]).collect::<Vec<_>>(), vec![19, 23, 19, 23]);
    assert!(queries.is_empty(), "{queries:?}");
    assert!(matches!(out[1], Assembled::XaCompleted { commit: true, .. }));
}

/// A dump started mid-file: the artificial Rotate names the start, the FDE comes with
/// log_pos 0, and positions follow the real events.
#[test]
fn positions_from_a_dump_started_mid_file() {
    let mut a = Assembler::new();
    let evs: Vec<Vec<u8>> = MID_START.iter().map(|e| unhex(e)).collect();
    assert!(Header::parse(&evs[0]).unwrap().is_artificial());
    assert_eq!(Header::parse(&evs[1]).unwrap().log_pos, 0);
    a.push(&evs[0]).unwrap();
    a.push(&evs[1]).unwrap();
    assert_eq!(a.position(), pos(3727));
    a.push(&evs[2]).unwrap(); // the GTID event
    assert!(a.in_group());
    assert_eq!(a.position(), pos(3773));
    assert_eq!(a.resume_position(), pos(3727));
    let mut out = None;
    for e in &evs[3..] {
        out = a.push(e).unwrap().or(out);
    }
    let Some(Assembled::Prepared { end_pos, events, .. }) = out else {
        panic!("{out:?}")
    };
    assert_eq!(end_pos, pos(4101));
    assert_eq!(
        events.len(),
        2,
        "no Annotate_rows without the dump flag, none kept with it"
    );
    assert_eq!(a.resume_position(), pos(4101));
}

/// A heartbeat says the server sent everything up to its position: it moves the position
/// between groups (in the same file), never inside one.
/// A file written without checksums, then a switch to one with them: each event is read
/// under the FDE of its file, the artificial Rotate before the first FDE by its value.
#[test]
fn checksums_follow_each_files_format_description() {
    let mut a = Assembler::new();
    let evs: Vec<Vec<u8>> = ROTATION.iter().map(|e| unhex(e)).collect();
    let mut out = Vec::new();
    let mut checksums = Vec::new();
    for e in &evs {
        out.extend(a.push(e).unwrap());
        if e[4] == types::FORMAT_DESCRIPTION {
            checksums.push(a.fde().unwrap().checksum);
        }
    }
    assert_eq!(checksums, vec![false, true]);
    assert!(checksum_ok(&evs[0]) && !checksum_ok(&evs[12]) && !checksum_ok(&evs[13]));
    let Assembled::Prepared {
        xid: x,
        gtid: g,
        events,
        end_pos,
        ..
    } = &out[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!((x, g.seq, events.len()), (&xid(b"nc", b"", 1), 77, 2));
    assert_eq!(end_pos, &("bin.000002".to_string(), 0x29d));
    assert!(matches!(&out[1], Assembled::XaCompleted { commit: true, gtid, .. } if gtid.seq == 78));
    assert_eq!(out.len(), 2);
    let last = Header::parse(evs.last().unwrap()).unwrap().log_pos;
    assert_eq!(a.position(), ("bin.000003".to_string(), u64::from(last)));
    // Without checksums, the body is everything after the header.
    let f = FormatDescription::parse(&evs[1]).unwrap();
    assert_eq!(f.without_checksum(&evs[6]).unwrap(), evs[6].as_slice());
    assert_eq!(
        fde().without_checksum(&unhex(STREAM_TXNS[2])).unwrap().len(),
        unhex(STREAM_TXNS[2]).len() - 4
    );
}

#[test]
fn heartbeats_are_consumed_anywhere() {
    let mut a = Assembler::new();
    feed(&mut a, STREAM_START);
    let hb = unhex(HEARTBEAT);
    let mut inside = a.clone();
    assert_eq!(a.push(&hb), Ok(None));
    assert_eq!(a.position(), pos(19504));
    inside.push(&unhex(STREAM_TXNS[0])).unwrap();
    assert_eq!(inside.push(&hb), Ok(None));
    assert!(inside.in_group());
    assert_eq!(inside.position(), pos(3773));
    let mut elsewhere = Assembler::new();
    feed(&mut elsewhere, &MID_START[..2]);
    let mut hb2 = hb.clone();
    hb2[19 + 9] = b'2'; // bin.000002
    fix_crc(&mut hb2);
    assert_eq!(elsewhere.push(&hb2), Ok(None));
    assert_eq!(elsewhere.position(), pos(3727));
}

#[test]
fn xa_prepare_event_layout() {
    let f = fde();
    let prepares: Vec<XaPrepare> = STREAM_TXNS
        .iter()
        .map(|e| unhex(e))
        .filter(|e| e[4] == types::XA_PREPARE)
        .map(|e| XaPrepare::parse(&f, &e).unwrap())
        .collect();
    assert_eq!(
        prepares,
        vec![
            XaPrepare {
                one_phase: false,
                xid: xid(b"x1", b"", 1)
            },
            XaPrepare {
                one_phase: false,
                xid: xid(&[1, 0xff], b"bq", 7)
            },
        ]
    );
}

/// The stream with one event replaced, fed to an assembler that consumed the events before it.
fn push_edited(prefix: &[Vec<u8>], edited: &[u8]) -> Result<Option<Assembled>, BinlogError> {
    let mut a = Assembler::new();
    for e in prefix {
        a.push(e).unwrap();
    }
    a.push(edited)
}

/// The assembler's state before each event of `stream`.
fn states(stream: &[Vec<u8>]) -> Vec<Assembler> {
    let mut a = Assembler::new();
    let mut out = Vec::new();
    for e in stream {
        out.push(a.clone());
        a.push(e).unwrap();
    }
    out
}

fn whole_stream() -> Vec<Vec<u8>> {
    [STREAM_START, STREAM_TXNS, SAVEPOINT]
        .concat()
        .iter()
        .map(|e| unhex(e))
        .collect()
}

/// Every cut of every event, with its size and checksum made consistent so the cut reaches
/// the parsers, and every single-byte change: errors or a different reading, never a panic.
#[test]
fn truncated_and_garbled_events_never_panic() {
    let rotation: Vec<Vec<u8>> = ROTATION.iter().map(|e| unhex(e)).collect();
    for stream in [whole_stream(), rotation] {
        fuzz_stream(&stream);
    }
}

fn fuzz_stream(stream: &[Vec<u8>]) {
    let states = states(stream);
    let checksums: Vec<bool> = states.iter().map(|s| s.fde().is_some_and(|f| f.checksum)).collect();
    for (i, ev) in stream.iter().enumerate() {
        let push = |e: &[u8]| states[i].clone().push(e);
        for cut in 0..ev.len() {
            assert!(push(&ev[..cut]).is_err(), "event {i} cut at {cut}");
            if cut >= 19 + 4 {
                let mut e = ev[..cut].to_vec();
                fix_size(&mut e);
                fix_crc(&mut e);
                let _ = push(&e);
            }
        }
        for at in 0..ev.len() {
            let mut e = ev.clone();
            e[at] ^= 0x5a;
            let r = push(&e);
            // Under an FDE that declares checksums, the checksum catches any change.
            if checksums[i] && ev[4] != types::FORMAT_DESCRIPTION {
                assert!(r.is_err(), "event {i} byte {at}");
            }
            fix_crc(&mut e);
            let _ = push(&e);
        }
    }
}

#[test]
fn specific_errors() {
    let stream = whole_stream();
    let (start, txns) = stream.split_at(STREAM_START.len());
    let edit = |i: usize, f: &dyn Fn(&mut Vec<u8>)| {
        let mut e = txns[i].clone();
        f(&mut e);
        fix_crc(&mut e);
        let mut prefix = start.to_vec();
        prefix.extend_from_slice(&txns[..i]);
        push_edited(&prefix, &e)
    };
    let is = |r: Result<Option<Assembled>, BinlogError>, want: &str| {
        let e = r.expect_err(want);
        assert!(format!("{e:?}").starts_with(want), "{e:?} is not {want}");
    };
    // txns[5] is the XA_PREPARE of 'x1': another xid.
    assert_eq!(txns[5][4], types::XA_PREPARE);
    is(
        edit(5, &|e| {
            let at = e.len() - 4 - 2; // the gtrid "x1" ends the event before its CRC
            e[at] = b'y';
        }),
        "XidMismatch",
    );
    // A compressed rows event (log_bin_compress).
    assert_eq!(txns[3][4], types::WRITE_ROWS_V1);
    is(edit(3, &|e| e[4] = 169), "Unsupported");
    // An unknown event type inside the group.
    is(edit(3, &|e| e[4] = 99), "Unexpected");
    // A GTID event where the group's XA_PREPARE should be.
    is(edit(5, &|e| *e = txns[0].clone()), "Unexpected");
    // No checksum fix: the CRC catches it.
    let mut bad = txns[3].clone();
    bad[30] ^= 1;
    let mut prefix = start.to_vec();
    prefix.extend_from_slice(&txns[..3]);
    is(push_edited(&prefix, &bad), "BadChecksum");
    // Events before any FDE.
    is(Assembler::new().push(&txns[0]), "NoFormatDescription");
    is(Assembler::new().push(&txns[0][..10]), "Truncated");
}

/// After an error the rest of the broken group is skipped without more errors, the next group
/// assembles normally, and the resume position is the broken group's start.
#[test]
fn an_error_discards_the_group_and_recovers_at_the_next() {
    let stream = whole_stream();
    let (start, txns) = stream.split_at(STREAM_START.len());
    let mut a = Assembler::new();
    for e in start {
        a.push(e).unwrap();
    }
    a.push(&txns[0]).unwrap(); // GTID 0-1-14
    let mut bad = txns[3].clone(); // its Write_rows
    bad[4] = 99;
    fix_crc(&mut bad);
    assert!(a.push(&bad).is_err());
    assert!(!a.in_group());
    assert_eq!(a.resume_position(), pos(3727));
    for e in &txns[4..6] {
        assert_eq!(a.push(e), Ok(None), "rest of the broken group skipped");
    }
    let next = txns[6..8].iter().filter_map(|e| a.push(e).unwrap()).next();
    assert!(
        matches!(next, Some(Assembled::XaCompleted { commit: true, .. })),
        "{next:?}"
    );
    assert_eq!(a.resume_position(), pos(4233));
}

#[test]
fn row_events_outside_a_group_are_an_error() {
    let stream = whole_stream();
    let mut a = Assembler::new();
    for e in &stream[..STREAM_START.len()] {
        a.push(e).unwrap();
    }
    let table_map = &stream[STREAM_START.len() + 2];
    assert_eq!(table_map[4], types::TABLE_MAP);
    assert!(matches!(
        a.push(table_map),
        Err(BinlogError::Unexpected { event_type: 19, .. })
    ));
}
