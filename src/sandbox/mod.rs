//! `grproxy sandbox up|down|stop|start`: local mysqld instances, each with its proxy, for trying grproxy
//! on one machine. Node i (1-based) lives in `DIR/node<i>/`: its datadir, mysqld socket and
//! log, the proxy's config and log, and pid files that `sandbox down` uses. A group's peer
//! links use mutual TLS: `DIR/ca.pem` and `DIR/ca-key.pem` are the group CA, and each node
//! dir holds its member certificate and key (`peer-*.pem`, see [`certs`]).

mod add;
pub mod certs;
pub mod mysqld;
mod node;

pub use add::add_node;
pub use node::{start_node, stop_node};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use mysql_async::prelude::Queryable;

use mysqld::MysqldLayout;

pub struct UpOptions {
    pub nodes: u16,
    pub dir: PathBuf,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// Member i dials member j at `Q + (i-1)*nodes + (j-1)` (a test's relay) instead of j's
    /// peer port.
    pub peer_relay_port: Option<u16>,
    /// `group.snapshot_every` of every member.
    pub snapshot_every: u64,
    /// `group.retention_bytes` of every member.
    pub retention_bytes: u64,
    /// `group.mode` of every member: `multi-primary` or `single-primary`.
    pub mode: String,
    /// `group.raft_batches_in_flight` of every member.
    pub raft_batches_in_flight: usize,
}

/// Service account the proxies use for their own connections.
pub const SERVICE_USER: &str = "grproxy_svc";

fn node_dir(dir: &Path, i: u16) -> PathBuf {
    dir.join(format!("node{i}"))
}

/// mysqld's TCP port for node `i` (1-based) when proxies start at `port`.
pub fn mysqld_port(port: u16, i: u16) -> u16 {
    port + 100 + i - 1
}

/// The group peer (Raft) port of node `i` when proxies start at `port`.
pub fn peer_port(port: u16, i: u16) -> u16 {
    port + 200 + i - 1
}

/// The admin HTTP endpoint (`/metrics`, `/health`) of node `i` when proxies start at `port`
/// (P+300.. is left to the fault tests' peer relays, see `--peer-relay-port`).
pub fn admin_port(port: u16, i: u16) -> u16 {
    port + 400 + i - 1
}

pub async fn up(o: &UpOptions) -> anyhow::Result<()> {
    if o.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    std::fs::create_dir_all(&o.dir).with_context(|| format!("creating {}", o.dir.display()))?;
    let dir = o.dir.canonicalize()?;
    for i in 1..=o.nodes {
        // A node's own running processes hold its ports: only the others' must be free.
        let nd = node_dir(&dir, i);
        let alive = |f: &str| read_pid(&nd.join(f)).is_some_and(pid_alive);
        let mut ports = Vec::new();
        if !alive("mysqld.pid.sandbox") {
            ports.push(mysqld_port(o.port, i));
        }
        if !alive("grproxy.pid") {
            ports.extend([o.port + i - 1, peer_port(o.port, i), admin_port(o.port, i)]);
        }
        for p in ports {
            if std::net::TcpListener::bind(("127.0.0.1", p)).is_err() {
                bail!("port {p} on 127.0.0.1 is taken; pick another --port");
            }
        }
    }
    // One CA per sandbox, kept so that members set up again later chain to the same one.
    let ca = if o.nodes > 1 {
        Some(match certs::GroupCa::read(&dir)? {
            Some(ca) => ca,
            None => {
                let ca = certs::GroupCa::generate()?;
                ca.write(&dir)?;
                ca
            }
        })
    } else {
        None
    };
    let mut endpoints = Vec::new();
    for i in 1..=o.nodes {
        let layout = prepare_node(&dir, o, i, ca.as_ref()).await?;
        endpoints.push((i, o.port + i - 1, layout));
    }
    // Members start together so the group can elect a leader.
    for (i, port, _) in &endpoints {
        let nd = node_dir(&dir, *i);
        if !already_ours(&nd) {
            spawn_proxy(&nd, &nd.join("grproxy.yaml"))?;
        }
        let _ = port;
    }
    for (i, port, _) in &endpoints {
        wait_proxy(&node_dir(&dir, *i), *port)?;
    }
    println!("grproxy sandbox is up in {}", dir.display());
    for (i, port, l) in &endpoints {
        println!(
            "  node{i}: proxy 127.0.0.1:{port} (socket {})   mysqld 127.0.0.1:{} (socket {})   http 127.0.0.1:{}",
            node_dir(&dir, *i).join("grproxy.sock").display(),
            l.port,
            l.socket.display(),
            admin_port(o.port, *i)
        );
    }
    println!(
        "connect:  mariadb -h127.0.0.1 -P{} -u{}{}",
        o.port,
        o.user,
        if o.password.is_empty() {
            String::new()
        } else {
            " -p".into()
        }
    );
    println!("stop:     grproxy sandbox down --dir {}", dir.display());
    Ok(())
}

