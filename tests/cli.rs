//! The binary: `grproxy sandbox up/down` end to end, and config errors on `grproxy run`.

mod common;

use std::process::Command;

use mysql_async::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_grproxy");

fn base_port() -> u16 {
    // The proxy's port, the mysqld port at +100 and the admin HTTP port at +400 are free.
    loop {
        let p = common::free_port();
        if p < 60000
            && [p, p + 100, p + 400]
                .iter()
                .all(|&q| std::net::TcpListener::bind(("127.0.0.1", q)).is_ok())
        {
            return p;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_up_serves_clients_and_down_stops_everything() {
    let dir = tempfile::tempdir().unwrap();
    let port = base_port();
    let up = Command::new(BIN)
        .args([
            "sandbox",
            "up",
            "--nodes",
            "1",
            "--port",
            &port.to_string(),
            "--user",
            "app",
            "--password",
            "pw",
        ])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&up.stdout);
    assert!(up.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&up.stderr));
    assert!(stdout.contains(&format!("127.0.0.1:{port}")), "{stdout}");

    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .prefer_socket(false)
        .user(Some("app"))
        .pass(Some("pw"));
    let mut c = mysql_async::Conn::new(opts)
        .await
        .expect("login through the sandbox proxy");
    let who: Option<String> = c.query_first("SELECT CURRENT_USER()").await.unwrap();
    // The client's own address reaches mysqld (PROXY protocol): the TCP account matches.
    assert_eq!(who.as_deref(), Some("app@127.0.0.1"));
    c.disconnect().await.unwrap();
    let pids: Vec<u32> = ["node1/grproxy.pid", "node1/mysqld.pid.sandbox"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(dir.path().join(f))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();

    let down = Command::new(BIN)
        .args(["sandbox", "down", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(down.status.success());
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z"),
            "process {pid} still running after down"
        );
    }
}

#[test]
fn config_errors_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(
        &cfg,
        "listen:\n  tcp: \"127.0.0.1:0\"\nbackend:\n  unix_socket: /tmp/x.sock\nlimits:\n  max_conections: 5\n",
    )
    .unwrap();
    let out = Command::new(BIN).arg("run").arg("--config").arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:6"), "{err}");
    assert!(err.contains("max_conections"), "{err}");
}
