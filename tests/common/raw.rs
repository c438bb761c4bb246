//! A byte-level MySQL client for tests that must see exactly what a server sends: it logs in
//! with the library's own login code and returns each response's raw bytes.

use std::time::Duration;

use grproxy::backend::login::{login_with, LOGIN_CAPS};
use grproxy::backend::{BackendAddr, BackendConn};
use grproxy::protocol::io::{BoxStream, PacketIo};
use grproxy::protocol::response::{Expect, ResponseState, Step};
use mysql_common::constants::CapabilityFlags as Caps;

pub struct RawClient {
    pub io: PacketIo<BoxStream>,
    pub caps: Caps,
    pub conn_id: u32,
}

impl RawClient {
    /// Logs in over TCP to `addr`. `deprecate_eof` chooses between the two result-set
    /// terminator styles.
    pub async fn connect(addr: &str, user: &str, pass: &str, deprecate_eof: bool) -> RawClient {
        Self::connect_with(addr, user, pass, deprecate_eof, None).await
    }

    /// As [`RawClient::connect`], asking for connection collation `collation` in the handshake.
    pub async fn connect_with(
        addr: &str,
        user: &str,
        pass: &str,
        deprecate_eof: bool,
        collation: Option<u8>,
    ) -> RawClient {
        let mut conn = BackendConn::connect(&BackendAddr::Tcp(addr.into()), None, Duration::from_secs(5), 64 << 20)
            .await
            .expect("connect");
        let conn_id = conn.greeting.connection_id;
        let mut wanted = LOGIN_CAPS | Caps::CLIENT_MULTI_STATEMENTS | Caps::CLIENT_PS_MULTI_RESULTS;
        if !deprecate_eof {
            wanted -= Caps::CLIENT_DEPRECATE_EOF;
        }
        let caps = login_with(&mut conn, user, pass, None, wanted, collation)
            .await
            .expect("login");
        RawClient {
            io: conn.io,
            caps,
            conn_id,
        }
    }

    /// Sends one command payload (sequence id 0) and returns the raw bytes of its response.
    pub async fn command(&mut self, payload: &[u8], expect: Expect) -> Vec<u8> {
        self.io.send(0, payload).await.expect("send");
        let mut st = ResponseState::new(expect, self.caps.contains(Caps::CLIENT_DEPRECATE_EOF));
        let mut out = Vec::new();
        loop {
            let p = self.io.expect_packet().await.expect("response packet");
            out.extend_from_slice(&p.raw);
            match st
                .feed(&p.payload, p.payload.len().min(0xFF_FFFF))
                .expect("well-formed response")
            {
                Step::Done => return out,
                Step::More => {}
                Step::LocalInfile => {
                    self.io.send(p.seq.wrapping_add(1), &[]).await.unwrap();
                }
            }
        }
    }

    pub async fn query(&mut self, sql: &str) -> Vec<u8> {
        let mut p = vec![0x03];
        p.extend_from_slice(sql.as_bytes());
        self.command(&p, Expect::QueryResult).await
    }

    /// Sends bytes without waiting for anything (for malformed-input tests).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.queue_raw(bytes);
        self.io.flush().await.unwrap();
    }
}

impl RawClient {
    /// Every byte received until the peer closes (or `limit` passes).
    pub async fn read_until_close(&mut self, limit: Duration) -> Vec<u8> {
        let _ = tokio::time::timeout(limit, async {
            while let Ok(n) = self.io.fill().await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        self.io.read_buffer().split().to_vec()
    }

    /// Reads one packet's raw bytes.
    pub async fn read_packet_raw(&mut self) -> Vec<u8> {
        self.io.expect_packet().await.expect("a packet").raw.to_vec()
    }
}
