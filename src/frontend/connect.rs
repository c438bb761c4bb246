//! The connection phase of one client: greet with mysqld's own greeting, terminate TLS if the
//! client asks, and relay the authentication exchange until mysqld says OK or ERR.
//!
//! ```text
//! client            grproxy                      mysqld
//!   |                  |-------- connect ----------->|
//!   |                  |<------- greeting (seq 0) ---|
//!   |<- greeting' -----|  (caps patched)             |
//!   |-- SSLRequest --->|  (optional; TLS starts)     |
//!   |-- response ----->|-- response' (seq 1) ------->|
//!   |<======== auth switch / more data, relayed =====>|
//!   |<-------- OK / ERR (seq shifted back) ----------|
//! ```
//! The two legs number packets differently once the client used TLS (its SSLRequest took a
//! sequence id), so packets are renumbered by a fixed offset in each direction.

use std::net::SocketAddr;

use mysql_common::constants::CapabilityFlags as Caps;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::context::Context;
use super::errors::ClientError;
use super::registry::UserSlot;
use super::tls::TlsMode;
use crate::backend::conn::ConnectError;
use crate::backend::BackendConn;
use crate::protocol::handshake::{response_for_server, ClientHello, HandshakeError};
use crate::protocol::io::{BoxStream, IoError, PacketIo};
use crate::protocol::packet::shift_seq;
use crate::protocol::response::parse_err;

