//! One client connection: read a frame, run its handler, write the answer.
//!
//! Requests on one connection are handled one at a time, in order, as Kafka
//! does: a producer's pipelined batches must land in the order sent. A frame
//! that is oversized, truncated or for an unknown API ends this connection
//! only, with a log line; so does an unsupported version or a body that does
//! not decode, unless the response can say so with a top-level error code
//! (see [`refusal`]).
//!
//! Authentication is the connection's: its [`Session`] answers SaslHandshake and
//! SaslAuthenticate here, and gives every other request (but ApiVersions) its
//! principal or closes the connection, as Kafka does for a request before SASL. Until
//! then a frame may be at most `auth.max_unauthenticated_frame_bytes`. A connection
//! whose TLS client certificate was verified starts authenticated as its CN, as on
//! Kafka's SSL listener.
//!
//! The stream is plain TCP or TLS over it ([`crate::kafka::tls`]): the loop only needs
//! bytes in and out, so it is generic over the stream.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};

use super::KafkaContext;
use super::admission::Ticket;
use super::error::KafkaError;
use super::frame::{self, Framed, RawRequest};
use super::handler::{self, api_versions, legacy, refusal, sasl_authenticate, sasl_handshake};
use super::session::Session;
use crate::auth::{Principal, Transport};

/// Serves one connection until the client closes it, sends something bad, or holds it
/// past a timeout; `_ticket` holds its place under the connection caps till then.
/// `certified`: the principal of a verified TLS client certificate.
pub async fn serve<S>(
    ctx: Arc<KafkaContext>,
    stream: S,
    peer: SocketAddr,
    transport: Transport,
    certified: Option<Principal>,
    _ticket: Ticket,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let session = certified.map_or(Session::Open, Session::Certified);
    match run(&ctx, stream, peer, transport, session).await {
        Ok(()) => tracing::debug!(%peer, "Kafka client disconnected"),
        Err(KafkaError::Io(e)) => tracing::debug!(%peer, "Kafka connection closed: {e}"),
        Err(e) => tracing::warn!(%peer, "closing Kafka connection: {e}"),
    }
}

async fn run<S>(
    ctx: &Arc<KafkaContext>,
    stream: S,
    peer: SocketAddr,
    transport: Transport,
    mut session: Session,
) -> Result<(), KafkaError>
where
    S: AsyncRead + AsyncWrite,
{
    let (mut reader, writer) = tokio::io::split(stream);
    let mut writer = BufWriter::new(writer);
    let limits = &ctx.settings.limits;
    loop {
        let mut prefix = [0u8; 4];
        match tokio::time::timeout(limits.idle_timeout, reader.read_exact(&mut prefix)).await {
            Err(_) => {
                return Err(KafkaError::Idle {
                    ms: limits.idle_timeout.as_millis(),
                });
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e.into()),
        }
        let size = if session.trusted(&ctx.auth, peer.ip()) {
            frame::check_size(prefix, ctx.settings.max_frame_bytes)?
        } else {
            let max = ctx.auth.settings().max_unauthenticated_frame_bytes;
            frame::check_size(prefix, ctx.settings.max_frame_bytes.min(max)).map_err(
                |e| match e {
                    KafkaError::FrameSize { size, .. } => {
                        KafkaError::FrameSizeBeforeAuth { size, max }
                    }
                    other => other,
                },
            )?
        };
        let body =
            match tokio::time::timeout(limits.request_read_timeout, read_body(&mut reader, size))
                .await
            {
                Ok(body) => body?,
                Err(_) => {
                    return Err(KafkaError::SlowRequest {
                        size,
                        ms: limits.request_read_timeout.as_millis(),
                    });
                }
            };
        if session.expects_raw_token() {
            let answer =
                sasl_authenticate::raw(ctx, &mut session, body, peer.ip(), transport).await?;
            write_frame(&mut writer, answer).await?;
            continue;
        }
        let response = match frame::parse(body)? {
            Framed::ApiVersionsUnsupported { correlation_id } => Some(handler::encode(
                ApiKey::ApiVersions,
                0,
                correlation_id,
                &api_versions::unsupported_version(),
            )?),
            Framed::Unsupported {
                api_key,
                version,
                correlation_id,
                error,
                frame,
            } => {
                // Even a refusal names what was asked for: only to a principal.
                session.principal(&ctx.auth, peer.ip()).map_err(|source| {
                    KafkaError::Unauthenticated {
                        api: handler::versions::name(api_key),
                        source,
                    }
                })?;
                let code = ResponseError::UnsupportedVersion.code();
                let answer = refusal::answer(api_key, version, correlation_id, code)
                    .or_else(|| legacy::refuse_old_data_path(api_key, version, &frame, code));
                match answer {
                    Some(answer) => {
                        tracing::warn!(%peer, "answering UNSUPPORTED_VERSION: {error}");
                        Some(answer)
                    }
                    None => return Err(error),
                }
            }
            Framed::Request(req) => match req.api_key {
                ApiKey::SaslHandshake | ApiKey::SaslAuthenticate => {
                    let (answer, close) = sasl(ctx, &mut session, req, peer, transport).await?;
                    write_frame(&mut writer, answer).await?;
                    if close {
                        return Err(KafkaError::SaslRefused);
                    }
                    continue;
                }
                // Served before authentication too: a client learns of SASL from it.
                ApiKey::ApiVersions => {
                    let principal = session
                        .principal(&ctx.auth, peer.ip())
                        .unwrap_or(Principal::Anonymous);
                    handler::dispatch(ctx, req, peer, &principal).await?
                }
                api => {
                    let principal = session.principal(&ctx.auth, peer.ip()).map_err(|source| {
                        KafkaError::Unauthenticated {
                            api: handler::versions::name(api),
                            source,
                        }
                    })?;
                    handler::dispatch(ctx, req, peer, &principal).await?
                }
            },
        };
        if let Some(bytes) = response {
            write_frame(&mut writer, bytes).await?;
        }
    }
}

