//! The member view: what every member knows of every other (`SHOW GRPROXY MEMBERS`), quorum
//! as this member sees it, and one log line per member event.
//!
//! Each member publishes a small report of itself (state, applied and certified index, how
//! long since it was last caught up) that peers fetch over the peer link every
//! [`POLL_EVERY`]; a peer that does not answer within [`ASK_TIMEOUT`] is UNREACHABLE. The
//! view is cached, so `SHOW GRPROXY MEMBERS` answers at once.

use std::collections::BTreeMap;
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::group::Group;
use crate::consensus::Quorum;

/// How often a member asks the others for their reports.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// How long a member waits for one peer's report.
pub const ASK_TIMEOUT: Duration = Duration::from_millis(700);

/// What a member says of itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Report {
    pub state: String,
    /// Why, when the state is not ONLINE.
    pub detail: String,
    pub role: String,
    pub applied: u64,
    pub certified: u64,
    /// Milliseconds since its applied index last reached what it had certified.
    pub behind_ms: u64,
    /// Election weight (single-primary mode).
    pub weight: u32,
    /// Where its clients connect ("host:port"): other members send writes there when it is
    /// the primary.
    pub sql_address: String,
}

/// One row of `SHOW GRPROXY MEMBERS`.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub id: u64,
    pub address: String,
    /// leader, follower, candidate, learner, or empty when unknown.
    pub role: String,
    /// ONLINE, RECOVERING, NO_QUORUM, ERROR or UNREACHABLE.
    pub state: String,
    pub detail: String,
    pub applied: u64,
    /// Entries certified anywhere in the group that this member has not applied.
    pub lag_entries: u64,
    pub lag_seconds: f64,
    /// Seconds since this member last heard from it (0 for itself; empty: never).
    pub last_contact_s: Option<f64>,
    /// Election weight, as it last reported it.
    pub weight: u32,
    /// Its client address, as it last reported it (empty: unknown).
    pub sql_address: String,
    /// PRIMARY or SECONDARY (every member is PRIMARY in multi-primary mode).
    pub member_role: String,
}

/// A member whose applied index has trailed what it certified for longer than this is
/// RECOVERING rather than ONLINE.
const RECOVERING_AFTER: Duration = Duration::from_secs(3);

/// The cached view and what the log lines compare against.
#[derive(Default)]
pub struct View {
    peers: BTreeMap<u64, Peer>,
    caught_up_at: Option<Instant>,
    last_self_state: String,
    last_leader: Option<u64>,
}

struct Peer {
    address: String,
    report: Option<Report>,
    /// The last failure, while the peer does not answer.
    failure: Option<String>,
    last_contact: Option<Instant>,
}

impl View {
    pub fn new() -> Mutex<View> {
        Mutex::new(View::default())
    }
}

/// This member's own report, fresh.
pub fn own_report(g: &Group) -> Report {
    let status = g.consensus_status();
    let (applied, certified) = (g.watermark(), g.certified_index());
    let now = Instant::now();
    let behind = {
        let mut v = g.view.lock().unwrap();
        if applied >= certified || v.caught_up_at.is_none() {
            v.caught_up_at = Some(now);
        }
        now.duration_since(v.caught_up_at.unwrap_or(now))
    };
    let (state, detail) = if let Some(p) = g.recovering() {
        ("RECOVERING".to_string(), p)
    } else if let Some(e) = g.error_state() {
        ("ERROR".to_string(), e)
    } else if let q @ (Quorum::Lost(_) | Quorum::Removed) = g.quorum() {
        let state = if q == Quorum::Removed { "OFFLINE" } else { "NO_QUORUM" };
        (state.to_string(), q.refusal().unwrap_or_default())
    } else if behind > RECOVERING_AFTER {
        (
            "RECOVERING".to_string(),
            format!("applying the log: {} entries behind", certified.saturating_sub(applied)),
        )
    } else {
        ("ONLINE".to_string(), String::new())
    };
    Report {
        state,
        detail,
        role: status.role.to_string(),
        applied,
        certified,
        behind_ms: behind.as_millis() as u64,
        weight: g.weight(),
        sql_address: g.sql_address(),
    }
}

/// Republishes this member's report each time its applied index moves, so a peer's `Status`
/// request (consistency AFTER) sees the applied index of the moment.
pub async fn publish_on_apply(group: Weak<Group>, mut applied: tokio::sync::watch::Receiver<u64>) {
    while applied.changed().await.is_ok() {
        let Some(g) = group.upgrade() else { return };
        g.publish_report(bincode::serialize(&own_report(&g)).unwrap_or_default());
    }
}

