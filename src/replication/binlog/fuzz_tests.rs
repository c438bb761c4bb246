//! Property tests of the binlog decoders (see `docs/fuzzing.md`): every parser on arbitrary
//! and mutated events (size and CRC32 recomputed so the edit reaches the parser), the
//! assembler's promise that one bad event costs exactly one error and the one group it was in,
//! and round trips through test-side encoders of Table_map + Rows, GTID, XA_PREPARE, Query
//! and Rotate events. `tests.rs` holds the exhaustive single-cut / single-byte version over
//! the fixture streams.

use proptest::prelude::*;

use super::event::{
    checksum_ok, gtid_flags, types, GtidEvent, Header, Query, Rotate, XaPrepare, CHECKSUM_LEN, HEADER_LEN,
};
use super::fixtures::*;
use super::rows::{col, ColumnDef, RowsEvent, RowsKind, TableMap};
use super::*;

mod rows_gen;
#[path = "../../../tests/fuzz/support.rs"]
mod support;

use rows_gen::{table_and_rows, Column, TableRows};
use support::{bytes, config, config_div, mutated};

fn fde() -> FormatDescription {
    FormatDescription::parse(&unhex(FDE)).unwrap()
}

/// bin.000002's FDE: binlog_checksum=NONE.
fn fde_without_checksum() -> FormatDescription {
    FormatDescription::parse(&unhex(ROTATION[1])).unwrap()
}

/// Every fixture event.
fn all_events() -> Vec<Vec<u8>> {
    let lists: &[&[&str]] = &[
        STREAM_START,
        STREAM_TXNS,
        GROUP_COMMIT,
        SAVEPOINT,
        MID_START,
        ROTATION,
        LONG_UNIQUE,
        COMP_INSERT,
        COMP_UPDATE,
        CI_INSERT_A,
        PREFIX_INSERT,
        FK_PARENT,
        FK_CHILD,
        FK_CHILD_UPDATE,
        DEC_INSERT,
        TIME_INSERT,
        VIRT_INSERT,
        VIRT_UPDATE,
        ENUM_INSERT,
        FLOAT_INSERT,
        BIN_INSERT,
        INT_INSERT,
        INT_UPDATE_PK,
        INT_DELETE,
        CI_INSERT_UPPER,
    ];
    let mut out: Vec<Vec<u8>> = lists.iter().flat_map(|l| l.iter().map(|e| unhex(e))).collect();
    out.push(unhex(HEARTBEAT));
    out
}

/// The Table_map events of the fixtures, parsed.
fn table_maps() -> Vec<TableMap> {
    let f = fde();
    all_events()
        .iter()
        .filter(|e| e.get(4) == Some(&types::TABLE_MAP))
        .filter_map(|e| TableMap::parse(&f, e).ok())
        .collect()
}

/// A fixture event mutated, then (usually) with its size and CRC32 made consistent again so
/// the mutation gets past the header and checksum checks.
fn mutated_event() -> impl Strategy<Value = Vec<u8>> {
    let events = all_events();
    (mutated(prop::sample::select(events)), any::<bool>(), 0u8..4).prop_map(|(mut e, fix_size_too, fix)| {
        if e.len() >= HEADER_LEN + CHECKSUM_LEN {
            if fix_size_too {
                fix_size(&mut e);
            }
            if fix != 0 {
                fix_crc(&mut e);
            }
        }
        e
    })
}

/// A header of any event type with a consistent size, an arbitrary body, a valid CRC32.
fn arbitrary_event() -> impl Strategy<Value = Vec<u8>> {
    let known = vec![
        types::QUERY,
        types::STOP,
        types::ROTATE,
        types::FORMAT_DESCRIPTION,
        types::XID,
        types::TABLE_MAP,
        types::WRITE_ROWS_V1,
        types::UPDATE_ROWS_V1,
        types::DELETE_ROWS_V1,
        types::INCIDENT,
        types::HEARTBEAT,
        types::WRITE_ROWS_V2,
        types::UPDATE_ROWS_V2,
        types::DELETE_ROWS_V2,
        types::XA_PREPARE,
        types::ANNOTATE_ROWS,
        types::GTID,
        types::GTID_LIST,
        types::QUERY_COMPRESSED,
    ];
    (
        prop_oneof![prop::sample::select(known), any::<u8>()],
        any::<u16>(),
        bytes(200),
    )
        .prop_map(|(t, flags, body)| {
            let mut e = header(t, 0, flags);
            e.extend_from_slice(&body);
            e.extend_from_slice(&[0; CHECKSUM_LEN]);
            fix_size(&mut e);
            fix_crc(&mut e);
            e
        })
}

