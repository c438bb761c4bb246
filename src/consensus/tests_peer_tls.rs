//! The peer port over real TCP on 127.0.0.1: mutual TLS with member certificates, requests
//! bound to the authenticated member, and the listener's limits.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::raft::{AppendEntriesRequest, VoteRequest};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::consensus::frame::{decode_frame, encode_frame, read_frame, MAX_FRAME};
use crate::consensus::network::{CallError, Dialer, PeerConn, Reply, Request};
use crate::consensus::peer_tls::PeerTlsContext;
use crate::consensus::server::ServerStats;
use crate::consensus::tests_support::{init_test_log, TestMachine};
use crate::consensus::types::{PeerLimits, Vote};
use crate::consensus::{Consensus, ConsensusConfig, PeerSecurity, PeerTls};
use crate::sandbox::certs::GroupCa;

const MEMBERS: [u64; 3] = [1, 2, 3];

/// Member 1 of a group {1, 2, 3} whose other members are not running (their ports are
/// closed): only its peer listener matters here.
struct Node {
    node: Consensus,
    addr: String,
    ca: GroupCa,
    _dir: tempfile::TempDir,
}

fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

impl Node {
    async fn start(limits: PeerLimits) -> Node {
        init_test_log();
        let ca = GroupCa::generate().unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let members: BTreeMap<u64, String> = [(1, addr.clone()), (2, closed_port()), (3, closed_port())].into();
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ConsensusConfig::new(1, members, dir.path(), PeerSecurity::Tls(ca.peer_tls(1).unwrap()));
        cfg.listener = Some(l);
        cfg.peer_limits = limits;
        let node = Consensus::start(cfg, TestMachine::new(1, 0)).await.unwrap();
        Node {
            node,
            addr,
            ca,
            _dir: dir,
        }
    }

    fn stats(&self) -> Arc<ServerStats> {
        self.node.peer_server_stats()
    }

    /// A client presenting member `id`'s certificate from the group CA.
    fn member(&self, id: u64) -> PeerTlsContext {
        PeerTlsContext::build(MEMBERS, &self.ca.peer_tls(id).unwrap()).unwrap()
    }

    /// A client presenting a certificate for `names`, signed by `signer`, trusting the group CA.
    fn impostor(&self, signer: &GroupCa, names: &[&str]) -> tokio_rustls::TlsConnector {
        let leaf = signer
            .leaf("impostor", names.iter().map(|n| n.to_string()).collect())
            .unwrap();
        let tls = PeerTls::from_pem(self.ca.cert_pem(), &leaf.cert_pem, &leaf.key_pem).unwrap();
        PeerTlsContext::build(MEMBERS, &tls).unwrap().connector()
    }

    /// A TLS connection to the node (server name member-1.grproxy).
    async fn connect(
        &self,
        client: &tokio_rustls::TlsConnector,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(&self.addr).await?;
        client.connect(PeerTlsContext::server_name(1).unwrap(), tcp).await
    }

    async fn shutdown(self) {
        self.node.shutdown().await;
    }
}

fn no_client_cert(ca: &GroupCa) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut ca.cert_pem().as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// Sends one request and reads its reply.
async fn call<S>(s: &mut S, req: &Request) -> std::io::Result<Reply>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    s.write_all(&encode_frame(42, req).unwrap()).await?;
    s.flush().await?;
    let buf = read_frame(s, MAX_FRAME)
        .await?
        .ok_or(std::io::ErrorKind::UnexpectedEof)?;
    let (id, reply) = decode_frame::<Reply>(&buf).map_err(std::io::Error::other)?;
    assert_eq!(id, 42);
    Ok(reply)
}

fn vote(candidate: u64) -> Request {
    Request::Vote(VoteRequest::new(Vote::new(1, candidate), None))
}

fn append_from(leader: u64) -> Request {
    Request::AppendEntries(AppendEntriesRequest {
        vote: Vote::new_committed(1, leader),
        prev_log_id: None,
        entries: vec![],
        leader_commit: None,
    })
}

