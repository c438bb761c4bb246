//! Operations (issue 14), against real mariadbd processes: `/metrics` and `/health` of
//! in-process proxies and of a group, the `grproxy` binary's signals (SIGHUP reload, SIGTERM
//! drain with an open transaction), its logs, and the `check` / `status` / `--version`
//! commands.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, proxy, proxy_opts, proxy_with, root_tcp_opts, Mysqld, TestGroup};
use mysql_async::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_grproxy");

// ---------------------------------------------------------------------------
// HTTP and metrics helpers
// ---------------------------------------------------------------------------

/// `METHOD path` over HTTP/1.1; (status, body).
async fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("admin endpoint reachable");
    s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(addr, "GET", path).await
}

/// Parsed `/metrics`: sample (name with labels, as written) -> value.
struct Metrics(std::collections::HashMap<String, f64>);

impl Metrics {
    async fn scrape(addr: SocketAddr) -> Metrics {
        let (status, body) = get(addr, "/metrics").await;
        assert_eq!(status, 200, "{body}");
        Metrics(
            body.lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .filter_map(|l| l.rsplit_once(' '))
                .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
                .collect(),
        )
    }

    fn get(&self, sample: &str) -> f64 {
        *self
            .0
            .get(sample)
            .unwrap_or_else(|| panic!("no sample {sample}; have {:?}", self.0.keys().collect::<Vec<_>>()))
    }
}

