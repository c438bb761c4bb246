//! Single-primary mode on a member: who the primary is (from the replicated
//! [`Topology`]), whether this member may run writes now, the leader's keeper that elects a
//! primary when there is none or it is lost, planned switchover and mode changes, and
//! mysqld's `read_only` on secondaries.
//!
//! ```text
//!  topology entry (log) ──► certifier (fence: only the named primary commits after it)
//!                      └──► this member: secondary ──► read_only=ON, writes sent on
//!                                        primary   ──► writes once applied through the entry
//! ```
//!
//! The keeper runs on the Raft leader only: it is the one member whose proposals the others
//! follow, so two keepers never elect at once; a keeper that loses leadership mid-way just
//! proposes a change the next leader's keeper may revise.

use std::sync::Weak;
use std::time::Duration;

use super::group::{Group, GroupError};
use super::members::MemberRow;
use super::topology::{Mode, Topology, TopologyChange};
use super::txn::Entry;

/// How often the keeper looks at the primary's health.
const KEEPER_EVERY: Duration = Duration::from_millis(250);
/// How long the primary must look lost before another member is elected: two or three of
/// the views of the others, refreshed every 0.5 s ([`super::members::POLL_EVERY`]). With the
/// Raft election (0.75-1.5 s) when the primary led, writes resume within about 3 s of a
/// primary's loss (issue 12 asks for 5 s).
const LOST_AFTER: Duration = Duration::from_millis(1000);

/// A member the keeper may elect.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: u64,
    pub state: String,
    pub applied: u64,
    pub weight: u32,
}

impl From<&MemberRow> for Candidate {
    fn from(r: &MemberRow) -> Self {
        Candidate {
            id: r.id,
            state: r.state.clone(),
            applied: r.applied,
            weight: r.weight,
        }
    }
}

/// Picks the new primary: an ONLINE member if there is one (else a RECOVERING one, which
/// is only catching up), the most up-to-date, then the heaviest, then the lowest id.
/// `exclude` is the primary being replaced.
pub fn elect(candidates: &[Candidate], exclude: Option<u64>) -> Option<u64> {
    let usable = |state: &str| {
        candidates
            .iter()
            .filter(|c| Some(c.id) != exclude && c.state == state)
            .max_by(|a, b| (a.applied, a.weight).cmp(&(b.applied, b.weight)).then(b.id.cmp(&a.id)))
            .map(|c| c.id)
    };
    usable("ONLINE").or_else(|| usable("RECOVERING"))
}

/// Member states in which a primary is lost: it cannot take writes.
fn lost(state: &str) -> bool {
    matches!(state, "UNREACHABLE" | "ERROR" | "OFFLINE" | "NO_QUORUM")
}