fn count(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Waits until counter `c` reaches `want`.
async fn wait_count(c: &std::sync::atomic::AtomicU64, want: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while count(c) < want {
        assert!(Instant::now() < deadline, "{what}: counter at {} not {want}", count(c));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(count(c), want, "{what}");
}

/// Waits until the peer closes `s` (EOF or error); returns how long that took.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(s: &mut S, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut b = [0u8; 64];
    loop {
        match tokio::time::timeout(limit, s.read(&mut b)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("connection still open after {limit:?}"),
        }
    }
}

/// A member certificate is served, and the member may speak only for itself: a Vote for
/// another candidate or an AppendEntries of another leader gets BadRequest and never reaches
/// Raft.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_is_served_and_may_speak_only_for_itself() {
    let n = Node::start(PeerLimits::default()).await;
    let mut s = n.connect(&n.member(2).connector()).await.unwrap();
    match call(&mut s, &vote(2)).await.unwrap() {
        Reply::Vote(Ok(_)) => {}
        _ => panic!("a vote of member 2 for itself is answered by Raft"),
    }
    assert_eq!(count(&n.stats().requests), 1);
    for (req, what) in [
        (vote(3), "a Vote for candidate 3"),
        (append_from(3), "an AppendEntries of leader 3"),
    ] {
        match call(&mut s, &req).await.unwrap() {
            Reply::BadRequest(why) => assert!(why.contains(&format!("member 2 sent {what}")), "{why}"),
            _ => panic!("member 2 spoke for member 3: {what}"),
        }
    }
    assert_eq!(count(&n.stats().requests), 1, "the forged requests did not reach Raft");
    assert_eq!(count(&n.stats().refused), 2);
    // The connection stays usable after a refusal.
    assert!(matches!(call(&mut s, &vote(2)).await.unwrap(), Reply::Vote(_)));
    n.shutdown().await;
}

/// No client certificate, a certificate from another CA, one from the group CA for a
/// non-member id, and one naming two members: the connection fails and no request reaches
/// Raft.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_a_member_certificate_are_refused() {
    let n = Node::start(PeerLimits::default()).await;
    let other_ca = GroupCa::generate_named("someone else's CA").unwrap();
    let clients = [
        ("no certificate", no_client_cert(&n.ca)),
        ("another CA", n.impostor(&other_ca, &["member-2.grproxy"])),
        ("a non-member id", n.impostor(&n.ca, &["member-9.grproxy"])),
        ("no member name", n.impostor(&n.ca, &["localhost"])),
        (
            "two members",
            n.impostor(&n.ca, &["member-2.grproxy", "member-3.grproxy"]),
        ),
        ("a wildcard", n.impostor(&n.ca, &["*.grproxy"])),
    ];
    for (i, (what, client)) in clients.iter().enumerate() {
        // TLS 1.3: the client may finish its side of the handshake before the server refuses
        // its certificate; the refusal then shows on the first read.
        let res = match n.connect(client).await {
            Ok(mut s) => call(&mut s, &vote(2)).await.map(|_| ()),
            Err(e) => Err(e),
        };
        assert!(res.is_err(), "{what}: served");
        // The server counts the refusal after it sent its alert.
        wait_count(&n.stats().handshake_failed, i as u64 + 1, what).await;
    }
    assert_eq!(count(&n.stats().requests), 0);
    assert_eq!(count(&n.stats().served), 0);
    // A member still gets in.
    let mut s = n.connect(&n.member(3).connector()).await.unwrap();
    assert!(matches!(call(&mut s, &vote(3)).await.unwrap(), Reply::Vote(_)));
    n.shutdown().await;
}

/// The client checks the server: a server whose certificate names another member than the
/// one dialed, or comes from another CA, is refused; the right one is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_refuses_a_server_that_is_not_the_member_it_dialed() {
    let n = Node::start(PeerLimits::default()).await;
    let dialer = Arc::new(Dialer {
        tls: Some(PeerTlsContext::new(2, MEMBERS, &n.ca.peer_tls(2).unwrap()).unwrap()),
        limits: PeerLimits::default(),
        traffic: Default::default(),
    });
    // The real member 1, dialed as 1: served.
    let right = PeerConn::new(1, n.addr.clone(), dialer.clone());
    assert!(matches!(
        right.call(&vote(2), Duration::from_secs(5)).await,
        Ok(Reply::Vote(_))
    ));
    // Member 1 dialed as member 3 (as if the address of 3 led to 1): refused by the client.
    let wrong = PeerConn::new(3, n.addr.clone(), dialer.clone());
    match wrong.call(&vote(2), Duration::from_secs(5)).await {
        Err(CallError::Unreachable(m)) => assert!(m.contains("TLS handshake"), "{m}"),
        other => panic!("dialing 3 reached member 1: {:?}", other.map(|_| ())),
    }
    // A server with a certificate for member 1 from another CA: refused.
    let other_ca = GroupCa::generate_named("someone else's CA").unwrap();
    let other = other_ca.member(1).unwrap();
    let fake = PeerTlsContext::build(
        MEMBERS,
        &PeerTls::from_pem(n.ca.cert_pem(), &other.cert_pem, &other.key_pem).unwrap(),
    )
    .unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_addr = l.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        loop {
            let (tcp, _) = l.accept().await.unwrap();
            let _ = fake.acceptor().accept(tcp).await;
        }
    });
    let impostor = PeerConn::new(1, fake_addr, dialer);
    assert!(matches!(
        impostor.call(&vote(2), Duration::from_secs(5)).await,
        Err(CallError::Unreachable(_))
    ));
    server.abort();
    n.shutdown().await;
}