/// Answers SaslHandshake or SaslAuthenticate; `true`: close after the answer.
async fn sasl(
    ctx: &Arc<KafkaContext>,
    session: &mut Session,
    req: RawRequest,
    peer: SocketAddr,
    transport: Transport,
) -> Result<(Bytes, bool), KafkaError> {
    let h = &req.header;
    let v = h.request_api_version;
    if req.api_key == ApiKey::SaslHandshake {
        let (resp, close) = sasl_handshake::handle(
            ctx,
            session,
            handler::body_of(&req)?,
            v,
            peer.ip(),
            transport,
        );
        return Ok((
            handler::encode(req.api_key, v, h.correlation_id, &resp)?,
            close,
        ));
    }
    let (resp, close) =
        sasl_authenticate::handle(ctx, session, handler::body_of(&req)?, peer.ip(), transport)
            .await?;
    Ok((
        handler::encode(req.api_key, v, h.correlation_id, &resp)?,
        close,
    ))
}

/// Reads a request body of `size` bytes (at most `kafka.max_frame_bytes`). The first
/// [`FIRST_READ`] bytes go into a buffer of their own size, so a size prefix alone (a client
/// announcing 100 MiB and sending nothing) costs no memory; once they have come, the rest
/// is read into room reserved for the whole body at once. Grown by doubling instead, a
/// 1 MB produce request was copied four more times on its way in.
async fn read_body<R: AsyncRead + Unpin>(reader: &mut R, size: usize) -> Result<Bytes, KafkaError> {
    let first = size.min(FIRST_READ);
    let mut body = Vec::with_capacity(first);
    let mut read = (&mut *reader)
        .take(first as u64)
        .read_to_end(&mut body)
        .await?;
    if read == first && size > first {
        body.reserve_exact(size - first);
        read += (&mut *reader)
            .take((size - first) as u64)
            .read_to_end(&mut body)
            .await?;
    }
    if read < size {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    Ok(Bytes::from(body))
}

/// Bytes of a request body read before room for all of it is reserved.
const FIRST_READ: usize = 64 << 10;

async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut BufWriter<W>,
    bytes: Bytes,
) -> Result<(), KafkaError> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| KafkaError::Io(std::io::Error::other("response larger than 4 GiB")))?;
    writer.write_all(&len.to_be_bytes()).await?;
    writer.write_all(&bytes).await?;
    writer.flush().await?;
    Ok(())
}
