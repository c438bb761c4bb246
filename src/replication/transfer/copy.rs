//! The data-copy half of a state transfer: a consistent logical copy of a donor's mysqld
//! with `mariadb-dump`, loaded into the joiner's with the `mariadb` client.
//!
//! - Consistent: `--single-transaction` reads every InnoDB table, the applied-index markers
//!   (`grproxy.applied`) included, in one snapshot, so the copy's markers say exactly which
//!   log entries its data holds. DDL and account changes wait while a copy is taken (the
//!   donor's `CopyGate`): the snapshot covers rows, not what tables and accounts exist.
//! - Two dumps, one stream: first every schema but the system ones, with routines, events,
//!   triggers and binary columns in hex; then the accounts (`--system=users`). Accounts come
//!   last because a grant on a table or routine needs it to exist. The account dump is one
//!   statement per line, so it is filtered by line ([`AccountFilter`]): the donor's own
//!   service account is left out (every member keeps its own), and so is what the joiner
//!   cannot or need not replay. `--insert-ignore` makes it `CREATE USER IF NOT EXISTS`, so a
//!   joiner that has the accounts already loads it; each account's first GRANT carries its
//!   password hash, so passwords follow the donor. Grants the joiner has beyond the donor's
//!   stay (`--replace` would drop them, but wraps each account in a `DELIMITER` block that
//!   refuses the loading account itself). Roles are dropped before the load: an existing
//!   role keeps its admins, and the dump's import role could not grant it.
//! - The stream ends with [`TRAILER`]: a restore that does not see it at the end refuses the
//!   copy (a stream cut at a statement boundary would otherwise load without an error).
//! - Loaded with `sql_log_bin=0`: nothing of it reaches the joiner's binlog.
//! - Passwords go in a private defaults file, never on a command line.

use std::path::PathBuf;
use std::process::Stdio;

use mysql_async::prelude::Queryable;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;

mod accounts;
mod private_dir;
mod restore;

use accounts::AccountFilter;
pub use restore::restore;

/// Schemas a copy never touches.
const SYSTEM_SCHEMAS: &str = "'mysql','information_schema','performance_schema','sys'";
/// The last line of every complete copy.
pub const TRAILER: &[u8] = b"-- grproxy copy complete\n";
/// Progress is reported at least this often (bytes).
const PROGRESS_EVERY: u64 = 4 << 20;
/// Client-side packet limit for both programs: a row with a large BLOB, in hex, is one
/// statement (mysqld's own max_allowed_packet still applies).
const MAX_PACKET: &str = "--max-allowed-packet=1G";

