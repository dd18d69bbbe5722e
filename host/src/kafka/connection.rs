//! One client connection: read a frame, run its handler, write the answer.
//!
//! Requests on one connection are handled one at a time, in order, as Kafka
//! does: a producer's pipelined batches must land in the order sent. A frame
//! that is oversized, truncated or for an unknown API ends this connection
//! only, with a log line; so does an unsupported version or a body that does
//! not decode, unless the response can say so with a top-level error code
//! (see [`refusal`]).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;

use super::KafkaContext;
use super::error::KafkaError;
use super::frame::{self, Framed};
use super::handler::{self, api_versions, legacy, refusal};

/// Serves one connection until the client closes it or sends something bad.
pub async fn serve(ctx: Arc<KafkaContext>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    match run(&ctx, stream, peer).await {
        Ok(()) => tracing::debug!(%peer, "Kafka client disconnected"),
        Err(KafkaError::Io(e)) => tracing::debug!(%peer, "Kafka connection closed: {e}"),
        Err(e) => tracing::warn!(%peer, "closing Kafka connection: {e}"),
    }
}

async fn run(
    ctx: &Arc<KafkaContext>,
    stream: TcpStream,
    peer: SocketAddr,
) -> Result<(), KafkaError> {
    let (mut reader, writer) = stream.into_split();
    let mut writer = BufWriter::new(writer);
    loop {
        let mut prefix = [0u8; 4];
        match reader.read_exact(&mut prefix).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let size = frame::check_size(prefix, ctx.settings.max_frame_bytes)?;
        let mut body = BytesMut::zeroed(size);
        reader.read_exact(&mut body).await?;
        let response = match frame::parse(body.freeze())? {
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
            Framed::Request(req) => handler::dispatch(ctx, req, peer).await?,
        };
        if let Some(bytes) = response {
            write_frame(&mut writer, bytes).await?;
        }
    }
}

async fn write_frame(
    writer: &mut BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    bytes: Bytes,
) -> Result<(), KafkaError> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| KafkaError::Io(std::io::Error::other("response larger than 4 GiB")))?;
    writer.write_all(&len.to_be_bytes()).await?;
    writer.write_all(&bytes).await?;
    writer.flush().await?;
    Ok(())
}
