//! Observing the group: `SHOW GRPROXY STATUS` through each proxy (leader, applied index),
//! CHECKSUM TABLE on each mysqld, and waiting until the members have converged.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;

use super::cluster::{Cluster, MEMBERS, TABLES};

/// CHECKSUM TABLE rows: (table, checksum).
pub type Checksums = Vec<(String, Option<i64>)>;

/// A member's view of the group, from `SHOW GRPROXY STATUS`.
pub type Status = BTreeMap<String, String>;

impl Cluster {
    /// `SHOW GRPROXY STATUS` through member `m`, or None if it does not answer in 3 s.
    pub async fn status(&self, m: usize) -> Option<Status> {
        let opts = self.opts(m);
        let q = async move {
            let mut c = mysql_async::Conn::new(opts).await.ok()?;
            let rows: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.ok()?;
            let _ = c.disconnect().await;
            Some(rows.into_iter().collect::<Status>())
        };
        tokio::time::timeout(Duration::from_secs(3), q).await.ok().flatten()
    }

    pub async fn statuses(&self) -> Vec<Option<Status>> {
        let (a, b, c) = tokio::join!(self.status(0), self.status(1), self.status(2));
        vec![a, b, c]
    }

    /// The member that is Raft leader: one that says it leads (the highest term if two do), or
    /// else the one most members name.
    pub async fn leader(&self) -> Option<usize> {
        let st = self.statuses().await;
        let term = |s: &Status| s.get("raft_term").and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
        let leading = st
            .iter()
            .enumerate()
            .filter_map(|(m, s)| s.as_ref().map(|s| (m, s)))
            .filter(|(_, s)| s.get("raft_role").map(String::as_str) == Some("leader"))
            .max_by_key(|(_, s)| term(s));
        if let Some((m, _)) = leading {
            return Some(m);
        }
        let mut votes: HashMap<usize, usize> = HashMap::new();
        for s in st.iter().flatten() {
            if let Some(id) = s.get("raft_leader_id").and_then(|l| l.parse::<usize>().ok()) {
                *votes.entry(id.saturating_sub(1)).or_default() += 1;
            }
        }
        votes.into_iter().max_by_key(|(_, n)| *n).map(|(m, _)| m)
    }

    /// The primary (single-primary mode): the id most members name.
    pub async fn primary(&self) -> Option<usize> {
        let mut votes: HashMap<usize, usize> = HashMap::new();
        for s in self.statuses().await.iter().flatten() {
            if let Some(id) = s.get("primary_member_id").and_then(|l| l.parse::<usize>().ok()) {
                *votes.entry(id.saturating_sub(1)).or_default() += 1;
            }
        }
        votes.into_iter().max_by_key(|(_, n)| *n).map(|(m, _)| m)
    }

    /// `applied_index` of member `m`, if it answers.
    pub async fn applied(&self, m: usize) -> Option<u64> {
        index(&self.status(m).await?, "applied_index")
    }

    /// CHECKSUM TABLE of the workload tables on member `m`'s mysqld, directly.
    pub async fn checksums(&self, m: usize) -> Option<Checksums> {
        let opts = self.direct_opts(m);
        let q = async move {
            let mut c = mysql_async::Conn::new(opts).await.ok()?;
            let rows: Vec<(String, Option<i64>)> = c.query(format!("CHECKSUM TABLE {TABLES}")).await.ok()?;
            let _ = c.disconnect().await;
            Some(rows)
        };
        tokio::time::timeout(Duration::from_secs(10), q).await.ok().flatten()
    }

    /// Waits until every member is ONLINE and all have applied the same log index (the whole
    /// log they certified) in one look, and then their checksums agree. Err says what was last
    /// seen. (It asked for the same index twice in a row, 300 ms apart; an idle group still
    /// appends each member's watermark report, up to one per member every 0.5 s, and a CI run
    /// saw all three members equal at 15052 and equal checksums at the end, yet never two
    /// equal looks in a row within 90 s. The checksums decide.)
    pub async fn wait_converged(&self, timeout: Duration) -> Result<Duration, String> {
        let started = Instant::now();
        let mut last_seen = String::new();
        while started.elapsed() < timeout {
            let st = self.statuses().await;
            let idx: Option<Vec<(u64, u64)>> = st
                .iter()
                .map(|s| {
                    let s = s.as_ref()?;
                    if s.get("member_state").map(String::as_str) != Some("ONLINE") {
                        return None;
                    }
                    Some((index(s, "applied_index")?, index(s, "certified_index")?))
                })
                .collect();
            last_seen = describe(&st);
            let settled = idx
                .as_ref()
                .is_some_and(|v| v.iter().all(|&(a, c)| a == v[0].0 && c == v[0].1 && a == c));
            if settled {
                let mut sums = Vec::new();
                for m in 0..MEMBERS {
                    sums.push(self.checksums(m).await);
                }
                if sums.iter().all(|s| s.is_some() && *s == sums[0]) {
                    return Ok(started.elapsed());
                }
                last_seen.push_str(&format!("; checksums {sums:?}"));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(last_seen)
    }
}

fn index(s: &Status, key: &str) -> Option<u64> {
    s.get(key)?.parse().ok()
}

/// One line per member: state, role, leader, term, indexes.
pub fn describe(st: &[Option<Status>]) -> String {
    let parts: Vec<String> = st
        .iter()
        .enumerate()
        .map(|(m, s)| match s {
            None => format!("m{m}: no answer"),
            Some(s) => {
                let g = |k: &str| s.get(k).map(String::as_str).unwrap_or("?");
                format!(
                    "m{m}: {} {} leader={} term={} applied={} certified={}",
                    g("member_state"),
                    g("raft_role"),
                    g("raft_leader_id"),
                    g("raft_term"),
                    g("applied_index"),
                    g("certified_index")
                )
            }
        })
        .collect();
    parts.join(" | ")
}
