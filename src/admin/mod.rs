//! The operator's HTTP endpoint (`admin.http`): `GET /metrics` (Prometheus text format) and
//! `GET /health` (200 when this member can take traffic, 503 with the reason otherwise).
//!
//! HTTP/1.1 on hyper (server side only); each connection is bounded: at most
//! [`MAX_CONNECTIONS`] at once, request headers within [`HEADER_TIMEOUT`], small buffers.
//! There is no authentication: bind it to loopback or to a network only monitoring reaches.
//!
//! This module sits above `frontend` (it reads a running proxy's `Context`); nothing below
//! imports it.

pub mod health;
pub mod metrics;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::frontend::Context;

/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send its request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin.http: listening on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// A running endpoint; stops when dropped or with [`AdminServer::stop`].
pub struct AdminServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl AdminServer {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

struct State {
    registry: prometheus_client::registry::Registry,
    prober: health::Prober,
}

/// Binds `addr` and serves the proxy behind `ctx`; records the bound address in
/// `ctx.http_address` (`SHOW GRPROXY STATUS`).
pub async fn start(ctx: Arc<Context>, addr: &str) -> Result<AdminServer, AdminError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| AdminError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let local = listener.local_addr().map_err(|source| AdminError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let _ = ctx.http_address.set(local.to_string());
    let state = Arc::new(State {
        registry: metrics::registry(ctx.clone()),
        prober: health::Prober::new(ctx),
    });
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(serve(listener, state, rx));
    Ok(AdminServer {
        addr: local,
        stop,
        task,
    })
}

async fn serve(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, _) = tokio::select! {
            _ = stop.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "admin endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // dropping the stream closes it
        };
        let state = state.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(respond(&state, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
    connections.shutdown().await;
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(body)))
        .expect("static headers are valid")
}

async fn respond(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    // For HEAD, hyper sends the headers (with the GET's Content-Length) and no body.
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, PLAIN, "only GET and HEAD\n".into());
        r.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
        return r;
    }
    match req.uri().path() {
        "/metrics" => text(StatusCode::OK, metrics::CONTENT_TYPE, metrics::render(&state.registry)),
        "/health" => match state.prober.check().await {
            Ok(summary) => text(StatusCode::OK, PLAIN, format!("{summary}\n")),
            Err(reason) => text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, format!("{reason}\n")),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            PLAIN,
            "not found: try /metrics or /health\n".into(),
        ),
    }
}
