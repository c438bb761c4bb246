//! The scenario runner: one 3-member group shared by a list of scenarios, each in its own
//! database `cv_<name>`. After a scenario the runner waits for convergence, then compares
//! every member's objects, definitions and rows of that database (read from each member's
//! mysqld directly) and `CHECKSUM TABLE`. A failing scenario is reported with its SQL and
//! each member's differing rows; the other scenarios still run. A scenario that leaves the
//! group unhealthy (a member in ERROR, no convergence) gets the group replaced by a new one.
//!
//! Environment:
//! - `CONVERGENCE_ONLY=<substring>[,<substring>...]`: run only scenarios whose name contains one.
//! - `CONVERGENCE_PARALLEL=1`: let the test functions run their groups concurrently (by
//!   default they take turns: 2 cores are shared).
//! - `CONVERGENCE_BASELINE=1`: run every statement straight against member 0's mysqld, without
//!   proxies, and check only that mysqld: validates the scenarios' SQL and the client-visible
//!   expectations against plain MariaDB (races and group-only checks fail there by design).
//!
//! Members are numbered from 0 in scenarios and messages.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;

use super::cli::{Cli, Out, Py};
use crate::common::TestGroup;

pub type R = Result<(), String>;
pub type BoxFut<'a> = Pin<Box<dyn Future<Output = R> + 'a>>;

/// How long one scenario may take before it counts as hung.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(150);
/// A passing scenario slower than this prints what it ran (with timings).
const SLOW_SCENARIO: Duration = Duration::from_secs(20);
/// How long convergence may take after a scenario.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(20);

/// The variable of `SHOW GRPROXY STATUS` that counts writes which bypassed the proxy.
pub const ERRANT_VARIABLE: &str = "errant_transactions";

pub struct Scenario {
    pub name: &'static str,
    pub class: &'static str,
    pub run: for<'a> fn(&'a Ctx<'a>) -> BoxFut<'a>,
    /// Compare every member's tables afterwards (off only where members differ on purpose).
    pub compare: bool,
}

/// `sc!("class", function)`: a scenario from an `async fn(&Ctx<'_>) -> R`.
macro_rules! sc {
    ($class:literal, $f:ident) => {
        $crate::cv::harness::Scenario {
            name: stringify!($f),
            class: $class,
            run: |cx| Box::pin($f(cx)),
            compare: true,
        }
    };
    ($class:literal, $f:ident, no_compare) => {
        $crate::cv::harness::Scenario {
            name: stringify!($f),
            class: $class,
            run: |cx| Box::pin($f(cx)),
            compare: false,
        }
    };
}

/// `ensure!(cond, "format", args)`: fail the scenario with a message unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

/// A server error from mysql_async, or another failure.
#[derive(Debug, Clone)]
pub struct DbErr {
    pub code: u16,
    pub state: String,
    pub message: String,
}

impl std::fmt::Display for DbErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.code == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "ERROR {} ({}): {}", self.code, self.state, self.message)
        }
    }
}

impl From<mysql_async::Error> for DbErr {
    fn from(e: mysql_async::Error) -> DbErr {
        match e {
            mysql_async::Error::Server(s) => DbErr {
                code: s.code,
                state: s.state,
                message: s.message,
            },
            other => DbErr {
                code: 0,
                state: String::new(),
                message: other.to_string(),
            },
        }
    }
}

/// Refusals the issue allows: 3098 (cannot be replicated safely).
pub const REFUSED: u16 = 3098;
/// Certification aborts.
pub const CONFLICT: u16 = 1213;

/// What a scenario sees: the group, its database, and the clients.
pub struct Ctx<'g> {
    pub g: &'g TestGroup,
    pub db: String,
    pub baseline: bool,
    log: Mutex<Vec<String>>,
    started: Instant,
    /// A convergence wait already failed in this scenario: later ones fail at once (a stuck
    /// member would otherwise cost the full timeout at every step).
    diverged: std::sync::atomic::AtomicBool,
    /// The member the previous client statement went to.
    last_member: Mutex<Option<usize>>,
}

