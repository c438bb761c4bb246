//! One sandbox node at a time: `sandbox stop --node N` and `sandbox start --node N` stop and
//! start node N's grproxy and mysqld from the files `sandbox up` wrote, so a member can be
//! taken down and brought back (it rejoins the group by itself).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};

use super::mysqld::{self, MysqldLayout};
use super::{node_dir, pid_alive, read_pid, spawn_proxy, wait_proxy};

/// Stops node `i`'s proxy, then its mysqld.
pub fn stop_node(dir: &Path, i: u16) -> anyhow::Result<()> {
    let nd = node_dir(dir, i);
    if !nd.join("grproxy.yaml").exists() {
        bail!("{} is not a sandbox node (no grproxy.yaml)", nd.display());
    }
    for f in ["grproxy.pid", "mysqld.pid.sandbox"] {
        if let Some(pid) = read_pid(&nd.join(f)) {
            mysqld::stop_pid(pid, Duration::from_secs(60));
            let _ = std::fs::remove_file(nd.join(f));
        }
    }
    println!("node{i} stopped");
    Ok(())
}

/// Starts node `i`'s mysqld and proxy, each unless it is running, and waits for the proxy.
pub fn start_node(dir: &Path, i: u16) -> anyhow::Result<()> {
    let nd = node_dir(dir, i);
    let cfg_path = nd.join("grproxy.yaml");
    let cfg = crate::config::load_file(&cfg_path).with_context(|| format!("node{i}"))?;
    let port_of = |addr: &Option<String>, what: &str| -> anyhow::Result<u16> {
        addr.as_deref()
            .and_then(|a| a.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok())
            .with_context(|| format!("{}: no {what} port", cfg_path.display()))
    };
    let mysqld_port = port_of(&cfg.backend.address, "backend.address")?;
    let proxy_port = port_of(&cfg.listen.tcp, "listen.tcp")?;
    let alive = |f: &str| read_pid(&nd.join(f)).is_some_and(pid_alive);
    if !alive("mysqld.pid.sandbox") {
        let layout = MysqldLayout::under(&nd, mysqld_port);
        let child = mysqld::start(&layout, &[], Duration::from_secs(60))?;
        std::fs::write(nd.join("mysqld.pid.sandbox"), child.id().to_string())?;
    }
    if !alive("grproxy.pid") {
        spawn_proxy(&nd, &cfg_path)?;
    }
    wait_proxy(&nd, proxy_port)?;
    println!("node{i} running: proxy 127.0.0.1:{proxy_port}, mysqld 127.0.0.1:{mysqld_port}");
    Ok(())
}
