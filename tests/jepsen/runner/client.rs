//! The clients: three kinds, each running one operation at a time against one member, and how
//! an operation's end is read from what the client saw.
//!
//! - [`ClientKind::Persistent`]: one mysql_async connection kept across operations (made again
//!   after it is lost);
//! - [`ClientKind::Fresh`]: a new mysql_async connection for every operation, closed after it;
//! - [`ClientKind::Cli`]: every operation is one run of the `mariadb` command-line client
//!   against the member's proxy, the transaction's statements on its stdin.
//!
//! mysql_async is not cancel-safe, so a whole operation runs under one timeout and the
//! connection is discarded when it fires (or after any connection error). The outcome rules:
//! - OK for COMMIT (or for the autocommit statement): `Ok`;
//! - 1213 (certification conflict, brute-force abort; SQLSTATE 40001): `Fail`, rolled back;
//! - 1180 (grproxy: commit outcome unknown): `Info`;
//! - any other error, or a timeout, before COMMIT was sent: `Fail` (the transaction is rolled
//!   back explicitly, or its connection is closed, which rolls it back);
//! - any other error, or a timeout, once COMMIT (or the autocommit write) was sent: `Info`.
//!
//! The CLI runs the same rules from its exit status and its `ERROR <code> (<sqlstate>) at line
//! <n>` line (see [`classify_cli`]): every statement sits on its own line, so the line says
//! whether the failing statement was the commit or came before it.

use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::Conn;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::jepsen::{OpId, OpValue, Outcome, Recorder};

/// The longest an operation may take before the client gives up on it (and its connection, or
/// kills its CLI process).
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause after failing to connect, before trying again.
pub const RECONNECT_PAUSE: Duration = Duration::from_millis(300);
/// Pause between two operations of a CLI client: every operation starts a process (and a TLS
/// handshake), which costs far more CPU than an operation on an open connection.
pub const CLI_PAUSE: Duration = Duration::from_millis(150);

/// The command-line client the CLI kind runs.
pub const CLI: &str = "mariadb";

/// grproxy's "the commit outcome is unknown" (ClientError::CommitUnknown).
pub const ER_COMMIT_UNKNOWN: u16 = 1180;
/// Certification conflict / brute-force abort.
pub const ER_LOCK_DEADLOCK: u16 = 1213;

/// How a client talks to its member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientKind {
    Persistent,
    Fresh,
    Cli,
}

impl ClientKind {
    pub const ALL: [ClientKind; 3] = [ClientKind::Persistent, ClientKind::Fresh, ClientKind::Cli];

    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Persistent => "persistent",
            ClientKind::Fresh => "fresh",
            ClientKind::Cli => "cli",
        }
    }

    /// `all` or empty: every kind; otherwise a comma-separated list of kind names.
    pub fn parse_list(text: &str) -> Result<Vec<ClientKind>, String> {
        let text = text.trim();
        if text.is_empty() || text == "all" {
            return Ok(Self::ALL.to_vec());
        }
        let mut kinds = Vec::new();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let k = Self::ALL
                .into_iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| format!("unknown client kind {name:?} (want persistent, fresh, cli or all)"))?;
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        if kinds.is_empty() {
            return Err(format!("no client kind in {text:?}"));
        }
        Ok(kinds)
    }

    pub fn names(kinds: &[ClientKind]) -> String {
        kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
    }
}

/// What the client learned about an operation.
#[derive(Debug)]
pub enum Ended<T> {
    Ok(T),
    Fail(String),
    Info(String),
}

/// What an operation's body returns: the value, or a reason it gave up on its own (having
/// rolled back), or the error that stopped it.
pub type BodyResult<T> = Result<Result<T, String>, mysql_async::Error>;

/// An operation's body on a mysql_async connection.
pub type BodyFuture<'a> = Pin<Box<dyn Future<Output = BodyResult<OpValue>> + Send + 'a>>;

/// Marks the point where an operation sends COMMIT (or its autocommit write): from there on,
/// an error leaves the outcome unknown.
#[derive(Default)]
pub struct CommitMark(AtomicBool);

