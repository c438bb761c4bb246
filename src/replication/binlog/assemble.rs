//! Groups a member's binlog stream into transactions.
//!
//! mysqld writes one event group per transaction, opened by a MariaDB GTID event:
//!
//! ```text
//! XA PREPARE        GTID(FL_PREPARED_XA, xid) [Annotate_rows] Table_map Rows.. [SAVEPOINT..]
//!                   Query "XA END <xid>"  XA_PREPARE(xid)
//! XA COMMIT/ROLLBACK GTID(FL_COMPLETED_XA|FL_STANDALONE, xid)  Query "XA COMMIT <xid>"
//!                                                      (or "XA ROLLBACK <xid>")
//! ordinary commit   GTID  [Annotate_rows] Table_map Rows..  Xid      (or Query "COMMIT")
//! DDL               GTID(FL_STANDALONE|FL_DDL)  Query "<statement>"
//! ```
//!
//! Read-only XA transactions, and writing ones whose statements changed no row, write
//! nothing at XA PREPARE (nor at XA COMMIT): a caller waiting for its prepared group must know
//! beforehand whether one is coming (the session's `@@last_gtid` moves iff it was written).
//! `XA COMMIT ... ONE PHASE` is logged as an ordinary transaction (GTID .. Xid).
//!
//! [`Assembler::push`] validates each event completely before it acts on it. An event it
//! cannot read or place discards the open group (its events will never be complete) and the
//! assembler skips what follows until the next GTID event, so one bad event costs one error
//! and one group, never a group assembled with an event missing. A caller that wants the
//! lost group back restarts the dump at [`Assembler::resume_position`].

use super::event::{
    gtid_flags, types, BinlogError, FormatDescription, Gtid, GtidEvent, Header, Query, Rotate, XaPrepare, Xid,
};

/// A binlog position: file name and byte offset.
pub type Position = (String, u64);

/// One complete event group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    /// An XA transaction was prepared: its row events, ready to certify and replicate.
    Prepared {
        xid: Xid,
        gtid: Gtid,
        /// The Table_map and Rows events exactly as received (checksums included), in order;
        /// Annotate_rows events are dropped. Decode them under [`Assembler::fde_raw`].
        events: Vec<Vec<u8>>,
        /// Query events inside the group other than `XA END` and `SAVEPOINT`: statement-logged
        /// changes (e.g. `ROLLBACK TO` after touching a non-transactional table) that the row
        /// events alone do not describe. Non-empty means the transaction cannot be replicated
        /// from its row events.
        queries: Vec<String>,
        end_pos: Position,
    },
    /// A prepared XA transaction was committed (`commit`) or rolled back.
    XaCompleted {
        xid: Xid,
        commit: bool,
        gtid: Gtid,
        end_pos: Position,
    },
    /// Any other group: an ordinary transaction, `XA COMMIT ... ONE PHASE`, or a standalone
    /// statement (DDL). Through the proxy these do not happen, so they are writes that
    /// bypassed it.
    Plain {
        gtid: Gtid,
        events: Vec<Vec<u8>>,
        /// Statement text of the group's Query events (the DDL statement, statement-logged DML),
        /// without the terminating `COMMIT`.
        queries: Vec<String>,
        /// The mysqld connection that ran the group's first Query event, if it has one.
        thread_id: Option<u32>,
        end_pos: Position,
    },
}

/// The open event group.
#[derive(Debug, Clone)]
struct Group {
    gtid: GtidEvent,
    start: Position,
    events: Vec<Vec<u8>>,
    queries: Vec<String>,
    thread_id: Option<u32>,
}

/// Turns the raw events of a binlog stream, in order, into [`Assembled`] groups.
#[derive(Debug, Clone, Default)]
pub struct Assembler {
    fde: Option<FormatDescription>,
    file: String,
    pos: u64,
    group: Option<Group>,
    /// After an error: where the discarded group started; events are skipped until the next
    /// GTID event.
    damaged: Option<Position>,
}

/// What one event does to the assembler, decided before any state changes.
enum Step {
    /// Nothing but the position.
    Skip,
    /// The server has sent everything up to the heartbeat's position in `file`.
    Heartbeat {
        file: String,
    },
    Rotate(Rotate),
    Fde(FormatDescription),
    Open(GtidEvent),
    /// Append a row event to the open group.
    Keep,
    /// Append a statement to the open group.
    Statement(String),
    Close(Close),
}

enum Close {
    Prepared(Xid),
    Completed { xid: Xid, commit: bool },
    Plain { last_query: Option<String> },
}

