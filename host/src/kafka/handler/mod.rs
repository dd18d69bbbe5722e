//! Request handlers, one file per API, and the dispatch from a decoded frame
//! to its handler and back to response bytes.
//!
//! - [`versions`]: the served APIs and version ranges.
//! - [`api_versions`], [`metadata`], [`produce`], [`fetch`], [`list_offsets`]:
//!   the data path.
//! - [`create_topics`], [`delete_topics`], [`create_partitions`],
//!   [`describe_configs`]: topic administration.
//! - [`find_coordinator`], [`join_group`], [`sync_group`], [`heartbeat`],
//!   [`leave_group`], [`offset_commit`], [`offset_fetch`], [`list_groups`],
//!   [`describe_groups`]: consumer groups (state lives in [`super::group`]).
//! - [`init_producer_id`]: idempotent producers (state in [`super::producer`]).
//! - [`codes`]: broker errors as Kafka error codes.
pub mod api_versions;
pub mod codes;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_topics;
pub mod describe_configs;
pub mod describe_groups;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_fetch;
pub mod produce;
pub mod sync_group;
pub mod versions;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::KafkaContext;
use super::error::KafkaError;
use super::frame::RawRequest;

/// Decodes the body at the header's version; anything left over is malformed.
fn decode<T: Decodable>(req: &RawRequest) -> Result<T, KafkaError> {
    let version = req.header.request_api_version;
    let malformed = |reason: String| KafkaError::Malformed {
        api: versions::name(req.api_key),
        version,
        reason,
    };
    let mut body = req.body.clone();
    let value = T::decode(&mut body, version).map_err(|e| malformed(e.to_string()))?;
    if !body.is_empty() {
        return Err(malformed(format!("{} bytes after the body", body.len())));
    }
    Ok(value)
}

/// Encodes the response header (of the version the API uses) and the body.
pub fn encode<T: Encodable>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &T,
) -> Result<Bytes, KafkaError> {
    let fail = |e: anyhow::Error| KafkaError::Encode {
        api: versions::name(api_key),
        version,
        reason: e.to_string(),
    };
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api_key.response_header_version(version))
        .map_err(fail)?;
    body.encode(&mut buf, version).map_err(fail)?;
    Ok(buf.freeze())
}

/// Runs the handler for one request. `None` means no response is sent (acks=0).
pub async fn dispatch(
    ctx: &Arc<KafkaContext>,
    req: RawRequest,
    peer: SocketAddr,
) -> Result<Option<Bytes>, KafkaError> {
    let h = &req.header;
    let v = h.request_api_version;
    macro_rules! answer {
        ($resp:expr) => {
            encode(req.api_key, v, h.correlation_id, &$resp).map(Some)
        };
    }
    match req.api_key {
        ApiKey::ApiVersions => answer!(api_versions::handle(decode(&req)?)),
        ApiKey::Metadata => answer!(metadata::handle(ctx, h, decode(&req)?).await?),
        ApiKey::Produce => match produce::handle(ctx, h, decode(&req)?).await? {
            Some(resp) => answer!(resp),
            None => Ok(None),
        },
        ApiKey::Fetch => answer!(fetch::handle(ctx, h, decode(&req)?).await?),
        ApiKey::ListOffsets => answer!(list_offsets::handle(ctx, h, decode(&req)?).await?),
        ApiKey::FindCoordinator => answer!(find_coordinator::handle(ctx, h, decode(&req)?)),
        ApiKey::JoinGroup => answer!(join_group::handle(ctx, h, decode(&req)?, peer).await),
        ApiKey::SyncGroup => answer!(sync_group::handle(ctx, h, decode(&req)?).await),
        ApiKey::Heartbeat => answer!(heartbeat::handle(ctx, h, decode(&req)?)),
        ApiKey::LeaveGroup => answer!(leave_group::handle(ctx, h, decode(&req)?)),
        ApiKey::OffsetCommit => answer!(offset_commit::handle(ctx, h, decode(&req)?).await?),
        ApiKey::OffsetFetch => answer!(offset_fetch::handle(ctx, h, decode(&req)?).await?),
        ApiKey::ListGroups => answer!(list_groups::handle(ctx, h, decode(&req)?).await?),
        ApiKey::DescribeGroups => {
            answer!(describe_groups::handle(ctx, h, decode(&req)?).await?)
        }
        ApiKey::InitProducerId => {
            answer!(init_producer_id::handle(ctx, h, decode(&req)?).await?)
        }
        ApiKey::DescribeConfigs => {
            answer!(describe_configs::handle(ctx, h, decode(&req)?).await?)
        }
        ApiKey::CreateTopics => answer!(create_topics::handle(ctx, h, decode(&req)?).await?),
        ApiKey::DeleteTopics => answer!(delete_topics::handle(ctx, h, decode(&req)?).await?),
        ApiKey::CreatePartitions => {
            answer!(create_partitions::handle(ctx, h, decode(&req)?).await?)
        }
        other => Err(KafkaError::UnknownApi { key: other as i16 }),
    }
}

/// Runs blocking broker work (file I/O, fsync, sled) off the async threads.
pub async fn blocking<T: Send + 'static>(
    ctx: &Arc<KafkaContext>,
    f: impl FnOnce(&KafkaContext) -> T + Send + 'static,
) -> Result<T, KafkaError> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || f(&ctx))
        .await
        .map_err(|e| KafkaError::Task(e.to_string()))
}

/// A string for a response field.
pub fn s(text: impl Into<String>) -> StrBytes {
    StrBytes::from_string(text.into())
}

/// The client id a request header carries, or "".
pub fn client_id(h: &RequestHeader) -> String {
    h.client_id
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_default()
}
