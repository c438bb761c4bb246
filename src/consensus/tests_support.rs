//! Test helpers: a recording [`Machine`] and a local cluster over real TCP with mutual TLS.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::consensus::{Consensus, ConsensusConfig, Machine, PeerSecurity};
use crate::sandbox::certs::GroupCa;

/// A payload that makes [`TestMachine::apply`] panic (a Raft core that stops).
pub(crate) const PANIC_PAYLOAD: &[u8] = b"test-machine: panic here";

/// Records every applied (index, payload); answers `"<node id>:<index>"`.
pub(crate) struct TestMachine {
    pub id: u64,
    /// Extra bytes added to every snapshot (to make snapshots span several chunks).
    pub pad: usize,
    pub state: Mutex<MachineState>,
}

#[derive(Default)]
pub(crate) struct MachineState {
    pub applied: Vec<(u64, Vec<u8>)>,
    pub restores: Vec<u64>,
}

impl TestMachine {
    pub fn new(id: u64, pad: usize) -> Arc<TestMachine> {
        Arc::new(TestMachine {
            id,
            pad,
            state: Mutex::default(),
        })
    }

    pub fn applied(&self) -> Vec<(u64, Vec<u8>)> {
        self.state.lock().unwrap().applied.clone()
    }

    pub fn restores(&self) -> Vec<u64> {
        self.state.lock().unwrap().restores.clone()
    }
}

impl Machine for TestMachine {
    fn apply(&self, index: u64, payload: &[u8]) -> Vec<u8> {
        assert!(payload != PANIC_PAYLOAD, "the test machine was told to panic");
        let mut st = self.state.lock().unwrap();
        if let Some((last, _)) = st.applied.last() {
            assert!(index > *last, "apply out of order: {index} after {last}");
        }
        st.applied.push((index, payload.to_vec()));
        format!("{}:{index}", self.id).into_bytes()
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut data = bincode::serialize(&self.state.lock().unwrap().applied).unwrap();
        data.resize(data.len() + self.pad, 0xAB);
        data
    }

    fn restore(&self, index: u64, data: &[u8]) {
        let mut st = self.state.lock().unwrap();
        let applied: Vec<(u64, Vec<u8>)> = bincode::deserialize(data).unwrap();
        let pad = &data[bincode::serialized_size(&applied).unwrap() as usize..];
        assert!(
            pad.len() == self.pad && pad.iter().all(|b| *b == 0xAB),
            "snapshot data intact"
        );
        assert_eq!(applied.last().map(|a| a.0).unwrap_or(0), index);
        st.applied = applied;
        st.restores.push(index);
    }
}

pub(crate) struct TestNode {
    pub machine: Arc<TestMachine>,
    pub node: Option<Arc<Consensus>>,
    pub dir: PathBuf,
}

/// A cluster of real nodes talking TLS over TCP on 127.0.0.1.
pub(crate) struct Cluster {
    /// The group CA; every node gets a member certificate from it.
    pub ca: GroupCa,
    _tmp: tempfile::TempDir,
    pub members: BTreeMap<u64, String>,
    pub nodes: BTreeMap<u64, TestNode>,
    pub snapshot_every: u64,
    /// Snapshot padding of the machines (see `TestMachine::pad`).
    pub pad: usize,
    /// Election timeout range, when not the default.
    election_ms: Option<(u64, u64)>,
}

impl Cluster {
    pub async fn start(n: u64, snapshot_every: u64) -> Cluster {
        Self::start_with(n, snapshot_every, None, 0).await
    }

    /// As `start`, optionally simulating a slow disk (extra latency per log fsync) and
    /// padding snapshots by `pad` bytes.
    pub async fn start_with(n: u64, snapshot_every: u64, slow_fsync: Option<Duration>, pad: usize) -> Cluster {
        init_test_log();
        let tmp = tempfile::tempdir().unwrap();
        if let Some(d) = slow_fsync {
            crate::consensus::log_writer::SLOW_FSYNC
                .lock()
                .unwrap()
                .push((tmp.path().to_path_buf(), d));
        }
        let mut listeners = BTreeMap::new();
        let mut members = BTreeMap::new();
        for id in 1..=n {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            members.insert(id, l.local_addr().unwrap().to_string());
            listeners.insert(id, l);
        }
        let mut c = Cluster {
            ca: GroupCa::generate().unwrap(),
            members,
            nodes: BTreeMap::new(),
            snapshot_every,
            pad,
            _tmp: tmp,
            // The slow-disk cluster is the load test (600 proposals, a debug build, 2 shared
            // CPUs in CI): a scheduling stall of a few hundred ms there is not the churn the
            // test looks for, a leader starved for a second or more still is.
            election_ms: slow_fsync.map(|_| (1_000, 2_000)),
        };
        for (id, l) in listeners {
            let dir = c._tmp.path().join(format!("n{id}"));
            c.nodes.insert(
                id,
                TestNode {
                    machine: TestMachine::new(id, pad),
                    node: None,
                    dir,
                },
            );
            c.boot(id, Some(l)).await;
        }
        c
    }

