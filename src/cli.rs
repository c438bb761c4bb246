//! Command-line interface: `grproxy run --config FILE` and `grproxy sandbox up|down`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "grproxy",
    version,
    about = "MySQL proxy that adds group replication in front of stock mysqld"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a proxy in front of its local mysqld.
    Run {
        /// YAML configuration file (see config/grproxy.example.yaml).
        #[arg(long)]
        config: PathBuf,
    },
    /// Local mysqld instances, each with its proxy, for trying grproxy out.
    Sandbox {
        #[command(subcommand)]
        action: SandboxAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum SandboxAction {
    /// Start N mysqld instances (datadirs under DIR) with a proxy each on ports P, P+1, ...
    Up {
        #[arg(long, default_value_t = 1)]
        nodes: u16,
        #[arg(long)]
        dir: PathBuf,
        /// First proxy port; mysqld i listens on P+100+i (and on a unix socket under DIR).
        #[arg(long, default_value_t = 6033)]
        port: u16,
        /// Account created on every mysqld for clients (loopback only).
        #[arg(long, default_value = "root")]
        user: String,
        #[arg(long, default_value = "")]
        password: String,
        /// For fault-injection tests: member i dials member j at 127.0.0.1:Q+(i-1)*N+(j-1),
        /// where the test runs a relay to j's peer port, instead of j's peer port directly.
        #[arg(long, value_name = "Q")]
        peer_relay_port: Option<u16>,
        /// `group.snapshot_every` of every member (log entries between snapshots).
        #[arg(long, value_name = "N", default_value_t = crate::replication::group::DEFAULT_SNAPSHOT_EVERY)]
        snapshot_every: u64,
    },
    /// Stop everything `sandbox up` started in DIR.
    Down {
        #[arg(long)]
        dir: PathBuf,
    },
}
