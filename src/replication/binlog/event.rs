//! One raw binlog event at a time: the common header, the checksum, and the bodies of the
//! events that delimit transactions (MariaDB GTID, XA_PREPARE, Query, Rotate, Format
//! description). Everything here reads bytes a peer controls, so every read is bounds
//! checked and a short or garbled event is a [`BinlogError`], never a panic.
//!
//! Layouts, as MariaDB 10.11 writes them (checked on real events, see `fixtures.rs`):
//!
//! ```text
//! header (19)      timestamp u32, type u8, server_id u32, event_size u32, log_pos u32, flags u16
//! GTID (162)       seq_no u64, domain_id u32, flags2 u8,
//!                  [commit_id u64                     if flags2 & FL_GROUP_COMMIT_ID]
//!                  [format_id u32, gtrid_len u8, bqual_len u8, gtrid, bqual
//!                                                     if flags2 & (FL_PREPARED_XA|FL_COMPLETED_XA)]
//!                  then zero padding to 19 bytes, or flags_extra and its fields (ignored here;
//!                  10.11 ends XA PREPARE GTIDs with flags_extra 0x01 and extra_engines 0xff)
//! XA_PREPARE (38)  one_phase u8, format_id u32, gtrid_len u32, bqual_len u32, gtrid, bqual
//! Query (2)        thread_id u32, exec_time u32, schema_len u8, error_code u16,
//!                  status_vars_len u16, status_vars, schema, 0x00, query text
//! Rotate (4)       position u64, file name (no terminator)
//! FDE (15)         binlog_version u16, server_version [50], created u32, header_len u8,
//!                  post_header_len[one per type], checksum_alg u8, then always a 4-byte CRC
//! ```
//!
//! With `binlog_checksum=CRC32` every event ends with a CRC32 (IEEE, as zlib) of all its
//! preceding bytes; the FDE says whether the stream carries checksums.

use std::fmt;

/// Length of the common event header (binlog version 4).
pub const HEADER_LEN: usize = 19;
/// Length of the CRC32 that ends each event when checksums are on.
pub const CHECKSUM_LEN: usize = 4;

/// Event type codes this crate looks at.
pub mod types {
    pub const QUERY: u8 = 2;
    pub const STOP: u8 = 3;
    pub const ROTATE: u8 = 4;
    pub const INTVAR: u8 = 5;
    pub const RAND: u8 = 13;
    pub const USER_VAR: u8 = 14;
    pub const FORMAT_DESCRIPTION: u8 = 15;
    pub const XID: u8 = 16;
    pub const TABLE_MAP: u8 = 19;
    pub const WRITE_ROWS_V1: u8 = 23;
    pub const UPDATE_ROWS_V1: u8 = 24;
    pub const DELETE_ROWS_V1: u8 = 25;
    pub const INCIDENT: u8 = 26;
    pub const HEARTBEAT: u8 = 27;
    pub const WRITE_ROWS_V2: u8 = 30;
    pub const UPDATE_ROWS_V2: u8 = 31;
    pub const DELETE_ROWS_V2: u8 = 32;
    pub const XA_PREPARE: u8 = 38;
    /// MariaDB: the statement text of the following row events (dropped).
    pub const ANNOTATE_ROWS: u8 = 160;
    pub const BINLOG_CHECKPOINT: u8 = 161;
    pub const GTID: u8 = 162;
    pub const GTID_LIST: u8 = 163;
    pub const START_ENCRYPTION: u8 = 164;
    /// MariaDB `log_bin_compress`: compressed Query and Rows events (165..=171).
    pub const QUERY_COMPRESSED: u8 = 165;
    pub const ROWS_COMPRESSED_LAST: u8 = 171;

    /// Rows events whose images this crate decodes.
    pub fn is_rows(t: u8) -> bool {
        matches!(t, WRITE_ROWS_V1..=DELETE_ROWS_V1 | WRITE_ROWS_V2..=DELETE_ROWS_V2)
    }
}

/// Header flag: the event was made up by the sender (a Rotate or FDE at stream start), its
/// `log_pos` is not a position in the binlog.
pub const LOG_EVENT_ARTIFICIAL_F: u16 = 0x20;

