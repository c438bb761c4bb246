//! Statements the proxy runs itself on a session's own backend connection, between client
//! commands (inside the client's transaction when there is one), with their results decoded.
//! The replication layer uses this to read row images under the transaction's locks.

use mysql_common::constants::CapabilityFlags as Caps;

use crate::protocol::command::COM_QUERY;
use crate::protocol::io::{IoError, PacketIo, Stream};
use crate::protocol::packet::read_lenenc;
use crate::protocol::response::{Expect, OkInfo, ResponseError, ResponseState, Step};

#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error("server error {code}: {message}")]
    Server { code: u16, message: String },
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Protocol(#[from] ResponseError),
    #[error("malformed row or column packet")]
    Malformed,
}

impl From<std::io::Error> for InternalError {
    fn from(e: std::io::Error) -> Self {
        InternalError::Io(e.into())
    }
}

/// A decoded text-protocol result: one statement's rows, or its OK. Column definitions are
/// counted, not decoded: with MariaDB's extended metadata (which the client may have
/// negotiated for the session) they carry a field mysql_common's `Column` does not know.
#[derive(Debug, Default)]
pub struct TextResult {
    pub column_count: usize,
    pub rows: Vec<Vec<Option<Vec<u8>>>>,
    pub ok: Option<OkInfo>,
    /// Server status flags of the final OK/EOF, when it carried them.
    pub status: Option<u16>,
}

/// Runs one statement and decodes its result. Only the first result of a multi-result
/// response is kept; the rest is read and discarded so the connection stays in sync.
pub async fn query<S: Stream>(io: &mut PacketIo<S>, caps: Caps, sql: &str) -> Result<TextResult, InternalError> {
    queue_query(io, sql);
    io.flush().await?;
    read_result(io, caps).await
}

/// Runs two statements pipelined: both go out in one write and their results are read in
/// order, saving a round trip. Each is a command of its own, so mysqld answers both, and
/// the second runs whatever became of the first: callers pair only statements for which
/// that is safe. The outer error is a broken connection; the inner ones are each
/// statement's own outcome (a server error of the first is not fatal to the second).
pub async fn query_pair<S: Stream>(
    io: &mut PacketIo<S>,
    caps: Caps,
    first: &str,
    second: &str,
) -> Result<(Result<TextResult, InternalError>, Result<TextResult, InternalError>), InternalError> {
    if io.compressed() {
        // The compressed framing's sequence restarts with each command: one at a time.
        let a = keep_server_error(query(io, caps, first).await)?;
        let b = keep_server_error(query(io, caps, second).await)?;
        return Ok((a, b));
    }
    queue_query(io, first);
    queue_query(io, second);
    io.flush().await?;
    let a = keep_server_error(read_result(io, caps).await)?;
    let b = keep_server_error(read_result(io, caps).await)?;
    Ok((a, b))
}

/// A server error stays the statement's outcome; anything else broke the connection.
fn keep_server_error(r: Result<TextResult, InternalError>) -> Result<Result<TextResult, InternalError>, InternalError> {
    match r {
        Err(e @ InternalError::Server { .. }) => Ok(Err(e)),
        Err(e) => Err(e),
        Ok(t) => Ok(Ok(t)),
    }
}

fn queue_query<S: Stream>(io: &mut PacketIo<S>, sql: &str) {
    let mut payload = Vec::with_capacity(sql.len() + 1);
    payload.push(COM_QUERY);
    payload.extend_from_slice(sql.as_bytes());
    io.queue(0, &payload);
}

