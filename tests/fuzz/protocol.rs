//! Packet framing (`protocol::packet`), length-encoded integers, where a response ends
//! (`protocol::response`), the ERR/OK packets the proxy writes, and COM_STMT_EXECUTE packets.

use bytes::BytesMut;
use grproxy::protocol::command::COM_STMT_EXECUTE;
use grproxy::protocol::err_packet::{err_payload, ok_payload};
use grproxy::protocol::packet::{
    chunk_header, encode_packet, put_lenenc, read_lenenc, shift_seq, take_packet, FrameError, Packet, HEADER_LEN,
    MAX_CHUNK,
};
use grproxy::protocol::response::{
    parse_err, parse_ok, Expect, OkInfo, ResponseState, Step, STATUS_CURSOR_EXISTS, STATUS_MORE_RESULTS,
};
use proptest::prelude::*;

use crate::support::{bytes, config, config_div, mutated};

fn framed(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    encode_packet(seq, payload, &mut b);
    b.to_vec()
}

/// Takes packets off `buf` until it needs more bytes or fails, checking what every framing
/// result promises: payloads within `limit`, raw bytes = headers + payload, and nothing
/// consumed on `Ok(None)` or an error.
fn drain(buf: &mut BytesMut, limit: usize) -> Result<Vec<Packet>, FrameError> {
    let mut out = Vec::new();
    loop {
        let before = buf.len();
        match take_packet(buf, limit) {
            Ok(Some(p)) => {
                assert!(
                    p.payload.len() <= limit,
                    "payload {} over limit {limit}",
                    p.payload.len()
                );
                let chunks = p.payload.len() / MAX_CHUNK + 1;
                assert_eq!(p.raw.len(), p.payload.len() + HEADER_LEN * chunks);
                assert_eq!(before - buf.len(), p.raw.len());
                assert_eq!(p.last_seq, p.seq.wrapping_add(chunks as u8 - 1));
                out.push(p);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                // What the caller must buffer before the packet completes is bounded by the
                // limit: a header that announces more has already been refused.
                if let Some((len, _)) = chunk_header(buf) {
                    assert!(len <= limit, "waiting for a {len}-byte chunk over limit {limit}");
                }
                return Ok(out);
            }
            Err(e) => {
                assert_eq!(buf.len(), before, "an error consumed bytes");
                return Err(e);
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// encode_packet -> take_packet gives the payload back, byte-exact raw bytes included.
    #[test]
    fn frame_round_trip(seq: u8, payload in bytes(600)) {
        let raw = framed(seq, &payload);
        let mut buf = BytesMut::from(&raw[..]);
        let p = take_packet(&mut buf, payload.len()).unwrap().unwrap();
        prop_assert_eq!((p.seq, p.last_seq), (seq, seq));
        prop_assert_eq!(&p.payload[..], &payload[..]);
        prop_assert_eq!(&p.raw[..], &raw[..]);
        prop_assert!(buf.is_empty());
        prop_assert_eq!(Packet::from_payload(seq, payload), p);
    }

    /// A run of packets fed in arbitrary pieces comes out whole, in order, the same as fed at
    /// once.
    #[test]
    fn stream_fed_in_pieces(
        payloads in prop::collection::vec(bytes(80), 1..8),
        cuts in prop::collection::vec(1usize..40, 1..40),
    ) {
        let mut wire = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            wire.extend_from_slice(&framed(i as u8, p));
        }
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut rest = &wire[..];
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            got.extend(drain(&mut buf, 1 << 10).unwrap());
        }
        prop_assert!(buf.is_empty());
        let got: Vec<Vec<u8>> = got.iter().map(|p| p.payload.to_vec()).collect();
        prop_assert_eq!(got, payloads);
    }

    /// Arbitrary bytes, and mutated runs of valid packets, under any limit: no panic, every
    /// promise of `drain` holds.
    #[test]
    fn framing_of_arbitrary_bytes(
        input in prop_oneof![
            bytes(300),
            mutated(prop::collection::vec(bytes(60), 1..5).prop_map(|ps| {
                ps.iter().enumerate().flat_map(|(i, p)| framed(i as u8, p)).collect()
            })),
        ],
        limit in prop_oneof![0usize..300, Just(MAX_CHUNK - 1), Just(MAX_CHUNK), Just(64 << 20)],
    ) {
        let mut buf = BytesMut::from(&input[..]);
        let _ = drain(&mut buf, limit);
    }

    /// A chunk header announcing more than the limit (up to 16 MiB) is refused from the
    /// header alone, before any payload byte arrives.
    #[test]
    fn oversized_header_is_refused_at_once(limit in 0usize..MAX_CHUNK, extra in 1usize..1 << 20, seq: u8) {
        let len = (limit + extra).min(MAX_CHUNK);
        prop_assume!(len > limit);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&(len as u32).to_le_bytes()[..3]);
        buf.extend_from_slice(&[seq]);
        prop_assert_eq!(take_packet(&mut buf, limit), Err(FrameError::TooLarge { size: len, limit }));
    }

    /// Length-encoded integers round-trip; reading arbitrary bytes consumes exactly the
    /// integer's width (1, 3, 4 or 9 bytes) or nothing.
    #[test]
    fn lenenc_round_trip(v: u64, junk in bytes(12)) {
        let mut out = Vec::new();
        put_lenenc(&mut out, v);
        out.extend_from_slice(&junk);
        let mut s = &out[..];
        prop_assert_eq!(read_lenenc(&mut s), Some(v));
        prop_assert_eq!(s, &junk[..]);

        let mut s = &junk[..];
        let got = read_lenenc(&mut s);
        let used = junk.len() - s.len();
        match got {
            Some(_) => prop_assert!(matches!((junk[0], used), (0..=0xFA, 1) | (0xFC, 3) | (0xFD, 4) | (0xFE, 9))),
            None => prop_assert_eq!(used, 0),
        }
    }

    /// Shifting sequence ids and shifting back restores the bytes; only sequence-id bytes
    /// change. On arbitrary bytes (not a whole number of chunks) it does not panic.
    #[test]
    fn shift_seq_is_invertible(
        payloads in prop::collection::vec(bytes(40), 1..5),
        delta: u8,
        junk in bytes(64),
    ) {
        let wire: Vec<u8> = payloads.iter().enumerate().flat_map(|(i, p)| framed(i as u8, p)).collect();
        let raw = bytes::Bytes::from(wire.clone());
        let shifted = shift_seq(&raw, delta);
        prop_assert_eq!(shifted.len(), wire.len());
        let mut pos = 0;
        for (i, p) in payloads.iter().enumerate() {
            prop_assert_eq!(shifted[pos + 3], (i as u8).wrapping_add(delta));
            prop_assert_eq!(&shifted[pos..pos + 3], &wire[pos..pos + 3]);
            prop_assert_eq!(&shifted[pos + 4..pos + 4 + p.len()], &p[..]);
            pos += HEADER_LEN + p.len();
        }
        prop_assert_eq!(&shift_seq(&shifted, delta.wrapping_neg())[..], &wire[..]);
        let _ = shift_seq(&bytes::Bytes::from(junk), delta);
    }

    /// ERR packets the proxy writes read back as written.
    #[test]
    fn err_packet_round_trip(code: u16, state in "[0-9A-Z]{5}", message in "\\PC{0,80}") {
        let p = err_payload(code, &state, &message);
        prop_assert_eq!(parse_err(&p), (code, message));
    }

    /// OK packets, the proxy's and mysqld's (with info text), read back as written.
    #[test]
    fn ok_packet_round_trip(
        affected: u64,
        insert_id: u64,
        status: u16,
        warnings: u16,
        info in prop::option::of((0u64..1 << 40, 0u64..1 << 40, any::<bool>())),
    ) {
        let p = ok_payload(affected, status, warnings);
        let ok = parse_ok(&p).unwrap();
        prop_assert_eq!((ok.affected_rows, ok.last_insert_id, ok.status, ok.warnings), (affected, 0, status, warnings));

        let (payload, want) = ok_packet(affected, insert_id, status, warnings, info);
        prop_assert_eq!(parse_ok(&payload), Some(want));
    }

    /// OK/ERR parsing of arbitrary and mutated packets: no panic.
    #[test]
    fn ok_and_err_of_arbitrary_bytes(
        p in prop_oneof![
            bytes(64),
            mutated(Just(ok_packet(1, 2, 3, 4, Some((5, 3, false))).0)),
            mutated(Just(err_payload(1064, "42000", "You have an error"))),
        ],
    ) {
        let _ = parse_ok(&p);
        let _ = parse_err(&p);
    }

    /// The response tracker, fed arbitrary packets under every kind of command: no panic,
    /// and nothing is accepted after the end.
    #[test]
    fn response_state_of_arbitrary_packets(
        expect in expect(),
        deprecate_eof: bool,
        packets in prop::collection::vec((bytes(24), prop_oneof![0usize..32, Just(MAX_CHUNK)]), 0..24),
    ) {
        let mut state = ResponseState::new(expect, deprecate_eof);
        for (payload, len) in &packets {
            let done = state.is_done();
            match state.feed(payload, *len) {
                Ok(Step::Done) => prop_assert!(state.is_done()),
                Ok(_) => prop_assert!(!state.is_done()),
                Err(_) => {}
            }
            if done {
                prop_assert!(state.feed(payload, *len).is_err());
            }
        }
    }

    /// A well-formed response (OKs, result sets, a final ERR, under either EOF convention)
    /// ends exactly at its last packet, and the tracker reports what it held.
    #[test]
    fn well_formed_query_responses_end_at_their_last_packet(
        deprecate_eof: bool,
        results in prop::collection::vec(result_shape(), 1..5),
        error in prop::option::of((any::<u16>(), "[ -~]{0,30}")),
    ) {
        let mut packets = Vec::new();
        let mut want_oks = Vec::new();
        let mut want_sets = 0;
        let mut last_status = None;
        let n = results.len();
        for (i, r) in results.iter().enumerate() {
            let more = i + 1 < n || error.is_some();
            let status = r.status() & !STATUS_MORE_RESULTS & !STATUS_CURSOR_EXISTS
                | if more { STATUS_MORE_RESULTS } else { 0 };
            last_status = Some(status);
            match r {
                Shape::Ok { affected, insert_id, warnings, .. } => {
                    let (p, ok) = ok_packet(*affected, *insert_id, status, *warnings, None);
                    packets.push(p);
                    want_oks.push(ok);
                }
                Shape::Rows { columns, rows, .. } => {
                    want_sets += 1;
                    packets.extend(result_set(*columns, rows, status, deprecate_eof));
                }
            }
        }
        if let Some((code, msg)) = &error {
            packets.push(err_payload(*code, "HY000", msg));
        }
        let mut state = ResponseState::new(Expect::QueryResult, deprecate_eof);
        for (i, p) in packets.iter().enumerate() {
            let step = state.feed(p, p.len()).unwrap();
            let want = if i + 1 == packets.len() { Step::Done } else { Step::More };
            prop_assert_eq!(step, want, "packet {} of {}: {:?}", i, packets.len(), p);
        }
        let out = &state.outcome;
        prop_assert_eq!(&out.oks, &want_oks);
        prop_assert_eq!(out.result_sets, want_sets);
        prop_assert_eq!(out.error.clone(), error.map(|(c, m)| (c, m)));
        if out.error.is_none() {
            prop_assert_eq!(out.status, last_status);
        }
    }

    /// COM_STMT_PREPARE responses: PREPARE_OK with any parameter and column counts, their
    /// definitions and EOFs, end exactly at the last packet with the statement id and counts.
    #[test]
    fn prepare_responses_end_at_their_last_packet(
        deprecate_eof: bool,
        id: u32,
        columns in 0u16..20,
        params in 0u16..20,
    ) {
        let mut ok = vec![0x00];
        ok.extend_from_slice(&id.to_le_bytes());
        ok.extend_from_slice(&columns.to_le_bytes());
        ok.extend_from_slice(&params.to_le_bytes());
        ok.extend_from_slice(&[0, 0, 0]);
        let mut packets = vec![ok];
        for count in [params, columns] {
            if count > 0 {
                packets.extend((0..count).map(column_def));
                if !deprecate_eof {
                    packets.push(eof(0x0002));
                }
            }
        }
        let mut state = ResponseState::new(Expect::Prepare, deprecate_eof);
        for (i, p) in packets.iter().enumerate() {
            let want = if i + 1 == packets.len() { Step::Done } else { Step::More };
            prop_assert_eq!(state.feed(p, p.len()).unwrap(), want, "packet {}", i);
        }
        prop_assert_eq!(state.outcome.prepared, Some((id, columns, params)));
    }

    /// COM_STMT_EXECUTE: the proxy decodes none of the parameters (it reads only the
    /// statement id, bounds-checked, to route by the prepared text) and relays the packet
    /// byte-exact. Any execute packet, with any parameter types and values, frames and
    /// unframes unchanged; its binary result set (rows start with 0x00, a cursor ends the
    /// response at the column EOF) is tracked to its end.
    #[test]
    fn stmt_execute_packets_relay_unchanged(
        id: u32,
        seq: u8,
        params in prop::collection::vec(param(), 0..12),
        cursor: bool,
        rows in prop::collection::vec(bytes(20), 0..5),
        columns in 1u64..6,
    ) {
        let payload = stmt_execute(id, cursor, &params);
        let raw = framed(seq, &payload);
        let mut buf = BytesMut::from(&raw[..]);
        let p = take_packet(&mut buf, 1 << 20).unwrap().unwrap();
        prop_assert_eq!(&p.raw[..], &raw[..]);
        prop_assert_eq!(p.first(), Some(COM_STMT_EXECUTE));
        let got = p.payload.get(1..5).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        prop_assert_eq!(got, Some(id));

        // Binary protocol result set, classic EOFs (a cursor needs them to be announced).
        let mut packets = Vec::new();
        let mut count = Vec::new();
        put_lenenc(&mut count, columns);
        packets.push(count);
        packets.extend((0..columns as u16).map(column_def));
        packets.push(eof(if cursor { 0x0002 | STATUS_CURSOR_EXISTS } else { 0x0002 }));
        if !cursor {
            for r in &rows {
                let mut row = vec![0x00];
                row.extend_from_slice(r);
                packets.push(row);
            }
            packets.push(eof(0x0002));
        }
        let mut state = ResponseState::new(Expect::QueryResult, false);
        for (i, pk) in packets.iter().enumerate() {
            let want = if i + 1 == packets.len() { Step::Done } else { Step::More };
            prop_assert_eq!(state.feed(pk, pk.len()).unwrap(), want, "packet {}", i);
        }
        prop_assert_eq!(state.outcome.result_sets, 1);
    }
}

