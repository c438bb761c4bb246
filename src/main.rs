use std::process::ExitCode;

use clap::Parser;
use grproxy::cli::{Cli, Command, GroupAction, SandboxAction};

/// A configuration error (the file, its secrets, its TLS material).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Errors are printed with their causes (`{:#}`), never through `Debug`: no backtrace
    // even with RUST_BACKTRACE set.
    let fail = |code: u8, e: &dyn std::fmt::Display| {
        eprintln!("grproxy: {e}");
        ExitCode::from(code)
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(1, &format!("starting the runtime: {e}")),
    };
    match cli.command {
        Command::Run { config } => {
            let cfg = match grproxy::cli::check::load(&config) {
                Ok(c) => c,
                Err(e) => return fail(EXIT_CONFIG, &e),
            };
            let log = match grproxy::logging::init(&cfg.log.level, cfg.log.format == grproxy::config::LogFormat::Json) {
                Ok(l) => l,
                Err(e) => return fail(EXIT_CONFIG, &format!("{}: log.level: {e}", config.display())),
            };
            match runtime.block_on(grproxy::run::run(cfg, &config, Some(log))) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    // The log is where a service's operator looks (journal, container log).
                    tracing::error!("{e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Check { config } => match grproxy::cli::check::check(&config) {
            Ok(ok) => {
                println!("{ok}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(EXIT_CONFIG, &e),
        },
        Command::Status {
            host,
            port,
            user,
            password_env,
        } => {
            let password = match &password_env {
                None => String::new(),
                Some(var) => match std::env::var(var) {
                    Ok(p) => p,
                    Err(_) => return fail(EXIT_CONFIG, &format!("--password-env: {var} is not set")),
                },
            };
            let target = grproxy::cli::status::Target {
                host,
                port,
                user,
                password,
            };
            match runtime.block_on(grproxy::cli::status::status(&target)) {
                Ok(report) => {
                    print!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(1, &e),
            }
        }
        Command::Group { action } => {
            let (login, sql) = match action {
                GroupAction::Add { login, id, address } => (
                    login,
                    format!("GRPROXY ADD MEMBER {id} AT '{}'", address.replace(['\'', '\\'], "")),
                ),
                GroupAction::Remove { login, id } => (login, format!("GRPROXY REMOVE MEMBER {id}")),
                GroupAction::Rebuild { login, from } => (
                    login,
                    match from {
                        Some(f) => format!("GRPROXY REBUILD FROM {f}"),
                        None => "GRPROXY REBUILD".into(),
                    },
                ),
                GroupAction::Primary { login, id } => (login, format!("GRPROXY SET PRIMARY {id}")),
                GroupAction::Mode { login, mode, primary } => {
                    let Some(m) = grproxy::replication::topology::Mode::parse(&mode) else {
                        return fail(
                            EXIT_CONFIG,
                            &format!("mode: expected single-primary or multi-primary, got {mode}"),
                        );
                    };
                    let mut sql = format!("GRPROXY SET MODE {}", m.name().replace('-', "_"));
                    if let Some(p) = primary {
                        sql.push_str(&format!(" WITH PRIMARY {p}"));
                    }
                    (login, sql)
                }
            };
            let password = match &login.password_env {
                None => String::new(),
                Some(var) => match std::env::var(var) {
                    Ok(p) => p,
                    Err(_) => return fail(EXIT_CONFIG, &format!("--password-env: {var} is not set")),
                },
            };
            let target = grproxy::cli::status::Target {
                host: login.host,
                port: login.port,
                user: login.user,
                password,
            };
            match runtime.block_on(grproxy::cli::status::run_statement(&target, &sql)) {
                Ok(done) => {
                    println!("{done}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(1, &e),
            }
        }
        Command::Sandbox { action } => {
            let _ = grproxy::logging::init("info", false);
            let result = match action {
                SandboxAction::Up {
                    nodes,
                    dir,
                    port,
                    user,
                    password,
                    peer_relay_port,
                    snapshot_every,
                    retention_bytes,
                    mode,
                    raft_batches_in_flight,
                } => runtime.block_on(grproxy::sandbox::up(&grproxy::sandbox::UpOptions {
                    nodes,
                    dir,
                    port,
                    user,
                    password,
                    peer_relay_port,
                    snapshot_every,
                    retention_bytes,
                    mode,
                    raft_batches_in_flight,
                })),
                SandboxAction::Add { dir, user, password } => runtime
                    .block_on(grproxy::sandbox::add_node(&dir, &user, &password))
                    .map(drop),
                SandboxAction::Down { dir } => grproxy::sandbox::down(&dir),
                SandboxAction::Stop { dir, node } => grproxy::sandbox::stop_node(&dir, node),
                SandboxAction::Start { dir, node } => grproxy::sandbox::start_node(&dir, node),
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(1, &format!("{e:#}")),
            }
        }
    }
}
