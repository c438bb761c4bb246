use clap::Parser;
use grproxy::cli::{Cli, Command, SandboxAction};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Run { config } => {
            let cfg = grproxy::config::load_file(&config)?;
            init_logging(&cfg.log.level, cfg.log.format == grproxy::config::LogFormat::Json);
            runtime.block_on(grproxy::run::run(cfg))
        }
        Command::Sandbox { action } => {
            init_logging("info", false);
            match action {
                SandboxAction::Up {
                    nodes,
                    dir,
                    port,
                    user,
                    password,
                    peer_relay_port,
                    snapshot_every,
                } => runtime.block_on(grproxy::sandbox::up(&grproxy::sandbox::UpOptions {
                    nodes,
                    dir,
                    port,
                    user,
                    password,
                    peer_relay_port,
                    snapshot_every,
                })),
                SandboxAction::Down { dir } => grproxy::sandbox::down(&dir),
            }
        }
    }
}

/// `RUST_LOG` wins over the configured level.
fn init_logging(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