/// Every member's row: this one fresh, the others from their last reports.
pub fn rows(g: &Group) -> Vec<MemberRow> {
    let me = own_report(g);
    let v = g.view.lock().unwrap();
    let top = v
        .peers
        .values()
        .filter_map(|p| p.report.as_ref().map(|r| r.certified))
        .chain([me.certified])
        .max()
        .unwrap_or(0);
    // Reports are up to a poll old; who leads is what this member knows now.
    let leader = g.consensus_status().leader;
    let role = |id: u64, r: &Report| match leader {
        Some(l) if l == id => "leader".to_string(),
        _ if r.role == "leader" => "follower".to_string(),
        _ => r.role.clone(),
    };
    let row = |id: u64, address: String, r: &Report, contact: Option<f64>| MemberRow {
        id,
        address,
        role: role(id, r),
        state: r.state.clone(),
        detail: r.detail.clone(),
        applied: r.applied,
        lag_entries: top.saturating_sub(r.applied),
        lag_seconds: r.behind_ms as f64 / 1000.0,
        last_contact_s: contact,
        weight: r.weight,
        sql_address: r.sql_address.clone(),
        member_role: String::new(),
    };
    let topology = g.topology();
    let mut out = vec![row(g.member_id, g.own_address(), &me, Some(0.0))];
    for (&id, p) in &v.peers {
        let contact = p.last_contact.map(|t| t.elapsed().as_secs_f64());
        match (&p.failure, &p.report) {
            (None, Some(r)) => out.push(row(id, p.address.clone(), r, contact)),
            (None, None) => out.push(MemberRow {
                id,
                address: p.address.clone(),
                role: String::new(),
                state: "RECOVERING".into(),
                detail: "starting: no report yet".into(),
                applied: 0,
                lag_entries: top,
                lag_seconds: 0.0,
                last_contact_s: contact,
                weight: 0,
                sql_address: String::new(),
                member_role: String::new(),
            }),
            (failure, last) => out.push(MemberRow {
                id,
                address: p.address.clone(),
                role: String::new(),
                state: "UNREACHABLE".into(),
                detail: failure.clone().unwrap_or_else(|| "not asked yet".into()),
                applied: last.as_ref().map_or(0, |r| r.applied),
                lag_entries: top.saturating_sub(last.as_ref().map_or(0, |r| r.applied)),
                lag_seconds: contact.unwrap_or(0.0),
                last_contact_s: contact,
                weight: last.as_ref().map_or(0, |r| r.weight),
                sql_address: last.as_ref().map(|r| r.sql_address.clone()).unwrap_or_default(),
                member_role: String::new(),
            }),
        }
    }
    for r in &mut out {
        r.member_role = if topology.is_secondary(r.id) {
            "SECONDARY"
        } else {
            "PRIMARY"
        }
        .to_string();
    }
    out.sort_by_key(|r| r.id);
    out
}

/// Publishes this member's report and polls the others until the group is gone; logs each
/// change of a member's state, of this member's quorum and of the leader.
pub async fn run(group: Weak<Group>) {
    loop {
        let Some(g) = group.upgrade() else { return };
        let me = own_report(&g);
        g.publish_report(bincode::serialize(&me).unwrap_or_default());
        log_own_changes(&g, &me);
        let answers = g.peer_reports(ASK_TIMEOUT).await;
        {
            let mut v = g.view.lock().unwrap();
            // Members removed from the group leave the view.
            let current: std::collections::BTreeSet<u64> = answers.iter().map(|(id, _, _)| *id).collect();
            v.peers.retain(|id, _| current.contains(id));
            for (id, address, answer) in answers {
                // A peer that has just started has no report yet: it is listed, as starting.
                if matches!(&answer, Ok((b, _)) if b.is_empty()) {
                    v.peers.entry(id).or_insert_with(|| Peer {
                        address: address.clone(),
                        report: None,
                        failure: None,
                        last_contact: Some(Instant::now()),
                    });
                    continue;
                }
                let decoded = answer
                    .and_then(|(b, _)| bincode::deserialize::<Report>(&b).map_err(|e| format!("bad report: {e}")));
                let p = v.peers.entry(id).or_insert_with(|| Peer {
                    address: address.clone(),
                    report: None,
                    failure: None,
                    last_contact: None,
                });
                let before = peer_state(p);
                match decoded {
                    Ok(r) => {
                        p.report = Some(r);
                        p.failure = None;
                        p.last_contact = Some(Instant::now());
                    }
                    Err(why) => p.failure = Some(why),
                }
                let after = peer_state(p);
                if before != after {
                    log_peer_change(id, &address, &before, &after, p);
                }
            }
        }
        drop(g);
        tokio::time::sleep(POLL_EVERY).await;
    }
}

fn peer_state(p: &Peer) -> String {
    match (&p.failure, &p.report) {
        (None, Some(r)) => r.state.clone(),
        (Some(_), _) => "UNREACHABLE".into(),
        (None, None) => String::new(),
    }
}

fn log_peer_change(id: u64, address: &str, before: &str, after: &str, p: &Peer) {
    let detail = match (&p.failure, &p.report) {
        (Some(f), _) => f.clone(),
        (None, Some(r)) => r.detail.clone(),
        _ => String::new(),
    };
    match after {
        "ONLINE" => tracing::info!(member = id, %address, was = before, "member {id} is ONLINE"),
        "RECOVERING" => tracing::info!(member = id, %address, %detail, "member {id} is RECOVERING"),
        _ => tracing::warn!(member = id, %address, was = before, %detail, "member {id} is {after}"),
    }
}

fn log_own_changes(g: &Group, me: &Report) {
    let leader = g.consensus_status().leader;
    let mut v = g.view.lock().unwrap();
    if v.last_self_state != me.state {
        match me.state.as_str() {
            "ONLINE" if !v.last_self_state.is_empty() => {
                tracing::info!(was = %v.last_self_state, "this member is ONLINE")
            }
            "ONLINE" => {}
            "RECOVERING" => tracing::info!(detail = %me.detail, "this member is RECOVERING"),
            _ => tracing::warn!(detail = %me.detail, "this member is {}", me.state),
        }
        v.last_self_state = me.state.clone();
    }
    if v.last_leader != leader {
        match leader {
            Some(l) => tracing::info!(leader = l, "member {l} leads the group"),
            None => tracing::warn!("the group has no leader"),
        }
        v.last_leader = leader;
    }
}
