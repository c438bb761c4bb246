//! Test harness: real mariadbd processes started from a template datadir on free ports, and
//! in-process proxies on port 0 in front of them.
#![allow(dead_code)]

pub mod raw;
pub mod sandbox;
pub mod tls;

use std::path::PathBuf;
use std::process::Child;
use std::sync::OnceLock;
use std::time::Duration;

use grproxy::backend::BackendAddr;
use grproxy::frontend::{self, ProxyHandle, Settings, TlsMode};
use grproxy::sandbox::mysqld::{self, MysqldLayout};
use mysql_async::prelude::Queryable;

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The template datadir, made once per machine and reused (initializing takes seconds).
/// What the test mysqlds add to the shared server settings: a 16 MiB redo log instead of
/// the default 96 MiB, written in full in every datadir (the suite runs dozens of mysqlds).
const TEST_SERVER_ARGS: &[&str] = &["--innodb-log-file-size=16M"];

fn template() -> PathBuf {
    static T: OnceLock<PathBuf> = OnceLock::new();
    T.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join("mariadb-template-redo16m");
        if dir.join("mysql").exists() {
            return dir;
        }
        let tmp = base.join(format!("mariadb-template-redo16m.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        mysqld::init_datadir_with(&tmp, TEST_SERVER_ARGS).expect("mariadb-install-db (run deploy/install-deps.sh)");
        if std::fs::rename(&tmp, &dir).is_err() {
            // Another test process won the race.
            let _ = std::fs::remove_dir_all(&tmp);
        }
        dir
    })
    .clone()
}

/// The template datadir (root@localhost without a password), made on first use: copy it
/// into a sandbox node's `data/` before `grproxy sandbox up` to skip mariadb-install-db.
pub fn template_datadir() -> PathBuf {
    template()
}