/// A frame header announcing more than MAX_FRAME closes the connection at once (before any
/// body is read or allocated); the listener keeps serving others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_header_closes_the_connection() {
    let n = Node::start(PeerLimits::default()).await;
    let client = n.member(2);
    let mut s = n.connect(&client.connector()).await.unwrap();
    s.write_all(&[0xff, 0xff, 0xff, 0xff]).await.unwrap();
    s.flush().await.unwrap();
    let took = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(2), "closed after {took:?}");
    // Just above the bound, too.
    let mut s = n.connect(&client.connector()).await.unwrap();
    s.write_all(&((MAX_FRAME + 1) as u32).to_le_bytes()).await.unwrap();
    s.flush().await.unwrap();
    closed_within(&mut s, Duration::from_secs(2)).await;
    assert_eq!(count(&n.stats().requests), 0);
    let mut s = n.connect(&client.connector()).await.unwrap();
    assert!(matches!(call(&mut s, &vote(2)).await.unwrap(), Reply::Vote(_)));
    n.shutdown().await;
}

/// At most `max_connections` peer connections are served; one more is closed at once, and a
/// slot that frees up can be taken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_is_enforced() {
    let n = Node::start(PeerLimits {
        max_connections: 3,
        ..PeerLimits::default()
    })
    .await;
    let client = n.member(2);
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut s = n.connect(&client.connector()).await.unwrap();
        assert!(matches!(call(&mut s, &vote(2)).await.unwrap(), Reply::Vote(_)));
        open.push(s);
    }
    // The fourth: the TCP connection is accepted by the kernel and closed by the listener.
    let res = match n.connect(&client.connector()).await {
        Ok(mut s) => call(&mut s, &vote(2)).await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(res.is_err(), "a fourth connection was served");
    assert_eq!(count(&n.stats().over_capacity), 1);
    assert_eq!(count(&n.stats().served), 3);
    // Free a slot: a new connection is served again.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let res = match n.connect(&client.connector()).await {
            Ok(mut s) => call(&mut s, &vote(2)).await.map(|_| s),
            Err(e) => Err(e),
        };
        if let Ok(s) = res {
            open.push(s);
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was not reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    n.shutdown().await;
}

