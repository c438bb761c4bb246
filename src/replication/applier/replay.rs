//! Replaying other members' transactions from their row events: mysqld's own `BINLOG`
//! statement (what `mysqlbinlog | mysql` uses) applies the Table_map and Rows events exactly
//! as the origin's mysqld wrote them, so no value is ever decoded and re-encoded here.
//!
//! A batch of transactions and their applied-index markers is one mysqld transaction and one
//! round trip when its events fit one bounded `BINLOG` statement, one more per further 4 MiB
//! of events (see [`batch_statements`]). mysqld checks every row as it applies it (an update
//! or delete whose row is missing, or an insert whose key exists, is an error), so a replay
//! that does not fit the local data fails instead of diverging.

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

/// Most event bytes one `BINLOG` statement of a batch carries (before base64, which adds a
/// third). Transactions are packed into a statement until the next would pass it; a larger
/// transaction gets a statement of its own. Without a bound a batch of 32 transactions of
/// 1 MiB rows was one 43 MB statement.
pub const STATEMENT_EVENT_BYTES: usize = 4 << 20;

/// One query of a replay: its text and how many statements it holds (each answers with an OK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub sql: String,
    pub statements: usize,
}

/// The queries that replay `txns` (with their log indexes) in one mysqld transaction, with
/// their markers. For a batch whose events fit [`STATEMENT_EVENT_BYTES`] that is one query,
/// one round trip: `START TRANSACTION; INSERT <markers>; BINLOG '...'; COMMIT`; each further
/// `BINLOG` of a larger batch is one more query (a query must fit mysqld's
/// max_allowed_packet), the last one ending with the `COMMIT`. A batch that wrote no rows is
/// its marker insert alone.
///
/// They run on a [`crate::backend::service_conn::ServiceConn`], which reads the answers by
/// count: mysqld (MariaDB 10.11) answers a `BINLOG` of row events with an OK that lacks
/// SERVER_MORE_RESULTS_EXISTS although the statements behind it run and answer all the same
/// (seen with a raw client; `mysql_async` took the rest for the answer to its next query,
/// "Packets out of sync"). Each `BINLOG` starts with the format description its events are
/// read with (a few hundred bytes) where that changes within the batch: a `BINLOG` of row
/// events without one is misread by mysqld, which keeps the last one it read for the session.
/// Table ids cannot leak from one transaction into the next: each transaction's last Rows
/// event ends its statement, which clears mysqld's table map.
pub fn batch_statements(txns: &[(u64, &Txn)]) -> Vec<Query> {
    batch_statements_bounded(txns, STATEMENT_EVENT_BYTES)
}