fn header(event_type: u8, log_pos: u32, flags: u16) -> Vec<u8> {
    let mut e = 0x6b12_39abu32.to_le_bytes().to_vec();
    e.push(event_type);
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&0u32.to_le_bytes());
    e.extend_from_slice(&log_pos.to_le_bytes());
    e.extend_from_slice(&flags.to_le_bytes());
    e
}

/// An event of `event_type` with this post-header and body, under `fde` (size set, CRC32
/// appended when the stream has checksums).
fn build_event(fde: &FormatDescription, event_type: u8, post: &[u8], var: &[u8]) -> Vec<u8> {
    let mut e = header(event_type, 4096, 0);
    e.extend_from_slice(post);
    e.extend_from_slice(var);
    if fde.checksum {
        e.extend_from_slice(&[0; CHECKSUM_LEN]);
    }
    fix_size(&mut e);
    if fde.checksum {
        fix_crc(&mut e);
    }
    e
}

/// Runs every decoder on `raw`; none may panic, and what they decode is no bigger than the
/// event.
fn decode_everything(fde: &FormatDescription, raw: &[u8], maps: &[TableMap]) {
    let _ = Header::parse(raw);
    let _ = checksum_ok(raw);
    let _ = FormatDescription::parse(raw);
    let _ = fde.body(raw);
    let _ = fde.without_checksum(raw);
    let _ = GtidEvent::parse(fde, raw).map(|g| g.xid.map(|x| x.to_sql()));
    let _ = XaPrepare::parse(fde, raw);
    let _ = Query::parse(fde, raw);
    for checksum in [None, Some(true), Some(false)] {
        let _ = Rotate::parse(raw, checksum);
    }
    let own = TableMap::parse(fde, raw).ok();
    if let Some(m) = &own {
        assert!(m.columns.len() <= raw.len());
        for c in &m.columns {
            let _ = (c.real_type(), c.decimal_digits());
        }
    }
    if let Ok(rows) = RowsEvent::parse(fde, raw) {
        assert!(rows.column_count <= 8 * raw.len());
        for map in maps.iter().chain(&own) {
            // A map that matches in id and width decodes the images; no panic either way.
            let mut map = map.clone();
            map.table_id = rows.table_id;
            if let Ok(changes) = rows.rows(&map) {
                assert!(changes.len() <= raw.len());
            }
        }
    }
}

/// Runs `events` through a fresh assembler: the groups it completes, each with the indices
/// of the events that opened and closed it, and the number of errors.
fn assemble(events: &[Vec<u8>]) -> (Vec<(usize, usize, Assembled)>, usize) {
    let mut a = Assembler::new();
    let mut out = Vec::new();
    let mut errors = 0;
    let mut open = None;
    for (i, e) in events.iter().enumerate() {
        let was_open = a.in_group();
        match a.push(e) {
            Ok(Some(g)) => out.push((open.unwrap_or(i), i, g)),
            Ok(None) => {}
            Err(_) => errors += 1,
        }
        open = match (was_open, a.in_group()) {
            (false, true) => Some(i),
            (_, false) => None,
            (true, true) => open,
        };
        let _ = (a.position(), a.resume_position(), a.fde_raw());
    }
    (out, errors)
}

/// The fixture streams as one stream (starting with the artificial Rotate and the FDE).
fn stream() -> Vec<Vec<u8>> {
    [STREAM_START, STREAM_TXNS, GROUP_COMMIT, SAVEPOINT]
        .concat()
        .iter()
        .map(|e| unhex(e))
        .collect()
}

