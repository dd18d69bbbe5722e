//! The Kafka listener: binds, accepts, spawns one task per connection.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

use super::KafkaContext;
use super::admission::{Admission, Ticket};
use super::connection;
use super::error::KafkaError;
use super::group;
use crate::auth::Transport;

/// A bound listener, not yet accepting.
#[derive(Debug)]
pub struct KafkaListener {
    listener: TcpListener,
    ctx: Arc<KafkaContext>,
}

impl KafkaListener {
    /// Binds `ctx.settings.addr`. When no advertised address is configured the
    /// bound one is advertised, so binding port 0 advertises the real port.
    pub async fn bind(mut ctx: KafkaContext) -> Result<KafkaListener, KafkaError> {
        let addr = ctx.settings.addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| KafkaError::Bind {
                action: "binding the Kafka listener to",
                addr: addr.to_string(),
                source,
            })?;
        let local = listener.local_addr()?;
        // The bound address from now on (port 0 becomes the real port), as
        // DescribeConfigs reports it in `listeners`.
        ctx.settings.addr = local;
        match &mut ctx.settings.advertised {
            None => ctx.settings.advertised = Some((local.ip().to_string(), local.port())),
            // An advertised port of 0 means "whatever was bound".
            Some((_, port)) if *port == 0 => *port = local.port(),
            Some(_) => {}
        }
        Ok(KafkaListener {
            listener,
            ctx: Arc::new(ctx),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, KafkaError> {
        Ok(self.listener.local_addr()?)
    }

    /// Accepts connections until `shutdown` completes, then closes every open
    /// connection, so no request reaches the broker while it shuts down.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let reaper = tokio::spawn(group::reaper(self.ctx.clone()));
        let limits = &self.ctx.settings.limits;
        let admission = Admission::new(
            "kafka",
            limits.max_connections,
            limits.max_connections_per_ip,
        );
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                // Reap finished connections so the set does not grow.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Over a cap the stream is dropped: the connection closes.
                        if let Some(ticket) = admission.admit_or_log(peer) {
                            let _ = stream.set_nodelay(true);
                            connections.spawn(accept(self.ctx.clone(), stream, peer, ticket));
                        }
                    }
                    // Out of file descriptors and the like: keep serving the
                    // others, and back off rather than spin on the error.
                    Err(e) => {
                        tracing::warn!("accepting a Kafka connection: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                },
            }
        }
        reaper.abort();
        // Requests already in the blocking pool finish; nothing new starts.
        connections.shutdown().await;
    }
}

/// Serves one admitted connection, after its TLS handshake when TLS is configured.
/// The handshake holds the ticket and is bounded by `kafka.request_read_timeout_ms`,
/// so stalled handshakes cost what stalled requests do.
async fn accept(ctx: Arc<KafkaContext>, stream: TcpStream, peer: SocketAddr, ticket: Ticket) {
    let Some(tls) = ctx.settings.tls.clone() else {
        connection::serve(ctx, stream, peer, Transport::Plaintext, None, ticket).await;
        return;
    };
    match tls
        .accept_kafka(stream, ctx.settings.limits.request_read_timeout)
        .await
    {
        Ok((stream, certified)) => {
            if let Some(p) = &certified {
                tracing::debug!(%peer, principal = %p, "Kafka client authenticated by certificate");
            }
            connection::serve(ctx, stream, peer, Transport::Tls, certified, ticket).await;
        }
        Err(e) => tracing::debug!(%peer, "closing Kafka connection: {e}"),
    }
}
