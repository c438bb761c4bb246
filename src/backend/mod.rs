//! The local mysqld. Each client session owns one [`conn::BackendConn`], a relay the proxy
//! drives itself on raw packet framing; the proxy's own side connections (metadata, KILL, later
//! the replication applier) go through [`side::SidePool`] on `mysql_async`.

pub mod conn;
pub mod internal;
pub mod login;
pub mod proxy_header;
pub mod relay;
pub mod service_conn;
pub mod side;

pub use conn::{BackendAddr, BackendConn};