proptest! {
    #![proptest_config(config_div(64))]

    /// Payloads around the 16 MiB chunk boundary split into chunks and reassemble; cut at any
    /// point, the packet waits for the rest.
    #[test]
    fn split_packets_round_trip(k in 1usize..3, delta in -2isize..3, seq: u8, fill: u8, cut in 0.0f64..1.0) {
        let size = (k as isize * MAX_CHUNK as isize + delta) as usize;
        let payload = vec![fill; size];
        let raw = framed(seq, &payload);
        let chunks = size / MAX_CHUNK + 1;
        prop_assert_eq!(raw.len(), size + HEADER_LEN * chunks);
        let at = ((raw.len() as f64) * cut) as usize;
        let mut buf = BytesMut::from(&raw[..at]);
        prop_assert_eq!(take_packet(&mut buf, 64 << 20), Ok(None));
        buf.extend_from_slice(&raw[at..]);
        let p = take_packet(&mut buf, 64 << 20).unwrap().unwrap();
        prop_assert!(p.payload[..] == payload[..]);
        prop_assert_eq!(p.last_seq, seq.wrapping_add(chunks as u8 - 1));
        // A limit below the payload refuses it as soon as the headers say so.
        let mut buf = BytesMut::from(&raw[..]);
        let refused = matches!(take_packet(&mut buf, size - 1), Err(FrameError::TooLarge { .. }));
        prop_assert!(refused);
    }
}