    async fn boot(&mut self, id: u64, listener: Option<std::net::TcpListener>) {
        let tn = self.nodes.get_mut(&id).unwrap();
        let tls = PeerSecurity::Tls(self.ca.peer_tls(id).unwrap());
        let mut cfg = ConsensusConfig::new(id, self.members.clone(), &tn.dir, tls);
        cfg.snapshot_every = self.snapshot_every;
        if let Some(e) = self.election_ms {
            cfg.election_timeout_ms = e;
        }
        cfg.listener = listener;
        let node = Consensus::start(cfg, tn.machine.clone()).await.expect("start node");
        tn.node = Some(Arc::new(node));
    }

    pub fn node(&self, id: u64) -> Arc<Consensus> {
        self.nodes[&id].node.clone().expect("node running")
    }

    pub fn machine(&self, id: u64) -> Arc<TestMachine> {
        self.nodes[&id].machine.clone()
    }

    pub fn running(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.node.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    pub async fn stop(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).unwrap().node.take().unwrap();
        let node = Arc::into_inner(node).expect("no outstanding users of the node");
        node.shutdown().await;
    }

    /// Restarts `id` from its data dir (or from an empty one with a fresh machine if `wipe`).
    pub async fn restart(&mut self, id: u64, wipe: bool) {
        if wipe {
            let tn = self.nodes.get_mut(&id).unwrap();
            let _ = std::fs::remove_dir_all(&tn.dir);
            tn.machine = TestMachine::new(id, self.pad);
        } else {
            // The log is re-applied from the last snapshot, so start from an empty machine.
            self.nodes.get_mut(&id).unwrap().machine = TestMachine::new(id, self.pad);
        }
        self.boot(id, None).await;
    }

    /// Waits until all running nodes agree on one leader; returns it.
    pub async fn leader(&self, timeout: Duration) -> u64 {
        let start = Instant::now();
        loop {
            let ls: Vec<_> = self.running().iter().map(|id| self.node(*id).leader()).collect();
            if let Some(Some(l)) = ls.first() {
                if ls.iter().all(|x| *x == Some(*l)) && self.running().contains(l) {
                    return *l;
                }
            }
            assert!(start.elapsed() < timeout, "no agreed leader within {timeout:?}: {ls:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until every running node applied at least `index`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) {
        let start = Instant::now();
        loop {
            let a: Vec<_> = self
                .running()
                .iter()
                .map(|id| (*id, self.node(*id).applied_index()))
                .collect();
            if a.iter().all(|(_, i)| *i >= index) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "not all applied {index} within {timeout:?}: {a:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Asserts that all running machines applied exactly the same (index, payload) sequence.
    pub fn assert_same_machines(&self) -> Vec<(u64, Vec<u8>)> {
        let ids = self.running();
        let first = self.machine(ids[0]).applied();
        for id in &ids[1..] {
            assert_eq!(
                first,
                self.machine(*id).applied(),
                "machine {id} differs from {}",
                ids[0]
            );
        }
        first
    }

    pub async fn shutdown(mut self) {
        for id in self.running() {
            self.stop(id).await;
        }
    }
}

/// Minimal stderr tracing subscriber for debugging tests (`TEST_LOG=info|debug`).
pub(crate) fn init_test_log() {
    use std::fmt::Write as _;
    use tracing::field::{Field, Visit};
    use tracing::{span, Event, Level, Metadata, Subscriber};
    struct Vis(String);
    impl Visit for Vis {
        fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={:?}", f.name(), v);
        }
    }
    struct Sub(Level, Instant);
    impl Subscriber for Sub {
        fn enabled(&self, m: &Metadata<'_>) -> bool {
            *m.level() <= self.0
        }
        fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
            span::Id::from_u64(1)
        }
        fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
        fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
        fn event(&self, e: &Event<'_>) {
            let mut v = Vis(String::new());
            e.record(&mut v);
            let th = std::thread::current();
            eprintln!(
                "{:?} {} {} [{}]{}",
                self.1.elapsed(),
                e.metadata().level(),
                e.metadata().target(),
                th.name().unwrap_or("?"),
                v.0
            );
        }
        fn enter(&self, _: &span::Id) {}
        fn exit(&self, _: &span::Id) {}
    }
    let level = match std::env::var("TEST_LOG").as_deref() {
        Ok("debug") => Level::DEBUG,
        Ok("info") => Level::INFO,
        Ok("warn") => Level::WARN,
        _ => return,
    };
    let _ = tracing::subscriber::set_global_default(Sub(level, Instant::now()));
}
