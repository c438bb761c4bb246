//! Write-set derivation over real row events (`binlog/fixtures.rs`; the tables are in
//! `tests/schema.rs`), with the collation weights mysqld computed for them.

use std::collections::BTreeSet;

use super::normalize::{decimal_text, normalize, Norm};
use super::*;
use crate::replication::binlog::fixtures::*;
use crate::replication::binlog::rows::{col, ColumnDef};
use crate::replication::metadata::{Column, TableMeta};
use schema::{int, schema, unsigned, ServerWeights};

mod schema;

fn events(fixture: &[&str]) -> Vec<Vec<u8>> {
    fixture.iter().map(|e| unhex(e)).collect()
}

async fn keys_with(fixture: &[&str], tables: &[Arc<TableMeta>], w: &impl Weigher) -> Result<RowKeys, KeyError> {
    let lookup = |s: &str, t: &str| tables.iter().find(|m| m.schema == s && m.table == t).cloned();
    derive(&unhex(FDE), &events(fixture), &lookup, w).await
}

async fn keys(fixture: &[&str]) -> RowKeys {
    keys_with(fixture, &schema(), &ServerWeights).await.expect("derive")
}

/// An item as the test spells it: (table, index, parts), parts as text or `#hex`.
fn item(table: &str, index: &str, parts: &[&str]) -> u128 {
    let parts: Vec<Vec<u8>> = parts
        .iter()
        .map(|p| match p.strip_prefix('#') {
            Some(hex) => unhex(hex),
            None => p.as_bytes().to_vec(),
        })
        .collect();
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    key_item("fx", table, index, &refs)
}

/// DATETIME2 as MariaDB stores it: 40-bit packed date and time + 0x8000000000, big endian,
/// then the fraction in (fsp + 1) / 2 bytes.
fn datetime2((y, mo, d): (u64, u64, u64), (h, mi, s): (u64, u64, u64), frac: u64, frac_bytes: usize) -> String {
    let packed = (((y * 13 + mo) << 5 | d) << 17 | (h << 12 | mi << 6 | s)) + 0x80_0000_0000;
    let mut out = format!("#{packed:010x}");
    if frac_bytes > 0 {
        out.push_str(&format!("{frac:0w$x}", w = 2 * frac_bytes));
    }
    out
}