impl<'g> Ctx<'g> {
    pub fn new(g: &'g TestGroup, name: &'static str, baseline: bool) -> Ctx<'g> {
        Ctx {
            g,
            db: format!("cv_{name}"),
            baseline,
            log: Mutex::new(Vec::new()),
            started: Instant::now(),
            diverged: std::sync::atomic::AtomicBool::new(false),
            last_member: Mutex::new(None),
        }
    }

    /// Records a line for the failure report.
    pub fn note(&self, line: impl Into<String>) {
        let at = self.started.elapsed().as_secs_f64();
        self.log.lock().unwrap().push(format!("[{at:6.2}s] {}", line.into()));
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Members whose mysqld the checks read.
    pub fn checked_members(&self) -> Vec<usize> {
        if self.baseline {
            vec![0]
        } else {
            (0..self.g.mysqlds.len()).collect()
        }
    }

    /// The port clients of member `m` use (its proxy; member 0's mysqld in baseline mode).
    pub fn port(&self, m: usize) -> u16 {
        if self.baseline {
            self.g.mysqlds[0].layout.port
        } else {
            self.g.proxies[m].tcp_addr.unwrap().port()
        }
    }

    fn direct_member(&self, m: usize) -> usize {
        if self.baseline {
            0
        } else {
            m
        }
    }

    // ---- the mariadb CLI ----

    /// The CLI against member `m` with the scenario's database as default (`-D`).
    pub fn cli(&self, m: usize) -> Cli {
        Cli::new(self.port(m)).database(&self.db)
    }

    /// The CLI against member `m` without a default database.
    pub fn cli_nodb(&self, m: usize) -> Cli {
        Cli::new(self.port(m))
    }

    /// Before a client talks to member `m` after talking to another one, wait until every
    /// member applied what was committed so far: a scenario's steps see each other's effects
    /// like those of a user who waits for the group (certification would otherwise, rightly,
    /// abort a step that ran on a stale snapshot). A failure here shows up in the scenario's
    /// final checks.
    async fn follow(&self, m: usize) {
        let previous = self.last_member.lock().unwrap().replace(m);
        if previous.is_some_and(|p| p != m) {
            let _ = self.converge().await;
        }
    }

    pub async fn run(&self, m: usize, cli: Cli) -> Out {
        self.follow(m).await;
        self.note(format!("member {m}: {}", cli.describe()));
        let out = cli.run().await;
        self.note(format!("  -> {}", out.describe()));
        out
    }

    /// `mariadb -e <sql>` on member `m` (a fresh connection).
    pub async fn e(&self, m: usize, sql: &str) -> Out {
        self.run(m, self.cli(m).execute(sql)).await
    }

    /// `mariadb -e <sql>` that must succeed.
    pub async fn e_ok(&self, m: usize, sql: &str) -> Result<Out, String> {
        let out = self.e(m, sql).await;
        ok(&out, sql)?;
        Ok(out)
    }

    /// A script on the CLI's stdin on member `m`.
    pub async fn script(&self, m: usize, script: &str) -> Out {
        self.run(m, self.cli(m).stdin(script)).await
    }

    /// A script on stdin that must succeed.
    pub async fn script_ok(&self, m: usize, script: &str) -> Result<Out, String> {
        let out = self.script(m, script).await;
        ok(&out, script)?;
        Ok(out)
    }

    // ---- PyMySQL ----

    pub fn py(&self, m: usize) -> Py {
        Py::new(self.port(m), &self.db)
    }

    pub async fn run_py(&self, m: usize, py: Py) -> Out {
        self.follow(m).await;
        self.note(format!("member {m}: {}", py.describe()));
        let out = py.run().await;
        self.note(format!("  -> {}", out.describe()));
        out
    }

    // ---- mysql_async ----

    /// Options for root through member `m`'s proxy, with the scenario's database.
    pub fn opts(&self, m: usize) -> mysql_async::OptsBuilder {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port(m))
            .prefer_socket(false)
            .user(Some("root"))
            .pass(Some(""))
            .db_name(Some(self.db.clone()))
    }

    /// A mysql_async connection through member `m`'s proxy.
    pub async fn conn(&self, m: usize) -> Result<mysql_async::Conn, String> {
        self.follow(m).await;
        self.note(format!("member {m}: mysql_async connect"));
        mysql_async::Conn::new(self.opts(m))
            .await
            .map_err(|e| format!("connecting to member {m}: {e}"))
    }

    /// Runs a text query on `c`, logged, returning its rows rendered as tab-separated lines.
    pub async fn q(&self, m: usize, c: &mut mysql_async::Conn, sql: &str) -> Result<Vec<String>, DbErr> {
        let r: Result<Vec<mysql_async::Row>, _> = c.query(sql).await;
        let r = r
            .map(|rows| rows.iter().map(render_row).collect::<Vec<_>>())
            .map_err(DbErr::from);
        self.note(format!("member {m}: mysql_async query {sql:?} -> {r:?}"));
        r
    }

    /// As `q`, but any error fails the scenario.
    pub async fn q_ok(&self, m: usize, c: &mut mysql_async::Conn, sql: &str) -> Result<Vec<String>, String> {
        self.q(m, c, sql).await.map_err(|e| format!("member {m}: {sql}: {e}"))
    }

    /// `query_drop` (every result of a multi-statement text), logged.
    pub async fn qd(&self, m: usize, c: &mut mysql_async::Conn, sql: &str) -> Result<(), DbErr> {
        let r = c.query_drop(sql).await.map_err(DbErr::from);
        self.note(format!("member {m}: mysql_async query_drop {sql:?} -> {r:?}"));
        r
    }

    /// Two explicit transactions on members `a` and `b`: both run their statements before
    /// either commits; then `a` COMMITs, then `b`. Returns the two COMMIT results.
    pub async fn race(
        &self,
        a: usize,
        a_statements: &[&str],
        b: usize,
        b_statements: &[&str],
    ) -> Result<(Result<(), DbErr>, Result<(), DbErr>), String> {
        ensure!(!self.baseline, "races need a group (not run in baseline mode)");
        let mut ca = self.conn(a).await?;
        let mut cb = self.conn(b).await?;
        self.q_ok(a, &mut ca, "BEGIN").await?;
        for s in a_statements {
            self.q_ok(a, &mut ca, s).await?;
        }
        self.q_ok(b, &mut cb, "BEGIN").await?;
        for s in b_statements {
            self.q_ok(b, &mut cb, s).await?;
        }
        let ra = self.qd(a, &mut ca, "COMMIT").await;
        let rb = self.qd(b, &mut cb, "COMMIT").await;
        let _ = ca.disconnect().await;
        let _ = cb.disconnect().await;
        Ok((ra, rb))
    }

    /// A race (see `race`) whose first COMMIT must succeed and whose second must fail with a
    /// certification abort (1213, SQLSTATE 40001).
    pub async fn first_committer_wins(&self, a: usize, a_statements: &[&str], b: usize, b_statements: &[&str]) -> R {
        let (ra, rb) = self.race(a, a_statements, b, b_statements).await?;
        ensure!(
            ra.is_ok(),
            "the first COMMIT (member {a}, {a_statements:?}) failed: {ra:?}"
        );
        match rb {
            Ok(()) => Err(format!(
                "both transactions committed: {a_statements:?} on member {a} and {b_statements:?} on member {b} \
                 conflict; the second COMMIT must fail with 1213 (40001)"
            )),
            Err(e) if is_conflict(&e) => Ok(()),
            Err(e) => Err(format!(
                "the second COMMIT (member {b}) failed with {e}, expected 1213 (40001)"
            )),
        }
    }

    /// A prepared statement executed with parameters, logged.
    pub async fn x<P: Into<mysql_async::Params> + Send + std::fmt::Debug>(
        &self,
        m: usize,
        c: &mut mysql_async::Conn,
        sql: &str,
        params: P,
    ) -> Result<(), DbErr> {
        let shown = format!("{params:?}");
        let shown = if shown.len() > 300 {
            format!("{}...", shown.chars().take(300).collect::<String>())
        } else {
            shown
        };
        let r = c.exec_drop(sql, params).await.map_err(DbErr::from);
        self.note(format!("member {m}: mysql_async exec {sql:?} with {shown} -> {r:?}"));
        r
    }

    /// Statements through member 0's proxy (mysql_async, one connection), each must succeed;
    /// then waits for convergence. For a scenario's starting state.
    pub async fn setup(&self, statements: &[&str]) -> R {
        let mut c = self.conn(0).await?;
        for s in statements {
            self.q(0, &mut c, s)
                .await
                .map_err(|e| format!("setup statement failed: {s}: {e}"))?;
        }
        let _ = c.disconnect().await;
        self.converge().await
    }

    /// Statements run straight on every member's mysqld with `sql_log_bin = 0` (not through
    /// the group, and not an errant transaction): a starting state the scenario does not test,
    /// e.g. stored routines whose bodies the proxy's lexer cannot split today.
    pub async fn setup_on_every_mysqld(&self, statements: &[&str]) -> R {
        for m in self.checked_members() {
            let mut c = self.direct(m).await?;
            if !self.baseline {
                c.query_drop("SET SESSION sql_log_bin = 0")
                    .await
                    .map_err(|e| format!("mysqld {m}: SET sql_log_bin = 0: {e}"))?;
            }
            for s in statements {
                self.note(format!("mysqld of member {m} directly (sql_log_bin=0): {s}"));
                c.query_drop(*s).await.map_err(|e| format!("mysqld {m}: {s}: {e}"))?;
            }
            let _ = c.disconnect().await;
        }
        Ok(())
    }

    // ---- checks on every member's mysqld ----

    /// A root connection straight to member `m`'s mysqld, in the scenario's database, with
    /// time_zone UTC.
    pub async fn direct(&self, m: usize) -> Result<mysql_async::Conn, String> {
        let m = self.direct_member(m);
        let mut c = mysql_async::Conn::new(self.g.mysqlds[m].direct_opts("root", ""))
            .await
            .map_err(|e| format!("connecting to mysqld {m}: {e}"))?;
        c.query_drop(format!("USE `{}`", self.db))
            .await
            .map_err(|e| format!("mysqld {m}: USE {}: {e}", self.db))?;
        c.query_drop("SET time_zone = '+00:00'")
            .await
            .map_err(|e| format!("mysqld {m}: {e}"))?;
        Ok(c)
    }

    /// Rows of `sql` on member `m`'s mysqld, rendered as tab-separated lines (NULL as NULL).
    pub async fn rows(&self, m: usize, sql: &str) -> Result<Vec<String>, String> {
        let mut c = self.direct(m).await?;
        let rows: Vec<mysql_async::Row> = c
            .query(sql)
            .await
            .map_err(|e| format!("mysqld of member {m}: {sql}: {e}"))?;
        let _ = c.disconnect().await;
        Ok(rows.iter().map(render_row).collect())
    }

    /// Waits for convergence, then `sql` must return `expected` on every member's mysqld.
    pub async fn everywhere(&self, sql: &str, expected: &[&str]) -> R {
        self.converge().await?;
        let mut bad = Vec::new();
        for m in self.checked_members() {
            let got = self.rows(m, sql).await?;
            if got != expected {
                bad.push(format!("  member {m}: {got:?}"));
            }
        }
        ensure!(
            bad.is_empty(),
            "{sql}\n  expected on every member: {expected:?}\n{}",
            bad.join("\n")
        );
        Ok(())
    }

    /// Waits for convergence, then `sql` must return the same rows on every member; returns
    /// them.
    pub async fn same_everywhere(&self, sql: &str) -> Result<Vec<String>, String> {
        self.converge().await?;
        let mut all = Vec::new();
        for m in self.checked_members() {
            all.push((m, self.rows(m, sql).await?));
        }
        let first = all[0].1.clone();
        if all.iter().any(|(_, r)| *r != first) {
            let shown: Vec<String> = all.iter().map(|(m, r)| format!("  member {m}: {r:?}")).collect();
            return Err(format!("{sql}: members differ\n{}", shown.join("\n")));
        }
        Ok(first)
    }

    /// One value of `sql` on every member, which must agree.
    pub async fn value_everywhere(&self, sql: &str) -> Result<String, String> {
        let rows = self.same_everywhere(sql).await?;
        ensure!(rows.len() == 1, "{sql}: expected one row, got {rows:?}");
        Ok(rows[0].clone())
    }

    /// Waits until every member has applied everything committed so far, failing fast when a
    /// member reports ERROR.
    pub async fn converge(&self) -> R {
        use std::sync::atomic::Ordering;
        if self.baseline {
            return Ok(());
        }
        if self.diverged.load(Ordering::Relaxed) {
            return Err("the group did not converge earlier in this scenario".into());
        }
        let r = converge_group(self.g).await;
        if r.is_err() {
            self.diverged.store(true, Ordering::Relaxed);
        }
        r
    }

    /// `SHOW GRPROXY STATUS` of member `m`, through its proxy.
    pub async fn grproxy_status(&self, m: usize) -> Result<Vec<(String, String)>, String> {
        let mut c = self.conn(m).await?;
        let rows: Vec<(String, String)> = c
            .query("SHOW GRPROXY STATUS")
            .await
            .map_err(|e| format!("SHOW GRPROXY STATUS on member {m}: {e}"))?;
        let _ = c.disconnect().await;
        Ok(rows)
    }

    /// Creates `user` for the loopback hosts with `password` through member `m`'s proxy and runs
    /// `grants` (with `{u}` standing for each account) after each creation.
    pub async fn create_user(&self, m: usize, user: &str, password: &str, grants: &[&str]) -> R {
        let mut c = self.conn(m).await?;
        for host in ["localhost", "127.0.0.1"] {
            let account = format!("'{user}'@'{host}'");
            self.q(m, &mut c, &format!("CREATE USER {account} IDENTIFIED BY '{password}'"))
                .await
                .map_err(|e| format!("CREATE USER {account}: {e}"))?;
            for g in grants {
                let sql = g.replace("{u}", &account);
                self.q(m, &mut c, &sql).await.map_err(|e| format!("{sql}: {e}"))?;
            }
        }
        let _ = c.disconnect().await;
        self.converge().await
    }
}

