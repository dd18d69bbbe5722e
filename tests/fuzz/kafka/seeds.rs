//! The requests the Kafka fuzz starts from: every served API at every version, empty (the
//! protocol crate's defaults) or filled with content that reaches past the handlers' first
//! checks (the topic and group the harness made, a real transactional producer), then framed
//! and mutated.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};
use weir::kafka::handler::versions::SUPPORTED;
use weir::log::batch::Compression;

use crate::driver::Rng;
use crate::mutate::mutate;

/// `req` encoded at `version`; panics if the protocol crate cannot encode that version.
pub fn encode<T: Encodable>(req: &T, version: i16) -> Vec<u8> {
    try_encode(req, version).expect("encodable at this version")
}

/// `req` encoded at `version`, if the protocol crate can.
pub fn try_encode<T: Encodable>(req: &T, version: i16) -> Option<Vec<u8>> {
    let mut buf = BytesMut::new();
    req.encode(&mut buf, version).ok()?;
    Some(buf.to_vec())
}

/// Header (in the version's header layout) then body; no size prefix.
pub fn request_frame(key: i16, version: i16, correlation: i32, body: &[u8]) -> Vec<u8> {
    let mut header = RequestHeader::default();
    header.request_api_key = key;
    header.request_api_version = version;
    header.correlation_id = correlation;
    header.client_id = Some(StrBytes::from_static_str("fuzz"));
    let header_version = ApiKey::try_from(key)
        .map(|k| k.request_header_version(version))
        .unwrap_or(1);
    let mut buf = BytesMut::new();
    header.encode(&mut buf, header_version).expect("header");
    buf.extend_from_slice(body);
    buf.to_vec()
}

fn name(s: &'static str) -> TopicName {
    TopicName(StrBytes::from_static_str(s))
}

fn group(s: &'static str) -> GroupId {
    GroupId(StrBytes::from_static_str(s))
}

pub fn produce(batch: Vec<u8>, acks: i16) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(1000)
        .with_topic_data(vec![
            produce_request::TopicProduceData::default()
                .with_name(name("fuzz"))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(Bytes::from(batch))),
                ]),
        ])
}

