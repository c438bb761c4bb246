//! Bad input gets a clear error and a closed connection, never a panic or a hang, and the
//! proxy keeps serving. TLS modes, and bytes smuggled in before the TLS handshake.

mod common;

use std::time::Duration;

use common::raw::RawClient;
use common::*;
use grproxy::frontend::TlsMode;
use grproxy::protocol::response::parse_err;
use mysql_async::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads whatever the proxy sends until it closes the connection (or 5 s pass).
async fn read_until_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    assert!(r.is_ok(), "proxy did not close the connection: it hangs");
    out
}

/// The ERR packet at the end of `bytes`, if any.
fn last_error(bytes: &[u8]) -> Option<(u16, String)> {
    let mut pos = 0;
    let mut last = None;
    while pos + 4 <= bytes.len() {
        let len = bytes[pos] as usize | (bytes[pos + 1] as usize) << 8 | (bytes[pos + 2] as usize) << 16;
        let payload = &bytes[pos + 4..(pos + 4 + len).min(bytes.len())];
        last = (payload.first() == Some(&0xFF)).then(|| parse_err(payload));
        pos += 4 + len;
    }
    last
}

async fn still_serving(p: &grproxy::frontend::ProxyHandle) {
    let mut c = mysql_async::Conn::new(proxy_opts(p, "root", "")).await.unwrap();
    let one: Option<i32> = c.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    c.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_truncated_and_oversized_input() {
    let m = Mysqld::start();
    let p = proxy_with(&m, |s| {
        s.max_packet = 1 << 20;
        s.handshake_timeout = Duration::from_secs(2);
    })
    .await;
    let addr = p.tcp_addr.unwrap().to_string();

    // Handshake phase: garbage instead of a handshake response.
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("short response", vec![3, 0, 0, 1, 1, 2, 3]),
        ("no protocol 41", {
            let mut v = vec![40, 0, 0, 1];
            v.extend_from_slice(&[0u8; 40]);
            v
        }),
        ("oversized header", vec![0xFF, 0xFF, 0xFF, 1]),
        ("random bytes", (0..200u32).map(|i| (i * 73 % 251) as u8).collect()),
    ];
    for (name, bytes) in cases {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        greeting(&mut s).await;
        s.write_all(&bytes).await.unwrap();
        let _ = s.shutdown().await;
        let out = read_until_close(&mut s).await;
        if name != "oversized header" && name != "random bytes" {
            assert_eq!(last_error(&out).map(|e| e.0), Some(1835), "{name}: {out:?}");
        }
    }
    // Before authentication a packet may not be large: a 100 KiB "handshake response" is
    // refused (1153) although max_packet is 1 MiB.
    {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        greeting(&mut s).await;
        let n = 100 * 1024;
        let mut big = vec![(n & 0xFF) as u8, ((n >> 8) & 0xFF) as u8, (n >> 16) as u8, 1];
        big.extend(std::iter::repeat_n(0x41u8, 16));
        let _ = s.write_all(&big).await;
        let out = read_until_close(&mut s).await;
        assert_eq!(last_error(&out).map(|e| e.0), Some(1153), "pre-auth oversized: {out:?}");
    }
    // A client that connects and says nothing is dropped after the handshake timeout.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(6), async {
        let mut buf = Vec::new();
        idle.read_to_end(&mut buf).await
    })
    .await;
    assert!(r.is_ok(), "silent client not dropped");

    // Command phase.
    let mut c = RawClient::connect(&addr, "root", "", true).await;
    // A command packet whose header announces more than max_packet.
    c.send_raw(&[0x00, 0x00, 0x20, 0x00, 0x03]).await;
    let rest = c.read_until_close(Duration::from_secs(5)).await;
    assert_eq!(
        last_error(&rest).map(|e| e.0),
        Some(1153),
        "oversized command: {rest:?}"
    );

    let mut c = RawClient::connect(&addr, "root", "", true).await;
    c.send_raw(&[1, 0, 0, 0, 0xEE]).await; // unknown command byte
    let out = c.read_packet_raw().await;
    assert_eq!(last_error(&out).map(|e| e.0), Some(1047));
    // The connection survives an unknown command.
    let ok = c.query("SELECT 1").await;
    assert!(last_error(&ok).is_none());
    // Wrong sequence id for a new command.
    c.send_raw(&[9, 0, 0, 5, 3, b'S', b'E', b'L', b'E', b'C', b'T', b' ', b'1'])
        .await;
    let out = c.read_until_close(Duration::from_secs(5)).await;
    assert_eq!(last_error(&out).map(|e| e.0), Some(1835));

    // Truncated command then close: the session ends without hanging the proxy.
    let mut c = RawClient::connect(&addr, "root", "", true).await;
    c.send_raw(&[100, 0, 0, 0, 3, b'S']).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    still_serving(&p).await;
    // Every session ends (the last disconnect is asynchronous, so allow it a moment).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while p.context.registry.session_count() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(p.context.registry.session_count(), 0, "sessions all ended");
    p.stop().await;
}