async fn poll<T>(what: &str, timeout: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------
// In-process proxies
// ---------------------------------------------------------------------------

/// Counters move with traffic: connections, logins, statements by class and their
/// latency histogram, refused logins; the endpoint answers only GET/HEAD on its two paths;
/// SHOW GRPROXY STATUS names the endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_traffic() {
    let m = Mysqld::start();
    let p = proxy(&m).await;
    let admin = grproxy::admin::start(p.context.clone(), "127.0.0.1:0").await.unwrap();
    let before = Metrics::scrape(admin.addr).await;
    assert_eq!(before.get("grproxy_client_sessions"), 0.0);
    assert_eq!(before.get("grproxy_statements_total{class=\"read\"}"), 0.0);

    let mut c = mysql_async::Conn::new(proxy_opts(&p, "root", "")).await.unwrap();
    c.query_drop("CREATE DATABASE ops").await.unwrap();
    c.query_drop("CREATE TABLE ops.t (id INT PRIMARY KEY)").await.unwrap();
    for _ in 0..5 {
        c.query_drop("SELECT 1").await.unwrap();
    }
    c.exec_drop("INSERT INTO ops.t VALUES (?)", (1,)).await.unwrap();
    c.query_drop("BEGIN; UPDATE ops.t SET id = 2; COMMIT").await.unwrap();
    let during = Metrics::scrape(admin.addr).await;
    let delta = |s: &str| during.get(s) - before.get(s);
    assert_eq!(during.get("grproxy_client_sessions"), 1.0);
    assert_eq!(during.get("grproxy_client_connections"), 1.0);
    assert!(delta("grproxy_client_connections_accepted_total") >= 1.0);
    assert!(delta("grproxy_client_logins_total") >= 1.0);
    assert!(delta("grproxy_statements_total{class=\"read\"}") >= 5.0);
    assert_eq!(delta("grproxy_statements_total{class=\"ddl\"}"), 2.0);
    // The prepared INSERT and the UPDATE of the multi-statement packet.
    assert_eq!(delta("grproxy_statements_total{class=\"dml\"}"), 2.0);
    assert!(delta("grproxy_statements_total{class=\"transaction\"}") >= 2.0);
    assert!(delta("grproxy_statement_duration_seconds_count{class=\"read\"}") >= 5.0);
    assert_eq!(
        during.get("grproxy_statement_duration_seconds_bucket{class=\"ddl\",le=\"+Inf\"}"),
        2.0
    );
    assert!(during.get("grproxy_statement_duration_seconds_sum{class=\"ddl\"}") > 0.0);

    // A refused login is counted by reason.
    let e = mysql_async::Conn::new(proxy_opts(&p, "root", "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(e, mysql_async::Error::Server(ref s) if s.code == 1045), "{e}");
    let after = Metrics::scrape(admin.addr).await;
    assert_eq!(
        after.get("grproxy_client_connections_refused_total{reason=\"auth\"}")
            - before.get("grproxy_client_connections_refused_total{reason=\"auth\"}"),
        1.0
    );

    // SHOW GRPROXY STATUS says where the endpoint is.
    let rows: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.unwrap();
    let http_address = rows.iter().find(|(k, _)| k == "http_address").map(|(_, v)| v.clone());
    assert_eq!(http_address, Some(admin.addr.to_string()));
    c.disconnect().await.unwrap();
    poll("the session gauge to drop", Duration::from_secs(5), async || {
        (Metrics::scrape(admin.addr).await.get("grproxy_client_sessions") == 0.0).then_some(())
    })
    .await;

    let (status, body) = get(admin.addr, "/nope").await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = http(admin.addr, "POST", "/metrics").await;
    assert_eq!(status, 405);
    let (status, body) = http(admin.addr, "HEAD", "/metrics").await;
    assert_eq!((status, body.as_str()), (200, ""));
    admin.stop().await;
    p.stop().await;
}

/// A proxy whose mysqld cannot be reached answers clients with a server error (1053, not a
/// client-side 20xx code) that names the address and the reason, and counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_backend_is_a_server_error_naming_the_address() {
    let m = Mysqld::start();
    let dead = format!("127.0.0.1:{}", free_port());
    let p = proxy_with(&m, |s| s.session_backend = Some(dead.clone())).await;
    let admin = grproxy::admin::start(p.context.clone(), "127.0.0.1:0").await.unwrap();
    let e = mysql_async::Conn::new(proxy_opts(&p, "root", "")).await.unwrap_err();
    match e {
        mysql_async::Error::Server(s) => {
            assert_eq!(s.code, 1053, "{}", s.message);
            assert!(
                s.message
                    .starts_with(&format!("backend unavailable: cannot connect to mysqld at {dead}: ")),
                "{}",
                s.message
            );
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    let after = Metrics::scrape(admin.addr).await;
    assert_eq!(
        after.get("grproxy_client_connections_refused_total{reason=\"backend\"}"),
        1.0
    );
    admin.stop().await;
    p.stop().await;
}

/// A plain proxy is healthy while its mysqld takes logins; once mysqld is gone /health
/// answers 503 and says why, naming where it looked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_mysqld() {
    let m = Mysqld::start();
    let socket = m.layout.socket.display().to_string();
    let p = proxy(&m).await;
    let admin = grproxy::admin::start(p.context.clone(), "127.0.0.1:0").await.unwrap();
    let (status, body) = get(admin.addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("OK: proxy, mysqld reachable"), "{body}");
    let (status, body) = http(admin.addr, "HEAD", "/health").await;
    assert_eq!((status, body.as_str()), (200, ""));

    drop(m); // kills mysqld
    let body = poll("/health to fail", Duration::from_secs(10), async || {
        let (status, body) = get(admin.addr, "/health").await;
        (status == 503).then_some(body)
    })
    .await;
    assert!(
        body.starts_with("mysqld unreachable: cannot log in to mysqld at unix:"),
        "{body}"
    );
    assert!(body.contains(&socket), "{body}");
    admin.stop().await;
    p.stop().await;
}

/// Group members: healthy and exactly one leader in the metrics; a write moves the origin's
/// proposals and commits and the others' replays; a member that lost both peers (no
/// quorum, no leader) turns unhealthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_metrics_and_health() {
    let mut g = TestGroup::start(3).await;
    let mut admins = Vec::new();
    for p in &g.proxies {
        admins.push(grproxy::admin::start(p.context.clone(), "127.0.0.1:0").await.unwrap());
    }
    for a in &admins {
        let body = poll("every member healthy", Duration::from_secs(20), async || {
            let (status, body) = get(a.addr, "/health").await;
            (status == 200).then_some(body)
        })
        .await;
        assert!(body.starts_with("OK: group member ONLINE"), "{body}");
    }
    let mut leaders = Vec::new();
    for (i, a) in admins.iter().enumerate() {
        let m = Metrics::scrape(a.addr).await;
        assert_eq!(m.get("grproxy_group_member_online"), 1.0);
        assert_eq!(m.get("grproxy_raft_leader_known"), 1.0);
        assert_eq!(m.get("grproxy_group_members"), 3.0);
        if m.get("grproxy_raft_role{role=\"leader\"}") == 1.0 {
            leaders.push(i);
        }
    }
    assert_eq!(leaders.len(), 1, "exactly one leader");

    let origin = Metrics::scrape(admins[0].addr).await;
    let mut c = g.conn(0).await;
    c.query_drop("CREATE DATABASE ops").await.unwrap();
    c.query_drop("CREATE TABLE ops.t (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO ops.t VALUES (1, 1), (2, 2)").await.unwrap();
    c.disconnect().await.unwrap();
    g.converge().await;
    let after = Metrics::scrape(admins[0].addr).await;
    assert!(after.get("grproxy_group_proposals_total") > origin.get("grproxy_group_proposals_total"));
    assert!(after.get("grproxy_group_local_commits_total") > origin.get("grproxy_group_local_commits_total"));
    assert!(after.get("grproxy_group_applied_index") >= 1.0);
    // The write path's phases are histograms too.
    for h in ["propose", "local_commit", "capture"] {
        let name = format!("grproxy_{h}_duration_seconds_count");
        assert!(after.get(&name) > origin.get(&name), "{name}");
    }
    for a in &admins[1..] {
        let m = poll("replays on the other members", Duration::from_secs(10), async || {
            let m = Metrics::scrape(a.addr).await;
            // The view of the others is refreshed every second.
            (m.get("grproxy_group_replayed_transactions_total") >= 1.0
                && m.get("grproxy_group_apply_lag_entries") == 0.0
                && m.get("grproxy_member_state{member=\"1\",state=\"ONLINE\"}") == 1.0
                && m.get("grproxy_member_lag_entries{member=\"1\"}") == 0.0)
                .then_some(m)
        })
        .await;
        assert!(m.get("grproxy_raft_term") >= 1.0);
        assert_eq!(m.get("grproxy_group_member_state{state=\"ONLINE\"}"), 1.0);
    }

    // Every metric the Grafana dashboard queries is exported by a group member.
    let dashboard =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/grproxy-dashboard.json"))
            .unwrap();
    let scraped = Metrics::scrape(admins[0].addr).await;
    let mut used: Vec<&str> = dashboard
        .match_indices("grproxy_")
        .map(|(i, _)| {
            let rest = &dashboard[i..];
            &rest[..rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len())]
        })
        .filter(|name| *name != "grproxy_")
        .collect();
    used.sort();
    used.dedup();
    assert!(used.len() > 10, "{used:?}");
    for name in used {
        assert!(
            scraped
                .0
                .keys()
                .any(|k| k == name || k.starts_with(&format!("{name}{{"))),
            "the dashboard queries {name}, which is not exported"
        );
    }

    // Keep a follower; stop the other two members, Raft included.
    let keep = (0..3).find(|i| !leaders.contains(i)).unwrap();
    for i in (0..3).rev().filter(|&i| i != keep) {
        let admin = admins.remove(i);
        admin.stop().await;
        let p = g.proxies.remove(i);
        let group = p.context.group.clone().unwrap();
        p.stop().await;
        group.shutdown().await;
    }
    let kept = &admins[0];
    let body = poll(
        "the lone member to lose its leader",
        Duration::from_secs(30),
        async || {
            let (status, body) = get(kept.addr, "/health").await;
            (status == 503).then_some(body)
        },
    )
    .await;
    // Which comes first depends on timing: the election timeout (no leader) or the quorum
    // check (NO_QUORUM).
    assert!(
        body.starts_with("no Raft leader known") || body.starts_with("member state NO_QUORUM"),
        "{body}"
    );
    let m = poll("NO_QUORUM in the metrics", Duration::from_secs(30), async || {
        let m = Metrics::scrape(kept.addr).await;
        (m.get("grproxy_group_member_state{state=\"NO_QUORUM\"}") == 1.0).then_some(m)
    })
    .await;
    assert_eq!(m.get("grproxy_group_member_online"), 0.0);
    let me = g.proxies[0].context.group.as_ref().unwrap().member_id;
    for other in (1..=3u64).filter(|&i| i != me) {
        assert_eq!(
            m.get(&format!(
                "grproxy_member_state{{member=\"{other}\",state=\"UNREACHABLE\"}}"
            )),
            1.0
        );
    }
}