/// Requests with content that reaches past the handlers' first checks, for `version`.
fn filled(rng: &mut Rng, api: ApiKey, version: i16, txn: (i64, i16)) -> Option<Vec<u8>> {
    let (pid, epoch) = (ProducerId(txn.0), txn.1);
    let tx = || TransactionalId(StrBytes::from_static_str("tx"));
    match api {
        ApiKey::Produce => {
            let codec = *rng.pick(&[
                Compression::None,
                Compression::Gzip,
                Compression::Snappy,
                Compression::Lz4,
                Compression::Zstd,
            ]);
            // A third of the batches mutated (and their CRC repaired) before they are framed,
            // so the broker's own validation and append see bad batches, not just bad frames.
            let batch = if rng.chance(1, 3) {
                crate::batch::generate(rng)
            } else if rng.chance(1, 4) {
                transactional_batch(rng, txn)
            } else {
                crate::batch::batch(&crate::batch::records(rng), codec)
            };
            let acks = *rng.pick(&[0, 1, -1]);
            let mut req = produce(batch, acks);
            if rng.chance(1, 4) {
                req = req.with_transactional_id(Some(tx()));
            }
            try_encode(&req, version)
        }
        ApiKey::Fetch => {
            let req = FetchRequest::default()
                .with_max_wait_ms(0)
                .with_min_bytes(1)
                .with_max_bytes(1 << 20)
                .with_topics(vec![
                    fetch_request::FetchTopic::default()
                        .with_topic(name("fuzz"))
                        .with_partitions(vec![
                            fetch_request::FetchPartition::default()
                                .with_partition(rng.below(2) as i32)
                                .with_fetch_offset(rng.below(4) as i64)
                                .with_partition_max_bytes(1 << 16),
                        ]),
                ]);
            try_encode(&req, version)
        }
        ApiKey::ListOffsets => {
            let req = ListOffsetsRequest::default().with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(name("fuzz"))
                    .with_partitions(vec![
                        list_offsets_request::ListOffsetsPartition::default()
                            .with_partition_index(0)
                            .with_timestamp(*rng.pick(&[-1, -2, 0, 1_700_000_000_000])),
                    ]),
            ]);
            try_encode(&req, version)
        }
        ApiKey::CreateTopics => {
            let topic = create_topics_request::CreatableTopic::default()
                .with_name(name("fuzz-new"))
                .with_num_partitions(1 + rng.below(3) as i32)
                .with_replication_factor(1)
                .with_configs(vec![
                    create_topics_request::CreatableTopicConfig::default()
                        .with_name(StrBytes::from_static_str("retention.ms"))
                        .with_value(Some(StrBytes::from_static_str("60000"))),
                ]);
            let req = CreateTopicsRequest::default()
                .with_topics(vec![topic])
                .with_timeout_ms(1000);
            try_encode(&req, version)
        }
        ApiKey::OffsetCommit => {
            let req = OffsetCommitRequest::default()
                .with_group_id(group("g"))
                .with_generation_id_or_member_epoch(-1)
                .with_topics(vec![
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(name("fuzz"))
                        .with_partitions(vec![
                            offset_commit_request::OffsetCommitRequestPartition::default()
                                .with_partition_index(0)
                                .with_committed_offset(1),
                        ]),
                ]);
            try_encode(&req, version)
        }
        ApiKey::JoinGroup => {
            let req = JoinGroupRequest::default()
                .with_group_id(group("g"))
                .with_session_timeout_ms(6000)
                .with_rebalance_timeout_ms(100)
                .with_protocol_type(StrBytes::from_static_str("consumer"))
                .with_protocols(vec![
                    join_group_request::JoinGroupRequestProtocol::default()
                        .with_name(StrBytes::from_static_str("range"))
                        .with_metadata(Bytes::from_static(b"\0\x01\0\0\0\x01\0\x04fuzz")),
                ]);
            try_encode(&req, version)
        }
        ApiKey::DeleteRecords => {
            let req = DeleteRecordsRequest::default().with_topics(vec![
                delete_records_request::DeleteRecordsTopic::default()
                    .with_name(name("fuzz"))
                    .with_partitions(vec![
                        delete_records_request::DeleteRecordsPartition::default()
                            .with_partition_index(1)
                            .with_offset(0),
                    ]),
            ]);
            try_encode(&req, version)
        }
        ApiKey::DescribeConfigs => {
            let req = DescribeConfigsRequest::default().with_resources(vec![
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("fuzz")),
            ]);
            try_encode(&req, version)
        }
        ApiKey::Metadata => {
            let topics = rng.chance(1, 2).then(|| {
                vec![
                    metadata_request::MetadataRequestTopic::default().with_name(Some(name("fuzz"))),
                ]
            });
            try_encode(&MetadataRequest::default().with_topics(topics), version)
        }
        ApiKey::InitProducerId => {
            let req = InitProducerIdRequest::default()
                .with_transactional_id(Some(tx()))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(pid)
                .with_producer_epoch(epoch);
            try_encode(&req, version)
        }
        ApiKey::AddPartitionsToTxn => {
            let req = AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(tx())
                .with_v3_and_below_producer_id(pid)
                .with_v3_and_below_producer_epoch(epoch)
                .with_v3_and_below_topics(vec![
                    add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                        .with_name(name("fuzz"))
                        .with_partitions(vec![0, 1]),
                ]);
            try_encode(&req, version)
        }
        ApiKey::AddOffsetsToTxn => {
            let req = AddOffsetsToTxnRequest::default()
                .with_transactional_id(tx())
                .with_producer_id(pid)
                .with_producer_epoch(epoch)
                .with_group_id(group("g"));
            try_encode(&req, version)
        }
        ApiKey::TxnOffsetCommit => {
            let req = TxnOffsetCommitRequest::default()
                .with_transactional_id(tx())
                .with_group_id(group("g"))
                .with_producer_id(pid)
                .with_producer_epoch(epoch)
                .with_topics(vec![
                    txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                        .with_name(name("fuzz"))
                        .with_partitions(vec![
                            txn_offset_commit_request::TxnOffsetCommitRequestPartition::default()
                                .with_partition_index(0)
                                .with_committed_offset(1),
                        ]),
                ]);
            try_encode(&req, version)
        }
        ApiKey::EndTxn => {
            let req = EndTxnRequest::default()
                .with_transactional_id(tx())
                .with_producer_id(pid)
                .with_producer_epoch(epoch)
                .with_committed(rng.chance(1, 2));
            try_encode(&req, version)
        }
        ApiKey::CreatePartitions => {
            let req = CreatePartitionsRequest::default()
                .with_topics(vec![
                    create_partitions_request::CreatePartitionsTopic::default()
                        .with_name(name("fuzz"))
                        .with_count(2 + rng.below(4) as i32),
                ])
                .with_timeout_ms(1000);
            try_encode(&req, version)
        }
        // The members of group `g` joined with (mutated) subscription metadata, which
        // OffsetDelete decodes to tell subscribed topics from the rest.
        ApiKey::OffsetDelete => {
            let req = OffsetDeleteRequest::default()
                .with_group_id(group("g"))
                .with_topics(vec![
                    offset_delete_request::OffsetDeleteRequestTopic::default()
                        .with_name(name("fuzz"))
                        .with_partitions(vec![
                            offset_delete_request::OffsetDeleteRequestPartition::default()
                                .with_partition_index(0),
                        ]),
                ]);
            try_encode(&req, version)
        }
        ApiKey::DescribeGroups => {
            let req = DescribeGroupsRequest::default().with_groups(vec![group("g")]);
            try_encode(&req, version)
        }
        ApiKey::SyncGroup => {
            let req = SyncGroupRequest::default()
                .with_group_id(group("g"))
                .with_generation_id(rng.below(3) as i32)
                .with_member_id(StrBytes::from_static_str("fuzz-member"))
                .with_protocol_type(Some(StrBytes::from_static_str("consumer")))
                .with_protocol_name(Some(StrBytes::from_static_str("range")))
                .with_assignments(vec![
                    sync_group_request::SyncGroupRequestAssignment::default()
                        .with_member_id(StrBytes::from_static_str("fuzz-member"))
                        .with_assignment(Bytes::from_static(
                            b"\0\x01\0\0\0\x01\0\x04fuzz\0\0\0\x01\0\0\0\0",
                        )),
                ]);
            try_encode(&req, version)
        }
        ApiKey::Heartbeat => {
            let req = HeartbeatRequest::default()
                .with_group_id(group("g"))
                .with_generation_id(rng.below(3) as i32)
                .with_member_id(StrBytes::from_static_str("fuzz-member"));
            try_encode(&req, version)
        }
        _ => None,
    }
}