/// Sockets that never present a certificate (more than the cap, held for the whole
/// handshake timeout) cannot keep a member out: each new connection evicts the oldest pending
/// handshake, and a member's handshake completes before it is evicted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_that_never_handshake_cannot_keep_members_out() {
    let n = Node::start(PeerLimits {
        max_connections: 3,
        handshake_timeout: Duration::from_secs(30),
        ..PeerLimits::default()
    })
    .await;
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(TcpStream::connect(&n.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = n.member(2);
    let started = Instant::now();
    let mut s = n.connect(&client.connector()).await.unwrap();
    assert!(matches!(call(&mut s, &vote(2)).await.unwrap(), Reply::Vote(_)));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(count(&n.stats().evicted) >= 7, "evicted {}", count(&n.stats().evicted));
    assert_eq!(count(&n.stats().served), 1);
    drop(silent);
    n.shutdown().await;
}

/// A connection that starts a frame and stops is closed after the frame timeout; one that
/// sends nothing after the idle timeout; one that never finishes its TLS handshake after the
/// handshake timeout. A real client that idles longer than that reconnects by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_frames_idle_connections_and_stalled_handshakes_are_closed() {
    let limits = PeerLimits {
        handshake_timeout: Duration::from_millis(300),
        frame_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(800),
        ..PeerLimits::default()
    };
    let n = Node::start(limits.clone()).await;
    let client = n.member(2);

    // A partial frame: two bytes of the length prefix, then nothing.
    let mut partial = n.connect(&client.connector()).await.unwrap();
    partial.write_all(&[10, 0]).await.unwrap();
    partial.flush().await.unwrap();
    // Half a frame body.
    let mut half = n.connect(&client.connector()).await.unwrap();
    let frame = encode_frame(1, &vote(2)).unwrap();
    half.write_all(&frame[..frame.len() / 2]).await.unwrap();
    half.flush().await.unwrap();
    let took = closed_within(&mut partial, Duration::from_secs(3)).await;
    assert!(took < Duration::from_millis(750), "partial frame closed after {took:?}");
    closed_within(&mut half, Duration::from_secs(3)).await;
    assert_eq!(count(&n.stats().closed_partial), 2);

    // Idle: closed after the idle timeout, not before.
    let mut idle = n.connect(&client.connector()).await.unwrap();
    let took = closed_within(&mut idle, Duration::from_secs(3)).await;
    assert!(
        took >= Duration::from_millis(600),
        "idle connection closed after {took:?}"
    );
    assert!(count(&n.stats().closed_idle) >= 1);

    // A TCP connection that never starts TLS.
    let mut silent = TcpStream::connect(&n.addr).await.unwrap();
    closed_within(&mut silent, Duration::from_secs(3)).await;
    assert!(count(&n.stats().handshake_failed) >= 1);

    // The real client: two calls further apart than the idle timeout both succeed.
    let dialer = Arc::new(Dialer {
        tls: Some(PeerTlsContext::new(2, MEMBERS, &n.ca.peer_tls(2).unwrap()).unwrap()),
        limits,
        traffic: Default::default(),
    });
    let conn = PeerConn::new(1, n.addr.clone(), dialer);
    for _ in 0..2 {
        assert!(matches!(
            conn.call(&vote(2), Duration::from_secs(5)).await,
            Ok(Reply::Vote(_))
        ));
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    assert!(matches!(
        conn.call(&vote(2), Duration::from_secs(5)).await,
        Ok(Reply::Vote(_))
    ));
    n.shutdown().await;
}

/// A member refuses to start with a certificate that names another member, or with a key
/// that is not its certificate's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_with_the_wrong_certificate_does_not_start() {
    let ca = GroupCa::generate().unwrap();
    let members: BTreeMap<u64, String> = MEMBERS.iter().map(|id| (*id, closed_port())).collect();
    let dir = tempfile::tempdir().unwrap();
    let cfg = ConsensusConfig::new(
        1,
        members.clone(),
        dir.path(),
        PeerSecurity::Tls(ca.peer_tls(2).unwrap()),
    );
    let e = Consensus::start(cfg, TestMachine::new(1, 0))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("names member 2"), "{e}");
    let (a, b) = (ca.member(1).unwrap(), ca.member(1).unwrap());
    let mixed = PeerTls::from_pem(ca.cert_pem(), &a.cert_pem, &b.key_pem).unwrap();
    let cfg = ConsensusConfig::new(1, members, dir.path(), PeerSecurity::Tls(mixed));
    assert!(Consensus::start(cfg, TestMachine::new(1, 0)).await.is_err());
}

#[test]
fn server_names_are_member_names() {
    assert_eq!(
        PeerTlsContext::server_name(7).unwrap(),
        ServerName::try_from("member-7.grproxy").unwrap()
    );
}

/// SIGHUP's peer certificate reload: a new certificate of the same member is served to new
/// connections; the same one again changes nothing; one naming another member is refused and
/// the one in use stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_peer_certificate_is_served_to_new_connections() {
    let n = Node::start(PeerLimits::default()).await;
    let served =
        |s: &tokio_rustls::client::TlsStream<TcpStream>| s.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let client = n.member(2).connector();
    let before = served(&n.connect(&client).await.unwrap());
    let rotated = n.ca.peer_tls(1).unwrap();
    // (certificate, outcome: Some(changed) or None for refused)
    let cases: Vec<(PeerTls, Option<bool>)> = vec![
        (rotated.clone(), Some(true)),
        (rotated.clone(), Some(false)),
        (n.ca.peer_tls(2).unwrap(), None),
    ];
    for (i, (tls, want)) in cases.into_iter().enumerate() {
        let got = n.node.reload_peer_tls(&tls);
        assert_eq!(got.as_ref().ok().copied(), want, "case {i}: {got:?}");
    }
    let after = served(&n.connect(&client).await.unwrap());
    assert_ne!(before, after);
    // And it stays what new connections get.
    assert_eq!(served(&n.connect(&client).await.unwrap()), after);
    n.shutdown().await;
}