/// Node `i`'s mysqld (initialized and started unless running), accounts and proxy config.
async fn prepare_node(dir: &Path, o: &UpOptions, i: u16, ca: Option<&certs::GroupCa>) -> anyhow::Result<MysqldLayout> {
    let nd = node_dir(dir, i);
    let layout = MysqldLayout::under(&nd, mysqld_port(o.port, i));
    let proxy_port = o.port + i - 1;
    if !already_ours(&nd) {
        if !layout.datadir.join("mysql").exists() {
            eprintln!("node{i}: initializing datadir {}", layout.datadir.display());
            mysqld::init_datadir(&layout.datadir)?;
        }
        // A node whose proxy alone stopped keeps its running mysqld.
        if !read_pid(&nd.join("mysqld.pid.sandbox")).is_some_and(pid_alive) {
            let child = mysqld::start(&layout, &[], Duration::from_secs(60))?;
            std::fs::write(nd.join("mysqld.pid.sandbox"), child.id().to_string())?;
        }
        let svc_password = bootstrap_accounts(&layout, o).await?;
        let svc_file = nd.join("service.password");
        write_private(&svc_file, &svc_password)?;
        let cfg = nd.join("grproxy.yaml");
        let mut text = proxy_config(proxy_port, &layout, &nd, &svc_file);
        if let Some(ca) = &ca {
            let tls = ca.write_member(i as u64, &nd)?;
            text.push_str(&group_config(o, i, &nd, &tls));
        }
        std::fs::write(&cfg, text)?;
    }
    Ok(layout)
}

/// True when `dir` holds a node whose processes are still running.
fn already_ours(nd: &Path) -> bool {
    ["mysqld.pid.sandbox", "grproxy.pid"]
        .iter()
        .all(|f| read_pid(&nd.join(f)).map(pid_alive).unwrap_or(false))
}

fn read_pid(p: &Path) -> Option<u32> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// A running process (a zombie, killed but not yet reaped, is not).
fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists() && !mysqld::is_zombie(pid)
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    certs::write_private(path, text).with_context(|| format!("writing {}", path.display()))
}

fn random_password() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Creates the client account (loopback only) and the proxy's service account.
async fn bootstrap_accounts(l: &MysqldLayout, o: &UpOptions) -> anyhow::Result<String> {
    let socket = l.socket.to_string_lossy().into_owned();
    let mut conn = None;
    for pass in [o.password.as_str(), ""] {
        let opts = mysql_async::OptsBuilder::default()
            .socket(Some(socket.clone()))
            .user(Some("root"))
            .pass(Some(pass));
        if let Ok(c) = mysql_async::Conn::new(opts).await {
            conn = Some(c);
            break;
        }
    }
    let mut conn = conn.context("cannot log in to the new mysqld as root")?;
    let svc = random_password();
    let q = |s: &str| s.replace('\\', "\\\\").replace('\'', "\\'");
    let (u, p) = (q(&o.user), q(&o.password));
    let mut stmts = Vec::new();
    for host in ["localhost", "127.0.0.1", "::1"] {
        stmts.push(format!("CREATE USER IF NOT EXISTS '{u}'@'{host}' IDENTIFIED BY '{p}'"));
        stmts.push(format!("ALTER USER '{u}'@'{host}' IDENTIFIED BY '{p}'"));
        stmts.push(format!(
            "GRANT ALL PRIVILEGES ON *.* TO '{u}'@'{host}' WITH GRANT OPTION"
        ));
    }
    stmts.push(format!(
        "CREATE USER IF NOT EXISTS '{SERVICE_USER}'@'localhost' IDENTIFIED BY '{svc}'"
    ));
    stmts.push(format!("ALTER USER '{SERVICE_USER}'@'localhost' IDENTIFIED BY '{svc}'"));
    // Replaying a client's GRANT needs the granted privileges with GRANT OPTION.
    stmts.push(format!(
        "GRANT ALL PRIVILEGES ON *.* TO '{SERVICE_USER}'@'localhost' WITH GRANT OPTION"
    ));
    for s in stmts {
        conn.query_drop(&s)
            .await
            .with_context(|| format!("bootstrap statement failed: {s}"))?;
    }
    conn.disconnect().await?;
    Ok(svc)
}