/// MariaDB GTID `flags2` bits.
pub mod gtid_flags {
    /// No terminating COMMIT/XID: the group is this GTID plus one statement (DDL, XA COMMIT).
    pub const FL_STANDALONE: u8 = 1;
    /// A commit_id (u64) follows flags2.
    pub const FL_GROUP_COMMIT_ID: u8 = 2;
    pub const FL_TRANSACTIONAL: u8 = 4;
    pub const FL_ALLOW_PARALLEL: u8 = 8;
    pub const FL_WAITED: u8 = 16;
    pub const FL_DDL: u8 = 32;
    /// The group is an XA transaction's XA PREPARE; the xid follows.
    pub const FL_PREPARED_XA: u8 = 64;
    /// The group is XA COMMIT or XA ROLLBACK of a prepared transaction; the xid follows.
    pub const FL_COMPLETED_XA: u8 = 128;
}

/// Why bytes from the binlog stream could not be read. Specific variants so the caller can
/// tell a corrupt stream from an unsupported server setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinlogError {
    #[error("binlog event truncated: {what} needs {need} bytes, {have} available")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("binlog event size {header} in its header but {actual} bytes received")]
    SizeMismatch { header: u32, actual: usize },
    #[error("binlog event of type {event_type} ending at {log_pos} fails its CRC32 checksum")]
    BadChecksum { event_type: u8, log_pos: u32 },
    #[error("binlog checksum algorithm {0} is not supported (use binlog_checksum=CRC32 or NONE)")]
    UnsupportedChecksum(u8),
    #[error("binlog event of type {0} arrived before any Format_description event")]
    NoFormatDescription(u8),
    #[error("malformed Format_description event: {0}")]
    BadFormatDescription(String),
    #[error("malformed binlog event of type {event_type}: {what}")]
    Malformed { event_type: u8, what: String },
    #[error("binlog event of type {event_type} is not expected {context}")]
    Unexpected { event_type: u8, context: &'static str },
    #[error("binlog event of type {event_type} is not supported: {why}")]
    Unsupported { event_type: u8, why: &'static str },
    #[error("XA_PREPARE for xid {prepare} closes a group whose GTID event names xid {gtid}")]
    XidMismatch { gtid: String, prepare: String },
}

fn truncated(what: &'static str, need: usize, have: usize) -> BinlogError {
    BinlogError::Truncated { what, need, have }
}

/// A bounds-checked little-endian reader over one event's bytes.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], BinlogError> {
        if n > self.buf.len() {
            return Err(truncated(self.what, n, self.buf.len()));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, BinlogError> {
        Ok(self.take(1)?[0])
    }

    /// An unsigned little-endian integer of `n <= 8` bytes.
    pub(crate) fn uint(&mut self, n: usize) -> Result<u64, BinlogError> {
        Ok(le_uint(self.take(n)?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, BinlogError> {
        Ok(self.uint(2)? as u16)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, BinlogError> {
        Ok(self.uint(4)? as u32)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, BinlogError> {
        self.uint(8)
    }

    /// A length-encoded integer (1, 3, 4 or 9 bytes).
    pub(crate) fn lenenc(&mut self) -> Result<u64, BinlogError> {
        match self.u8()? {
            n @ 0..=250 => Ok(n.into()),
            0xfc => self.uint(2),
            0xfd => self.uint(3),
            0xfe => self.uint(8),
            b => Err(BinlogError::Malformed {
                event_type: 0,
                what: format!("{}: invalid length-encoded integer prefix {b:#04x}", self.what),
            }),
        }
    }
}

/// Little-endian unsigned integer of up to 8 bytes.
pub(crate) fn le_uint(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// The common header of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub timestamp: u32,
    pub event_type: u8,
    pub server_id: u32,
    pub event_size: u32,
    /// End position of the event in the binlog file (0 for some artificial events).
    pub log_pos: u32,
    pub flags: u16,
}

impl Header {
    /// Reads the header and checks that the event is exactly `event_size` bytes long.
    pub fn parse(raw: &[u8]) -> Result<Header, BinlogError> {
        let mut r = Reader::new(raw, "event header");
        let h = Header {
            timestamp: r.u32()?,
            event_type: r.u8()?,
            server_id: r.u32()?,
            event_size: r.u32()?,
            log_pos: r.u32()?,
            flags: r.u16()?,
        };
        if h.event_size as usize != raw.len() {
            return Err(BinlogError::SizeMismatch {
                header: h.event_size,
                actual: raw.len(),
            });
        }
        Ok(h)
    }

    /// Made up by the sender: its `log_pos` is no binlog position.
    pub fn is_artificial(&self) -> bool {
        self.flags & LOG_EVENT_ARTIFICIAL_F != 0
    }
}

/// CRC32 of everything but the last four bytes equals the last four bytes (little endian).
pub fn checksum_ok(raw: &[u8]) -> bool {
    if raw.len() < HEADER_LEN + CHECKSUM_LEN {
        return false;
    }
    let (data, sum) = raw.split_at(raw.len() - CHECKSUM_LEN);
    crc32fast::hash(data) == le_uint(sum) as u32
}

/// A parsed Format_description event, with its raw bytes (the applier replays events under
/// it, so it travels with them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDescription {
    raw: Vec<u8>,
    pub server_version: String,
    /// Whether every event of the stream (this FDE included) ends with a CRC32.
    pub checksum: bool,
    post_header: Vec<u8>,
}

/// Offsets inside the FDE body.
const FDE_VERSION_LEN: usize = 50;
const FDE_FIXED: usize = 2 + FDE_VERSION_LEN + 4 + 1;

impl FormatDescription {
    pub fn parse(raw: &[u8]) -> Result<FormatDescription, BinlogError> {
        let bad = |s: &str| BinlogError::BadFormatDescription(s.into());
        let h = Header::parse(raw)?;
        if h.event_type != types::FORMAT_DESCRIPTION {
            return Err(bad("not a Format_description event"));
        }
        let mut r = Reader::new(&raw[HEADER_LEN..], "Format_description");
        if r.remaining() < FDE_FIXED {
            return Err(truncated("Format_description", FDE_FIXED, r.remaining()));
        }
        if r.u16()? != 4 {
            return Err(bad("binlog version is not 4"));
        }
        let version = r.take(FDE_VERSION_LEN)?;
        let end = version.iter().position(|&b| b == 0).unwrap_or(version.len());
        let server_version = String::from_utf8_lossy(&version[..end]).into_owned();
        r.u32()?;
        if usize::from(r.u8()?) != HEADER_LEN {
            return Err(bad("common header length is not 19"));
        }
        // Servers from 5.6.1 / MariaDB 5.3 on end the FDE with the checksum algorithm byte and
        // a 4-byte checksum (present even when the algorithm is "off").
        let (post_header, checksum) = if version_at_least(&server_version, (5, 6, 1)) {
            let rest = r.rest();
            if rest.len() < 1 + CHECKSUM_LEN {
                return Err(truncated("Format_description checksum", 1 + CHECKSUM_LEN, rest.len()));
            }
            let alg = rest[rest.len() - 1 - CHECKSUM_LEN];
            let checksum = match alg {
                0 => false,
                1 => true,
                other => return Err(BinlogError::UnsupportedChecksum(other)),
            };
            if checksum && !checksum_ok(raw) {
                return Err(BinlogError::BadChecksum {
                    event_type: h.event_type,
                    log_pos: h.log_pos,
                });
            }
            (rest[..rest.len() - 1 - CHECKSUM_LEN].to_vec(), checksum)
        } else {
            (r.rest().to_vec(), false)
        };
        Ok(FormatDescription {
            raw: raw.to_vec(),
            server_version,
            checksum,
            post_header,
        })
    }

    /// The event exactly as received.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The post-header length the server declares for an event type, if it declares one.
    pub fn post_header_len(&self, event_type: u8) -> Option<usize> {
        let i = usize::from(event_type).checked_sub(1)?;
        self.post_header.get(i).map(|&n| usize::from(n))
    }

    /// Checks the size (and the CRC32 when the stream has checksums) of an event and returns
    /// its body: what follows the header, checksum removed.
    pub fn body<'a>(&self, raw: &'a [u8]) -> Result<&'a [u8], BinlogError> {
        let h = Header::parse(raw)?;
        let tail = if self.checksum { CHECKSUM_LEN } else { 0 };
        if raw.len() < HEADER_LEN + tail {
            return Err(truncated("event checksum", HEADER_LEN + tail, raw.len()));
        }
        if self.checksum && !checksum_ok(raw) {
            return Err(BinlogError::BadChecksum {
                event_type: h.event_type,
                log_pos: h.log_pos,
            });
        }
        Ok(&raw[HEADER_LEN..raw.len() - tail])
    }

    /// The event without its trailing checksum (header kept), checked like [`body`](Self::body).
    pub fn without_checksum<'a>(&self, raw: &'a [u8]) -> Result<&'a [u8], BinlogError> {
        let body = self.body(raw)?;
        Ok(&raw[..HEADER_LEN + body.len()])
    }

    /// The body past the event type's post-header (its variable part), and the post-header.
    pub fn split_post_header<'a>(
        &self,
        raw: &'a [u8],
        event_type: u8,
        default_len: usize,
    ) -> Result<(&'a [u8], &'a [u8]), BinlogError> {
        let body = self.body(raw)?;
        let n = self.post_header_len(event_type).unwrap_or(default_len);
        if body.len() < n {
            return Err(truncated("event post-header", n, body.len()));
        }
        Ok(body.split_at(n))
    }
}