#[tokio::test]
async fn items_of_each_fixture() {
    let max = "18446744073709551615";
    let dt1 = datetime2((2024, 2, 29), (23, 59, 58), 1230, 2);
    let dt2 = datetime2((1000, 1, 1), (0, 0, 0), 0, 2);
    // TIMESTAMP2(6): seconds since the epoch (server in UTC), then microseconds, big endian.
    let ts = format!("#{:08x}{:06x}", 1_709_251_198u32, 654_321u32);
    type Case<'a> = (&'a str, &'a [&'a str], usize, Vec<u128>);
    let cases: Vec<Case> = vec![
        (
            "signed and unsigned",
            INT_INSERT,
            2,
            vec![
                item("t_int", "primary", &["10"]),
                item("t_int", "uk_u", &["4294967295"]),
                item("t_int", "uk_big", &[max]),
                item("t_int", "uk_tiny", &["-128"]),
                item("t_int", "primary", &["11"]),
                item("t_int", "uk_u", &["0"]),
                item("t_int", "uk_big", &["0"]),
                item("t_int", "uk_tiny", &["127"]),
            ],
        ),
        (
            "primary key change: before and after",
            INT_UPDATE_PK,
            1,
            vec![
                item("t_int", "primary", &["10"]),
                item("t_int", "primary", &["12"]),
                item("t_int", "uk_u", &["4294967295"]),
                item("t_int", "uk_big", &[max]),
                item("t_int", "uk_tiny", &["-128"]),
                item("t_int", "uk_tiny", &["-1"]),
            ],
        ),
        (
            "delete",
            INT_DELETE,
            2,
            vec![
                item("t_int", "primary", &["11"]),
                item("t_int", "primary", &["12"]),
                item("t_int", "uk_u", &["0"]),
                item("t_int", "uk_u", &["4294967295"]),
                item("t_int", "uk_big", &["0"]),
                item("t_int", "uk_big", &[max]),
                item("t_int", "uk_tiny", &["127"]),
                item("t_int", "uk_tiny", &["-1"]),
            ],
        ),
        (
            "composite keys; unique keys with a NULL part skipped",
            COMP_INSERT,
            3,
            vec![
                item("t_comp", "primary", &["1", "#00006b"]),
                item("t_comp", "primary", &["1", "#00004b"]),
                item("t_comp", "primary", &["2", "#00006b"]),
                item("t_comp", "uk_cd", &["7", "8"]),
            ],
        ),
        (
            "composite update",
            COMP_UPDATE,
            1,
            vec![
                item("t_comp", "primary", &["1", "#00006b"]),
                item("t_comp", "primary", &["1", "#00007a"]),
                item("t_comp", "uk_cd", &["9", "5"]),
            ],
        ),
        (
            "case-insensitive 'a'",
            CI_INSERT_A,
            1,
            vec![item("t_ci", "primary", &["1"]), item("t_ci", "uk_name", &["#0041"])],
        ),
        (
            "case-insensitive 'Ä '",
            CI_INSERT_UPPER,
            1,
            vec![item("t_ci", "primary", &["2"]), item("t_ci", "uk_name", &["#0041"])],
        ),
        (
            "prefix keys: characters, bytes",
            PREFIX_INSERT,
            2,
            vec![
                item("t_prefix", "primary", &["1"]),
                item("t_prefix", "primary", &["2"]),
                item("t_prefix", "uk_body", &["#41424344"]),
                item("t_prefix", "uk_body", &["#4142435a"]),
                item("t_prefix", "uk_bin", &["#010203"]),
                item("t_prefix", "uk_bin", &["#010204"]),
            ],
        ),
        (
            "parent",
            FK_PARENT,
            2,
            vec![
                item("parent", "primary", &["1"]),
                item("parent", "primary", &["2"]),
                item("parent", "uk_code", &["#00500031"]),
                item("parent", "uk_code", &["#00500032"]),
            ],
        ),
        (
            "child: its parents' items",
            FK_CHILD,
            3,
            vec![
                item("child", "primary", &["1"]),
                item("child", "primary", &["2"]),
                item("child", "primary", &["3"]),
                item("parent", "primary", &["1"]),
                item("parent", "primary", &["2"]),
                item("parent", "uk_code", &["#00500031"]),
                item("parent", "uk_code", &["#00500032"]),
            ],
        ),
        (
            "child update: the new parent only",
            FK_CHILD_UPDATE,
            1,
            vec![item("child", "primary", &["2"]), item("parent", "primary", &["1"])],
        ),
        (
            "decimal",
            DEC_INSERT,
            3,
            vec![
                item("t_dec", "primary", &["1.5"]),
                item("t_dec", "primary", &["-0.05"]),
                item("t_dec", "primary", &["0"]),
                item("t_dec", "uk_n", &["12345678901234567890"]),
                item("t_dec", "uk_n", &["-1"]),
                item("t_dec", "uk_n", &["0"]),
            ],
        ),
        (
            "virtual and stored generated columns",
            VIRT_INSERT,
            2,
            vec![
                item("t_virt", "primary", &["1"]),
                item("t_virt", "primary", &["2"]),
                item("t_virt", "uk_v", &["10"]),
                item("t_virt", "uk_s", &["6"]),
            ],
        ),
        (
            "generated columns change with their base",
            VIRT_UPDATE,
            1,
            vec![
                item("t_virt", "primary", &["1"]),
                item("t_virt", "uk_v", &["10"]),
                item("t_virt", "uk_v", &["12"]),
                item("t_virt", "uk_s", &["6"]),
                item("t_virt", "uk_s", &["7"]),
            ],
        ),
        (
            "enum and set numbers",
            ENUM_INSERT,
            2,
            vec![
                item("t_enum", "primary", &["2"]),
                item("t_enum", "primary", &["3"]),
                item("t_enum", "uk_st", &["5"]),
                item("t_enum", "uk_st", &["0"]),
            ],
        ),
        (
            "float and double, -0 as 0",
            FLOAT_INSERT,
            2,
            vec![
                item("t_float", "primary", &["1"]),
                item("t_float", "primary", &["2"]),
                item("t_float", "uk_f", &["0"]),
                item("t_float", "uk_f", &["1.5e0"]),
                item("t_float", "uk_g", &["0"]),
                item("t_float", "uk_g", &["1e-1"]),
            ],
        ),
        (
            "long unique: the hidden hash column is no key part",
            LONG_UNIQUE,
            2,
            vec![
                item("t_long", "primary", &["2"]),
                item("t_long", "primary", &["3"]),
                item("t_long", "uk_body", &["#414243"]),
                item("t_long", "uk_body", &["#582059"]),
                item("t_long", "uk_t2", &["#005300540052004100530045"]),
            ],
        ),
        (
            "binary, bit, char",
            BIN_INSERT,
            2,
            vec![
                // BINARY(4) X'61' is logged without its 0x00 padding, the same for every value.
                item("t_bin", "primary", &["a"]),
                item("t_bin", "primary", &["#00010203"]),
                item("t_bin", "uk_bits", &["#02ab"]),
                item("t_bin", "uk_ch", &["#4142"]),
            ],
        ),
    ];
    for (name, fixture, rows, want) in cases {
        let got = keys(fixture).await;
        let want: BTreeSet<u128> = want.into_iter().collect();
        assert_eq!(got.rows, rows, "{name}");
        assert_eq!(got.items.iter().copied().collect::<BTreeSet<_>>(), want, "{name}");
        assert!(
            got.items.windows(2).all(|w| w[0] < w[1]),
            "{name}: sorted, deduplicated"
        );
    }
    let time = keys(TIME_INSERT).await;
    assert_eq!(time.rows, 2);
    for want in [
        item("t_time", "primary", &[&dt1]),
        item("t_time", "primary", &[&dt2]),
        item("t_time", "uk_ts", &[&ts]),
    ] {
        assert!(time.items.contains(&want), "temporal values as stored");
    }
    assert_eq!(
        time.items.len(),
        4,
        "uk_rest for the first row only (NULLs in the second)"
    );
}