/// The CLI run must have succeeded.
pub fn ok(out: &Out, what: &str) -> R {
    ensure!(out.ok(), "expected success for {what:?}, got {}", out.describe());
    Ok(())
}

/// The CLI run must have failed, first with `code`.
pub fn failed_with(out: &Out, code: u16, what: &str) -> R {
    ensure!(
        out.code() == Some(code),
        "expected ERROR {code} for {what:?}, got {}",
        out.describe()
    );
    Ok(())
}

/// A certification abort as clients see it: 1213 with SQLSTATE 40001.
pub fn is_conflict(e: &DbErr) -> bool {
    e.code == CONFLICT && e.state == "40001"
}

/// Renders one text-protocol row: values tab-separated, NULL as `NULL`.
pub fn render_row(row: &mysql_async::Row) -> String {
    (0..row.len())
        .map(|i| render_value(row.as_ref(i).unwrap_or(&mysql_async::Value::NULL), false))
        .collect::<Vec<_>>()
        .join("\t")
}

/// A value as text; `exact` escapes every byte that is not printable ASCII.
pub fn render_value(v: &mysql_async::Value, exact: bool) -> String {
    use mysql_async::Value::*;
    match v {
        NULL => "NULL".into(),
        Bytes(b) => {
            if exact {
                let mut s = String::new();
                for &c in b {
                    if (0x20..0x7f).contains(&c) && c != b'\\' {
                        s.push(c as char);
                    } else {
                        s.push_str(&format!("\\x{c:02x}"));
                    }
                }
                s
            } else {
                String::from_utf8_lossy(b).into_owned()
            }
        }
        Int(i) => i.to_string(),
        UInt(u) => u.to_string(),
        Float(f) => f.to_string(),
        Double(d) => d.to_string(),
        Date(y, mo, d, h, mi, s, us) => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"),
        Time(neg, d, h, mi, s, us) => format!("{}{d}d {h:02}:{mi:02}:{s:02}.{us:06}", if *neg { "-" } else { "" }),
    }
}