async fn greeting(s: &mut TcpStream) -> Vec<u8> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.unwrap();
    let mut g = vec![0u8; h[0] as usize | (h[1] as usize) << 8];
    s.read_exact(&mut g).await.unwrap();
    g
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_modes_and_preauth_injection() {
    let m = Mysqld::start();
    let p = proxy_with(&m, |s| s.tls_mode = TlsMode::Required).await;
    let addr = p.tcp_addr.unwrap().to_string();

    // Required: a plaintext login is refused with 3159.
    let e = mysql_async::Conn::new(proxy_opts(&p, "root", "")).await.unwrap_err();
    match e {
        mysql_async::Error::Server(s) => assert_eq!(s.code, 3159),
        other => panic!("expected 3159, got {other}"),
    }

    // A TLS client gets in and runs queries.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let g = greeting(&mut s).await;
    let greet = grproxy::protocol::handshake::Greeting::parse(&g).unwrap();
    assert!(greet
        .capabilities
        .contains(mysql_common::constants::CapabilityFlags::CLIENT_SSL));
    s.write_all(&common::tls::ssl_request()).await.unwrap();
    let mut tls = common::tls::connect(s).await.expect("TLS handshake with the proxy");
    let mut resp = Vec::new();
    {
        use mysql_common::constants::CapabilityFlags as C;
        let caps = C::CLIENT_PROTOCOL_41
            | C::CLIENT_SECURE_CONNECTION
            | C::CLIENT_PLUGIN_AUTH
            | C::CLIENT_SSL
            | C::CLIENT_DEPRECATE_EOF;
        let mut body = caps.bits().to_le_bytes().to_vec();
        body.extend_from_slice(&(16u32 << 20).to_le_bytes());
        body.push(45);
        body.extend_from_slice(&[0; 23]);
        body.extend_from_slice(b"root\0");
        body.push(0); // empty auth response: root has no password
        body.extend_from_slice(b"mysql_native_password\0");
        resp.extend_from_slice(&(body.len() as u32).to_le_bytes()[..3]);
        resp.push(2);
        resp.extend_from_slice(&body);
    }
    tls.write_all(&resp).await.unwrap();
    let mut h = [0u8; 5];
    tls.read_exact(&mut h).await.unwrap();
    assert_eq!(h[4], 0x00, "OK after authentication over TLS");
    assert_eq!(h[3], 3, "sequence ids follow the client's numbering");
    let mut rest = vec![0u8; (h[0] as usize) - 1];
    tls.read_exact(&mut rest).await.unwrap();

    // Bytes sent right after the SSLRequest, before any TLS handshake, are not executed.
    let mut root = m.root().await;
    root.query_drop("CREATE DATABASE inj").await.unwrap();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    greeting(&mut s).await;
    let mut evil = common::tls::ssl_request();
    let sql = b"\x03CREATE TABLE inj.pwned (i INT)";
    evil.extend_from_slice(&(sql.len() as u32).to_le_bytes()[..3]);
    evil.push(0);
    evil.extend_from_slice(sql);
    s.write_all(&evil).await.unwrap();
    read_until_close(&mut s).await;
    let n: Option<i64> = root
        .query_first("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'inj'")
        .await
        .unwrap();
    assert_eq!(n, Some(0), "injected plaintext must not run");
    p.stop().await;

    // Disabled: the greeting does not offer TLS.
    let p = proxy_with(&m, |s| s.tls_mode = TlsMode::Disabled).await;
    let mut s = TcpStream::connect(p.tcp_addr.unwrap()).await.unwrap();
    let g = grproxy::protocol::handshake::Greeting::parse(&greeting(&mut s).await).unwrap();
    assert!(!g
        .capabilities
        .contains(mysql_common::constants::CapabilityFlags::CLIENT_SSL));
    still_serving(&p).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_infile_disabled_gets_a_clear_error() {
    let m = Mysqld::start();
    let p = proxy_with(&m, |s| s.local_infile = false).await;
    let mut c = mysql_async::Conn::new(proxy_opts(&p, "root", "")).await.unwrap();
    c.query_drop("CREATE DATABASE li").await.unwrap();
    c.query_drop("CREATE TABLE li.t (a INT PRIMARY KEY)").await.unwrap();
    let e = c
        .query_drop("LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE li.t")
        .await
        .unwrap_err();
    match e {
        mysql_async::Error::Server(s) => {
            assert_eq!((s.code, s.state.as_str()), (1148, "42000"));
            assert!(s.message.contains("disabled"), "{}", s.message);
        }
        other => panic!("{other}"),
    }
    c.ping().await.unwrap();
    p.stop().await;
}

/// A client that hangs up while its statement waits in mysqld (`GET_LOCK`) gets that
/// statement killed at once, as a direct client would (mysql-test `main.dirty_close` waited
/// an hour through the proxy); a client that sends its next command before the response to the
/// previous one still gets both answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_hanging_up_mid_statement_ends_the_statement() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let mut holder = m.root().await;
    holder.query_drop("SELECT GET_LOCK('held', 0)").await.unwrap();
    let addr = p.tcp_addr.unwrap().to_string();
    let mut waiter = RawClient::connect(&addr, "root", "", true).await;
    waiter.io.send(0, b"\x03SELECT GET_LOCK('held', 3600)").await.unwrap();
    let waiting = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = 'User lock'";
    let mut seen = 0;
    for _ in 0..50 {
        seen = holder.query_first::<u64, _>(waiting).await.unwrap().unwrap();
        if seen == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 1, "the statement waits in mysqld");
    drop(waiter);
    for _ in 0..50 {
        seen = holder.query_first::<u64, _>(waiting).await.unwrap().unwrap();
        if seen == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 0, "the vanished client's statement still waits in mysqld");

    // Pipelined: the second command arrives while the first is answered.
    let mut c = RawClient::connect(&addr, "root", "", true).await;
    c.io.send(0, b"\x03SELECT SLEEP(0.3)").await.unwrap();
    let first = c.query("SELECT 'second'").await;
    assert!(first.windows(10).any(|w| w == b"SLEEP(0.3)"), "{first:?}");
    let mut st =
        grproxy::protocol::response::ResponseState::new(grproxy::protocol::response::Expect::QueryResult, true);
    let mut second = Vec::new();
    loop {
        let pk = c.io.expect_packet().await.unwrap();
        second.extend_from_slice(&pk.raw);
        if st.feed(&pk.payload, pk.payload.len()).unwrap() == grproxy::protocol::response::Step::Done {
            break;
        }
    }
    assert!(second.windows(6).any(|w| w == b"second"), "{second:?}");
    holder.query_drop("DO RELEASE_LOCK('held')").await.unwrap();
    still_serving(&p).await;
    p.stop().await;
}
