//! [`Consensus`]: one group member — openraft + log store + state machine adapter + peer
//! transport — with proposal forwarding and bootstrap.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InitializeError, RaftError};
use openraft::{BasicNode, Config, SnapshotPolicy};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::consensus::batcher::{BatchStats, Batcher};
use crate::consensus::frame::SNAPSHOT_CHUNK;
use crate::consensus::leader_watch::{core_stopped, LeaderTerm, LeaderWatch};
use crate::consensus::log_store::{LogHandle, LogStats, LogStore};
use crate::consensus::network::{
    CallError, Dialer, ForwardReject, NetworkFactory, PeerPool, Reply, Request, MAX_PROPOSAL,
};
use crate::consensus::peer_tls::{PeerSecurity, PeerTlsContext};
use crate::consensus::server::{leader_read_index, Ctx, Server};
use crate::consensus::state_machine::StateMachineStore;
use crate::consensus::types::{Blob, ConsensusConfig, ConsensusError, Machine, NodeId, Raft, RaftStatus};

/// Upper bound on `max_in_snapshot_log_to_keep` (entries kept behind a snapshot so that
/// slightly lagging followers still catch up from the log).
const MAX_KEEP_BEHIND_SNAPSHOT: u64 = 4_000;

/// How often, and how far apart, a proposal is sent again to a leader whose peer link is not
/// up yet (about as long as the longest reconnect backoff, twice).
const UNREACHABLE_RETRIES: u32 = 10;
const UNREACHABLE_PAUSE: Duration = Duration::from_millis(200);

/// A running consensus member.
pub struct Consensus {
    id: NodeId,
    raft: Raft,
    members: BTreeMap<NodeId, String>,
    peer_addr: SocketAddr,
    pool: Arc<PeerPool>,
    server: Server,
    ctx: Ctx,
    batcher_task: JoinHandle<()>,
    /// Publishes leader changes and reports (once) a Raft core that stopped on its own.
    core_watch: JoinHandle<()>,
    leaders: LeaderWatch,
    /// Follows membership changes (peer certificates admitted, log lines).
    membership_watch: JoinHandle<()>,
    log: LogHandle,
    applied: watch::Receiver<u64>,
    propose_timeout: Duration,
    election_max: Duration,
    traffic: Arc<crate::consensus::traffic::Traffic>,
}

/// Outcome of one proposal attempt.
enum Attempt {
    Done(u64, Vec<u8>),
    /// Nothing was appended; another attempt is safe.
    Retry(ConsensusError),
    Fail(ConsensusError),
}

impl Consensus {
    /// Opens the data dir, starts Raft and the peer listener, and bootstraps a fresh cluster
    /// (the member with the smallest id initializes it; the others wait to be contacted).
    pub async fn start(mut cfg: ConsensusConfig, machine: Arc<dyn Machine>) -> Result<Consensus, ConsensusError> {
        let my_addr = cfg
            .members
            .get(&cfg.node_id)
            .cloned()
            .ok_or_else(|| ConsensusError::Config(format!("node {} is not in members", cfg.node_id)))?;
        let ids: Vec<u64> = cfg.members.keys().copied().collect();
        let (emin, emax) = super::election::slice(cfg.node_id, &ids, cfg.election_timeout_ms);
        let keep = cfg.snapshot_every.min(MAX_KEEP_BEHIND_SNAPSHOT);
        let raft_config = Config {
            cluster_name: "grproxy".into(),
            heartbeat_interval: cfg.heartbeat_ms,
            election_timeout_min: emin,
            election_timeout_max: emax,
            install_snapshot_timeout: (emax * 4).max(2_000),
            // Chunks must fit in a peer frame (see `frame`).
            snapshot_max_chunk_size: SNAPSHOT_CHUNK as u64,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_every.max(1)),
            max_in_snapshot_log_to_keep: keep,
            enable_tick: true,
            enable_heartbeat: true,
            enable_elect: true,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ConsensusError::Config(e.to_string()))?;

