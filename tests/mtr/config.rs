//! What to run: the list and the targets, from the environment; and how the server is
//! configured (the way mysql-test configures the servers it starts itself).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// mysql-test's `include/default_mysqld.cnf`, as far as it concerns the tests of `main` that
/// run against an external server: latin1, MyISAM by default, small buffers, engine-independent
/// statistics, `secure_file_priv` where mysql-test-run keeps its files. The rest (binlog,
/// PROXY protocol from 127.0.0.1, ...) is `grproxy::sandbox::mysqld::server_args`.
pub fn mysqld_args(secure_file_priv: &Path) -> Vec<String> {
    [
        "--character-set-server=latin1",
        "--collation-server=latin1_swedish_ci",
        "--log-bin-trust-function-creators=1",
        "--key-buffer-size=1M",
        "--sort-buffer-size=256K",
        "--max-heap-table-size=1M",
        "--default-storage-engine=myisam",
        "--use-stat-tables=preferably",
        "--histogram-type=json_hb",
        "--connect-timeout=60",
        "--binlog-direct-non-transactional-updates",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--secure-file-priv={}", secure_file_priv.display())])
    .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Direct,
    Proxy,
    Group,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Direct => "direct",
            TargetKind::Proxy => "proxy",
            TargetKind::Group => "group",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `short`, `full`, or a comma-separated list of test names.
    pub list_name: String,
    pub tests: Vec<String>,
    pub targets: Vec<TargetKind>,
    pub timeout: Duration,
}

/// Test lists kept beside this file.
pub fn list_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mtr")
        .join(format!("{name}.txt"))
}

impl Config {
    /// `GRPROXY_MTR`: `short` (default), `full`, or `test1,test2`;
    /// `GRPROXY_MTR_TARGETS`: any of `direct,proxy,group` (default `direct,proxy`);
    /// `GRPROXY_MTR_TIMEOUT`: seconds per test and target (default 90).
    pub fn from_env() -> Config {
        let list_name = std::env::var("GRPROXY_MTR").unwrap_or_else(|_| "short".into());
        let tests = match list_name.as_str() {
            "short" | "full" => super::read_list(&list_path(&list_name)),
            names => names
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        };
        let targets = std::env::var("GRPROXY_MTR_TARGETS")
            .unwrap_or_else(|_| "direct,proxy".into())
            .split(',')
            .map(|t| match t.trim() {
                "direct" => TargetKind::Direct,
                "proxy" => TargetKind::Proxy,
                "group" => TargetKind::Group,
                other => panic!("GRPROXY_MTR_TARGETS: unknown target {other:?} (direct, proxy, group)"),
            })
            .collect();
        let timeout = std::env::var("GRPROXY_MTR_TIMEOUT")
            .ok()
            .map(|s| Duration::from_secs(s.parse().expect("GRPROXY_MTR_TIMEOUT: seconds")))
            .unwrap_or(Duration::from_secs(90));
        Config {
            list_name,
            tests,
            targets,
            timeout,
        }
    }
}