/// A continuation chunk that takes the total over the limit is refused from its header.
#[test]
fn oversized_continuation_is_refused_at_its_header() {
    let mut wire = framed(0, &vec![7u8; MAX_CHUNK]);
    wire.truncate(HEADER_LEN + MAX_CHUNK); // first chunk only (the empty second is dropped)
    wire.extend_from_slice(&[0xFF, 0xFF, 0x00, 1]); // next chunk: 64 KiB announced, none sent
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        take_packet(&mut buf, MAX_CHUNK + 10),
        Err(FrameError::TooLarge {
            size: MAX_CHUNK + 0xFFFF,
            limit: MAX_CHUNK + 10
        })
    );
}

fn expect() -> impl Strategy<Value = Expect> {
    prop::sample::select(vec![
        Expect::QueryResult,
        Expect::Prepare,
        Expect::UntilTerminator,
        Expect::OkOrErr,
        Expect::Opaque,
    ])
}

/// An OK packet and what `parse_ok` must read from it. `info` is (matched, changed,
/// duplicates-style) info text.
fn ok_packet(
    affected: u64,
    insert_id: u64,
    status: u16,
    warnings: u16,
    info: Option<(u64, u64, bool)>,
) -> (Vec<u8>, OkInfo) {
    let mut p = vec![0x00];
    put_lenenc(&mut p, affected);
    put_lenenc(&mut p, insert_id);
    p.extend_from_slice(&status.to_le_bytes());
    p.extend_from_slice(&warnings.to_le_bytes());
    let mut want = OkInfo {
        affected_rows: affected,
        last_insert_id: insert_id,
        status,
        warnings,
        ..OkInfo::default()
    };
    match info {
        Some((a, b, false)) => {
            p.extend_from_slice(format!("Rows matched: {a}  Changed: {b}  Warnings: 0").as_bytes());
            want.unchanged = a.saturating_sub(b);
        }
        Some((a, b, true)) => {
            p.extend_from_slice(format!("Records: {a}  Duplicates: {b}  Warnings: 0").as_bytes());
            want.duplicates = b;
        }
        None => {}
    }
    (p, want)
}

