//! Request handlers, one file per API, and the dispatch from a decoded frame
//! to its handler and back to response bytes.
//!
//! - [`versions`]: the served APIs and version ranges.
//! - [`api_versions`], [`metadata`], [`produce`], [`fetch`], [`list_offsets`]:
//!   the data path; [`delete_records`]: moving a log start forward.
//! - [`create_topics`], [`delete_topics`], [`create_partitions`],
//!   [`describe_configs`] (with [`broker_configs`] and [`config_type`]), [`alter_configs`],
//!   [`incremental_alter_configs`], [`describe_cluster`], [`describe_log_dirs`]:
//!   topic and cluster administration.
//! - [`find_coordinator`], [`join_group`], [`sync_group`], [`heartbeat`],
//!   [`leave_group`], [`offset_commit`], [`offset_fetch`], [`list_groups`],
//!   [`describe_groups`], [`delete_groups`], [`offset_delete`]: consumer
//!   groups (state lives in [`super::group`]).
//! - [`init_producer_id`], [`describe_producers`]: idempotent producers (state
//!   in [`crate::broker::producer`]).
//! - [`add_partitions_to_txn`], [`add_offsets_to_txn`], [`txn_offset_commit`],
//!   [`end_txn`], [`describe_transactions`], [`list_transactions`]:
//!   transactions (state in [`crate::broker::txn`]).
//! - [`caller`]: [`caller::Caller`], the principal and host a request's ACL checks
//!   ask about; [`create_acls`], [`describe_acls`], [`delete_acls`]: the ACL APIs.
//! - [`sasl_handshake`], [`sasl_authenticate`]: SASL (KIP-152), answered by the
//!   connection itself since they change its [`super::session::Session`]; every other
//!   request is dispatched here with the principal it acts for.
//! - [`codes`]: broker errors as Kafka error codes.
//! - [`body`]: decoding bodies as liberally as Kafka does; [`legacy`]: the
//!   Kafka 3.x versions the protocol crate no longer decodes; [`refusal`]:
//!   error answers for what cannot be served.
pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_configs;
pub mod api_versions;
pub mod body;
pub mod broker_configs;
pub mod caller;
pub mod codes;
pub mod config_type;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_transactions;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod legacy;
pub mod list_groups;
pub mod list_offsets;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod produce;
pub mod refusal;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod sync_group;
pub mod txn_offset_commit;
pub mod versions;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, ApiKey, EndTxnRequest, HeartbeatRequest, InitProducerIdRequest,
    JoinGroupRequest, LeaveGroupRequest, OffsetDeleteRequest, RequestHeader, ResponseHeader,
    SyncGroupRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::auth::{Operation, Principal, Resource, ResourceType};

use super::KafkaContext;
use super::error::KafkaError;
use super::frame::RawRequest;

use self::caller::Caller;

/// Decodes the body at the header's version, as liberally as Kafka does (see
/// [`body`]): only fields that do not decode are malformed.
fn decode<T: Decodable>(req: &RawRequest) -> Result<T, KafkaError> {
    decode_at(req, req.header.request_api_version)
}

/// Decodes a request's body at its version, for the connection's own SASL answers.
pub fn body_of<T: Decodable>(req: &RawRequest) -> Result<T, KafkaError> {
    decode(req)
}

/// Decodes the body at `version`, for versions whose layout another shares.
fn decode_at<T: Decodable>(req: &RawRequest, version: i16) -> Result<T, KafkaError> {
    let decoded =
        body::decode::<T>(req.api_key, version, &req.body).map_err(|e| malformed(req, e))?;
    if decoded.ignored > 0 {
        tracing::debug!(
            api = versions::name(req.api_key),
            version = req.header.request_api_version,
            "ignored {} bytes after the request body",
            decoded.ignored
        );
    }
    Ok(decoded.value)
}

/// Decodes an old version's body as `version`, whose request is the old one
/// with `extra` (the new fields' defaults) at the end.
fn decode_extended<T: Decodable>(
    req: &RawRequest,
    version: i16,
    extra: &[u8],
) -> Result<T, KafkaError> {
    let mut body = BytesMut::from(&req.body[..]);
    body.extend_from_slice(extra);
    body::decode::<T>(req.api_key, version, &body.freeze())
        .map(|d| d.value)
        .map_err(|e| malformed(req, e))
}

/// A response written by hand (an old version's layout): header v0, then `body`.
fn raw_answer(correlation_id: i32, body: BytesMut) -> Bytes {
    let mut out = BytesMut::with_capacity(4 + body.len());
    out.extend_from_slice(&correlation_id.to_be_bytes());
    out.extend_from_slice(&body);
    out.freeze()
}

