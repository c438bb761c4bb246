//! A member's view of its replication group: the Raft log (through `consensus`), the
//! certifier that decides every entry as soon as it is committed, and the applier that brings
//! the local mysqld along in log order. Sessions use [`Group`] to take snapshots and to commit.

use crate::backend::service_conn::{ServiceConn, ServiceTarget};

mod flow_control;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::applier::{self, Applier, ApplierState, LocalOutcome, PendingLocal};
use super::certifier::Verdict;
use super::machine::{decode_verdict, CertifyingMachine};
use super::metadata::MetadataCache;
use super::txn::{self, Entry};
use crate::consensus::{Consensus, ConsensusConfig, ConsensusError};

/// Default `group.retention_bytes`: 1 GiB of entries kept for members that are behind.
pub const DEFAULT_RETENTION_BYTES: u64 = 1 << 30;

/// Default `group.snapshot_every`: log entries between snapshots (the log is compacted
/// behind each one).
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 10_000;
/// Default `group.flow_control_entries`: how far (in log entries) the slowest member may fall
/// behind before transactions wait.
pub const DEFAULT_FLOW_CONTROL_ENTRIES: u64 = 2_000;
/// How long after start-up a previous process's unproposed prepared transactions are
/// rolled back: proposals it had in flight have committed (or failed) by then.
const ORPHAN_GRACE: Duration = Duration::from_secs(15);