#[tokio::test]
async fn conflicts_that_must_be_seen() {
    let common = |a: &RowKeys, b: &RowKeys| a.items.iter().filter(|i| b.items.contains(i)).count();
    // 'a' and 'Ä ' are one value in utf8mb4_general_ci with PAD SPACE.
    assert_eq!(common(&keys(CI_INSERT_A).await, &keys(CI_INSERT_UPPER).await), 1);
    // Every parent a child row points at: both keys of both parents.
    assert_eq!(common(&keys(FK_PARENT).await, &keys(FK_CHILD).await), 4);
    // The same with the stand-in weigher.
    let fold = |f: &'static [&'static str]| async move { keys_with(f, &schema(), &FoldWeigher).await.unwrap() };
    assert_eq!(common(&fold(CI_INSERT_A).await, &fold(CI_INSERT_UPPER).await), 1);
    assert_eq!(common(&fold(FK_PARENT).await, &fold(FK_CHILD).await), 4);
}

#[tokio::test]
async fn tables_and_weigh_requests() {
    let tables = schema();
    let lookup = |s: &str, t: &str| tables.iter().find(|m| m.schema == s && m.table == t).cloned();
    let p = plan(&unhex(FDE), &events(CI_INSERT_UPPER), &lookup).unwrap();
    assert_eq!(
        p.requests(),
        &[WeighRequest {
            bytes: "Ä ".as_bytes().to_vec(),
            charset: "utf8mb4".into(),
            collation: "utf8mb4_general_ci".into(),
            pad_space: true,
            prefix_chars: None,
        }]
    );
    assert_eq!(
        weigh_sql(p.requests()),
        "SELECT WEIGHT_STRING(TRIM(TRAILING ' ' FROM CONVERT(X'C38420' USING utf8mb4)) COLLATE utf8mb4_general_ci)"
    );
    assert_eq!(
        p.clone().finish(vec![]),
        Err(KeyError::WeightCount { expected: 1, got: 0 })
    );
    // Identical string parts are weighed once.
    let p = plan(&unhex(FDE), &events(COMP_INSERT), &lookup).unwrap();
    assert_eq!(p.requests().len(), 2);
    assert_eq!(
        written_tables(&unhex(FDE), &events(FK_CHILD)).unwrap(),
        vec![TableName::new("fx", "child")]
    );
    assert_eq!(keys(FK_CHILD).await.tables, vec![TableName::new("fx", "child")]);
}