fn eof(status: u16) -> Vec<u8> {
    let mut p = vec![0xFE, 0, 0];
    p.extend_from_slice(&status.to_le_bytes());
    p
}

/// A column definition packet (starts with the lenenc "def" catalog, as mysqld's do).
fn column_def(i: u16) -> Vec<u8> {
    let mut p = Vec::new();
    for s in ["def", "db", "t", "t", &format!("c{i}"), &format!("c{i}")] {
        put_lenenc(&mut p, s.len() as u64);
        p.extend_from_slice(s.as_bytes());
    }
    p.extend_from_slice(&[0x0C, 0x21, 0, 0x0B, 0, 0, 0, 0x03, 0, 0, 0, 0, 0]);
    p
}

#[derive(Debug, Clone)]
enum Shape {
    Ok {
        affected: u64,
        insert_id: u64,
        status: u16,
        warnings: u16,
    },
    /// Text rows: each a list of values, `None` for NULL.
    Rows {
        columns: u64,
        rows: Vec<Vec<Option<Vec<u8>>>>,
        status: u16,
    },
}

impl Shape {
    fn status(&self) -> u16 {
        match self {
            Shape::Ok { status, .. } | Shape::Rows { status, .. } => *status,
        }
    }
}

fn result_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        (any::<u64>(), any::<u64>(), any::<u16>(), any::<u16>()).prop_map(|(affected, insert_id, status, warnings)| {
            Shape::Ok {
                affected,
                insert_id,
                status,
                warnings,
            }
        }),
        (1u64..5, any::<u16>())
            .prop_flat_map(|(columns, status)| {
                let row = prop::collection::vec(prop::option::of(bytes(300)), columns as usize);
                (Just(columns), prop::collection::vec(row, 0..4), Just(status))
            })
            .prop_map(|(columns, rows, status)| Shape::Rows { columns, rows, status }),
    ]
}

