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

/// 3 x 200 concurrent proposals all complete, every log/machine is identical, and the
/// log stores group-committed (fewer fsyncs than append calls / entries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_proposals_group_commit() {
    let c = Cluster::start(3, 20_000).await;
    let leader = c.leader(5 * SEC).await;
    let mut tasks = tokio::task::JoinSet::new();
    for id in 1..=3u64 {
        for i in 0..200 {
            let node = c.node(id);
            tasks.spawn(async move { node.propose(format!("{id}/{i}").into_bytes()).await });
        }
    }
    let mut indexes = BTreeSet::new();
    while let Some(r) = tasks.join_next().await {
        let (idx, resp) = r.unwrap().expect("propose");
        assert_eq!(resp, format!("{leader}:{idx}").into_bytes());
        assert!(indexes.insert(idx), "index {idx} returned twice");
    }
    assert_eq!(indexes.len(), 600);
    c.wait_applied(*indexes.last().unwrap(), 10 * SEC).await;
    let applied = c.assert_same_machines();
    let payloads: BTreeSet<_> = applied.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(payloads.len(), 600, "each proposal applied exactly once");
    // Raft logs themselves are identical too.
    let last = c.node(leader).raft().metrics().borrow().last_log_index.unwrap();
    let mut logs = Vec::new();
    for id in 1..=3u64 {
        c.node(id)
            .raft()
            .wait(Some(5 * SEC))
            .log_index_at_least(Some(last), "log")
            .await
            .unwrap();
        let mut ls = c.nodes[&id].node.as_ref().unwrap().raft().clone();
        let _ = &mut ls;
        logs.push(c.node(id).applied_index());
    }
    assert!(logs.iter().all(|l| *l >= *indexes.last().unwrap()));
    for id in 1..=3u64 {
        let s = c.node(id).log_stats();
        eprintln!("node {id} (leader {leader}): {s:?}");
        assert!(s.append_fsyncs < s.entries, "node {id}: group commit expected: {s:?}");
    }
    let ls = c.node(leader).log_stats();
    assert!(
        ls.append_fsyncs < ls.append_calls,
        "leader batched fsyncs across appends: {ls:?}"
    );
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
    assert_eq!(applied.len(), 30);
    c.shutdown().await;
}

/// With small snapshots the log is purged; a member restarted from an empty data dir is
/// brought back with InstallSnapshot (Machine::restore) and then applies the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_install_on_wiped_member() {
    let mut c = Cluster::start(3, 50).await;
    let leader = c.leader(5 * SEC).await;
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..10 {
        for i in 0..30 {
            let node = c.node((i % 3) + 1);
            tasks.spawn(async move { node.propose(format!("{chunk}/{i}").into_bytes()).await.unwrap().0 });
        }
        while tasks.join_next().await.is_some() {}
    }
    let last = c.node(leader).applied_index();
    c.wait_applied(last, 10 * SEC).await;
    let m = c.node(leader).raft().metrics().borrow().clone();
    eprintln!(
        "leader {leader}: last_applied {:?} snapshot {:?} purged {:?}",
        m.last_applied, m.snapshot, m.purged
    );
    let purged = m.purged.expect("log purged after snapshots").index;
    assert!(purged >= 200, "purged up to {purged}");

    // Wipe a follower that is not the bootstrap node (id 1 would re-initialize).
    let victim = if leader == 3 { 2 } else { 3 };
    c.stop(victim).await;
    c.restart(victim, true).await;
    c.wait_applied(last, 10 * SEC).await;
    let restores = c.machine(victim).restores();
    assert!(
        !restores.is_empty() && restores[0] > purged,
        "restored from snapshot: {restores:?}"
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
    c.shutdown().await;
}
