//! The connection phase (`protocol::handshake`): the server greeting the proxy patches, the
//! client's SSLRequest / handshake response (the first bytes an unauthenticated client
//! controls, read under `frontend::connect::PRE_AUTH_MAX_PACKET`), and the response the proxy
//! forwards to mysqld.

use bytes::BytesMut;
use grproxy::frontend::connect::PRE_AUTH_MAX_PACKET;
use grproxy::protocol::handshake::{response_for_server, ClientHello, Greeting, HandshakeError};
use grproxy::protocol::packet::{put_lenenc, take_packet};
use mysql_common::constants::{CapabilityFlags as Caps, StatusFlags};
use proptest::prelude::*;

use crate::support::{bytes, config, mutated};

/// Capabilities a client may ask for, on top of `CLIENT_PROTOCOL_41`.
const OPTIONAL: &[Caps] = &[
    Caps::CLIENT_SECURE_CONNECTION,
    Caps::CLIENT_PLUGIN_AUTH,
    Caps::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
    Caps::CLIENT_CONNECT_WITH_DB,
    Caps::CLIENT_CONNECT_ATTRS,
    Caps::CLIENT_SSL,
    Caps::CLIENT_DEPRECATE_EOF,
    Caps::CLIENT_COMPRESS,
    Caps::CLIENT_LOCAL_FILES,
    Caps::CLIENT_MULTI_STATEMENTS,
    Caps::CLIENT_MULTI_RESULTS,
    Caps::CLIENT_PS_MULTI_RESULTS,
    Caps::CLIENT_QUERY_ATTRIBUTES,
    Caps::CLIENT_SESSION_TRACK,
    Caps::CLIENT_TRANSACTIONS,
    Caps::CLIENT_LONG_PASSWORD,
    Caps::CLIENT_FOUND_ROWS,
];

fn caps(required: Caps) -> impl Strategy<Value = Caps> {
    prop::collection::vec(any::<bool>(), OPTIONAL.len()).prop_map(move |on| {
        OPTIONAL
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .fold(required, |acc, (c, _)| acc | *c)
    })
}

/// A byte string without NUL (for NUL-terminated fields).
fn no_nul(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8.., 0..max)
}

#[derive(Debug, Clone)]
struct Response {
    caps: Caps,
    max_packet: u32,
    collation: u8,
    mariadb_caps: u32,
    user: Vec<u8>,
    auth: Vec<u8>,
    db: Vec<u8>,
    plugin: Vec<u8>,
    attrs: Vec<(Vec<u8>, Vec<u8>)>,
}

fn response() -> impl Strategy<Value = Response> {
    (
        caps(Caps::CLIENT_PROTOCOL_41),
        any::<u32>(),
        any::<u8>(),
        any::<u32>(),
        no_nul(40),
        bytes(300),
        no_nul(40),
        no_nul(30),
        prop::collection::vec((bytes(20), bytes(40)), 0..5),
    )
        .prop_map(
            |(caps, max_packet, collation, mariadb_caps, user, auth, db, plugin, attrs)| Response {
                caps,
                max_packet,
                collation,
                mariadb_caps,
                user,
                auth,
                db,
                plugin,
                attrs,
            },
        )
}

impl Response {
    /// The handshake response as a client writes it for these capabilities.
    fn encode(&self) -> Vec<u8> {
        let mut p = self.caps.bits().to_le_bytes().to_vec();
        p.extend_from_slice(&self.max_packet.to_le_bytes());
        p.push(self.collation);
        p.extend_from_slice(&[0; 19]);
        p.extend_from_slice(&self.mariadb_caps.to_le_bytes());
        p.extend_from_slice(&self.user);
        p.push(0);
        if self.caps.contains(Caps::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
            put_lenenc(&mut p, self.auth.len() as u64);
            p.extend_from_slice(&self.auth);
        } else if self.caps.contains(Caps::CLIENT_SECURE_CONNECTION) {
            let n = self.auth.len().min(255);
            p.push(n as u8);
            p.extend_from_slice(&self.auth[..n]);
        } else {
            p.extend(self.auth.iter().copied().filter(|&b| b != 0));
            p.push(0);
        }
        if self.caps.contains(Caps::CLIENT_CONNECT_WITH_DB) {
            p.extend_from_slice(&self.db);
            p.push(0);
        }
        if self.caps.contains(Caps::CLIENT_PLUGIN_AUTH) {
            p.extend_from_slice(&self.plugin);
            p.push(0);
        }
        if self.caps.contains(Caps::CLIENT_CONNECT_ATTRS) {
            let mut attrs = Vec::new();
            for (k, v) in &self.attrs {
                put_lenenc(&mut attrs, k.len() as u64);
                attrs.extend_from_slice(k);
                put_lenenc(&mut attrs, v.len() as u64);
                attrs.extend_from_slice(v);
            }
            put_lenenc(&mut p, attrs.len() as u64);
            p.extend_from_slice(&attrs);
        }
        p
    }
}