// ---------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------

/// `grproxy run` as a child process, with a config file in a temporary directory and its
/// stderr (the log) in a file there.
struct Proxy {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    http: SocketAddr,
}

impl Proxy {
    fn config_text(m: &Mysqld, port: u16, http: SocketAddr, extra: &str) -> String {
        format!(
            "listen:\n  tcp: \"127.0.0.1:{port}\"\n\
             backend:\n  address: \"127.0.0.1:{}\"\n  unix_socket: \"{}\"\n\
             service_account:\n  user: root\n\
             admin:\n  http: \"{http}\"\n{extra}",
            m.layout.port,
            m.layout.socket.display()
        )
    }

    async fn start(m: &Mysqld, extra: &str) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        std::fs::write(dir.path().join("grproxy.yaml"), Self::config_text(m, port, http, extra)).unwrap();
        let log = std::fs::File::create(dir.path().join("grproxy.log")).unwrap();
        let child = Command::new(BIN)
            .arg("run")
            .arg("--config")
            .arg(dir.path().join("grproxy.yaml"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let p = Proxy { child, dir, port, http };
        p.wait_log("serving /metrics and /health", Duration::from_secs(30))
            .await;
        p
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("grproxy.yaml")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("grproxy.log")).unwrap()
    }

    async fn wait_log(&self, needle: &str, timeout: Duration) -> String {
        poll(&format!("{needle:?} in the log"), timeout, async || {
            let log = self.log();
            log.contains(needle).then_some(log)
        })
        .await
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    fn opts(&self) -> mysql_async::OptsBuilder {
        root_tcp_opts(self.port)
    }

    /// Waits for the process to exit on its own.
    async fn exit_status(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let child = &mut self.child;
        poll("grproxy to exit", timeout, async || child.try_wait().unwrap()).await
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- grproxy log ---\n{}", self.log());
        }
    }
}