        let tls = match &cfg.peer_security {
            PeerSecurity::Tls(t) => Some(
                PeerTlsContext::new(cfg.node_id, cfg.members.keys().copied(), t)
                    .map_err(|e| ConsensusError::Config(format!("peer TLS: {e}")))?,
            ),
            PeerSecurity::InsecurePlaintext => {
                tracing::warn!(
                    id = cfg.node_id,
                    addr = %my_addr,
                    "INSECURE: peer links are plain TCP without authentication \
                     (transport unit tests): anyone who can reach the peer port can take \
                     over the group and run statements on every member. For tests only."
                );
                None
            }
        };
        super::files::private_dir(&cfg.data_dir)?;
        let (log_store, log) = LogStore::open(&cfg.data_dir.join("log"))?;
        let (sm, applied) = StateMachineStore::open(&cfg.data_dir.join("snapshot"), machine)?;

        let listener = match cfg.listener.take() {
            Some(l) => l,
            None => std::net::TcpListener::bind(&my_addr)?,
        };
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let peer_addr = listener.local_addr()?;

        let traffic = Arc::<crate::consensus::traffic::Traffic>::default();
        let pool = Arc::new(PeerPool::new(Dialer {
            tls: tls.clone(),
            limits: cfg.peer_limits.clone(),
            traffic: traffic.clone(),
        }));
        let network = NetworkFactory {
            me: cfg.node_id,
            pool: pool.clone(),
            dial: Arc::new(cfg.members.clone()),
        };
        let raft = match Raft::new(cfg.node_id, Arc::new(raft_config), network, log_store, sm).await {
            Ok(r) => r,
            Err(e) => {
                log.stop();
                return Err(e.into());
            }
        };
        let propose_timeout = cfg.propose_timeout();
        let (batcher, batcher_task) = Batcher::spawn(raft.clone(), propose_timeout, cfg.batches_in_flight);
        // Several missed election rounds: long enough that one lost heartbeat or a slow
        // election is not reported, short enough that clients hear at once.
        let window = Duration::from_millis((cfg.election_timeout_ms.1 * 3).max(1_000));
        let ctx = Ctx {
            raft: raft.clone(),
            batcher,
            applied: applied.clone(),
            timeout: propose_timeout,
            presence: Arc::new(crate::consensus::presence::Presence::new(window)),
            tls: tls.clone(),
            service: Default::default(),
        };
        let membership_watch = tokio::spawn(crate::consensus::membership::watch_membership(
            raft.clone(),
            cfg.node_id,
            cfg.members.keys().copied().collect(),
            tls.clone(),
        ));
        let server = Server::spawn(listener, ctx.clone(), tls, cfg.peer_limits.clone());
        let (leaders, core_watch) = LeaderWatch::spawn(raft.clone(), cfg.node_id);
        let node = Consensus {
            id: cfg.node_id,
            raft,
            members: cfg.members.clone(),
            peer_addr,
            pool,
            server,
            ctx,
            batcher_task,
            core_watch,
            leaders,
            membership_watch,
            log,
            applied,
            propose_timeout,
            election_max: Duration::from_millis(emax),
            traffic,
        };
        if let Err(e) = node.bootstrap().await {
            node.shutdown().await;
            return Err(e);
        }
        Ok(node)
    }

    async fn bootstrap(&self) -> Result<(), ConsensusError> {
        if self.raft.is_initialized().await? {
            tracing::info!(id = self.id, "existing raft state found; not initializing");
            return Ok(());
        }
        if self.members.keys().next() != Some(&self.id) {
            tracing::info!(id = self.id, "fresh node; waiting for the cluster to contact it");
            return Ok(());
        }
        let nodes: BTreeMap<NodeId, BasicNode> = self
            .members
            .iter()
            .map(|(id, addr)| (*id, BasicNode { addr: addr.clone() }))
            .collect();
        tracing::info!(id = self.id, ?nodes, "initializing new cluster");
        match self.raft.initialize(nodes).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(ConsensusError::Initialize(e.to_string())),
        }
    }

    /// Appends `payload`, waits until it is committed (fsynced on a majority) and applied by
    /// the leader's machine; returns (machine index, the machine's response). Concurrent
    /// proposals share Raft entries (group commit). Followers forward to the leader. Retries
    /// once across a leader change, only when the payload was certainly not appended.
    pub async fn propose(&self, payload: Vec<u8>) -> Result<(u64, Vec<u8>), ConsensusError> {
        if payload.len() > MAX_PROPOSAL {
            return Err(ConsensusError::TooLarge {
                size: payload.len(),
                max: MAX_PROPOSAL,
            });
        }
        let mut last_err = ConsensusError::NoLeader;
        let mut tried: Option<(NodeId, u64)> = None;
        // A leader this member cannot reach yet (its peer link is backing off, e.g. just after
        // start-up) is tried again for a while: nothing was sent, so a retry is safe.
        let mut unreachable_retries = 0;
        let mut attempts = 0;
        while attempts < 2 {
            attempts += 1;
            let Some((leader, term)) = self.leader_for_attempt(tried).await? else {
                return Err(last_err);
            };
            let outcome = if leader == self.id {
                Self::local_outcome(self.ctx.batcher.propose(payload.clone()).await, leader)
            } else {
                self.forward(leader, term, Request::Forward(Blob(payload.clone())))
                    .await
                    .map_or_else(
                        |e| e,
                        |r| match r {
                            Reply::Forward(res) => Self::local_outcome(res.map(|(i, r)| (i, r.0)), leader),
                            _ => Attempt::Fail(ConsensusError::Forward {
                                leader,
                                reason: "unexpected reply".into(),
                            }),
                        },
                    )
            };
            match outcome {
                Attempt::Done(idx, resp) => return Ok((idx, resp)),
                Attempt::Retry(e @ ConsensusError::Unreachable(..)) if unreachable_retries < UNREACHABLE_RETRIES => {
                    tracing::debug!(leader, error = %e, "leader not reachable yet; trying it again");
                    unreachable_retries += 1;
                    attempts -= 1;
                    last_err = e;
                    tokio::time::sleep(UNREACHABLE_PAUSE).await;
                }
                Attempt::Retry(e) => {
                    tracing::debug!(leader, error = %e, "proposal not appended; retrying after leader change");
                    last_err = e;
                    tried = Some((leader, term));
                }
                Attempt::Fail(e) => return Err(e),
            }
        }
        Err(last_err)
    }

    /// Waits until this node knows a leader other than `old`, or `old` re-elected in a term
    /// after `term`.
    async fn wait_for_leader_change(&self, old: NodeId, term: u64) -> Result<NodeId, ConsensusError> {
        let changed = |lt: &LeaderTerm| lt.leader.is_some() && (lt.leader != Some(old) || lt.term > term);
        let lt = self.leaders.wait(self.election_max * 4, changed).await?;
        lt.leader.ok_or(ConsensusError::NoLeader)
    }

    fn local_outcome(res: Result<(u64, Vec<u8>), ForwardReject>, leader: NodeId) -> Attempt {
        match res {
            Ok((i, r)) => Attempt::Done(i, r),
            Err(ForwardReject::NotLeader { leader }) => Attempt::Retry(ConsensusError::NotLeader { leader }),
            Err(ForwardReject::Shutdown) => Attempt::Retry(ConsensusError::Shutdown),
            Err(ForwardReject::Failed(reason)) => Attempt::Fail(ConsensusError::Forward { leader, reason }),
        }
    }

    /// Sends `req` to `leader` (leader as of `term`); transport failures are classified as
    /// retryable (never sent) or not (sent, outcome unknown). The wait ends early when another
    /// leader takes over: a leader cut off from the others never answers, and the caller
    /// should learn that its outcome is unknown as soon as the group has moved on.
    async fn forward(&self, leader: NodeId, term: u64, req: Request) -> Result<Reply, Attempt> {
        let addr = self
            .leader_addr(leader)
            .ok_or(Attempt::Fail(ConsensusError::NoLeader))?;
        let conn = self.pool.get(leader, &addr);
        let replaced = async {
            loop {
                match self.wait_for_leader_change(leader, term).await {
                    Ok(new) => return format!("leader {leader} was replaced by {new} while the request was in flight"),
                    Err(ConsensusError::Shutdown) => std::future::pending::<()>().await,
                    Err(_) => {}
                }
            }
        };
        // Allow for the leader's own propose timeout plus the round trip.
        match conn
            .call_until(&req, self.propose_timeout + Duration::from_secs(1), replaced)
            .await
        {
            Ok(r) => Ok(r),
            Err(CallError::Unreachable(m)) => Err(Attempt::Retry(ConsensusError::Unreachable(leader, m))),
            Err(CallError::Network(m)) => Err(Attempt::Fail(ConsensusError::Forward { leader, reason: m })),
            Err(CallError::Timeout(t)) => Err(Attempt::Fail(ConsensusError::Timeout(t, "forwarded proposal"))),
            // Not sent (proposals are bounded below the frame size, so this does not happen).
            Err(CallError::TooLarge(size)) => Err(Attempt::Fail(ConsensusError::TooLarge {
                size,
                max: crate::consensus::frame::MAX_FRAME,
            })),
        }
    }

    fn leader_addr(&self, leader: NodeId) -> Option<String> {
        let m = self.raft.metrics();
        let m = m.borrow();
        // This member's own config says how it reaches a peer (it may go through a relay or
        // another interface); the address recorded in the membership is the fallback.
        self.members.get(&leader).cloned().or_else(|| {
            m.membership_config
                .membership()
                .get_node(&leader)
                .map(|n| n.addr.clone())
        })
    }

    /// The leader to try: any leader on the first attempt; on a retry, a leader other than the
    /// one tried at `term`, or `None` when none appeared (the caller reports its last error).
    async fn leader_for_attempt(&self, tried: Option<(NodeId, u64)>) -> Result<Option<(NodeId, u64)>, ConsensusError> {
        // Leader and term from the same published pair: a leader read from openraft's metrics
        // with a term from the (slightly later) watch would look like a change at once.
        let lt = match tried {
            None => {
                self.leaders
                    .wait(self.election_max * 4, |lt| lt.leader.is_some())
                    .await?
            }
            Some((old, term)) => {
                let changed = |lt: &LeaderTerm| lt.leader.is_some() && (lt.leader != Some(old) || lt.term > term);
                match self.leaders.wait(self.election_max * 4, changed).await {
                    Ok(lt) => lt,
                    Err(ConsensusError::NoLeader) => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
        };
        Ok(lt.leader.map(|l| (l, lt.term)))
    }

    /// Linearizable read barrier: the leader's commit point (as a machine index) after
    /// confirming leadership with a quorum; also waits until this node has applied up to it,
    /// so local reads of the machine that follow observe every write committed before.
    pub async fn read_index(&self) -> Result<u64, ConsensusError> {
        let mut last_err = ConsensusError::NoLeader;
        let mut tried: Option<(NodeId, u64)> = None;
        for _ in 0..2 {
            let Some((leader, term)) = self.leader_for_attempt(tried).await? else {
                return Err(last_err);
            };
            let res = if leader == self.id {
                leader_read_index(&self.ctx).await
            } else {
                match self.forward(leader, term, Request::ReadIndex).await {
                    Ok(Reply::ReadIndex(r)) => r,
                    Ok(_) => Err(ForwardReject::Failed("unexpected reply".into())),
                    // Reads are idempotent: any transport failure may be retried.
                    Err(Attempt::Retry(e) | Attempt::Fail(e)) => {
                        last_err = e;
                        tried = Some((leader, term));
                        continue;
                    }
                    Err(Attempt::Done(..)) => unreachable!(),
                }
            };
            match res {
                Ok(index) => {
                    self.wait_applied(index, self.propose_timeout).await?;
                    return Ok(index);
                }
                Err(ForwardReject::NotLeader { leader }) => last_err = ConsensusError::NotLeader { leader },
                Err(ForwardReject::Shutdown) => last_err = ConsensusError::Shutdown,
                Err(ForwardReject::Failed(reason)) => last_err = ConsensusError::Forward { leader, reason },
            }
            tried = Some((leader, term));
        }
        Err(last_err)
    }

    async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<(), ConsensusError> {
        let mut rx = self.applied.clone();
        let res = match tokio::time::timeout(timeout, rx.wait_for(|a| *a >= index)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(ConsensusError::Shutdown),
            Err(_) => Err(ConsensusError::Timeout(timeout, "local apply")),
        };
        res
    }

    /// The leader this node currently knows of, if any.
    pub fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    /// Waits until some leader is known; returns its id.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<u64, ConsensusError> {
        if let Some(l) = self.leader() {
            return Ok(l);
        }
        let lt = self.leaders.wait(timeout, |lt| lt.leader.is_some()).await?;
        lt.leader.ok_or(ConsensusError::NoLeader)
    }

    /// A point-in-time view of this node's Raft state, for operators.
    pub fn status(&self) -> RaftStatus {
        // One borrow only: openraft's metrics sit behind a writer-preferring RwLock, and a
        // second read while a write waits deadlocks the thread (and with it the runtime).
        let rx = self.raft.metrics();
        let m = rx.borrow().clone();
        let stopped = match &m.running_state {
            Err(e) => Some(e.to_string()),
            Ok(()) => rx
                .has_changed()
                .is_err()
                .then(|| "the raft core task ended (panicked)".to_string()),
        };
        RaftStatus {
            role: match m.state {
                openraft::ServerState::Leader => "leader",
                openraft::ServerState::Follower => "follower",
                openraft::ServerState::Candidate => "candidate",
                openraft::ServerState::Learner => "learner",
                openraft::ServerState::Shutdown => "shutdown",
            },
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index.unwrap_or(0),
            last_applied_log_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            snapshot_log_index: m.snapshot.map(|l| l.index).unwrap_or(0),
            purged_log_index: m.purged.map(|l| l.index).unwrap_or(0),
            stopped,
        }
    }

    pub fn node_id(&self) -> u64 {
        self.id
    }

    /// Whether this node is in contact with a majority of the voting members (see
    /// [`crate::consensus::presence`]).
    pub fn quorum(&self) -> crate::consensus::Quorum {
        let (state, ack, voters, removed) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            let membership = m.membership_config.membership();
            let voters = membership.voter_ids().count();
            let removed = membership.nodes().next().is_some() && membership.get_node(&self.id).is_none();
            (m.state, m.millis_since_quorum_ack, voters, removed)
        };
        if removed {
            return crate::consensus::Quorum::Removed;
        }
        self.ctx.presence.quorum(state, ack, voters)
    }

    /// How long without contact before [`Consensus::quorum`] says it is lost.
    pub fn quorum_window(&self) -> Duration {
        self.ctx.presence.quorum_window()
    }

    /// Sets what this node answers a peer's `Status` request with.
    pub fn set_report(&self, report: Vec<u8>) {
        self.ctx.presence.set_report(report);
    }

    /// Every other configured member's report (or why it could not be had within `ttl`),
    /// with the round trip, asked concurrently.
    pub async fn peer_reports(&self, ttl: Duration) -> Vec<(NodeId, String, Result<(Vec<u8>, Duration), String>)> {
        let members = self.members();
        let asks = members.iter().filter(|(id, _)| **id != self.id).map(|(id, addr)| {
            let conn = self.pool.get(*id, addr);
            let (id, addr) = (*id, addr.clone());
            async move {
                let started = tokio::time::Instant::now();
                let r = match conn.call(&Request::Status, ttl).await {
                    Ok(Reply::Status(b)) => Ok((b.0, started.elapsed())),
                    Ok(Reply::BadRequest(why)) => Err(format!("refused: {why}")),
                    Ok(_) => Err("unexpected reply".to_string()),
                    Err(e) => Err(e.to_string()),
                };
                (id, addr, r)
            }
        });
        futures_util::future::join_all(asks).await
    }

    /// The group's members (id, peer address) as this member knows them: the Raft
    /// membership, with this member's configured addresses winning.
    pub fn members(&self) -> BTreeMap<NodeId, String> {
        crate::consensus::membership::member_addrs(&self.raft, &self.members)
    }

    /// The voting members.
    pub fn voters(&self) -> Vec<NodeId> {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.membership_config.membership().voter_ids().collect()
    }

    /// Adds or removes a member (on the leader, forwarded if need be); returns what was done.
    pub async fn change_members(&self, change: crate::consensus::MemberChange) -> Result<String, ConsensusError> {
        let mut tried: Option<(NodeId, u64)> = None;
        let mut last_err = ConsensusError::NoLeader;
        for _ in 0..2 {
            let Some((leader, term)) = self.leader_for_attempt(tried).await? else {
                return Err(last_err);
            };
            let result = if leader == self.id {
                crate::consensus::server::change_members_as_leader(&self.ctx, &change).await
            } else {
                let addr = self.leader_addr(leader).ok_or(ConsensusError::NoLeader)?;
                let conn = self.pool.get(leader, &addr);
                let ttl = crate::consensus::membership::CHANGE_TIMEOUT;
                match conn.call(&Request::ChangeMembers(change.clone()), ttl).await {
                    Ok(Reply::ChangeMembers(r)) => r,
                    Ok(Reply::BadRequest(why)) => Err(ForwardReject::Failed(format!("refused: {why}"))),
                    Ok(_) => Err(ForwardReject::Failed("unexpected reply".into())),
                    Err(CallError::Unreachable(m)) => {
                        last_err = ConsensusError::Unreachable(leader, m);
                        tried = Some((leader, term));
                        continue;
                    }
                    Err(e) => Err(ForwardReject::Failed(e.to_string())),
                }
            };
            match result {
                Ok(done) => return Ok(done),
                Err(ForwardReject::NotLeader { leader: hint }) => {
                    last_err = ConsensusError::NotLeader { leader: hint };
                    tried = Some((leader, term));
                }
                Err(ForwardReject::Shutdown) => return Err(ConsensusError::Shutdown),
                Err(ForwardReject::Failed(reason)) => return Err(ConsensusError::Membership(reason)),
            }
        }
        Err(last_err)
    }

    /// If this member leads the group: asks its most caught-up follower to stand for election
    /// (this member votes for it) and waits until it leads, so that a member that stops does
    /// not leave the group without a leader for an election timeout. `None`: not the leader.
    pub async fn hand_over(&self) -> Option<Result<NodeId, String>> {
        let target = {
            let m = self.raft.metrics();
            let m = m.borrow();
            if m.current_leader != Some(self.id) {
                return None;
            }
            let voters: Vec<NodeId> = m.membership_config.membership().voter_ids().collect();
            m.replication.as_ref().and_then(|r| {
                r.iter()
                    .filter(|(id, _)| **id != self.id && voters.contains(id))
                    .max_by_key(|(_, matched)| matched.map(|l| l.index))
                    .map(|(id, _)| *id)
            })
        };
        let Some(target) = target else {
            return Some(Err("no other voting member to hand leadership to".into()));
        };
        let Some(addr) = self.members().get(&target).cloned() else {
            return Some(Err(format!("member {target} has no address")));
        };
        let conn = self.pool.get(target, &addr);
        // Voters (this leader too) refuse a vote while the leader's lease holds, and acks of
        // heartbeats renew it: heartbeats stop, and the follower is asked again until it has
        // taken over or the time is up (proposals still in flight renew the lease too).
        self.raft.runtime_config().heartbeat(false);
        let r = self.ask_to_elect(&conn, target).await;
        self.raft.runtime_config().heartbeat(true);
        Some(r)
    }

    async fn ask_to_elect(&self, conn: &crate::consensus::network::PeerConn, target: NodeId) -> Result<NodeId, String> {
        let deadline = tokio::time::Instant::now() + self.election_max * 6;
        loop {
            match conn.call(&Request::Elect, Duration::from_secs(2)).await {
                Ok(Reply::Elect(Ok(()))) => {}
                Ok(Reply::Elect(Err(e))) => return Err(format!("member {target}: {e}")),
                Ok(_) => return Err(format!("member {target}: unexpected reply")),
                Err(e) => return Err(format!("member {target}: {e}")),
            }
            let moved = self
                .raft
                .wait(Some(self.election_max))
                .metrics(
                    |m| m.current_leader.is_some_and(|l| l != self.id),
                    "leadership handed over",
                )
                .await;
            if let Ok(m) = moved {
                return Ok(m.current_leader.unwrap_or(target));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("member {target} did not take over in time"));
            }
        }
    }

    /// Takes a new peer certificate (and CA) for new peer connections (SIGHUP).
    pub fn reload_peer_tls(&self, tls: &crate::consensus::PeerTls) -> Result<bool, String> {
        match &self.ctx.tls {
            Some(t) => t.reload(self.id, tls).map_err(|e| e.to_string()),
            None => Err("the peer links are plain TCP (transport unit tests)".into()),
        }
    }

    /// Registers what this member answers other members' application requests with.
    pub fn set_peer_service(&self, service: Arc<dyn crate::consensus::PeerService>) {
        let _ = self.ctx.service.set(service);
    }

    /// Sends an application request to member `id` (see [`Consensus::set_peer_service`]).
    pub async fn call_member(&self, id: NodeId, request: Vec<u8>, ttl: Duration) -> Result<Vec<u8>, String> {
        let addr = self
            .members()
            .get(&id)
            .cloned()
            .ok_or_else(|| format!("member {id} is not in the group"))?;
        let conn = self.pool.get(id, &addr);
        match conn.call(&Request::App(Blob(request)), ttl).await {
            Ok(Reply::App(r)) => r.map(|b| b.0),
            Ok(Reply::BadRequest(why)) => Err(format!("member {id} refused the request: {why}")),
            Ok(_) => Err(format!("member {id} sent an unexpected reply")),
            Err(e) => Err(format!("member {id}: {e}")),
        }
    }

    /// Why the Raft core stopped, if it did (a fatal storage error or a panic): the member
    /// then takes no part in the group until restarted.
    pub fn core_stopped(&self) -> Option<String> {
        core_stopped(&self.raft)
    }

    /// Counters of the peer listener.
    #[cfg(test)]
    pub(crate) fn peer_server_stats(&self) -> Arc<crate::consensus::server::ServerStats> {
        self.server.stats.clone()
    }

    /// The address the peer listener is bound to.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// Machine index of the last proposal applied to the local machine (0 if none).
    pub fn applied_index(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Log store counters (fsync diagnostics).
    pub fn log_stats(&self) -> LogStats {
        self.log.stats()
    }

    /// Proposal batching counters of this node (as leader).
    pub fn batch_stats(&self) -> BatchStats {
        self.ctx.batcher.stats()
    }

    /// Counts of the peer requests this node sent.
    pub fn traffic(&self) -> crate::consensus::traffic::TrafficCounts {
        self.traffic.counts()
    }

    /// This node's counters as `SHOW GRPROXY STATUS` rows: the Raft log's appends and
    /// fsyncs, proposal batching, and the peer requests it sent.
    pub fn counter_rows(&self) -> Vec<(&'static str, String)> {
        let (log, batch, sent) = (self.log_stats(), self.batch_stats(), self.traffic());
        [
            ("raft_log_appends", log.append_calls),
            ("raft_log_fsyncs", log.append_fsyncs),
            ("raft_proposals_batched", batch.proposals),
            ("raft_batches", batch.batches),
            ("peer_requests_sent", sent.requests()),
            ("peer_append_entries_sent", sent.appends),
            ("peer_empty_append_entries_sent", sent.empty_appends),
            ("peer_forwards_sent", sent.forwards),
            ("peer_bytes_sent", sent.bytes),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
    }

    /// A copy of the live (unpurged) Raft log, for diagnostics and tests.
    pub fn log_entries(&self) -> Vec<crate::consensus::types::Entry> {
        self.log.entries()
    }

    /// The underlying openraft handle (metrics, diagnostics).
    pub fn raft(&self) -> &openraft::Raft<crate::consensus::types::TypeConfig> {
        &self.raft
    }

    /// Stops Raft, the peer listener, peer connections and the log writer; files are closed
    /// when this returns, so the data dir can be reopened.
    pub async fn shutdown(self) {
        // Stop serving peers first: they then see connection errors (and back off) rather
        // than "raft stopped" replies.
        self.server.stop().await;
        self.batcher_task.abort();
        self.core_watch.abort();
        self.membership_watch.abort();
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        self.pool.close_all().await;
        let log = self.log;
        let _ = tokio::task::spawn_blocking(move || log.stop()).await;
    }
}