fn malformed(req: &RawRequest, e: anyhow::Error) -> KafkaError {
    KafkaError::Malformed {
        api: versions::name(req.api_key),
        version: req.header.request_api_version,
        reason: e.to_string(),
    }
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
    let header_version = api_key.response_header_version(version);
    // Sized up front: a Fetch response carries up to fetch_max_bytes of records,
    // and growing into it would copy them again at every doubling.
    let size = header.compute_size(header_version).map_err(fail)?
        + body.compute_size(version).map_err(fail)?;
    let mut buf = BytesMut::with_capacity(size);
    header.encode(&mut buf, header_version).map_err(fail)?;
    body.encode(&mut buf, version).map_err(fail)?;
    Ok(buf.freeze())
}

/// Runs the handler for one request on behalf of `principal` (whom ACL checks
/// ask about). `None` means no response is sent (acks=0). A body that does not
/// decode, or one naming more than a `[kafka]` limit allows, is answered with
/// INVALID_REQUEST where the response has a top-level error code, and closes the
/// connection otherwise.
pub async fn dispatch(
    ctx: &Arc<KafkaContext>,
    req: RawRequest,
    peer: SocketAddr,
    principal: &Principal,
) -> Result<Option<Bytes>, KafkaError> {
    let caller = Caller {
        principal: principal.clone(),
        host: peer.ip(),
    };
    match run(ctx, &req, peer, &caller).await {
        // A request over a limit is refused as Kafka refuses one it cannot
        // serve: the client sees INVALID_REQUEST, the operator the limit's key.
        Err(e @ (KafkaError::Malformed { .. } | KafkaError::TooMany { .. })) => {
            let h = &req.header;
            let code = ResponseError::InvalidRequest.code();
            match refusal::answer(req.api_key, h.request_api_version, h.correlation_id, code) {
                Some(answer) => {
                    tracing::warn!(%peer, "answering INVALID_REQUEST: {e}");
                    Ok(Some(answer))
                }
                None => Err(e),
            }
        }
        other => other,
    }
}

