//! Jepsen-style test of a 3-member group of real processes (mariadbd + grproxy, started by
//! `grproxy sandbox up` behind fault-injecting relays on every peer link): bank and
//! list-append clients on every member (three kinds: a persistent mysql_async connection, a
//! fresh mysql_async connection per operation, and the `mariadb` CLI, one process per
//! operation) while a nemesis kills, pauses and partitions members;
//! then heal, final reads on every member, and the checks (snapshot isolation, no lost
//! acknowledged write, equal checksums). See docs/testing-faults.md.
//!
//! The default is the short run of the normal test suite. A long run:
//!
//!     JEPSEN_SECS=600 JEPSEN_SEED=42 JEPSEN_FAULTS=kill-leader,partition-leader \
//!         JEPSEN_CLIENTS=3 cargo test --release --test jepsen -- --nocapture
//!
//! (variables: see `runner::Config`). A failing run prints its seed and keeps the sandbox
//! directory, with the histories and the member logs.

#[path = "jepsen/mod.rs"]
mod jepsen;

mod common;

#[path = "jepsen/runner/mod.rs"]
mod runner;

/// The two runs share the machine's cores: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_and_list_append_under_faults() {
    let _serial = SERIAL.lock().await;
    let cfg = runner::Config::from_env().unwrap_or_else(|e| panic!("jepsen: bad configuration: {e}"));
    runner::run(cfg).await;
}

/// The same in single-primary mode: writes through the secondaries are sent on to the
/// primary, and the leader faults hit the primary (kill -9 of its grproxy, its isolation).
/// Short by default (45 s); `JEPSEN_SECS` and the other variables apply as above.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_and_list_append_under_faults_single_primary() {
    let _serial = SERIAL.lock().await;
    let mut cfg = runner::Config::from_env().unwrap_or_else(|e| panic!("jepsen: bad configuration: {e}"));
    cfg.mode = "single-primary".into();
    if std::env::var_os("JEPSEN_SECS").is_none() {
        cfg.secs = 45;
    }
    runner::run(cfg).await;
}
