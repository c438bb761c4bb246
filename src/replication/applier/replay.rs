//! Replaying other members' transactions from their row events: mysqld's own `BINLOG`
//! statement (what `mysqlbinlog | mysql` uses) applies the Table_map and Rows events exactly
//! as the origin's mysqld wrote them, so no value is ever decoded and re-encoded here.
//!
//! A batch of transactions and their applied-index markers is one mysqld transaction, sent
//! statement by statement (one round trip per transaction plus four; see
//! [`batch_statements`]). mysqld checks every row as it applies it (an update or
//! delete whose row is missing, or an insert whose key exists, is an error), so a replay that
//! does not fit the local data fails instead of diverging.

use super::super::ident;
use super::super::txn::Txn;
use super::{MARKER_SCHEMA, MARKER_TABLE};

/// Standard base64 (RFC 4648, with padding), as the `BINLOG` statement reads it.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `BINLOG '...'` for raw events (concatenated in one statement, as mysqlbinlog does).
pub fn binlog_statement<'a>(events: impl IntoIterator<Item = &'a Vec<u8>>) -> String {
    let mut all = Vec::new();
    for e in events {
        all.extend_from_slice(e);
    }
    format!("BINLOG '{}'", base64(&all))
}

/// The statements that replay `txns` (with their log indexes) in one mysqld transaction,
/// with their markers. Each batch gives mysqld the format description its events are read
/// with first (a few hundred bytes), again whenever it changes within the batch: a `BINLOG`
/// of row events without one is misread by mysqld.
///
/// The statements go one by one: sent as one multi-statement query through `mysql_async`,
/// the first batch on a connection failed with "Packets out of sync" (not understood yet; see
/// docs/replication.md), so the batch costs one round trip per transaction plus four.
pub fn batch_statements(txns: &[(u64, &Txn)]) -> Vec<String> {
    let mut out = vec!["START TRANSACTION".to_string()];
    let mut fde_sent: Option<&[u8]> = None;
    for (_, t) in txns {
        if !t.events.is_empty() {
            if fde_sent != Some(t.fde.as_slice()) {
                out.push(binlog_statement([&t.fde]));
                fde_sent = Some(t.fde.as_slice());
            }
            out.push(binlog_statement(&t.events));
        }
    }
    let values: Vec<String> = txns.iter().map(|(i, _)| format!("({i})")).collect();
    out.push(format!(
        "INSERT INTO {}.{} (idx) VALUES {}",
        ident(MARKER_SCHEMA),
        ident(MARKER_TABLE),
        values.join(", ")
    ));
    out.push("COMMIT".to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
            (&[0xff, 0xfe, 0x00], "//4A"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input), *want);
        }
    }

    #[test]
    fn a_batch_sends_the_format_description_once() {
        let t = Txn {
            origin: 2,
            trx_id: 1,
            snapshot: 0,
            write_set: vec![],
            tables: vec![],
            wide: vec![],
            fde: vec![1; 20],
            events: vec![vec![2; 19], vec![3; 19]],
        };
        let sql = batch_statements(&[(5, &t), (6, &t)]).join(";\n");
        assert_eq!(sql.matches("BINLOG").count(), 3, "{sql}");
        assert!(sql.starts_with("START TRANSACTION;"));
        assert!(sql.ends_with("COMMIT"));
        assert!(sql.contains("VALUES (5), (6)"));
        let again = batch_statements(&[(7, &t)]).join(";\n");
        assert_eq!(again.matches("BINLOG").count(), 2, "{again}");
    }
}
