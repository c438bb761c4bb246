//! Opening a raw connection to mysqld and reading its greeting.

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};

use crate::protocol::handshake::Greeting;
use crate::protocol::io::{BoxStream, IoError, PacketIo};

/// Where mysqld listens. A unix socket is preferred: it is faster on loopback and counts as a
/// secure transport, so `caching_sha2_password` full authentication can be relayed over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendAddr {
    Unix(PathBuf),
    Tcp(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to mysqld at {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("timed out connecting to mysqld at {0}")]
    Timeout(String),
    #[error("mysqld greeting: {0}")]
    Greeting(#[from] crate::protocol::handshake::HandshakeError),
    #[error("reading mysqld greeting: {0}")]
    Io(#[from] IoError),
    /// mysqld refused the connection before the handshake (too many connections, host
    /// blocked); the ERR payload is relayed to the client as is.
    #[error("mysqld refused the connection")]
    Refused(Vec<u8>),
}

impl std::fmt::Display for BackendAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendAddr::Unix(p) => write!(f, "unix:{}", p.display()),
            BackendAddr::Tcp(a) => write!(f, "{a}"),
        }
    }
}

/// A connection to mysqld in the connection phase or later.
pub struct BackendConn {
    pub io: PacketIo<BoxStream>,
    pub greeting: Greeting,
}

impl BackendConn {
    /// Connects, sends `header` first if given (a PROXY protocol header), and reads the
    /// server greeting.
    pub async fn connect(
        addr: &BackendAddr,
        header: Option<&[u8]>,
        timeout: Duration,
        limit: usize,
    ) -> Result<Self, ConnectError> {
        let connect = async {
            let mut stream: BoxStream = match addr {
                BackendAddr::Unix(p) => Box::new(UnixStream::connect(p).await?),
                BackendAddr::Tcp(a) => {
                    let s = TcpStream::connect(a.as_str()).await?;
                    s.set_nodelay(true)?;
                    Box::new(s)
                }
            };
            if let Some(h) = header {
                tokio::io::AsyncWriteExt::write_all(&mut stream, h).await?;
            }
            Ok::<_, std::io::Error>(stream)
        };
        let stream = match tokio::time::timeout(timeout, connect).await {
            Err(_) => return Err(ConnectError::Timeout(addr.to_string())),
            Ok(Err(source)) => {
                return Err(ConnectError::Connect {
                    addr: addr.to_string(),
                    source,
                })
            }
            Ok(Ok(s)) => s,
        };
        let mut io = PacketIo::new(stream, limit);
        let first = tokio::time::timeout(timeout, io.expect_packet())
            .await
            .map_err(|_| ConnectError::Timeout(addr.to_string()))??;
        if first.first() == Some(0xFF) {
            return Err(ConnectError::Refused(first.payload.to_vec()));
        }
        let greeting = Greeting::parse(&first.payload)?;
        Ok(Self { io, greeting })
    }
}