fn ssl_request(caps: Caps, collation: u8) -> Vec<u8> {
    let mut p = caps.bits().to_le_bytes().to_vec();
    p.extend_from_slice(&(16u32 << 20).to_le_bytes());
    p.push(collation);
    p.extend_from_slice(&[0; 23]);
    p
}

#[derive(Debug, Clone)]
struct GreetingParts {
    version: Vec<u8>,
    conn_id: u32,
    nonce: [u8; 20],
    caps: Caps,
    collation: u8,
    status: u16,
    mariadb_caps: u32,
    plugin: Vec<u8>,
}

fn greeting_parts() -> impl Strategy<Value = GreetingParts> {
    (
        no_nul(40),
        any::<u32>(),
        prop::array::uniform20(1u8..),
        caps(Caps::CLIENT_PROTOCOL_41 | Caps::CLIENT_SECURE_CONNECTION | Caps::CLIENT_PLUGIN_AUTH),
        any::<u8>(),
        // mysqld sends only the status flags it defines (mysql_common refuses others).
        any::<u16>().prop_map(|s| s & StatusFlags::all().bits()),
        any::<u32>(),
        no_nul(30),
    )
        .prop_map(
            |(version, conn_id, nonce, caps, collation, status, mariadb_caps, plugin)| GreetingParts {
                version,
                conn_id,
                nonce,
                caps,
                collation,
                status,
                mariadb_caps,
                plugin,
            },
        )
}

impl GreetingParts {
    /// A protocol-10 greeting laid out as MariaDB 10.11 sends it.
    fn encode(&self) -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(&self.version);
        p.push(0);
        p.extend_from_slice(&self.conn_id.to_le_bytes());
        p.extend_from_slice(&self.nonce[..8]);
        p.push(0);
        let bits = self.caps.bits();
        p.extend_from_slice(&(bits as u16).to_le_bytes());
        p.push(self.collation);
        p.extend_from_slice(&self.status.to_le_bytes());
        p.extend_from_slice(&((bits >> 16) as u16).to_le_bytes());
        p.push(21);
        p.extend_from_slice(&[0; 6]);
        p.extend_from_slice(&self.mariadb_caps.to_le_bytes());
        p.extend_from_slice(&self.nonce[8..]);
        p.push(0);
        p.extend_from_slice(&self.plugin);
        p.push(0);
        p
    }
}

