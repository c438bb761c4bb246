//! The client side: listeners, the connection phase (greeting, TLS, relayed authentication)
//! and the per-session command loop.

pub mod backend_check;
pub mod connect;
pub mod consistency;
pub mod context;
pub mod errors;
pub mod group_admin;
pub mod identity;
pub mod kill;
pub mod limits;
pub mod listener;
pub mod members;
pub mod primary_leg;
pub mod registry;
pub mod replicate;
pub mod route;
pub mod row_count;
pub mod session;
pub mod split;
pub mod split_session;
pub mod stats;
pub mod status;
pub mod tls;

pub use context::{Context, Settings};
pub use listener::{start, ProxyHandle};
pub use tls::TlsMode;
