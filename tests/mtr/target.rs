//! The servers the tests run against: one mysql-test-style mariadbd reached directly and
//! through a plain grproxy in front of it, and a 3-member group reached through member 1.

use std::path::{Path, PathBuf};
use std::time::Duration;

use grproxy::frontend::{ProxyHandle, TlsMode};
use mysql_async::prelude::Queryable;

use super::config::mysqld_args;
use super::Endpoint;
use crate::common::{self, Mysqld, TestGroup};

/// Schemas a test leaves alone (or that are not its to drop).
const SYSTEM: &[&str] = &["mysql", "information_schema", "performance_schema", "sys", "grproxy"];

/// One mariadbd and a plain proxy in front of it (TLS off, like the server; a unix socket for
/// the tests' `localhost` connections).
pub struct Single {
    pub mysqld: Mysqld,
    pub proxy: ProxyHandle,
    dir: PathBuf,
    pub restarts: usize,
}

impl Single {
    pub async fn start(dir: &Path) -> Single {
        let mysqld = start_mysqld(dir);
        let proxy = plain_proxy(&mysqld, dir).await;
        Single {
            mysqld,
            proxy,
            dir: dir.to_path_buf(),
            restarts: 0,
        }
    }

    pub fn direct(&self) -> Endpoint {
        Endpoint {
            port: self.mysqld.layout.port,
            socket: self.mysqld.layout.socket.clone(),
        }
    }

    pub fn proxied(&self) -> Endpoint {
        Endpoint {
            port: self.proxy.tcp_addr.unwrap().port(),
            socket: self.proxy.unix_path.clone().expect("proxy unix socket"),
        }
    }

    /// A clean `test` database (and no other schema a test made); restarts the server if a
    /// test took it down.
    pub async fn reset(&mut self) {
        if connect(self.mysqld.direct_opts("root", "")).await.is_none() {
            self.restarts += 1;
            self.mysqld = start_mysqld(&self.dir);
            self.proxy = plain_proxy(&self.mysqld, &self.dir).await;
        }
        let mut c = connect(self.mysqld.direct_opts("root", ""))
            .await
            .expect("mariadbd accepts connections after a restart");
        clean_schemas(&mut c, Some(&self.mysqld.layout.datadir)).await;
        let _ = c.disconnect().await;
    }
}

