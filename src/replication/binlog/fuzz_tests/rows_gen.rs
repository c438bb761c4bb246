//! Test-side encoders of Table_map and Rows events: columns of every binlog type with valid
//! metadata, row images (absent columns, NULLs, values), laid out as the server writes them, so
//! `rows_round_trip` can check that decoding gives back what was encoded.

use proptest::prelude::*;

use super::super::event::types;
use super::super::rows::{self, col, Cell, ColumnDef, RowChange, RowsKind};
use super::super::FormatDescription;
use super::build_event;
use super::support::bytes;

/// A column as the Table_map describes it.
#[derive(Debug, Clone)]
pub(super) struct Column {
    pub(super) def: ColumnDef,
}

impl Column {
    pub(super) fn new(binlog_type: u8, meta: [u8; 2], nullable: bool) -> Column {
        Column {
            def: ColumnDef {
                binlog_type,
                meta,
                nullable,
            },
        }
    }

    /// Metadata bytes the Table_map carries for this column.
    fn meta_bytes(&self) -> &[u8] {
        use col::*;
        let n = match self.def.binlog_type {
            FLOAT | DOUBLE | TINY_BLOB | MEDIUM_BLOB | LONG_BLOB | BLOB | GEOMETRY | JSON | TIMESTAMP2 | DATETIME2
            | TIME2 => 1,
            VARCHAR | VAR_STRING | STRING | ENUM | SET | BIT | NEWDECIMAL => 2,
            _ => 0,
        };
        &self.def.meta[..n]
    }

    /// Encodes one stored value (`value` is the stored bytes without a length prefix).
    fn encode(&self, value: &[u8], out: &mut Vec<u8>) {
        use col::*;
        let prefix = match self.def.binlog_type {
            VARCHAR | VAR_STRING => {
                if u16::from_le_bytes(self.def.meta) < 256 {
                    1
                } else {
                    2
                }
            }
            TINY_BLOB | MEDIUM_BLOB | LONG_BLOB | BLOB | GEOMETRY | JSON => usize::from(self.def.meta[0]),
            STRING if self.def.real_type() == STRING => {
                if self.string_len() < 256 {
                    1
                } else {
                    2
                }
            }
            _ => 0,
        };
        out.extend_from_slice(&(value.len() as u64).to_le_bytes()[..prefix]);
        out.extend_from_slice(value);
    }

    fn string_len(&self) -> usize {
        let [b0, b1] = self.def.meta;
        usize::from(b1) | (usize::from((b0 & 0x30) ^ 0x30) << 4)
    }
}

/// A column type with valid metadata, and the values it can hold.
fn column() -> impl Strategy<Value = (Column, BoxedStrategy<Vec<u8>>)> {
    use col::*;
    let fixed = |t: u8, meta: [u8; 2], n: usize| {
        any::<bool>().prop_map(move |nullable| {
            (
                Column::new(t, meta, nullable),
                prop::collection::vec(any::<u8>(), n).boxed(),
            )
        })
    };
    prop_oneof![
        fixed(TINY, [0, 0], 1),
        fixed(SHORT, [0, 0], 2),
        fixed(INT24, [0, 0], 3),
        fixed(LONG, [0, 0], 4),
        fixed(LONGLONG, [0, 0], 8),
        fixed(FLOAT, [4, 0], 4),
        fixed(DOUBLE, [8, 0], 8),
        fixed(YEAR, [0, 0], 1),
        fixed(DATE, [0, 0], 3),
        fixed(DATETIME, [0, 0], 8),
        fixed(NULL, [0, 0], 0),
        (
            0u8..=6,
            prop::sample::select(vec![TIMESTAMP2, DATETIME2, TIME2]),
            any::<bool>()
        )
            .prop_map(|(fsp, t, nullable)| {
                let int_part = match t {
                    TIMESTAMP2 => 4,
                    DATETIME2 => 5,
                    _ => 3,
                };
                let n = int_part + usize::from(fsp).div_ceil(2);
                (
                    Column::new(t, [fsp, 0], nullable),
                    prop::collection::vec(any::<u8>(), n).boxed(),
                )
            }),
        (1u8..=65, any::<prop::sample::Index>(), any::<bool>()).prop_map(|(p, s, nullable)| {
            let scale = s.index(usize::from(p.min(38)) + 1) as u8;
            let n = rows::decimal_size(usize::from(p - scale)) + rows::decimal_size(usize::from(scale));
            (
                Column::new(NEWDECIMAL, [p, scale], nullable),
                prop::collection::vec(any::<u8>(), n).boxed(),
            )
        }),
        (0u8..=7, 0u8..=8, any::<bool>()).prop_map(|(bits, bytes_, nullable)| {
            let n = usize::from(bytes_) + usize::from(bits > 0);
            (
                Column::new(BIT, [bits, bytes_], nullable),
                prop::collection::vec(any::<u8>(), n).boxed(),
            )
        }),
        (
            prop::sample::select(vec![VARCHAR, VAR_STRING]),
            1u16..1000,
            any::<bool>()
        )
            .prop_map(|(t, max, nullable)| {
                (
                    Column::new(t, max.to_le_bytes(), nullable),
                    bytes(usize::from(max.min(300)) + 1).boxed(),
                )
            }),
        (
            prop::sample::select(vec![TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, BLOB, GEOMETRY, JSON]),
            1u8..=4,
            any::<bool>()
        )
            .prop_map(|(t, prefix, nullable)| {
                let max = if prefix == 1 { 255 } else { 400 };
                (Column::new(t, [prefix, 0], nullable), bytes(max).boxed())
            }),
        // CHAR/BINARY: length up to 1023, bits 8-9 folded into the type byte.
        (1usize..1024, any::<bool>()).prop_map(|(len, nullable)| {
            let b0 = STRING ^ ((((len >> 8) & 3) as u8) << 4);
            (
                Column::new(STRING, [b0, len as u8], nullable),
                bytes(len.min(300) + 1).boxed(),
            )
        }),
        (1u8..=2, any::<bool>()).prop_map(|(n, nullable)| {
            (
                Column::new(STRING, [ENUM, n], nullable),
                prop::collection::vec(any::<u8>(), usize::from(n)).boxed(),
            )
        }),
        (1u8..=8, any::<bool>()).prop_map(|(n, nullable)| {
            (
                Column::new(STRING, [SET, n], nullable),
                prop::collection::vec(any::<u8>(), usize::from(n)).boxed(),
            )
        }),
    ]
}