/// Learns the group's commit index once after this member starts (a read barrier through
/// the leader, retried until there is one), which also waits until this member's certified
/// topology has caught up with it. A member that was primary when it stopped restarts with
/// that topology: without this it took writes again (and set mysqld writable) until it had
/// applied the entry that replaced it. Those writes were fenced by certification, but their
/// prepared transactions held rows the applier needed, and the member took tens of seconds
/// to catch up (seen in the single-primary Jepsen run).
pub(super) async fn learn_startup_barrier(group: Weak<Group>) {
    loop {
        let Some(g) = group.upgrade() else { return };
        match g.read_index().await {
            Ok(index) => {
                tracing::debug!(index, "learnt the group's commit index after starting");
                g.startup_barrier.send_replace(index);
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "no read barrier yet; trying again");
                drop(g);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Why a member cannot run a write itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotWriter {
    /// Single-primary mode, and another member is the primary.
    Secondary { primary: Option<u64> },
    /// This member was made primary and is still applying the log up to the change.
    CatchingUp { through: u64 },
}

impl Group {
    pub(super) fn topology_rx(&self) -> tokio::sync::watch::Receiver<super::topology::Topology> {
        self.topology.clone()
    }

    pub(super) fn topology_rx_ref(&self) -> &tokio::sync::watch::Receiver<super::topology::Topology> {
        &self.topology
    }

    pub(super) fn config_mode(&self) -> super::topology::Mode {
        self.config_mode
    }

    /// Election weight (single-primary mode).
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// Where this member's clients connect, as the other members see it.
    pub fn sql_address(&self) -> String {
        self.sql_address.lock().unwrap().clone()
    }

    /// Sets the client address announced to the other members (unless the config set one).
    pub fn announce_sql_address(&self, listening: std::net::SocketAddr) {
        let mut a = self.sql_address.lock().unwrap();
        if !a.is_empty() {
            return;
        }
        let host = if listening.ip().is_unspecified() {
            // The peer address names a host the other members reach.
            self.own_address()
                .rsplit_once(':')
                .map(|(h, _)| h.to_string())
                .unwrap_or_else(|| "127.0.0.1".into())
        } else {
            match listening.ip() {
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            }
        };
        *a = format!("{host}:{}", listening.port());
    }

    /// The topology in force after the entries certified here.
    pub fn topology(&self) -> Topology {
        self.topology_rx().borrow().clone()
    }

    /// The group's mode: the log's, or the configured one while the log has none.
    pub fn mode(&self) -> Mode {
        let t = self.topology();
        if t.since == 0 {
            self.config_mode()
        } else {
            t.mode
        }
    }

    /// The primary (single-primary mode), if one has been elected.
    /// Returns once the group has named a primary other than `member` (or left
    /// single-primary mode); never while `member` stays primary.
    pub async fn primary_moved_from(&self, member: u64) {
        let mut rx = self.topology_rx();
        loop {
            {
                let t = rx.borrow_and_update();
                if t.mode != Mode::SinglePrimary || t.primary != Some(member) {
                    return;
                }
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    pub fn primary(&self) -> Option<u64> {
        match self.mode() {
            Mode::SinglePrimary => self.topology().primary,
            Mode::MultiPrimary => None,
        }
    }

    /// True when this member does not take writes of its own (single-primary secondary).
    pub fn is_secondary(&self) -> bool {
        self.mode() == Mode::SinglePrimary && self.primary() != Some(self.member_id)
    }

    /// Whether this member may run a client's write itself now.
    pub fn writer_check(&self) -> Result<(), NotWriter> {
        let rx = self.topology_rx_ref();
        let t = rx.borrow();
        let mode = if t.since == 0 { self.config_mode() } else { t.mode };
        if mode == Mode::MultiPrimary {
            return Ok(());
        }
        if t.primary != Some(self.member_id) {
            return Err(NotWriter::Secondary { primary: t.primary });
        }
        // A member restarted with itself as primary in its topology may have been replaced
        // while it was down: it writes only once it has learnt the group's commit index
        // (which brings its topology up to date) and applied the log through it.
        let through = t.since.max(*self.startup_barrier.borrow());
        if self.watermark() < through {
            return Err(NotWriter::CatchingUp { through });
        }
        Ok(())
    }

    /// Waits (up to `timeout`) until this member may write or is a secondary with a known
    /// primary; returns the last check.
    pub async fn settle_writer(&self, timeout: Duration) -> Result<(), NotWriter> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut topology = self.topology_rx();
        loop {
            let check = self.writer_check();
            match &check {
                Ok(()) | Err(NotWriter::Secondary { primary: Some(_) }) => return check,
                Err(NotWriter::CatchingUp { through }) => {
                    let through = *through;
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() {
                        return check;
                    }
                    // Applied through it, or the topology or the startup barrier changed
                    // (this member may have been replaced, or `through` was not known yet).
                    let mut barrier = self.startup_barrier.subscribe();
                    tokio::select! {
                        _ = self.wait_applied(through, left) => {}
                        r = topology.changed() => if r.is_err() { return self.writer_check() },
                        _ = barrier.changed() => {}
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return self.writer_check();
                    }
                }
                Err(NotWriter::Secondary { primary: None }) => {
                    if tokio::time::timeout_at(deadline, topology.changed()).await.is_err() {
                        return self.writer_check();
                    }
                }
            }
        }
    }

    /// The primary's id and client address, as this member last heard it.
    pub fn primary_sql_address(&self) -> Option<(u64, String)> {
        let p = self.primary()?;
        let addr = self
            .members()
            .into_iter()
            .find(|r| r.id == p)
            .map(|r| r.sql_address)
            .filter(|a| !a.is_empty())?;
        Some((p, addr))
    }

    /// Proposes a topology change; its log index.
    async fn propose_topology(&self, change: TopologyChange) -> Result<u64, GroupError> {
        tracing::info!(mode = change.mode.name(), primary = ?change.primary, reason = %change.reason, "proposing a topology change");
        let (index, _) = self.propose(&Entry::Topology(change)).await?;
        Ok(index)
    }

    /// Planned switchover (`GRPROXY SET PRIMARY <id>`): the log fences the old primary at
    /// the change; the call returns once the new primary has applied everything up to it
    /// (it takes writes from then on).
    pub async fn switch_primary(&self, to: u64, timeout: Duration) -> Result<String, String> {
        if self.mode() != Mode::SinglePrimary {
            return Err("the group is in multi-primary mode; use GRPROXY SET MODE SINGLE-PRIMARY".into());
        }
        self.make_primary(to, Mode::SinglePrimary, format!("switchover to member {to}"), timeout)
            .await
    }

    /// Online mode change (`GRPROXY SET MODE ...`). To single-primary: `primary`, or the
    /// member the election rule picks.
    pub async fn set_mode(&self, mode: Mode, primary: Option<u64>, timeout: Duration) -> Result<String, String> {
        match mode {
            Mode::MultiPrimary => {
                let change = TopologyChange {
                    mode,
                    primary: None,
                    reason: "mode change to multi-primary".into(),
                };
                let index = self.propose_topology(change).await.map_err(|e| e.to_string())?;
                Ok(format!("the group is multi-primary from log index {index}"))
            }
            Mode::SinglePrimary => {
                let to = match primary {
                    Some(p) => p,
                    None => {
                        let rows = self.members();
                        let c: Vec<Candidate> = rows.iter().map(Candidate::from).collect();
                        elect(&c, None).ok_or("no ONLINE member to make primary")?
                    }
                };
                self.make_primary(to, mode, "mode change to single-primary".into(), timeout)
                    .await
            }
        }
    }

    async fn make_primary(&self, to: u64, mode: Mode, reason: String, timeout: Duration) -> Result<String, String> {
        // A member just started (or just heard of) may not have reported yet: wait a little.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let row = self
                .members()
                .into_iter()
                .find(|r| r.id == to)
                .ok_or_else(|| format!("member {to} is not in the group"))?;
            if row.state == "ONLINE" {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "member {to} is {}; only an ONLINE member can become primary",
                    row.state
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let change = TopologyChange {
            mode,
            primary: Some(to),
            reason,
        };
        let index = self.propose_topology(change).await.map_err(|e| e.to_string())?;
        self.wait_member_applied(to, index, timeout).await?;
        Ok(format!("member {to} is the primary from log index {index}"))
    }

    /// Waits until member `id` reports it applied `index`.
    async fn wait_member_applied(&self, id: u64, index: u64, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let applied = if id == self.member_id {
                self.watermark()
            } else {
                self.peer_reports(super::members::ASK_TIMEOUT)
                    .await
                    .into_iter()
                    .find(|(m, _, _)| *m == id)
                    .and_then(|(_, _, r)| r.ok())
                    .and_then(|(b, _)| bincode::deserialize::<super::members::Report>(&b).ok())
                    .map_or(0, |r| r.applied)
            };
            if applied >= index {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "member {id} is primary from log index {index} but had applied only {applied} after {timeout:?}; \
                     it takes writes once it has"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The keeper: on the Raft leader, elects a primary when single-primary mode has none, or
/// when the primary is lost or left the group.
pub async fn keeper(group: Weak<Group>) {
    let mut lost_since: Option<(u64, tokio::time::Instant)> = None;
    loop {
        tokio::time::sleep(KEEPER_EVERY).await;
        let Some(g) = group.upgrade() else { return };
        if g.consensus_status().leader != Some(g.member_id) || g.mode() != Mode::SinglePrimary {
            lost_since = None;
            continue;
        }
        let t = g.topology();
        let rows = g.members();
        let why = match t.primary {
            _ if t.since == 0 => Some("the group starts in single-primary mode".to_string()),
            None => Some("the group has no primary".to_string()),
            Some(p) => match rows.iter().find(|r| r.id == p) {
                None => Some(format!("primary {p} left the group")),
                Some(r) if lost(&r.state) => {
                    let now = tokio::time::Instant::now();
                    let since = match lost_since {
                        Some((id, at)) if id == p => at,
                        _ => {
                            lost_since = Some((p, now));
                            now
                        }
                    };
                    // A member that has just become leader (the old one was the primary, killed)
                    // need not start the clock: its view says how long the primary has been silent.
                    let silent = r.last_contact_s.is_some_and(|s| s >= LOST_AFTER.as_secs_f64());
                    (silent || now.duration_since(since) >= LOST_AFTER).then(|| format!("primary {p} is {}", r.state))
                }
                Some(_) => {
                    lost_since = None;
                    None
                }
            },
        };
        let Some(why) = why else { continue };
        let candidates: Vec<Candidate> = rows.iter().map(Candidate::from).collect();
        let Some(new) = elect(&candidates, t.primary.filter(|_| t.since > 0)) else {
            tracing::warn!(reason = %why, "no member can become primary");
            continue;
        };
        let change = TopologyChange {
            mode: Mode::SinglePrimary,
            primary: Some(new),
            reason: format!("election: {why}"),
        };
        match g.propose_topology(change).await {
            Ok(index) => {
                tracing::warn!(primary = new, index, reason = %why, "elected member {new} primary");
                lost_since = None;
            }
            Err(e) => tracing::warn!(error = %e, "could not propose the new primary"),
        }
    }
}

/// Keeps mysqld's `read_only` in step with this member's role: ON on a single-primary
/// secondary (clients that reach mysqld directly cannot write; grproxy's service account
/// needs READ_ONLY ADMIN to replay), OFF on a primary that has caught up and in
/// multi-primary mode once the log says so.
pub async fn enforce_read_only(group: Weak<Group>, pool: mysql_async::Pool) {
    use mysql_async::prelude::Queryable;
    // What was last set, and how many ticks ago: set again now and then, since a restarted
    // mysqld starts with its configured value.
    let mut set: Option<bool> = None;
    let mut logged: Option<bool> = None;
    let mut ticks = 0u32;
    let mut topology = match group.upgrade() {
        Some(g) => g.topology_rx(),
        None => return,
    };
    loop {
        let (want, catching_up) = {
            let Some(g) = group.upgrade() else { return };
            let t = g.topology();
            match g.mode() {
                // Untouched until the log holds a mode: the operator's setting stands.
                Mode::MultiPrimary if t.since == 0 => (None, false),
                Mode::MultiPrimary => (Some(false), false),
                Mode::SinglePrimary => {
                    let check = g.writer_check();
                    (Some(check.is_err()), matches!(check, Err(NotWriter::CatchingUp { .. })))
                }
            }
        };
        ticks += 1;
        if ticks >= 2 {
            ticks = 0;
            set = None;
        }
        if want.is_some() && want != set {
            let on = want.unwrap_or_default();
            // `read_only = ON` takes mysqld's global read lock, and while it waits for it
            // every new write waits behind it, the applier's replays too: if what it waits
            // for waits on the applier, both stop. A second, then the next tick tries again.
            let sql = format!(
                "SET SESSION lock_wait_timeout = 1; SET GLOBAL read_only = {}",
                if on { "ON" } else { "OFF" }
            );
            let r = match pool.get_conn().await {
                Ok(mut c) => c.query_drop(&sql).await,
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => {
                    if logged != want {
                        tracing::info!(read_only = on, "mysqld read_only set for this member's role");
                        logged = want;
                    }
                    set = want;
                }
                Err(e) => tracing::warn!(error = %e, "could not set mysqld's read_only"),
            }
        }
        let pause = if catching_up || (want.is_some() && want != set) {
            Duration::from_millis(50)
        } else {
            Duration::from_secs(1)
        };
        tokio::select! {
            r = topology.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: u64, state: &str, applied: u64, weight: u32) -> Candidate {
        Candidate {
            id,
            state: state.into(),
            applied,
            weight,
        }
    }

    #[test]
    fn election_prefers_online_then_caught_up_then_weight_then_low_id() {
        let cases: Vec<(Vec<Candidate>, Option<u64>, Option<u64>)> = vec![
            (vec![], None, None),
            (vec![c(1, "ONLINE", 5, 50)], None, Some(1)),
            (vec![c(1, "ONLINE", 5, 50)], Some(1), None),
            // most applied wins over weight
            (vec![c(1, "ONLINE", 5, 90), c(2, "ONLINE", 6, 10)], None, Some(2)),
            // then weight
            (vec![c(1, "ONLINE", 6, 10), c(2, "ONLINE", 6, 90)], None, Some(2)),
            // then the lowest id
            (vec![c(3, "ONLINE", 6, 50), c(2, "ONLINE", 6, 50)], None, Some(2)),
            // ONLINE before a more caught-up RECOVERING member
            (vec![c(1, "RECOVERING", 9, 50), c(2, "ONLINE", 1, 50)], None, Some(2)),
            // RECOVERING only if nothing is ONLINE
            (
                vec![c(1, "RECOVERING", 9, 50), c(2, "UNREACHABLE", 10, 50)],
                None,
                Some(1),
            ),
            // never an unreachable, failed or removed member, nor the one being replaced
            (
                vec![c(1, "ONLINE", 9, 50), c(2, "ERROR", 10, 50), c(3, "OFFLINE", 10, 50)],
                Some(1),
                None,
            ),
        ];
        for (cands, exclude, want) in cases {
            assert_eq!(elect(&cands, exclude), want, "{cands:?} excluding {exclude:?}");
        }
    }

    #[test]
    fn lost_states() {
        for (s, l) in [
            ("ONLINE", false),
            ("RECOVERING", false),
            ("UNREACHABLE", true),
            ("ERROR", true),
            ("OFFLINE", true),
            ("NO_QUORUM", true),
        ] {
            assert_eq!(lost(s), l, "{s}");
        }
    }
}