fn start_mysqld(dir: &Path) -> Mysqld {
    let args = mysqld_args(dir);
    Mysqld::start_with(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

async fn plain_proxy(m: &Mysqld, dir: &Path) -> ProxyHandle {
    let sock = dir.join(format!("proxy-{}.sock", m.layout.port));
    common::proxy_with(m, |s| {
        s.listen_unix = Some(sock);
        s.tls_mode = TlsMode::Disabled;
    })
    .await
}

async fn connect(opts: mysql_async::OptsBuilder) -> Option<mysql_async::Conn> {
    tokio::time::timeout(Duration::from_secs(10), mysql_async::Conn::new(opts))
        .await
        .ok()?
        .ok()
}

/// Drops every non-system schema and creates an empty `test`. A schema mysqld cannot drop
/// because a test left a file in its directory (`SELECT ... INTO OUTFILE` with a relative
/// path) is emptied by hand when `datadir` is known.
async fn clean_schemas(c: &mut mysql_async::Conn, datadir: Option<&Path>) {
    let schemas: Vec<String> = c.query("SHOW DATABASES").await.unwrap();
    for s in schemas.iter().filter(|s| !SYSTEM.contains(&s.as_str())) {
        let drop = format!("DROP DATABASE `{}`", s.replace('`', "``"));
        if c.query_drop(&drop).await.is_err() {
            if let Some(d) = datadir {
                for e in std::fs::read_dir(d.join(s)).into_iter().flatten().flatten() {
                    let _ = std::fs::remove_file(e.path());
                }
            }
            c.query_drop(&drop).await.unwrap_or_else(|e| panic!("{drop}: {e}"));
        }
    }
    c.query_drop("CREATE DATABASE test").await.unwrap();
}

/// Three members; the tests run through member 1 (index 0).
pub struct Group {
    pub group: TestGroup,
    dir: std::path::PathBuf,
    /// Times the group was started afresh after it diverged or a member stopped in ERROR.
    pub restarts: usize,
    /// Member 1's mysqld as the group started: its global variables and `mysql` tables. A test
    /// refused halfway does not undo its `SET GLOBAL` (mtr's `alter_algorithm` made every later
    /// ALTER fail with 1845) or restore a system table it dropped.
    baseline: ServerState,
}

/// What a test may leave changed on a server outside its schemas.
#[derive(Default, Clone, PartialEq)]
struct ServerState {
    globals: std::collections::BTreeMap<String, String>,
    mysql_tables: Vec<String>,
}

impl ServerState {
    async fn read(c: &mut mysql_async::Conn) -> ServerState {
        let globals: Vec<(String, String)> = c.query("SHOW GLOBAL VARIABLES").await.unwrap_or_default();
        let mysql_tables: Vec<String> = c
            .query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql' ORDER BY 1")
            .await
            .unwrap_or_default();
        ServerState {
            globals: globals.into_iter().collect(),
            mysql_tables,
        }
    }

    /// Sets back the global variables that differ from `self`; false when that is not enough
    /// (a system table is gone or new).
    async fn restore(&self, c: &mut mysql_async::Conn) -> bool {
        let now = ServerState::read(c).await;
        for (name, value) in &self.globals {
            if now.globals.get(name) == Some(value) {
                continue;
            }
            let literal = if !value.is_empty() && value.parse::<f64>().is_ok() {
                value.clone()
            } else {
                format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
            };
            // Read-only and derived variables refuse; what matters is the others.
            let _ = c.query_drop(format!("SET GLOBAL `{name}` = {literal}")).await;
        }
        now.mysql_tables == self.mysql_tables
    }
}

impl Group {
    /// A fresh group in place of one that diverged, so one test's damage does not fail every
    /// test after it.
    pub async fn restart(&mut self) {
        let proxies = std::mem::take(&mut self.group.proxies);
        for p in proxies {
            p.stop().await;
        }
        self.restarts += 1;
        let dir = self.dir.join(format!("restart-{}", self.restarts));
        std::fs::create_dir_all(&dir).unwrap();
        let fresh = Group::start(&dir).await;
        self.group = fresh.group;
        self.baseline = fresh.baseline;
    }

    pub async fn start(dir: &Path) -> Group {
        let args = mysqld_args(dir);
        let extra: Vec<&str> = args.iter().map(String::as_str).collect();
        let dir = dir.to_path_buf();
        let dir_for_restarts = dir.clone();
        let group = TestGroup::start_with(3, &extra, move |i, s| {
            s.listen_unix = Some(dir.join(format!("member{}.sock", i + 1)));
            s.tls_mode = TlsMode::Disabled;
        })
        .await;
        let mut c = group.mysqlds[0].root().await;
        let baseline = ServerState::read(&mut c).await;
        let _ = c.disconnect().await;
        Group {
            group,
            dir: dir_for_restarts,
            restarts: 0,
            baseline,
        }
    }

    pub fn member1(&self) -> Endpoint {
        let p = &self.group.proxies[0];
        Endpoint {
            port: p.tcp_addr.unwrap().port(),
            socket: p.unix_path.clone().expect("member unix socket"),
        }
    }

    /// Clean schemas through member 1 (the DDL replicates), then waits for every member.
    pub async fn reset(&mut self) -> Result<(), String> {
        let restored = match connect(self.group.mysqlds[0].direct_opts("root", "")).await {
            Some(mut d) => {
                let ok = self.baseline.restore(&mut d).await;
                let _ = d.disconnect().await;
                ok
            }
            None => false,
        };
        if !restored {
            self.restart().await;
        }
        let mut c = connect(self.group.opts(0))
            .await
            .ok_or_else(|| "member 1 does not accept connections".to_string())?;
        clean_schemas(&mut c, None).await;
        let _ = c.disconnect().await;
        self.converged().await
    }

    /// Every member applied what was certified, none is in ERROR, and every member's mysqld
    /// holds the same tables with the same `CHECKSUM TABLE`.
    pub async fn converged(&self) -> Result<(), String> {
        let groups: Vec<_> = self
            .group
            .proxies
            .iter()
            .map(|p| p.context.group.clone().unwrap())
            .collect();
        let target = groups.iter().map(|g| g.certified_index()).max().unwrap_or(0);
        for (i, g) in groups.iter().enumerate() {
            if !g.wait_applied(target, Duration::from_secs(30)).await {
                return Err(format!("member {} did not apply up to {target}", i + 1));
            }
            if let Some(e) = g.error_state() {
                return Err(format!("member {} is in ERROR: {e}", i + 1));
            }
        }
        let mut seen: Vec<Vec<(String, Option<i64>)>> = Vec::new();
        for m in &self.group.mysqlds {
            let mut c = connect(m.direct_opts("root", ""))
                .await
                .ok_or_else(|| "a member's mysqld does not accept connections".to_string())?;
            seen.push(table_checksums(&mut c).await?);
            let _ = c.disconnect().await;
        }
        for (i, s) in seen.iter().enumerate().skip(1) {
            if *s != seen[0] {
                let differ: Vec<String> = seen[0]
                    .iter()
                    .chain(s.iter())
                    .filter(|t| !(seen[0].contains(t) && s.contains(t)))
                    .map(|t| format!("{} ({:?})", t.0, t.1))
                    .collect();
                return Err(format!("member {} differs from member 1: {}", i + 1, differ.join(", ")));
            }
        }
        Ok(())
    }
}

/// `schema.table` and its checksum for every base table outside the system schemas.
async fn table_checksums(c: &mut mysql_async::Conn) -> Result<Vec<(String, Option<i64>)>, String> {
    let tables: Vec<(String, String)> = c
        .query(
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' AND table_schema NOT IN \
             ('mysql', 'information_schema', 'performance_schema', 'sys', 'grproxy') \
             ORDER BY table_schema, table_name",
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (s, t) in tables {
        let name = format!("`{}`.`{}`", s.replace('`', "``"), t.replace('`', "``"));
        let sum: Option<(String, Option<i64>)> = c
            .query_first(format!("CHECKSUM TABLE {name}"))
            .await
            .map_err(|e| format!("CHECKSUM TABLE {name}: {e}"))?;
        out.push((format!("{s}.{t}"), sum.and_then(|x| x.1)));
    }
    Ok(out)
}
