//! Logging in on a raw backend connection with the proxy's own credentials
//! (`mysql_native_password`, with auth switch). Client sessions never use this: their
//! authentication is relayed so mysqld decides.

use mysql_common::constants::CapabilityFlags as Caps;
use mysql_common::packets::{AuthPlugin, HandshakeResponse};
use mysql_common::proto::MySerialize;
use mysql_common::scramble::scramble_native;

use super::conn::BackendConn;
use crate::protocol::io::IoError;
use crate::protocol::response::parse_err;

pub const LOGIN_CAPS: Caps = Caps::CLIENT_PROTOCOL_41
    .union(Caps::CLIENT_SECURE_CONNECTION)
    .union(Caps::CLIENT_PLUGIN_AUTH)
    .union(Caps::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
    .union(Caps::CLIENT_LONG_PASSWORD)
    .union(Caps::CLIENT_LONG_FLAG)
    .union(Caps::CLIENT_TRANSACTIONS)
    .union(Caps::CLIENT_MULTI_RESULTS)
    .union(Caps::CLIENT_DEPRECATE_EOF);

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("mysqld refused the login: {1} ({0})")]
    Refused(u16, String),
    #[error("mysqld asked for unsupported auth plugin {0}")]
    Plugin(String),
    #[error("login: {0}")]
    Io(#[from] IoError),
    #[error("login: {0}")]
    Write(#[from] std::io::Error),
}

/// Authenticates `conn` as `user`; returns the capabilities in force.
pub async fn login(conn: &mut BackendConn, user: &str, password: &str, db: Option<&str>) -> Result<Caps, LoginError> {
    login_with(conn, user, password, db, LOGIN_CAPS, None).await
}

/// As [`login`], asking for the capabilities in `wanted` (those the server offers) and,
/// if given, a connection collation id other than utf8mb4_general_ci.
pub async fn login_with(
    conn: &mut BackendConn,
    user: &str,
    password: &str,
    db: Option<&str>,
    wanted: Caps,
    collation: Option<u8>,
) -> Result<Caps, LoginError> {
    let g = &conn.greeting;
    let caps = wanted & g.capabilities | (g.capabilities & Caps::CLIENT_CONNECT_WITH_DB);
    let scramble = scramble_native(&g.nonce, password.as_bytes()).map(|s| s.to_vec());
    let resp = HandshakeResponse::new(
        Some(scramble.unwrap_or_default()),
        (10, 0, 0),
        Some(user.as_bytes()),
        db.map(str::as_bytes),
        Some(AuthPlugin::MysqlNativePassword),
        caps,
        None,
        16 << 20,
    );
    let mut payload = Vec::new();
    resp.serialize(&mut payload);
    if let Some(c) = collation {
        payload[8] = c;
    }
    conn.io.send(1, &payload).await?;
    loop {
        let p = conn.io.expect_packet().await?;
        match p.first() {
            Some(0x00) => return Ok(resp.capabilities()),
            Some(0xFF) => {
                let (code, msg) = parse_err(&p.payload);
                return Err(LoginError::Refused(code, msg));
            }
            Some(0xFE) => {
                // Auth switch: plugin name NUL, then the new nonce (NUL-terminated).
                let body = &p.payload[1..];
                let nul = body.iter().position(|&b| b == 0).unwrap_or(body.len());
                let plugin = String::from_utf8_lossy(&body[..nul]).into_owned();
                if plugin != "mysql_native_password" {
                    return Err(LoginError::Plugin(plugin));
                }
                let mut nonce = body.get(nul + 1..).unwrap_or_default();
                if nonce.last() == Some(&0) {
                    nonce = &nonce[..nonce.len() - 1];
                }
                let data = scramble_native(nonce, password.as_bytes())
                    .map(|s| s.to_vec())
                    .unwrap_or_default();
                conn.io.send(p.last_seq.wrapping_add(1), &data).await?;
            }
            _ => return Err(LoginError::Plugin("unexpected auth packet".into())),
        }
    }
}