/// One row image: per column, absent (not in the image), NULL, or a value.
pub(super) type Image = Vec<Option<Option<Vec<u8>>>>;

#[derive(Debug, Clone)]
pub(super) struct TableRows {
    pub(super) table_id: u64,
    pub(super) schema: String,
    pub(super) table: String,
    pub(super) columns: Vec<Column>,
    pub(super) kind: RowsKind,
    pub(super) v2_extra: Option<Vec<u8>>,
    pub(super) present: Vec<bool>,
    pub(super) present_after: Vec<bool>,
    /// (before, after) images, as the kind requires.
    pub(super) rows: Vec<(Option<Image>, Option<Image>)>,
    pub(super) optional_metadata: Vec<u8>,
}

fn image(values: &[BoxedStrategy<Vec<u8>>], present: &[bool]) -> BoxedStrategy<Image> {
    let cells: Vec<BoxedStrategy<Option<Option<Vec<u8>>>>> = values
        .iter()
        .zip(present)
        .map(|(v, &here)| {
            if here {
                prop::option::weighted(0.8, v.clone()).prop_map(Some).boxed()
            } else {
                Just(None).boxed()
            }
        })
        .collect();
    cells.boxed()
}

pub(super) fn table_and_rows() -> impl Strategy<Value = TableRows> {
    (
        prop::collection::vec(column(), 1..12),
        prop::sample::select(vec![RowsKind::Write, RowsKind::Update, RowsKind::Delete]),
    )
        .prop_flat_map(|(cols, kind)| {
            let n = cols.len();
            let present = prop::collection::vec(prop::bool::weighted(0.85), n).prop_map(|mut p| {
                p[0] = true;
                p
            });
            (Just(cols), Just(kind), present.clone(), present)
        })
        .prop_flat_map(|(cols, kind, present, present_after)| {
            let values: Vec<BoxedStrategy<Vec<u8>>> = cols.iter().map(|(_, v)| v.clone()).collect();
            let before = image(&values, &present);
            let after = image(
                &values,
                if kind == RowsKind::Update {
                    &present_after
                } else {
                    &present
                },
            );
            let row = match kind {
                RowsKind::Write => after.prop_map(|a| (None, Some(a))).boxed(),
                RowsKind::Delete => before.prop_map(|b| (Some(b), None)).boxed(),
                RowsKind::Update => (before, after).prop_map(|(b, a)| (Some(b), Some(a))).boxed(),
            };
            (
                0u64..1 << 48,
                "[a-z]{1,10}",
                "[a-z_]{1,10}",
                Just(cols.into_iter().map(|(c, _)| c).collect::<Vec<_>>()),
                Just(kind),
                prop::option::of(bytes(20)),
                Just(present),
                Just(present_after),
                prop::collection::vec(row, 0..5),
                bytes(12),
            )
        })
        .prop_map(
            |(table_id, schema, table, columns, kind, v2_extra, present, present_after, rows, optional_metadata)| {
                TableRows {
                    table_id,
                    schema,
                    table,
                    columns,
                    kind,
                    v2_extra,
                    present,
                    present_after,
                    rows,
                    optional_metadata,
                }
            },
        )
}

