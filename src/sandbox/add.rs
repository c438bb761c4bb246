//! `grproxy sandbox add --dir D`: one more node joins a running sandbox group. It gets the
//! next node number, its own mysqld (a fresh datadir), a member certificate from the
//! sandbox's CA and a proxy; then the group is asked, through a running member, to add it
//! (`GRPROXY ADD MEMBER`). The new member's data comes from the log, or from a donor by state
//! transfer when the log no longer holds everything.

use std::path::Path;

use anyhow::{bail, Context};
use mysql_async::prelude::Queryable;

use super::{certs, node_dir, peer_port, pid_alive, prepare_node, read_pid, spawn_proxy, wait_proxy, UpOptions};

/// Adds node N+1 to the sandbox in `dir` (nodes 1..=N); returns its number.
pub async fn add_node(dir: &Path, user: &str, password: &str) -> anyhow::Result<u16> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("{} is not a sandbox", dir.display()))?;
    let existing = (1..u16::MAX)
        .take_while(|&i| node_dir(&dir, i).join("grproxy.yaml").exists())
        .count() as u16;
    if existing == 0 {
        bail!(
            "{} holds no sandbox nodes (run `grproxy sandbox up` first)",
            dir.display()
        );
    }
    let first = crate::config::load_file(&node_dir(&dir, 1).join("grproxy.yaml")).context("node1")?;
    let Some(group) = &first.group else {
        bail!("the sandbox in {} is a single proxy, not a group", dir.display());
    };
    let base = first
        .listen
        .tcp
        .as_deref()
        .and_then(|a| a.rsplit_once(':'))
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .context("node1 has no listen.tcp port")?;
    let ca = certs::GroupCa::read(&dir)?.context("the sandbox's group CA (ca.pem, ca-key.pem) is missing")?;
    let i = existing + 1;
    let o = UpOptions {
        nodes: i,
        dir: dir.clone(),
        port: base,
        user: user.to_string(),
        password: password.to_string(),
        peer_relay_port: None,
        snapshot_every: group.snapshot_every,
        retention_bytes: group.retention_bytes,
        mode: group.mode.clone(),
        raft_batches_in_flight: group.raft_batches_in_flight,
    };
    for p in [
        base + i - 1,
        super::mysqld_port(base, i),
        peer_port(base, i),
        super::admin_port(base, i),
    ] {
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_err() {
            bail!("port {p} on 127.0.0.1, which node{i} needs, is taken");
        }
    }
    prepare_node(&dir, &o, i, Some(&ca)).await?;
    let nd = node_dir(&dir, i);
    spawn_proxy(&nd, &nd.join("grproxy.yaml"))?;
    wait_proxy(&nd, base + i - 1)?;
    // Any running member takes the change (it is forwarded to the leader).
    let running = (1..i).find(|&m| read_pid(&node_dir(&dir, m).join("grproxy.pid")).is_some_and(pid_alive));
    let Some(m) = running else {
        bail!("no member of the sandbox is running to add node{i} to");
    };
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(base + m - 1)
        .prefer_socket(false)
        .user(Some(user))
        .pass(Some(password));
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .with_context(|| format!("logging in to node{m}"))?;
    let sql = format!("GRPROXY ADD MEMBER {i} AT '127.0.0.1:{}'", peer_port(base, i));
    let done: Option<String> = conn
        .query_first(&sql)
        .await
        .with_context(|| format!("node{m}: {sql}"))?;
    let _ = conn.disconnect().await;
    println!("node{i}: {}", done.unwrap_or_default());
    println!(
        "  proxy 127.0.0.1:{}   mysqld 127.0.0.1:{}",
        base + i - 1,
        super::mysqld_port(base, i)
    );
    Ok(i)
}
