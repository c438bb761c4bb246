//! Byte fixtures for the response state machine: each case is a command kind, the EOF mode,
//! and a sequence of server payloads; the machine must finish exactly at the last one.

use super::*;

fn ok(status: u16) -> Vec<u8> {
    let mut v = vec![0x00, 0x01, 0x00];
    v.extend_from_slice(&status.to_le_bytes());
    v.extend_from_slice(&[0, 0]);
    v
}
fn ok_fe(status: u16) -> Vec<u8> {
    let mut v = ok(status);
    v[0] = 0xFE;
    v
}
fn eof(status: u16) -> Vec<u8> {
    let mut v = vec![0xFE, 0, 0];
    v.extend_from_slice(&status.to_le_bytes());
    v
}
fn err() -> Vec<u8> {
    b"\xff\x7a\x04#42S02Table 'x' doesn't exist".to_vec()
}
fn coldef() -> Vec<u8> {
    b"\x03def\x00\x00\x00\x011\x00\x0c\x3f\x00\x01\x00\x00\x00\x08\x81\x00\x00\x00\x00".to_vec()
}
fn row(s: &[u8]) -> Vec<u8> {
    let mut v = vec![s.len() as u8];
    v.extend_from_slice(s);
    v
}

/// Feeds every payload; all but the last must ask for more.
fn run(expect: Expect, deprecate_eof: bool, packets: &[Vec<u8>]) -> Outcome {
    let mut st = ResponseState::new(expect, deprecate_eof);
    for (i, p) in packets.iter().enumerate() {
        let step = st.feed(p, p.len()).unwrap();
        let last = i + 1 == packets.len();
        assert_eq!(step == Step::Done, last, "packet {i} of {packets:?}: {step:?}");
    }
    st.outcome
}

const MORE: u16 = STATUS_MORE_RESULTS;

#[test]
fn query_responses() {
    let one_col = vec![1u8];
    let cases: Vec<(&str, bool, Vec<Vec<u8>>, usize)> = vec![
        ("ok", false, vec![ok(2)], 0),
        ("err", true, vec![err()], 0),
        (
            "rows classic",
            false,
            vec![one_col.clone(), coldef(), eof(2), row(b"1"), row(b"2"), eof(2)],
            1,
        ),
        (
            "rows deprecate",
            true,
            vec![one_col.clone(), coldef(), row(b"1"), ok_fe(2)],
            1,
        ),
        (
            "empty set deprecate",
            true,
            vec![one_col.clone(), coldef(), ok_fe(2)],
            1,
        ),
        (
            "err mid rows",
            false,
            vec![one_col.clone(), coldef(), eof(2), row(b"1"), err()],
            0,
        ),
        (
            "multi results",
            true,
            vec![
                one_col.clone(),
                coldef(),
                row(b"1"),
                ok_fe(2 | MORE),
                ok(2 | MORE),
                one_col.clone(),
                coldef(),
                ok_fe(2),
            ],
            2,
        ),
        ("multi then error", false, vec![ok(MORE), err()], 0),
        // A text row whose first column is NULL starts with 0xFB, and a long string can begin
        // with 0xFE: neither is a terminator in classic mode.
        (
            "null and fe rows",
            false,
            vec![
                one_col.clone(),
                coldef(),
                eof(0),
                vec![0xFB],
                {
                    let mut r = vec![0xFE, 9, 0, 0, 0, 0, 0, 0, 0];
                    r.extend_from_slice(b"123456789");
                    r
                },
                eof(0),
            ],
            1,
        ),
    ];
    for (name, dep, packets, sets) in cases {
        let out = run(Expect::QueryResult, dep, &packets);
        assert_eq!(out.result_sets, sets, "{name}");
    }
}

#[test]
fn terminator_rule_depends_on_length() {
    // With DEPRECATE_EOF a 0xFE packet shorter than 0xFFFFFF ends rows; a first chunk of a
    // split row (length 0xFFFFFF) does not.
    let mut st = ResponseState::new(Expect::QueryResult, true);
    assert_eq!(st.feed(&[1], 1), Ok(Step::More));
    assert_eq!(st.feed(&coldef(), 20), Ok(Step::More));
    assert_eq!(st.feed(&[0xFE, 0, 0, 0], MAX_CHUNK), Ok(Step::More));
    assert_eq!(st.feed(&ok_fe(0), 7), Ok(Step::Done));
}

#[test]
fn error_fields_are_parsed() {
    let out = run(Expect::QueryResult, true, &[err()]);
    assert_eq!(out.error, Some((1146, "Table 'x' doesn't exist".to_string())));
}

