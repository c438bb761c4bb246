//! Multi-node tests over real TCP on 127.0.0.1.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::consensus::tests_support::Cluster;

const SEC: Duration = Duration::from_secs(1);

/// Proposals from the leader and both followers are applied by all three machines in the
/// same order at the same indexes; the proposer receives the leader machine's response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_from_every_node_apply_everywhere_in_order() {
    let c = Cluster::start(3, 20_000).await;
    let leader = c.leader(5 * SEC).await;
    let mut last = 0;
    for round in 0..5 {
        for id in 1..=3u64 {
            let payload = format!("from-{id}-round-{round}").into_bytes();
            let (idx, resp) = c.node(id).propose(payload).await.expect("propose");
            assert!(idx > last, "indexes increase: {idx} after {last}");
            last = idx;
            assert_eq!(
                resp,
                format!("{leader}:{idx}").into_bytes(),
                "response from leader's machine"
            );
        }
    }
    c.wait_applied(last, 5 * SEC).await;
    let applied = c.assert_same_machines();
    assert_eq!(applied.len(), 15);
    assert_eq!(applied.last().unwrap().0, last);
    let order: Vec<String> = applied
        .iter()
        .map(|(_, p)| String::from_utf8(p.clone()).unwrap())
        .collect();
    let expected: Vec<String> = (0..5)
        .flat_map(|r| (1..=3).map(move |id| format!("from-{id}-round-{r}")))
        .collect();
    assert_eq!(order, expected);
    // The read barrier works from a follower too and covers everything committed.
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    assert!(c.node(follower).read_index().await.unwrap() >= last);
    c.shutdown().await;
}

/// 3 x 200 concurrent proposals (on a simulated slow disk) all complete without leader
/// churn, logs and machines are identical everywhere, and the proposals were group-committed:
/// far fewer Raft entries and leader fsyncs than proposals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_proposals_group_commit() {
    // Simulate a slow disk (2 ms per log fsync) on every member of this cluster.
    let c = Cluster::start_with(3, 20_000, Some(Duration::from_millis(2)), 0).await;
    let leader = c.leader(5 * SEC).await;
    let mut tasks = tokio::task::JoinSet::new();
    for id in 1..=3u64 {
        for i in 0..200 {
            let node = c.node(id);
            tasks.spawn(async move { node.propose(format!("{id}/{i}").into_bytes()).await });
        }
    }
    let mut indexes = BTreeSet::new();
    let mut errors = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (idx, resp) = match r.unwrap() {
            Ok(x) => x,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        assert_eq!(resp, format!("{leader}:{idx}").into_bytes());
        assert!(indexes.insert(idx), "index {idx} returned twice");
    }
    assert!(
        errors.is_empty(),
        "{} failed proposals, e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
    assert_eq!(indexes.len(), 600);
    c.wait_applied(*indexes.last().unwrap(), 10 * SEC).await;
    let applied = c.assert_same_machines();
    let payloads: BTreeSet<_> = applied.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(payloads.len(), 600, "each proposal applied exactly once");
    // The Raft logs themselves are identical too (same log ids and payloads).
    let last = c.node(leader).raft().metrics().borrow().last_log_index.unwrap();
    let mut logs = Vec::new();
    for id in 1..=3u64 {
        c.node(id)
            .raft()
            .wait(Some(5 * SEC))
            .log_index_at_least(Some(last), "log")
            .await
            .unwrap();
        let log: Vec<_> = c
            .node(id)
            .log_entries()
            .into_iter()
            .map(|e| (e.log_id, format!("{:?}", e.payload)))
            .collect();
        assert_eq!(log.last().unwrap().0.index, last);
        logs.push(log);
    }
    assert_eq!(logs[0], logs[1]);
    assert_eq!(logs[0], logs[2]);
    for id in 1..=3u64 {
        assert_eq!(
            c.node(id).raft().metrics().borrow().current_term,
            1,
            "no re-election under load"
        );
    }
    let batches = c.node(leader).batch_stats();
    let log = c.node(leader).log_stats();
    eprintln!("leader {leader}: {batches:?} {log:?}");
    assert_eq!(batches.proposals, 600);
    assert!(batches.batches < 600, "proposals were batched: {batches:?}");
    assert!(log.append_fsyncs < 600, "fewer leader fsyncs than proposals: {log:?}");
    c.shutdown().await;
}

