//! The runner of the Jepsen-style test: a 3-member group of real processes, bank and
//! list-append clients on every member, a nemesis injecting faults, then heal, final reads on
//! every member, and the checks of `crate::jepsen`.
//!
//! Configuration (environment variables, all optional):
//! - `JEPSEN_SEED`: seed of the fault schedule and the op mix (default: from the clock);
//! - `JEPSEN_SECS`: seconds of load under faults (default 90);
//! - `JEPSEN_FAULTS`: `all` (default), `none`, or a comma-separated list of kill-proxy,
//!   kill-mysqld, kill-leader, kill-all, pause, partition-one, partition-leader, one-way;
//! - `JEPSEN_INTERVAL`: seconds between fault starts, `lo-hi` (default 10-20);
//! - `JEPSEN_CLIENTS`: clients per member per workload (default 2);
//! - `JEPSEN_CLIENT_KINDS`: `all` (default) or a comma-separated list of persistent, fresh,
//!   cli: the kinds of client (see `client::ClientKind`), dealt out in turn so that every
//!   member has every kind (with the default 2 clients per member per workload: on m0 bank
//!   persistent+fresh and list-append fresh+cli, on m1 cli+persistent and persistent+fresh,
//!   on m2 fresh+cli and cli+persistent);
//! - `JEPSEN_MODE`: `multi-primary` (default) or `single-primary` (the group's mode; in
//!   single-primary mode the kill-leader and partition-leader faults hit the primary, and
//!   clients of the secondaries have their writes sent on to it);
//! - `JEPSEN_KEEP=1`: keep the sandbox directory (member logs, histories) even when the run
//!   passes (a failing run always keeps it).

pub mod append_workload;
pub mod bank_workload;
pub mod client;
pub mod cluster;
pub mod faults;
pub mod rng;
pub mod status;
pub mod summary;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;

use crate::jepsen::{check_bank, check_list_append, History, OpValue, Outcome, Recorder};
use client::{Client, ClientKind};
use cluster::{Cluster, MEMBERS};
use faults::{FaultKind, Nemesis};
use rng::Rng;

#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    pub secs: u64,
    pub faults: Vec<FaultKind>,
    pub interval: (u64, u64),
    pub clients: usize,
    pub kinds: Vec<ClientKind>,
    pub keep: bool,
    /// `group.mode` of the members.
    pub mode: String,
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let num = |k: &str, default: u64| -> Result<u64, String> {
            var(k).map_or(Ok(default), |v| v.trim().parse().map_err(|e| format!("{k}={v}: {e}")))
        };
        let interval = match var("JEPSEN_INTERVAL") {
            None => (10, 20),
            Some(v) => {
                let (lo, hi) = v.split_once('-').ok_or(format!("JEPSEN_INTERVAL={v}: want lo-hi"))?;
                let p = |s: &str| s.trim().parse::<u64>().map_err(|e| format!("JEPSEN_INTERVAL={v}: {e}"));
                let (lo, hi) = (p(lo)?, p(hi)?);
                if lo == 0 || lo > hi {
                    return Err(format!("JEPSEN_INTERVAL={v}: want 0 < lo <= hi"));
                }
                (lo, hi)
            }
        };
        Ok(Config {
            seed: num("JEPSEN_SEED", rng::fresh_seed())?,
            secs: num("JEPSEN_SECS", 90)?,
            faults: faults::parse_list(&var("JEPSEN_FAULTS").unwrap_or_default())?,
            interval,
            clients: num("JEPSEN_CLIENTS", 2)?.max(1) as usize,
            kinds: ClientKind::parse_list(&var("JEPSEN_CLIENT_KINDS").unwrap_or_default())
                .map_err(|e| format!("JEPSEN_CLIENT_KINDS: {e}"))?,
            keep: num("JEPSEN_KEEP", 0)? != 0,
            mode: match var("JEPSEN_MODE").as_deref() {
                None | Some("multi-primary") => "multi-primary".into(),
                Some("single-primary") => "single-primary".into(),
                Some(other) => return Err(format!("JEPSEN_MODE={other}: want multi-primary or single-primary")),
            },
        })
    }

    /// The kind of client `c` (0-based) of member `m` in the workload numbered `workload`
    /// (bank 0, list-append 1): the kinds in turn over members and clients, the list-append
    /// clients one step on from the bank's, so that a member's clients of both workloads
    /// together cover every kind.
    pub fn kind(&self, workload: usize, m: usize, c: usize) -> ClientKind {
        self.kinds[(m * self.clients + c + workload) % self.kinds.len()]
    }

    pub fn describe(&self) -> String {
        format!(
            "JEPSEN_SEED={} JEPSEN_SECS={} JEPSEN_FAULTS={} JEPSEN_INTERVAL={}-{} JEPSEN_CLIENTS={} JEPSEN_CLIENT_KINDS={} JEPSEN_MODE={}",
            self.seed,
            self.secs,
            if self.faults.is_empty() {
                "none".into()
            } else {
                faults::names(&self.faults)
            },
            self.interval.0,
            self.interval.1,
            self.clients,
            ClientKind::names(&self.kinds),
            self.mode
        )
    }
}

