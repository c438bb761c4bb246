//! Command-line interface: `grproxy run | check | status | sandbox up | sandbox down`.
//!
//! Each subcommand's `--help` says what it does, what every option means and shows an
//! example; `grproxy --version` prints the crate version and the git revision.

pub mod check;
pub mod status;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "grproxy",
    version = crate::VERSION,
    about = "MySQL proxy that adds group replication in front of stock mysqld",
    long_about = "grproxy runs beside each MySQL/MariaDB server. Clients connect to it as to \
                  mysqld; with a `group:` section in its config it is a member of a \
                  multi-primary replication group (Raft ordering, certification, replay).",
    after_help = "Examples:\n  \
                  grproxy run --config /etc/grproxy/grproxy.yaml\n  \
                  grproxy check --config /etc/grproxy/grproxy.yaml\n  \
                  grproxy status --port 6033 --user root\n  \
                  grproxy sandbox up --nodes 3 --dir ./sandbox\n\n\
                  Operations (signals, metrics, health, logs): docs/operations.md"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a proxy in front of its local mysqld.
    #[command(
        long_about = "Run a proxy in front of its local mysqld, as configured in FILE, until \
                      SIGTERM or SIGINT.\n\n\
                      SIGHUP reads FILE again and applies log.level, the client TLS \
                      certificate (tls.cert/tls.key, also rotated files at the same paths), the \
                      group's peer certificate (group.tls) and the client limits (all but \
                      limits.max_packet_size); other changed keys are logged as needing a restart. SIGTERM/SIGINT \
                      hand group leadership over (a leader), then drain: no new clients, idle sessions closed, sessions inside a \
                      transaction may finish it within limits.shutdown_grace_ms; then exit 0.\n\n\
                      Exit status: 0 after a signal, 2 for a configuration error (printed \
                      without a backtrace), 1 for other errors (a port in use, mysqld refusing \
                      the settings grproxy needs).",
        after_help = "Example:\n  grproxy run --config /etc/grproxy/grproxy.yaml\n  \
                      RUST_LOG=grproxy=debug grproxy run --config grproxy.yaml   # RUST_LOG overrides log.level"
    )]
    Run {
        /// YAML configuration file (config/grproxy.example.yaml documents every key).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Check a configuration file and exit.
    #[command(
        long_about = "Check a configuration file with the loader `grproxy run` uses: YAML \
                      syntax, unknown keys, values, the log filter, and it loads the TLS \
                      certificates and keys (client and group peers) and resolves the service \
                      account's password source (password_env must be set, password_file \
                      readable). It does not connect to mysqld.\n\n\
                      Prints \"FILE: OK\" and exits 0, or prints the error (file:line: key: \
                      what is wrong) and exits 2.",
        after_help = "Example:\n  grproxy check --config /etc/grproxy/grproxy.yaml && systemctl reload grproxy"
    )]
    Check {
        /// YAML configuration file to check.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Show a running member's SHOW GRPROXY STATUS (and members, where supported).
    #[command(
        long_about = "Connect to a running grproxy through the MySQL protocol and print SHOW \
                      GRPROXY STATUS: version, mode, the admin endpoint, and for a group \
                      member its state, Raft role and leader, indexes, errant transactions and \
                      write-path counters. Then SHOW GRPROXY MEMBERS, when the proxy knows it \
                      (skipped otherwise). The account needs the PROCESS privilege.\n\n\
                      Exit status: 0, or 1 when the proxy cannot be reached or refuses.",
        after_help = "Examples:\n  grproxy status --port 6033\n  \
                      MONITOR_PW=secret grproxy status --host 10.0.0.5 --port 6033 --user monitor --password-env MONITOR_PW"
    )]
    Status {
        /// Host of the proxy.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Client port of the proxy (listen.tcp).
        #[arg(long, default_value_t = 6033)]
        port: u16,
        /// Account to log in as (needs the PROCESS privilege).
        #[arg(long, default_value = "root")]
        user: String,
        /// Name of an environment variable holding the password (empty password without it).
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Change the group's members, or rebuild a member, through any running member.
    #[command(
        long_about = "Connect to a running member through the MySQL protocol and run a GRPROXY \
                      administration statement (the account needs SUPER):\n  \
                      add     GRPROXY ADD MEMBER <id> AT '<address>': a member already running \
                      with that member_id, its peer address and a certificate of the group CA \
                      joins; it becomes a voter once its log caught up.\n  \
                      remove  GRPROXY REMOVE MEMBER <id>\n  \
                      rebuild GRPROXY REBUILD [FROM <id>]: the member you connect to replaces \
                      its mysqld's data with a copy of a donor's (state transfer), then \
                      catches up from the log.\n\n\
                      Exit status: 0, or 1 when the member refuses or cannot be reached.",
        after_help = "Examples:\n  grproxy group add --port 6033 --id 4 --address 127.0.0.1:6236\n  \
                      grproxy group remove --port 6033 --id 2\n  \
                      grproxy group rebuild --port 6035 --from 1"
    )]
    Group {
        #[command(subcommand)]
        action: GroupAction,
    },
    /// Local mysqld instances, each with its proxy, for trying grproxy out.
    Sandbox {
        #[command(subcommand)]
        action: SandboxAction,
    },
}