impl CommitMark {
    pub fn committing(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn sent(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A transaction as statements for the CLI, one a line (so the CLI's `at line N` names the
/// statement); `commit` is the index of the statement whose success commits (COMMIT, or the
/// autocommit write).
pub struct Script {
    pub statements: Vec<String>,
    pub commit: usize,
}

impl Script {
    /// `BEGIN`, the statements, `COMMIT`.
    pub fn transaction(body: Vec<String>) -> Script {
        let mut statements = vec!["BEGIN".to_string()];
        statements.extend(body);
        statements.push("COMMIT".to_string());
        Script {
            commit: statements.len() - 1,
            statements,
        }
    }

    /// One autocommit statement.
    pub fn autocommit(statement: String) -> Script {
        Script {
            statements: vec![statement],
            commit: 0,
        }
    }

    fn text(&self) -> String {
        let mut s = String::new();
        for st in &self.statements {
            debug_assert!(!st.contains('\n'), "a script statement must fit on one line: {st}");
            s.push_str(st);
            s.push_str(";\n");
        }
        s
    }
}

/// One operation of a workload, as every kind of client runs it.
pub trait Operation: Sync {
    /// What the operation asks for, as recorded at its invocation.
    fn invoked(&self) -> OpValue;
    /// The operation on a mysql_async connection; calls `mark.committing()` just before it
    /// sends COMMIT (or the autocommit write).
    fn body<'a>(&'a self, c: &'a mut Conn, mark: &'a CommitMark) -> BodyFuture<'a>;
    /// The operation as a CLI script.
    fn script(&self) -> Script;
    /// What came back, from the stdout (`-N -B`: one line a row, tab-separated) of a CLI run
    /// that exited 0, i.e. committed.
    fn parse(&self, stdout: &str) -> Result<OpValue, String>;
}

/// One client: its kind, its member, and its connection (the persistent kind's, or the fresh
/// kind's for the length of one operation).
pub struct Client {
    pub kind: ClientKind,
    pub member: usize,
    session: Session,
    port: u16,
}

impl Client {
    /// A client of `kind` on member `member`, whose proxy takes mysql_async connections with
    /// `opts` and the CLI's on 127.0.0.1:`port`.
    pub fn new(kind: ClientKind, member: usize, opts: mysql_async::Opts, port: u16) -> Client {
        Client {
            kind,
            member,
            session: Session::new(opts),
            port,
        }
    }

    /// Whether the client can run an operation now: a persistent client needs its connection
    /// (made now if there is none; the caller pauses and tries again if the member did not
    /// take one). The other kinds connect inside the operation.
    pub async fn ready(&mut self) -> bool {
        match self.kind {
            ClientKind::Persistent => self.session.conn().await.is_some(),
            _ => true,
        }
    }

    /// Records and runs one operation; its outcome, or None if a persistent client had no
    /// connection to run it on (nothing recorded).
    pub async fn perform(&mut self, rec: &Recorder, process: usize, op: &dyn Operation) -> Option<Outcome> {
        let member = self.member;
        let (id, ended, unreachable) = match self.kind {
            ClientKind::Persistent => {
                let conn = self.session.conn().await?;
                let id = rec.invoke(process, member, op.invoked());
                let mark = CommitMark::default();
                let r = tokio::time::timeout(OP_TIMEOUT, op.body(conn, &mark)).await;
                (id, self.session.settle(r, &mark).await, false)
            }
            ClientKind::Fresh => {
                let id = rec.invoke(process, member, op.invoked());
                match self.session.connect().await {
                    Err(e) => (id, Ended::Fail(e), true),
                    Ok(conn) => {
                        let mark = CommitMark::default();
                        let r = tokio::time::timeout(OP_TIMEOUT, op.body(conn, &mark)).await;
                        let ended = self.session.settle(r, &mark).await;
                        self.session.close().await;
                        (id, ended, false)
                    }
                }
            }
            ClientKind::Cli => {
                let id = rec.invoke(process, member, op.invoked());
                let script = op.script();
                let run = run_cli(self.port, &script).await;
                let unreachable = run.unreachable;
                let ended = match run.ended {
                    Ended::Ok(stdout) => match op.parse(&stdout) {
                        Ok(v) => Ended::Ok(v),
                        // Committed, but what it read is not known: it may not count as an
                        // observation, and `info` claims nothing.
                        Err(e) => Ended::Info(format!("cli: exited 0, but its output is unreadable: {e}: {stdout:?}")),
                    },
                    Ended::Fail(e) => Ended::Fail(e),
                    Ended::Info(e) => Ended::Info(e),
                };
                (id, ended, unreachable)
            }
        };
        let outcome = record(rec, id, ended);
        if unreachable {
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
        Some(outcome)
    }

    /// Pause between two operations.
    pub async fn pace(&self) {
        if self.kind == ClientKind::Cli {
            tokio::time::sleep(CLI_PAUSE).await;
        }
    }
}

/// A client's mysql_async connection to one member: kept across operations (persistent) or
/// made for one (fresh).
pub struct Session {
    opts: mysql_async::Opts,
    conn: Option<Conn>,
}

impl Session {
    pub fn new(opts: mysql_async::Opts) -> Self {
        Session { opts, conn: None }
    }

    /// The connection, made now if there is none. None if the member did not accept one in
    /// time (the caller pauses and tries again).
    pub async fn conn(&mut self) -> Option<&mut Conn> {
        if self.conn.is_none() {
            self.conn = self.open().await.ok();
        }
        self.conn.as_mut()
    }

    /// A new connection, replacing any there was; why not, if the member took none in time.
    async fn connect(&mut self) -> Result<&mut Conn, String> {
        self.conn = None;
        let c = self.open().await?;
        Ok(self.conn.insert(c))
    }

    async fn open(&self) -> Result<Conn, String> {
        match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(self.opts.clone())).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(format!("connect: {e}")),
            Err(_) => Err(format!("connect: no connection in {CONNECT_TIMEOUT:?}")),
        }
    }

    /// Closes the connection (COM_QUIT), if there is one; one that does not close in time is
    /// dropped.
    async fn close(&mut self) {
        if let Some(c) = self.conn.take() {
            let _ = tokio::time::timeout(CONNECT_TIMEOUT, c.disconnect()).await;
        }
    }

    pub fn discard(&mut self) {
        self.conn = None;
    }

    /// Turns a timed body's result into the op's end, cleaning up the connection: rolled back
    /// after an error before COMMIT, discarded after a connection error or timeout.
    pub async fn settle<T>(
        &mut self,
        r: Result<BodyResult<T>, tokio::time::error::Elapsed>,
        mark: &CommitMark,
    ) -> Ended<T> {
        let committing = mark.sent();
        let e = match r {
            Err(_) => {
                self.discard();
                return if committing {
                    Ended::Info(format!("no answer to COMMIT in {OP_TIMEOUT:?}"))
                } else {
                    Ended::Fail(format!("timed out after {OP_TIMEOUT:?} before COMMIT"))
                };
            }
            Ok(Ok(Ok(v))) => return Ended::Ok(v),
            Ok(Ok(Err(reason))) => return Ended::Fail(reason),
            Ok(Err(e)) => e,
        };
        let text = e.to_string();
        match &e {
            mysql_async::Error::Server(s) if s.code == ER_LOCK_DEADLOCK => {
                if !committing {
                    self.rollback().await;
                }
                Ended::Fail(text)
            }
            mysql_async::Error::Server(s) if s.code == ER_COMMIT_UNKNOWN => {
                self.discard();
                Ended::Info(text)
            }
            mysql_async::Error::Server(_) if !committing => {
                self.rollback().await;
                Ended::Fail(text)
            }
            mysql_async::Error::Server(_) => {
                self.discard();
                Ended::Info(text)
            }
            _ => {
                self.discard();
                if committing {
                    Ended::Info(text)
                } else {
                    Ended::Fail(text)
                }
            }
        }
    }

    /// Rolls back an open transaction; a connection that cannot is discarded (closing it
    /// rolls back too).
    async fn rollback(&mut self) {
        let Some(c) = self.conn.as_mut() else { return };
        let r = tokio::time::timeout(Duration::from_secs(3), c.query_drop("ROLLBACK")).await;
        if !matches!(r, Ok(Ok(()))) {
            self.discard();
        }
    }
}

/// Records an op's end; returns its outcome.
pub fn record(rec: &Recorder, op: OpId, ended: Ended<OpValue>) -> Outcome {
    match ended {
        Ended::Ok(v) => {
            rec.ok(op, v);
            Outcome::Ok
        }
        Ended::Fail(e) => {
            rec.fail(op, e);
            Outcome::Fail
        }
        Ended::Info(e) => {
            rec.info(op, e);
            Outcome::Info
        }
    }
}

// ---- the CLI ----

/// Whether `mariadb` can be run at all (a run with CLI clients checks before it starts).
pub fn cli_available() -> Result<String, String> {
    let out = std::process::Command::new(CLI)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run `{CLI} --version`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{CLI} --version` exited with {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The end of one CLI run: Ok carries its stdout. `unreachable`: it failed while connecting.
struct CliRun {
    ended: Ended<String>,
    unreachable: bool,
}

/// Runs `script` through the CLI against 127.0.0.1:`port`, killing it after [`OP_TIMEOUT`].
async fn run_cli(port: u16, script: &Script) -> CliRun {
    let mut cmd = tokio::process::Command::new(CLI);
    cmd.arg("--no-defaults") // no option file of the machine's may change what it does
        .arg("-h127.0.0.1")
        .arg(format!("-P{port}"))
        .arg("-uroot")
        .arg("--protocol=TCP")
        .arg("-N")
        .arg("-B")
        // Never reconnect: a statement re-sent on a new connection would run outside the
        // transaction (autocommit), and the rest of the script with it.
        .arg("--skip-reconnect")
        .arg(format!("--connect-timeout={}", CONNECT_TIMEOUT.as_secs()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return CliRun {
                ended: Ended::Fail(format!("cli: could not start {CLI}: {e}")),
                unreachable: true,
            }
        }
    };
    let text = script.text();
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let io = async {
        let feed = async move {
            if let Some(mut i) = stdin {
                // A CLI that could not connect exits without reading: the write may fail.
                let _ = i.write_all(text.as_bytes()).await;
                let _ = i.shutdown().await;
            }
        };
        let ((), out, err) = tokio::join!(feed, read_all(stdout), read_all(stderr));
        (out, err)
    };
    let finished = tokio::time::timeout(OP_TIMEOUT, async {
        let (out, err) = io.await;
        let status = child.wait().await;
        (status, out, err)
    })
    .await;
    match finished {
        Err(_) => {
            // SIGKILL, and reap it.
            let _ = child.kill().await;
            CliRun {
                ended: classify_cli(None, "", "", script.commit),
                unreachable: false,
            }
        }
        Ok((Err(e), _, _)) => CliRun {
            ended: Ended::Info(format!("cli: could not wait for {CLI}: {e}")),
            unreachable: false,
        },
        Ok((Ok(status), out, err)) => {
            let ended = classify_cli(Some(status.code()), &out, &err, script.commit);
            let unreachable = matches!(&ended, Ended::Fail(_)) && cli_error(&err).is_some_and(|e| e.line.is_none());
            CliRun { ended, unreachable }
        }
    }
}

/// Everything a child's pipe gives until it closes.
async fn read_all<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>) -> String {
    let mut buf = Vec::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_end(&mut buf).await;
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// An `ERROR <code> (<sqlstate>)[ at line <n>]: <message>` line of the CLI's stderr.
#[derive(Debug, PartialEq, Eq)]
pub struct CliError {
    pub code: u16,
    pub sqlstate: String,
    /// The script line (1-based) of the statement that failed; None for an error while
    /// connecting (before any statement was sent).
    pub line: Option<usize>,
    pub message: String,
}

/// The last error line of the CLI's stderr (in batch mode without --force it stops at the
/// first error, so there is at most one).
pub fn cli_error(stderr: &str) -> Option<CliError> {
    stderr.lines().rev().find_map(parse_cli_error)
}

fn parse_cli_error(line: &str) -> Option<CliError> {
    let rest = line.trim_end().strip_prefix("ERROR ")?;
    let (code, rest) = rest.split_once(' ')?;
    let code: u16 = code.parse().ok()?;
    let rest = rest.strip_prefix('(')?;
    let (sqlstate, rest) = rest.split_once(')')?;
    if sqlstate.len() != 5 {
        return None;
    }
    let (place, message) = rest.split_once(": ")?;
    let line = match place.trim() {
        "" => None,
        p => Some(p.strip_prefix("at line ")?.trim().parse().ok()?),
    };
    Some(CliError {
        code,
        sqlstate: sqlstate.to_string(),
        line,
        message: message.to_string(),
    })
}

/// The op's end from a CLI run: `status` is None if it was killed on timeout, Some(None) if a
/// signal ended it, Some(Some(code)) for its exit code; `commit` is the index of the
/// committing statement (on script line `commit + 1`).
///
/// - exit 0: `Ok` (stdout carried);
/// - `ERROR 1213`: `Fail`; `ERROR 1180`: `Info`;
/// - an error without a line (while connecting: nothing was sent): `Fail`;
/// - an error at a line before the commit's: `Fail` (the CLI stops there and exits, closing the
///   connection, which rolls the transaction back);
/// - an error at the commit's line: `Info` (the commit's fate is unknown);
/// - killed on timeout, ended by a signal, or a non-zero exit without an error line: `Info`
///   (the script, COMMIT included, was handed over, and nothing says how far it got).
pub fn classify_cli(status: Option<Option<i32>>, stdout: &str, stderr: &str, commit: usize) -> Ended<String> {
    let commit_line = commit + 1;
    let output = |stdout: &str| {
        let s = stdout.trim_end();
        if s.is_empty() {
            String::new()
        } else {
            let s: String = s.chars().take(200).collect();
            format!("; stdout: {s:?}")
        }
    };
    let code = match status {
        None => {
            return Ended::Info(format!(
                "cli: killed after {OP_TIMEOUT:?}; COMMIT (script line {commit_line}) may have been sent"
            ))
        }
        Some(Some(0)) => return Ended::Ok(stdout.to_string()),
        Some(c) => c,
    };
    let exit = code.map_or("killed by a signal".to_string(), |c| format!("exit {c}"));
    let Some(e) = cli_error(stderr) else {
        let err: String = stderr.trim().chars().take(300).collect();
        return Ended::Info(format!(
            "cli: {exit} without an error line after the script (COMMIT included) was sent; stderr: {err:?}{}",
            output(stdout)
        ));
    };
    let text = format!(
        "cli: ERROR {} ({}){}: {} [{exit}]{}",
        e.code,
        e.sqlstate,
        e.line.map(|l| format!(" at line {l}")).unwrap_or_default(),
        e.message,
        output(stdout)
    );
    if e.code == ER_LOCK_DEADLOCK {
        return Ended::Fail(text);
    }
    if e.code == ER_COMMIT_UNKNOWN {
        return Ended::Info(text);
    }
    match e.line {
        None => Ended::Fail(text),
        Some(l) if l < commit_line => Ended::Fail(text),
        Some(_) => Ended::Info(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(e: &Ended<String>) -> &'static str {
        match e {
            Ended::Ok(_) => "ok",
            Ended::Fail(_) => "fail",
            Ended::Info(_) => "info",
        }
    }

    #[test]
    fn parses_the_cli_error_lines() {
        let err = "--------------\nCOMMIT\n--------------\n\nERROR 1213 (40001) at line 7: Deadlock found when trying to get lock; try restarting transaction\n";
        assert_eq!(
            cli_error(err),
            Some(CliError {
                code: 1213,
                sqlstate: "40001".into(),
                line: Some(7),
                message: "Deadlock found when trying to get lock; try restarting transaction".into()
            })
        );
        let connect = "ERROR 2002 (HY000): Can't connect to server on '127.0.0.1' (115)\n";
        assert_eq!(cli_error(connect).map(|e| (e.code, e.line)), Some((2002, None)));
        assert_eq!(cli_error("ERROR: something else\n"), None);
        assert_eq!(cli_error(""), None);
    }

    #[test]
    fn cli_outcomes_follow_the_client_rules() {
        // Script: BEGIN (1), two statements (2, 3), COMMIT (4): commit index 3.
        let c = 3;
        let case = |status, stderr: &str| kind(&classify_cli(status, "", stderr, c));
        assert_eq!(case(Some(Some(0)), ""), "ok");
        assert_eq!(case(None, ""), "info", "killed on timeout");
        assert_eq!(case(Some(None), ""), "info", "ended by a signal");
        assert_eq!(
            case(Some(Some(1)), "Segmentation fault\n"),
            "info",
            "non-zero exit, no error line"
        );
        assert_eq!(
            case(
                Some(Some(1)),
                "ERROR 2002 (HY000): Can't connect to server on '127.0.0.1' (111)"
            ),
            "fail"
        );
        assert_eq!(case(Some(Some(1)), "ERROR 2013 (HY000): Lost connection to server at 'handshake: reading initial communication packet', system error: 104"), "fail");
        assert_eq!(case(Some(Some(1)), "ERROR 1213 (40001) at line 4: Deadlock"), "fail");
        assert_eq!(case(Some(Some(1)), "ERROR 1213 (40001) at line 2: Deadlock"), "fail");
        assert_eq!(
            case(Some(Some(1)), "ERROR 3098 (HY000) at line 3: cannot replicate"),
            "fail"
        );
        assert_eq!(
            case(
                Some(Some(1)),
                "ERROR 2013 (HY000) at line 2: Lost connection to server during query"
            ),
            "fail"
        );
        assert_eq!(
            case(
                Some(Some(1)),
                "ERROR 2013 (HY000) at line 4: Lost connection to server during query"
            ),
            "info"
        );
        assert_eq!(
            case(
                Some(Some(1)),
                "ERROR 2026 (HY000) at line 4: TLS/SSL error: unexpected eof while reading"
            ),
            "info"
        );
        assert_eq!(
            case(
                Some(Some(1)),
                "ERROR 1180 (HY000) at line 4: the commit outcome is unknown"
            ),
            "info"
        );
        // An autocommit write commits on line 1.
        assert_eq!(
            kind(&classify_cli(
                Some(Some(1)),
                "",
                "ERROR 2013 (HY000) at line 1: Lost",
                0
            )),
            "info"
        );
        assert_eq!(
            kind(&classify_cli(
                Some(Some(1)),
                "",
                "ERROR 1213 (40001) at line 1: Deadlock",
                0
            )),
            "fail"
        );
    }

    #[test]
    fn client_kinds_parse() {
        assert_eq!(ClientKind::parse_list("").unwrap(), ClientKind::ALL.to_vec());
        assert_eq!(ClientKind::parse_list("all").unwrap(), ClientKind::ALL.to_vec());
        assert_eq!(
            ClientKind::parse_list("cli, fresh,cli").unwrap(),
            vec![ClientKind::Cli, ClientKind::Fresh]
        );
        assert!(ClientKind::parse_list("pooled").is_err());
    }

    #[test]
    fn scripts_put_one_statement_on_a_line() {
        let s = Script::transaction(vec!["SELECT 1".into(), "SELECT 2".into()]);
        assert_eq!(s.text(), "BEGIN;\nSELECT 1;\nSELECT 2;\nCOMMIT;\n");
        assert_eq!(s.commit, 3);
        assert_eq!(Script::autocommit("INSERT 1".into()).commit, 0);
    }
}