/// `"10.11.19-MariaDB-..."` is at least `(major, minor, patch)`.
fn version_at_least(version: &str, min: (u32, u32, u32)) -> bool {
    let mut nums = version
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|s| s.parse::<u32>().unwrap_or(0));
    let v = (
        nums.next().unwrap_or(0),
        nums.next().unwrap_or(0),
        nums.next().unwrap_or(0),
    );
    v >= min
}

/// An XA transaction id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Xid {
    pub format_id: u32,
    pub gtrid: Vec<u8>,
    pub bqual: Vec<u8>,
}

/// Upper bounds of gtrid and bqual (the server's MAXGTRIDSIZE / MAXBQUALSIZE).
const MAX_XID_PART: usize = 64;

impl Xid {
    /// The xid as MariaDB prints it in the binlog and as XA statements accept it:
    /// `X'<gtrid hex>',X'<bqual hex>',<format_id>`.
    pub fn to_sql(&self) -> String {
        format!("X'{}',X'{}',{}", hex(&self.gtrid), hex(&self.bqual), self.format_id)
    }

    fn read(r: &mut Reader<'_>, len_bytes: usize, event_type: u8) -> Result<Xid, BinlogError> {
        let format_id = r.u32()?;
        let gtrid_len = r.uint(len_bytes)? as usize;
        let bqual_len = r.uint(len_bytes)? as usize;
        if gtrid_len > MAX_XID_PART || bqual_len > MAX_XID_PART {
            return Err(BinlogError::Malformed {
                event_type,
                what: format!("xid lengths {gtrid_len}/{bqual_len} exceed {MAX_XID_PART}"),
            });
        }
        Ok(Xid {
            format_id,
            gtrid: r.take(gtrid_len)?.to_vec(),
            bqual: r.take(bqual_len)?.to_vec(),
        })
    }
}