/// SIGTERM drains: new clients are refused and /health says so, an idle session is told
/// 1053, a transaction opened before the signal goes on and commits, then the process exits
/// 0 on its own with a log line saying nothing was cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_lets_an_open_transaction_commit() {
    let m = Mysqld::start();
    let mut root = m.root().await;
    root.query_drop("CREATE DATABASE ops").await.unwrap();
    root.query_drop("CREATE TABLE ops.t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    let mut p = Proxy::start(&m, "limits:\n  shutdown_grace_ms: 30000\n").await;

    let mut txn = mysql_async::Conn::new(p.opts()).await.unwrap();
    txn.query_drop("BEGIN").await.unwrap();
    txn.query_drop("INSERT INTO ops.t VALUES (1)").await.unwrap();
    let mut idle = mysql_async::Conn::new(p.opts()).await.unwrap();
    idle.query_drop("SELECT 1").await.unwrap();
    assert_eq!(get(p.http, "/health").await.0, 200);

    p.signal("TERM");
    p.wait_log("shutting down: draining", Duration::from_secs(5)).await;
    poll("new clients to be refused", Duration::from_secs(5), async || {
        TcpStream::connect(("127.0.0.1", p.port)).await.is_err().then_some(())
    })
    .await;
    let (status, body) = get(p.http, "/health").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("draining"), "{body}");
    match idle.query_drop("SELECT 1").await {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!(e.code, 1053, "{}", e.message);
            assert!(e.message.starts_with("Server shutdown in progress"), "{}", e.message);
        }
        other => panic!("the idle session should have been closed with 1053: {other:?}"),
    }

    // The transaction opened before SIGTERM goes on and commits.
    txn.query_drop("INSERT INTO ops.t VALUES (2)").await.unwrap();
    txn.query_drop("COMMIT").await.unwrap();
    let status = p.exit_status(Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}\n{}", p.log());
    let n: Option<i64> = root.query_first("SELECT COUNT(*) FROM ops.t").await.unwrap();
    assert_eq!(n, Some(2));
    let log = p.log();
    // The idle session and the transaction's end by themselves; a probe connection accepted
    // just before the listener closed may be counted too. Nothing is cut.
    assert!(
        ["2", "3"].iter().any(|n| log.contains(&format!(
            "stopped: {n} connection(s) ended by themselves, 0 closed at the deadline"
        ))),
        "{log}"
    );
    assert!(!log.contains("cannot reach its local mysqld"), "{log}");
    assert!(!log.contains('\x1b'), "colour codes in a log file:\n{log}");
    drop(txn);
}