/// How `grproxy group` logs in to a member.
#[derive(clap::Args, Debug)]
pub struct MemberLogin {
    /// Host of the member's proxy.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Client port of the member's proxy (listen.tcp).
    #[arg(long, default_value_t = 6033)]
    pub port: u16,
    /// Account to log in as (needs SUPER).
    #[arg(long, default_value = "root")]
    pub user: String,
    /// Name of an environment variable holding the password (empty password without it).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum GroupAction {
    /// Add a running member to the group.
    #[command(after_help = "Example:\n  grproxy group add --port 6033 --id 4 --address 127.0.0.1:6236")]
    Add {
        #[command(flatten)]
        login: MemberLogin,
        /// The new member's member_id.
        #[arg(long)]
        id: u64,
        /// The new member's peer address (its group.members entry), host:port.
        #[arg(long)]
        address: String,
    },
    /// Remove a member from the group.
    #[command(after_help = "Example:\n  grproxy group remove --port 6033 --id 2")]
    Remove {
        #[command(flatten)]
        login: MemberLogin,
        /// The member to remove.
        #[arg(long)]
        id: u64,
    },
    /// Rebuild the member you connect to from a donor (state transfer).
    #[command(after_help = "Example:\n  grproxy group rebuild --port 6035 --from 1")]
    Rebuild {
        #[command(flatten)]
        login: MemberLogin,
        /// The donor (default: the most up-to-date ONLINE member).
        #[arg(long)]
        from: Option<u64>,
    },
    /// Make another member the primary (single-primary mode): returns once it has applied
    /// everything the old primary committed.
    #[command(after_help = "Example:\n  grproxy group primary --port 6033 --id 2")]
    Primary {
        #[command(flatten)]
        login: MemberLogin,
        /// The new primary.
        #[arg(long)]
        id: u64,
    },
    /// Change the group's mode online: single-primary or multi-primary.
    #[command(
        after_help = "Examples:\n  grproxy group mode --port 6033 single-primary --primary 1\n  \
                            grproxy group mode --port 6033 multi-primary"
    )]
    Mode {
        #[command(flatten)]
        login: MemberLogin,
        /// single-primary or multi-primary.
        mode: String,
        /// single-primary: the primary (default: the most up-to-date ONLINE member).
        #[arg(long)]
        primary: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SandboxAction {
    /// Start N local members: a mysqld and a grproxy each (a group when N > 1).
    #[command(
        long_about = "Start N local members under DIR, each a mysqld (datadir initialized on \
                      first use) with a grproxy in front of it; with N > 1 the proxies form a \
                      multi-primary group with mutual TLS on the peer links (a CA and member \
                      certificates are written under DIR). Running it again starts what is \
                      not running and leaves the rest.\n\n\
                      Ports, for node i = 1..N and base port P (--port):\n  \
                      proxy (clients)       P+i-1        (6033, 6034, 6035 for P=6033)\n  \
                      mysqld                P+100+i-1    (6133, 6134, 6135)\n  \
                      Raft peers            P+200+i-1    (6233, 6234, 6235)\n  \
                      /metrics and /health  P+400+i-1    (6433, 6434, 6435)\n\
                      Each proxy also listens on DIR/node<i>/grproxy.sock and mysqld on its \
                      socket under DIR/node<i>. Node i's files: DIR/node<i>/grproxy.yaml, \
                      grproxy.log, the mysqld datadir and log.",
        after_help = "Examples:\n  grproxy sandbox up --nodes 3 --dir ./sandbox\n  \
                      mariadb -h127.0.0.1 -P6033 -uroot\n  \
                      curl -s 127.0.0.1:6433/health\n  \
                      grproxy sandbox down --dir ./sandbox"
    )]
    Up {
        /// Number of members (1: a plain proxy without a group).
        #[arg(long, default_value_t = 1, value_name = "N")]
        nodes: u16,
        /// Directory for the members' data, configs, logs and certificates (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// Base port P: proxy i on P+i-1, its mysqld on P+100+i-1, Raft peer port P+200+i-1,
        /// admin HTTP endpoint P+400+i-1.
        #[arg(long, default_value_t = 6033, value_name = "P")]
        port: u16,
        /// Account created on every mysqld for clients, with all privileges, for 127.0.0.1,
        /// ::1 and localhost only.
        #[arg(long, default_value = "root")]
        user: String,
        /// Password of --user (empty by default: loopback only, for trying out).
        #[arg(long, default_value = "")]
        password: String,
        /// For fault-injection tests: member i dials member j at 127.0.0.1:Q+(i-1)*N+(j-1),
        /// where the test runs a relay to j's peer port, instead of j's peer port directly.
        #[arg(long, value_name = "Q")]
        peer_relay_port: Option<u16>,
        /// `group.snapshot_every` of every member (log entries between snapshots, >= 100).
        #[arg(long, value_name = "N", default_value_t = crate::replication::group::DEFAULT_SNAPSHOT_EVERY)]
        snapshot_every: u64,
        /// `group.retention_bytes` of every member (bytes of log entries kept for members
        /// that are behind, >= 1 MiB).
        #[arg(long, value_name = "BYTES", default_value_t = crate::replication::group::DEFAULT_RETENTION_BYTES)]
        retention_bytes: u64,
        /// `group.mode` of every member: multi-primary (every member takes writes) or
        /// single-primary (one primary takes writes; the others send them on to it).
        #[arg(long, value_name = "MODE", default_value = "multi-primary")]
        mode: String,
        /// `group.raft_batches_in_flight` of every member (1-64).
        #[arg(long, value_name = "N", default_value_t = crate::consensus::DEFAULT_BATCHES_IN_FLIGHT)]
        raft_batches_in_flight: usize,
    },
    /// Stop one node's grproxy and mysqld (the others go on; the group sees it UNREACHABLE).
    #[command(after_help = "Example:\n  grproxy sandbox stop --dir ./sandbox --node 2")]
    Stop {
        /// The directory given to `sandbox up`.
        #[arg(long)]
        dir: PathBuf,
        /// The node to stop (1-based, as in node<i>).
        #[arg(long, value_name = "N")]
        node: u16,
    },
    /// Start one node's mysqld and grproxy again (each unless running); the member rejoins
    /// the group by itself and catches up from the log.
    #[command(after_help = "Example:\n  grproxy sandbox start --dir ./sandbox --node 2")]
    Start {
        /// The directory given to `sandbox up`.
        #[arg(long)]
        dir: PathBuf,
        /// The node to start (1-based).
        #[arg(long, value_name = "N")]
        node: u16,
    },
    /// Start one more node (the next number) and add it to the running group.
    #[command(
        long_about = "Start node N+1 of the sandbox in DIR (nodes 1..N exist): a fresh mysqld, a \
                      member certificate from the sandbox's CA and a grproxy, then ask a running \
                      member to add it (GRPROXY ADD MEMBER). It gets the group's data from the \
                      log, or from a donor by state transfer. Ports follow `sandbox up`'s table.",
        after_help = "Example:\n  grproxy sandbox add --dir ./sandbox"
    )]
    Add {
        /// The directory given to `sandbox up`.
        #[arg(long)]
        dir: PathBuf,
        /// The account given to `sandbox up` (created on the new mysqld too).
        #[arg(long, default_value = "root")]
        user: String,
        /// Its password.
        #[arg(long, default_value = "")]
        password: String,
    },
    /// Stop everything `sandbox up` started in DIR (proxies first, then mysqlds).
    #[command(after_help = "Example:\n  grproxy sandbox down --dir ./sandbox")]
    Down {
        /// The directory given to `sandbox up`.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn long_help(path: &[&str]) -> String {
        let mut cmd = Cli::command();
        let mut cur = &mut cmd;
        for p in path {
            cur = cur.find_subcommand_mut(p).unwrap();
        }
        cur.render_long_help().to_string()
    }

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    /// Every option of every subcommand has a help text, and every subcommand an example.
    #[test]
    fn every_option_is_documented() {
        fn walk(cmd: &clap::Command, path: String, out: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id != "help" && id != "version" && a.get_help().is_none() {
                    out.push(format!("{path} --{id}"));
                }
            }
            if cmd.get_subcommands().next().is_none() && cmd.get_after_help().is_none() {
                out.push(format!("{path}: no example"));
            }
            for s in cmd.get_subcommands() {
                walk(s, format!("{path} {}", s.get_name()), out);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "grproxy".into(), &mut missing);
        assert!(missing.is_empty(), "undocumented: {missing:?}");
    }

    /// The port table in `sandbox up --help` is what the sandbox does.
    #[test]
    fn sandbox_help_port_formulas_match_the_sandbox() {
        use crate::sandbox::{admin_port, mysqld_port, peer_port};
        let help = long_help(&["sandbox", "up"]);
        assert!(help.contains("P+100+i-1    (6133, 6134, 6135)"), "{help}");
        assert!(help.contains("P+200+i-1    (6233, 6234, 6235)"), "{help}");
        assert!(help.contains("P+400+i-1    (6433, 6434, 6435)"), "{help}");
        for i in 1..=3 {
            assert_eq!(mysqld_port(6033, i), 6133 + i - 1);
            assert_eq!(peer_port(6033, i), 6233 + i - 1);
            assert_eq!(admin_port(6033, i), 6433 + i - 1);
        }
        for opt in [
            "--nodes",
            "--dir",
            "--port",
            "--user",
            "--password",
            "--peer-relay-port",
            "--snapshot-every",
        ] {
            assert!(help.contains(opt), "{opt} missing from\n{help}");
        }
    }

    #[test]
    fn version_names_the_revision() {
        let v = Cli::command().render_version().to_string();
        assert!(
            v.starts_with(&format!("grproxy {} (git ", env!("CARGO_PKG_VERSION"))),
            "{v}"
        );
    }
}
