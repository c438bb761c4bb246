//! Where a server response ends. The proxy forwards response bytes untouched; this state
//! machine only looks at the first bytes of each logical packet to know when the response to
//! the current command is complete, and picks up the status flags, OK fields and errors on the
//! way. It never decodes rows.
//!
//! ```text
//!  QueryResult ──0x00 OK──> done (or next result if MORE_RESULTS_EXISTS)
//!       │  ──0xFF ERR──> done
//!       │  ──0xFB──────> LocalInfile (caller relays the file, then resumes at QueryResult)
//!       └─ column count N ─> Columns(N) ─> [EOF unless DEPRECATE_EOF] ─> Rows
//!  Rows ── terminator (EOF, or OK with 0xFE header) ──> done / next result / cursor open
//!       └─ 0xFF ERR ─> done
//! ```

use super::packet::{read_lenenc, MAX_CHUNK};

pub const STATUS_IN_TRANS: u16 = 0x0001;
pub const STATUS_AUTOCOMMIT: u16 = 0x0002;
pub const STATUS_MORE_RESULTS: u16 = 0x0008;
pub const STATUS_CURSOR_EXISTS: u16 = 0x0040;

/// What kind of response the command that was sent produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// COM_QUERY, COM_STMT_EXECUTE: OK, ERR, LOCAL INFILE request, or result sets.
    QueryResult,
    /// COM_STMT_PREPARE: PREPARE_OK with parameter and column definitions, or ERR.
    Prepare,
    /// COM_FIELD_LIST and COM_STMT_FETCH: packets up to a terminator or ERR.
    UntilTerminator,
    /// Commands answered by one OK / ERR / EOF packet.
    OkOrErr,
    /// COM_STATISTICS: one packet of free text.
    Opaque,
}

/// Fields of an OK packet (or EOF terminator) that the proxy cares about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OkInfo {
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub status: u16,
    pub warnings: u16,
    /// From the info text of an UPDATE ("Rows matched: N  Changed: M"): rows the statement
    /// matched without changing them (mysqld logs no row event for those).
    pub unchanged: u64,
    /// From the info text of a multi-row INSERT ("Records: N  Duplicates: D"): D.
    pub duplicates: u64,
}

/// Summary of a complete response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Status flags of the last OK/EOF seen.
    pub status: Option<u16>,
    /// Error code and message, if the response ended with ERR.
    pub error: Option<(u16, String)>,
    /// The OK packets of every result that was not a result set, in order.
    pub oks: Vec<OkInfo>,
    /// Number of result sets (row sets) in the response.
    pub result_sets: usize,
    /// Statement id announced by a PREPARE_OK, with its column and parameter counts.
    pub prepared: Option<(u32, u16, u16)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    First,
    Defs {
        remaining: u64,
        eof_after: bool,
        then_columns: u64,
    },
    DefsEof {
        then_columns: u64,
    },
    Rows,
    Done,
}

/// What the caller must do after feeding a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Keep reading server packets.
    More,
    /// The response is complete.
    Done,
    /// The server asked for a LOCAL INFILE; relay the client's data, then keep reading.
    LocalInfile,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed server response: {0}")]
