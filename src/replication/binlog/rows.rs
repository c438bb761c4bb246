//! Table_map and Rows events, decoded into per-column stored values.
//!
//! A Rows event names its table by a number that the preceding Table_map event binds to a
//! schema, a table and the binlog type of each column with its metadata (lengths, precision,
//! fractional digits). Each row image is then a null bitmap over the columns the image
//! carries, followed by the values of the non-null ones, each as the server stores it
//! ("packed"): fixed-size integers, floats and temporals, binary decimals, and strings with a
//! 1-4 byte length prefix. [`Cell::Value`] is that stored value without its length prefix.
//!
//! Only the layout is decoded here; what the bytes mean for a key is `keys.rs`'s business.

use super::event::{types, BinlogError, FormatDescription, Reader};

/// Binlog column types (`enum_field_types`).
pub mod col {
    pub const DECIMAL: u8 = 0;
    pub const TINY: u8 = 1;
    pub const SHORT: u8 = 2;
    pub const LONG: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const NULL: u8 = 6;
    pub const TIMESTAMP: u8 = 7;
    pub const LONGLONG: u8 = 8;
    pub const INT24: u8 = 9;
    pub const DATE: u8 = 10;
    pub const TIME: u8 = 11;
    pub const DATETIME: u8 = 12;
    pub const YEAR: u8 = 13;
    pub const NEWDATE: u8 = 14;
    pub const VARCHAR: u8 = 15;
    pub const BIT: u8 = 16;
    pub const TIMESTAMP2: u8 = 17;
    pub const DATETIME2: u8 = 18;
    pub const TIME2: u8 = 19;
    pub const JSON: u8 = 245;
    pub const NEWDECIMAL: u8 = 246;
    pub const ENUM: u8 = 247;
    pub const SET: u8 = 248;
    pub const TINY_BLOB: u8 = 249;
    pub const MEDIUM_BLOB: u8 = 250;
    pub const LONG_BLOB: u8 = 251;
    pub const BLOB: u8 = 252;
    pub const VAR_STRING: u8 = 253;
    pub const STRING: u8 = 254;
    pub const GEOMETRY: u8 = 255;
}

/// One column as a Table_map event describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    /// The type byte of the Table_map (ENUM, SET, CHAR and BINARY all say `STRING`).
    pub binlog_type: u8,
    /// The column's metadata bytes (0, 1 or 2 of them are meaningful, by type).
    pub meta: [u8; 2],
    pub nullable: bool,
}

impl ColumnDef {
    /// The type the value is stored as: `STRING` columns carry their real type (ENUM, SET or
    /// STRING) in the metadata.
    pub fn real_type(&self) -> u8 {
        match self.binlog_type {
            col::STRING => self.string_meta().0,
            t => t,
        }
    }

    /// `(real type, declared byte length)` of a `STRING` column. The server folds bits 8-9
    /// of the length into bits 4-5 of the type byte (real types all have them set).
    fn string_meta(&self) -> (u8, usize) {
        let [b0, b1] = self.meta;
        if b0 & 0x30 != 0x30 {
            let high = usize::from((b0 & 0x30) ^ 0x30) << 4;
            (b0 | 0x30, usize::from(b1) | high)
        } else {
            (b0, usize::from(b1))
        }
    }

    /// Declared precision and scale of a NEWDECIMAL column.
    pub fn decimal_digits(&self) -> (usize, usize) {
        (usize::from(self.meta[0]), usize::from(self.meta[1]))
    }

    /// How many metadata bytes the Table_map holds for a type (None: a type not decoded).
    fn meta_len(t: u8) -> Option<usize> {
        use col::*;
        match t {
            FLOAT | DOUBLE | TINY_BLOB | MEDIUM_BLOB | LONG_BLOB | BLOB | GEOMETRY | JSON | TIMESTAMP2 | DATETIME2
            | TIME2 => Some(1),
            VARCHAR | VAR_STRING | STRING | ENUM | SET | BIT | NEWDECIMAL => Some(2),
            TINY | SHORT | LONG | LONGLONG | INT24 | NULL | TIMESTAMP | DATE | TIME | DATETIME | YEAR | NEWDATE => {
                Some(0)
            }
            _ => None,
        }
    }