/// A transaction left open past `limits.shutdown_grace_ms` is cut (rolled back by mysqld),
/// and the process still exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cuts_what_is_left_at_the_deadline() {
    let m = Mysqld::start();
    let mut root = m.root().await;
    root.query_drop("CREATE DATABASE ops").await.unwrap();
    root.query_drop("CREATE TABLE ops.t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    let mut p = Proxy::start(&m, "limits:\n  shutdown_grace_ms: 1000\n").await;
    let mut txn = mysql_async::Conn::new(p.opts()).await.unwrap();
    txn.query_drop("BEGIN").await.unwrap();
    txn.query_drop("INSERT INTO ops.t VALUES (7)").await.unwrap();
    let started = Instant::now();
    p.signal("TERM");
    let status = p.exit_status(Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let log = p.log();
    assert!(
        log.contains("0 connection(s) ended by themselves, 1 closed at the deadline"),
        "{log}"
    );
    let n: Option<i64> = root.query_first("SELECT COUNT(*) FROM ops.t").await.unwrap();
    assert_eq!(n, Some(0), "the cut transaction did not commit");
    drop(txn);
}

// --- TLS helpers: the certificate a proxy offers --------------------------------------

/// The end-entity certificate (DER) the proxy on `port` presents after an SSLRequest.
async fn offered_certificate(port: u16) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.unwrap();
    let mut greeting = vec![0u8; h[0] as usize | (h[1] as usize) << 8];
    s.read_exact(&mut greeting).await.unwrap();
    s.write_all(&common::tls::ssl_request()).await.unwrap();
    let tls = common::tls::connect(s).await.expect("TLS handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// Writes a fresh self-signed certificate and key to `cert` and `key`; returns the DER.
fn write_certificate(cert: &Path, key: &Path) -> Vec<u8> {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(cert, ck.cert.pem()).unwrap();
    std::fs::write(key, ck.key_pair.serialize_pem()).unwrap();
    ck.cert.der().to_vec()
}

/// SIGHUP applies a new log level, a rotated client certificate and a new connection limit
/// at once, names what needs a restart, survives a broken file, and `grproxy status` reads the running proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_log_level_and_certificate() {
    let m = Mysqld::start();
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("client.crt"), certs.path().join("client.key"));
    let first = write_certificate(&cert, &key);
    let tls = format!("tls:\n  cert: \"{}\"\n  key: \"{}\"\n", cert.display(), key.display());
    let mut p = Proxy::start(&m, &format!("{tls}log:\n  level: info\n")).await;
    assert_eq!(offered_certificate(p.port).await, first);

    // At info, a login leaves no debug line.
    mysql_async::Conn::new(p.opts())
        .await
        .unwrap()
        .disconnect()
        .await
        .unwrap();
    assert!(!p.log().contains("authenticated"), "{}", p.log());

    // Rotate the certificate at the same paths, raise the level, change a restart-only key.
    let second = write_certificate(&cert, &key);
    let text = Proxy::config_text(
        &m,
        p.port,
        p.http,
        &format!("{tls}log:\n  level: debug\nlimits:\n  max_connections: 7\n  max_packet_size: 1048576\n"),
    );
    std::fs::write(p.config_path(), &text).unwrap();
    p.signal("HUP");
    let log = p.wait_log("SIGHUP:", Duration::from_secs(10)).await;
    let line = log.lines().find(|l| l.contains("SIGHUP:")).unwrap();
    assert!(
        line.contains(&format!(
            "SIGHUP: applied: log.level \"info\" -> \"debug\"; limits.max_connections 1024 -> 7; \
             tls: new certificate from {}; changed but only applied by a restart: limits.max_packet_size",
            cert.display()
        )),
        "{line}"
    );
    // The new connection limit holds at once: an eighth client is refused while seven are in.
    let mut clients = Vec::new();
    for _ in 0..7 {
        clients.push(mysql_async::Conn::new(p.opts()).await.unwrap());
    }
    let e = mysql_async::Conn::new(p.opts()).await.unwrap_err();
    assert!(e.to_string().contains("1040"), "{e}");
    for c in clients {
        c.disconnect().await.unwrap();
    }
    // Their sessions end a moment after the clients left: wait until only the asking
    // connection is counted, so the checks below are not over the limit.
    poll("the seven sessions to end", Duration::from_secs(10), async || {
        let mut c = mysql_async::Conn::new(p.opts()).await.ok()?;
        let rows: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.ok()?;
        let _ = c.disconnect().await;
        rows.iter()
            .any(|(k, v)| k == "client_connections" && v == "1")
            .then_some(())
    })
    .await;
    assert_eq!(offered_certificate(p.port).await, second);
    mysql_async::Conn::new(p.opts())
        .await
        .unwrap()
        .disconnect()
        .await
        .unwrap();
    p.wait_log("authenticated", Duration::from_secs(5)).await;

    // A file that does not load changes nothing; the proxy keeps serving.
    std::fs::write(p.config_path(), format!("{text}bogus: 1\n")).unwrap();
    p.signal("HUP");
    let log = p
        .wait_log("the running configuration stays", Duration::from_secs(10))
        .await;
    assert!(log.contains("unknown key \"bogus\" at top level"), "{log}");
    // The same good file again: only the restart-only key is (still) reported.
    std::fs::write(p.config_path(), &text).unwrap();
    p.signal("HUP");
    poll("the third SIGHUP line", Duration::from_secs(10), async || {
        (p.log()
            .matches("SIGHUP: changed but only applied by a restart: limits.max_packet_size")
            .count()
            == 1)
            .then_some(())
    })
    .await;
    assert_eq!(offered_certificate(p.port).await, second);

    // `grproxy status` reads the running proxy.
    let out = Command::new(BIN)
        .args(["status", "--port", &p.port.to_string(), "--user", "root"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with(&format!("grproxy at 127.0.0.1:{}\n", p.port)),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("http_address") && l.trim_end().ends_with(&p.http.to_string())),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.split_whitespace().eq(["mode", "proxy"])),
        "{stdout}"
    );
    // Against something that is not a grproxy: an error, exit 1.
    let out = Command::new(BIN)
        .args(["status", "--port", &m.layout.port.to_string(), "--user", "root"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SHOW GRPROXY STATUS"));

    p.signal("TERM");
    assert!(p.exit_status(Duration::from_secs(15)).await.success());
    assert!(!p.log().contains('\x1b'), "colour codes in a log file");
}

// ---------------------------------------------------------------------------
// CLI without a server
// ---------------------------------------------------------------------------

fn run_cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("GRPROXY_OPS_TEST_PW")
        .envs(env.iter().copied())
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `grproxy check`: OK for a good file; exit 2 and the error (file:line: key) for a bad one,
/// for a missing password variable, TLS file and a bad log filter; never a backtrace.
#[test]
fn check_command_on_good_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let base = "listen:\n  tcp: \"127.0.0.1:6033\"\nbackend:\n  address: \"127.0.0.1:3306\"\n\
                service_account:\n  user: grproxy\n  password_env: GRPROXY_OPS_TEST_PW\n";
    let good = file("good.yaml", &format!("{base}admin:\n  http: \"127.0.0.1:9104\"\n"));
    let (code, out, err) = run_cli(&["check", "--config", &good], &[("GRPROXY_OPS_TEST_PW", "pw")]);
    assert_eq!((code, out.trim()), (0, format!("{good}: OK").as_str()), "{err}");

    let (code, _, err) = run_cli(&["check", "--config", &good], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{good}:7: service_account.password_env")) && err.contains("GRPROXY_OPS_TEST_PW"),
        "{err}"
    );

    let bad = file("bad.yaml", &format!("{base}limits:\n  max_conections: 5\n"));
    let pw = [("GRPROXY_OPS_TEST_PW", "pw")];
    let (code, _, err) = run_cli(&["check", "--config", &bad], &pw);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{bad}:9")) && err.contains("max_conections"),
        "{err}"
    );
    assert!(!err.to_lowercase().contains("backtrace"), "{err}");

    let no_cert = file(
        "cert.yaml",
        &format!("{base}tls:\n  cert: /nonexistent/grproxy.crt\n  key: /nonexistent/grproxy.key\n"),
    );
    let (code, _, err) = run_cli(&["check", "--config", &no_cert], &pw);
    assert_eq!(code, 2);
    assert!(err.contains("tls: reading /nonexistent/grproxy.crt"), "{err}");

    let level = file("level.yaml", &format!("{base}log:\n  level: grproxy=loud\n"));
    let (code, _, err) = run_cli(&["check", "--config", &level], &pw);
    assert_eq!(code, 2);
    assert!(err.contains("log.level") && err.contains("grproxy=loud"), "{err}");

    // `run` loads the same way: a config error exits 2 with the message and no backtrace.
    let (code, _, err) = run_cli(&["run", "--config", &bad], &pw);
    assert_eq!(code, 2);
    assert!(
        err.contains("max_conections") && !err.to_lowercase().contains("backtrace"),
        "{err}"
    );
    let (code, _, err) = run_cli(&["check", "--config", "/nonexistent.yaml"], &pw);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent.yaml: cannot read config file"), "{err}");
}

#[test]
fn version_and_help() {
    let (code, out, _) = run_cli(&["--version"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("grproxy {} (git ", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    for cmd in [
        &["run", "--help"][..],
        &["check", "--help"],
        &["status", "--help"],
        &["sandbox", "up", "--help"],
    ] {
        let (code, out, _) = run_cli(cmd, &[]);
        assert_eq!(code, 0);
        assert!(out.contains("Example"), "{cmd:?}: {out}");
    }
}
