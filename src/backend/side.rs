//! The proxy's own connections to mysqld under the service account, on `mysql_async`: killing
//! a backend thread whose client went away, health checks, and later metadata and the
//! replication applier. `mysql_async` futures are not cancel-safe: never drop one mid-query;
//! to stop a statement, send `KILL QUERY` from another connection.

use mysql_async::prelude::Queryable;
use mysql_async::{OptsBuilder, Pool, PoolConstraints, PoolOpts};

use super::conn::BackendAddr;

#[derive(Clone)]
pub struct SidePool {
    pool: Pool,
    opts: mysql_async::Opts,
}

impl SidePool {
    /// `keep_idle`: a group member keeps idle connections a minute (a commit that wrote
    /// nothing asks for the binlog end on one, and a new connection per ask cost about a
    /// millisecond). A plain proxy only kills and checks now and then, and closes them at
    /// once, so its clients' session counts (`SHOW PROCESSLIST`) settle as on mysqld.
    pub fn new(addr: &BackendAddr, user: &str, password: &str, keep_idle: bool) -> Self {
        let pool_opts = if keep_idle {
            PoolOpts::default()
                .with_constraints(PoolConstraints::new(1, 8).expect("1 <= 8"))
                .with_inactive_connection_ttl(std::time::Duration::from_secs(60))
        } else {
            PoolOpts::default().with_constraints(PoolConstraints::new(0, 4).expect("0 <= 4"))
        };
        let mut opts = OptsBuilder::default()
            .user(Some(user))
            .pass(Some(password))
            // Replayed UPDATEs are checked to match exactly one row, also when the row image
            // equals what the row already holds (a point UPDATE whose values did not change).
            .client_found_rows(true)
            .pool_opts(pool_opts);
        opts = match addr {
            BackendAddr::Unix(p) => opts.socket(Some(p.to_string_lossy().into_owned())),
            BackendAddr::Tcp(a) => {
                let (host, port) = a.rsplit_once(':').unwrap_or((a.as_str(), "3306"));
                opts.ip_or_hostname(host.trim_matches(['[', ']']).to_string())
                    .tcp_port(port.parse().unwrap_or(3306))
                    .prefer_socket(false)
            }
        };
        let opts = mysql_async::Opts::from(opts);
        Self {
            pool: Pool::new(opts.clone()),
            opts,
        }
    }

    /// The connection options, for a component that needs a connection of its own outside
    /// the pool (the binlog tap's replication connection).
    pub fn opts(&self) -> mysql_async::Opts {
        self.opts.clone()
    }

    /// The underlying pool, for components that run their own statements (replication).
    pub fn pool(&self) -> mysql_async::Pool {
        self.pool.clone()
    }

    /// Checks that the service account can log in.
    pub async fn check(&self) -> Result<String, mysql_async::Error> {
        let mut conn = self.pool.get_conn().await?;
        let v: Option<String> = conn.query_first("SELECT VERSION()").await?;
        Ok(v.unwrap_or_default())
    }

    /// `KILL [QUERY] <backend thread id>`; an already gone thread is not an error.
    pub async fn kill(&self, thread_id: u32, query_only: bool) -> Result<(), mysql_async::Error> {
        let mut conn = self.pool.get_conn().await?;
        let sql = if query_only {
            format!("KILL QUERY {thread_id}")
        } else {
            format!("KILL {thread_id}")
        };
        match conn.query_drop(sql).await {
            Err(mysql_async::Error::Server(e)) if e.code == 1094 => Ok(()),
            other => other,
        }
    }

    pub async fn disconnect(self) {
        let _ = self.pool.disconnect().await;
    }
}
