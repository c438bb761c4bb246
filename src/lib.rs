//! grproxy: a MySQL wire-protocol proxy that runs beside each mysqld and (in later stages)
//! turns a set of stock mysqld servers into a replicated group.
//!
//! Module map, along the data path:
//! - [`protocol`]: the wire format only (framing, handshake packets, where responses end).
//! - [`frontend`]: the client side: listeners, TLS, relayed authentication, sessions.
//! - [`sql`]: the statement classifier (lexical) and DML extraction (`sqlparser`).
//! - [`backend`]: the local mysqld: per-session relay connections and side connections.
//! - [`config`]: the YAML configuration; [`sandbox`]: local instances for trying it out.
//!
//! Rules of absence: `protocol` and `sql` do no I/O; `frontend` talks to mysqld only through
//! `backend`.

pub mod backend;
pub mod cli;
pub mod config;
pub mod consensus;
pub mod frontend;
pub mod protocol;
pub mod replication;
pub mod run;
pub mod sandbox;
pub mod settings;
pub mod sql;