impl fmt::Display for Xid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sql())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A MariaDB global transaction id, `domain-server-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtid {
    pub domain: u32,
    pub server: u32,
    pub seq: u64,
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

/// A MariaDB GTID event: starts every event group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtidEvent {
    pub gtid: Gtid,
    /// [`gtid_flags`] bits.
    pub flags2: u8,
    /// Set when the group was committed in a group commit (`FL_GROUP_COMMIT_ID`).
    pub commit_id: Option<u64>,
    /// Set for XA PREPARE (`FL_PREPARED_XA`) and XA COMMIT/ROLLBACK (`FL_COMPLETED_XA`).
    pub xid: Option<Xid>,
}

impl GtidEvent {
    pub fn parse(fde: &FormatDescription, raw: &[u8]) -> Result<GtidEvent, BinlogError> {
        let h = Header::parse(raw)?;
        let mut r = Reader::new(fde.body(raw)?, "GTID event");
        let seq = r.u64()?;
        let domain = r.u32()?;
        let flags2 = r.u8()?;
        let commit_id = if flags2 & gtid_flags::FL_GROUP_COMMIT_ID != 0 {
            Some(r.u64()?)
        } else {
            None
        };
        let xid = if flags2 & (gtid_flags::FL_PREPARED_XA | gtid_flags::FL_COMPLETED_XA) != 0 {
            Some(Xid::read(&mut r, 1, types::GTID)?)
        } else {
            None
        };
        // What follows (flags_extra and its fields, or zero padding) does not matter here.
        Ok(GtidEvent {
            gtid: Gtid {
                domain,
                server: h.server_id,
                seq,
            },
            flags2,
            commit_id,
            xid,
        })
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags2 & flag != 0
    }
}

/// An XA_PREPARE event: ends the group written at XA PREPARE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XaPrepare {
    /// Set when the event ends `XA COMMIT ... ONE PHASE` (MariaDB 10.11 logs that as an
    /// ordinary transaction instead, but the format allows it).
    pub one_phase: bool,
    pub xid: Xid,
}

impl XaPrepare {
    pub fn parse(fde: &FormatDescription, raw: &[u8]) -> Result<XaPrepare, BinlogError> {
        let (_, body) = fde.split_post_header(raw, types::XA_PREPARE, 0)?;
        let mut r = Reader::new(body, "XA_PREPARE event");
        let one_phase = r.u8()? != 0;
        let xid = Xid::read(&mut r, 4, types::XA_PREPARE)?;
        Ok(XaPrepare { one_phase, xid })
    }
}

/// A Query event's default schema and statement text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The mysqld connection that ran the statement.
    pub thread_id: u32,
    pub schema: String,
    /// The statement as logged (in the session's character set; shown lossily as UTF-8).
    pub query: String,
}

/// Fixed part of a Query event's post-header.
const QUERY_POST_HEADER: usize = 13;

impl Query {
    pub fn parse(fde: &FormatDescription, raw: &[u8]) -> Result<Query, BinlogError> {
        let (post, var) = fde.split_post_header(raw, types::QUERY, QUERY_POST_HEADER)?;
        let mut p = Reader::new(post, "Query post-header");
        let thread_id = p.u32()?;
        p.take(4)?; // exec time
        let schema_len = usize::from(p.u8()?);
        p.take(2)?; // error code
        let status_len = usize::from(p.u16()?);
        let mut r = Reader::new(var, "Query event");
        r.take(status_len)?;
        let schema = String::from_utf8_lossy(r.take(schema_len)?).into_owned();
        if r.u8()? != 0 {
            return Err(BinlogError::Malformed {
                event_type: types::QUERY,
                what: "schema name not terminated".into(),
            });
        }
        Ok(Query {
            thread_id,
            schema,
            query: String::from_utf8_lossy(r.rest()).into_owned(),
        })
    }
}

/// A Rotate event: the following events come from `file`, starting at `position`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotate {
    pub position: u64,
    pub file: String,
}

impl Rotate {
    /// Parses a Rotate event. The artificial Rotate that opens a dump carries a CRC32 iff the
    /// dump asked for checksums (`@master_binlog_checksum`), whatever the file holds, and no
    /// FDE has declared anything yet: pass `checksum: None` and a trailing CRC32 is recognised
    /// by value (wrong only for a file name ending in the CRC of the rest: 2^-32). Later
    /// Rotates (real, or artificial at a file switch) follow the FDE of the file they end.
    pub fn parse(raw: &[u8], checksum: Option<bool>) -> Result<Rotate, BinlogError> {
        Header::parse(raw)?;
        let has_sum = checksum.unwrap_or_else(|| checksum_ok(raw));
        if has_sum && !checksum_ok(raw) {
            let h = Header::parse(raw)?;
            return Err(BinlogError::BadChecksum {
                event_type: h.event_type,
                log_pos: h.log_pos,
            });
        }
        let end = raw.len() - if has_sum { CHECKSUM_LEN } else { 0 };
        let mut r = Reader::new(raw.get(HEADER_LEN..end).unwrap_or_default(), "Rotate event");
        let position = r.u64()?;
        let file = String::from_utf8_lossy(r.rest()).into_owned();
        if file.is_empty() {
            return Err(BinlogError::Malformed {
                event_type: types::ROTATE,
                what: "empty file name".into(),
            });
        }
        Ok(Rotate { position, file })
    }
}