/// A running mariadbd, killed when dropped.
pub struct Mysqld {
    pub layout: MysqldLayout,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Mysqld {
    pub fn start() -> Mysqld {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Mysqld {
        let dir = tempfile::Builder::new().prefix("grproxy-test-").tempdir().unwrap();
        let layout = MysqldLayout::under(dir.path(), free_port());
        mysqld::copy_dir(&template(), &layout.datadir).unwrap();
        let extra: Vec<String> = TEST_SERVER_ARGS.iter().chain(extra).map(|s| s.to_string()).collect();
        let child = mysqld::start(&layout, &extra, Duration::from_secs(60)).expect("start mariadbd");
        Mysqld {
            layout,
            child,
            _dir: dir,
        }
    }

    /// Options for a direct TCP connection (root has an empty password in the template).
    pub fn direct_opts(&self, user: &str, pass: &str) -> mysql_async::OptsBuilder {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.layout.port)
            .prefer_socket(false)
            .user(Some(user))
            .pass(Some(pass))
    }

    pub async fn root(&self) -> mysql_async::Conn {
        mysql_async::Conn::new(self.direct_opts("root", "")).await.unwrap()
    }

    /// Creates `user` with `pass` for every loopback host, with all privileges.
    pub async fn create_user(&self, user: &str, pass: &str) {
        let mut c = self.root().await;
        for host in ["localhost", "127.0.0.1"] {
            c.query_drop(format!("CREATE USER '{user}'@'{host}' IDENTIFIED BY '{pass}'"))
                .await
                .unwrap();
            c.query_drop(format!("GRANT ALL ON *.* TO '{user}'@'{host}'"))
                .await
                .unwrap();
        }
        c.disconnect().await.unwrap();
    }
}

impl Drop for Mysqld {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Settings for a proxy on 127.0.0.1:0 in front of `m`, over its unix socket.
pub fn settings(m: &Mysqld) -> Settings {
    let mut s = Settings::new(BackendAddr::Unix(m.layout.socket.clone()));
    s.session_backend = Some(format!("127.0.0.1:{}", m.layout.port));
    s.service_user = "root".into();
    s.tls_mode = TlsMode::Preferred;
    s.local_infile = true;
    s
}

pub async fn proxy(m: &Mysqld) -> ProxyHandle {
    proxy_with(m, |_| {}).await
}

pub async fn proxy_with(m: &Mysqld, f: impl FnOnce(&mut Settings)) -> ProxyHandle {
    let mut s = settings(m);
    f(&mut s);
    frontend::start(s).await.expect("proxy starts")
}

/// Options for a connection through the proxy.
pub fn proxy_opts(p: &ProxyHandle, user: &str, pass: &str) -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(p.tcp_addr.unwrap().port())
        .prefer_socket(false)
        .user(Some(user))
        .pass(Some(pass))
}

/// Finds a program the tests drive (mariadb CLI, sysbench), installed by deploy/install-deps.sh.
/// sysbench's arguments for `workload` on database `sbtest` through `ports` (a comma list),
/// as root without a password, without TLS.
pub fn sysbench_args(workload: &str, ports: &str, tables: u32, table_size: u32) -> Vec<String> {
    vec![
        workload.to_string(),
        "--db-driver=mysql".into(),
        "--mysql-host=127.0.0.1".into(),
        format!("--mysql-port={ports}"),
        "--mysql-user=root".into(),
        "--mysql-password=".into(),
        "--mysql-db=sbtest".into(),
        "--mysql-ssl=off".into(),
        format!("--tables={tables}"),
        format!("--table-size={table_size}"),
    ]
}

pub fn program(names: &[&'static str]) -> PathBuf {
    mysqld::find_program(names).unwrap_or_else(|| panic!("{names:?} not installed: run deploy/install-deps.sh"))
}

/// A group of `n` members, each a mariadbd with an in-process proxy, on free ports.
pub struct TestGroup {
    pub mysqlds: Vec<Mysqld>,
    pub proxies: Vec<ProxyHandle>,
    pub raft_dirs: Vec<tempfile::TempDir>,
    /// The group CA and each member's peer TLS files (`member<i>/peer-*.pem`).
    pub certs: tempfile::TempDir,
}

impl TestGroup {
    pub async fn start(n: usize) -> TestGroup {
        Self::start_with(n, &[], |_, _| {}).await
    }

    /// A group whose mysqlds get `extra` server options and whose member `i` (0-based) gets
    /// its proxy settings (its group settings too) adjusted by `tweak` (tests/mtr.rs: a unix
    /// socket, TLS off; tests/raft_disk_full.rs: the Raft data directory).
    pub async fn start_with(n: usize, extra: &[&str], tweak: impl Fn(usize, &mut Settings)) -> TestGroup {
        use grproxy::replication::group::GroupSettings;
        // RUST_LOG=grproxy=debug shows the in-process members' logs with a failing test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        use std::collections::BTreeMap;
        use std::sync::{Arc, Mutex};
        let mysqlds: Vec<Mysqld> = (0..n).map(|_| Mysqld::start_with(extra)).collect();
        let listeners: Vec<std::net::TcpListener> = (0..n)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let members: BTreeMap<u64, String> = listeners
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l.local_addr().unwrap().to_string()))
            .collect();
        let raft_dirs: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
        // Peer links use mutual TLS, as in production: a CA and a certificate per member.
        let certs = tempfile::tempdir().unwrap();
        let ca = grproxy::sandbox::certs::GroupCa::generate().unwrap();
        let tls: Vec<_> = (1..=n as u64)
            .map(|id| {
                let dir = certs.path().join(format!("member{id}"));
                std::fs::create_dir(&dir).unwrap();
                ca.write_member(id, &dir).unwrap().load().unwrap()
            })
            .collect();
        let starts = mysqlds.iter().zip(listeners).enumerate().map(|(i, (m, l))| {
            let mut s = settings(m);
            s.group = Some(GroupSettings {
                member_id: i as u64 + 1,
                members: members.clone(),
                data_dir: raft_dirs[i].path().to_path_buf(),
                snapshot_every: grproxy::replication::group::DEFAULT_SNAPSHOT_EVERY,
                flow_control_entries: grproxy::replication::group::DEFAULT_FLOW_CONTROL_ENTRIES,
                raft_batches_in_flight: grproxy::consensus::DEFAULT_BATCHES_IN_FLIGHT,
                retention_bytes: grproxy::replication::group::DEFAULT_RETENTION_BYTES,
                log_replays: true,
                listener: Some(Arc::new(Mutex::new(Some(l)))),
                peer_security: grproxy::consensus::PeerSecurity::Tls(tls[i].clone()),
                mode: Default::default(),
                weight: 50,
                sql_address: None,
            });
            tweak(i, &mut s);
            async move { frontend::start(s).await.expect("member starts") }
        });
        let proxies = futures_join_all(starts.collect()).await;
        for p in &proxies {
            p.context
                .group
                .as_ref()
                .unwrap()
                .wait_for_leader(Duration::from_secs(10))
                .await
                .expect("leader elected");
        }
        TestGroup {
            mysqlds,
            proxies,
            raft_dirs,
            certs,
        }
    }