/// The leader dies; a new one is elected quickly; survivors accept proposals; the old
/// leader restarts from its data dir and catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failure_and_restart_catch_up() {
    let mut c = Cluster::start(3, 20_000).await;
    let old = c.leader(5 * SEC).await;
    for i in 0..20 {
        c.node((i % 3) + 1)
            .propose(format!("before-{i}").into_bytes())
            .await
            .unwrap();
    }
    let t0 = Instant::now();
    c.stop(old).await;
    let survivors = c.running();
    // A proposal issued right away, while the survivors still believe in the old leader:
    // forwarding finds it unreachable (nothing sent), so propose retries on the new leader.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (first_after, _) = c.node(survivors[0]).propose(b"during-failover".to_vec()).await.unwrap();
    assert_eq!(first_after, 21);
    let new = loop {
        let ls: Vec<_> = survivors.iter().map(|id| c.node(*id).leader()).collect();
        if let Some(Some(l)) = ls.first() {
            if *l != old && ls.iter().all(|x| *x == Some(*l)) {
                break *l;
            }
        }
        assert!(t0.elapsed() < 3 * SEC, "no new leader: {ls:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let elected_in = t0.elapsed();
    eprintln!("new leader {new} elected {elected_in:?} after stopping {old}");
    assert!(elected_in < 2 * SEC, "election took {elected_in:?}");
    let mut last = 0;
    for (i, id) in survivors.iter().cycle().take(10).enumerate() {
        let (idx, resp) = c.node(*id).propose(format!("after-{i}").into_bytes()).await.unwrap();
        assert_eq!(resp, format!("{new}:{idx}").into_bytes());
        last = idx;
    }
    c.restart(old, false).await;
    c.wait_applied(last, 10 * SEC).await;
    let applied = c.assert_same_machines();
    assert_eq!(applied.len(), 31);
    c.shutdown().await;
}

/// With frequent snapshots the log is purged; a member restarted from an empty data dir is
/// brought back with a chunked InstallSnapshot (Machine::restore) and then applies the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_install_on_wiped_member() {
    // Snapshots padded to ~3.5 MiB: InstallSnapshot needs two 3 MiB chunks.
    let mut c = Cluster::start_with(3, 50, None, 3_500_000).await;
    let leader = c.leader(5 * SEC).await;
    // Sequential proposals, so that each gets its own Raft entry and snapshots happen often.
    for i in 0..300u64 {
        c.node((i % 3) + 1).propose(format!("p{i}").into_bytes()).await.unwrap();
    }
    let last = c.node(leader).applied_index();
    c.wait_applied(last, 10 * SEC).await;
    // Snapshots and purges run in the background: wait for the log to be purged past 200.
    let m = c
        .node(leader)
        .raft()
        .wait(Some(10 * SEC))
        .metrics(|m| m.purged.is_some_and(|p| p.index >= 200), "purged")
        .await
        .expect("log purged after snapshots");
    eprintln!("leader {leader}: snapshot {:?} purged {:?}", m.snapshot, m.purged);

    // Wipe a follower that is not the bootstrap node (id 1 would re-initialize).
    let victim = if leader == 3 { 2 } else { 3 };
    c.stop(victim).await;
    c.restart(victim, true).await;
    c.wait_applied(last, 10 * SEC).await;
    let restores = c.machine(victim).restores();
    assert!(
        !restores.is_empty() && restores[0] >= 200,
        "restored from a snapshot: {restores:?}"
    );
    // Then it keeps applying new entries normally.
    let mut newest = 0;
    for i in 0..10 {
        newest = c
            .node(victim)
            .propose(format!("after-{i}").into_bytes())
            .await
            .unwrap()
            .0;
    }
    c.wait_applied(newest, 5 * SEC).await;
    let applied = c.assert_same_machines();
    assert_eq!(applied.len(), 310);
    assert_eq!(c.machine(victim).applied().last().unwrap().0, newest);
    assert_eq!(newest, 310);
    c.shutdown().await;
}