/// An application service that counts requests running at once and holds each until the
/// test opens its gate.
struct Gate {
    running: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
    open: tokio::sync::Semaphore,
}

struct GatedService(Arc<Gate>);

impl crate::consensus::PeerService for GatedService {
    fn call(
        &self,
        _from: Option<u64>,
        request: Vec<u8>,
    ) -> futures_util::future::BoxFuture<'static, Result<Vec<u8>, String>> {
        let g = self.0.clone();
        Box::pin(async move {
            let now = g.running.fetch_add(1, Ordering::SeqCst) + 1;
            g.most.fetch_max(now, Ordering::SeqCst);
            g.open.acquire().await.unwrap().forget();
            g.running.fetch_sub(1, Ordering::SeqCst);
            Ok(request)
        })
    }
}

/// Back-pressure: six requests pipelined on one connection with `max_handlers` 2 run two at
/// a time (the connection is not read further while both slots are busy), and all six are
/// answered once they may finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_runs_at_most_max_handlers_requests_at_once() {
    let n = Node::start(PeerLimits {
        max_handlers: 2,
        ..PeerLimits::default()
    })
    .await;
    let gate = Arc::new(Gate {
        running: Default::default(),
        most: Default::default(),
        open: tokio::sync::Semaphore::new(0),
    });
    n.node.set_peer_service(Arc::new(GatedService(gate.clone())));
    let mut s = n.connect(&n.member(2).connector()).await.unwrap();
    let mut burst = Vec::new();
    for id in 1..=6u64 {
        burst.extend(encode_frame(id, &Request::App(crate::consensus::types::Blob(vec![id as u8]))).unwrap());
    }
    s.write_all(&burst).await.unwrap();
    s.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while gate.running.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the first two requests did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Time for more to start, were the limit not kept.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        gate.most.load(Ordering::SeqCst),
        2,
        "more than max_handlers ran at once"
    );
    gate.open.add_permits(6);
    let mut answered = Vec::new();
    for _ in 0..6 {
        let buf = tokio::time::timeout(Duration::from_secs(5), read_frame(&mut s, MAX_FRAME))
            .await
            .expect("all six are answered")
            .unwrap()
            .unwrap();
        let (id, reply) = decode_frame::<Reply>(&buf).unwrap();
        match reply {
            Reply::App(Ok(body)) => assert_eq!(body.0, vec![id as u8]),
            _ => panic!("request {id}: unexpected reply"),
        }
        answered.push(id);
    }
    answered.sort();
    assert_eq!(answered, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(gate.most.load(Ordering::SeqCst), 2);
    n.shutdown().await;
}

/// Back-pressure on replies: a peer that pipelines requests answered in the reader loop
/// (Status) and reads none of the replies stops being read once `reply_queue` replies wait
/// for its socket; reading them lets the rest be served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_reads_no_replies_is_not_read_either() {
    const N: u64 = 200_000;
    let n = Node::start(PeerLimits {
        reply_queue: 4,
        ..PeerLimits::default()
    })
    .await;
    let s = n.connect(&n.member(2).connector()).await.unwrap();
    let (mut rd, mut wr) = tokio::io::split(s);
    let sender = tokio::spawn(async move {
        let mut burst = Vec::new();
        for id in 1..=N {
            burst.extend(encode_frame(id, &Request::Status).unwrap());
        }
        wr.write_all(&burst).await.unwrap();
        wr.flush().await.unwrap();
        wr
    });
    // Served until the replies fill the socket buffers, then no more.
    let mut last = u64::MAX;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = count(&n.stats().requests);
        if now == last {
            break;
        }
        assert!(Instant::now() < deadline, "requests kept being served: {now}");
        last = now;
    }
    assert!(last > 0 && last < N, "served {last} of {N} with no reply read");
    let mut answered = 0;
    while answered < N {
        let buf = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut rd, MAX_FRAME))
            .await
            .expect("every request is answered once replies are read")
            .unwrap()
            .unwrap();
        let (id, reply) = decode_frame::<Reply>(&buf).unwrap();
        answered += 1;
        assert_eq!(id, answered, "replies come in request order");
        assert!(matches!(reply, Reply::Status(_)));
    }
    let _wr = sender.await.unwrap();
    assert_eq!(count(&n.stats().requests), N);
    n.shutdown().await;
}