pub struct ResponseError(pub &'static str);

/// Incremental parser of one command's response.
#[derive(Debug, Clone)]
pub struct ResponseState {
    expect: Expect,
    deprecate_eof: bool,
    phase: Phase,
    pub outcome: Outcome,
}

impl ResponseState {
    pub fn new(expect: Expect, deprecate_eof: bool) -> Self {
        let phase = match expect {
            Expect::UntilTerminator => Phase::Rows,
            _ => Phase::First,
        };
        Self {
            expect,
            deprecate_eof,
            phase,
            outcome: Outcome::default(),
        }
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Feeds the first chunk of the next logical packet. `payload` holds at least the chunk's
    /// payload; `len` is that chunk's declared length (0xFFFFFF for a split packet).
    pub fn feed(&mut self, payload: &[u8], len: usize) -> Result<Step, ResponseError> {
        let head = payload.first().copied();
        match self.phase {
            Phase::Done => Err(ResponseError("packet after the end of the response")),
            Phase::First => self.first(payload, head),
            Phase::Defs {
                remaining,
                eof_after,
                then_columns,
            } => {
                if head == Some(0xFF) {
                    return Ok(self.error(payload));
                }
                let remaining = remaining - 1;
                self.phase = if remaining > 0 {
                    Phase::Defs {
                        remaining,
                        eof_after,
                        then_columns,
                    }
                } else {
                    self.after_defs(eof_after, then_columns)
                };
                Ok(if self.phase == Phase::Done {
                    Step::Done
                } else {
                    Step::More
                })
            }
            Phase::DefsEof { then_columns } => {
                if head != Some(0xFE) {
                    return Err(ResponseError("expected EOF after definitions"));
                }
                let status = eof_status(payload);
                self.outcome.status = Some(status);
                if self.expect == Expect::Prepare {
                    self.phase = self.start_defs(then_columns, 0);
                } else if status & STATUS_CURSOR_EXISTS != 0 && status & STATUS_MORE_RESULTS == 0 {
                    // COM_STMT_EXECUTE with a cursor: rows come later through COM_STMT_FETCH.
                    // Not so for a result set of a stored program (`FOR rec IN (SELECT ..)`,
                    // `OPEN cur`): there CURSOR_EXISTS tells of the program's own open cursor
                    // and the rows follow; such a result is never the last one (its
                    // MORE_RESULTS is set: the program's final OK follows), while a protocol
                    // cursor answers a single statement.
                    self.outcome.result_sets += 1;
                    self.phase = Phase::Done;
                } else {
                    self.phase = Phase::Rows;
                }
                Ok(if self.phase == Phase::Done {
                    Step::Done
                } else {
                    Step::More
                })
            }
            Phase::Rows => match head {
                Some(0xFF) => Ok(self.error(payload)),
                Some(0xFE) if self.is_terminator(len) => {
                    let status = if self.deprecate_eof {
                        parse_ok(payload).map(|o| o.status).unwrap_or(0)
                    } else {
                        eof_status(payload)
                    };
                    self.outcome.status = Some(status);
                    Ok(self.after_result(status))
                }
                _ => Ok(Step::More),
            },
        }
    }

    fn first(&mut self, payload: &[u8], head: Option<u8>) -> Result<Step, ResponseError> {
        match (self.expect, head) {
            (_, Some(0xFF)) => Ok(self.error(payload)),
            (Expect::Opaque, _) => {
                self.phase = Phase::Done;
                Ok(Step::Done)
            }
            (Expect::Prepare, Some(0x00)) => {
                if payload.len() < 12 {
                    return Err(ResponseError("short PREPARE_OK"));
                }
                let id = u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]);
                let columns = u16::from_le_bytes([payload[5], payload[6]]);
                let params = u16::from_le_bytes([payload[7], payload[8]]);
                self.outcome.prepared = Some((id, columns, params));
                self.phase = self.start_defs(params as u64, columns as u64);
                Ok(if self.phase == Phase::Done {
                    Step::Done
                } else {
                    Step::More
                })
            }
            (_, Some(0x00)) | (Expect::OkOrErr, Some(0xFE)) => {
                let ok = if head == Some(0xFE) {
                    OkInfo {
                        status: eof_status(payload),
                        ..OkInfo::default()
                    }
                } else {
                    parse_ok(payload).ok_or(ResponseError("short OK packet"))?
                };
                self.outcome.oks.push(ok);
                self.outcome.status = Some(ok.status);
                Ok(self.after_result(ok.status))
            }
            (Expect::QueryResult, Some(0xFB)) => Ok(Step::LocalInfile),
            (Expect::QueryResult, Some(_)) => {
                let mut rest = payload;
                let n = read_lenenc(&mut rest).ok_or(ResponseError("bad column count"))?;
                if n == 0 {
                    return Err(ResponseError("zero column count"));
                }
                self.phase = Phase::Defs {
                    remaining: n,
                    eof_after: true,
                    then_columns: 0,
                };
                Ok(Step::More)
            }
            (Expect::OkOrErr, _) => Err(ResponseError("unexpected packet, expected OK or ERR")),
            (_, None) => Err(ResponseError("empty packet")),
            (Expect::Prepare, _) => Err(ResponseError("unexpected PREPARE response")),
            (Expect::UntilTerminator, _) => unreachable!("starts in Rows"),
        }
    }

    /// Phase after a PREPARE_OK or parameter block: `count` definitions then maybe an EOF.
    fn start_defs(&self, count: u64, then_columns: u64) -> Phase {
        if count > 0 {
            Phase::Defs {
                remaining: count,
                eof_after: !self.deprecate_eof,
                then_columns,
            }
        } else if then_columns > 0 {
            Phase::Defs {
                remaining: then_columns,
                eof_after: !self.deprecate_eof,
                then_columns: 0,
            }
        } else {
            Phase::Done
        }
    }

    fn after_defs(&mut self, eof_after: bool, then_columns: u64) -> Phase {
        match self.expect {
            Expect::Prepare if eof_after => Phase::DefsEof { then_columns },
            Expect::Prepare => self.start_defs(then_columns, 0),
            // Result set: an EOF follows the column definitions unless DEPRECATE_EOF.
            _ if !self.deprecate_eof => Phase::DefsEof { then_columns: 0 },
            _ => Phase::Rows,
        }
    }

    fn is_terminator(&self, len: usize) -> bool {
        if self.deprecate_eof {
            len < MAX_CHUNK
        } else {
            len < 9
        }
    }

    fn after_result(&mut self, status: u16) -> Step {
        if self.phase == Phase::Rows {
            self.outcome.result_sets += 1;
        }
        if self.expect == Expect::QueryResult && status & STATUS_MORE_RESULTS != 0 {
            self.phase = Phase::First;
            Step::More
        } else {
            self.phase = Phase::Done;
            Step::Done
        }
    }

    fn error(&mut self, payload: &[u8]) -> Step {
        self.outcome.error = Some(parse_err(payload));
        self.phase = Phase::Done;
        Step::Done
    }
}