/// A proposal above `MAX_PROPOSAL` is refused before anything is appended; proposals that
/// queue up together are packed into one entry only up to `MAX_BATCH_BYTES`, so entries stay
/// far below the frame bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_and_entries_stay_within_the_frame_bound() {
    use crate::consensus::batcher::MAX_BATCH_BYTES;
    use crate::consensus::network::MAX_PROPOSAL;
    let c = Cluster::start(1, 20_000).await;
    c.leader(5 * SEC).await;
    let n = c.node(1);
    let before = n.log_entries().len();
    match n.propose(vec![7; MAX_PROPOSAL + 1]).await {
        Err(crate::consensus::ConsensusError::TooLarge { size, max }) => {
            assert_eq!((size, max), (MAX_PROPOSAL + 1, MAX_PROPOSAL))
        }
        other => panic!("an oversized proposal was not refused: {:?}", other.map(|r| r.0)),
    }
    assert_eq!(n.log_entries().len(), before, "nothing appended");
    // Eight 1.5 MiB proposals at once: at most two per entry (3 MiB; a third would pass 4 MiB).
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8u8 {
        let n = n.clone();
        tasks.spawn(async move { n.propose(vec![i; 3 << 19]).await.map(|r| r.0) });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().expect("propose");
    }
    for e in n.log_entries() {
        if let openraft::EntryPayload::Normal(batch) = &e.payload {
            let bytes: usize = batch.iter().map(|b| b.0.len()).sum();
            assert!(bytes <= MAX_BATCH_BYTES || batch.len() == 1, "entry of {bytes} bytes");
        }
    }
    drop(n);
    c.shutdown().await;
}

/// A Raft core that stops on its own (here: the state machine panics while applying) is
/// reported, with its reason, by `core_stopped` and in the status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_raft_core_is_reported() {
    use crate::consensus::tests_support::PANIC_PAYLOAD;
    let c = Cluster::start(1, 20_000).await;
    c.leader(5 * SEC).await;
    let n = c.node(1);
    n.propose(b"fine".to_vec()).await.unwrap();
    assert_eq!(n.core_stopped(), None);
    assert_eq!(n.status().stopped, None);
    let _ = tokio::time::timeout(5 * SEC, n.propose(PANIC_PAYLOAD.to_vec())).await;
    let started = Instant::now();
    while n.core_stopped().is_none() {
        assert!(started.elapsed() < 5 * SEC, "the stopped core is not reported");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let why = n.status().stopped.expect("status says stopped");
    assert!(why.contains("panicked"), "{why}");
    assert!(n.propose(b"after".to_vec()).await.is_err());
    drop(n);
    c.shutdown().await;
}

/// A leader that is stopping hands leadership to its most caught-up follower (SIGTERM):
/// the follower stands for election and the leader votes for it; proposals go on through
/// the new leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopping_leader_hands_leadership_over() {
    let c = Cluster::start(3, 1000).await;
    let leader = c.leader(Duration::from_secs(10)).await;
    let (idx, _) = c.node(leader).propose(b"before".to_vec()).await.unwrap();
    c.wait_applied(idx, Duration::from_secs(10)).await;
    let started = std::time::Instant::now();
    let to = c
        .node(leader)
        .hand_over()
        .await
        .expect("it leads")
        .expect("handed over");
    assert_ne!(to, leader);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(c.leader(Duration::from_secs(5)).await, to);
    // A follower has nothing to hand over.
    assert!(c.node(leader).hand_over().await.is_none());
    let (idx, _) = c.node(leader).propose(b"after".to_vec()).await.unwrap();
    c.wait_applied(idx, Duration::from_secs(10)).await;
    c.shutdown().await;
}
