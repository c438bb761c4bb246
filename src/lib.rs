//! grproxy: a MySQL wire-protocol proxy that runs beside each mysqld and (in later stages)
//! turns a set of stock mysqld servers into a replicated group.
//!
//! Module map, along the data path:
//! - [`protocol`]: the wire format only (framing, handshake packets, where responses end).
//! - [`frontend`]: the client side: listeners, TLS, relayed authentication, sessions.
//! - [`sql`]: the statement classifier (lexical) and DML extraction (`sqlparser`).
//! - [`backend`]: the local mysqld: per-session relay connections and side connections.
//! - [`config`]: the YAML configuration; [`sandbox`]: local instances for trying it out.
//! - [`admin`]: the operator's HTTP endpoint (`/metrics`, `/health`); [`logging`], [`run`]
//!   (signals, drain, reload) and [`cli`] around a running proxy.
//!
//! Rules of absence: `protocol` and `sql` do no I/O; `frontend` talks to mysqld only through
//! `backend`.

pub mod admin;
pub mod backend;
pub mod cli;
pub mod config;
pub mod consensus;
pub mod frontend;
pub mod latency;
pub mod logging;
pub mod protocol;
pub mod reload;
pub mod replication;
pub mod run;
pub mod sandbox;
pub mod settings;
pub mod sql;

/// The git revision this binary was built from (`git rev-parse --short HEAD` at build time),
/// or "unknown".
pub const GIT_REVISION: &str = env!("GRPROXY_GIT_REVISION");

/// `grproxy --version`: the crate version and the git revision.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("GRPROXY_GIT_REVISION"), ")");
