//! The group under test: three members of real processes started by `grproxy sandbox up`
//! (each a grproxy in front of its own mariadbd), with a fault-injecting relay on every
//! directed peer link (member i dials member j through relay r_ij), and the process control
//! the faults need: kill -9, restart, SIGSTOP/SIGCONT. Restarted processes are recorded in the
//! node's pid files, so `sandbox down` stops them too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use grproxy::sandbox::mysqld::{self, MysqldLayout};

use crate::jepsen::{Fault, Relay};

pub const BIN: &str = env!("CARGO_BIN_EXE_grproxy");
pub const MEMBERS: usize = 3;

/// The tables the workloads write, compared by CHECKSUM TABLE across members.
pub const TABLES: &str = "jepsen.accounts, jepsen.lists";

/// One of a member's two processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proc {
    Proxy,
    Mysqld,
}

impl Proc {
    fn pid_file(self) -> &'static str {
        match self {
            Proc::Proxy => "grproxy.pid",
            Proc::Mysqld => "mysqld.pid.sandbox",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Proc::Proxy => "proxy",
            Proc::Mysqld => "mysqld",
        }
    }
}

pub struct Cluster {
    tmp: Mutex<Option<tempfile::TempDir>>,
    path: PathBuf,
    /// Proxy of member m (0-based) on `port + m`; mysqld on `port + 100 + m`; Raft on `port + 200 + m`.
    pub port: u16,
    relays: HashMap<(usize, usize), Relay>,
    /// Processes this test started (restarts), reaped after they are killed.
    children: Mutex<HashMap<u32, Child>>,
    paused: Mutex<Vec<u32>>,
    keep: AtomicBool,
    /// The group runs in single-primary mode.
    pub single_primary: bool,
}

/// Offsets from the base port that must all be free: proxies, mysqlds, peers, relays, admin
/// HTTP endpoints.
fn offsets() -> Vec<u16> {
    let mut v = Vec::new();
    for m in 0..MEMBERS as u16 {
        v.extend([m, 100 + m, 200 + m, 400 + m]);
    }
    v.extend((0..(MEMBERS * MEMBERS) as u16).map(|k| 300 + k));
    v
}

