//! Starting and stopping local mariadbd / mysqld instances. Used by `grproxy sandbox` and by
//! the integration-test harness, so both run mysqld the same way.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum MysqldError {
    #[error("{0} not found on PATH, /usr/sbin or /usr/bin (run deploy/install-deps.sh)")]
    NotFound(&'static str),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("initializing {dir}: {log}")]
    Init { dir: String, log: String },
    #[error("mysqld in {dir} did not become ready in time; last log lines:\n{log}")]
    NotReady { dir: String, log: String },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> MysqldError {
    let what = what.into();
    move |source| MysqldError::Io { what, source }
}

/// Finds a program on PATH or in the sbin directories Debian installs servers to.
pub fn find_program(names: &[&'static str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from));
    for name in names {
        for d in &dirs {
            let p = d.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

pub fn mysqld_binary() -> Result<PathBuf, MysqldError> {
    find_program(&["mariadbd", "mysqld"]).ok_or(MysqldError::NotFound("mariadbd"))
}

/// Creates a fresh datadir with `root@localhost` reachable without a password.
pub fn init_datadir(datadir: &Path) -> Result<(), MysqldError> {
    init_datadir_with(datadir, &[])
}

/// [`init_datadir`] with extra server options (mariadb-install-db passes them to the
/// bootstrap mysqld), e.g. a smaller redo log.
pub fn init_datadir_with(datadir: &Path, extra: &[&str]) -> Result<(), MysqldError> {
    let install =
        find_program(&["mariadb-install-db", "mysql_install_db"]).ok_or(MysqldError::NotFound("mariadb-install-db"))?;
    std::fs::create_dir_all(datadir).map_err(io(format!("creating {}", datadir.display())))?;
    // Its own temporary directory here too: a starting mysqld deletes every `#sql*` file in
    // its tmpdir, so bootstraps sharing /tmp removed each other's temporary tables
    // ("Unknown table 'mysql.tmp_user_sys'" when several sandboxes start at once).
    let mut tmp = datadir.as_os_str().to_owned();
    tmp.push(".install-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::create_dir_all(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
    let mut cmd = Command::new(install);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", datadir.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg("--skip-name-resolve")
        .args(extra);
    if is_root() {
        cmd.arg("--user=root");
    }
    let out = cmd.output().map_err(io("running mariadb-install-db"));
    let _ = std::fs::remove_dir_all(&tmp);
    let out = out?;
    if !out.status.success() {
        return Err(MysqldError::Init {
            dir: datadir.display().to_string(),
            log: String::from_utf8_lossy(&out.stderr).chars().take(4000).collect(),
        });
    }
    Ok(())
}

pub fn is_root() -> bool {
    // SAFETY-free way to learn the effective uid: /proc/self/status.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Paths and port of one instance.
#[derive(Debug, Clone)]
pub struct MysqldLayout {
    pub datadir: PathBuf,
    pub socket: PathBuf,
    pub port: u16,
    pub log: PathBuf,
    pub pid_file: PathBuf,
}

impl MysqldLayout {
    /// Everything under `dir`: `data/`, `mysqld.sock`, `mysqld.log`, `mysqld.pid`.
    pub fn under(dir: &Path, port: u16) -> Self {
        MysqldLayout {
            datadir: dir.join("data"),
            socket: dir.join("mysqld.sock"),
            port,
            log: dir.join("mysqld.log"),
            pid_file: dir.join("mysqld.pid"),
        }
    }
}

/// Server settings shared by the sandbox, the tests and the benchmarks: durable InnoDB
/// (flush at every commit), a durable row-based binlog with full images (grproxy reads each
/// transaction's row events from it), a server id of the port, loopback only.
pub fn server_args(l: &MysqldLayout, extra: &[String]) -> Vec<String> {
    let mut args = vec![
        "--no-defaults".to_string(),
        format!("--datadir={}", l.datadir.display()),
        format!("--socket={}", l.socket.display()),
        format!("--port={}", l.port),
        "--bind-address=127.0.0.1".into(),
        format!("--pid-file={}", l.pid_file.display()),
        format!("--log-error={}", l.log.display()),
        "--skip-name-resolve".into(),
        // grproxy opens each client session with a PROXY protocol header (the client's own
        // address); mysqld takes it only from grproxy's address.
        "--proxy-protocol-networks=127.0.0.1".into(),
        format!("--log-bin={}", l.datadir.join("binlog").display()),
        // A temporary directory of its own: mysqld names on-disk temporary tables after its
        // pid, and a mysqld killed with -9 leaves them behind in a shared /tmp, where a later
        // mysqld with the same pid fails to create them (MariaDB 10.11 then crashed on an
        // information_schema query in the test suite).
        format!("--tmpdir={}", tmp_dir(l).display()),
        "--binlog-format=ROW".into(),
        "--binlog-row-image=FULL".into(),
        "--sync-binlog=1".into(),
        format!("--server-id={}", l.port),
        // Binlogs are purged after a day: enough for a tap to resume after a restart.
        "--expire-logs-days=1".into(),
        "--innodb-buffer-pool-size=256M".into(),
        "--innodb-flush-log-at-trx-commit=1".into(),
        "--max-connections=2000".into(),
        "--max-allowed-packet=64M".into(),
        "--character-set-server=utf8mb4".into(),
        "--collation-server=utf8mb4_general_ci".into(),
        "--local-infile=1".into(),
        // Consecutive auto-increment values for multi-row inserts (capture relies on it).
        "--innodb-autoinc-lock-mode=1".into(),
    ];
    if is_root() {
        args.push("--user=root".into());
    }
    args.extend(extra.iter().cloned());
    args
}

/// The instance's own temporary directory (beside its datadir).
pub fn tmp_dir(l: &MysqldLayout) -> PathBuf {
    l.datadir.parent().unwrap_or(&l.datadir).join("tmp")
}

/// Starts mysqld in its own process group (so a terminal's Ctrl-C does not reach it) and
/// waits until it accepts connections on its socket.
pub fn start(l: &MysqldLayout, extra: &[String], timeout: Duration) -> Result<Child, MysqldError> {
    use std::os::unix::process::CommandExt;
    let bin = mysqld_binary()?;
    let _ = std::fs::remove_file(&l.socket);
    std::fs::create_dir_all(tmp_dir(l)).map_err(io("creating mysqld's tmpdir"))?;
    let child = Command::new(bin)
        .args(server_args(l, extra))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(io("starting mariadbd"))?;
    wait_ready(l, timeout)?;
    Ok(child)
}

/// Waits until the unix socket accepts a connection and mysqld sends its greeting.
pub fn wait_ready(l: &MysqldLayout, timeout: Duration) -> Result<(), MysqldError> {
    use std::io::Read;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&l.socket) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut b = [0u8; 5];
            if s.read_exact(&mut b).is_ok() && b[4] == 10 {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(MysqldError::NotReady {
        dir: l.datadir.display().to_string(),
        log: log_tail(&l.log, 20),
    })
}

pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Copies a datadir (a template made once by [`init_datadir`]) to a new place.
pub fn copy_dir(from: &Path, to: &Path) -> Result<(), MysqldError> {
    std::fs::create_dir_all(to).map_err(io(format!("creating {}", to.display())))?;
    for entry in std::fs::read_dir(from).map_err(io(format!("reading {}", from.display())))? {
        let entry = entry.map_err(io("reading dir entry"))?;
        let target = to.join(entry.file_name());
        let ty = entry.file_type().map_err(io("stat"))?;
        if ty.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if ty.is_file() {
            std::fs::copy(entry.path(), &target).map_err(io(format!("copying to {}", target.display())))?;
        }
    }
    Ok(())
}

/// Sends SIGTERM to `pid`, waits up to `grace` for it to exit, then SIGKILLs it.
pub fn stop_pid(pid: u32, grace: Duration) {
    let alive = |pid: u32| Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid);
    if !alive(pid) {
        return;
    }
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !alive(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
}

pub(crate) fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
                .unwrap_or(false)
        })
        .unwrap_or(true)
}
