//! The nemesis: injects one fault at a time on a seeded schedule, heals it, and measures how
//! long the hit members took to catch up.
//!
//! A fault starts every 10-20 s (configurable); it lasts 3-6 s (kill-all: 1-3 s down), then is
//! healed (process restarted, resumed, network healed). Kinds are drawn from a seeded shuffle
//! of the configured mix, reshuffled each round, so a run covers every kind evenly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cluster::{Cluster, Proc, MEMBERS};
use super::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// kill -9 one member's proxy, restart it.
    KillProxy,
    /// kill -9 one member's mysqld, restart it.
    KillMysqld,
    /// kill -9 the Raft leader's proxy, restart it.
    KillLeader,
    /// kill -9 every proxy and mysqld within one second, restart them all.
    KillAll,
    /// SIGSTOP one member's proxy or mysqld, SIGCONT it.
    Pause,
    /// Cut one member off from the others.
    PartitionOne,
    /// Cut the Raft leader off from the others.
    PartitionLeader,
    /// Lose everything one member sends to its peers, or everything they send it.
    OneWay,
}

pub const ALL: [FaultKind; 8] = [
    FaultKind::KillProxy,
    FaultKind::KillMysqld,
    FaultKind::KillLeader,
    FaultKind::KillAll,
    FaultKind::Pause,
    FaultKind::PartitionOne,
    FaultKind::PartitionLeader,
    FaultKind::OneWay,
];

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::KillProxy => "kill-proxy",
            FaultKind::KillMysqld => "kill-mysqld",
            FaultKind::KillLeader => "kill-leader",
            FaultKind::KillAll => "kill-all",
            FaultKind::Pause => "pause",
            FaultKind::PartitionOne => "partition-one",
            FaultKind::PartitionLeader => "partition-leader",
            FaultKind::OneWay => "one-way",
        }
    }
}

/// Parses `all`, `none`, or a comma-separated list of fault names.
pub fn parse_list(s: &str) -> Result<Vec<FaultKind>, String> {
    match s.trim() {
        "all" | "" => return Ok(ALL.to_vec()),
        "none" => return Ok(Vec::new()),
        _ => {}
    }
    s.split(',')
        .map(str::trim)
        .map(|n| {
            ALL.iter()
                .copied()
                .find(|k| k.name() == n)
                .ok_or_else(|| format!("unknown fault {n:?}; known: all, none, {}", names(&ALL)))
        })
        .collect()
}

pub fn names(kinds: &[FaultKind]) -> String {
    kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
}

/// What happened for one fault. Times count from the run's start.
#[derive(Clone, Debug)]
pub struct FaultEvent {
    pub kind: FaultKind,
    pub what: String,
    pub start: Duration,
    /// From when a majority could commit again in principle: the fault's start, except for
    /// kill-all, where it is when every process was running again.
    pub effective: Duration,
    pub healed: Option<Duration>,
    /// From the heal (restart, resume, network heal) until the hit members had applied what
    /// the rest of the group had applied at that moment.
    pub catch_up: Option<Duration>,
    /// Trouble the harness had (a restart that failed, a member that never caught up).
    pub trouble: Option<String>,
}

pub struct Nemesis {
    cluster: Arc<Cluster>,
    rng: Rng,
    t0: Instant,
    kinds: Vec<FaultKind>,
    interval: (u64, u64),
}

impl Nemesis {
    pub fn new(cluster: Arc<Cluster>, rng: Rng, t0: Instant, kinds: Vec<FaultKind>, interval: (u64, u64)) -> Self {
        Nemesis {
            cluster,
            rng,
            t0,
            kinds,
            interval,
        }
    }

    /// Injects faults until `until` (a fault in progress is finished and healed).
    pub async fn run(mut self, until: Instant) -> Vec<FaultEvent> {
        let mut events = Vec::new();
        let mut queue: Vec<FaultKind> = Vec::new();
        let mut next = Instant::now() + Duration::from_secs(self.rng.range(4, 8));
        while !self.kinds.is_empty() {
            tokio::time::sleep_until(next.into()).await;
            if Instant::now() + Duration::from_secs(3) >= until {
                break;
            }
            if queue.is_empty() {
                queue = self.kinds.clone();
                self.rng.shuffle(&mut queue);
            }
            let kind = queue.remove(0);
            let started = Instant::now();
            let ev = self.inject(kind).await;
            eprintln!(
                "jepsen: [{:>7.1}s] {}: {}, healed at {}, caught up {} later{}",
                ev.start.as_secs_f64(),
                ev.kind.name(),
                ev.what,
                secs(ev.healed),
                secs(ev.catch_up),
                ev.trouble
                    .as_deref()
                    .map(|t| format!("  TROUBLE: {t}"))
                    .unwrap_or_default()
            );
            events.push(ev);
            next = started + Duration::from_secs(self.rng.range(self.interval.0, self.interval.1));
        }
        events
    }

    fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Cluster) -> T + Send + 'static) -> T {
        let c = self.cluster.clone();
        match tokio::task::spawn_blocking(move || f(&c)).await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    async fn hold(&mut self, lo_ms: u64, hi_ms: u64) {
        tokio::time::sleep(Duration::from_millis(self.rng.range(lo_ms, hi_ms))).await;
    }

    fn member(&mut self) -> usize {
        self.rng.range(0, MEMBERS as u64 - 1) as usize
    }

    /// The Raft leader, or in single-primary mode the primary (the member whose loss matters
    /// most to writers).
    async fn leader_or_any(&mut self) -> usize {
        let target = if self.cluster.single_primary {
            self.cluster.primary().await
        } else {
            self.cluster.leader().await
        };
        match target {
            Some(m) => m,
            None => self.member(),
        }
    }

    async fn inject(&mut self, kind: FaultKind) -> FaultEvent {
        let start = self.now();
        let mut ev = FaultEvent {
            kind,
            what: String::new(),
            start,
            effective: start,
            healed: None,
            catch_up: None,
            trouble: None,
        };
        let hit: Vec<usize>;
        let mut target = None;
        let heal_result: anyhow::Result<()>;
        match kind {
            FaultKind::KillProxy | FaultKind::KillMysqld | FaultKind::KillLeader => {
                let (m, p) = match kind {
                    FaultKind::KillMysqld => (self.member(), Proc::Mysqld),
                    FaultKind::KillLeader => (self.leader_or_any().await, Proc::Proxy),
                    _ => (self.member(), Proc::Proxy),
                };
                ev.what = format!("kill -9 m{m}'s {}", p.name());
                self.blocking(move |c| c.kill(m, p)).await;
                self.hold(3000, 6000).await;
                ev.healed = Some(self.now());
                heal_result = self
                    .blocking(move |c| match p {
                        Proc::Proxy => c.restart_proxy(m),
                        Proc::Mysqld => c.restart_mysqld(m),
                    })
                    .await;
                hit = vec![m];
            }
            FaultKind::KillAll => {
                let mut procs: Vec<(usize, Proc)> = (0..MEMBERS)
                    .flat_map(|m| [(m, Proc::Proxy), (m, Proc::Mysqld)])
                    .collect();
                self.rng.shuffle(&mut procs);
                ev.what = "kill -9 every proxy and mysqld".to_string();
                for m in 0..MEMBERS {
                    target = target.max(self.cluster.applied(m).await);
                }
                for (m, p) in procs {
                    self.blocking(move |c| c.kill(m, p)).await;
                    self.hold(0, 120).await;
                }
                self.hold(1000, 3000).await;
                ev.healed = Some(self.now());
                heal_result = self.blocking(|c| c.heal_all()).await;
                ev.effective = self.now();
                hit = (0..MEMBERS).collect();
            }
            FaultKind::Pause => {
                let m = self.member();
                let p = if self.rng.chance(0.5) {
                    Proc::Proxy
                } else {
                    Proc::Mysqld
                };
                ev.what = format!("SIGSTOP m{m}'s {}", p.name());
                self.blocking(move |c| c.pause(m, p)).await;
                self.hold(3000, 6000).await;
                self.blocking(move |c| c.resume(m, p)).await;
                ev.healed = Some(self.now());
                heal_result = Ok(());
                hit = vec![m];
            }
            FaultKind::PartitionOne | FaultKind::PartitionLeader | FaultKind::OneWay => {
                let m = if kind == FaultKind::PartitionLeader {
                    self.leader_or_any().await
                } else {
                    self.member()
                };
                if kind == FaultKind::OneWay {
                    let outbound = self.rng.chance(0.5);
                    ev.what = format!(
                        "lose everything m{m} {}",
                        if outbound {
                            "sends to its peers"
                        } else {
                            "receives from its peers"
                        }
                    );
                    self.cluster.one_way(m, outbound);
                } else {
                    ev.what = format!("isolate m{m}");
                    self.cluster.isolate(m);
                }
                self.hold(3000, 6000).await;
                self.cluster.heal_network();
                ev.healed = Some(self.now());
                heal_result = Ok(());
                hit = vec![m];
            }
        }
        if let Err(e) = heal_result {
            ev.trouble = Some(format!("heal failed: {e:#}"));
            // Leave nothing broken for the next fault.
            if let Err(e) = self.blocking(|c| c.heal_all()).await {
                ev.trouble = Some(format!("{}; heal_all failed: {e:#}", ev.trouble.unwrap_or_default()));
            }
        }
        let healed_at = self.t0 + ev.healed.unwrap_or(start);
        match self.catch_up(&hit, target, Duration::from_secs(30)).await {
            Ok(()) => ev.catch_up = Some(healed_at.elapsed()),
            Err(e) => {
                let t = ev.trouble.take().map(|t| format!("{t}; ")).unwrap_or_default();
                ev.trouble = Some(format!("{t}{e}"));
            }
        }
        ev
    }

    /// Waits until every member in `hit` has applied at least `target`, or if None, what the
    /// highest of the others had applied when this started.
    async fn catch_up(&self, hit: &[usize], mut target: Option<u64>, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let reference: Vec<usize> = (0..MEMBERS).filter(|m| !hit.contains(m)).collect();
        while target.is_none() && Instant::now() < deadline {
            let mut best = None;
            for &m in &reference {
                best = best.max(self.cluster.applied(m).await);
            }
            target = best;
            if target.is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let Some(target) = target else {
            return Err("no member reported its applied index".into());
        };
        for &m in hit {
            loop {
                if self.cluster.applied(m).await.is_some_and(|a| a >= target) {
                    break;
                }
                if Instant::now() >= deadline {
                    let st = self.cluster.statuses().await;
                    return Err(format!(
                        "m{m} did not reach applied index {target} in {timeout:?}: {}",
                        super::status::describe(&st)
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }
}

pub fn secs(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2}s", d.as_secs_f64()))
        .unwrap_or_else(|| "-".into())
}
