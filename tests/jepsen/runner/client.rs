//! A client's session with one member, and how an operation's end is read from what the
//! client saw.
//!
//! mysql_async is not cancel-safe, so a whole operation runs under one timeout and the
//! connection is discarded when it fires (or after any connection error). The outcome rules:
//! - OK for COMMIT (or for the autocommit statement): `Ok`;
//! - 1213 (certification conflict, brute-force abort; SQLSTATE 40001): `Fail`, rolled back;
//! - 1180 (grproxy: commit outcome unknown): `Info`;
//! - any other error, or a timeout, before COMMIT was sent: `Fail` (the transaction is rolled
//!   back explicitly, or its connection is closed, which rolls it back);
//! - any other error, or a timeout, once COMMIT (or the autocommit write) was sent: `Info`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::Conn;

use crate::jepsen::{OpId, OpValue, Outcome, Recorder};

/// The longest an operation may take before the client gives up on it (and its connection).
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause after failing to connect, before trying again.
pub const RECONNECT_PAUSE: Duration = Duration::from_millis(300);

/// grproxy's "the commit outcome is unknown" (ClientError::CommitUnknown).
pub const ER_COMMIT_UNKNOWN: u16 = 1180;
/// Certification conflict / brute-force abort.
pub const ER_LOCK_DEADLOCK: u16 = 1213;

/// What the client learned about an operation.
#[derive(Debug)]
pub enum Ended<T> {
    Ok(T),
    Fail(String),
    Info(String),
}

/// What an operation's body returns: the value, or a reason it gave up on its own (having
/// rolled back), or the error that stopped it.
pub type BodyResult<T> = Result<Result<T, String>, mysql_async::Error>;

/// Marks the point where an operation sends COMMIT (or its autocommit write): from there on,
/// an error leaves the outcome unknown.
#[derive(Default)]
pub struct CommitMark(AtomicBool);

impl CommitMark {
    pub fn committing(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn sent(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One client's connection to one member, made again after it is lost.
pub struct Session {
    pub member: usize,
    opts: mysql_async::Opts,
    conn: Option<Conn>,
}

impl Session {
    pub fn new(member: usize, opts: mysql_async::Opts) -> Self {
        Session {
            member,
            opts,
            conn: None,
        }
    }

    /// The connection, made now if there is none. None if the member did not accept one in
    /// time (the caller pauses and tries again).
    pub async fn conn(&mut self) -> Option<&mut Conn> {
        if self.conn.is_none() {
            let c = tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(self.opts.clone())).await;
            self.conn = c.ok().and_then(Result::ok);
        }
        self.conn.as_mut()
    }

    pub fn discard(&mut self) {
        self.conn = None;
    }

    /// Turns a timed body's result into the op's end, cleaning up the connection: rolled back
    /// after an error before COMMIT, discarded after a connection error or timeout.
    pub async fn settle<T>(
        &mut self,
        r: Result<BodyResult<T>, tokio::time::error::Elapsed>,
        mark: &CommitMark,
    ) -> Ended<T> {
        let committing = mark.sent();
        let e = match r {
            Err(_) => {
                self.discard();
                return if committing {
                    Ended::Info(format!("no answer to COMMIT in {OP_TIMEOUT:?}"))
                } else {
                    Ended::Fail(format!("timed out after {OP_TIMEOUT:?} before COMMIT"))
                };
            }
            Ok(Ok(Ok(v))) => return Ended::Ok(v),
            Ok(Ok(Err(reason))) => return Ended::Fail(reason),
            Ok(Err(e)) => e,
        };
        let text = e.to_string();
        match &e {
            mysql_async::Error::Server(s) if s.code == ER_LOCK_DEADLOCK => {
                if !committing {
                    self.rollback().await;
                }
                Ended::Fail(text)
            }
            mysql_async::Error::Server(s) if s.code == ER_COMMIT_UNKNOWN => {
                self.discard();
                Ended::Info(text)
            }
            mysql_async::Error::Server(_) if !committing => {
                self.rollback().await;
                Ended::Fail(text)
            }
            mysql_async::Error::Server(_) => {
                self.discard();
                Ended::Info(text)
            }
            _ => {
                self.discard();
                if committing {
                    Ended::Info(text)
                } else {
                    Ended::Fail(text)
                }
            }
        }
    }

    /// Rolls back an open transaction; a connection that cannot is discarded (closing it
    /// rolls back too).
    async fn rollback(&mut self) {
        let Some(c) = self.conn.as_mut() else { return };
        let r = tokio::time::timeout(Duration::from_secs(3), c.query_drop("ROLLBACK")).await;
        if !matches!(r, Ok(Ok(()))) {
            self.discard();
        }
    }
}

/// Records an op's end; returns its outcome.
pub fn record(rec: &Recorder, op: OpId, ended: Ended<OpValue>) -> Outcome {
    match ended {
        Ended::Ok(v) => {
            rec.ok(op, v);
            Outcome::Ok
        }
        Ended::Fail(e) => {
            rec.fail(op, e);
            Outcome::Fail
        }
        Ended::Info(e) => {
            rec.info(op, e);
            Outcome::Info
        }
    }
}
