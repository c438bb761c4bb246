//! A session's second connection, on a single-primary secondary: to the primary member's
//! grproxy, logged in as the session's own user (see `identity`), so the primary's mysqld
//! checks that user's privileges and the primary's grproxy captures and certifies the
//! writes as its own.
//!
//! The leg speaks with the client's capabilities (and MariaDB capabilities), so the
//! primary's responses are relayed to the client byte for byte like the local mysqld's.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_common::constants::CapabilityFlags as Caps;
use mysql_common::packets::{AuthPlugin, HandshakeResponse};
use mysql_common::proto::MySerialize;

use super::identity::{self, Proof};
use crate::protocol::handshake::{Greeting, FORWARDED_BY_ATTR};
use crate::protocol::io::{BoxStream, PacketIo};
use crate::protocol::response::parse_err;

/// The connection to the primary's grproxy.
pub struct PrimaryLeg {
    pub io: PacketIo<BoxStream>,
    /// Status flags of the primary's last OK/EOF.
    pub status: u16,
    pub member: u64,
}

/// Why a session's statement could not be sent on to the primary.
#[derive(Debug, thiserror::Error)]
pub enum LegError {
    #[error("the session's login ({0}) cannot be carried to the primary; only mysql_native_password logins can")]
    Plugin(String),
    #[error("no account for this login verifies its password proof")]
    NoHash,
    #[error("reading the account's password hash: {0}")]
    Lookup(String),
    #[error("cannot reach the primary (member {member} at {address}): {reason}")]
    Connect {
        member: u64,
        address: String,
        reason: String,
    },
    #[error("the primary refused the login: {1} ({0})")]
    Refused(u16, String),
    #[error("the primary's server offers different protocol capabilities than this member's")]
    Capabilities,
}

/// Capabilities that change what responses look like: the leg must have the client's.
const SHAPING: Caps = Caps::CLIENT_DEPRECATE_EOF
    .union(Caps::CLIENT_MULTI_RESULTS)
    .union(Caps::CLIENT_PS_MULTI_RESULTS)
    .union(Caps::CLIENT_SESSION_TRACK)
    .union(Caps::CLIENT_PROTOCOL_41)
    .union(Caps::CLIENT_FOUND_ROWS)
    .union(Caps::CLIENT_LONG_FLAG)
    .union(Caps::CLIENT_OPTIONAL_RESULTSET_METADATA)
    .union(Caps::CLIENT_MULTI_STATEMENTS);

/// `SHA1(password)` for the session's user, from its proof and the hashes of its accounts
/// (`None` inside: an empty password).
pub async fn derive_stage1(pool: &mysql_async::Pool, user: &str, proof: &Proof) -> Result<Option<[u8; 20]>, LegError> {
    if !proof.portable() {
        return Err(LegError::Plugin(String::from_utf8_lossy(&proof.plugin).into_owned()));
    }
    if proof.response.is_empty() {
        return Ok(None);
    }
    let mut c = pool.get_conn().await.map_err(|e| LegError::Lookup(e.to_string()))?;
    // Every account of that name: the one mysqld matched is the one whose hash verifies.
    let hashes: Vec<(Option<String>, Option<String>)> = c
        .exec(
            "SELECT authentication_string, Password FROM mysql.user WHERE User = ?",
            (user,),
        )
        .await
        .map_err(|e| LegError::Lookup(e.to_string()))?;
    let found = hashes
        .iter()
        .flat_map(|(a, p)| [a, p])
        .filter_map(|h| h.as_deref().and_then(identity::parse_stored))
        .find_map(|stored| identity::stage1(proof, &stored));
    found.map(Some).ok_or(LegError::NoHash)
}

/// What a leg logs in with.
pub struct LegLogin<'a> {
    pub user: &'a str,
    pub stage1: Option<[u8; 20]>,
    /// The client's handshake response as mysqld got it (capabilities, collation, MariaDB
    /// capabilities).
    pub hello: &'a [u8],
    pub schema: Option<&'a str>,
    /// This member's id (the primary never sends such a session on).
    pub me: u64,
}