/// Waits until every member applied the highest certified index, failing fast on ERROR;
/// then the shared harness's own `TestGroup::converge`.
pub async fn converge_group(g: &TestGroup) -> R {
    let deadline = Instant::now() + CONVERGE_TIMEOUT;
    let target = g
        .proxies
        .iter()
        .map(|p| p.context.group.as_ref().unwrap().certified_index())
        .max()
        .unwrap_or(0);
    for (i, p) in g.proxies.iter().enumerate() {
        let grp = p.context.group.as_ref().unwrap();
        loop {
            if let Some(e) = grp.error_state() {
                return Err(format!("member {i} is in ERROR: {e}"));
            }
            if grp.wait_applied(target, Duration::from_millis(200)).await {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "member {i} did not apply up to index {target} within {CONVERGE_TIMEOUT:?}"
                ));
            }
        }
    }
    match tokio::time::timeout(CONVERGE_TIMEOUT, caught(g.converge())).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(p)) => Err(format!("TestGroup::converge: {p}")),
        Err(_) => Err("TestGroup::converge timed out".into()),
    }
}

/// A future whose panic is returned as an error (so one scenario's `unwrap` does not end the
/// whole list).
struct CatchUnwind<'a, T>(Pin<Box<dyn Future<Output = T> + 'a>>);