/// Status flags of a classic EOF packet (`0xFE warnings:2 status:2`).
fn eof_status(payload: &[u8]) -> u16 {
    if payload.len() >= 5 {
        u16::from_le_bytes([payload[3], payload[4]])
    } else {
        0
    }
}

/// Parses the fixed part of an OK packet (header 0x00 or 0xFE).
pub fn parse_ok(payload: &[u8]) -> Option<OkInfo> {
    let mut rest = payload.get(1..)?;
    let affected_rows = read_lenenc(&mut rest)?;
    let last_insert_id = read_lenenc(&mut rest)?;
    let status = u16::from_le_bytes([*rest.first()?, *rest.get(1)?]);
    let warnings = match (rest.get(2), rest.get(3)) {
        (Some(a), Some(b)) => u16::from_le_bytes([*a, *b]),
        _ => 0,
    };
    let info = rest.get(4..).unwrap_or_default();
    let matched = info_number(info, b"Rows matched: ");
    let changed = info_number(info, b"Changed: ");
    Some(OkInfo {
        affected_rows,
        last_insert_id,
        status,
        warnings,
        unchanged: match (matched, changed) {
            (Some(m), Some(c)) => m.saturating_sub(c),
            _ => 0,
        },
        duplicates: info_number(info, b"Duplicates: ").unwrap_or(0),
    })
}

/// The number after `label` in an OK packet's info text.
fn info_number(info: &[u8], label: &[u8]) -> Option<u64> {
    let at = info.windows(label.len()).position(|w| w == label)? + label.len();
    let digits: Vec<u8> = info[at..].iter().copied().take_while(u8::is_ascii_digit).collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// Error code and message of an ERR packet (`0xFF code:2 ['#' sqlstate:5] message`).
pub fn parse_err(payload: &[u8]) -> (u16, String) {
    if payload.len() < 3 {
        return (0, String::new());
    }
    let code = u16::from_le_bytes([payload[1], payload[2]]);
    let mut msg = &payload[3..];
    if msg.first() == Some(&b'#') && msg.len() >= 6 {
        msg = &msg[6..];
    }
    (code, String::from_utf8_lossy(msg).into_owned())
}

#[cfg(test)]
mod tests;