/// A base port whose offsets are all free, below the kernel's ephemeral range (32768 and up on
/// Linux): a killed member's port there was taken by an outgoing connection before its restart
/// (its admin endpoint: "Address already in use", the member never came back).
fn base_port() -> u16 {
    let mut p = 10_000 + (std::process::id() % 200) as u16 * 100;
    loop {
        if offsets()
            .iter()
            .all(|d| std::net::TcpListener::bind(("127.0.0.1", p + d)).is_ok())
        {
            return p;
        }
        p = if p >= 31_000 { 10_000 } else { p + 1_000 };
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Cluster {
    /// Starts the relays, then the group (`sandbox up` returns once every proxy accepts).
    pub async fn start(mode: &str) -> anyhow::Result<Cluster> {
        let tmp = tempfile::Builder::new().prefix("grproxy-jepsen-").tempdir()?;
        let path = tmp.path().to_path_buf();
        let port = base_port();
        let nodes = path.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let template = crate::common::template_datadir();
            for m in 0..MEMBERS {
                mysqld::copy_dir(&template, &nodes.join(format!("node{}", m + 1)).join("data"))?;
            }
            Ok(())
        })
        .await??;
        let mut relays = HashMap::new();
        for i in 0..MEMBERS {
            for j in (0..MEMBERS).filter(|&j| j != i) {
                let relay = Relay::start_on(loopback(relay_port(port, i, j)), loopback(port + 200 + j as u16))
                    .await
                    .with_context(|| format!("relay {i}->{j}"))?;
                relays.insert((i, j), relay);
            }
        }
        let cluster = Cluster {
            tmp: Mutex::new(Some(tmp)),
            path: path.clone(),
            port,
            relays,
            children: Mutex::new(HashMap::new()),
            paused: Mutex::new(Vec::new()),
            keep: AtomicBool::new(false),
            single_primary: mode == "single-primary",
        };
        let mut up = Command::new(BIN);
        up.args(["sandbox", "up", "--nodes", "3", "--port", &port.to_string()])
            .args(["--peer-relay-port", &(port + 300).to_string(), "--mode", mode, "--dir"])
            .arg(&path);
        let out = tokio::task::spawn_blocking(move || up.output()).await??;
        if !out.status.success() {
            cluster.keep();
            bail!(
                "sandbox up failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(cluster)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keep the sandbox directory (logs, datadirs) after the run; it is printed at the end.
    pub fn keep(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }

    pub fn node_dir(&self, m: usize) -> PathBuf {
        self.path.join(format!("node{}", m + 1))
    }

    pub fn proxy_port(&self, m: usize) -> u16 {
        self.port + m as u16
    }

    fn layout(&self, m: usize) -> MysqldLayout {
        MysqldLayout::under(&self.node_dir(m), self.port + 100 + m as u16)
    }

    /// Connection options for member `m`'s proxy.
    pub fn opts(&self, m: usize) -> mysql_async::Opts {
        tcp_opts(self.proxy_port(m))
    }

    /// Connection options for member `m`'s mysqld, bypassing the proxy.
    pub fn direct_opts(&self, m: usize) -> mysql_async::Opts {
        tcp_opts(self.port + 100 + m as u16)
    }

    // ---- network faults ----

    /// Cuts member `m` off from the others, both ways.
    pub fn isolate(&self, m: usize) {
        for ((i, j), r) in &self.relays {
            if *i == m || *j == m {
                r.set(Fault::Partition);
            }
        }
    }

    /// Everything member `m` sends to its peers is lost (outbound), or everything they send it
    /// (inbound); the other direction flows.
    pub fn one_way(&self, m: usize, outbound: bool) {
        for ((i, j), r) in &self.relays {
            // On r_ij, i's bytes go client-to-server; on r_ji, i's bytes go server-to-client.
            if *i == m {
                r.set(if outbound {
                    Fault::DropClientToServer
                } else {
                    Fault::DropServerToClient
                });
            } else if *j == m {
                r.set(if outbound {
                    Fault::DropServerToClient
                } else {
                    Fault::DropClientToServer
                });
            }
        }
    }

    pub fn heal_network(&self) {
        for r in self.relays.values() {
            r.heal();
        }
    }

    // ---- process faults (blocking: call from spawn_blocking) ----

    pub fn pid(&self, m: usize, p: Proc) -> Option<u32> {
        std::fs::read_to_string(self.node_dir(m).join(p.pid_file()))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn alive(&self, m: usize, p: Proc) -> bool {
        self.pid(m, p).is_some_and(pid_alive)
    }

    /// kill -9, and wait until the process is gone.
    pub fn kill(&self, m: usize, p: Proc) {
        let Some(pid) = self.pid(m, p) else { return };
        self.resume_pid(pid);
        signal(pid, "-KILL");
        let child = self.children.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
        if let Some(mut c) = child {
            let _ = c.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while pid_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pause(&self, m: usize, p: Proc) {
        if let Some(pid) = self.pid(m, p) {
            self.paused.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
            signal(pid, "-STOP");
        }
    }

    pub fn resume(&self, m: usize, p: Proc) {
        if let Some(pid) = self.pid(m, p) {
            self.resume_pid(pid);
        }
    }

    fn resume_pid(&self, pid: u32) {
        let mut paused = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = paused.iter().position(|&p| p == pid) {
            paused.remove(i);
            signal(pid, "-CONT");
        }
    }

    pub fn resume_all(&self) {
        let pids: Vec<u32> = self
            .paused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for pid in pids {
            signal(pid, "-CONT");
        }
    }

    /// Starts member `m`'s mysqld again with the sandbox's command line (crash recovery
    /// included) and waits until it accepts connections.
    pub fn restart_mysqld(&self, m: usize) -> anyhow::Result<()> {
        let child = mysqld::start(&self.layout(m), &[], Duration::from_secs(120))?;
        std::fs::write(self.node_dir(m).join(Proc::Mysqld.pid_file()), child.id().to_string())?;
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(child.id(), child);
        Ok(())
    }

    /// Starts member `m`'s proxy again (appending to its log). Does not wait: see
    /// [`Cluster::wait_proxy`].
    pub fn spawn_proxy(&self, m: usize) -> anyhow::Result<()> {
        use std::os::unix::process::CommandExt;
        let nd = self.node_dir(m);
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(nd.join("grproxy.log"))?;
        let child = Command::new(BIN)
            .arg("run")
            .arg("--config")
            .arg(nd.join("grproxy.yaml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()?;
        std::fs::write(nd.join(Proc::Proxy.pid_file()), child.id().to_string())?;
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(child.id(), child);
        Ok(())
    }

    /// Waits until member `m`'s proxy sends a server greeting.
    pub fn wait_proxy(&self, m: usize, timeout: Duration) -> anyhow::Result<()> {
        use std::io::Read;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(loopback(self.proxy_port(m))) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut b = [0u8; 5];
                if s.read_exact(&mut b).is_ok() && b[4] == 10 {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("member {m}'s proxy does not greet after {timeout:?}")
    }

    pub fn restart_proxy(&self, m: usize) -> anyhow::Result<()> {
        self.spawn_proxy(m)?;
        self.wait_proxy(m, Duration::from_secs(30))
    }

    /// Heals everything: the network, paused processes, and dead processes (restarted).
    pub fn heal_all(&self) -> anyhow::Result<()> {
        self.heal_network();
        self.resume_all();
        for m in 0..MEMBERS {
            if !self.alive(m, Proc::Mysqld) {
                self.restart_mysqld(m)?;
            }
        }
        let dead: Vec<usize> = (0..MEMBERS).filter(|&m| !self.alive(m, Proc::Proxy)).collect();
        for &m in &dead {
            self.spawn_proxy(m)?;
        }
        for &m in &dead {
            self.wait_proxy(m, Duration::from_secs(30))?;
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.resume_all();
        let _ = Command::new(BIN)
            .args(["sandbox", "down", "--dir"])
            .arg(&self.path)
            .stdout(Stdio::null())
            .output();
        for (_, mut c) in self.children.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let tmp = self.tmp.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(tmp) = tmp {
            if self.keep.load(Ordering::Relaxed) {
                let kept = tmp.keep();
                eprintln!("jepsen: sandbox kept in {} (node logs under node*/)", kept.display());
            }
        }
    }
}

/// Member i dials member j through this port (`sandbox up --peer-relay-port`).
fn relay_port(port: u16, i: usize, j: usize) -> u16 {
    port + 300 + (i * MEMBERS + j) as u16
}

fn tcp_opts(port: u16) -> mysql_async::Opts {
    crate::common::root_tcp_opts(port).into()
}

fn pid_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
