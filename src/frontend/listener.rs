//! Accepting clients on TCP and a unix socket, enforcing the global connection limit, one task
//! per connection, and shutdown: at once ([`ProxyHandle::stop`]) or draining
//! ([`ProxyHandle::drain`]: stop accepting, let open transactions finish within a grace
//! period).

use std::path::PathBuf;
use std::sync::Arc;

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::connect::{establish, ConnectFailure};
use super::context::{Context, Settings};
use super::errors::ClientError;
use super::registry::Registry;
use super::session::{Session, SessionEnd};
use super::split::PortRole;
use super::stats::FrontendStats;
use super::tls::{self, TlsMode};
use crate::backend::side::SidePool;
use crate::protocol::io::{BoxStream, PacketIo};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("listening on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("no listener configured")]
    NoListener,
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("joining the group: {0}")]
    Group(#[from] crate::replication::group::GroupError),
    #[error(transparent)]
    Backend(#[from] super::backend_check::BackendCheckError),
}

/// A running proxy: its bound addresses and a way to stop it.
pub struct ProxyHandle {
    pub tcp_addr: Option<std::net::SocketAddr>,
    /// The read-write and read-only ports, when configured (group members).
    pub read_write_addr: Option<std::net::SocketAddr>,
    pub read_only_addr: Option<std::net::SocketAddr>,
    pub unix_path: Option<PathBuf>,
    pub context: Arc<Context>,
    shutdown: watch::Sender<bool>,
    drain: watch::Sender<Option<Instant>>,
    task: tokio::task::JoinHandle<Drained>,
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Connections that ended by themselves after the drain began (idle sessions are told
    /// 1053 and closed at once; the others when their transaction ended).
    pub finished: usize,
    /// Connections still open at the deadline, closed by force.
    pub cut: usize,
}

impl ProxyHandle {
    /// Stops accepting, closes sessions, and waits for the tasks to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        if let Some(p) = &self.unix_path {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Stops accepting at once; closes idle sessions (with 1053 "Server shutdown in
    /// progress") and lets sessions inside a transaction or a statement finish it, within
    /// `grace`; then closes whatever is left and stops like [`ProxyHandle::stop`].
    pub async fn drain(mut self, grace: Duration) -> Drained {
        let _ = self.drain.send(Some(Instant::now() + grace));
        let drained = (&mut self.task).await.unwrap_or_default();
        if let Some(p) = &self.unix_path {
            let _ = std::fs::remove_file(p);
        }
        drained
    }

    /// Waits until the proxy stops by itself (it only does on shutdown).
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    pub fn shutdown_sender(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Binds the listeners and starts serving.
pub async fn start(mut settings: Settings) -> Result<ProxyHandle, StartError> {
    if settings.listen_tcp.is_none() && settings.listen_unix.is_none() {
        return Err(StartError::NoListener);
    }
    let tls_config = match (settings.tls_mode, settings.tls.take()) {
        (TlsMode::Disabled, _) => None,
        (_, Some(cfg)) => Some(cfg),
        (_, None) => Some(tls::self_signed()?),
    };
    let tcp = match &settings.listen_tcp {
        Some(addr) => Some(
            TcpListener::bind(addr.as_str())
                .await
                .map_err(|source| StartError::Bind {
                    addr: addr.clone(),
                    source,
                })?,
        ),
        None => None,
    };
    let bind_role = |addr: &Option<String>| {
        let addr = addr.clone();
        async move {
            match addr {
                Some(a) => TcpListener::bind(a.as_str())
                    .await
                    .map(Some)
                    .map_err(|source| StartError::Bind { addr: a, source }),
                None => Ok(None),
            }
        }
    };
    let read_write = bind_role(&settings.listen_read_write_tcp).await?;
    let read_only = bind_role(&settings.listen_read_only_tcp).await?;
    let unix = match &settings.listen_unix {
        Some(path) => {
            if path.exists() {
                // A stale socket from a previous run; a live one would still be bound by its owner.
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(StartError::Bind {
                        addr: path.display().to_string(),
                        source: std::io::Error::new(std::io::ErrorKind::AddrInUse, "socket in use"),
                    });
                }
                let _ = std::fs::remove_file(path);
            }
            Some(UnixListener::bind(path).map_err(|source| StartError::Bind {
                addr: path.display().to_string(),
                source,
            })?)
        }
        None => None,
    };
    let side = SidePool::new(
        &settings.backend,
        &settings.service_user,
        &settings.service_password,
        settings.group.is_some(),
    );
    super::backend_check::check(&side, &mut settings).await?;
    let registry = Registry::default();
    let group = match settings.group.clone() {
        Some(g) => Some(
            crate::replication::group::Group::start(g, side.pool(), side.opts(), Arc::new(registry.clone())).await?,
        ),
        None => None,
    };
    let (drain, draining) = watch::channel(None);
    let limits = super::limits::Limits::new(&settings);
    let context = Arc::new(Context {
        tls: tls_config.as_ref().map(|t| TlsAcceptor::from(t.config.clone())),
        client_tls: tls_config,
        registry,
        side,
        group,
        settings,
        stats: Default::default(),
        draining: draining.clone(),
        http_address: Default::default(),
        started: std::time::Instant::now(),
        limits,
    });
    let tcp_addr = tcp.as_ref().and_then(|l| l.local_addr().ok());
    let read_write_addr = read_write.as_ref().and_then(|l| l.local_addr().ok());
    let read_only_addr = read_only.as_ref().and_then(|l| l.local_addr().ok());
    if let (Some(g), Some(a)) = (&context.group, tcp_addr) {
        g.announce_sql_address(a);
    }
    let unix_path = context.settings.listen_unix.clone();
    let (shutdown, rx) = watch::channel(false);
    let listeners = Listeners {
        tcp,
        unix,
        read_write,
        read_only,
    };
    let task = tokio::spawn(accept_loop(context.clone(), listeners, rx, draining));
    Ok(ProxyHandle {
        tcp_addr,
        read_write_addr,
        read_only_addr,
        unix_path,
        context,
        shutdown,
        drain,
        task,
    })
}

/// The listeners of one proxy.
struct Listeners {
    tcp: Option<TcpListener>,
    unix: Option<UnixListener>,
    read_write: Option<TcpListener>,
    read_only: Option<TcpListener>,
}

async fn accept_loop(
    ctx: Arc<Context>,
    listeners: Listeners,
    mut stop: watch::Receiver<bool>,
    mut drain: watch::Receiver<Option<Instant>>,
) -> Drained {
    let Listeners {
        mut tcp,
        mut unix,
        mut read_write,
        mut read_only,
    } = listeners;
    let limit = ctx.limits.connections.semaphore();
    let handshakes = ctx.limits.handshakes.semaphore();
    let mut sessions = JoinSet::new();
    let mut deadline: Option<Instant> = None;
    let mut drained = Drained::default();
    loop {
        let mut role = PortRole::Any;
        let accepted: std::io::Result<(BoxStream, bool, Addrs)> = tokio::select! {
            _ = stop.changed() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {
                // Sessions watch the drain signal themselves and may end before this loop
                // has seen it: they count as drained too.
                if deadline.is_some() || drain.borrow().is_some() {
                    drained.finished += 1;
                    if deadline.is_some() && sessions.is_empty() {
                        break;
                    }
                }
                continue;
            }
            changed = drain.changed(), if deadline.is_none() => {
                if changed.is_err() {
                    break; // the handle is gone
                }
                let Some(d) = *drain.borrow_and_update() else { continue };
                deadline = Some(d);
                // Closed listeners refuse new clients at once (a load balancer moves on)
                // instead of queueing them in the backlog.
                tcp = None;
                read_write = None;
                read_only = None;
                if unix.take().is_some() {
                    if let Some(p) = &ctx.settings.listen_unix {
                        let _ = std::fs::remove_file(p);
                    }
                }
                tracing::info!(
                    connections = sessions.len(),
                    grace_ms = d.saturating_duration_since(Instant::now()).as_millis() as u64,
                    "draining: no longer accepting; idle sessions close now, open transactions may finish"
                );
                if sessions.is_empty() {
                    break;
                }
                continue;
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                drained.cut = sessions.len();
                break;
            }
            r = accept_tcp(&tcp), if tcp.is_some() => r,
            r = accept_unix(&unix), if unix.is_some() => r,
            r = accept_tcp(&read_write), if read_write.is_some() => {
                role = PortRole::ReadWrite;
                r
            }
            r = accept_tcp(&read_only), if read_only.is_some() => {
                role = PortRole::ReadOnly;
                r
            }
        };
        let (stream, secure, addrs) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        FrontendStats::bump(&ctx.stats.accepted);
        let ctx = ctx.clone();
        let stop = stop.clone();
        let handshakes = handshakes.clone();
        match limit.clone().try_acquire_owned() {
            Ok(permit) => {
                ctx.stats.open.fetch_add(1, Ordering::Relaxed);
                sessions.spawn(async move {
                    let open = OpenGuard(ctx.clone());
                    serve(ctx, stream, secure, addrs, role, handshakes, stop).await;
                    drop(open);
                    drop(permit);
                });
            }
            Err(_) => {
                FrontendStats::bump(&ctx.stats.refused_limit);
                sessions.spawn(async move {
                    let mut io = PacketIo::new(stream, 1024);
                    let _ = io
                        .send(0, &ClientError::TooManyConnections.payload_before_greeting())
                        .await;
                    io.shutdown().await;
                });
            }
        }
    }
    sessions.shutdown().await;
    // A drained group member's process exits next while its applier still uses the pool:
    // disconnecting it here would only make the applier fail (and log) until then.
    if deadline.is_none() || ctx.group.is_none() {
        // The replication applier keeps a side connection for the process lifetime; do not
        // wait on it.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), ctx.side.clone().disconnect()).await;
    }
    drained
}

/// Counts a connection out of `stats.open` when its task ends or is aborted.
struct OpenGuard(Arc<Context>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP client's address and the listener address it reached (`None`: a unix-socket client).
type Addrs = Option<(std::net::SocketAddr, std::net::SocketAddr)>;

async fn accept_tcp(l: &Option<TcpListener>) -> std::io::Result<(BoxStream, bool, Addrs)> {
    let (s, peer) = l.as_ref().expect("guarded").accept().await?;
    s.set_nodelay(true)?;
    let local = s.local_addr()?;
    Ok((Box::new(s), false, Some((peer, local))))
}

async fn accept_unix(l: &Option<UnixListener>) -> std::io::Result<(BoxStream, bool, Addrs)> {
    let (s, _) = l.as_ref().expect("guarded").accept().await?;
    Ok((Box::new(s), true, None))
}

/// One client connection from accept to close.
///
/// A client in the connection phase holds a mysqld connection before it has logged in, so
/// only `max_handshakes` are in it at once; the others wait their turn within the handshake
/// timeout, then get 1040.
async fn serve(
    ctx: Arc<Context>,
    stream: BoxStream,
    secure: bool,
    addrs: Addrs,
    role: PortRole,
    handshakes: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let id = ctx.registry.next_id();
    let peer = addrs.map_or_else(|| "unix".to_string(), |a| a.0.to_string());
    let span = tracing::info_span!("session", id, peer = %peer);
    let _enter = span.enter();
    drop(_enter);
    let deadline = tokio::time::Instant::now() + ctx.limits.handshake_timeout();
    let turn = match tokio::time::timeout_at(deadline, handshakes.acquire_owned()).await {
        Ok(Ok(turn)) => turn,
        _ => {
            FrontendStats::bump(&ctx.stats.refused_limit);
            tracing::info!(parent: &span, "no handshake slot within the handshake timeout");
            let mut io = PacketIo::new(stream, 1024);
            let _ = io
                .send(0, &ClientError::TooManyConnections.payload_before_greeting())
                .await;
            io.shutdown().await;
            return;
        }
    };
    let handshake = tokio::time::timeout_at(deadline, establish(&ctx, stream, secure, addrs));
    let established = match handshake.await {
        Err(_) => {
            tracing::debug!(parent: &span, "handshake timed out");
            return;
        }
        Ok(Err(ConnectFailure::AuthFailed(code, msg))) => {
            FrontendStats::bump(&ctx.stats.auth_failed);
            tracing::info!(parent: &span, code, %msg, "authentication failed");
            return;
        }
        Ok(Err(ConnectFailure::Backend(e))) => {
            // The error names mysqld's address; the client got 1053 with the same reason.
            FrontendStats::bump(&ctx.stats.backend_unreachable);
            tracing::warn!(parent: &span, error = %e, "cannot open a mysqld connection for a client");
            return;
        }
        Ok(Err(e)) => {
            tracing::debug!(parent: &span, error = %e, "connection phase failed");
            return;
        }
        Ok(Ok(e)) => e,
    };
    drop(turn);
    FrontendStats::bump(&ctx.stats.sessions);
    tracing::debug!(parent: &span, user = %established.user, backend = established.backend_id, "authenticated");
    let mut session = Session::new(ctx, established);
    session.split.port_role = role;
    let end = tokio::select! {
        end = session.run() => end,
        _ = stop.changed() => SessionEnd::Refused(ClientError::ShuttingDown),
    };
    match end {
        SessionEnd::Quit | SessionEnd::ClientClosed => tracing::debug!(parent: &span, "session ended: {end}"),
        other => tracing::info!(parent: &span, "session ended: {other}"),
    }
}
