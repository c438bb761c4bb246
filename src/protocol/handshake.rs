//! The connection phase, as far as a relaying proxy has to touch it: the server greeting is
//! passed to the client with a few fields patched (connection id, capabilities), and the
//! client's handshake response is passed to the server with its capabilities patched. All other
//! bytes (nonce, plugin names, auth data, attributes) travel unchanged so mysqld authenticates.

use mysql_common::constants::CapabilityFlags as Caps;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{HandshakePacket, HandshakeResponse};
use mysql_common::proto::MyDeserialize;

/// Capabilities the proxy never lets through: zstd compression (MySQL 8; zlib compression,
/// CLIENT_COMPRESS, passes and is spoken on both legs, see `compress.rs`), MySQL query
/// attributes and optional metadata (they change the COM_QUERY / result-set layout the proxy
/// parses), MariaDB progress reports, and TLS (negotiated by the proxy itself per side).
pub const STRIPPED: Caps = Caps::CLIENT_ZSTD_COMPRESSION_ALGORITHM
    .union(Caps::CLIENT_QUERY_ATTRIBUTES)
    .union(Caps::CLIENT_OPTIONAL_RESULTSET_METADATA)
    .union(Caps::CLIENT_PROGRESS_OBSOLETE)
    .union(Caps::CLIENT_SSL)
    .union(Caps::CLIENT_SSL_VERIFY_SERVER_CERT);

/// The MariaDB extended capabilities (the 4 bytes MariaDB puts in the greeting's and the
/// handshake response's filler when it clears CLIENT_MYSQL) the proxy lets through: only
/// MARIADB_CLIENT_EXTENDED_METADATA (bit 3), which adds a type-and-format string (`json`,
/// `uuid`, `inet6`, ...) inside each column definition and changes no packet boundary. The
/// others change the layouts the proxy reads (progress reports inside a response, column
/// definitions left out with the metadata cache, COM_STMT_BULK_EXECUTE) and stay off.
pub const PASSED_MARIADB_EXT: u32 = 1 << 3;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandshakeError {
    #[error("malformed server greeting")]
    BadGreeting,
    #[error("unsupported protocol version {0}")]
    Protocol(u8),
    #[error("malformed handshake response")]
    BadResponse,
    #[error("client does not speak protocol 4.1")]
    OldClient,
}

/// The parts of the server greeting the proxy needs, and where to patch it.
#[derive(Debug, Clone)]
pub struct Greeting {
    pub payload: Vec<u8>,
    pub server_version: String,
    pub connection_id: u32,
    pub capabilities: Caps,
    pub collation: u8,
    pub status: u16,
    pub auth_plugin: Vec<u8>,
    pub nonce: Vec<u8>,
    /// Offset of the connection id (right after the version string's NUL).
    base: usize,
}

impl Greeting {
    pub fn parse(payload: &[u8]) -> Result<Self, HandshakeError> {
        match payload.first() {
            Some(10) => {}
            Some(&v) => return Err(HandshakeError::Protocol(v)),
            None => return Err(HandshakeError::BadGreeting),
        }
        let nul = payload[1..]
            .iter()
            .position(|&b| b == 0)
            .ok_or(HandshakeError::BadGreeting)?;
        let base = 1 + nul + 1;
        if payload.len() < base + 31 {
            return Err(HandshakeError::BadGreeting);
        }
        // mysql_common takes the auth data length byte as an i8 and subtracts 8: 0x80..=0x87
        // overflow (a panic in debug builds). Servers send 21; nothing above 0x7F is valid.
        let lower_caps = u16::from_le_bytes([payload[base + 13], payload[base + 14]]);
        if lower_caps & Caps::CLIENT_SECURE_CONNECTION.bits() as u16 != 0 && payload[base + 20] > 0x7F {
            return Err(HandshakeError::BadGreeting);
        }
        let hp = HandshakePacket::deserialize((), &mut ParseBuf(payload)).map_err(|_| HandshakeError::BadGreeting)?;
        Ok(Greeting {
            payload: payload.to_vec(),
            server_version: hp.server_version_str().into_owned(),
            connection_id: hp.connection_id(),
            capabilities: hp.capabilities(),
            collation: hp.default_collation(),
            status: hp.status_flags().bits(),
            auth_plugin: hp.auth_plugin_name_ref().unwrap_or_default().to_vec(),
            nonce: hp.nonce(),
            base,
        })
    }