/// Opens a leg to member `member`'s grproxy at `address`.
pub async fn open(
    member: u64,
    address: &str,
    login: LegLogin<'_>,
    timeout: Duration,
    max_packet: usize,
) -> Result<PrimaryLeg, LegError> {
    let connect_err = |reason: String| LegError::Connect {
        member,
        address: address.to_string(),
        reason,
    };
    let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| connect_err(format!("no connection within {timeout:?}")))?
        .map_err(|e| connect_err(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let mut io = PacketIo::new(Box::new(stream) as BoxStream, max_packet);
    let first = io.expect_packet().await.map_err(|e| connect_err(e.to_string()))?;
    if first.first() == Some(0xFF) {
        let (code, msg) = parse_err(&first.payload);
        return Err(LegError::Refused(code, msg));
    }
    let greeting = Greeting::parse(&first.payload).map_err(|e| connect_err(e.to_string()))?;
    let hello = login.hello;
    if hello.len() < 32 {
        return Err(LegError::Capabilities);
    }
    let client = Caps::from_bits_truncate(u32::from_le_bytes([hello[0], hello[1], hello[2], hello[3]]));
    let shaping = client & SHAPING;
    if !greeting.capabilities.contains(shaping) {
        return Err(LegError::Capabilities);
    }
    let mut caps = shaping
        | Caps::CLIENT_SECURE_CONNECTION
        | Caps::CLIENT_PLUGIN_AUTH
        | Caps::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | Caps::CLIENT_CONNECT_ATTRS
        | Caps::CLIENT_TRANSACTIONS
        | (client & (Caps::CLIENT_LONG_PASSWORD | Caps::CLIENT_LOCAL_FILES | Caps::CLIENT_INTERACTIVE));
    if login.schema.is_some() {
        caps |= Caps::CLIENT_CONNECT_WITH_DB;
    }
    caps &= greeting.capabilities | Caps::CLIENT_CONNECT_ATTRS;
    let scramble = login
        .stage1
        .map(|s1| identity::answer(&greeting.nonce, &s1).to_vec())
        .unwrap_or_default();
    let attrs = [(FORWARDED_BY_ATTR.to_string(), login.me.to_string())]
        .into_iter()
        .collect();
    let ext = u32::from_le_bytes([hello[28], hello[29], hello[30], hello[31]]);
    let resp = HandshakeResponse::new(
        Some(scramble),
        (10, 0, 0),
        Some(login.user.as_bytes()),
        login.schema.map(str::as_bytes),
        Some(AuthPlugin::MysqlNativePassword),
        caps,
        Some(attrs),
        max_packet.min(u32::MAX as usize) as u32,
    );
    let mut payload = Vec::new();
    resp.serialize(&mut payload);
    // The client's collation and MariaDB capabilities, as mysqld has them for the session.
    payload[8] = hello[8];
    if !client.contains(Caps::CLIENT_LONG_PASSWORD) {
        payload[28..32].copy_from_slice(&ext.to_le_bytes());
    }
    io.send(1, &payload).await.map_err(|e| connect_err(e.to_string()))?;
    loop {
        let p = io.expect_packet().await.map_err(|e| connect_err(e.to_string()))?;
        match p.first() {
            Some(0x00) => {
                let status = crate::protocol::response::parse_ok(&p.payload).map_or(0, |ok| ok.status);
                return Ok(PrimaryLeg { io, status, member });
            }
            Some(0xFF) => {
                let (code, msg) = parse_err(&p.payload);
                return Err(LegError::Refused(code, msg));
            }
            Some(0xFE) => {
                let mut proof = Proof::default();
                proof.switched(&p.payload);
                if proof.plugin != identity::NATIVE {
                    return Err(LegError::Plugin(String::from_utf8_lossy(&proof.plugin).into_owned()));
                }
                let data = login
                    .stage1
                    .map(|s1| identity::answer(&proof.nonce, &s1).to_vec())
                    .unwrap_or_default();
                io.send(p.last_seq.wrapping_add(1), &data)
                    .await
                    .map_err(|e| connect_err(e.to_string()))?;
            }
            _ => {
                return Err(LegError::Plugin(
                    "an authentication exchange other than mysql_native_password".into(),
                ))
            }
        }
    }
}