#[test]
fn weigh_sql_forms() {
    let req = |pad_space, prefix_chars, charset: &str, collation: &str| WeighRequest {
        bytes: b"ab ".to_vec(),
        charset: charset.into(),
        collation: collation.into(),
        pad_space,
        prefix_chars,
    };
    assert_eq!(
        weigh_sql(&[
            req(false, None, "utf8mb4", "utf8mb4_nopad_bin"),
            req(true, Some(2), "latin1", "latin1_swedish_ci")
        ]),
        "SELECT WEIGHT_STRING(CONVERT(X'616220' USING utf8mb4) COLLATE utf8mb4_nopad_bin), \
         WEIGHT_STRING(TRIM(TRAILING ' ' FROM LEFT(CONVERT(X'616220' USING latin1), 2)) COLLATE latin1_swedish_ci)"
    );
    // Names are reduced to identifier characters.
    assert_eq!(
        weigh_sql(&[req(false, None, "utf8) x; --", "a b")]),
        "SELECT WEIGHT_STRING(CONVERT(X'616220' USING utf8x) COLLATE ab)"
    );
}

#[test]
fn integers_by_signedness_not_width() {
    let def = |binlog_type| ColumnDef {
        binlog_type,
        meta: [0; 2],
        nullable: true,
    };
    let norm = |t, column: &Column, v: &[u8]| match normalize(&def(t), column, v, None) {
        Ok(Norm::Bytes(b)) => String::from_utf8(b).unwrap(),
        _ => panic!("not bytes"),
    };
    let s = int("x", "int");
    let u = unsigned("x", "int");
    assert_eq!(norm(col::TINY, &s, &[0xff]), "-1");
    assert_eq!(norm(col::LONG, &s, &[0xff; 4]), "-1");
    assert_eq!(norm(col::LONGLONG, &s, &[0xff; 8]), "-1");
    assert_eq!(norm(col::INT24, &s, &[0xff, 0xff, 0x7f]), "8388607");
    assert_eq!(norm(col::LONG, &u, &[0xff; 4]), "4294967295");
    assert_eq!(norm(col::TINY, &u, &[0xff]), "255");
    assert_eq!(norm(col::SHORT, &s, &[0x00, 0x80]), "-32768");
}

#[test]
fn decimals_in_canonical_text() {
    // DECIMAL(4,2) 1.50: one byte "01", one byte "50"; positive values have the top bit set.
    assert_eq!(decimal_text(&[0x81, 0x32], 4, 2).unwrap(), "1.5");
    // DECIMAL(5,3) 1.500: the same number at another scale, the same text.
    assert_eq!(decimal_text(&[0x81, 0x01, 0xf4], 5, 3).unwrap(), "1.5");
    // Negative values are stored complemented.
    assert_eq!(decimal_text(&[0x7e, 0xcd], 4, 2).unwrap(), "-1.5");
    assert_eq!(decimal_text(&[0x80, 0x00], 4, 2).unwrap(), "0");
    assert_eq!(decimal_text(&[0x7f, 0xff], 4, 2).unwrap(), "0", "-0.00 is 0");
    // Digit groups out of range, wrong lengths: errors.
    assert!(decimal_text(&[0x81, 0x64], 4, 2).is_err());
    assert!(decimal_text(&[0x81], 4, 2).is_err());
    assert!(decimal_text(&[], 4, 2).is_err());
}

