//! Convergence suite (issue 10): scenarios driven the way users come in (the `mariadb` CLI
//! with `-e` and with a script on stdin, a fresh connection per statement, PyMySQL,
//! mysql_async pooled and prepared), each on a 3-member group in its own database
//! `cv_<name>`. After every scenario the runner waits for convergence and compares every
//! member's objects, definitions, rows and `CHECKSUM TABLE` (read from each member's mysqld
//! directly); each scenario also checks its own client-visible results (acknowledged rows
//! present, refused statements absent everywhere, ROW_COUNT(), warnings, ...).
//!
//! Expected outcomes: refusals are MySQL error 3098 (and nothing they would have written exists
//! on any member); certification aborts are 1213 / SQLSTATE 40001.
//!
//! Run one scenario (or several, comma-separated substrings of their names):
//!
//!     CONVERGENCE_ONLY=gbk cargo test --test convergence -- --nocapture
//!
//! Other switches: `CONVERGENCE_PARALLEL=1` (groups of different test functions run at the
//! same time instead of taking turns), `CONVERGENCE_BASELINE=1` (statements go straight to one
//! plain mysqld: checks the scenarios' SQL and client-visible expectations against MariaDB
//! itself; races and group-only checks fail there by design).

mod common;

#[path = "convergence/mod.rs"]
mod cv;

use cv::harness::run_suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn entry_paths_autocommit_and_diagnostics() {
    run_suite("entry_paths_autocommit_and_diagnostics", cv::s_session::all()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactions_programs_and_xa() {
    run_suite("transactions_programs_and_xa", cv::s_statements::all()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ties_lexer_and_temporary_tables() {
    run_suite("ties_lexer_and_temporary_tables", cv::s_ties_lexer::all()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_semantics_and_conflicts() {
    run_suite("key_semantics_and_conflicts", cv::s_keys::all()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn row_images_and_session_state() {
    run_suite("row_images_and_session_state", cv::s_images::all()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ddl_privileges_and_bypass() {
    run_suite("ddl_privileges_and_bypass", cv::s_ddl_admin::all()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sequences() {
    run_suite("sequences", cv::s_sequences::all()).await;
}