    /// Reads one stored value of this column.
    fn read_value<'a>(&self, r: &mut Reader<'a>) -> Result<&'a [u8], BinlogError> {
        use col::*;
        let bad = |what: String| BinlogError::Malformed {
            event_type: types::WRITE_ROWS_V1,
            what,
        };
        let fixed = match self.binlog_type {
            TINY | YEAR => 1,
            SHORT => 2,
            INT24 | DATE | NEWDATE | TIME => 3,
            LONG | FLOAT | TIMESTAMP => 4,
            LONGLONG | DOUBLE | DATETIME => 8,
            NULL => 0,
            TIMESTAMP2 | DATETIME2 | TIME2 => {
                let fsp = usize::from(self.meta[0]);
                if fsp > 6 {
                    return Err(bad(format!("fractional seconds precision {fsp}")));
                }
                let int_part = match self.binlog_type {
                    TIMESTAMP2 => 4,
                    DATETIME2 => 5,
                    _ => 3,
                };
                int_part + fsp.div_ceil(2)
            }
            NEWDECIMAL => {
                let (precision, scale) = self.decimal_digits();
                if precision == 0 || precision > 65 || scale > 38 || scale > precision {
                    return Err(bad(format!("DECIMAL({precision},{scale})")));
                }
                decimal_size(precision - scale) + decimal_size(scale)
            }
            BIT => {
                let [bits, bytes] = self.meta;
                if bits > 7 {
                    return Err(bad(format!("BIT metadata {bits}/{bytes}")));
                }
                usize::from(bytes) + usize::from(bits > 0)
            }
            ENUM | SET => usize::from(self.meta[1]),
            VARCHAR | VAR_STRING => {
                let max = usize::from(u16::from_le_bytes(self.meta));
                let n = r.uint(if max < 256 { 1 } else { 2 })? as usize;
                return r.take(n);
            }
            TINY_BLOB | MEDIUM_BLOB | LONG_BLOB | BLOB | GEOMETRY | JSON => {
                let prefix = usize::from(self.meta[0]);
                if !(1..=4).contains(&prefix) {
                    return Err(bad(format!("BLOB length prefix of {prefix} bytes")));
                }
                let n = r.uint(prefix)? as usize;
                return r.take(n);
            }
            STRING => {
                let (real, len) = self.string_meta();
                match real {
                    ENUM if len == 1 || len == 2 => len,
                    SET if (1..=8).contains(&len) => len,
                    STRING => {
                        let n = r.uint(if len < 256 { 1 } else { 2 })? as usize;
                        return r.take(n);
                    }
                    _ => return Err(bad(format!("STRING column of real type {real}, length {len}"))),
                }
            }
            t => return Err(bad(format!("column type {t} cannot be decoded"))),
        };
        r.take(fixed)
    }
}

/// Bytes of a binary DECIMAL part of `digits` decimal digits (9 digits per 4 bytes).
pub(crate) fn decimal_size(digits: usize) -> usize {
    const PARTIAL: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
    digits / 9 * 4 + PARTIAL[digits % 9]
}

/// A Table_map event: binds `table_id` to a table and its column types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMap {
    pub table_id: u64,
    pub schema: String,
    pub table: String,
    pub columns: Vec<ColumnDef>,
}

/// Reads the table id (6 bytes with the standard 8-byte post-header, 4 with the old 6-byte one).
fn table_id(post: &[u8], what: &'static str) -> Result<u64, BinlogError> {
    let mut r = Reader::new(post, what);
    let width = if post.len() == 6 { 4 } else { 6 };
    r.uint(width)
}

impl TableMap {
    pub fn parse(fde: &FormatDescription, raw: &[u8]) -> Result<TableMap, BinlogError> {
        let malformed = |what: String| BinlogError::Malformed {
            event_type: types::TABLE_MAP,
            what,
        };
        let (post, var) = fde.split_post_header(raw, types::TABLE_MAP, 8)?;
        let table_id = table_id(post, "Table_map post-header")?;
        let mut r = Reader::new(var, "Table_map event");
        let name = |r: &mut Reader<'_>| -> Result<String, BinlogError> {
            let n = usize::from(r.u8()?);
            let s = String::from_utf8_lossy(r.take(n)?).into_owned();
            match r.u8()? {
                0 => Ok(s),
                _ => Err(malformed("name not terminated".into())),
            }
        };
        let schema = name(&mut r)?;
        let table = name(&mut r)?;
        let count = r.lenenc()? as usize;
        if count > r.remaining() {
            return Err(malformed(format!("{count} columns in a {}-byte event", var.len())));
        }
        let kinds = r.take(count)?.to_vec();
        let meta_len = r.lenenc()? as usize;
        let mut m = Reader::new(r.take(meta_len)?, "Table_map metadata");
        let mut metas = Vec::with_capacity(count);
        for &t in &kinds {
            let n = ColumnDef::meta_len(t).ok_or_else(|| malformed(format!("column type {t}")))?;
            let mut meta = [0u8; 2];
            meta[..n].copy_from_slice(m.take(n)?);
            metas.push(meta);
        }
        if m.remaining() != 0 {
            return Err(malformed(format!("{} metadata bytes left over", m.remaining())));
        }
        let nulls = r.take(count.div_ceil(8))?;
        // Optional metadata (binlog_row_metadata=MINIMAL/FULL) may follow; it is not needed.
        let columns = kinds
            .iter()
            .zip(metas)
            .enumerate()
            .map(|(i, (&binlog_type, meta))| ColumnDef {
                binlog_type,
                meta,
                nullable: bit(nulls, i),
            })
            .collect();
        Ok(TableMap {
            table_id,
            schema,
            table,
            columns,
        })
    }
}