fn proxy_config(port: u16, l: &MysqldLayout, nd: &Path, svc_file: &Path) -> String {
    format!(
        "# Written by `grproxy sandbox up`.\n\
         listen:\n  tcp: \"127.0.0.1:{port}\"\n  unix_socket: \"{sock}\"\n\
         backend:\n  address: \"127.0.0.1:{mysqld_port}\"\n  unix_socket: \"{backend}\"\n\
         service_account:\n  user: {SERVICE_USER}\n  password_file: \"{svc}\"\n\
         tls:\n  mode: preferred\n\
         features:\n  local_infile: true\n\
         admin:\n  http: \"127.0.0.1:{http}\"\n",
        // Node i's proxy port is P+i-1, so this is `admin_port(P, i)`.
        http = port + 400,
        sock = nd.join("grproxy.sock").display(),
        backend = l.socket.display(),
        mysqld_port = l.port,
        svc = svc_file.display(),
    )
}

fn group_config(o: &UpOptions, i: u16, nd: &Path, tls: &certs::PeerTlsFiles) -> String {
    let mut s = format!(
        "group:\n  member_id: {i}\n  data_dir: \"{}\"\n  snapshot_every: {}\n  retention_bytes: {}\n  \
         raft_batches_in_flight: {}\n  mode: {}\n  tls:\n    ca: \"{}\"\n    cert: \"{}\"\n    key: \"{}\"\n  members:\n",
        nd.join("raft").display(),
        o.snapshot_every,
        o.retention_bytes,
        o.raft_batches_in_flight,
        o.mode,
        tls.ca.display(),
        tls.cert.display(),
        tls.key.display(),
    );
    for m in 1..=o.nodes {
        let port = match o.peer_relay_port {
            Some(q) if m != i => q + (i - 1) * o.nodes + (m - 1),
            _ => peer_port(o.port, m),
        };
        s.push_str(&format!("    {m}: \"127.0.0.1:{port}\"\n"));
    }
    s
}

fn spawn_proxy(nd: &Path, cfg: &Path) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    // Appended to: a restarted member's log follows its earlier runs.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(nd.join("grproxy.log"))?;
    let child = Command::new(std::env::current_exe()?)
        .arg("run")
        .arg("--config")
        .arg(cfg)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting grproxy")?;
    std::fs::write(nd.join("grproxy.pid"), child.id().to_string())?;
    Ok(())
}

fn wait_proxy(nd: &Path, port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::Read;
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut b = [0u8; 5];
            if s.read_exact(&mut b).is_ok() && b[4] == 10 {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "grproxy on port {port} did not start; see {}",
        nd.join("grproxy.log").display()
    )
}

/// Stops every node's proxy, then its mysqld.
pub fn down(dir: &Path) -> anyhow::Result<()> {
    let mut found = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let nd = e.path();
        if !nd
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("node"))
        {
            continue;
        }
        for f in ["grproxy.pid", "mysqld.pid.sandbox"] {
            if let Some(pid) = read_pid(&nd.join(f)) {
                mysqld::stop_pid(pid, Duration::from_secs(60));
                let _ = std::fs::remove_file(nd.join(f));
                found += 1;
            }
        }
    }
    println!("stopped {found} processes under {}", dir.display());
    Ok(())
}