proptest! {
    #![proptest_config(config())]

    /// Every decoder on mutated fixture events, under the CRC32 FDE, the no-checksum FDE and
    /// the mutated event itself taken as an FDE: no panic, bounded output.
    #[test]
    fn decoders_survive_mutated_events(raw in mutated_event()) {
        let maps = table_maps();
        decode_everything(&fde(), &raw, &maps);
        decode_everything(&fde_without_checksum(), &raw, &maps);
        if let Ok(f) = FormatDescription::parse(&raw) {
            decode_everything(&f, &raw, &maps);
        }
    }

    /// Every decoder on events of any type with arbitrary bodies (size and CRC32 valid).
    #[test]
    fn decoders_survive_arbitrary_bodies(raw in arbitrary_event(), junk in bytes(64)) {
        let maps = table_maps();
        decode_everything(&fde(), &raw, &maps);
        decode_everything(&fde_without_checksum(), &raw, &maps);
        decode_everything(&fde(), &junk, &maps);
    }

    /// The assembler fed mutated and arbitrary events in any order after a valid start: no
    /// panic, and its positions stay readable.
    #[test]
    fn assembler_survives_any_events(
        events in prop::collection::vec(prop_oneof![mutated_event(), arbitrary_event()], 0..30),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
    ) {
        let s = stream();
        let mut input: Vec<Vec<u8>> = s[..2].to_vec();
        for (i, e) in events.into_iter().enumerate() {
            input.push(e);
            if let Some(p) = picks.get(i) {
                input.push(s[p.index(s.len())].clone());
            }
        }
        let _ = assemble(&input);
    }

    /// One bad event costs one error and the group it belongs to, nothing else: the
    /// assembler, fed the fixture stream with some events corrupted, yields exactly the groups
    /// of the clean stream that contain none of them.
    #[test]
    fn corruption_costs_only_its_own_group(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), 1u8..), 1..4),
    ) {
        let clean = stream();
        let (groups, errors) = assemble(&clean);
        prop_assert_eq!(errors, 0);
        // Any event after the opening Rotate and FDE, one byte changed: its CRC32 no longer
        // matches (or its header no longer reads), so the assembler must refuse it.
        let mut events = clean.clone();
        let mut corrupt = std::collections::BTreeSet::new();
        for (which, at, mask) in &edits {
            let k = 2 + which.index(clean.len() - 2);
            if corrupt.insert(k) {
                let i = at.index(events[k].len());
                events[k][i] ^= mask;
            }
        }
        let (got, errors) = assemble(&events);
        prop_assert_eq!(errors, corrupt.len());
        let want: Vec<&Assembled> = groups
            .iter()
            .filter(|(open, close, _)| !corrupt.iter().any(|k| (*open..=*close).contains(k)))
            .map(|(_, _, g)| g)
            .collect();
        let got: Vec<&Assembled> = got.iter().map(|(_, _, g)| g).collect();
        prop_assert_eq!(got, want);
    }

    /// Table_map + Rows events of any column types, images and event versions (V1, and V2
    /// with extra row data) decode to the values that were encoded.
    #[test]
    fn rows_round_trip(t in table_and_rows(), checksum: bool) {
        let f = if checksum { fde() } else { fde_without_checksum() };
        let (map_raw, rows_raw) = t.encode(&f);
        let map = TableMap::parse(&f, &map_raw).unwrap();
        prop_assert_eq!(map.table_id, t.table_id);
        prop_assert_eq!((&map.schema, &map.table), (&t.schema, &t.table));
        let defs: Vec<ColumnDef> = t.columns.iter().map(|c| c.def).collect();
        prop_assert_eq!(&map.columns, &defs);
        let rows = RowsEvent::parse(&f, &rows_raw).unwrap();
        prop_assert_eq!((rows.table_id, rows.kind, rows.column_count), (t.table_id, t.kind, t.columns.len()));
        let got = rows.rows(&map).unwrap();
        prop_assert_eq!(got, t.expected());
    }

    /// GTID events (any flags, commit id, xid) read back as written.
    #[test]
    fn gtid_round_trip(
        seq: u64,
        domain: u32,
        flags2: u8,
        commit_id: u64,
        xid in xid(),
        padding in bytes(8),
        checksum: bool,
    ) {
        let f = if checksum { fde() } else { fde_without_checksum() };
        let mut body = seq.to_le_bytes().to_vec();
        body.extend_from_slice(&domain.to_le_bytes());
        body.push(flags2);
        if flags2 & gtid_flags::FL_GROUP_COMMIT_ID != 0 {
            body.extend_from_slice(&commit_id.to_le_bytes());
        }
        let has_xid = flags2 & (gtid_flags::FL_PREPARED_XA | gtid_flags::FL_COMPLETED_XA) != 0;
        if has_xid {
            body.extend_from_slice(&xid.format_id.to_le_bytes());
            body.push(xid.gtrid.len() as u8);
            body.push(xid.bqual.len() as u8);
            body.extend_from_slice(&xid.gtrid);
            body.extend_from_slice(&xid.bqual);
        }
        body.extend_from_slice(&padding);
        let g = GtidEvent::parse(&f, &build_event(&f, types::GTID, &[], &body)).unwrap();
        prop_assert_eq!(g.gtid, Gtid { domain, server: 1, seq });
        prop_assert_eq!(g.flags2, flags2);
        prop_assert_eq!(g.commit_id, (flags2 & gtid_flags::FL_GROUP_COMMIT_ID != 0).then_some(commit_id));
        prop_assert_eq!(g.xid, has_xid.then_some(xid));
    }

    /// XA_PREPARE events read back as written; an xid part over 64 bytes is refused.
    #[test]
    fn xa_prepare_round_trip(one_phase: bool, xid in xid(), oversized: bool) {
        let f = fde();
        let mut body = vec![u8::from(one_phase)];
        body.extend_from_slice(&xid.format_id.to_le_bytes());
        let gtrid_len = if oversized { 65 } else { xid.gtrid.len() as u32 };
        body.extend_from_slice(&gtrid_len.to_le_bytes());
        body.extend_from_slice(&(xid.bqual.len() as u32).to_le_bytes());
        body.extend_from_slice(&xid.gtrid);
        body.extend_from_slice(&xid.bqual);
        let got = XaPrepare::parse(&f, &build_event(&f, types::XA_PREPARE, &[], &body));
        if oversized {
            prop_assert!(got.is_err());
        } else {
            prop_assert_eq!(got.unwrap(), XaPrepare { one_phase, xid });
        }
    }

    /// Query events read back as written.
    #[test]
    fn query_round_trip(
        thread_id: u32,
        status_vars in bytes(40),
        schema in "[a-z_0-9]{0,20}",
        query in "\\PC{0,80}",
    ) {
        let f = fde();
        let mut post = thread_id.to_le_bytes().to_vec();
        post.extend_from_slice(&[0; 4]);
        post.push(schema.len() as u8);
        post.extend_from_slice(&[0; 2]);
        post.extend_from_slice(&(status_vars.len() as u16).to_le_bytes());
        let mut var = status_vars.clone();
        var.extend_from_slice(schema.as_bytes());
        var.push(0);
        var.extend_from_slice(query.as_bytes());
        let q = Query::parse(&f, &build_event(&f, types::QUERY, &post, &var)).unwrap();
        prop_assert_eq!(q, Query { thread_id, schema, query });
    }

    /// Rotate events read back as written, with or without a CRC32, whether the caller knows
    /// which (the dump's first Rotate) or not.
    #[test]
    fn rotate_round_trip(position: u64, file in "[a-z0-9.]{1,30}", crc: bool) {
        let mut e = header(types::ROTATE, 0, 0x20);
        e.extend_from_slice(&position.to_le_bytes());
        e.extend_from_slice(file.as_bytes());
        if crc {
            e.extend_from_slice(&[0; CHECKSUM_LEN]);
        }
        fix_size(&mut e);
        if crc {
            fix_crc(&mut e);
        }
        let want = Rotate { position, file };
        prop_assert_eq!(Rotate::parse(&e, Some(crc)).unwrap(), want.clone());
        prop_assert_eq!(Rotate::parse(&e, None).unwrap(), want);
    }
}

