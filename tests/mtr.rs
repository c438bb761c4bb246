//! MariaDB's own regression tests (mysql-test `main`, Debian package `mariadb-test`) against
//! a mariadbd configured the way mysql-test configures its own, run with
//! `mariadb-test-run --extern` one test at a time with a clean `test` database: directly,
//! through a plain grproxy in front of the same server, and (optionally) through member 1 of a
//! 3-member group. Prints pass/fail/skip per test side by side; fails if a test that passes
//! directly does not pass through the proxy, or if through a group member a test neither
//! passes nor is refused with 3098, or the members differ after it.
//!
//! The normal suite runs the short list (`tests/mtr/short.txt`). The full list and the group:
//!
//!     GRPROXY_MTR=full cargo test --test mtr -- --nocapture
//!     GRPROXY_MTR=full GRPROXY_MTR_TARGETS=direct,proxy,group cargo test --test mtr -- --nocapture
//!     GRPROXY_MTR=sp-cursor,type_json cargo test --test mtr -- --nocapture   # chosen tests
//!
//! Needs `deploy/install-deps.sh --mtr`. Each run's mysql-test-run output per test and target
//! is kept in `target/tmp/mtr-logs/`. Results and how the lists were made:
//! docs/compatibility.md.

mod common;

#[path = "mtr/mod.rs"]
mod mtr;

use std::time::{Duration, Instant};

use mtr::config::{Config, TargetKind};
use mtr::target::{Group, Single};
use mtr::Verdict;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_test_main_direct_and_through_the_proxy() {
    let cfg = Config::from_env();
    mtr::mtr_script();
    let started = Instant::now();
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let work = tempfile::Builder::new().prefix("mtr-").tempdir_in(base).unwrap();
    let logs = base.join("mtr-logs");
    let wants = |k| cfg.targets.contains(&k);
    let mut single = if wants(TargetKind::Direct) || wants(TargetKind::Proxy) {
        Some(Single::start(work.path()).await)
    } else {
        None
    };
    let mut group = if wants(TargetKind::Group) {
        Some(Group::start(work.path()).await)
    } else {
        None
    };
    for k in &cfg.targets {
        std::fs::create_dir_all(logs.join(k.name())).unwrap();
    }

    let mut rows: Vec<(String, Vec<(Verdict, Duration)>)> = Vec::new();
    for test in &cfg.tests {
        let mut cells = Vec::new();
        for &kind in &cfg.targets {
            let vardir = work.path().join(format!("var-{}", kind.name()));
            let log = logs.join(kind.name()).join(format!("{test}.log"));
            let cell = match kind {
                TargetKind::Direct | TargetKind::Proxy => {
                    let s = single.as_mut().unwrap();
                    s.reset().await;
                    let ep = if kind == TargetKind::Direct {
                        s.direct()
                    } else {
                        s.proxied()
                    };
                    mtr::run_one(test, &ep, &vardir, &log, cfg.timeout).await
                }
                TargetKind::Group => {
                    let g = group.as_mut().unwrap();
                    let cell = match g.reset().await {
                        Err(e) => (Verdict::Diverged(format!("before the test: {e}")), Duration::ZERO),
                        Ok(()) => {
                            let (v, d) = mtr::run_one(test, &g.member1(), &vardir, &log, cfg.timeout).await;
                            match g.converged().await {
                                Err(e) => (Verdict::Diverged(format!("{} then {e}", v.word())), d),
                                Ok(()) => (v, d),
                            }
                        }
                    };
                    if matches!(cell.0, Verdict::Diverged(_)) {
                        g.restart().await;
                    }
                    cell
                }
            };
            cells.push(cell);
        }
        rows.push((test.clone(), cells));
    }

    let names: Vec<&str> = cfg.targets.iter().map(|k| k.name()).collect();
    let table = mtr::table(&names, &rows);
    let restarts = single.as_ref().map(|s| s.restarts).unwrap_or(0);
    let group_restarts = group
        .as_ref()
        .map_or(String::new(), |g| format!(", group restarts {}", g.restarts));
    let summary = format!(
        "mysql-test main, list {} ({} tests), {:.0} s, server restarts {restarts}{group_restarts}\n{table}",
        cfg.list_name,
        cfg.tests.len(),
        started.elapsed().as_secs_f64()
    );
    println!("{summary}");
    let _ = std::fs::write(
        logs.join(format!("last-{}.txt", cfg.list_name.replace(',', "_"))),
        &summary,
    );

    // What must hold: through the plain proxy, every test that passes directly passes; through
    // a group member, every test passes or is refused (or fails as `known_group.txt` explains),
    // and the members agree after it.
    let col = |k: TargetKind| cfg.targets.iter().position(|&t| t == k);
    let known = mtr::read_known(&mtr::config::list_path("known_proxy"));
    let known_group = mtr::read_known(&mtr::config::list_path("known_group"));
    let mut bad = Vec::new();
    for (test, cells) in &rows {
        if let (Some(d), Some(p)) = (col(TargetKind::Direct), col(TargetKind::Proxy)) {
            if let (Verdict::Pass, Verdict::Fail(_), Some(reason)) = (&cells[d].0, &cells[p].0, known.get(test)) {
                println!("known: {test} through the proxy: {reason}");
            } else if cells[d].0 == Verdict::Pass && cells[p].0 != Verdict::Pass {
                bad.push(format!("{test}: passes directly, through the proxy {:?}", cells[p].0));
            }
        }
        if let Some(g) = col(TargetKind::Group) {
            if let (Verdict::Fail(_), Some(reason)) = (&cells[g].0, known_group.get(test)) {
                println!("known: {test} through a group member: {reason}");
            } else if !matches!(cells[g].0, Verdict::Pass | Verdict::Refused(_) | Verdict::Skipped(_)) {
                bad.push(format!("{test}: through a group member {:?}", cells[g].0));
            }
        }
    }
    drop(group);
    drop(single);
    assert!(bad.is_empty(), "{} tests:\n{}", bad.len(), bad.join("\n"));
}
