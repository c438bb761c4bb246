//! A group of real `grproxy` processes started with `grproxy sandbox up`, for tests that kill
//! and restart them. Dropping a [`Sandbox`] runs `sandbox down` (and keeps its directory when
//! the test failed and `GRPROXY_KEEP_SANDBOX` is set).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::prelude::Queryable;

pub const BIN: &str = env!("CARGO_BIN_EXE_grproxy");

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// Proxy of member i (1-based) at `port + i - 1`, its mysqld at `port + 100 + i - 1`.
    pub port: u16,
}

impl Sandbox {
    /// `sandbox up --nodes N` on free ports, with extra arguments.
    pub fn up(nodes: u16, extra: &[&str]) -> Sandbox {
        let sb = Sandbox {
            dir: tempfile::tempdir().unwrap(),
            port: base_port(nodes),
        };
        let up = Command::new(BIN)
            .args([
                "sandbox",
                "up",
                "--nodes",
                &nodes.to_string(),
                "--port",
                &sb.port.to_string(),
            ])
            .args(extra)
            .arg("--dir")
            .arg(sb.dir.path())
            .output()
            .unwrap();
        assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
        sb
    }

    pub fn node(&self, member: u16) -> PathBuf {
        self.dir.path().join(format!("node{member}"))
    }

    pub fn proxy_port(&self, member: u16) -> u16 {
        self.port + member - 1
    }

    pub fn mysqld_port(&self, member: u16) -> u16 {
        self.port + 100 + member - 1
    }

    /// kill -9 of member's proxy.
    pub fn kill_proxy(&self, member: u16) {
        let p = pid(&self.node(member), "grproxy.pid");
        kill9(p);
        // Its client port free again before anyone restarts it. (Waiting for the pid to be a
        // zombie is not enough: the main thread of a multi-threaded process is one while the
        // other threads still hold the process's files.)
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if std::net::TcpListener::bind(("127.0.0.1", self.proxy_port(member))).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts member's proxy again from its config, logging to the same file; `sandbox down`
    /// stops it through the pid file.
    #[allow(clippy::zombie_processes)]
    pub fn restart_proxy(&self, member: u16) {
        let node = self.node(member);
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(node.join("grproxy.log"))
            .unwrap();
        let child = Command::new(BIN)
            .arg("run")
            .arg("--config")
            .arg(node.join("grproxy.yaml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        std::fs::write(node.join("grproxy.pid"), child.id().to_string()).unwrap();
    }

    /// kill -9 of member's mysqld, then the same command line again.
    #[allow(clippy::zombie_processes)]
    pub async fn kill_and_restart_mysqld(&self, member: u16, down_for: std::time::Duration) {
        let node = self.node(member);
        let mpid = pid(&node, "mysqld.pid.sandbox");
        let cmdline: Vec<String> = std::fs::read(format!("/proc/{mpid}/cmdline"))
            .unwrap()
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        kill9(mpid);
        tokio::time::sleep(down_for).await;
        let child = Command::new(&cmdline[0]).args(&cmdline[1..]).spawn().unwrap();
        std::fs::write(node.join("mysqld.pid.sandbox"), child.id().to_string()).unwrap();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .args(["sandbox", "down", "--dir"])
            .arg(self.dir.path())
            .output();
        if std::thread::panicking() && std::env::var_os("GRPROXY_KEEP_SANDBOX").is_some() {
            let kept = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap()).keep();
            eprintln!("sandbox kept in {}", kept.display());
        }
    }
}

/// A port P such that P.., P+100.., P+200.. and P+400.. (proxies, mysqlds, Raft peers, admin
/// HTTP endpoints) are free.
/// A base port whose node ports are free, below the kernel's ephemeral range (32768 and up on
/// Linux): there, the test's own outgoing connections could take a node's port between this
/// check and its use (a `sandbox add` later in the test found node 4's port taken).
fn base_port(nodes: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Spread over 10000..31500 by process and call, so parallel test binaries differ.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = (std::process::id() % 1000) as u16 * 20;
    loop {
        let p = 10_000 + (seed + NEXT.fetch_add(500, Ordering::Relaxed)) % 21_000;
        // One node more than asked: room for a test's `sandbox add`.
        if (0..=nodes)
            .flat_map(|i| [i, 100 + i, 200 + i, 400 + i])
            .all(|d| std::net::TcpListener::bind(("127.0.0.1", p + d)).is_ok())
        {
            return p;
        }
    }
}

fn pid(dir: &Path, file: &str) -> u32 {
    std::fs::read_to_string(dir.join(file)).unwrap().trim().parse().unwrap()
}

fn kill9(pid: u32) {
    Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
}

/// Runs `insert` (two parameters: a unique id, then `member`) through the proxy at `port`
/// until `stop`, reconnecting after failures; records the ids whose commit was acknowledged.
/// Ids are `member * 1_000_000 + 1, 2, ...`.
pub async fn insert_writer(
    port: u16,
    insert: &'static str,
    member: u64,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<u64>>>,
) {
    let mut seq = 0u64;
    let mut conn: Option<mysql_async::Conn> = None;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            conn = mysql_async::Conn::new(super::root_tcp_opts(port)).await.ok();
            if conn.is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        }
        seq += 1;
        let id = member * 1_000_000 + seq;
        match conn.as_mut().unwrap().exec_drop(insert, (id, member)).await {
            Ok(()) => acked.lock().unwrap().push(id),
            Err(mysql_async::Error::Server(_)) => {}
            Err(_) => conn = None,
        }
    }
}

/// Runs `update` (one parameter, `id`) through the proxy at `port` until `stop`, reconnecting
/// after failures. For contended load: certification aborts (1213) are expected and ignored.
pub async fn update_writer(port: u16, update: &'static str, id: u64, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut c) = mysql_async::Conn::new(super::root_tcp_opts(port)).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            match c.exec_drop(update, (id,)).await {
                Ok(()) | Err(mysql_async::Error::Server(_)) => {}
                Err(_) => break,
            }
        }
    }
}