/// Reads one command's whole response, keeping the first result.
async fn read_result<S: Stream>(io: &mut PacketIo<S>, caps: Caps) -> Result<TextResult, InternalError> {
    let mut state = ResponseState::new(Expect::QueryResult, caps.contains(Caps::CLIENT_DEPRECATE_EOF));
    let mut out = TextResult::default();
    let mut column_count: Option<usize> = None;
    let mut first_done = false;
    loop {
        let p = io.expect_packet().await?;
        let step = state.feed(&p.payload, p.payload.len().min(crate::protocol::packet::MAX_CHUNK))?;
        if !first_done {
            decode_packet(&p.payload, &mut column_count, &mut out)?;
        }
        if state.outcome.result_sets > 0 || !state.outcome.oks.is_empty() {
            first_done = true;
        }
        match step {
            Step::More => {}
            Step::Done => break,
            Step::LocalInfile => {
                // Never issued by the proxy's own statements; refuse the file.
                io.send(p.seq.wrapping_add(1), &[]).await?;
            }
        }
    }
    if let Some((code, message)) = state.outcome.error {
        return Err(InternalError::Server { code, message });
    }
    out.ok = state.outcome.oks.first().copied();
    out.status = state.outcome.status;
    Ok(out)
}

/// Decodes column definitions and text rows of the first result set.
fn decode_packet(payload: &[u8], columns: &mut Option<usize>, out: &mut TextResult) -> Result<(), InternalError> {
    let Some(n) = *columns else {
        if let Some(&h) = payload.first() {
            if h != 0x00 && h != 0xFF && h != 0xFB {
                let mut rest = payload;
                *columns = Some(read_lenenc(&mut rest).ok_or(InternalError::Malformed)? as usize);
            }
        }
        return Ok(());
    };
    if out.column_count < n {
        out.column_count += 1;
        return Ok(());
    }
    match payload.first() {
        Some(0xFE) if payload.len() < 0xFF_FFFF && !(payload.len() >= 9 && is_row(payload, n)) => Ok(()),
        Some(0xFF) => Ok(()),
        _ => {
            let mut rest = payload;
            let mut row = Vec::with_capacity(n);
            for _ in 0..n {
                if rest.first() == Some(&0xFB) {
                    rest = &rest[1..];
                    row.push(None);
                    continue;
                }
                let len = read_lenenc(&mut rest).ok_or(InternalError::Malformed)? as usize;
                if rest.len() < len {
                    return Err(InternalError::Malformed);
                }
                row.push(Some(rest[..len].to_vec()));
                rest = &rest[len..];
            }
            out.rows.push(row);
            Ok(())
        }
    }
}

/// Whether a 0xFE-led packet decodes exactly as a row of `n` columns (a long first value).
fn is_row(payload: &[u8], n: usize) -> bool {
    let mut rest = payload;
    for _ in 0..n {
        if rest.first() == Some(&0xFB) {
            rest = &rest[1..];
            continue;
        }
        match read_lenenc(&mut rest) {
            Some(len) if rest.len() >= len as usize => rest = &rest[len as usize..],
            _ => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column definition as mariadbd sends it to a client that negotiated
    /// MARIADB_CLIENT_EXTENDED_METADATA: a `format=json` string after `org_name` (mysql_common's
    /// `Column` refused it, so the proxy's own statements failed on such a session).
    #[test]
    fn rows_decode_under_extended_metadata() {
        let mut def = Vec::new();
        for s in [&b"def"[..], b"test", b"t1", b"t1", b"js", b"js"] {
            def.push(s.len() as u8);
            def.extend_from_slice(s);
        }
        def.extend_from_slice(b"\x07\x01\x04json"); // extended metadata: format=json
        def.extend_from_slice(b"\x0c\x21\x00\xff\xff\xff\xff\xfc\x90\x00\x00\x00\x00");
        let packets: Vec<Vec<u8>> = vec![
            vec![1],
            def,
            vec![0xFE, 0, 0, 2, 0],
            b"\x02[]".to_vec(),
            vec![0xFE, 0, 0, 2, 0],
        ];
        let (mut columns, mut out) = (None, TextResult::default());
        for p in &packets {
            decode_packet(p, &mut columns, &mut out).unwrap();
        }
        assert_eq!(out.column_count, 1);
        assert_eq!(out.rows, vec![vec![Some(b"[]".to_vec())]]);
    }
}