    pub fn opts(&self, member: usize) -> mysql_async::OptsBuilder {
        proxy_opts(&self.proxies[member], "root", "")
    }

    pub async fn conn(&self, member: usize) -> mysql_async::Conn {
        mysql_async::Conn::new(self.opts(member)).await.unwrap()
    }

    /// Waits until every member has applied everything committed so far (an origin's own
    /// watermark may still lag behind what its clients were told is committed).
    pub async fn converge(&self) {
        let target = self
            .proxies
            .iter()
            .map(|p| p.context.group.as_ref().unwrap().certified_index())
            .max()
            .unwrap_or(0);
        for p in &self.proxies {
            let g = p.context.group.as_ref().unwrap();
            assert!(
                g.wait_applied(target, Duration::from_secs(30)).await,
                "member did not catch up to {target}"
            );
            assert_eq!(g.error_state(), None);
        }
    }

    /// A `SHOW GRPROXY STATUS` value of a member.
    pub async fn status(&self, member: usize, name: &str) -> String {
        let mut c = self.conn(member).await;
        let rows: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.unwrap();
        rows.into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    /// Waits (up to 20 s) until every member says `name` is `want`.
    pub async fn wait_status(&self, name: &str, want: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        for m in 0..self.proxies.len() {
            loop {
                let v = self.status(m, name).await;
                if v == want {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "member {} has {name} = {v:?}, not {want:?}",
                    m + 1
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// `CHECKSUM TABLE` of `table` on every member's mysqld (directly).
    pub async fn checksums(&self, table: &str) -> Vec<Option<i64>> {
        let mut out = Vec::new();
        for m in &self.mysqlds {
            let mut c = m.root().await;
            let r: Option<(String, Option<i64>)> = c.query_first(format!("CHECKSUM TABLE {table}")).await.unwrap();
            out.push(r.and_then(|x| x.1));
            c.disconnect().await.unwrap();
        }
        out
    }
}

/// Runs futures concurrently (members must start together to elect a leader).
pub async fn futures_join_all<T: Send + 'static>(
    futs: Vec<impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// Options for `root` (empty password) over TCP on loopback `port`: a sandbox member's proxy
/// or mysqld.
pub fn root_tcp_opts(port: u16) -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .prefer_socket(false)
        .user(Some("root"))
        .pass(Some(""))
}

/// The mariadb CLI with `-e` against 127.0.0.1:`port` (a fresh connection per call): its
/// stdout, or its stderr as the error.
pub fn cli_e(port: u16, user: &str, pass: &str, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new(program(&["mariadb", "mysql"]))
        .args(["-h127.0.0.1", &format!("-P{port}"), &format!("-u{user}"), "-N", "-B"])
        .arg(format!("-p{pass}"))
        .args(["-e", sql])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// One value of `SHOW GRPROXY STATUS` through `c`.
pub async fn grproxy_status(c: &mut mysql_async::Conn, name: &str) -> String {
    use mysql_async::prelude::Queryable;
    let rows: Vec<(String, String)> = c.query("SHOW GRPROXY STATUS").await.unwrap();
    rows.into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in SHOW GRPROXY STATUS"))
}

/// Runs `sql` through `c`, retrying for up to `within` while it fails with one of `codes`
/// (a member still electing, joining or recovering); any other error fails the test.
pub async fn write_retrying(c: &mut mysql_async::Conn, sql: &str, codes: &[u16], within: Duration) {
    use mysql_async::prelude::Queryable;
    let deadline = std::time::Instant::now() + within;
    loop {
        match c.query_drop(sql).await {
            Ok(()) => return,
            Err(mysql_async::Error::Server(e)) if codes.contains(&e.code) && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}
