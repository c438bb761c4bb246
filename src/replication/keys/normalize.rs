//! One stored value as a key part, by column type (the table in `keys.rs`'s docs), and the
//! check that a binlog column type is how the server stores a column's declared type.

use super::WeighRequest;
use crate::replication::binlog::event::le_uint;
use crate::replication::binlog::rows::{col, decimal_size, ColumnDef};
use crate::replication::metadata::Column;

/// Whether a binlog (real) type is how MariaDB stores a column of this DATA_TYPE. Types this
/// module does not interpret (UUID, INET6, ...) are keyed by their stored bytes and accepted.
pub(super) fn type_matches(data_type: &str, t: u8) -> bool {
    use col::*;
    let blob = matches!(t, TINY_BLOB | MEDIUM_BLOB | LONG_BLOB | BLOB);
    match data_type {
        "tinyint" | "bool" | "boolean" => t == TINY,
        "smallint" => t == SHORT,
        "mediumint" => t == INT24,
        "int" | "integer" => t == LONG,
        "bigint" => t == LONGLONG,
        "decimal" | "numeric" | "fixed" => t == NEWDECIMAL,
        "float" => t == FLOAT,
        "double" | "real" | "double precision" => t == DOUBLE,
        "date" => t == DATE || t == NEWDATE,
        "time" => t == TIME || t == TIME2,
        "datetime" => t == DATETIME || t == DATETIME2,
        "timestamp" => t == TIMESTAMP || t == TIMESTAMP2,
        "year" => t == YEAR,
        "bit" => t == BIT,
        "enum" => t == ENUM,
        "set" => t == SET,
        "char" | "binary" => t == STRING,
        "varchar" | "varbinary" => t == VARCHAR || t == VAR_STRING,
        "tinytext" | "text" | "mediumtext" | "longtext" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "json" => {
            blob
        }
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
        | "geometrycollection" => t == GEOMETRY,
        _ => true,
    }
}

/// A normalized key part, or the request for its weight.
pub(super) enum Norm {
    Bytes(Vec<u8>),
    Weigh(WeighRequest),
}

/// One stored value as a key part (see the module docs for the rules).
pub(super) fn normalize(def: &ColumnDef, column: &Column, v: &[u8], prefix: Option<u32>) -> Result<Norm, &'static str> {
    use col::*;
    let text = |s: String| Ok(Norm::Bytes(s.into_bytes()));
    match def.real_type() {
        TINY | SHORT | INT24 | LONG | LONGLONG => {
            let raw = le_uint(v);
            if column.unsigned {
                text(raw.to_string())
            } else {
                let shift = 64 - 8 * v.len() as u32;
                text((((raw << shift) as i64) >> shift).to_string())
            }
        }
        NEWDECIMAL => {
            let (precision, scale) = def.decimal_digits();
            decimal_text(v, precision, scale).map(|s| Norm::Bytes(s.into_bytes()))
        }
        FLOAT => {
            let b: [u8; 4] = v.try_into().map_err(|_| "FLOAT")?;
            text(float_text(f64::from(f32::from_le_bytes(b))))
        }
        DOUBLE => {
            let b: [u8; 8] = v.try_into().map_err(|_| "DOUBLE")?;
            text(float_text(f64::from_le_bytes(b)))
        }
        ENUM | SET => text(le_uint(v).to_string()),
        VARCHAR | VAR_STRING | STRING | TINY_BLOB | MEDIUM_BLOB | LONG_BLOB | BLOB if !column.is_binary_string() => {
            let collation = column.collation.clone().unwrap_or_default();
            let charset = column
                .charset
                .clone()
                .unwrap_or_else(|| collation.split('_').next().unwrap_or_default().to_string());
            Ok(Norm::Weigh(WeighRequest {
                bytes: v.to_vec(),
                charset,
                collation,
                pad_space: column.pad_space(),
                prefix_chars: prefix,
            }))
        }
        // Binary strings, temporal values, BIT, YEAR, and types keyed by their stored bytes.
        _ => {
            let n = prefix.map_or(v.len(), |p| v.len().min(p as usize));
            Ok(Norm::Bytes(v[..n].to_vec()))
        }
    }
}

/// `-0` compares equal to `0`; every other double has one shortest round-trip form.
fn float_text(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x:e}")
    }
}

/// Decimal text of a binary DECIMAL(precision, scale): big-endian groups of 9 digits per 4
/// bytes (fewer bytes for a partial group), the sign in the top bit (set for positive),
/// negative values stored complemented.
pub(super) fn decimal_text(v: &[u8], precision: usize, scale: usize) -> Result<String, &'static str> {
    const BAD: &str = "DECIMAL";
    let intg = precision.checked_sub(scale).ok_or(BAD)?;
    if v.is_empty() || v.len() != decimal_size(intg) + decimal_size(scale) {
        return Err(BAD);
    }
    let mut b = v.to_vec();
    let negative = b[0] & 0x80 == 0;
    b[0] ^= 0x80;
    if negative {
        b.iter_mut().for_each(|x| *x = !*x);
    }
    let mut at = 0;
    let mut group = |digits: usize, out: &mut String| -> Result<(), &'static str> {
        let n = decimal_size(digits);
        let val = b[at..at + n].iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
        at += n;
        if val >= 10u64.pow(digits as u32) {
            return Err(BAD);
        }
        out.push_str(&format!("{val:0digits$}"));
        Ok(())
    };
    let (int_lead, frac_tail) = (intg % 9, scale % 9);
    let mut int_digits = String::new();
    if int_lead > 0 {
        group(int_lead, &mut int_digits)?;
    }
    for _ in 0..intg / 9 {
        group(9, &mut int_digits)?;
    }
    let mut frac_digits = String::new();
    for _ in 0..scale / 9 {
        group(9, &mut frac_digits)?;
    }
    if frac_tail > 0 {
        group(frac_tail, &mut frac_digits)?;
    }
    let int_part = int_digits.trim_start_matches('0');
    let frac_part = frac_digits.trim_end_matches('0');
    let mut s = String::new();
    if negative && !(int_part.is_empty() && frac_part.is_empty()) {
        s.push('-');
    }
    s.push_str(if int_part.is_empty() { "0" } else { int_part });
    if !frac_part.is_empty() {
        s.push('.');
        s.push_str(frac_part);
    }
    Ok(s)
}