/// A one-record batch of transactional producer `pid`/`epoch`, for Produce seeds.
fn transactional_batch(rng: &mut Rng, (pid, epoch): (i64, i16)) -> Vec<u8> {
    let mut b = crate::batch::batch(&crate::batch::records(rng), Compression::None);
    b[21..23].copy_from_slice(&0x10i16.to_be_bytes());
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&epoch.to_be_bytes());
    b[53..57].copy_from_slice(&(rng.below(3) as i32).to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// The default (empty) request of `api` at `version`, if the protocol crate encodes it.
pub fn empty(api: ApiKey, v: i16) -> Option<Vec<u8>> {
    macro_rules! by_key {
        ($($key:ident => $ty:ty),* $(,)?) => {
            match api {
                $(ApiKey::$key => try_encode(&<$ty>::default(), v),)*
                _ => None,
            }
        };
    }
    by_key!(
        Produce => ProduceRequest, Fetch => FetchRequest, ListOffsets => ListOffsetsRequest,
        Metadata => MetadataRequest, OffsetCommit => OffsetCommitRequest,
        OffsetFetch => OffsetFetchRequest, FindCoordinator => FindCoordinatorRequest,
        JoinGroup => JoinGroupRequest, Heartbeat => HeartbeatRequest,
        LeaveGroup => LeaveGroupRequest, SyncGroup => SyncGroupRequest,
        DescribeGroups => DescribeGroupsRequest, ListGroups => ListGroupsRequest,
        ApiVersions => ApiVersionsRequest, CreateTopics => CreateTopicsRequest,
        DeleteTopics => DeleteTopicsRequest, InitProducerId => InitProducerIdRequest,
        DescribeConfigs => DescribeConfigsRequest, CreatePartitions => CreatePartitionsRequest,
        DeleteGroups => DeleteGroupsRequest, OffsetDelete => OffsetDeleteRequest,
        DescribeCluster => DescribeClusterRequest, DeleteRecords => DeleteRecordsRequest,
        AlterConfigs => AlterConfigsRequest,
        IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
        DescribeLogDirs => DescribeLogDirsRequest, DescribeProducers => DescribeProducersRequest,
        AddPartitionsToTxn => AddPartitionsToTxnRequest,
        AddOffsetsToTxn => AddOffsetsToTxnRequest, EndTxn => EndTxnRequest,
        TxnOffsetCommit => TxnOffsetCommitRequest,
        DescribeTransactions => DescribeTransactionsRequest,
        ListTransactions => ListTransactionsRequest,
        SaslHandshake => SaslHandshakeRequest, SaslAuthenticate => SaslAuthenticateRequest,
        CreateAcls => CreateAclsRequest, DescribeAcls => DescribeAclsRequest,
        DeleteAcls => DeleteAclsRequest,
    )
}

/// A served API at a served version (sometimes one past either end), its body filled or
/// empty, framed, then mutated (the header included).
pub fn generate(rng: &mut Rng, txn: (i64, i16)) -> Vec<u8> {
    let (api, min, max) = *rng.pick(SUPPORTED);
    let version = match rng.below(20) {
        0 => min - 1,
        1 => max + 1,
        _ => min + rng.below((max - min + 1) as usize) as i16,
    };
    let body = if rng.chance(2, 3) {
        filled(rng, api, version, txn)
    } else {
        None
    }
    .or_else(|| empty(api, version))
    .unwrap_or_else(|| {
        let n = rng.below(64);
        rng.bytes(n)
    });
    let correlation = rng.next() as i32;
    // Mostly the body alone is mutated: a broken header only ever closes the connection,
    // while a good header with a bad body reaches the decoders and the handlers.
    if rng.chance(2, 3) {
        let mut framed = request_frame(api as i16, version, correlation, &[]);
        framed.extend(mutate(rng, &body));
        framed
    } else {
        mutate(rng, &request_frame(api as i16, version, correlation, &body))
    }
}

/// The Kafka 3.x versions the protocol crate cannot encode (weir decodes them by hand).
pub fn legacy_version(api: ApiKey, v: i16) -> Option<()> {
    matches!(
        (api, v),
        (ApiKey::ListOffsets, 0) | (ApiKey::OffsetCommit, 0..=1) | (ApiKey::OffsetFetch, 0)
    )
    .then_some(())
}
