//! Accepting clients on TCP and a unix socket, enforcing the global connection limit, one task
//! per connection, and graceful shutdown.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::connect::{establish, ConnectFailure};
use super::context::{Context, Settings};
use super::errors::ClientError;
use super::registry::Registry;
use super::session::{Session, SessionEnd};
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
    pub unix_path: Option<PathBuf>,
    pub context: Arc<Context>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
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
    let side = SidePool::new(&settings.backend, &settings.service_user, &settings.service_password);
    super::backend_check::check(&side, &mut settings).await?;
    let registry = Registry::default();
    let group = match settings.group.clone() {
        Some(g) => Some(
            crate::replication::group::Group::start(g, side.pool(), side.opts(), Arc::new(registry.clone())).await?,
        ),
        None => None,
    };
    let context = Arc::new(Context {
        tls: tls_config.map(TlsAcceptor::from),
        registry,
        side,
        group,
        settings,
    });
    let tcp_addr = tcp.as_ref().and_then(|l| l.local_addr().ok());
    let unix_path = context.settings.listen_unix.clone();
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(context.clone(), tcp, unix, rx));
    Ok(ProxyHandle {
        tcp_addr,
        unix_path,
        context,
        shutdown,
        task,
    })
}

async fn accept_loop(
    ctx: Arc<Context>,
    tcp: Option<TcpListener>,
    unix: Option<UnixListener>,
    mut stop: watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(ctx.settings.max_connections));
    let handshakes = Arc::new(Semaphore::new(ctx.settings.max_handshakes));
    let mut sessions = JoinSet::new();
    loop {
        let accepted: std::io::Result<(BoxStream, bool, Addrs)> = tokio::select! {
            _ = stop.changed() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
            r = accept_tcp(&tcp), if tcp.is_some() => r,
            r = accept_unix(&unix), if unix.is_some() => r,
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
        let ctx = ctx.clone();
        let stop = stop.clone();
        let handshakes = handshakes.clone();
        match limit.clone().try_acquire_owned() {
            Ok(permit) => {
                sessions.spawn(async move {
                    serve(ctx, stream, secure, addrs, handshakes, stop).await;
                    drop(permit);
                });
            }
            Err(_) => {
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
    // The replication applier keeps a side connection for the process lifetime; do not wait on it.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), ctx.side.clone().disconnect()).await;
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
    handshakes: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let id = ctx.registry.next_id();
    let peer = addrs.map_or_else(|| "unix".to_string(), |a| a.0.to_string());
    let span = tracing::info_span!("session", id, peer = %peer);
    let _enter = span.enter();
    drop(_enter);
    let deadline = tokio::time::Instant::now() + ctx.settings.handshake_timeout;
    let turn = match tokio::time::timeout_at(deadline, handshakes.acquire_owned()).await {
        Ok(Ok(turn)) => turn,
        _ => {
            tracing::info!(parent: &span, "no handshake slot within the handshake timeout");
            let mut io = PacketIo::new(stream, 1024);
            let _ = io
                .send(0, &ClientError::TooManyConnections.payload_before_greeting())
                .await;
            io.shutdown().await;
            return;
        }
    };
    let handshake = tokio::time::timeout_at(deadline, establish(&ctx, stream, id, secure, addrs));
    let established = match handshake.await {
        Err(_) => {
            tracing::debug!(parent: &span, "handshake timed out");
            return;
        }
        Ok(Err(ConnectFailure::AuthFailed(code, msg))) => {
            tracing::info!(parent: &span, code, %msg, "authentication failed");
            return;
        }
        Ok(Err(e)) => {
            tracing::debug!(parent: &span, error = %e, "connection phase failed");
            return;
        }
        Ok(Ok(e)) => e,
    };
    drop(turn);
    tracing::debug!(parent: &span, user = %established.user, backend = established.backend_id, "authenticated");
    let session = Session::new(ctx, id, established);
    let end = tokio::select! {
        end = session.run() => end,
        _ = stop.changed() => SessionEnd::Refused(ClientError::BackendUnavailable),
    };
    match end {
        SessionEnd::Quit | SessionEnd::ClientClosed => tracing::debug!(parent: &span, "session ended: {end}"),
        other => tracing::info!(parent: &span, "session ended: {other}"),
    }
}