fn batch_statements_bounded(txns: &[(u64, &Txn)], bound: usize) -> Vec<Query> {
    let mut binlogs = Vec::new();
    let mut chunk: Vec<&Vec<u8>> = Vec::new();
    let mut chunk_bytes = 0;
    let mut fde_sent: Option<&[u8]> = None;
    for (_, t) in txns {
        if t.events.is_empty() {
            continue;
        }
        let fde_needed = fde_sent != Some(t.fde.as_slice());
        let bytes = t.events.iter().map(Vec::len).sum::<usize>() + if fde_needed { t.fde.len() } else { 0 };
        if !chunk.is_empty() && chunk_bytes + bytes > bound {
            binlogs.push(binlog_statement(chunk.drain(..)));
            chunk_bytes = 0;
        }
        if fde_needed {
            chunk.push(&t.fde);
            fde_sent = Some(t.fde.as_slice());
        }
        chunk.extend(&t.events);
        chunk_bytes += bytes;
    }
    if !chunk.is_empty() {
        binlogs.push(binlog_statement(chunk));
    }
    let values: Vec<String> = txns.iter().map(|(i, _)| format!("({i})")).collect();
    let markers = format!(
        "INSERT INTO {}.{} (idx) VALUES {}",
        ident(MARKER_SCHEMA),
        ident(MARKER_TABLE),
        values.join(", ")
    );
    if binlogs.is_empty() {
        return vec![Query {
            sql: markers,
            statements: 1,
        }];
    }
    let mut out: Vec<Query> = Vec::with_capacity(binlogs.len());
    for (i, b) in binlogs.into_iter().enumerate() {
        out.push(if i == 0 {
            Query {
                sql: format!("START TRANSACTION; {markers}; {b}"),
                statements: 3,
            }
        } else {
            Query { sql: b, statements: 1 }
        });
    }
    let last = out.last_mut().expect("at least one BINLOG");
    last.sql.push_str("; COMMIT");
    last.statements += 1;
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

    fn txn(fde: u8, events: &[u8]) -> Txn {
        Txn {
            origin: 2,
            trx_id: 1,
            snapshot: 0,
            write_set: vec![],
            tables: vec![],
            wide: vec![],
            fde: vec![fde; 3],
            events: events.iter().map(|&e| vec![e; 3]).collect(),
        }
    }

    /// The `BINLOG` statements of a batch, decoded back to the bytes of their events (each
    /// event of the fixtures is three equal bytes, so a statement is a list of event tags).
    fn binlog_bodies(stmts: &[String]) -> Vec<Vec<u8>> {
        stmts
            .iter()
            .filter_map(|s| s.strip_prefix("BINLOG '"))
            .map(|b| b.trim_end_matches('\''))
            .map(|b| {
                // A 3-byte event is 4 base64 characters: find the tag that encodes to them.
                b.as_bytes()
                    .chunks(4)
                    .map(|q| {
                        (0..=255u8)
                            .find(|&t| base64(&[t; 3]).as_bytes() == q)
                            .expect("an event tag")
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_batch_packs_events_into_bounded_binlog_statements() {
        let (a, b, c) = (txn(1, &[2, 3]), txn(1, &[4]), txn(9, &[5]));
        let empty = txn(1, &[]);
        // (batch, byte bound, the statements' event tags, the markers)
        #[allow(clippy::type_complexity)]
        let cases: Vec<(Vec<(u64, &Txn)>, usize, Vec<Vec<u8>>, &str)> = vec![
            // Unbounded: one statement, the format description once.
            (
                vec![(5, &a), (6, &b)],
                1 << 20,
                vec![vec![1, 2, 3, 4]],
                "VALUES (5), (6)",
            ),
            // The format description again where it changes.
            (
                vec![(7, &a), (8, &c), (9, &b)],
                1 << 20,
                vec![vec![1, 2, 3, 9, 5, 1, 4]],
                "VALUES (7), (8), (9)",
            ),
            // A transaction without events adds a marker only.
            (vec![(3, &empty), (4, &b)], 1 << 20, vec![vec![1, 4]], "VALUES (3), (4)"),
            // Bound of 9 bytes: a (fde + 2 events) fills one; b starts the next without the
            // format description (mysqld keeps it for the session); c changes it.
            (
                vec![(1, &a), (2, &b), (3, &c)],
                9,
                vec![vec![1, 2, 3], vec![4, 9, 5]],
                "VALUES (1), (2), (3)",
            ),
            // A transaction above the bound still goes whole, in a statement of its own.
            (
                vec![(1, &b), (2, &a), (3, &b)],
                4,
                vec![vec![1, 4], vec![2, 3], vec![4]],
                "VALUES (1), (2), (3)",
            ),
        ];
        for (batch, bound, want, markers) in cases {
            let queries = batch_statements_bounded(&batch, bound);
            // One query per BINLOG: the first opens the transaction and inserts the markers
            // ahead of its BINLOG, the last commits after its BINLOG.
            assert_eq!(queries.len(), want.len(), "{queries:?}");
            let statements: Vec<Vec<&str>> = queries.iter().map(|q| q.sql.split("; ").collect()).collect();
            for (q, s) in queries.iter().zip(&statements) {
                assert_eq!(q.statements, s.len(), "{queries:?}");
            }
            let flat: Vec<&str> = statements.iter().flatten().copied().collect();
            assert_eq!(flat[0], "START TRANSACTION");
            assert!(
                flat[1].starts_with("INSERT INTO") && flat[1].ends_with(markers),
                "{queries:?}"
            );
            assert_eq!(flat[flat.len() - 1], "COMMIT");
            let binlogs: Vec<String> = flat[2..flat.len() - 1].iter().map(|s| s.to_string()).collect();
            assert_eq!(binlogs.len(), want.len(), "{queries:?}");
            // Every query but the first starts with its BINLOG (one BINLOG per query).
            for (q, b) in queries.iter().zip(&binlogs).skip(1) {
                assert!(q.sql.starts_with(b.as_str()), "{queries:?}");
            }
            assert_eq!(binlog_bodies(&binlogs), want, "bound {bound}: {queries:?}");
        }
        // Nothing to replay (every transaction wrote no rows): the markers alone.
        let queries = batch_statements(&[(1, &empty), (2, &empty)]);
        assert_eq!(queries.len(), 1, "{queries:?}");
        assert_eq!(queries[0].statements, 1);
        assert!(queries[0].sql.starts_with("INSERT INTO") && queries[0].sql.ends_with("VALUES (1), (2)"));
    }
}