/// Creates the schema through member 0.
async fn setup(cluster: &Cluster) -> anyhow::Result<()> {
    let mut c = mysql_async::Conn::new(cluster.opts(0)).await?;
    c.query_drop("CREATE DATABASE jepsen").await?;
    bank_workload::setup(&mut c).await?;
    append_workload::setup(&mut c).await?;
    c.disconnect().await?;
    Ok(())
}

/// Runs the whole test; panics (after printing the seed, the figures and where the history
/// and the member logs are) if any check fails.
pub async fn run(cfg: Config) {
    let started = Instant::now();
    eprintln!("jepsen: {}", cfg.describe());
    if cfg.kinds.contains(&ClientKind::Cli) {
        match client::cli_available() {
            Ok(v) => eprintln!("jepsen: CLI clients run {v}"),
            Err(e) => panic!("jepsen: CLI clients asked for, but {e} (set JEPSEN_CLIENT_KINDS=persistent,fresh)"),
        }
    }
    let cluster = Arc::new(
        Cluster::start(&cfg.mode)
            .await
            .unwrap_or_else(|e| panic!("jepsen: {e:#}")),
    );
    eprintln!(
        "jepsen: group up in {:.1}s, sandbox {}",
        started.elapsed().as_secs_f64(),
        cluster.path().display()
    );
    if let Err(e) = setup(&cluster).await {
        cluster.keep();
        panic!("jepsen: schema set-up failed: {e:#}");
    }
    if let Err(e) = cluster.wait_converged(Duration::from_secs(30)).await {
        cluster.keep();
        panic!("jepsen: group did not settle after set-up: {e}");
    }

    let t0 = Instant::now();
    let bank = Recorder::starting_at(t0);
    let append = Recorder::starting_at(t0);
    let keys = append_workload::Keys::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    let mut layout: Vec<String> = Vec::new();
    for m in 0..MEMBERS {
        let mut here = Vec::new();
        for c in 0..cfg.clients {
            let p = m * cfg.clients + c;
            let r = |w: u64| Rng::derive(cfg.seed, 1 + w * 1000 + p as u64);
            let client = |kind: ClientKind| Client::new(kind, m, cluster.opts(m), cluster.proxy_port(m));
            let (kb, ka) = (cfg.kind(0, m, c), cfg.kind(1, m, c));
            bank.set_label(p, kb.name());
            append.set_label(p, ka.name());
            here.push(format!("p{p} bank {}, list-append {}", kb.name(), ka.name()));
            clients.push(tokio::spawn(bank_workload::client(
                client(kb),
                bank.clone(),
                p,
                r(0),
                stop.clone(),
            )));
            clients.push(tokio::spawn(append_workload::client(
                client(ka),
                append.clone(),
                keys.clone(),
                p,
                r(1),
                stop.clone(),
            )));
        }
        layout.push(format!("m{m}: {}", here.join("; ")));
    }
    eprintln!("jepsen: clients: {}", layout.join(" | "));

    let until = t0 + Duration::from_secs(cfg.secs);
    let nemesis = Nemesis::new(
        cluster.clone(),
        Rng::derive(cfg.seed, 0),
        t0,
        cfg.faults.clone(),
        cfg.interval,
    );
    let events = nemesis.run(until).await;
    tokio::time::sleep_until(until.into()).await;

    // Heal everything, let the clients run on for a while, then stop them.
    let hc = cluster.clone();
    let healed = tokio::task::spawn_blocking(move || hc.heal_all()).await;
    let heal_trouble = match healed {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("final heal failed: {e:#}")),
        Err(e) => Some(format!("final heal panicked: {e}")),
    };
    let final_heal = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        // A client stuck on a member is abandoned: its op stays unknown (never completed).
        let abort = c.abort_handle();
        if tokio::time::timeout(client::OP_TIMEOUT + Duration::from_secs(5), c)
            .await
            .is_err()
        {
            abort.abort();
        }
    }

    let converged = cluster.wait_converged(Duration::from_secs(90)).await;
    bank.mark_final();
    append.mark_final();
    let all_keys = keys.lock().unwrap_or_else(|e| e.into_inner()).all();
    let mut final_trouble = Vec::new();
    for m in 0..MEMBERS {
        let process = 10_000 + m;
        bank.set_label(process, "final read (persistent)");
        append.set_label(process, "final read (persistent)");
        let mut reader = Client::new(ClientKind::Persistent, m, cluster.opts(m), cluster.proxy_port(m));
        let mut got = (false, false);
        for _ in 0..10 {
            if !got.0 {
                let read = OpValue::Bank(crate::jepsen::BankOp::Read(None));
                got.0 = bank_workload::perform(&mut reader, &bank, process, read).await == Some(Outcome::Ok);
            }
            if !got.1 {
                got.1 =
                    append_workload::final_read(&mut reader, &append, process, &all_keys).await == Some(Outcome::Ok);
            }
            if got == (true, true) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if got != (true, true) {
            final_trouble.push(format!(
                "m{m} gave no final read (bank: {}, list-append: {})",
                got.0, got.1
            ));
        }
    }
    let mut checksums = Vec::new();
    for m in 0..MEMBERS {
        checksums.push(cluster.checksums(m).await);
    }

    let bank_history = bank.history();
    let append_history = append.history();
    let bank_report = check_bank(&bank_history, &bank_workload::options());
    let append_report = check_list_append(&append_history, MEMBERS);
    let mut all_ops = bank_history.ops();
    all_ops.extend(append_history.ops());
    let summary = summary::Summary {
        header: cfg.describe(),
        reports: vec![("bank", &bank_report), ("append", &append_report)],
        events: &events,
        recovery: summary::recovery(&events, &all_ops),
        writes_after_heal: summary::writes_after(&all_ops, final_heal, MEMBERS),
        by_kind: vec![
            ("bank", summary::by_kind(&bank_history)),
            ("append", summary::by_kind(&append_history)),
        ],
        converged_in: converged.as_ref().ok().copied(),
        checksums: checksums.clone(),
        elapsed: started.elapsed(),
    };
    eprintln!("{}", summary.render());

    let mut problems: Vec<String> = Vec::new();
    problems.extend(heal_trouble);
    if let Err(e) = &converged {
        problems.push(format!("the group did not converge within 90 s of the heal: {e}"));
    }
    problems.extend(final_trouble);
    if !checksums.iter().all(|c| c.is_some() && *c == checksums[0]) {
        problems.push(format!("final checksums differ: {checksums:?}"));
    }
    for (name, report, history) in [
        ("bank", &bank_report, &bank_history),
        ("list-append", &append_report, &append_history),
    ] {
        if !report.is_valid() {
            problems.push(format!(
                "{name} history check failed:\n{}",
                abridged(&report.explain(history))
            ));
        }
        if report.figures.acknowledged < 20 {
            problems.push(format!(
                "{name}: only {} ops acknowledged: the load did not run",
                report.figures.acknowledged
            ));
        }
    }
    if problems.is_empty() {
        if cfg.keep {
            cluster.keep();
            save_histories(&cluster, &[("bank", &bank_history), ("list-append", &append_history)]);
        }
        eprintln!("jepsen: PASS (seed {})", cfg.seed);
        return;
    }
    fail(
        &cluster,
        &cfg,
        &problems,
        &[("bank", &bank_history), ("list-append", &append_history)],
    );
}