fn bitmap(bits: impl Iterator<Item = bool>) -> Vec<u8> {
    let bits: Vec<bool> = bits.collect();
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (i, b) in bits.iter().enumerate() {
        if *b {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

fn put_lenenc(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=250 => out.push(v as u8),
        251..=0xFFFF => {
            out.push(0xFC);
            out.extend_from_slice(&(v as u16).to_le_bytes());
        }
        0x1_0000..=0xFF_FFFF => {
            out.push(0xFD);
            out.extend_from_slice(&v.to_le_bytes()[..3]);
        }
        _ => {
            out.push(0xFE);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

impl TableRows {
    /// The Table_map event and the Rows event, as the server lays them out.
    pub(super) fn encode(&self, fde: &FormatDescription) -> (Vec<u8>, Vec<u8>) {
        let id = &self.table_id.to_le_bytes()[..6];
        let mut post = id.to_vec();
        post.extend_from_slice(&1u16.to_le_bytes());
        let mut var = vec![self.schema.len() as u8];
        var.extend_from_slice(self.schema.as_bytes());
        var.push(0);
        var.push(self.table.len() as u8);
        var.extend_from_slice(self.table.as_bytes());
        var.push(0);
        put_lenenc(&mut var, self.columns.len() as u64);
        var.extend(self.columns.iter().map(|c| c.def.binlog_type));
        let meta: Vec<u8> = self.columns.iter().flat_map(|c| c.meta_bytes().to_vec()).collect();
        put_lenenc(&mut var, meta.len() as u64);
        var.extend_from_slice(&meta);
        var.extend(bitmap(self.columns.iter().map(|c| c.def.nullable)));
        var.extend_from_slice(&self.optional_metadata);
        let map = build_event(fde, types::TABLE_MAP, &post, &var);

        let v2 = self.v2_extra.is_some();
        let t = match (self.kind, v2) {
            (RowsKind::Write, false) => types::WRITE_ROWS_V1,
            (RowsKind::Update, false) => types::UPDATE_ROWS_V1,
            (RowsKind::Delete, false) => types::DELETE_ROWS_V1,
            (RowsKind::Write, true) => types::WRITE_ROWS_V2,
            (RowsKind::Update, true) => types::UPDATE_ROWS_V2,
            (RowsKind::Delete, true) => types::DELETE_ROWS_V2,
        };
        let mut post = id.to_vec();
        post.extend_from_slice(&1u16.to_le_bytes());
        let mut var = Vec::new();
        if let Some(extra) = &self.v2_extra {
            // ROWS_HEADER_LEN_V2: the post-header ends with the length of the extra row data
            // (counting these two bytes); the data opens the body.
            post.extend_from_slice(&(extra.len() as u16 + 2).to_le_bytes());
            var.extend_from_slice(extra);
        }
        assert_eq!(Some(post.len()), fde.post_header_len(t));
        put_lenenc(&mut var, self.columns.len() as u64);
        var.extend(bitmap(self.present.iter().copied()));
        if self.kind == RowsKind::Update {
            var.extend(bitmap(self.present_after.iter().copied()));
        }
        for (before, after) in &self.rows {
            for img in [before, after].into_iter().flatten() {
                self.encode_image(img, &mut var);
            }
        }
        (map, build_event(fde, t, &post, &var))
    }

    fn encode_image(&self, img: &Image, out: &mut Vec<u8>) {
        let here: Vec<&Option<Vec<u8>>> = img.iter().flatten().collect();
        out.extend(bitmap(here.iter().map(|v| v.is_none())));
        for (c, cell) in self.columns.iter().zip(img) {
            if let Some(Some(v)) = cell {
                c.encode(v, out);
            }
        }
    }

    /// What decoding must give.
    pub(super) fn expected(&self) -> Vec<RowChange<'_>> {
        fn cells(img: &Option<Image>) -> Option<Vec<Cell<'_>>> {
            img.as_ref().map(|img| {
                img.iter()
                    .map(|c| match c {
                        None => Cell::Absent,
                        Some(None) => Cell::Null,
                        Some(Some(v)) => Cell::Value(v.as_slice()),
                    })
                    .collect()
            })
        }
        self.rows
            .iter()
            .map(|(b, a)| RowChange {
                before: cells(b),
                after: cells(a),
            })
            .collect()
    }
}