    /// Capabilities the proxy offers its client: the server's, minus what it strips, plus TLS
    /// if the proxy terminates TLS, and LOCAL INFILE only if enabled.
    pub fn offered(&self, tls: bool, local_infile: bool) -> Caps {
        let mut caps = self.capabilities - STRIPPED;
        if tls {
            caps |= Caps::CLIENT_SSL;
        }
        if !local_infile {
            caps -= Caps::CLIENT_LOCAL_FILES;
        }
        caps
    }

    /// The greeting to send the client: the server's bytes with the proxy's connection id, the
    /// offered capabilities, and of the MariaDB extended capabilities only those in
    /// [`PASSED_MARIADB_EXT`] (the others change packet layouts).
    pub fn for_client(&self, proxy_conn_id: u32, offered: Caps) -> Vec<u8> {
        let mut p = self.payload.clone();
        let b = self.base;
        p[b..b + 4].copy_from_slice(&proxy_conn_id.to_le_bytes());
        let bits = offered.bits();
        p[b + 13..b + 15].copy_from_slice(&(bits as u16).to_le_bytes());
        p[b + 18..b + 20].copy_from_slice(&((bits >> 16) as u16).to_le_bytes());
        let ext = self.mariadb_ext() & PASSED_MARIADB_EXT;
        p[b + 27..b + 31].copy_from_slice(&ext.to_le_bytes());
        p
    }

    /// The server's MariaDB extended capabilities: the filler's last 4 bytes when the server
    /// cleared CLIENT_MYSQL (CLIENT_LONG_PASSWORD); a MySQL server's filler is reserved.
    pub fn mariadb_ext(&self) -> u32 {
        if self.capabilities.contains(Caps::CLIENT_LONG_PASSWORD) {
            return 0;
        }
        let b = self.base;
        u32::from_le_bytes([
            self.payload[b + 27],
            self.payload[b + 28],
            self.payload[b + 29],
            self.payload[b + 30],
        ])
    }
}

/// What the client sent first: a TLS request, or its handshake response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    pub capabilities: Caps,
    pub user: Vec<u8>,
    pub database: Option<Vec<u8>>,
    pub collation: u8,
    /// True for the 32-byte SSLRequest that precedes the TLS handshake.
    pub ssl_request: bool,
    /// The authentication plugin the client answered with, and its answer.
    pub auth_plugin: Vec<u8>,
    pub auth_response: Vec<u8>,
    /// Another member sends this session's statements on ([`FORWARDED_BY_ATTR`]).
    pub forwarded_by: Option<u64>,
}

/// Connection attribute a member sets when it logs a client's session in to the primary on
/// the client's behalf: the primary never sends such a session on again.
pub const FORWARDED_BY_ATTR: &str = "_grproxy_forwarded_by";

impl ClientHello {
    pub fn parse(payload: &[u8]) -> Result<Self, HandshakeError> {
        if payload.len() < 32 {
            return Err(HandshakeError::BadResponse);
        }
        let caps = Caps::from_bits_truncate(u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]));
        if !caps.contains(Caps::CLIENT_PROTOCOL_41) {
            return Err(HandshakeError::OldClient);
        }
        if payload.len() == 32 {
            return if caps.contains(Caps::CLIENT_SSL) {
                Ok(ClientHello {
                    capabilities: caps,
                    user: Vec::new(),
                    database: None,
                    collation: payload[8],
                    ssl_request: true,
                    auth_plugin: Vec::new(),
                    auth_response: Vec::new(),
                    forwarded_by: None,
                })
            } else {
                Err(HandshakeError::BadResponse)
            };
        }
        let hr = HandshakeResponse::deserialize((), &mut ParseBuf(payload)).map_err(|_| HandshakeError::BadResponse)?;
        Ok(ClientHello {
            capabilities: caps,
            user: hr.user().to_vec(),
            database: hr.db_name().map(<[u8]>::to_vec),
            collation: hr.collation(),
            ssl_request: false,
            auth_plugin: hr.auth_plugin().map(|p| p.as_bytes().to_vec()).unwrap_or_default(),
            auth_response: hr.scramble_buf().to_vec(),
            forwarded_by: hr
                .connect_attributes()
                .and_then(|a| a.get(FORWARDED_BY_ATTR).and_then(|v| v.parse().ok())),
        })
    }
}

