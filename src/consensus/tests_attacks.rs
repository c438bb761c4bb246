//! Forged Raft traffic against a running three-member group over its real TLS peer ports
//! (issue 11's findings "Peer port: no authentication" and "One frame stops the group for
//! good"): a certificate from another CA is never served, and a member certificate (a stolen
//! member key) can neither move the term out of range nor speak for another member. Afterwards
//! the term has not moved, the group commits and every machine applied the same entries.

use std::time::Duration;

use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::consensus::frame::{decode_frame, encode_frame, read_frame, MAX_FRAME};
use crate::consensus::network::{Reply, Request, MAX_TERM};
use crate::consensus::peer_tls::PeerTlsContext;
use crate::consensus::tests_support::Cluster;
use crate::consensus::types::Blob;
use crate::consensus::types::{SnapshotMeta, Vote};
use crate::consensus::PeerTls;
use crate::sandbox::certs::GroupCa;

const SEC: Duration = Duration::from_secs(1);

/// A TLS connection to member `to` presenting `tls`, or the error that ended the handshake.
async fn connect(c: &Cluster, to: u64, tls: &PeerTls) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let members: Vec<u64> = c.members.keys().copied().collect();
    let connector = PeerTlsContext::build(members, tls).unwrap().connector();
    let tcp = TcpStream::connect(&c.members[&to]).await?;
    connector.connect(PeerTlsContext::server_name(to).unwrap(), tcp).await
}

/// Sends one request; `Ok(None)` when the connection closed instead of answering.
async fn call<S>(s: &mut S, req: &Request) -> std::io::Result<Option<Reply>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    s.write_all(&encode_frame(7, req).unwrap()).await?;
    s.flush().await?;
    let Some(buf) = tokio::time::timeout(5 * SEC, read_frame(s, MAX_FRAME))
        .await
        .map_err(|_| std::io::Error::other("no answer in 5 s"))??
    else {
        return Ok(None);
    };
    let (id, reply) = decode_frame::<Reply>(&buf).map_err(std::io::Error::other)?;
    assert_eq!(id, 7);
    Ok(Some(reply))
}

/// Every forged request a holder of member 2's key might send to break the group.
fn forgeries(term_now: u64) -> Vec<(&'static str, Request, &'static str)> {
    let snapshot = |vote: Vote| {
        Request::InstallSnapshot(
            InstallSnapshotRequest {
                vote,
                meta: SnapshotMeta::default(),
                offset: 0,
                data: b"forged".to_vec(),
                done: true,
            }
            .into(),
        )
    };
    let append = |vote: Vote| {
        Request::AppendEntries(AppendEntriesRequest {
            vote,
            prev_log_id: None,
            entries: vec![],
            leader_commit: None,
        })
    };
    let next = term_now + 1;
    vec![
        (
            "Vote with term 2^64-1",
            Request::Vote(VoteRequest::new(Vote::new(u64::MAX, 2), None)),
            "out of range",
        ),
        (
            "Vote just above the bound",
            Request::Vote(VoteRequest::new(Vote::new(MAX_TERM + 1, 2), None)),
            "out of range",
        ),
        (
            "AppendEntries with term 2^64-1",
            append(Vote::new_committed(u64::MAX, 2)),
            "out of range",
        ),
        (
            "InstallSnapshot with term 2^64-1",
            snapshot(Vote::new_committed(u64::MAX, 2)),
            "out of range",
        ),
        (
            "AppendEntries (term+1) in member 3's name",
            append(Vote::new_committed(next, 3)),
            "member 2 sent an AppendEntries of leader 3",
        ),
        (
            "InstallSnapshot (term+1) in member 3's name",
            snapshot(Vote::new_committed(next, 3)),
            "member 2 sent an InstallSnapshot of leader 3",
        ),
        (
            "Vote (term+1) for member 3",
            Request::Vote(VoteRequest::new(Vote::new(next, 3), None)),
            "member 2 sent a Vote for candidate 3",
        ),
        (
            "a vote naming node 0",
            Request::Vote(VoteRequest::new(Vote::new(next, 0), None)),
            "",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_raft_traffic_does_not_move_a_running_group() {
    let c = Cluster::start(3, 1000).await;
    let leader = c.leader(10 * SEC).await;
    let (idx, _) = c.node(leader).propose(b"before".to_vec()).await.unwrap();
    c.wait_applied(idx, 10 * SEC).await;
    let term = c.node(1).status().term;

    // Another CA's certificate in member 2's name: no member serves it, whatever it sends.
    let other_ca = GroupCa::generate_named("someone else's CA").unwrap();
    let forged = other_ca.member(2).unwrap();
    let stranger = PeerTls::from_pem(c.ca.cert_pem(), &forged.cert_pem, &forged.key_pem).unwrap();
    for to in [1, 2, 3] {
        for (what, req, _) in forgeries(term).into_iter().chain([(
            "Forward of a payload",
            Request::Forward(Blob(b"forged".to_vec())),
            "",
        )]) {
            let served = match connect(&c, to, &stranger).await {
                Ok(mut s) => matches!(call(&mut s, &req).await, Ok(Some(_))),
                Err(_) => false,
            };
            assert!(!served, "member {to} answered {what} from another CA's certificate");
        }
    }

    // Member 2's own certificate (its key stolen): each forgery is refused before Raft sees it,
    // and the connection stays usable.
    let member2 = c.ca.peer_tls(2).unwrap();
    for to in [1, 3] {
        let mut s = connect(&c, to, &member2).await.expect("member 2 is served");
        for (what, req, why) in forgeries(term) {
            match call(&mut s, &req).await.unwrap() {
                Some(Reply::BadRequest(got)) => assert!(got.contains(why), "{what}: refused with {got}"),
                Some(_) => panic!("member {to} let {what} reach Raft"),
                None => panic!("member {to} closed the connection on {what}"),
            }
        }
    }

    // The group did not move: same term everywhere, the same leader, and it still commits.
    for id in [1, 2, 3] {
        let st = c.node(id).status();
        assert_eq!(st.term, term, "member {id}'s term moved");
        assert_eq!(st.stopped, None, "member {id}'s core stopped");
    }
    assert_eq!(c.leader(5 * SEC).await, leader);
    let (idx, _) = c.node(3).propose(b"after".to_vec()).await.unwrap();
    c.wait_applied(idx, 10 * SEC).await;
    let applied = c.assert_same_machines();
    let payloads: Vec<&[u8]> = applied.iter().map(|(_, p)| p.as_slice()).collect();
    assert!(
        !payloads.contains(&b"forged".as_slice()),
        "a forged payload was applied"
    );
    c.shutdown().await;
}
