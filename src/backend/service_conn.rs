//! A raw connection to mysqld under the proxy's own (service) account that runs a
//! multi-statement query and reads its answers by count, in one round trip.
//!
//! The replication applier needs it: MariaDB answers a `BINLOG` statement of row events with
//! an OK that lacks SERVER_MORE_RESULTS_EXISTS although the statements behind it in the same
//! query run and answer too (seen on 10.11). A client that trusts the flag (`mysql_async`)
//! stops at the `BINLOG` and reads the rest as the answer to its next query; this one knows
//! how many statements it sent, so `START TRANSACTION; INSERT ...; BINLOG '...'; COMMIT` is
//! one query and one round trip. Only statements that answer with an OK or an ERR belong
//! here: a result set is a protocol error.

use std::time::Duration;

use mysql_common::constants::{CapabilityFlags as Caps, StatusFlags};

use super::conn::{BackendAddr, BackendConn};
use super::login::{login_with, LOGIN_CAPS};
use crate::protocol::command::COM_QUERY;
use crate::protocol::io::{BoxStream, PacketIo};
use crate::protocol::response::{parse_err, parse_ok};

/// Where and as whom a service connection logs in.
#[derive(Debug, Clone)]
pub struct ServiceTarget {
    pub addr: BackendAddr,
    pub user: String,
    pub password: String,
}

impl ServiceTarget {
    /// The target of a `mysql_async` side connection's options (its unix socket when it has one).
    pub fn from_opts(opts: &mysql_async::Opts) -> Self {
        let addr = match opts.socket() {
            Some(s) => BackendAddr::Unix(s.into()),
            None => {
                let host = opts.ip_or_hostname();
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host.to_string()
                };
                BackendAddr::Tcp(format!("{host}:{}", opts.tcp_port()))
            }
        };
        ServiceTarget {
            addr,
            user: opts.user().unwrap_or_default().to_string(),
            password: opts.pass().unwrap_or_default().to_string(),
        }
    }
}

/// Why a query on a service connection failed. `code` is mysqld's error code when mysqld
/// answered with an error; otherwise the connection is broken and must be dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    pub code: Option<u16>,
    pub message: String,
}

impl ServiceError {
    fn broken(message: impl Into<String>) -> Self {
        ServiceError {
            code: None,
            message: message.into(),
        }
    }
}

/// Largest packet read from mysqld: only OK and ERR packets are expected.
const READ_LIMIT: usize = 1 << 20;

pub struct ServiceConn {
    io: PacketIo<BoxStream>,
}

impl ServiceConn {
    /// Connects, logs in (`mysql_native_password`) with multi-statements on, and runs `setup`
    /// (one statement, e.g. the session's variables).
    pub async fn open(target: &ServiceTarget, setup: &str, timeout: Duration) -> Result<Self, ServiceError> {
        let mut conn = BackendConn::connect(&target.addr, None, timeout, READ_LIMIT)
            .await
            .map_err(|e| ServiceError::broken(e.to_string()))?;
        let caps = LOGIN_CAPS | Caps::CLIENT_MULTI_STATEMENTS;
        let login = login_with(&mut conn, &target.user, &target.password, None, caps, None);
        match tokio::time::timeout(timeout, login).await {
            Err(_) => {
                return Err(ServiceError::broken(format!(
                    "timed out logging in to mysqld at {}",
                    target.addr
                )))
            }
            Ok(Err(e)) => {
                return Err(ServiceError::broken(format!(
                    "service account login at {}: {e}",
                    target.addr
                )))
            }
            Ok(Ok(got)) if !got.contains(Caps::CLIENT_MULTI_STATEMENTS) => {
                return Err(ServiceError::broken("mysqld does not offer multi-statements"));
            }
            Ok(Ok(_)) => {}
        }
        let mut c = ServiceConn { io: conn.io };
        c.run(setup, 1).await?;
        Ok(c)
    }

    /// Sends `sql`, which holds `statements` statements that each answer with an OK, and
    /// reads that many answers. The first ERR ends the query (mysqld runs nothing after it)
    /// and is returned with its code; the connection stays usable, inside whatever
    /// transaction the statements before the error opened.
    pub async fn run(&mut self, sql: &str, statements: usize) -> Result<(), ServiceError> {
        let mut payload = Vec::with_capacity(sql.len() + 1);
        payload.push(COM_QUERY);
        payload.extend_from_slice(sql.as_bytes());
        self.io
            .send(0, &payload)
            .await
            .map_err(|e| ServiceError::broken(format!("sending to mysqld: {e}")))?;
        for n in 1..=statements {
            let p = self
                .io
                .expect_packet()
                .await
                .map_err(|e| ServiceError::broken(format!("reading from mysqld: {e}")))?;
            match p.first() {
                Some(0x00) => {
                    let ok = parse_ok(&p.payload).ok_or_else(|| ServiceError::broken("malformed OK packet"))?;
                    let more = ok.status & StatusFlags::SERVER_MORE_RESULTS_EXISTS.bits() != 0;
                    if n == statements && more {
                        return Err(ServiceError::broken(format!(
                            "mysqld answers more than the {statements} statements sent"
                        )));
                    }
                }
                Some(0xFF) => {
                    let (code, message) = parse_err(&p.payload);
                    return Err(ServiceError {
                        code: Some(code),
                        message: format!("ERROR {code}: {message}"),
                    });
                }
                _ => return Err(ServiceError::broken("unexpected result set from mysqld")),
            }
        }
        Ok(())
    }
}
