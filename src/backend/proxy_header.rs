//! The PROXY protocol (version 1, text) header a session sends mysqld before anything else,
//! so mysqld sees the client's own address: host-based accounts (`app@'10.0.0.%'`) work
//! through the proxy, and `USER()` / the processlist name the real client.
//!
//! MariaDB accepts the header from the networks in its `proxy_protocol_networks`; without
//! the header a connection from there is taken as is. A client that reached grproxy over its
//! unix socket has no address: `PROXY UNKNOWN` makes mysqld use the connection's own
//! (grproxy's loopback address).

use std::net::SocketAddr;

/// The header for a client connected from `client` to grproxy's listener at `local`
/// (`None`: a unix-socket client).
pub fn v1(client: Option<SocketAddr>, local: Option<SocketAddr>) -> Vec<u8> {
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
            (None, None, "PROXY UNKNOWN\r\n"),
            (a("10.1.2.3:50000"), None, "PROXY UNKNOWN\r\n"),
        ];
        for (c, l, want) in cases {
            let got = v1(*c, *l);
            assert_eq!(String::from_utf8(got.clone()).unwrap(), *want);
            // The specification's limit for a v1 line, CRLF included.
            assert!(got.len() <= 107);
        }
    }
}