#[tokio::test]
async fn metadata_that_does_not_match_is_refused() {
    let mut tables = schema();
    let mut t = (*tables[0]).clone();
    t.columns.pop();
    tables[0] = Arc::new(t);
    let e = keys_with(INT_INSERT, &tables, &ServerWeights).await.unwrap_err();
    assert!(matches!(e, KeyError::SchemaMismatch { .. }), "{e}");

    let mut tables = schema();
    let mut t = (*tables[0]).clone();
    t.columns[0].data_type = "bigint".into();
    tables[0] = Arc::new(t);
    let e = keys_with(INT_INSERT, &tables, &ServerWeights).await.unwrap_err();
    assert!(matches!(e, KeyError::SchemaMismatch { .. }), "{e}");

    // A long unique key the metadata does not know about: one column too many.
    let mut tables = schema();
    let i = tables.iter().position(|t| t.table == "t_long").unwrap();
    let mut t = (*tables[i]).clone();
    t.uniques[1].long_hash = false;
    tables[i] = Arc::new(t);
    let e = keys_with(LONG_UNIQUE, &tables, &ServerWeights).await.unwrap_err();
    assert!(matches!(e, KeyError::SchemaMismatch { .. }), "{e}");

    let e = keys_with(INT_INSERT, &[], &ServerWeights).await.unwrap_err();
    assert_eq!(
        e,
        KeyError::NoMetadata {
            schema: "fx".into(),
            table: "t_int".into()
        }
    );

    let e = keys_with(&INT_INSERT[1..], &schema(), &ServerWeights)
        .await
        .unwrap_err();
    assert!(matches!(e, KeyError::UnknownTable(_)), "{e}");

    let mut tables = schema();
    let i = tables.iter().position(|t| t.table == "child").unwrap();
    let mut t = (*tables[i]).clone();
    t.foreign_keys[1].parent_unique = false;
    tables[i] = Arc::new(t);
    let e = keys_with(FK_CHILD, &tables, &ServerWeights).await.unwrap_err();
    assert!(matches!(e, KeyError::ParentKeyNotUnique { .. }), "{e}");
    // Deleting the child needs no parent item, so it is fine.

    struct Failing;
    impl Weigher for Failing {
        async fn weigh(&self, _: Vec<WeighRequest>) -> Result<Vec<Vec<u8>>, String> {
            Err("connection lost".into())
        }
    }
    let e = keys_with(CI_INSERT_A, &schema(), &Failing).await.unwrap_err();
    assert_eq!(e, KeyError::Weigher("connection lost".into()));
}

/// Garbled and truncated row events (size and checksum made consistent): errors, never a
/// panic.
#[test]
fn garbled_row_events_never_panic() {
    let tables = schema();
    let lookup = |s: &str, t: &str| tables.iter().find(|m| m.schema == s && m.table == t).cloned();
    let fde = unhex(FDE);
    let all: &[&[&str]] = &[
        INT_INSERT,
        INT_UPDATE_PK,
        INT_DELETE,
        COMP_INSERT,
        COMP_UPDATE,
        CI_INSERT_A,
        PREFIX_INSERT,
        FK_CHILD,
        DEC_INSERT,
        TIME_INSERT,
        VIRT_UPDATE,
        ENUM_INSERT,
        FLOAT_INSERT,
        BIN_INSERT,
        LONG_UNIQUE,
    ];
    for fixture in all {
        let evs = events(fixture);
        for (i, ev) in evs.iter().enumerate() {
            let with = |e: Vec<u8>| {
                let mut v = evs.clone();
                v[i] = e;
                let _ = plan(&fde, &v, &lookup);
            };
            for at in 19..ev.len() - 4 {
                for x in [0x01, 0x80, 0xff] {
                    let mut e = ev.clone();
                    e[at] ^= x;
                    fix_crc(&mut e);
                    with(e);
                }
            }
            for cut in 19 + 4..ev.len() {
                let mut e = ev[..cut].to_vec();
                fix_size(&mut e);
                fix_crc(&mut e);
                with(e);
            }
        }
    }
}