/// Why a connection ended before the command phase.
#[derive(Debug, thiserror::Error)]
pub enum ConnectFailure {
    /// Told the client (an ERR was sent) and closed.
    #[error("refused: {0}")]
    Refused(ClientError),
    #[error("authentication failed: {0} {1}")]
    AuthFailed(u16, String),
    #[error("backend: {0}")]
    Backend(#[from] ConnectError),
    #[error("client: {0}")]
    Client(IoError),
    #[error("backend during authentication: {0}")]
    BackendIo(IoError),
    #[error("TLS handshake: {0}")]
    Tls(std::io::Error),
    #[error("handshake timed out")]
    Timeout,
}

/// An authenticated pair of connections, ready for commands.
pub struct Established {
    pub client: PacketIo<BoxStream>,
    pub backend: PacketIo<BoxStream>,
    pub backend_id: u32,
    pub caps: Caps,
    pub user: String,
    pub user_slot: UserSlot,
    pub secure: bool,
    /// Server status flags of mysqld's login OK.
    pub status: u16,
    /// The database the client logged in to, if any.
    pub database: Option<String>,
    /// What the client proved at login (see `identity`).
    pub proof: super::identity::Proof,
    /// The client's handshake response as sent to mysqld (capabilities, collation and
    /// MariaDB capabilities in force).
    pub hello: Vec<u8>,
    /// Another member logged this session in on a client's behalf.
    pub forwarded_by: Option<u64>,
}

/// Largest packet a client may send before it is authenticated: a handshake response with
/// connection attributes, or an authentication reply, is a few hundred bytes; nobody who has
/// not logged in gets to make the proxy buffer `max_packet`.
pub const PRE_AUTH_MAX_PACKET: usize = 64 * 1024;

/// Runs the connection phase. `secure_transport` is true for unix-socket clients; `addrs` is
/// (the client's address, the listener's address) for TCP clients.
pub async fn establish(
    ctx: &Context,
    mut stream: BoxStream,
    secure_transport: bool,
    addrs: Option<(SocketAddr, SocketAddr)>,
) -> Result<Established, ConnectFailure> {
    let s = &ctx.settings;
    let header = s
        .proxy_protocol
        .then(|| crate::backend::proxy_header::v1(addrs.map(|a| a.0), addrs.map(|a| a.1)));
    let Some(session_backend) = &s.session_backend else {
        return Err(ConnectFailure::Refused(ClientError::BackendUnavailable));
    };
    let addr = crate::backend::BackendAddr::Tcp(session_backend.clone());
    let backend = match BackendConn::connect(&addr, header.as_deref(), s.connect_timeout, s.max_packet).await {
        Ok(b) => b,
        Err(ConnectError::Refused(err)) => {
            let mut client = PacketIo::new(stream, s.max_packet);
            let _ = client.send(0, &err).await;
            let (code, msg) = parse_err(&err);
            return Err(ConnectFailure::AuthFailed(code, msg));
        }
        Err(e) => {
            // The client gets a server error code (1053) with the real reason, as mysqld
            // itself would word it; the log line (listener) names the address too.
            let reason = match &e {
                ConnectError::Connect { .. } | ConnectError::Timeout(_) => e.to_string(),
                _ => format!("mysqld at {addr}: {e}"),
            };
            let mut client = PacketIo::new(stream, s.max_packet);
            let _ = client
                .send(0, &ClientError::BackendUnreachable(reason).payload_before_greeting())
                .await;
            return Err(e.into());
        }
    };
    let BackendConn {
        io: mut backend,
        greeting,
    } = backend;
    let offered = greeting.offered(ctx.tls_enabled(), s.local_infile);

    // The greeting keeps mysqld's thread id: the id a client cancels with is the one
    // CONNECTION_ID() and the processlist show (`kill.rs`).
    let mut greet = bytes::BytesMut::new();
    crate::protocol::packet::encode_packet(0, &greeting.for_client(greeting.connection_id, offered), &mut greet);
    stream
        .write_all(&greet)
        .await
        .map_err(|e| ConnectFailure::Client(e.into()))?;

    // The first client packet is read with exact reads, so no byte after it is buffered here:
    // after an SSLRequest everything that follows belongs to the TLS handshake.
    let pre_auth = s.max_packet.min(PRE_AUTH_MAX_PACKET);
    let (mut first, mut seq) = match read_exact_packet(&mut stream, pre_auth).await {
        Ok(x) => x,
        Err(ConnectFailure::Refused(e)) => return refuse(stream, 0, e, s.max_packet).await,
        Err(e) => return Err(e),
    };
    let mut hello = match parse_hello(&first) {
        Ok(h) => h,
        Err(e) => return refuse(stream, seq, malformed(e), s.max_packet).await,
    };
    let mut secure = secure_transport;
    if hello.ssl_request {
        let Some(acceptor) = &ctx.tls else {
            return Err(ConnectFailure::Refused(ClientError::Malformed));
        };
        let tls = acceptor.accept(stream).await.map_err(ConnectFailure::Tls)?;
        stream = Box::new(tls);
        secure = true;
        let (p, sq) = match read_exact_packet(&mut stream, pre_auth).await {
            Ok(x) => x,
            Err(ConnectFailure::Refused(e)) => return refuse(stream, 1, e, s.max_packet).await,
            Err(e) => return Err(e),
        };
        first = p;
        seq = sq;
        hello = match parse_hello(&first) {
            Ok(h) => h,
            Err(e) => return refuse(stream, seq, malformed(e), s.max_packet).await,
        };
        if hello.ssl_request {
            return refuse(stream, seq, ClientError::Malformed, s.max_packet).await;
        }
    }
    if s.tls_mode == TlsMode::Required && !secure {
        return refuse(stream, seq, ClientError::InsecureTransport, s.max_packet).await;
    }
    let user = String::from_utf8_lossy(&hello.user).into_owned();
    let user_slot = match ctx.registry.acquire_user(&user, ctx.limits.per_user()) {
        Ok(slot) => slot,
        Err(e) => return refuse(stream, seq, e, s.max_packet).await,
    };

    let mut client = PacketIo::new(stream, pre_auth);
    let (fwd, caps) = response_for_server(&first, offered);
    backend
        .send(1, &fwd)
        .await
        .map_err(|e| ConnectFailure::BackendIo(e.into()))?;
    // Client numbering minus server numbering.
    let delta = seq.wrapping_sub(1);
    let mut proof = super::identity::Proof {
        plugin: hello.auth_plugin.clone(),
        nonce: greeting.nonce.clone(),
        response: hello.auth_response.clone(),
    };
    let result = relay_auth(&mut client, &mut backend, delta, Some(&mut proof)).await?;
    client.set_limit(s.max_packet);
    match result {
        AuthResult::Ok(status) => {
            // Both legs switch to the compressed protocol after the login OK: mysqld's own
            // leg too, so the session is what mysqld reports (`Compression` ON) and the
            // relay decodes mysqld's packets and encodes the client's.
            if caps.contains(Caps::CLIENT_COMPRESS) {
                client.enable_compression(crate::protocol::compress::Role::Server);
                backend.enable_compression(crate::protocol::compress::Role::Client);
            }
            Ok(Established {
                status,
                database: hello.database.as_ref().map(|d| String::from_utf8_lossy(d).into_owned()),
                client,
                backend,
                backend_id: greeting.connection_id,
                caps,
                user,
                user_slot,
                secure,
                proof,
                hello: fwd,
                forwarded_by: hello.forwarded_by,
            })
        }
        AuthResult::Err(code, msg) => Err(ConnectFailure::AuthFailed(code, msg)),
    }
}

fn parse_hello(payload: &[u8]) -> Result<ClientHello, HandshakeError> {
    ClientHello::parse(payload)
}

fn malformed(e: HandshakeError) -> ClientError {
    tracing::debug!(error = %e, "bad handshake response");
    ClientError::Malformed
}

async fn refuse<T>(stream: BoxStream, seq: u8, err: ClientError, limit: usize) -> Result<T, ConnectFailure> {
    let mut client = PacketIo::new(stream, limit);
    let _ = client.send(seq.wrapping_add(1), &err.payload()).await;
    client.shutdown().await;
    Err(ConnectFailure::Refused(err))
}

/// Reads one packet (single chunk, at most `limit` bytes) without reading past it.
async fn read_exact_packet(stream: &mut BoxStream, limit: usize) -> Result<(Vec<u8>, u8), ConnectFailure> {
    let mut header = [0u8; 4];
    stream
        .read_exact(&mut header)
        .await
        .map_err(|e| ConnectFailure::Client(e.into()))?;
    let len = header[0] as usize | (header[1] as usize) << 8 | (header[2] as usize) << 16;
    if len > limit.min(crate::protocol::packet::MAX_CHUNK - 1) {
        return Err(ConnectFailure::Refused(ClientError::PacketTooLarge));
    }
    let mut payload = vec![0u8; len];
    stream
        .read_exact(&mut payload)
        .await
        .map_err(|e| ConnectFailure::Client(e.into()))?;
    Ok((payload, header[3]))
}

pub enum AuthResult {
    /// Authenticated; the server status flags of mysqld's OK (autocommit, ...).
    Ok(u16),
    Err(u16, String),
}

/// Relays an authentication exchange until mysqld sends OK or ERR. `delta` is added to
/// server sequence ids on the way to the client.
///
/// Strictly in turn, as the protocol goes: after the client's handshake response (or
/// COM_CHANGE_USER), mysqld speaks; every packet it sends but OK, ERR and caching_sha2's
/// "fast authentication succeeded" (`01 03`, followed by OK) asks the client for exactly one
/// packet. So nothing a client sends ahead (a command pipelined behind its handshake
/// response) reaches mysqld before the authentication result: it stays buffered and is read
/// as the session's first command.
pub async fn relay_auth(
    client: &mut PacketIo<BoxStream>,
    backend: &mut PacketIo<BoxStream>,
    delta: u8,
    mut proof: Option<&mut super::identity::Proof>,
) -> Result<AuthResult, ConnectFailure> {
    let mut switched = false;
    loop {
        let p = backend.expect_packet().await.map_err(ConnectFailure::BackendIo)?;
        client.queue_raw(&shift_seq(&p.raw, delta));
        client.flush().await.map_err(|e| ConnectFailure::Client(e.into()))?;
        match p.first() {
            Some(0x00) => {
                let status = crate::protocol::response::parse_ok(&p.payload).map_or(0, |ok| ok.status);
                return Ok(AuthResult::Ok(status));
            }
            Some(0xFF) => {
                let (code, msg) = parse_err(&p.payload);
                return Ok(AuthResult::Err(code, msg));
            }
            Some(0x01) if p.payload[..] == [0x01, 0x03] => continue,
            Some(0xFE) => {
                if let Some(proof) = proof.as_deref_mut() {
                    proof.switched(&p.payload);
                    switched = true;
                }
            }
            _ => {
                // More data for a plugin's own exchange: nothing a native proof can carry.
                if let Some(proof) = proof.as_deref_mut() {
                    proof.plugin.clear();
                }
            }
        }
        let c = client.expect_packet().await.map_err(ConnectFailure::Client)?;
        if std::mem::take(&mut switched) {
            if let Some(proof) = proof.as_deref_mut() {
                proof.answered(&c.payload);
            }
        }
        backend.queue_raw(&shift_seq(&c.raw, delta.wrapping_neg()));
        backend.flush().await.map_err(|e| ConnectFailure::BackendIo(e.into()))?;
    }
}