async fn run(
    ctx: &Arc<KafkaContext>,
    req: &RawRequest,
    peer: SocketAddr,
    caller: &Caller,
) -> Result<Option<Bytes>, KafkaError> {
    let h = &req.header;
    let v = h.request_api_version;
    macro_rules! answer {
        ($resp:expr) => {
            encode(req.api_key, v, h.correlation_id, &$resp).map(Some)
        };
    }
    // Refused with a top-level error code (or, where the response has none, by
    // closing the connection, as no partial answer would be honest).
    let refuse = |kind: ResponseError, op: Operation, resource: &Resource<'_>| {
        let code = kind.code();
        match refusal::answer(req.api_key, v, h.correlation_id, code) {
            Some(answer) => Ok(Some(answer)),
            None => Err(KafkaError::Unauthorized {
                api: versions::name(req.api_key),
                source: crate::auth::AuthError::Denied {
                    principal: caller.principal.to_string(),
                    operation: op,
                    resource_type: resource.kind,
                    resource: resource.name.to_string(),
                },
            }),
        }
    };
    if let Some(op) = caller::cluster_operation(req.api_key)
        && !caller.may(ctx, op, &Resource::cluster())
    {
        return refuse(
            ResponseError::ClusterAuthorizationFailed,
            op,
            &Resource::cluster(),
        );
    }
    // APIs about one group or transactional id, checked here as their responses
    // carry one top-level error code: `guarded!(Body, b, OP, resource, CODE => handler)`.
    macro_rules! guarded {
        ($body:ty, $b:ident, $op:expr, $resource:expr, $code:expr => $handle:expr) => {{
            let $b: $body = decode(req)?;
            let resource: Option<Resource<'_>> = $resource;
            if let Some(resource) = resource
                && !caller.may(ctx, $op, &resource)
            {
                return refuse($code, $op, &resource);
            }
            answer!($handle)
        }};
    }
    // The group APIs of one member: READ on the group.
    macro_rules! group_read {
        ($body:ty, $b:ident => $handle:expr) => {
            guarded!($body, $b, Operation::Read, Some(Resource::group(&$b.group_id.0)),
                ResponseError::GroupAuthorizationFailed => $handle)
        };
    }
    // The transaction APIs: WRITE on the transactional id.
    macro_rules! txn_write {
        ($body:ty, $b:ident => $handle:expr) => {
            guarded!($body, $b, Operation::Write,
                Some(Resource::transactional_id(&$b.transactional_id.0)),
                ResponseError::TransactionalIdAuthorizationFailed => $handle)
        };
    }
    match req.api_key {
        ApiKey::ApiVersions => answer!(api_versions::handle(decode(req)?)),
        ApiKey::Metadata => answer!(metadata::handle(ctx, h, decode(req)?, caller).await?),
        ApiKey::Produce => match produce::handle(ctx, h, decode(req)?, caller).await? {
            Some(resp) => answer!(resp),
            None => Ok(None),
        },
        ApiKey::Fetch => answer!(fetch::handle(ctx, h, decode(req)?, caller).await?),
        ApiKey::ListOffsets if v == 0 => {
            let (query, max) = legacy::list_offsets_v0(&req.body).map_err(|e| malformed(req, e))?;
            let resp = list_offsets::handle(ctx, h, query, caller).await?;
            let body = legacy::list_offsets_v0_response(&resp, &max);
            Ok(Some(raw_answer(h.correlation_id, body)))
        }
        ApiKey::ListOffsets => {
            answer!(list_offsets::handle(ctx, h, decode(req)?, caller).await?)
        }
        ApiKey::FindCoordinator => answer!(find_coordinator::handle(ctx, h, decode(req)?, caller)),
        ApiKey::JoinGroup => {
            group_read!(JoinGroupRequest, b => join_group::handle(ctx, h, b, peer).await)
        }
        ApiKey::SyncGroup => {
            group_read!(SyncGroupRequest, b => sync_group::handle(ctx, h, b).await)
        }
        ApiKey::Heartbeat => group_read!(HeartbeatRequest, b => heartbeat::handle(ctx, h, b)),
        ApiKey::LeaveGroup => group_read!(LeaveGroupRequest, b => leave_group::handle(ctx, h, b)),
        ApiKey::OffsetCommit if v < 2 => {
            let commit = legacy::offset_commit(&req.body, v).map_err(|e| malformed(req, e))?;
            let resp = offset_commit::handle(ctx, h, commit, caller).await?;
            let layout = legacy::OFFSET_COMMIT_RESPONSE_VERSION;
            encode(req.api_key, layout, h.correlation_id, &resp).map(Some)
        }
        ApiKey::OffsetCommit => {
            answer!(offset_commit::handle(ctx, h, decode(req)?, caller).await?)
        }
        ApiKey::CreateAcls => answer!(create_acls::handle(ctx, v, decode(req)?, caller).await?),
        ApiKey::DescribeAcls => answer!(describe_acls::handle(ctx, v, decode(req)?, caller)?),
        ApiKey::DeleteAcls => answer!(delete_acls::handle(ctx, v, decode(req)?, caller).await?),
        // v0 has v1's layout both ways (it read offsets from ZooKeeper in Kafka).
        ApiKey::OffsetFetch if v == 0 => {
            let resp = offset_fetch::handle(ctx, h, decode_at(req, 1)?, caller).await?;
            encode(req.api_key, 1, h.correlation_id, &resp).map(Some)
        }
        ApiKey::OffsetFetch => {
            answer!(offset_fetch::handle(ctx, h, decode(req)?, caller).await?)
        }
        ApiKey::ListGroups => answer!(list_groups::handle(ctx, h, decode(req)?, caller).await?),
        ApiKey::DescribeGroups => {
            answer!(describe_groups::handle(ctx, h, decode(req)?, caller).await?)
        }
        ApiKey::DescribeCluster => answer!(describe_cluster::handle(ctx, h, decode(req)?, caller)),
        // v0 is v1 both ways (v1 only changed what throttle time means).
        ApiKey::DescribeLogDirs if v == 0 => {
            let resp = describe_log_dirs::handle(ctx, h, decode_at(req, 1)?).await?;
            encode(req.api_key, 1, h.correlation_id, &resp).map(Some)
        }
        ApiKey::DescribeLogDirs => answer!(describe_log_dirs::handle(ctx, h, decode(req)?).await?),
        ApiKey::DescribeProducers => {
            answer!(describe_producers::handle(ctx, h, decode(req)?, caller).await?)
        }
        ApiKey::AlterConfigs => answer!(alter_configs::handle(ctx, h, decode(req)?, caller).await?),
        ApiKey::IncrementalAlterConfigs => {
            answer!(incremental_alter_configs::handle(ctx, h, decode(req)?, caller).await?)
        }
        ApiKey::DeleteRecords => {
            answer!(delete_records::handle(ctx, h, decode(req)?, caller).await?)
        }
        ApiKey::DeleteGroups => {
            answer!(delete_groups::handle(ctx, h, decode(req)?, caller).await?)
        }
        ApiKey::OffsetDelete => guarded!(OffsetDeleteRequest, b, Operation::Delete,
            Some(Resource::group(&b.group_id.0)), ResponseError::GroupAuthorizationFailed
            => offset_delete::handle(ctx, h, b).await?),
        // A transactional producer needs WRITE on its id; an idempotent one
        // IDEMPOTENT_WRITE on the cluster or WRITE on any topic (KIP-679, Kafka 3.0+).
        ApiKey::InitProducerId => {
            let b: InitProducerIdRequest = decode(req)?;
            match b.transactional_id.as_ref().filter(|t| !t.is_empty()) {
                Some(t) => {
                    let resource = Resource::transactional_id(&t.0);
                    if !caller.may(ctx, Operation::Write, &resource) {
                        let code = ResponseError::TransactionalIdAuthorizationFailed;
                        return refuse(code, Operation::Write, &resource);
                    }
                }
                None => {
                    let op = Operation::IdempotentWrite;
                    if !caller.may(ctx, op, &Resource::cluster())
                        && !caller.may_any(ctx, Operation::Write, ResourceType::Topic)
                    {
                        let code = ResponseError::ClusterAuthorizationFailed;
                        return refuse(code, op, &Resource::cluster());
                    }
                }
            }
            answer!(init_producer_id::handle(ctx, h, b).await?)
        }
        ApiKey::AddPartitionsToTxn => {
            answer!(add_partitions_to_txn::handle(ctx, h, decode(req)?, caller).await?)
        }
        ApiKey::AddOffsetsToTxn => {
            txn_write!(AddOffsetsToTxnRequest, b => add_offsets_to_txn::handle(ctx, h, b).await?)
        }
        ApiKey::TxnOffsetCommit => {
            answer!(txn_offset_commit::handle(ctx, h, decode(req)?, caller).await?)
        }
        ApiKey::EndTxn => txn_write!(EndTxnRequest, b => end_txn::handle(ctx, h, b).await?),
        ApiKey::DescribeTransactions => {
            answer!(describe_transactions::handle(ctx, h, decode(req)?, caller)?)
        }
        ApiKey::ListTransactions => {
            answer!(list_transactions::handle(ctx, h, decode(req)?, caller)?)
        }
        // v0 is v1 without include_synonyms.
        ApiKey::DescribeConfigs if v == 0 => {
            let query = decode_extended(req, 1, &[0])?;
            let resp = describe_configs::handle(ctx, h, query, caller).await?;
            let body = legacy::describe_configs_v0_response(&resp);
            Ok(Some(raw_answer(h.correlation_id, body)))
        }
        ApiKey::DescribeConfigs => {
            answer!(describe_configs::handle(ctx, h, decode(req)?, caller).await?)
        }
        // v1's request is v2's; v0's is v1's without validate_only.
        ApiKey::CreateTopics if v < 2 => {
            let extra: &[u8] = if v == 0 { &[0] } else { &[] };
            let query = decode_extended(req, 2, extra)?;
            let resp = create_topics::handle(ctx, h, query, caller).await?;
            let body = legacy::create_topics_response(&resp, v);
            Ok(Some(raw_answer(h.correlation_id, body)))
        }
        ApiKey::CreateTopics => {
            answer!(create_topics::handle(ctx, h, decode(req)?, caller).await?)
        }
        // v0 is v1 both ways, less the response's throttle time.
        ApiKey::DeleteTopics if v == 0 => {
            let resp = delete_topics::handle(ctx, h, decode_at(req, 1)?, caller).await?;
            let v1 = encode(req.api_key, 1, h.correlation_id, &resp)?;
            Ok(Some(raw_answer(h.correlation_id, BytesMut::from(&v1[8..]))))
        }
        ApiKey::DeleteTopics => {
            answer!(delete_topics::handle(ctx, h, decode(req)?, caller).await?)
        }
        ApiKey::CreatePartitions => {
            answer!(create_partitions::handle(ctx, h, decode(req)?, caller).await?)
        }
        other => Err(KafkaError::UnknownApi { key: other as i16 }),
    }
}

/// Kafka's value of an authorized-operations field that was not asked for.
pub const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

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

/// Refuses a request naming `count` of `what` when `max` (`[kafka]` key `key`) is less.
pub fn at_most(
    api: &'static str,
    what: &'static str,
    count: usize,
    key: &'static str,
    max: usize,
) -> Result<(), KafkaError> {
    if count > max {
        return Err(KafkaError::TooMany {
            api,
            what,
            count,
            key,
            max,
        });
    }
    Ok(())
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