impl<T> Future for CatchUnwind<'_, T> {
    type Output = Result<T, String>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.get_mut().0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                Poll::Ready(Err(format!("panicked: {msg}")))
            }
        }
    }
}

pub async fn caught<'a, T>(f: impl Future<Output = T> + 'a) -> Result<T, String> {
    CatchUnwind(Box::pin(f)).await
}

// ---- comparing members ----

/// One member's view of a database.
#[derive(Debug, Default, PartialEq)]
struct Dump {
    /// `TABLE t`, `VIEW v`, `SEQUENCE s`, `FUNCTION f`, `TRIGGER tr ON t`.
    objects: Vec<String>,
    /// Definitions (SHOW CREATE without the AUTO_INCREMENT counter, routine and trigger bodies).
    defs: BTreeMap<String, String>,
    /// Rows of every table, sorted, every byte exact.
    rows: BTreeMap<String, Vec<String>>,
}

/// `SHOW CREATE TABLE` without `AUTO_INCREMENT=<n>` (each member's counter differs with its
/// auto_increment_offset).
fn normalize_create(s: &str) -> String {
    s.split(' ')
        .filter(|w| {
            !(w.starts_with("AUTO_INCREMENT=") && w["AUTO_INCREMENT=".len()..].bytes().all(|b| b.is_ascii_digit()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn dump(g: &TestGroup, m: usize, db: &str) -> Result<Dump, String> {
    let e = |what: &str, err: mysql_async::Error| format!("reading {db} on mysqld {m}: {what}: {err}");
    let mut c = mysql_async::Conn::new(g.mysqlds[m].direct_opts("root", ""))
        .await
        .map_err(|err| e("connect", err))?;
    c.query_drop("SET NAMES utf8mb4, time_zone = '+00:00'")
        .await
        .map_err(|err| e("SET", err))?;
    let mut d = Dump::default();
    let tables: Vec<(String, String)> = c
        .exec(
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
            (db,),
        )
        .await
        .map_err(|err| e("tables", err))?;
    for (t, ty) in &tables {
        let kind = match ty.as_str() {
            "VIEW" => "VIEW",
            "SEQUENCE" => "SEQUENCE",
            _ => "TABLE",
        };
        let key = format!("{kind} {t}");
        d.objects.push(key.clone());
        let create: Option<mysql_async::Row> = c
            .query_first(format!("SHOW CREATE TABLE `{db}`.`{t}`"))
            .await
            .map_err(|err| e("SHOW CREATE TABLE", err))?;
        let create = create
            .and_then(|r| r.get::<Option<String>, _>(1).flatten())
            .unwrap_or_default();
        d.defs.insert(key.clone(), normalize_create(&create));
        // A sequence's row (next_not_cached_value) is each member's own: members move their
        // sequences forward to where others advanced them, but each keeps its own cache block
        // and an INCREMENT BY 0 sequence steps from the member's auto_increment_offset. The
        // sequence scenarios check what matters instead: NEXTVAL on any member is above every
        // value handed out before (s_sequences.rs).
        if kind == "TABLE" {
            c.query_drop("SET character_set_results = binary")
                .await
                .map_err(|err| e("SET", err))?;
            let rows: Vec<mysql_async::Row> = c
                .query(format!("SELECT * FROM `{db}`.`{t}`"))
                .await
                .map_err(|err| e("SELECT", err))?;
            c.query_drop("SET NAMES utf8mb4").await.map_err(|err| e("SET", err))?;
            let mut rendered: Vec<String> = rows
                .iter()
                .map(|r| {
                    let vals: Vec<String> = (0..r.len())
                        .map(|i| render_value(r.as_ref(i).unwrap_or(&mysql_async::Value::NULL), true))
                        .collect();
                    format!("({})", vals.join(", "))
                })
                .collect();
            rendered.sort();
            d.rows.insert(key, rendered);
        }
    }
    let routines: Vec<(String, String, Option<String>)> = c
        .exec(
            "SELECT ROUTINE_TYPE, ROUTINE_NAME, ROUTINE_DEFINITION FROM information_schema.ROUTINES \
             WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
            (db,),
        )
        .await
        .map_err(|err| e("routines", err))?;
    for (ty, name, body) in routines {
        let key = format!("{ty} {name}");
        d.objects.push(key.clone());
        d.defs.insert(key, body.unwrap_or_default());
    }
    let triggers: Vec<(String, String, String)> = c
        .exec(
            "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_STATEMENT FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME",
            (db,),
        )
        .await
        .map_err(|err| e("triggers", err))?;
    for (name, table, body) in triggers {
        let key = format!("TRIGGER {name} ON {table}");
        d.objects.push(key.clone());
        d.defs.insert(key, body);
    }
    let _ = c.disconnect().await;
    Ok(d)
}

/// Rows in `a` and not in `b` (multiset difference of sorted lists), at most `limit`.
fn only_in(a: &[String], b: &[String], limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() {
        if j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && b[j] < a[i] {
            j += 1;
        } else {
            out.push(a[i].clone());
            i += 1;
        }
    }
    let n = out.len();
    out.truncate(limit);
    if n > limit {
        out.push(format!("... and {} more", n - limit));
    }
    out
}

/// Every member's objects, definitions and rows of `db`, and `CHECKSUM TABLE`, must agree.
pub async fn compare_members(g: &TestGroup, db: &str, members: &[usize]) -> R {
    let mut dumps = Vec::new();
    for &m in members {
        dumps.push((m, dump(g, m, db).await?));
    }
    let (m0, base) = &dumps[0];
    let mut problems = Vec::new();
    for (m, d) in &dumps[1..] {
        if d.objects != base.objects {
            problems.push(format!(
                "objects differ:\n    member {m0}: {:?}\n    member {m}: {:?}",
                base.objects, d.objects
            ));
        }
        for (k, def) in &base.defs {
            if let Some(other) = d.defs.get(k) {
                if other != def {
                    problems.push(format!(
                        "definition of {k} differs:\n    member {m0}: {def}\n    member {m}: {other}"
                    ));
                }
            }
        }
        for (k, rows) in &base.rows {
            let Some(other) = d.rows.get(k) else { continue };
            if other != rows {
                problems.push(format!(
                    "rows of {k} differ ({} rows on member {m0}, {} on member {m}):\n    only on member {m0}: {:?}\n    only on member {m}: {:?}",
                    rows.len(),
                    other.len(),
                    only_in(rows, other, 12),
                    only_in(other, rows, 12)
                ));
            }
        }
    }
    if problems.is_empty() && !g.proxies.is_empty() && members.len() > 1 {
        for key in base.rows.keys().filter(|k| k.starts_with("TABLE ")) {
            let table = format!("`{db}`.`{}`", &key["TABLE ".len()..]);
            let sums = caught(g.checksums(&table)).await?;
            let sums: Vec<_> = members.iter().map(|&m| sums[m]).collect();
            if sums.iter().any(|s| *s != sums[0]) {
                problems.push(format!("CHECKSUM TABLE {table} differs: {sums:?}"));
            }
        }
    }
    ensure!(
        problems.is_empty(),
        "members differ in {db}:\n  {}",
        problems.join("\n  ")
    );
    Ok(())
}

// ---- running a list ----

/// Test functions take turns (2 cores): a group each at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct Failure {
    report: String,
    unhealthy: bool,
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).map(|v| !v.is_empty() && v != "0").unwrap_or(false)
}

/// Runs `scenarios` (those `CONVERGENCE_ONLY` selects) on one 3-member group; panics at the
/// end with every failure.
pub async fn run_suite(suite: &str, scenarios: Vec<Scenario>) {
    let filter: Vec<String> = std::env::var("CONVERGENCE_ONLY")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let chosen: Vec<Scenario> = scenarios
        .into_iter()
        .filter(|s| filter.is_empty() || filter.iter().any(|f| s.name.contains(f.as_str())))
        .collect();
    if chosen.is_empty() {
        eprintln!("[convergence] {suite}: no scenario selected");
        return;
    }
    let _turn = if env_flag("CONVERGENCE_PARALLEL") {
        None
    } else {
        Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
    };
    let baseline = env_flag("CONVERGENCE_BASELINE");
    let started = Instant::now();
    let mut group: Option<TestGroup> = None;
    let mut failures = Vec::new();
    for s in &chosen {
        if group.is_none() {
            group = Some(TestGroup::start(3).await);
        }
        let g = group.as_ref().unwrap();
        let t0 = Instant::now();
        match run_one(g, s, baseline).await {
            Ok(()) => eprintln!(
                "[convergence] ok      {suite}/{} [{}] {:.1}s",
                s.name,
                s.class,
                t0.elapsed().as_secs_f64()
            ),
            Err(f) => {
                eprintln!(
                    "[convergence] FAILED  {suite}/{} [{}] {:.1}s",
                    s.name,
                    s.class,
                    t0.elapsed().as_secs_f64()
                );
                failures.push(f.report);
                if f.unhealthy {
                    eprintln!(
                        "[convergence] {suite}: the group is unhealthy after {}; starting a new one",
                        s.name
                    );
                    stop_group(group.take().unwrap()).await;
                }
            }
        }
    }
    if let Some(g) = group.take() {
        stop_group(g).await;
    }
    eprintln!(
        "[convergence] {suite}: {} of {} scenarios passed in {:.1}s",
        chosen.len() - failures.len(),
        chosen.len(),
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        panic!(
            "{suite}: {} of {} scenarios failed:\n\n{}",
            failures.len(),
            chosen.len(),
            failures.join("\n\n")
        );
    }
}

async fn stop_group(mut g: TestGroup) {
    for p in std::mem::take(&mut g.proxies) {
        let _ = tokio::time::timeout(Duration::from_secs(10), p.stop()).await;
    }
    drop(g);
}

async fn run_one(g: &TestGroup, s: &Scenario, baseline: bool) -> Result<(), Failure> {
    let cx = Ctx::new(g, s.name, baseline);
    let created = async {
        if baseline {
            let mut c = mysql_async::Conn::new(g.mysqlds[0].direct_opts("root", ""))
                .await
                .map_err(|e| e.to_string())?;
            c.query_drop(format!("CREATE DATABASE `{}`", cx.db))
                .await
                .map_err(|e| e.to_string())?;
            let _ = c.disconnect().await;
            Ok(())
        } else {
            let mut c = mysql_async::Conn::new(crate::common::proxy_opts(&g.proxies[0], "root", ""))
                .await
                .map_err(|e| e.to_string())?;
            cx.q(0, &mut c, &format!("CREATE DATABASE `{}`", cx.db))
                .await
                .map_err(|e| e.to_string())?;
            let _ = c.disconnect().await;
            cx.converge().await
        }
    };
    let mut errors = Vec::new();
    let mut unhealthy = false;
    match created.await {
        Ok(()) => {
            match tokio::time::timeout(SCENARIO_TIMEOUT, caught((s.run)(&cx))).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => errors.push(e),
                Ok(Err(panic)) => errors.push(panic),
                Err(_) => {
                    errors.push(format!("timed out after {SCENARIO_TIMEOUT:?}"));
                    unhealthy = true;
                }
            }
            let conv = cx.converge().await;
            if let Err(e) = &conv {
                unhealthy = true;
                if s.compare {
                    errors.push(format!("after the scenario: {e}"));
                }
            }
            if errors.is_empty() && conv.is_ok() && s.compare {
                if let Err(e) = compare_members(g, &cx.db, &cx.checked_members()).await {
                    errors.push(e);
                }
            }
        }
        Err(e) => {
            errors.push(format!("creating the database: {e}"));
            unhealthy = true;
        }
    }
    if errors.is_empty() {
        if cx.started.elapsed() > SLOW_SCENARIO {
            eprintln!(
                "[convergence] slow scenario {} ({:.1}s):\n{}",
                s.name,
                cx.started.elapsed().as_secs_f64(),
                cx.log_text()
            );
        }
        return Ok(());
    }
    Err(Failure {
        report: format!(
            "=== scenario {} [{}] (database {})\n{}\n--- what ran ---\n{}",
            s.name,
            s.class,
            cx.db,
            errors.join("\n"),
            cx.log_text()
        ),
        unhealthy,
    })
}

/// What a statement the issue allowed either to replicate or to be refused does here, as
/// docs/compatibility.md says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It runs, and replicates.
    Ran,
    /// It is refused with 3098 and runs nowhere.
    Refused,
}

/// Checks that the run had the documented `want` outcome; `Ok(true)` when it ran.
pub fn outcome(out: &Out, what: &str, want: Outcome) -> Result<bool, String> {
    let got = if out.ok() {
        Outcome::Ran
    } else if out.code() == Some(REFUSED) {
        Outcome::Refused
    } else {
        return Err(format!("expected {want:?} for {what:?}, got {}", out.describe()));
    };
    ensure!(
        got == want,
        "expected {want:?} for {what:?}, got {got:?} ({})",
        out.describe()
    );
    Ok(got == Outcome::Ran)
}

/// The client-visible result lines must be `expected`.
pub fn lines_are(out: &Out, expected: &[&str], what: &str) -> R {
    let got = out.lines();
    ensure!(
        got == expected,
        "client output of {what:?}: expected {expected:?}, got {got:?} ({})",
        out.describe()
    );
    Ok(())
}