/// How to reach a local mysqld as the proxy's service account.
#[derive(Debug, Clone)]
pub struct MysqldTarget {
    pub unix_socket: Option<PathBuf>,
    /// `host:port`, used when there is no socket.
    pub address: Option<String>,
    pub user: String,
    pub password: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{0} not found (install mariadb-client)")]
    NotFound(&'static str),
    #[error("{what}: {source}")]
    Io { what: &'static str, source: std::io::Error },
    #[error("mysqld: {0}")]
    Mysql(#[from] mysql_async::Error),
    #[error("mariadb-dump failed: {0}")]
    Dump(String),
    #[error("the dump was not read to its end")]
    Unfinished,
    #[error("loading the copy failed: {0}")]
    Load(String),
    #[error("the copy is incomplete (no end marker after {0} bytes); nothing after its last statement was loaded")]
    Truncated(u64),
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> CopyError {
    move |source| CopyError::Io { what, source }
}

impl MysqldTarget {
    fn opts(&self) -> mysql_async::Opts {
        let mut b = mysql_async::OptsBuilder::default()
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()));
        if let Some(s) = &self.unix_socket {
            b = b.socket(Some(s.to_string_lossy().into_owned()));
        } else if let Some((h, p)) = self.address.as_deref().and_then(|a| a.rsplit_once(':')) {
            b = b
                .ip_or_hostname(h.to_string())
                .tcp_port(p.parse().unwrap_or(3306))
                .prefer_socket(false);
        }
        b.into()
    }

    async fn connect(&self) -> Result<mysql_async::Conn, CopyError> {
        Ok(mysql_async::Conn::new(self.opts()).await?)
    }

    /// A private directory (0700) holding a `[client]` defaults file (0600) with the
    /// credentials and the way to the server.
    fn defaults_file(&self) -> Result<(PrivateDir, PathBuf), CopyError> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = std::env::temp_dir();
        // Directories of grproxy processes that ended without removing theirs (killed during
        // a copy), this pid's earlier one included: each holds a password.
        private_dir::remove_stale(&tmp, std::process::id());
        let dir = tmp.join(format!("{}{}-{n}", private_dir::PREFIX, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io("creating a private directory"))?;
        let dir = PrivateDir(dir);
        let path = dir.0.join("client.cnf");
        let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let mut text = format!(
            "[client]\nuser=\"{}\"\npassword=\"{}\"\n",
            q(&self.user),
            q(&self.password)
        );
        if let Some(s) = &self.unix_socket {
            text.push_str(&format!("socket=\"{}\"\nprotocol=socket\n", q(&s.to_string_lossy())));
        } else if let Some((h, p)) = self.address.as_deref().and_then(|a| a.rsplit_once(':')) {
            text.push_str(&format!("host=\"{}\"\nport={p}\nprotocol=tcp\n", q(h)));
        }
        crate::sandbox::certs::write_private(&path, &text).map_err(io("writing the defaults file"))?;
        Ok((dir, path))
    }
}

fn program(names: &[&'static str]) -> Result<PathBuf, CopyError> {
    crate::sandbox::mysqld::find_program(names).ok_or(CopyError::NotFound(names[0]))
}

use private_dir::PrivateDir;

/// One running `mariadb-dump`, its stderr collected on the side (it must not fill up).
struct Running {
    child: Child,
    out: BufReader<ChildStdout>,
    err: JoinHandle<String>,
}

impl Running {
    fn spawn(defaults: &std::path::Path, args: &[String]) -> Result<Running, CopyError> {
        let mut child = Command::new(program(&["mariadb-dump", "mysqldump"])?)
            .arg(format!("--defaults-extra-file={}", defaults.display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(io("starting mariadb-dump"))?;
        let out = BufReader::with_capacity(1 << 20, child.stdout.take().expect("piped"));
        let mut stderr = child.stderr.take().expect("piped");
        let err = tokio::spawn(async move {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s).await;
            s
        });
        Ok(Running { child, out, err })
    }

    /// Waits for the program; `Err` with what it printed when it failed. `tolerated` picks
    /// stderr lines that do not fail the dump.
    async fn wait(mut self, tolerated: impl Fn(&str) -> bool) -> Result<(), String> {
        let status = self.child.wait().await.map_err(|e| format!("waiting for it: {e}"))?;
        let err = self.err.await.unwrap_or_default();
        let fatal: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty() && !tolerated(l)).collect();
        if status.success() || (status.code().is_some() && fatal.is_empty()) {
            return Ok(());
        }
        if fatal.is_empty() {
            return Err(format!("{status}"));
        }
        Err(fatal.join("; "))
    }
}

enum Stage {
    Data(Running),
    Accounts(Running),
    Done,
}

/// A running dump: read the copy from it with [`Dump::read`] to its end, then
/// [`Dump::finish`].
pub struct Dump {
    stage: Stage,
    filter: AccountFilter,
    defaults: PathBuf,
    pending: Vec<u8>,
    /// Statements the donor adds at the end of the copy (before the trailer).
    extra: Vec<u8>,
    failed: Option<String>,
    _dir: PrivateDir,
}

/// Starts the copy of `target`'s mysqld, leaving out the account `exclude_user` (any host).
pub async fn start_dump(target: &MysqldTarget, exclude_user: &str) -> Result<Dump, CopyError> {
    let mut c = target.connect().await?;
    let schemas: Vec<String> = c
        .query(format!(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ({SYSTEM_SCHEMAS}) ORDER BY 1"
        ))
        .await?;
    let _ = c.disconnect().await;
    let (dir, defaults) = target.defaults_file()?;
    // With no schema to copy, mariadb-dump would need one named: only the accounts then.
    let stage = if schemas.is_empty() {
        Stage::Accounts(accounts_dump(&defaults)?)
    } else {
        let mut args: Vec<String> = [
            "--single-transaction",
            "--routines",
            "--events",
            "--triggers",
            "--hex-blob",
            "--skip-dump-date",
            MAX_PACKET,
            "--databases",
        ]
        .map(String::from)
        .to_vec();
        args.extend(schemas);
        Stage::Data(Running::spawn(&defaults, &args)?)
    };
    Ok(Dump {
        stage,
        filter: AccountFilter::new(exclude_user),
        defaults,
        pending: Vec::new(),
        extra: Vec::new(),
        failed: None,
        _dir: dir,
    })
}

/// The accounts and roles, one statement a line, `CREATE ... IF NOT EXISTS`.
fn accounts_dump(defaults: &std::path::Path) -> Result<Running, CopyError> {
    let args = ["--system=users", "--insert-ignore", "--skip-dump-date", "--force"];
    Running::spawn(defaults, &args.map(String::from))
}

/// The account dump's lines that fail when mariadb-dump cannot show an account it lists (a
/// host name under skip_name_resolve, which no client can use either).
fn unshowable_account(line: &str) -> bool {
    line.contains("Couldn't execute 'SHOW CREATE USER") || line.contains("Couldn't execute 'SHOW GRANTS FOR")
}

impl Dump {
    /// Adds statements at the end of the copy, before its trailer (the donor's markers).
    pub fn append_sql(&mut self, sql: Vec<u8>) {
        self.extra.extend_from_slice(&sql);
    }

    /// Reads the next part of the copy into `buf` (0 at its end). Not cancel-safe: a dump
    /// whose read was dropped midway is to be dropped too.
    pub async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if !self.pending.is_empty() {
                let n = buf.len().min(self.pending.len());
                buf[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                return Ok(n);
            }
            match &mut self.stage {
                Stage::Data(r) => {
                    let n = r.out.read(buf).await?;
                    if n > 0 {
                        return Ok(n);
                    }
                    let Stage::Data(r) = std::mem::replace(&mut self.stage, Stage::Done) else {
                        unreachable!()
                    };
                    self.check(r.wait(|_| false).await)?;
                    let accounts = accounts_dump(&self.defaults).map_err(|e| self.fail(e.to_string()))?;
                    self.stage = Stage::Accounts(accounts);
                }
                Stage::Accounts(r) => {
                    if r.out.read_until(b'\n', &mut self.pending).await? > 0 {
                        if !self.filter.keep(&self.pending) {
                            self.pending.clear();
                        }
                        continue;
                    }
                    let Stage::Accounts(r) = std::mem::replace(&mut self.stage, Stage::Done) else {
                        unreachable!()
                    };
                    // --force goes on past accounts it cannot show; anything else is fatal.
                    self.check(r.wait(unshowable_account).await)?;
                    self.pending = std::mem::take(&mut self.extra);
                    self.pending.extend_from_slice(TRAILER);
                }
                Stage::Done => return Ok(0),
            }
        }
    }

    fn fail(&mut self, e: String) -> std::io::Error {
        self.failed = Some(e.clone());
        std::io::Error::other(format!("mariadb-dump failed: {e}"))
    }

    fn check(&mut self, r: Result<(), String>) -> std::io::Result<()> {
        r.map_err(|e| self.fail(e))
    }

    /// Reports how the dump ended: an error carries what mariadb-dump printed.
    pub async fn finish(self) -> Result<(), CopyError> {
        if let Some(e) = self.failed {
            return Err(CopyError::Dump(e));
        }
        match self.stage {
            Stage::Done if self.pending.is_empty() => Ok(()),
            _ => Err(CopyError::Unfinished),
        }
    }
}
