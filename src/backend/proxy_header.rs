//! The PROXY protocol (version 1, text) header a session sends mysqld before anything else,
//! so mysqld sees the client's own address: host-based accounts (`app@'10.0.0.%'`) work
//! through the proxy, and `USER()` / the processlist name the real client.
//!
//! MariaDB accepts the header from the networks in its `proxy_protocol_networks`; without
//! the header a connection from there is taken as is. A client that reached grproxy over its
//! unix socket gets a version 2 (binary) header of the AF_UNIX family: MariaDB then takes the
//! client for a local one, `'user'@'localhost'` accounts match as they do on mysqld's own
//! socket, and `USER()` says `@localhost` (with `PROXY UNKNOWN`, mysqld used the connection's
//! own address, grproxy's 127.0.0.1, and mysql-test's `connect (c,localhost,u1,,)` was refused
//! for `u1@localhost`). The connection is still TCP, so mysqld's `unix_socket` plugin, which
//! asks the socket for the peer's OS user, refuses such a login rather than trusting grproxy's
//! OS user (checked against mariadbd 10.11).

use std::net::SocketAddr;

/// The version 2 signature.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\x00\r\nQUIT\n";

/// The header for a client connected from `client` to grproxy's listener at `local`: version 1
/// text for a TCP client, the version 2 AF_UNIX header for a unix-socket client (`None, None`).
pub fn v1(client: Option<SocketAddr>, local: Option<SocketAddr>) -> Vec<u8> {
    if client.is_none() && local.is_none() {
        return v2_unix();
    }
    let line = match (client, local) {
        (Some(SocketAddr::V4(c)), Some(SocketAddr::V4(l))) => {
            format!("PROXY TCP4 {} {} {} {}\r\n", c.ip(), l.ip(), c.port(), l.port())
        }
        (Some(c), Some(l)) => {
            // Mixed families (an IPv4 client on a dual-stack listener) are written as IPv6.
            let v6 = |a: SocketAddr| match a {
                SocketAddr::V4(a) => a.ip().to_ipv6_mapped(),
                SocketAddr::V6(a) => *a.ip(),
            };
            format!("PROXY TCP6 {} {} {} {}\r\n", v6(c), v6(l), c.port(), l.port())
        }
        _ => "PROXY UNKNOWN\r\n".to_string(),
    };
    line.into_bytes()
}

/// Version 2, command PROXY (0x21), family AF_UNIX over a stream (0x31), with the two 108-byte
/// socket paths left empty (the client's socket has no name).
pub fn v2_unix() -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.extend_from_slice(&[0x21, 0x31]);
    h.extend_from_slice(&216u16.to_be_bytes());
    h.extend_from_slice(&[0u8; 216]);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let a = |s: &str| Some(s.parse::<SocketAddr>().unwrap());
        let cases: &[(Option<SocketAddr>, Option<SocketAddr>, &str)] = &[
            (
                a("10.1.2.3:50000"),
                a("127.0.0.1:6033"),
                "PROXY TCP4 10.1.2.3 127.0.0.1 50000 6033\r\n",
            ),
            (
                a("[2001:db8::1]:4000"),
                a("[::1]:6033"),
                "PROXY TCP6 2001:db8::1 ::1 4000 6033\r\n",
            ),
            (
                a("192.0.2.7:1234"),
                a("[::]:6033"),
                "PROXY TCP6 ::ffff:192.0.2.7 :: 1234 6033\r\n",
            ),
            (a("10.1.2.3:50000"), None, "PROXY UNKNOWN\r\n"),
        ];
        for (c, l, want) in cases {
            let got = v1(*c, *l);
            assert_eq!(String::from_utf8(got.clone()).unwrap(), *want);
            // The specification's limit for a v1 line, CRLF included.
            assert!(got.len() <= 107);
        }
    }

    /// A unix-socket client: the 16-byte v2 preamble (signature, PROXY over AF_UNIX stream,
    /// length 216) and two empty socket paths.
    #[test]
    fn unix_client_gets_a_v2_unix_header() {
        let h = v1(None, None);
        assert_eq!(h.len(), 16 + 216);
        assert_eq!(&h[..12], b"\r\n\r\n\x00\r\nQUIT\n");
        assert_eq!(&h[12..16], &[0x21, 0x31, 0x00, 0xD8]);
        assert!(h[16..].iter().all(|&b| b == 0));
    }
}