/// The handshake response to forward to mysqld: the client's bytes with capabilities limited
/// to what was offered, minus TLS (the backend leg is negotiated separately), and the MariaDB
/// extended capabilities limited to [`PASSED_MARIADB_EXT`] (offered only by a MariaDB server,
/// which `offered` tells by CLIENT_LONG_PASSWORD being clear). Returns the payload and the
/// capabilities now in force.
pub fn response_for_server(payload: &[u8], offered: Caps) -> (Vec<u8>, Caps) {
    let mut p = payload.to_vec();
    let client = Caps::from_bits_truncate(u32::from_le_bytes([p[0], p[1], p[2], p[3]]));
    let caps = (client & offered) - Caps::CLIENT_SSL;
    p[0..4].copy_from_slice(&caps.bits().to_le_bytes());
    let ext = if offered.contains(Caps::CLIENT_LONG_PASSWORD) {
        0
    } else {
        u32::from_le_bytes([p[28], p[29], p[30], p[31]]) & PASSED_MARIADB_EXT
    };
    p[28..32].copy_from_slice(&ext.to_le_bytes());
    (p, caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MariaDB 10.11 greeting as captured from mariadbd.
    fn mariadb_greeting() -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(b"5.5.5-10.11.6-MariaDB\0");
        p.extend_from_slice(&42u32.to_le_bytes());
        p.extend_from_slice(b"abcdefgh\0");
        p.extend_from_slice(&0xF7FEu16.to_le_bytes()); // lower caps (no CLIENT_MYSQL bit)
        p.push(45);
        p.extend_from_slice(&2u16.to_le_bytes());
        p.extend_from_slice(&0x81BFu16.to_le_bytes()); // upper caps
        p.push(21);
        p.extend_from_slice(&[0; 6]);
        p.extend_from_slice(&0x1Du32.to_le_bytes()); // MariaDB ext caps
        p.extend_from_slice(b"ijklmnopqrst\0");
        p.extend_from_slice(b"mysql_native_password\0");
        p
    }

    #[test]
    fn greeting_is_patched_not_rebuilt() {
        let raw = mariadb_greeting();
        let g = Greeting::parse(&raw).unwrap();
        assert_eq!(g.connection_id, 42);
        assert_eq!(g.nonce, b"abcdefghijklmnopqrst");
        assert_eq!(g.auth_plugin, b"mysql_native_password");
        let offered = g.offered(true, false);
        assert!(offered.contains(Caps::CLIENT_SSL));
        assert!(offered.contains(Caps::CLIENT_COMPRESS), "zlib compression is offered");
        assert!(!offered.contains(Caps::CLIENT_LOCAL_FILES));
        let out = g.for_client(7, offered);
        assert_eq!(out.len(), raw.len());
        let again = Greeting::parse(&out).unwrap();
        assert_eq!(again.connection_id, 7);
        assert_eq!(again.nonce, g.nonce);
        assert_eq!(again.capabilities, offered);
        assert_eq!(again.server_version, "5.5.5-10.11.6-MariaDB");
        // Only the patched ranges differ.
        let diff: Vec<usize> = (0..raw.len()).filter(|&i| raw[i] != out[i]).collect();
        let b = 1 + "5.5.5-10.11.6-MariaDB".len() + 1;
        let patched = [b..b + 4, b + 13..b + 15, b + 18..b + 20, b + 27..b + 31];
        assert!(diff.iter().all(|i| patched.iter().any(|r| r.contains(i))), "{diff:?}");
        assert!(!diff.is_empty());
        // Of the server's MariaDB extended capabilities (0x1D) only EXTENDED_METADATA remains.
        assert_eq!(g.mariadb_ext(), 0x1D);
        assert_eq!(&out[b + 27..b + 31], &PASSED_MARIADB_EXT.to_le_bytes());
    }

    /// mysql-test `main.type_json` showed `252` where mariadbd says `252 (format=json)`: the
    /// extended metadata must survive both legs; progress reports, bulk operations and the
    /// metadata cache must not.
    #[test]
    fn only_extended_metadata_of_the_mariadb_capabilities_passes() {
        let g = Greeting::parse(&mariadb_greeting()).unwrap();
        let offered = g.offered(false, false);
        assert!(!offered.contains(Caps::CLIENT_LONG_PASSWORD));
        let base = Caps::CLIENT_PROTOCOL_41 | Caps::CLIENT_SECURE_CONNECTION | Caps::CLIENT_PLUGIN_AUTH;
        let mut raw = response(base, b"bob", None);
        raw[28..32].copy_from_slice(&0x1Fu32.to_le_bytes());
        let (fwd, _) = response_for_server(&raw, offered);
        assert_eq!(&fwd[28..32], &PASSED_MARIADB_EXT.to_le_bytes());
        // A MySQL server (CLIENT_LONG_PASSWORD set): the filler stays zero both ways.
        let (fwd, _) = response_for_server(&raw, offered | Caps::CLIENT_LONG_PASSWORD);
        assert_eq!(&fwd[28..32], &[0, 0, 0, 0]);
        let mut mysql = mariadb_greeting();
        let b = 1 + "5.5.5-10.11.6-MariaDB".len() + 1;
        mysql[b + 13] |= 1; // CLIENT_LONG_PASSWORD
        let m = Greeting::parse(&mysql).unwrap();
        assert_eq!(m.mariadb_ext(), 0);
        assert_eq!(&m.for_client(1, m.offered(false, false))[b + 27..b + 31], &[0, 0, 0, 0]);
    }

    #[test]
    fn bad_greetings() {
        assert_eq!(Greeting::parse(&[]).unwrap_err(), HandshakeError::BadGreeting);
        assert_eq!(Greeting::parse(&[9, 0]).unwrap_err(), HandshakeError::Protocol(9));
        let raw = mariadb_greeting();
        for cut in [1, 5, 20, 40] {
            assert!(Greeting::parse(&raw[..cut]).is_err(), "cut {cut}");
        }
    }

    /// Found by `tests/fuzz`: an auth data length of 0x80..=0x87 made mysql_common's parser
    /// overflow (a panic in debug builds).
    #[test]
    fn out_of_range_auth_data_length_is_refused() {
        let b = 1 + "5.5.5-10.11.6-MariaDB".len() + 1;
        for len in [0x80u8, 0x87, 0xFF] {
            let mut raw = mariadb_greeting();
            raw[b + 20] = len;
            assert_eq!(
                Greeting::parse(&raw).unwrap_err(),
                HandshakeError::BadGreeting,
                "{len:#x}"
            );
        }
    }

    fn response(caps: Caps, user: &[u8], db: Option<&[u8]>) -> Vec<u8> {
        let mut p = caps.bits().to_le_bytes().to_vec();
        p.extend_from_slice(&(16u32 << 20).to_le_bytes());
        p.push(45);
        p.extend_from_slice(&[0; 23]);
        if caps.contains(Caps::CLIENT_SSL) && user.is_empty() {
            return p; // SSLRequest
        }
        p.extend_from_slice(user);
        p.push(0);
        p.push(20);
        p.extend_from_slice(&[1; 20]);
        if let Some(db) = db {
            p.extend_from_slice(db);
            p.push(0);
        }
        p.extend_from_slice(b"mysql_native_password\0");
        p
    }

    #[test]
    fn client_hello_table() {
        let base = Caps::CLIENT_PROTOCOL_41 | Caps::CLIENT_SECURE_CONNECTION | Caps::CLIENT_PLUGIN_AUTH;
        let ssl = ClientHello::parse(&response(base | Caps::CLIENT_SSL, b"", None)).unwrap();
        assert!(ssl.ssl_request);
        let h = ClientHello::parse(&response(base | Caps::CLIENT_CONNECT_WITH_DB, b"bob", Some(b"db1"))).unwrap();
        assert_eq!(
            (h.user.as_slice(), h.database.as_deref()),
            (&b"bob"[..], Some(&b"db1"[..]))
        );
        assert!(!h.ssl_request);
        assert_eq!(
            ClientHello::parse(&response(Caps::CLIENT_SECURE_CONNECTION, b"x", None)).unwrap_err(),
            HandshakeError::OldClient
        );
        assert_eq!(ClientHello::parse(&[0; 10]).unwrap_err(), HandshakeError::BadResponse);
        let mut truncated = response(base, b"bob", None);
        truncated.truncate(40);
        assert!(ClientHello::parse(&truncated).is_err());
    }

    #[test]
    fn response_capabilities_are_limited_to_the_offer() {
        let client = Caps::CLIENT_PROTOCOL_41
            | Caps::CLIENT_SECURE_CONNECTION
            | Caps::CLIENT_PLUGIN_AUTH
            | Caps::CLIENT_SSL
            | Caps::CLIENT_COMPRESS
            | Caps::CLIENT_DEPRECATE_EOF;
        let offered = Caps::CLIENT_PROTOCOL_41
            | Caps::CLIENT_SECURE_CONNECTION
            | Caps::CLIENT_PLUGIN_AUTH
            | Caps::CLIENT_SSL
            | Caps::CLIENT_DEPRECATE_EOF;
        let raw = response(client, b"bob", None);
        let (fwd, caps) = response_for_server(&raw, offered);
        assert_eq!(
            caps,
            Caps::CLIENT_PROTOCOL_41
                | Caps::CLIENT_SECURE_CONNECTION
                | Caps::CLIENT_PLUGIN_AUTH
                | Caps::CLIENT_DEPRECATE_EOF
        );
        assert_eq!(&fwd[4..], &raw[4..]);
    }
}