#[test]
fn ok_fields_are_parsed() {
    let p = [0x00, 0xFC, 0x10, 0x27, 0x05, 0x03, 0x00, 0x02, 0x00];
    assert_eq!(
        parse_ok(&p),
        Some(OkInfo {
            affected_rows: 10000,
            last_insert_id: 5,
            status: 3,
            warnings: 2,
            unchanged: 0,
            duplicates: 0,
        })
    );
    assert_eq!(parse_ok(&[0x00, 0x01]), None);
    let mut upd = vec![0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00];
    upd.extend_from_slice(b"(Rows matched: 3  Changed: 1  Warnings: 0");
    upd[7] = 40; // lenenc length of the info text (session tracking form)
    let ok = parse_ok(&upd).unwrap();
    assert_eq!((ok.affected_rows, ok.unchanged, ok.duplicates), (1, 2, 0));
    let mut ins = vec![0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00];
    ins.extend_from_slice(b"Records: 4  Duplicates: 2  Warnings: 0");
    let ok = parse_ok(&ins).unwrap();
    assert_eq!((ok.unchanged, ok.duplicates), (0, 2));
}

#[test]
fn local_infile_request_is_reported() {
    let mut st = ResponseState::new(Expect::QueryResult, false);
    assert_eq!(st.feed(b"\xfb/tmp/data.csv", 14), Ok(Step::LocalInfile));
    // After the file is sent the server answers with an OK for the same statement.
    assert_eq!(st.feed(&ok(2), 7), Ok(Step::Done));
}

#[test]
fn prepare_responses() {
    let prep = |cols: u16, params: u16| {
        let mut v = vec![0x00, 7, 0, 0, 0];
        v.extend_from_slice(&cols.to_le_bytes());
        v.extend_from_slice(&params.to_le_bytes());
        v.extend_from_slice(&[0, 0, 0]);
        v
    };
    // (deprecate_eof, server packets, (columns, params))
    type Case = (bool, Vec<Vec<u8>>, (u16, u16));
    let cases: Vec<Case> = vec![
        (false, vec![prep(0, 0)], (0, 0)),
        (
            false,
            vec![prep(1, 2), coldef(), coldef(), eof(0), coldef(), eof(0)],
            (1, 2),
        ),
        (true, vec![prep(1, 2), coldef(), coldef(), coldef()], (1, 2)),
        (false, vec![prep(2, 0), coldef(), coldef(), eof(0)], (2, 0)),
        (true, vec![prep(0, 1), coldef()], (0, 1)),
        (true, vec![err()], (0, 0)),
    ];
    for (dep, packets, (cols, params)) in cases {
        let out = run(Expect::Prepare, dep, &packets);
        if let Some((id, c, p)) = out.prepared {
            assert_eq!((id, c, p), (7, cols, params));
        } else {
            assert!(out.error.is_some());
        }
    }
}

#[test]
fn cursor_execute_stops_after_metadata() {
    let out = run(
        Expect::QueryResult,
        false,
        &[vec![1], coldef(), eof(STATUS_CURSOR_EXISTS)],
    );
    assert_eq!(out.result_sets, 1);
    let fetch = run(Expect::UntilTerminator, false, &[vec![0, 0, 1], eof(0x80)]);
    assert_eq!(fetch.status, Some(0x80));
}

/// A stored program with an open cursor of its own (`FOR rec IN (SELECT ..) DO SELECT ..`)
/// leaks CURSOR_EXISTS into the status of the result sets it sends; their rows still follow
/// (mysql-test `main.sp-cursor`, `main.ctype_utf8_uca` hung through the proxy).
#[test]
fn stored_program_cursor_flag_is_not_a_protocol_cursor() {
    let flags = STATUS_CURSOR_EXISTS | MORE | 0x22;
    let out = run(
        Expect::QueryResult,
        false,
        &[
            vec![1],
            coldef(),
            eof(flags),
            row(b"1"),
            eof(flags),
            vec![1],
            coldef(),
            eof(flags),
            row(b"2"),
            eof(flags),
            ok(0x22),
        ],
    );
    assert_eq!(out.result_sets, 2);
    assert_eq!(out.status, Some(0x22));
}

#[test]
fn field_list_and_single_packets() {
    run(Expect::UntilTerminator, false, &[coldef(), coldef(), eof(0)]);
    run(Expect::UntilTerminator, true, &[coldef(), ok_fe(0)]);
    run(Expect::OkOrErr, false, &[ok(0)]);
    run(Expect::OkOrErr, false, &[eof(0)]);
    run(Expect::Opaque, false, &[b"Uptime: 5  Threads: 1".to_vec()]);
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bad in [vec![], vec![0x00], vec![0xFC, 0x01]] {
        let mut st = ResponseState::new(Expect::QueryResult, false);
        assert!(st.feed(&bad, bad.len()).is_err(), "{bad:?}");
    }
    let mut st = ResponseState::new(Expect::OkOrErr, false);
    assert!(st.feed(&[0x05], 1).is_err());
    let mut st = ResponseState::new(Expect::Prepare, false);
    assert!(st.feed(&[0x00, 1, 2], 3).is_err());
}