/// Keeps the sandbox, saves the histories next to the member logs, and panics with the seed.
fn fail(cluster: &Cluster, cfg: &Config, problems: &[String], histories: &[(&str, &History)]) -> ! {
    cluster.keep();
    let saved = save_histories(cluster, histories);
    panic!(
        "jepsen run FAILED (rerun with {})\n{}\nhistories: {}\nsandbox (member logs): {}",
        cfg.describe(),
        problems.join("\n"),
        saved.join(", "),
        cluster.path().display()
    );
}

/// Writes each history next to the member logs; says where (or why not).
fn save_histories(cluster: &Cluster, histories: &[(&str, &History)]) -> Vec<String> {
    let mut saved = Vec::new();
    for (name, h) in histories {
        let path = cluster.path().join(format!("history-{name}.txt"));
        match std::fs::write(&path, h.render()) {
            Ok(()) => saved.push(path.display().to_string()),
            Err(e) => saved.push(format!("{name} history not saved: {e}")),
        }
    }
    saved
}

/// The first lines of a long explanation (the whole of it is in the saved history's checks).
fn abridged(text: &str) -> String {
    const LINES: usize = 80;
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= LINES {
        return text.to_string();
    }
    format!(
        "{}\n... ({} more lines)",
        lines[..LINES].join("\n"),
        lines.len() - LINES
    )
}