proptest! {
    #![proptest_config(config())]

    /// A handshake response, in every capability combination (auth data NUL-terminated,
    /// length-prefixed or lenenc; with or without schema, plugin, attributes), parses to what
    /// was written; the copy for mysqld differs only in its capability bytes (the MariaDB
    /// extended ones limited to EXTENDED_METADATA).
    #[test]
    fn client_hello_round_trip(r in response(), offered in caps(Caps::CLIENT_PROTOCOL_41)) {
        let payload = r.encode();
        let h = ClientHello::parse(&payload).unwrap();
        prop_assert!(!h.ssl_request);
        prop_assert_eq!(h.capabilities, r.caps);
        prop_assert_eq!(&h.user, &r.user);
        prop_assert_eq!(h.collation, r.collation);
        let db = r.caps.contains(Caps::CLIENT_CONNECT_WITH_DB).then(|| r.db.clone());
        prop_assert_eq!(&h.database, &db);

        let (fwd, forwarded_caps) = response_for_server(&payload, offered);
        prop_assert_eq!(forwarded_caps, (r.caps & offered) - Caps::CLIENT_SSL);
        prop_assert_eq!(fwd.len(), payload.len());
        prop_assert_eq!(&fwd[0..4], &forwarded_caps.bits().to_le_bytes()[..]);
        prop_assert_eq!(&fwd[4..28], &payload[4..28]);
        // Of the MariaDB extended capabilities only EXTENDED_METADATA passes, and only to a
        // MariaDB server (one that offers no CLIENT_LONG_PASSWORD).
        let ext = if offered.contains(Caps::CLIENT_LONG_PASSWORD) {
            0
        } else {
            u32::from_le_bytes([payload[28], payload[29], payload[30], payload[31]])
                & grproxy::protocol::handshake::PASSED_MARIADB_EXT
        };
        prop_assert_eq!(&fwd[28..32], &ext.to_le_bytes()[..]);
        prop_assert_eq!(&fwd[32..], &payload[32..]);
    }

    /// A 32-byte packet with CLIENT_SSL is an SSLRequest; without it, malformed.
    #[test]
    fn ssl_request_is_recognised(c in caps(Caps::CLIENT_PROTOCOL_41), collation: u8) {
        let got = ClientHello::parse(&ssl_request(c, collation));
        if c.contains(Caps::CLIENT_SSL) {
            let h = got.unwrap();
            prop_assert!(h.ssl_request);
            prop_assert_eq!(h.collation, collation);
        } else {
            prop_assert_eq!(got, Err(HandshakeError::BadResponse));
        }
    }

    /// Whatever an unauthenticated client sends first (arbitrary bytes, or a response or
    /// SSLRequest mutated: truncated, flipped, length fields at their maximum): no panic; if
    /// it parses, the proxy can build mysqld's copy of it.
    #[test]
    fn client_hello_of_arbitrary_bytes(
        payload in prop_oneof![
            bytes(200),
            mutated(response().prop_map(|r| r.encode())),
            mutated(caps(Caps::CLIENT_PROTOCOL_41 | Caps::CLIENT_SSL).prop_map(|c| ssl_request(c, 45))),
        ],
        offered in caps(Caps::CLIENT_PROTOCOL_41),
    ) {
        if let Ok(h) = ClientHello::parse(&payload) {
            prop_assert_eq!(h.ssl_request, payload.len() == 32);
            prop_assert!(h.capabilities.contains(Caps::CLIENT_PROTOCOL_41));
            if !h.ssl_request {
                let (fwd, _) = response_for_server(&payload, offered);
                prop_assert_eq!(fwd.len(), payload.len());
            }
        }
    }

    /// The pre-authentication packet limit holds for a client's first packet: a header that
    /// announces more than PRE_AUTH_MAX_PACKET is refused before its body is buffered.
    #[test]
    fn first_packet_is_bounded_before_authentication(len in 0usize..0xFF_FFFF, seq: u8, body in bytes(64)) {
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&(len as u32).to_le_bytes()[..3]);
        wire.extend_from_slice(&[seq]);
        wire.extend_from_slice(&body);
        match take_packet(&mut wire, PRE_AUTH_MAX_PACKET) {
            Err(_) => prop_assert!(len > PRE_AUTH_MAX_PACKET),
            Ok(Some(p)) => prop_assert!(p.payload.len() == len && len <= body.len()),
            Ok(None) => prop_assert!(len <= PRE_AUTH_MAX_PACKET && len > body.len()),
        }
    }

    /// A server greeting parses to what was written; the client's copy carries the proxy's
    /// connection id and the offered capabilities and reads back as such, every other byte
    /// but the MariaDB extended capabilities unchanged.
    #[test]
    fn greeting_round_trip(g in greeting_parts(), proxy_id: u32, tls: bool, local_infile: bool) {
        let raw = g.encode();
        let parsed = Greeting::parse(&raw).unwrap();
        prop_assert_eq!(parsed.connection_id, g.conn_id);
        prop_assert_eq!(&parsed.server_version, &String::from_utf8_lossy(&g.version));
        prop_assert_eq!(&parsed.nonce[..], &g.nonce[..]);
        prop_assert_eq!(parsed.capabilities, g.caps);
        prop_assert_eq!((parsed.collation, parsed.status), (g.collation, g.status));
        prop_assert_eq!(&parsed.auth_plugin, &g.plugin);

        let offered = parsed.offered(tls, local_infile);
        let out = parsed.for_client(proxy_id, offered);
        prop_assert_eq!(out.len(), raw.len());
        let again = Greeting::parse(&out).unwrap();
        prop_assert_eq!(again.connection_id, proxy_id);
        prop_assert_eq!(again.capabilities, offered);
        prop_assert_eq!(&again.nonce, &parsed.nonce);
        prop_assert_eq!(&again.auth_plugin, &parsed.auth_plugin);
        let b = 1 + g.version.len() + 1;
        let patched = [b..b + 4, b + 13..b + 15, b + 18..b + 20, b + 27..b + 31];
        for i in (0..raw.len()).filter(|&i| raw[i] != out[i]) {
            prop_assert!(patched.iter().any(|r| r.contains(&i)), "byte {} changed", i);
        }
    }

    /// Arbitrary and mutated greetings: no panic; a greeting that parses can be patched.
    #[test]
    fn greeting_of_arbitrary_bytes(
        raw in prop_oneof![
            bytes(120).prop_map(|mut b| { if let Some(f) = b.first_mut() { *f = 10; } b }),
            mutated(greeting_parts().prop_map(|g| g.encode())),
        ],
        proxy_id: u32,
    ) {
        if let Ok(g) = Greeting::parse(&raw) {
            let out = g.for_client(proxy_id, g.offered(true, true));
            prop_assert_eq!(out.len(), raw.len());
        }
    }
}
