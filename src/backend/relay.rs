//! Forwarding one command's response from mysqld to the client without decoding it. The
//! response bytes are scanned in the backend's read buffer (chunk headers and the first bytes of
//! each logical packet, see [`ResponseState`]) and written to the client in the same large
//! pieces they arrived in: one read, one write, no per-row work.

use bytes::Buf;

use crate::protocol::io::{BoxStream, IoError, PacketIo};
use crate::protocol::packet::{chunk_header, HEADER_LEN, MAX_CHUNK};
use crate::protocol::response::{ResponseError, ResponseState, Step};

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("client connection: {0}")]
    Client(std::io::Error),
    #[error("backend connection: {0}")]
    Backend(IoError),
    #[error(transparent)]
    Protocol(#[from] ResponseError),
}

/// Relays server packets to `client` until the response is complete (`Step::Done`) or the
/// server asks for a LOCAL INFILE (`Step::LocalInfile`, its request already forwarded).
pub async fn relay_response(
    backend: &mut PacketIo<BoxStream>,
    client: &mut PacketIo<BoxStream>,
    state: &mut ResponseState,
) -> Result<Step, RelayError> {
    let mut in_split = false;
    loop {
        let buf = backend.read_buffer();
        let mut scan = 0usize;
        let mut step = Step::More;
        while let Some((len, _)) = chunk_header(&buf[scan..]) {
            let end = scan + HEADER_LEN + len;
            if buf.len() < end {
                break;
            }
            let first_chunk = !in_split;
            in_split = len == MAX_CHUNK;
            if first_chunk {
                step = state.feed(&buf[scan + HEADER_LEN..end], len)?;
            }
            scan = end;
            if step != Step::More {
                if in_split {
                    return Err(ResponseError("response ended inside a split packet").into());
                }
                break;
            }
        }
        if scan > 0 {
            client.write_through(&buf[..scan]).await.map_err(RelayError::Client)?;
            backend.read_buffer().advance(scan);
        }
        if step != Step::More {
            return Ok(step);
        }
        // While mysqld works (`SELECT GET_LOCK(..., 3600)`, `SELECT SLEEP(60)`), watch the
        // client too: a client that hangs up ends the session now, and the session's error path
        // kills the statement, as mysqld itself notices a vanished client in such waits
        // (mysql-test `main.dirty_close`). Bytes a client sends early stay in its buffer for
        // the next command; past a bound the client is no longer read until the response ends.
        let watch_client = client.read_buffer().len() < CLIENT_READ_AHEAD;
        tokio::select! {
            r = backend.fill() => match r {
                Ok(0) => return Err(RelayError::Backend(IoError::Truncated)),
                Ok(_) => {}
                Err(e) => return Err(RelayError::Backend(e.into())),
            },
            r = client.fill(), if watch_client => match r {
                Ok(0) => {
                    return Err(RelayError::Client(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "client closed the connection during a response",
                    )))
                }
                Ok(_) => {}
                Err(e) => return Err(RelayError::Client(e)),
            },
        }
    }
}

/// How much a client may send ahead while its previous command's response is relayed.
const CLIENT_READ_AHEAD: usize = 64 * 1024;