fn bit(bitmap: &[u8], i: usize) -> bool {
    bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsKind {
    Write,
    Update,
    Delete,
}

/// One column of a row image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    /// The image does not carry the column (binlog_row_image other than FULL).
    Absent,
    Null,
    /// The stored value, without its length prefix.
    Value(&'a [u8]),
}

/// One changed row: the before image (update, delete) and the after image (write, update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowChange<'a> {
    pub before: Option<Vec<Cell<'a>>>,
    pub after: Option<Vec<Cell<'a>>>,
}

/// A Rows event, its images not yet decoded (that needs the table's [`TableMap`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsEvent<'a> {
    pub table_id: u64,
    pub kind: RowsKind,
    pub column_count: usize,
    present: Vec<bool>,
    present_after: Vec<bool>,
    rows: &'a [u8],
}

impl<'a> RowsEvent<'a> {
    pub fn parse(fde: &FormatDescription, raw: &'a [u8]) -> Result<RowsEvent<'a>, BinlogError> {
        let t = raw.get(4).copied().unwrap_or(0);
        let (kind, v2) = match t {
            types::WRITE_ROWS_V1 => (RowsKind::Write, false),
            types::UPDATE_ROWS_V1 => (RowsKind::Update, false),
            types::DELETE_ROWS_V1 => (RowsKind::Delete, false),
            types::WRITE_ROWS_V2 => (RowsKind::Write, true),
            types::UPDATE_ROWS_V2 => (RowsKind::Update, true),
            types::DELETE_ROWS_V2 => (RowsKind::Delete, true),
            _ => {
                return Err(BinlogError::Unexpected {
                    event_type: t,
                    context: "where a Rows event was expected",
                })
            }
        };
        let (post, var) = fde.split_post_header(raw, t, if v2 { 10 } else { 8 })?;
        let table_id = table_id(post.get(..8).unwrap_or(post), "Rows post-header")?;
        let mut r = Reader::new(var, "Rows event");
        if v2 {
            // Extra row data: its length (counting the two length bytes) ends the 10-byte V2
            // post-header (ROWS_HEADER_LEN_V2), the data itself opens the body.
            let extra = match post.get(8..10) {
                Some(len) => usize::from(u16::from_le_bytes([len[0], len[1]])),
                None => r.u16()? as usize,
            };
            r.take(extra.saturating_sub(2))?;
        }
        let column_count = r.lenenc()? as usize;
        let bitmap_len = column_count.div_ceil(8);
        let take_bitmap = |r: &mut Reader<'a>| -> Result<Vec<bool>, BinlogError> {
            let b = r.take(bitmap_len)?;
            Ok((0..column_count).map(|i| bit(b, i)).collect())
        };
        let present = take_bitmap(&mut r)?;
        let present_after = if kind == RowsKind::Update {
            take_bitmap(&mut r)?
        } else {
            present.clone()
        };
        Ok(RowsEvent {
            table_id,
            kind,
            column_count,
            present,
            present_after,
            rows: r.rest(),
        })
    }

    /// The event's rows, decoded with its table's Table_map.
    pub fn rows(&self, map: &TableMap) -> Result<Vec<RowChange<'a>>, BinlogError> {
        if map.table_id != self.table_id || map.columns.len() != self.column_count {
            return Err(BinlogError::Malformed {
                event_type: types::WRITE_ROWS_V1,
                what: format!(
                    "Rows event for table {} with {} columns under Table_map of table {} with {}",
                    self.table_id,
                    self.column_count,
                    map.table_id,
                    map.columns.len()
                ),
            });
        }
        if !self.present.contains(&true) || !self.present_after.contains(&true) {
            return Err(BinlogError::Malformed {
                event_type: types::WRITE_ROWS_V1,
                what: "a row image without columns".into(),
            });
        }
        let mut r = Reader::new(self.rows, "Rows event image");
        let mut out = Vec::new();
        while r.remaining() > 0 {
            let change = match self.kind {
                RowsKind::Write => RowChange {
                    before: None,
                    after: Some(image(&mut r, map, &self.present)?),
                },
                RowsKind::Delete => RowChange {
                    before: Some(image(&mut r, map, &self.present)?),
                    after: None,
                },
                RowsKind::Update => RowChange {
                    before: Some(image(&mut r, map, &self.present)?),
                    after: Some(image(&mut r, map, &self.present_after)?),
                },
            };
            out.push(change);
        }
        Ok(out)
    }
}

/// One row image: a null bitmap over the present columns, then their non-null values.
fn image<'a>(r: &mut Reader<'a>, map: &TableMap, present: &[bool]) -> Result<Vec<Cell<'a>>, BinlogError> {
    let n_present = present.iter().filter(|&&p| p).count();
    let nulls = r.take(n_present.div_ceil(8))?;
    let mut j = 0;
    let mut cells = Vec::with_capacity(present.len());
    for (def, &here) in map.columns.iter().zip(present) {
        if !here {
            cells.push(Cell::Absent);
            continue;
        }
        let null = bit(nulls, j);
        j += 1;
        cells.push(if null {
            Cell::Null
        } else {
            Cell::Value(def.read_value(r)?)
        });
    }
    Ok(cells)
}
