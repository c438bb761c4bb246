//! `/health`: can this member take the traffic its role allows?
//!
//! - a draining proxy (SIGTERM received): no, so load balancers move clients elsewhere;
//! - mysqld must take a login of the service account (a fresh connection, not a pooled one:
//!   a pooled connection can outlive a mysqld that no longer accepts anyone);
//! - a group member must be ONLINE (not in ERROR state) and know a Raft leader: without
//!   one, commits cannot be ordered (no quorum, an election under way).
//!
//! The decision is a pure function over what was observed ([`decide`]); [`Prober`] gathers
//! the observations, with the mysqld check cached for a second so that frequent probes from
//! several balancers cost mysqld one login a second at most.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use crate::frontend::Context;

/// What a group member reports about itself (from its `SHOW GRPROXY STATUS` rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    /// `member_state`: `ONLINE` or `ERROR: <why>`.
    pub member_state: String,
    /// `raft_leader_id`, empty when no leader is known.
    pub leader: String,
    /// `raft_role`.
    pub role: String,
}

impl GroupView {
    pub fn from_rows(rows: &[(&'static str, String)]) -> Self {
        let get = |name: &str| {
            rows.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        GroupView {
            member_state: get("member_state"),
            leader: get("raft_leader_id"),
            role: get("raft_role"),
        }
    }
}

/// 200 with a one-line summary, or 503 with the reason.
pub fn decide(draining: bool, mysqld: &Result<(), String>, group: Option<&GroupView>) -> Result<String, String> {
    if draining {
        return Err("draining: grproxy is shutting down".into());
    }
    if let Err(e) = mysqld {
        return Err(format!("mysqld unreachable: {e}"));
    }
    match group {
        None => Ok("OK: proxy, mysqld reachable".into()),
        Some(g) if g.member_state != "ONLINE" => Err(format!("member state {}", g.member_state)),
        Some(g) if g.leader.is_empty() => Err(format!(
            "no Raft leader known (role {}): no quorum or an election under way",
            g.role
        )),
        Some(g) => Ok(format!(
            "OK: group member ONLINE, role {}, leader {}, mysqld reachable",
            g.role, g.leader
        )),
    }
}

/// How long a mysqld check result is reused.
const CACHE_FOR: Duration = Duration::from_secs(1);

/// Runs the checks for one proxy.
pub struct Prober {
    ctx: Arc<Context>,
    last: Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Prober {
    pub fn new(ctx: Arc<Context>) -> Self {
        Prober {
            ctx,
            last: Mutex::new(None),
        }
    }

    pub async fn check(&self) -> Result<String, String> {
        let group = self.ctx.group.as_ref().map(|g| GroupView::from_rows(&g.status()));
        let mysqld = self.mysqld().await;
        decide(self.ctx.is_draining(), &mysqld, group.as_ref())
    }

    async fn mysqld(&self) -> Result<(), String> {
        if let Some((at, r)) = &*self.last.lock().unwrap() {
            if at.elapsed() < CACHE_FOR {
                return r.clone();
            }
        }
        // mysql_async futures must not be dropped mid-exchange: the check runs in a task of
        // its own, which finishes even when this probe gives up waiting for it.
        let opts = self.ctx.side.opts();
        let addr = self.ctx.settings.backend.to_string();
        let timeout = self.ctx.settings.connect_timeout;
        let task = tokio::spawn(async move {
            let mut conn = mysql_async::Conn::new(opts).await?;
            conn.query_drop("DO 1").await?;
            conn.disconnect().await
        });
        let r = match tokio::time::timeout(timeout, task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(format!("cannot log in to mysqld at {addr}: {e}")),
            Ok(Err(e)) => Err(format!("checking mysqld at {addr}: {e}")),
            Err(_) => Err(format!(
                "mysqld at {addr} did not answer within {} ms",
                timeout.as_millis()
            )),
        };
        *self.last.lock().unwrap() = Some((Instant::now(), r.clone()));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(state: &str, leader: &str) -> GroupView {
        GroupView {
            member_state: state.into(),
            leader: leader.into(),
            role: if leader.is_empty() { "candidate" } else { "follower" }.into(),
        }
    }

    /// (draining, mysqld check, group view, what `decide` answers: a prefix).
    type Case<'a> = (
        bool,
        &'a Result<(), String>,
        Option<&'a GroupView>,
        Result<&'a str, &'a str>,
    );

    #[test]
    fn decisions() {
        let up = Ok(());
        let down: Result<(), String> = Err("cannot log in to mysqld at 127.0.0.1:1: refused".into());
        let online = member("ONLINE", "2");
        let cases: &[Case] = &[
            (false, &up, None, Ok("OK: proxy")),
            (
                false,
                &down,
                None,
                Err("mysqld unreachable: cannot log in to mysqld at 127.0.0.1:1"),
            ),
            (true, &up, None, Err("draining")),
            (
                false,
                &up,
                Some(&online),
                Ok("OK: group member ONLINE, role follower, leader 2"),
            ),
            (
                false,
                &up,
                Some(&member("ERROR: the applier stopped", "2")),
                Err("member state ERROR: the applier stopped"),
            ),
            (
                false,
                &up,
                Some(&member("ONLINE", "")),
                Err("no Raft leader known (role candidate)"),
            ),
            (false, &down, Some(&online), Err("mysqld unreachable")),
            (true, &up, Some(&online), Err("draining")),
        ];
        for (draining, mysqld, group, want) in cases {
            let got = decide(*draining, mysqld, *group);
            match (want, &got) {
                (Ok(w), Ok(g)) | (Err(w), Err(g)) => assert!(g.starts_with(w), "{got:?} vs {want:?}"),
                _ => panic!("{got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn view_from_status_rows() {
        let rows = vec![
            ("member_state", "ONLINE".to_string()),
            ("raft_role", "leader".to_string()),
            ("raft_leader_id", "1".to_string()),
        ];
        assert_eq!(
            GroupView::from_rows(&rows),
            GroupView {
                member_state: "ONLINE".into(),
                leader: "1".into(),
                role: "leader".into()
            }
        );
    }
}