/// A text-protocol result set: column count, definitions, [EOF], rows, terminator.
fn result_set(columns: u64, rows: &[Vec<Option<Vec<u8>>>], status: u16, deprecate_eof: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut count = Vec::new();
    put_lenenc(&mut count, columns);
    out.push(count);
    out.extend((0..columns as u16).map(column_def));
    if !deprecate_eof {
        out.push(eof(status));
    }
    for row in rows {
        let mut p = Vec::new();
        for v in row {
            match v {
                None => p.push(0xFB),
                Some(v) => {
                    put_lenenc(&mut p, v.len() as u64);
                    p.extend_from_slice(v);
                }
            }
        }
        out.push(p);
    }
    if deprecate_eof {
        let mut ok = vec![0xFE, 0, 0];
        ok.extend_from_slice(&status.to_le_bytes());
        ok.extend_from_slice(&[0, 0]);
        out.push(ok);
    } else {
        out.push(eof(status));
    }
    out
}

/// One bound parameter: its type and its value in the binary protocol (None: NULL).
#[derive(Debug, Clone)]
struct Param {
    ty: u8,
    unsigned: bool,
    value: Option<Vec<u8>>,
}

fn param() -> impl Strategy<Value = Param> {
    let fixed = |ty: u8, n: usize| {
        (any::<bool>(), prop::option::of(prop::collection::vec(any::<u8>(), n)))
            .prop_map(move |(unsigned, value)| Param { ty, unsigned, value })
    };
    let lenenc = |ty: u8| {
        prop::option::of(bytes(300)).prop_map(move |v| Param {
            ty,
            unsigned: false,
            value: v.map(|v| {
                let mut out = Vec::new();
                put_lenenc(&mut out, v.len() as u64);
                out.extend_from_slice(&v);
                out
            }),
        })
    };
    prop_oneof![
        fixed(1, 1),  // TINY
        fixed(2, 2),  // SHORT
        fixed(3, 4),  // LONG
        fixed(8, 8),  // LONGLONG
        fixed(4, 4),  // FLOAT
        fixed(5, 8),  // DOUBLE
        fixed(10, 5), // DATE (length 4 + y/m/d)
        fixed(6, 0),  // NULL
        lenenc(253),  // VAR_STRING
        lenenc(252),  // BLOB
        lenenc(246),  // NEWDECIMAL
    ]
}

/// A COM_STMT_EXECUTE payload: id, flags (cursor type), iteration count, then for the
/// parameters the NULL bitmap, new-params-bound flag, types and values.
fn stmt_execute(id: u32, cursor: bool, params: &[Param]) -> Vec<u8> {
    let mut p = vec![COM_STMT_EXECUTE];
    p.extend_from_slice(&id.to_le_bytes());
    p.push(u8::from(cursor));
    p.extend_from_slice(&1u32.to_le_bytes());
    if params.is_empty() {
        return p;
    }
    let mut nulls = vec![0u8; params.len().div_ceil(8)];
    for (i, prm) in params.iter().enumerate() {
        if prm.value.is_none() {
            nulls[i / 8] |= 1 << (i % 8);
        }
    }
    p.extend_from_slice(&nulls);
    p.push(1);
    for prm in params {
        p.push(prm.ty);
        p.push(if prm.unsigned { 0x80 } else { 0 });
    }
    for v in params.iter().filter_map(|prm| prm.value.as_ref()) {
        p.extend_from_slice(v);
    }
    p
}