/// Settings of a member.
#[derive(Debug, Clone)]
pub struct GroupSettings {
    pub member_id: u64,
    /// Every member's peer address ("host:port"), this one included.
    pub members: BTreeMap<u64, String>,
    pub data_dir: PathBuf,
    /// Log entries between snapshots; the log is compacted behind each snapshot.
    pub snapshot_every: u64,
    /// Flow control: the most log entries a member may lag before transactions wait (0: off).
    pub flow_control_entries: u64,
    /// The most proposal batches the leader keeps inside Raft at once (1-64).
    pub raft_batches_in_flight: usize,
    /// The most bytes of entries kept for members that have not applied them.
    pub retention_bytes: u64,
    /// Replays of other members' transactions go to this member's binlog too.
    pub log_replays: bool,
    /// A pre-bound peer listener (tests).
    pub listener: Option<Arc<Mutex<Option<std::net::TcpListener>>>>,
    /// Mutual TLS on the peer links (or, in tests only, plain TCP).
    pub peer_security: crate::consensus::PeerSecurity,
    /// The mode a new group starts in (its log decides once it has one).
    pub mode: super::topology::Mode,
    /// Election weight (0-100).
    pub weight: u32,
    /// The client address other members send writes to (default: from the listener).
    pub sql_address: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("consensus: {0}")]
    Consensus(#[from] ConsensusError),
    #[error("mysqld: {0}")]
    Mysql(#[from] mysql_async::Error),
    #[error("this member takes no writes: {0}")]
    MemberError(String),
    /// Refused before anything was proposed.
    #[error("this member cannot reach a majority of the group (NO_QUORUM): {0}")]
    NoQuorum(String),
    #[error("malformed response from the group")]
    BadResponse,
    #[error("{0}")]
    Binlog(String),
    #[error("{0}")]
    Replay(String),
}

/// Replica server ids of members' binlog taps: this base plus the member id.
const TAP_SERVER_ID_BASE: u32 = 3_000_000;

/// The settings capture needs from mysqld (its row events, whole, in its binlog). Returns
/// `innodb_rollback_on_timeout` (read-only while mysqld runs): whether a lock wait timeout
/// rolls back the whole transaction.
async fn check_mysqld(pool: &mysql_async::Pool) -> Result<bool, GroupError> {
    use mysql_async::prelude::Queryable;
    let mut c = pool.get_conn().await?;
    type Row = (Option<String>, Option<String>, Option<String>, Option<i64>);
    let row: Option<Row> = c
        .query_first(
            "SELECT @@global.log_bin, @@global.binlog_format, @@global.binlog_row_image, \
             @@global.innodb_rollback_on_timeout",
        )
        .await?;
    let (log_bin, format, image, rollback_on_timeout) = row.unwrap_or_default();
    let want = [
        ("log_bin", log_bin, "1"),
        ("binlog_format", format, "ROW"),
        ("binlog_row_image", image, "FULL"),
    ];
    for (name, have, need) in want {
        let have = have.unwrap_or_default();
        let ok = have.eq_ignore_ascii_case(need) || (need == "1" && have.eq_ignore_ascii_case("ON"));
        if !ok {
            return Err(GroupError::Binlog(format!(
                "mysqld runs with {name}={have}; a group member needs {name}={need} (grproxy reads each \
                 transaction's row events from the binlog)"
            )));
        }
    }
    Ok(rollback_on_timeout == Some(1))
}

pub struct Group {
    pub member_id: u64,
    consensus: Consensus,
    pub metadata: MetadataCache,
    pub pending: PendingLocal,
    watermark: watch::Receiver<u64>,
    /// The watermark recorded in mysqld; reported to the group (the certifier's horizon).
    pub(super) durable: watch::Receiver<u64>,
    reached: watch::Receiver<u64>,
    state: watch::Receiver<ApplierState>,
    next_trx: AtomicU64,
    pub stats: Arc<super::stats::GroupStats>,
    machine: Arc<CertifyingMachine>,
    flow_control_entries: u64,
    /// mysqld's `innodb_rollback_on_timeout`: a lock wait timeout (1205) ends the whole
    /// transaction, as a deadlock does.
    pub rollback_on_timeout: bool,
    /// The binlog tap: prepared transactions' row events, and writes that bypassed grproxy.
    pub tap: super::tap::Tap,
    /// Server-side key normalization (`WEIGHT_STRING`) for write-sets.
    pub weigher: Weigher,
    /// This member's transactions rolled back as never certified (shared with the applier).
    swept: Arc<Mutex<std::collections::HashSet<u64>>>,
    /// This member's transactions between `XA PREPARE` and their settling by their live
    /// session (shared with the applier, which leaves these alone).
    preparing: Arc<Mutex<std::collections::HashSet<u64>>>,
    pool: mysql_async::Pool,
    /// DDL and state-transfer copies exclude each other (see [`super::donor::CopyGate`]).
    pub copy_gate: Arc<super::donor::CopyGate>,
    /// State transfer requests (see [`super::recovery`]).
    pub(crate) recovery: Arc<super::recovery::Recovery>,
    /// What this member knows of the others (see [`super::members`]).
    pub(super) view: Mutex<super::members::View>,
    own_address: String,
    /// Who may write, as certified here (see [`super::primary`]).
    pub(super) topology: watch::Receiver<super::topology::Topology>,
    /// The mode from the config, in force until the log holds one.
    pub(super) config_mode: super::topology::Mode,
    /// The group's commit index learnt through the leader after this member started
    /// (`u64::MAX` until then): see [`super::primary::learn_startup_barrier`].
    pub(super) startup_barrier: watch::Sender<u64>,
    pub(super) weight: u32,
    /// This member's client address for the others (set once the listener is bound).
    pub(super) sql_address: Mutex<String>,
    /// Why this member's mysqld is taken to be down (see [`super::liveness`]).
    mysqld_down: Mutex<Option<String>>,
}

/// See [`Group::preparing`].
pub struct PreparingGuard {
    set: Arc<Mutex<std::collections::HashSet<u64>>>,
    trx_id: u64,
}

impl Drop for PreparingGuard {
    fn drop(&mut self) {
        self.set.lock().unwrap().remove(&self.trx_id);
    }
}

/// Computes collation weights of string key parts on mysqld, in one statement per
/// transaction (see [`super::keys::weigh_sql`]).
#[derive(Clone)]
pub struct Weigher {
    pool: mysql_async::Pool,
}

impl super::keys::Weigher for Weigher {
    async fn weigh(&self, parts: Vec<super::keys::WeighRequest>) -> Result<Vec<Vec<u8>>, String> {
        use mysql_async::prelude::Queryable;
        if parts.is_empty() {
            return Ok(Vec::new());
        }
        let sql = super::keys::weigh_sql(&parts);
        // A pooled connection may have died with mysqld (restart, wait_timeout): a connection
        // error is retried on a new one; an error from the server is not.
        let mut attempt = 0;
        let row: Option<mysql_async::Row> = loop {
            attempt += 1;
            let res = match self.pool.get_conn().await {
                Ok(mut c) => c.query_first(sql.as_str()).await,
                Err(e) => Err(e),
            };
            match res {
                Ok(row) => break row,
                Err(mysql_async::Error::Server(e)) => return Err(e.to_string()),
                Err(e) if attempt >= 3 => return Err(e.to_string()),
                Err(e) => {
                    tracing::debug!(error = %e, attempt, "weigher connection failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                }
            }
        };
        let row = row.ok_or("no weights")?;
        (0..parts.len())
            .map(|i| {
                row.get::<Option<Vec<u8>>, _>(i)
                    .flatten()
                    .ok_or_else(|| format!("no weight for key part {i}"))
            })
            .collect()
    }
}

impl Group {
    /// Joins (or bootstraps) the group and starts certifying and applying.
    pub async fn start(
        s: GroupSettings,
        pool: mysql_async::Pool,
        opts: mysql_async::Opts,
        sessions: Arc<dyn applier::LocalSessions>,
    ) -> Result<Arc<Group>, GroupError> {
        let rollback_on_timeout = check_mysqld(&pool).await?;
        let service = ServiceTarget::from_opts(&opts);
        // The applier replays on a raw connection of its own: refuse to start if it cannot
        // log in, rather than stopping at the first replay.
        ServiceConn::open(&service, "DO 1", Duration::from_secs(10))
            .await
            .map_err(|e| GroupError::Replay(format!("{e} (the applier's replay connection)")))?;
        let tap = super::tap::Tap::start(opts.clone(), TAP_SERVER_ID_BASE + s.member_id as u32)
            .await
            .map_err(|e| GroupError::Binlog(e.to_string()))?;
        let unclaimed = tap.claim_row_writes();
        let (base, markers) = applier::load_applied(&pool, s.log_replays).await?;
        let side = pool.clone();
        let swept = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let preparing = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let (increment, offset) = auto_increment_for(s.member_id, &s.members);
        configure_auto_increment(&pool, increment, offset).await?;
        let (to_applier, rx) = mpsc::unbounded_channel();
        let members: Vec<u64> = s.members.keys().copied().collect();
        let machine = Arc::new(CertifyingMachine::new(&members, to_applier).with_retention(s.retention_bytes));
        let metadata = MetadataCache::new(pool.clone());
        let pending = PendingLocal::default();
        let (wm_tx, wm_rx) = watch::channel(base);
        let (state_tx, state_rx) = watch::channel(ApplierState::Online);
        let (reached_tx, reached_rx) = watch::channel(base);
        let (durable_tx, durable_rx) = watch::channel(base);
        let stats = Arc::new(super::stats::GroupStats::default());
        let recovery = Arc::new(super::recovery::Recovery::default());
        // Before the applier starts: nothing may be applied onto a partial copy.
        let transfer_pending = super::joiner::pending_file(&s.data_dir);
        if transfer_pending.exists() {
            tracing::warn!(
                "a state transfer into this member's mysqld was interrupted ({}): its data is partial; \
                 the transfer starts again",
                transfer_pending.display()
            );
            recovery.request(None);
        }
        let copy_gate = Arc::new(super::donor::CopyGate::default());
        let applier = Applier {
            stats: stats.clone(),
            member_id: s.member_id,
            pool,
            metadata: metadata.clone(),
            pending: pending.clone(),
            watermark: wm_tx,
            durable: durable_tx,
            reached: reached_tx,
            state: state_tx,
            sessions: Some(sessions),
            swept: swept.clone(),
            preparing: preparing.clone(),
            recovery: recovery.clone(),
            copy_gate: copy_gate.clone(),
            log_replays: s.log_replays,
            service,
            replay_conn: Default::default(),
        };
        tokio::spawn(applier.run(rx, base, markers));
        let listener = s.listener.as_ref().and_then(|l| l.lock().unwrap().take());
        let cfg = ConsensusConfig {
            node_id: s.member_id,
            members: s.members.clone(),
            data_dir: s.data_dir.clone(),
            // Members share CPUs and disks with their mysqld: a follower that is busy for a few
            // hundred milliseconds (fsync, scheduling) must not trigger an election. The group commits again
            // within about 2.5-5 s of losing its leader (tests/jepsen.rs).
            heartbeat_ms: 100,
            election_timeout_ms: (750, 1500),
            // A snapshot holds the certification index and the entries above its horizon
            // (see `machine`), so verdicts after a restart are the same as before.
            snapshot_every: s.snapshot_every,
            batches_in_flight: s.raft_batches_in_flight,
            listener,
            peer_security: s.peer_security.clone(),
            peer_limits: Default::default(),
        };
        let machine_topology = machine.topology();
        let consensus = Consensus::start(cfg, machine.clone()).await?;
        let group = Arc::new(Group {
            member_id: s.member_id,
            consensus,
            metadata,
            pending,
            watermark: wm_rx,
            durable: durable_rx,
            reached: reached_rx,
            state: state_rx,
            next_trx: AtomicU64::new(first_trx_id()),
            stats,
            machine,
            flow_control_entries: s.flow_control_entries,
            rollback_on_timeout,
            tap,
            swept,
            preparing,
            weigher: Weigher { pool: side.clone() },
            pool: side,
            view: super::members::View::new(),
            recovery,
            copy_gate,
            own_address: s.members.get(&s.member_id).cloned().unwrap_or_default(),
            topology: machine_topology,
            config_mode: s.mode,
            startup_barrier: watch::channel(u64::MAX).0,
            weight: s.weight,
            sql_address: Mutex::new(s.sql_address.clone().unwrap_or_default()),
            mysqld_down: Mutex::new(None),
        });
        let target = super::transfer::copy::MysqldTarget {
            unix_socket: opts.socket().map(std::path::PathBuf::from),
            address: Some(format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port())),
            user: opts.user().unwrap_or_default().to_string(),
            password: opts.pass().unwrap_or_default().to_string(),
        };
        let donor = super::donor::Donor::new(
            target.clone(),
            target.user.clone(),
            s.data_dir.join("transfer"),
            group.copy_gate.clone(),
            group.durable.clone(),
        );
        group.consensus.set_peer_service(Arc::new(donor));
        group.recovery.set_handler(Arc::new(super::joiner::Joiner {
            group: Arc::downgrade(&group),
            target,
            pending: transfer_pending,
        }));

        tokio::spawn(super::watermarks::report(Arc::downgrade(&group)));
        tokio::spawn(super::sequences::run(
            Arc::downgrade(&group),
            unclaimed,
            group.pool.clone(),
        ));
        tokio::spawn(super::primary::keeper(Arc::downgrade(&group)));
        tokio::spawn(super::primary::learn_startup_barrier(Arc::downgrade(&group)));
        tokio::spawn(super::liveness::watch(Arc::downgrade(&group), opts.clone()));
        tokio::spawn(super::primary::enforce_read_only(
            Arc::downgrade(&group),
            group.pool.clone(),
        ));
        tokio::spawn(super::members::run(Arc::downgrade(&group)));
        tokio::spawn(super::members::publish_on_apply(
            Arc::downgrade(&group),
            group.watermark.clone(),
        ));
        if group.consensus.voters().len() == 2 || (s.members.len() == 2 && group.consensus.voters().is_empty()) {
            tracing::warn!(
                "a group of 2 members has no majority once either is down: both stop taking writes \
                 (NO_QUORUM) until it is back; use 3 or more members"
            );
        }
        // Prepared transactions a previous process left unproposed are rolled back.
        let first = group.next_trx.load(Ordering::Relaxed);
        group.sweep(move |trx| trx < first);
        Ok(group)
    }

    /// Sends a request to another member's peer service (state transfer).
    pub(crate) async fn call_member(&self, id: u64, request: Vec<u8>, ttl: Duration) -> Result<Vec<u8>, String> {
        self.consensus.call_member(id, request, ttl).await
    }

    /// If this member leads: hands leadership to its most caught-up follower (see
    /// `Consensus::hand_over`). `None`: it does not lead.
    pub async fn hand_over_leadership(&self) -> Option<Result<u64, String>> {
        self.consensus.hand_over().await
    }

    /// Takes a new peer certificate for new peer connections (SIGHUP).
    /// False: the same certificate as in use.
    pub fn reload_peer_tls(&self, tls: &crate::consensus::PeerTls) -> Result<bool, String> {
        self.consensus.reload_peer_tls(tls)
    }

    /// Adds or removes a member (see `consensus::membership`).
    pub async fn change_members(&self, change: crate::consensus::MemberChange) -> Result<String, GroupError> {
        Ok(self.consensus.change_members(change).await?)
    }

    /// Replaces this member's data with a copy of a donor's (state transfer), then catches up
    /// from the log; also what brings a member out of ERROR.
    pub async fn rebuild(&self, from: Option<u64>) -> Result<String, String> {
        self.recovery.rebuild(from).await
    }

    /// The applied watermark: every entry at or below it is applied on the local mysqld.
    pub fn watermark(&self) -> u64 {
        *self.watermark.borrow()
    }

    /// Index of the last entry certified here (committed in the log and decided).
    pub fn certified_index(&self) -> u64 {
        self.consensus.applied_index()
    }

    pub fn watermark_receiver(&self) -> watch::Receiver<u64> {
        self.watermark.clone()
    }

    /// Why this member takes no writes: ERROR (with why) or RECOVERING (state transfer).
    pub fn unavailable(&self) -> Option<String> {
        self.error_state()
            .map(|e| format!("ERROR: {e}"))
            .or_else(|| self.recovering().map(|p| format!("RECOVERING: {p}")))
    }

    /// The state transfer under way, with its progress.
    pub fn recovering(&self) -> Option<String> {
        matches!(&*self.state.borrow(), ApplierState::Recovering).then(|| self.recovery.stats.progress())
    }

    /// Why this member is in ERROR state: its applier stopped, or its Raft core did.
    pub fn error_state(&self) -> Option<String> {
        match &*self.state.borrow() {
            ApplierState::Online | ApplierState::Recovering => None,
            ApplierState::Error(e) => Some(e.clone()),
        }
        .or_else(|| {
            self.consensus
                .core_stopped()
                .map(|why| format!("the raft core stopped: {why}"))
        })
        .or_else(|| self.mysqld_down.lock().unwrap().clone())
        .or_else(|| self.tap.lost())
    }

    pub(super) fn set_mysqld_down(&self, why: Option<String>) {
        *self.mysqld_down.lock().unwrap() = why;
    }

    /// Whether this member is in contact with a majority.
    pub fn quorum(&self) -> crate::consensus::Quorum {
        self.consensus.quorum()
    }

    pub(super) fn consensus_status(&self) -> crate::consensus::RaftStatus {
        self.consensus.status()
    }

    pub(super) fn own_address(&self) -> String {
        self.own_address.clone()
    }

    pub(super) fn publish_report(&self, report: Vec<u8>) {
        self.consensus.set_report(report);
    }

    pub(super) async fn peer_reports(&self, ttl: Duration) -> Vec<(u64, String, Result<(Vec<u8>, Duration), String>)> {
        self.consensus.peer_reports(ttl).await
    }

    /// The group's commit index as a machine index, confirmed by the leader with a quorum
    /// (consistency BEFORE waits until this member applied it).
    pub async fn read_index(&self) -> Result<u64, GroupError> {
        Ok(self.consensus.read_index().await?)
    }

    /// Waits until every member that answers and is ONLINE or RECOVERING has applied `index`
    /// (consistency AFTER); members that do not answer are not waited for.
    pub async fn wait_applied_everywhere(&self, index: u64, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        if !self.wait_applied(index, timeout).await {
            return Err(format!("this member did not apply it within {timeout:?}"));
        }
        loop {
            let reports = self.peer_reports(super::members::ASK_TIMEOUT).await;
            let behind: Vec<String> = reports
                .into_iter()
                .filter_map(|(id, _, r)| {
                    let (bytes, _) = r.ok()?;
                    let rep: super::members::Report = bincode::deserialize(&bytes).ok()?;
                    let counts = rep.state == "ONLINE" || rep.state == "RECOVERING";
                    (counts && rep.applied < index).then(|| format!("member {id} (applied {})", rep.applied))
                })
                .collect();
            if behind.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() + pause > deadline {
                return Err(format!(
                    "not every ONLINE member applied index {index} within {timeout:?}: {}",
                    behind.join(", ")
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// `SHOW GRPROXY MEMBERS`: every member as this one knows it.
    pub fn members(&self) -> Vec<super::members::MemberRow> {
        super::members::rows(self)
    }

    /// `SHOW GRPROXY STATUS`: (name, value) rows describing this member.
    pub fn status(&self) -> Vec<(&'static str, String)> {
        let r = self.consensus.status();
        let me = super::members::own_report(self);
        let state = if me.detail.is_empty() {
            me.state
        } else {
            format!("{}: {}", me.state, me.detail)
        };
        let t = &self.recovery.stats;
        let (retained_bytes, dropped_through) = self.machine.retention();
        use std::sync::atomic::Ordering::Relaxed;
        vec![
            ("member_id", self.member_id.to_string()),
            ("member_count", self.consensus.members().len().to_string()),
            ("member_state", state),
            ("group_mode", self.mode().name().to_string()),
            (
                "primary_member_id",
                self.primary().map(|p| p.to_string()).unwrap_or_default(),
            ),
            ("raft_role", r.role.to_string()),
            ("raft_leader_id", r.leader.map(|l| l.to_string()).unwrap_or_default()),
            ("raft_term", r.term.to_string()),
            ("raft_last_log_index", r.last_log_index.to_string()),
            ("raft_last_applied_log_index", r.last_applied_log_index.to_string()),
            ("raft_snapshot_log_index", r.snapshot_log_index.to_string()),
            ("raft_purged_log_index", r.purged_log_index.to_string()),
            ("retained_entries", self.machine.retained().to_string()),
            ("retained_bytes", retained_bytes.to_string()),
            ("retention_dropped_through", dropped_through.to_string()),
            ("state_transfer_active", u8::from(t.active.load(Relaxed)).to_string()),
            ("state_transfer_received_bytes", t.received.load(Relaxed).to_string()),
            ("state_transfer_copy_bytes", t.copy_bytes.load(Relaxed).to_string()),
            ("state_transfers_completed", t.completed.load(Relaxed).to_string()),
            ("state_transfers_failed", t.failed.load(Relaxed).to_string()),
            ("certified_index", self.certified_index().to_string()),
            ("applied_index", self.watermark().to_string()),
            ("errant_transactions", self.tap.errant().0.to_string()),
            ("last_errant_transaction", self.tap.errant().1.unwrap_or_default()),
        ]
        .into_iter()
        .chain(self.stats.rows())
        .chain(self.consensus.counter_rows())
        .collect()
    }

    pub fn new_trx_id(&self) -> u64 {
        self.next_trx.fetch_add(1, Ordering::Relaxed)
    }

    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<u64, GroupError> {
        Ok(self.consensus.wait_for_leader(timeout).await?)
    }

    /// Proposes an entry and returns its log index and verdict.
    pub async fn propose(&self, entry: &Entry) -> Result<(u64, Verdict), GroupError> {
        // A topology change is about the group, not this member's data: a leader whose own
        // mysqld failed still elects another primary.
        if let (Some(e), false) = (self.unavailable(), matches!(entry, Entry::Topology(_))) {
            return Err(GroupError::MemberError(e));
        }
        if let Some(why) = self.quorum().refusal() {
            return Err(GroupError::NoQuorum(why));
        }
        let started = std::time::Instant::now();
        let (index, resp) = self.consensus.propose(txn::encode(entry)).await?;
        let verdict = decode_verdict(&resp).ok_or(GroupError::BadResponse)?;
        self.stats.propose.record(started.elapsed());
        Ok((index, verdict))
    }

    /// Waits until the applier has reached entry `index` (everything before it is applied),
    /// which for this member's own DDL is where it waits for the session to execute it.
    pub async fn wait_turn(&self, index: u64, timeout: Duration) -> bool {
        applier::wait_for(&self.reached, index, timeout).await
    }

    /// Once everything the log holds a little after now is applied, rolls back this member's
    /// prepared transactions `orphan` selects that are still prepared: they were never
    /// certified (see `applier::sweep_orphans`).
    pub fn sweep(self: &Arc<Self>, orphan: impl Fn(u64) -> bool + Send + Sync + 'static) {
        let g = Arc::downgrade(self);
        let applied_to = async move {
            tokio::time::sleep(ORPHAN_GRACE).await;
            let Some(g) = g.upgrade() else { return };
            let target = g.certified_index();
            let watermark = g.watermark.clone();
            drop(g);
            let _ = applier::wait_for(&watermark, target, Duration::from_secs(3600)).await;
        };
        tokio::spawn(applier::sweep_orphans(
            self.pool.clone(),
            self.member_id,
            orphan,
            applied_to,
            self.swept.clone(),
        ));
    }

    /// Marks a transaction as prepared by a live session until the guard is dropped.
    pub fn preparing(&self, trx_id: u64) -> PreparingGuard {
        self.preparing.lock().unwrap().insert(trx_id);
        PreparingGuard {
            set: self.preparing.clone(),
            trx_id,
        }
    }

    /// Settles this member's prepared transaction `trx_id` in the background (see
    /// `applier::settle_soon`): its session knows the verdict (or never proposed it) but lost
    /// the connection that held it. `commit_at`: committed, certified at that log index (the
    /// commit is registered for state-transfer copies, see [`super::donor::CopyGate`]);
    /// `None`: rolled back.
    pub fn settle_soon(&self, trx_id: u64, commit_at: Option<u64>) {
        let (pool, gate, member) = (self.pool.clone(), self.copy_gate.clone(), self.member_id);
        tokio::spawn(async move {
            let Some(index) = commit_at else {
                return applier::settle_soon(pool, member, trx_id, false).await;
            };
            let _commit = gate.commit_guard().await;
            applier::settle_soon(pool, member, trx_id, true).await;
            gate.committed(index);
        });
    }

    /// The index of the last certified entry that was not a watermark report.
    pub(super) fn last_substantive(&self) -> u64 {
        self.machine.last_substantive()
    }

    /// mysqld's binlog end now: once the tap has read this far, it has seen every transaction
    /// mysqld prepared or committed before this call.
    pub async fn binlog_end(&self) -> Result<super::tap::Position, GroupError> {
        // A loaded mysqld may refuse a new side connection for a moment: try a few times.
        let mut attempt = 0;
        loop {
            let r = async {
                let mut c = self
                    .pool
                    .get_conn()
                    .await
                    .map_err(|e| GroupError::Binlog(e.to_string()))?;
                super::tap::current_position(&mut c)
                    .await
                    .map_err(|e| GroupError::Binlog(e.to_string()))
            }
            .await;
            match r {
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "reading mysqld's binlog end failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                r => return r,
            }
        }
    }

    /// Waits until the local mysqld has applied everything up to `index`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> bool {
        applier::wait_for(&self.watermark, index, timeout).await
    }

    pub async fn shutdown(self: Arc<Self>) {
        // Tasks that hold the group for a moment (a watermark report, a request handler) may
        // still have it: wait for them rather than leaving the Raft core running (it went on
        // sending heartbeats, and a test's lone member never lost its leader).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut this = self;
        loop {
            match Arc::try_unwrap(this) {
                Ok(g) => return g.consensus.shutdown().await,
                Err(still) if std::time::Instant::now() < deadline => {
                    this = still;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(still) => {
                    tracing::warn!(
                        holders = Arc::strong_count(&still),
                        "group shutdown: the group is still in use; its Raft core stops with the last holder"
                    );
                    return;
                }
            }
        }
    }
}

/// The first transaction id of this process: the wall clock in microseconds. The applier
/// matches this member's own entries to their sessions by id, so ids must not repeat across
/// restarts: after a crash, the log still holds entries of the previous process, and a new
/// session reusing one of their ids would be taken for that entry's session (and the entry
/// would not be replayed). Ids then count up by one per transaction, which stays below the
/// next process's start unless the clock goes back or a process runs above a million
/// transactions a second.
fn first_trx_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(1)
        .max(1)
}

/// GR's default step for auto-increment values: room for members to join later.
const AUTO_INCREMENT_STEP: u64 = 7;

/// (increment, offset) for member `me`: as MySQL Group Replication, a step of 7 and the
/// member id as offset, so members with ids 1 to 7 (also ones added later) never generate the
/// same value; a larger id widens the step to it.
fn auto_increment_for(me: u64, members: &BTreeMap<u64, String>) -> (u64, u64) {
    let largest = members.keys().copied().chain([me]).max().unwrap_or(1);
    let increment = AUTO_INCREMENT_STEP.max(largest).min(65_535);
    (increment, (me.saturating_sub(1) % increment) + 1)
}

/// Each member hands out its own auto-increment values (see [`auto_increment_for`]).
async fn configure_auto_increment(pool: &mysql_async::Pool, members: u64, position: u64) -> Result<(), GroupError> {
    use mysql_async::prelude::Queryable;
    let mut c = pool.get_conn().await?;
    c.query_drop(format!(
        "SET GLOBAL auto_increment_increment = {members}, auto_increment_offset = {position}"
    ))
    .await?;
    Ok(())
}

/// A session's report to the applier about its own committed transaction.
pub fn report(tx: tokio::sync::oneshot::Sender<LocalOutcome>, outcome: LocalOutcome) {
    let _ = tx.send(outcome);
}

#[cfg(test)]
mod tests {
    #[test]
    fn auto_increment_steps_leave_room_for_new_members() {
        let m = |ids: &[u64]| ids.iter().map(|&i| (i, String::new())).collect();
        let cases: &[(u64, &[u64], (u64, u64))] = &[
            (1, &[1, 2, 3], (7, 1)),
            (3, &[1, 2, 3], (7, 3)),
            (4, &[1, 2, 3, 4], (7, 4)),
            (7, &[1, 7], (7, 7)),
            (9, &[1, 2, 9], (9, 9)),
            (2, &[2], (7, 2)),
        ];
        for (me, ids, want) in cases {
            assert_eq!(super::auto_increment_for(*me, &m(ids)), *want, "member {me} of {ids:?}");
        }
    }

    #[test]
    fn a_later_process_starts_above_an_earlier_ones_ids() {
        let earlier = super::first_trx_id();
        // The earlier process handed out 500 ids in its lifetime (at most 1 per µs).
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(super::first_trx_id() > earlier + 500);
    }
}