impl Assembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// The current Format_description event, raw (row events are replayed under it).
    pub fn fde_raw(&self) -> Option<&[u8]> {
        self.fde.as_ref().map(|f| f.raw())
    }

    pub fn fde(&self) -> Option<&FormatDescription> {
        self.fde.as_ref()
    }

    /// End of the last event consumed: (binlog file, offset). Empty before the first Rotate.
    pub fn position(&self) -> Position {
        (self.file.clone(), self.pos)
    }

    /// Where a new dump should start so that no group is lost: the start of the open group
    /// (or of the group an error discarded) if there is one, else
    /// [`position`](Self::position).
    pub fn resume_position(&self) -> Position {
        match (&self.group, &self.damaged) {
            (Some(g), _) => g.start.clone(),
            (None, Some(start)) => start.clone(),
            (None, None) => self.position(),
        }
    }

    /// Whether an event group is open (its GTID event seen, its end not yet).
    pub fn in_group(&self) -> bool {
        self.group.is_some()
    }

    /// Consumes one event (as received from COM_BINLOG_DUMP, without the leading OK byte).
    /// Returns the group it completes, if any.
    pub fn push(&mut self, raw: &[u8]) -> Result<Option<Assembled>, BinlogError> {
        let step = Header::parse(raw).and_then(|h| Ok((h, self.decide(&h, raw)?)));
        let (h, step) = match step {
            Ok(s) => s,
            Err(e) => {
                let start = match self.group.take() {
                    Some(g) => g.start,
                    None => self.position(),
                };
                self.damaged.get_or_insert(start);
                return Err(e);
            }
        };
        // Validation is over: from here on, only state changes.
        let advances = match &step {
            Step::Heartbeat { file } => self.group.is_none() && *file == self.file,
            _ => true,
        };
        if advances && h.log_pos != 0 && !h.is_artificial() {
            self.pos = u64::from(h.log_pos);
        }
        if h.event_type == types::QUERY {
            // The post-header of a (v4) Query event opens with the connection's thread id.
            if let (Some(g), Some(id)) = (self.group.as_mut(), raw.get(19..23)) {
                g.thread_id
                    .get_or_insert(u32::from_le_bytes([id[0], id[1], id[2], id[3]]));
            }
        }
        match step {
            Step::Skip | Step::Heartbeat { .. } => Ok(None),
            Step::Rotate(r) => {
                self.file = r.file;
                self.pos = r.position;
                Ok(None)
            }
            Step::Fde(f) => {
                self.fde = Some(f);
                Ok(None)
            }
            Step::Open(gtid) => {
                self.damaged = None;
                let start = if h.log_pos != 0 && !h.is_artificial() {
                    u64::from(h.log_pos).saturating_sub(u64::from(h.event_size))
                } else {
                    self.pos
                };
                self.group = Some(Group {
                    gtid,
                    start: (self.file.clone(), start),
                    events: Vec::new(),
                    queries: Vec::new(),
                    thread_id: None,
                });
                Ok(None)
            }
            Step::Keep => {
                if let Some(g) = self.group.as_mut() {
                    g.events.push(raw.to_vec());
                }
                Ok(None)
            }
            Step::Statement(q) => {
                if let Some(g) = self.group.as_mut() {
                    g.queries.push(q);
                }
                Ok(None)
            }
            Step::Close(close) => Ok(self.group.take().map(|g| self.finish(g, close))),
        }
    }

    fn finish(&self, g: Group, close: Close) -> Assembled {
        let end_pos = self.position();
        let gtid = g.gtid.gtid;
        match close {
            Close::Prepared(xid) => Assembled::Prepared {
                xid,
                gtid,
                events: g.events,
                queries: g.queries,
                end_pos,
            },
            Close::Completed { xid, commit } => Assembled::XaCompleted {
                xid,
                commit,
                gtid,
                end_pos,
            },
            Close::Plain { last_query } => {
                let mut queries = g.queries;
                queries.extend(last_query);
                Assembled::Plain {
                    gtid,
                    events: g.events,
                    queries,
                    thread_id: g.thread_id,
                    end_pos,
                }
            }
        }
    }

    /// Parses and checks one event against the current state, changing nothing.
    fn decide(&self, h: &Header, raw: &[u8]) -> Result<Step, BinlogError> {
        let t = h.event_type;
        let unexpected = |context| Err(BinlogError::Unexpected { event_type: t, context });
        match t {
            types::ROTATE => {
                if self.group.is_some() {
                    return unexpected("inside a transaction");
                }
                return Ok(Step::Rotate(Rotate::parse(raw, self.fde.as_ref().map(|f| f.checksum))?));
            }
            types::FORMAT_DESCRIPTION => {
                if self.group.is_some() {
                    return unexpected("inside a transaction");
                }
                return Ok(Step::Fde(FormatDescription::parse(raw)?));
            }
            _ => {}
        }
        let Some(fde) = self.fde.as_ref() else {
            return Err(BinlogError::NoFormatDescription(t));
        };
        fde.body(raw)?; // size and checksum of every other event
        if (types::QUERY_COMPRESSED..=types::ROWS_COMPRESSED_LAST).contains(&t) {
            return Err(BinlogError::Unsupported {
                event_type: t,
                why: "compressed binlog events (log_bin_compress=ON)",
            });
        }
        match t {
            types::HEARTBEAT => {
                let body = fde.body(raw)?;
                let file = String::from_utf8_lossy(body).into_owned();
                return Ok(Step::Heartbeat { file });
            }
            types::INCIDENT => {
                return Err(BinlogError::Unsupported {
                    event_type: t,
                    why: "an Incident event: the server lost binlog data",
                })
            }
            _ => {}
        }
        let Some(group) = self.group.as_ref() else {
            return match t {
                types::GTID => Ok(Step::Open(GtidEvent::parse(fde, raw)?)),
                types::GTID_LIST | types::BINLOG_CHECKPOINT | types::STOP | types::START_ENCRYPTION => Ok(Step::Skip),
                // The rest of a group an error discarded.
                _ if self.damaged.is_some() => Ok(Step::Skip),
                _ => unexpected("outside a transaction (no GTID event opened one)"),
            };
        };
        let prepared = group.gtid.has(gtid_flags::FL_PREPARED_XA);
        let completed = match &group.gtid.xid {
            Some(xid) if group.gtid.has(gtid_flags::FL_COMPLETED_XA) => Some(xid),
            _ => None,
        };
        let standalone = group.gtid.has(gtid_flags::FL_STANDALONE);
        match t {
            types::ANNOTATE_ROWS => Ok(Step::Skip),
            types::TABLE_MAP => Ok(Step::Keep),
            t if types::is_rows(t) => Ok(Step::Keep),
            // Statement-format context for the Query that follows.
            types::INTVAR | types::RAND | types::USER_VAR => Ok(Step::Skip),
            types::QUERY => {
                let q = Query::parse(fde, raw)?.query;
                let word = |w: &str| starts_with_words(&q, w);
                if let Some(xid) = completed {
                    let commit = if word("XA COMMIT") {
                        true
                    } else if word("XA ROLLBACK") {
                        false
                    } else {
                        return Err(BinlogError::Malformed {
                            event_type: t,
                            what: format!("XA completion group holds {q:?}"),
                        });
                    };
                    return Ok(Step::Close(Close::Completed {
                        xid: xid.clone(),
                        commit,
                    }));
                }
                if standalone {
                    return Ok(Step::Close(Close::Plain { last_query: Some(q) }));
                }
                if q.trim().eq_ignore_ascii_case("COMMIT") {
                    return Ok(Step::Close(Close::Plain { last_query: None }));
                }
                if q.trim().eq_ignore_ascii_case("ROLLBACK") {
                    // Only non-transactional changes survive a logged ROLLBACK: still writes.
                    return Ok(Step::Close(Close::Plain { last_query: Some(q) }));
                }
                if (prepared && word("XA END")) || word("SAVEPOINT") {
                    // Markers: a savepoint rolled back to is already cut from the group when
                    // only transactional tables changed (otherwise a ROLLBACK TO is logged).
                    return Ok(Step::Skip);
                }
                Ok(Step::Statement(q))
            }
            types::XID if !prepared => Ok(Step::Close(Close::Plain { last_query: None })),
            types::XA_PREPARE => {
                let p = XaPrepare::parse(fde, raw)?;
                if p.one_phase {
                    return Ok(Step::Close(Close::Plain { last_query: None }));
                }
                match &group.gtid.xid {
                    Some(x) if prepared && *x == p.xid => Ok(Step::Close(Close::Prepared(p.xid))),
                    Some(x) if prepared => Err(BinlogError::XidMismatch {
                        gtid: x.to_sql(),
                        prepare: p.xid.to_sql(),
                    }),
                    _ => unexpected("in a group whose GTID event is not an XA PREPARE"),
                }
            }
            types::GTID => unexpected("before the open transaction ended"),
            _ => unexpected("inside a transaction"),
        }
    }
}

/// `text` starts with the words of `prefix` (ASCII case-insensitive, single spaces in
/// `prefix` match any run of whitespace), followed by the end or a non-word character.
fn starts_with_words(text: &str, prefix: &str) -> bool {
    let mut rest = text.trim_start();
    for (i, word) in prefix.split(' ').enumerate() {
        if i > 0 {
            let trimmed = rest.trim_start();
            if trimmed.len() == rest.len() {
                return false;
            }
            rest = trimmed;
        }
        match rest.get(..word.len()) {
            Some(head) if head.eq_ignore_ascii_case(word) => rest = &rest[word.len()..],
            _ => return false,
        }
    }
    !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
}
