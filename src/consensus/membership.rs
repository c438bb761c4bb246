//! Online membership changes (openraft's joint consensus) and the services peers offer each
//! other beyond Raft.
//!
//! Adding a member: the leader lets the new member's certificate in, adds it as a learner and
//! waits until its log caught up, then makes it a voter (joint configuration, then the new
//! uniform one). Removing: the member leaves the voters and the node list. Any member takes a
//! change and forwards it to the leader. The certifier learns of every change at the same
//! place in the log on every member (`Machine::members_changed`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use openraft::{BasicNode, ChangeMembers};
use serde::{Deserialize, Serialize};

use crate::consensus::peer_tls::PeerTlsContext;
use crate::consensus::types::{NodeId, Raft};

/// A change of the group's members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberChange {
    /// Add member `id`, reached by the others at peer address `addr`.
    Add { id: NodeId, addr: String },
    /// Remove member `id`.
    Remove { id: NodeId },
}

impl std::fmt::Display for MemberChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemberChange::Add { id, addr } => write!(f, "add member {id} at {addr}"),
            MemberChange::Remove { id } => write!(f, "remove member {id}"),
        }
    }
}

/// What a member answers other members' application requests with (state transfer, ...).
/// `from` is the member the peer link authenticated as (`None` on plain links, tests only).
pub trait PeerService: Send + Sync + 'static {
    fn call(&self, from: Option<NodeId>, request: Vec<u8>) -> BoxFuture<'static, Result<Vec<u8>, String>>;
}

/// How long a new member may take to catch up with the log before the change is given up.
const CATCH_UP: Duration = Duration::from_secs(60);
/// How long a member waits for the leader to carry out a change it forwarded.
pub(crate) const CHANGE_TIMEOUT: Duration = Duration::from_secs(90);

/// Carries out `change` on this member, which must be the leader. Returns what was done.
pub(crate) async fn apply_on_leader(
    raft: &Raft,
    tls: Option<&PeerTlsContext>,
    change: &MemberChange,
) -> Result<String, String> {
    let membership = raft.metrics().borrow().membership_config.clone();
    let voters: BTreeSet<NodeId> = membership.membership().voter_ids().collect();
    match change {
        MemberChange::Add { id, addr } => {
            if voters.contains(id) {
                return Err(format!("member {id} is already a voting member"));
            }
            if let Some(tls) = tls {
                tls.admit(*id);
            }
            let node = BasicNode { addr: addr.clone() };
            raft.add_learner(*id, node, false).await.map_err(|e| e.to_string())?;
            let caught_up = raft
                .wait(Some(CATCH_UP))
                .metrics(
                    |m| {
                        let last = m.last_log_index;
                        m.replication
                            .as_ref()
                            .and_then(|r| r.get(id))
                            .is_some_and(|matched| matched.map(|l| l.index) >= last)
                    },
                    "new member caught up",
                )
                .await;
            if caught_up.is_err() {
                let _ = raft
                    .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([*id])), false)
                    .await;
                return Err(format!(
                    "member {id} did not catch up with the log within {CATCH_UP:?} (is grproxy running at \
                     {addr} with member_id {id} and a certificate of the group CA?); it was not added"
                ));
            }
            raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([*id])), false)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("member {id} ({addr}) is now a voting member"))
        }
        MemberChange::Remove { id } => {
            let known = membership.membership().get_node(id).is_some();
            if !known {
                return Err(format!("member {id} is not in the group"));
            }
            if voters.len() == 1 && voters.contains(id) {
                return Err(format!("member {id} is the group's last voting member"));
            }
            if voters.contains(id) {
                raft.change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([*id])), false)
                    .await
                    .map_err(|e| e.to_string())?;
            } else {
                raft.change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([*id])), false)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(format!("member {id} was removed from the group"))
        }
    }
}

/// The group's members as this member sees them: every node of the Raft membership, with
/// this member's configured address winning over the one recorded there (it may reach a
/// peer its own way), plus configured members not (or not yet) in the membership.
pub(crate) fn member_addrs(raft: &Raft, configured: &BTreeMap<NodeId, String>) -> BTreeMap<NodeId, String> {
    let membership = raft.metrics().borrow().membership_config.clone();
    let mut out = BTreeMap::new();
    let in_raft: Vec<(NodeId, String)> = membership
        .membership()
        .nodes()
        .map(|(id, n)| (*id, n.addr.clone()))
        .collect();
    let initialized = !in_raft.is_empty();
    for (id, addr) in in_raft {
        out.insert(id, configured.get(&id).cloned().unwrap_or(addr));
    }
    if !initialized {
        out.extend(configured.iter().map(|(k, v)| (*k, v.clone())));
    }
    out
}

/// Keeps the members peers may authenticate as in step with the membership, and logs
/// members joining and leaving.
pub(crate) async fn watch_membership(
    raft: Raft,
    me: NodeId,
    configured: BTreeSet<NodeId>,
    tls: Option<PeerTlsContext>,
) {
    let mut rx = raft.metrics();
    let mut known: Option<BTreeSet<NodeId>> = None;
    loop {
        let nodes: BTreeSet<NodeId> = {
            let m = rx.borrow_and_update();
            m.membership_config.membership().nodes().map(|(id, _)| *id).collect()
        };
        // Metrics change at every applied entry; the membership rarely.
        if !nodes.is_empty() && known.as_ref() != Some(&nodes) {
            if let Some(old) = &known {
                for id in nodes.difference(old) {
                    tracing::info!(id = me, member = id, "member {id} joined the group");
                }
                for id in old.difference(&nodes) {
                    tracing::info!(id = me, member = id, "member {id} left the group");
                }
            }
            if let Some(tls) = &tls {
                tls.set_members(configured.union(&nodes).copied().collect());
            }
            known = Some(nodes);
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Shared slot for the [`PeerService`] the replication layer registers after start-up.
pub(crate) type ServiceSlot = Arc<std::sync::OnceLock<Arc<dyn PeerService>>>;
