//! [`serve_http`]: the HTTP API's accept loop, with the limits `axum::serve` lacks.
//!
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never runs: a
//! client trickling a header byte at a time (slowloris) holds its connection forever,
//! and nothing caps how many it opens. Here every connection is admitted under
//! `http.max_connections` / `http.max_connections_per_ip` (closed at once over either)
//! and served by hyper's HTTP/1 with a timer: a request's headers must arrive within
//! `http.header_read_timeout_ms`, which also closes a keep-alive connection idle that
//! long. Once headers are in, a handler may take as long as it needs (long polls).
//!
//! With `[tls]` configured the listener speaks https only: the TLS handshake runs on
//! the connection's task after admission, bounded by the same header-read timeout, and
//! each request carries the connection's [`Transport`] (basic auth needs TLS off
//! loopback) and, when a client certificate was verified, its [`CertifiedPrincipal`].

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::auth::{CertifiedPrincipal, Principal, Transport};
use crate::config::HttpLimits;
use crate::kafka::admission::Admission;
use crate::kafka::tls::Tls;

/// Serves `app` on `listener` until `shutdown` completes, then lets the requests in
/// flight finish (a long poll ends early through the app's own closing signal).
pub async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()>,
) {
    let admission = Admission::new(
        "http",
        limits.max_connections,
        limits.max_connections_per_ip,
    );
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    // Out of file descriptors and the like: back off, keep serving.
                    Err(e) => {
                        tracing::warn!("accepting an HTTP connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // Over a cap the stream is dropped: the connection closes.
                let Some(ticket) = admission.admit_or_log(peer) else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let timeout = limits.header_read_timeout;
                let closing = closing_rx.clone();
                let tls = tls.clone();
                connections.spawn(async move {
                    let _ticket = ticket;
                    let Some(tls) = tls else {
                        serve_connection(stream, peer, app, Transport::Plaintext, None, timeout, closing).await;
                        return;
                    };
                    match tls.accept_http(stream, timeout).await {
                        Ok((stream, certified)) => {
                            serve_connection(stream, peer, app, Transport::Tls, certified, timeout, closing).await;
                        }
                        Err(e) => tracing::debug!(%peer, "closing HTTP connection: {e}"),
                    }
                });
            }
        }
    }
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
}

/// Serves HTTP/1 on one (plain or TLS) connection until it ends or shutdown starts.
async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    transport: Transport,
    certified: Option<Principal>,
    timeout: Duration,
    mut closing: tokio::sync::watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // The peer, for the auth rule (anonymous from loopback only); the transport, for
    // basic auth; the certificate's principal, which authenticates like a token.
    let app = tower_layer::Layer::layer(&Extension(ConnectInfo(peer)), app);
    let app = tower_layer::Layer::layer(&Extension(transport), app);
    let app = tower_layer::Layer::layer(&Extension(certified.map(CertifiedPrincipal)), app);
    let service = TowerToHyperService::new(app);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => log_end(peer, result),
        // The watch's borrow must not live into the arm (not Send).
        _ = async { let _ = closing.wait_for(|c| *c).await; } => {
            conn.as_mut().graceful_shutdown();
            log_end(peer, conn.await);
        }
    }
}

fn log_end(peer: SocketAddr, result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!(%peer, "HTTP connection ended: {e}");
    }
}
