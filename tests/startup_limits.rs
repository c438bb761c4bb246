//! What grproxy takes from mysqld at start (issue 11, "Limits"): a client-session cap no higher
//! than mysqld accepts (its `max_connections` less what grproxy keeps for its own connections),
//! and a mysqld that does not accept grproxy's PROXY header is refused at start with the reason.

mod common;

use common::*;
use mysql_async::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_capped_below_mysqlds_max_connections() {
    let m = Mysqld::start_with(&["--max-connections=24"]);
    let p = proxy(&m).await;
    // 24 less the 16 grproxy keeps for itself: 8 sessions.
    let mut open = Vec::new();
    for i in 0..8 {
        let mut c = mysql_async::Conn::new(proxy_opts(&p, "root", ""))
            .await
            .unwrap_or_else(|e| panic!("session {i}: {e}"));
        c.query_drop("DO 1").await.unwrap();
        open.push(c);
    }
    let e = mysql_async::Conn::new(proxy_opts(&p, "root", ""))
        .await
        .err()
        .expect("a ninth session is refused");
    assert!(matches!(&e, mysql_async::Error::Server(s) if s.code == 1040), "{e}");
    // One ends: there is room again.
    open.pop().unwrap().disconnect().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match mysql_async::Conn::new(proxy_opts(&p, "root", "")).await {
            Ok(c) => {
                open.push(c);
                break;
            }
            Err(e) => assert!(
                std::time::Instant::now() < deadline,
                "no room after a session ended: {e}"
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mysqld_without_proxy_protocol_networks_is_refused_at_start() {
    let m = Mysqld::start_with(&["--proxy-protocol-networks="]);
    let e = grproxy::frontend::start(settings(&m))
        .await
        .err()
        .expect("refused at start");
    assert!(e.to_string().contains("proxy_protocol_networks"), "{e}");
}