proptest! {
    #![proptest_config(config_div(8))]

    /// Events of arbitrary length (up to a few KiB): the same, at size.
    #[test]
    fn decoders_survive_long_events(raw in mutated(prop::sample::select(all_events()).prop_map(|mut e| {
        let n = e.len();
        e.splice(n - CHECKSUM_LEN..n - CHECKSUM_LEN, std::iter::repeat_n(0xFFu8, 4000));
        e
    })), fix: bool) {
        let mut raw = raw;
        if fix && raw.len() >= HEADER_LEN + CHECKSUM_LEN {
            fix_size(&mut raw);
            fix_crc(&mut raw);
        }
        decode_everything(&fde(), &raw, &table_maps());
    }
}

/// Found by `rows_round_trip`: a V2 Rows event carries the length of its extra row data at
/// the end of its 10-byte post-header; it was read from the body instead, so every V2 event
/// with extra data (or any V2 event under an FDE that declares the 10 bytes) misdecoded.
#[test]
fn v2_rows_skip_the_extra_data_their_post_header_announces() {
    let f = fde();
    let t = TableRows {
        table_id: 42,
        schema: "fx".into(),
        table: "t".into(),
        columns: vec![
            Column::new(col::LONG, [0, 0], false),
            Column::new(col::VARCHAR, [20, 0], true),
        ],
        kind: RowsKind::Write,
        v2_extra: Some(vec![0x00, 0x01, 0xAB]),
        present: vec![true, true],
        present_after: vec![true, true],
        rows: vec![
            (
                None,
                Some(vec![Some(Some(vec![1, 0, 0, 0])), Some(Some(b"one".to_vec()))]),
            ),
            (None, Some(vec![Some(Some(vec![2, 0, 0, 0])), Some(None)])),
        ],
        optional_metadata: vec![],
    };
    let (map_raw, rows_raw) = t.encode(&f);
    let map = TableMap::parse(&f, &map_raw).unwrap();
    let rows = RowsEvent::parse(&f, &rows_raw).unwrap();
    assert_eq!(rows.rows(&map).unwrap(), t.expected());
}

fn xid() -> impl Strategy<Value = Xid> {
    (
        any::<u32>(),
        prop::collection::vec(any::<u8>(), 0..=64),
        prop::collection::vec(any::<u8>(), 0..=64),
    )
        .prop_map(|(format_id, gtrid, bqual)| Xid {
            format_id,
            gtrid,
            bqual,
        })
}
