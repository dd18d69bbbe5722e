//! Transactions at the protocol level: Kafka's error code for each bad
//! request (unknown transactional id, stale epoch, produce to a partition not
//! in the transaction, ending a transaction never begun, a bad timeout), the
//! last stable offset and aborted list of a `read_committed` fetch, and
//! DescribeTransactions / ListTransactions.

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::common::Server;
use crate::helpers::*;
use crate::liberal::{ask, frame};

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TXN_STATE: i16 = 48;
const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
const OPERATION_NOT_ATTEMPTED: i16 = 55;
const PRODUCER_FENCED: i16 = 90;
const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;

fn txn_id(id: &'static str) -> TransactionalId {
    TransactionalId(StrBytes::from_static_str(id))
}

fn init(s: &mut std::net::TcpStream, id: &'static str, timeout_ms: i32) -> (i16, i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(txn_id(id)))
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let r = ask::<InitProducerIdRequest>(s, 4, &frame(4, 77, &req, &[]), "InitProducerId");
    (r.error_code, r.producer_id.0, r.producer_epoch)
}

/// AddPartitionsToTxn at `version` for `topic` partitions; per-partition codes.
fn add(
    s: &mut std::net::TcpStream,
    version: i16,
    id: &'static str,
    pid: i64,
    epoch: i16,
    topics: &[(&'static str, &[i32])],
) -> Vec<i16> {
    let req = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(txn_id(id))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(
            topics
                .iter()
                .map(|(t, ps)| {
                    AddPartitionsToTxnTopic::default()
                        .with_name(TopicName(StrBytes::from_static_str(t)))
                        .with_partitions(ps.to_vec())
                })
                .collect(),
        );
    let r = ask::<AddPartitionsToTxnRequest>(s, version, &frame(version, 77, &req, &[]), "add");
    r.results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| p.partition_error_code)
        })
        .collect()
}

fn end(s: &mut std::net::TcpStream, id: &'static str, pid: i64, epoch: i16, commit: bool) -> i16 {
    let req = EndTxnRequest::default()
        .with_transactional_id(txn_id(id))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    ask::<EndTxnRequest>(s, 3, &frame(3, 77, &req, &[]), "EndTxn").error_code
}

/// A transactional one-record batch from `pid`/`epoch` at sequence `seq`.
fn txn_batch(value: &str, pid: i64, epoch: i16, seq: i32) -> Vec<u8> {
    let mut b = idempotent_batch(value, pid, epoch, seq);
    let attributes = i16::from_be_bytes([b[21], b[22]]) | 0x10;
    b[21..23].copy_from_slice(&attributes.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// Produce v9 of `batch` to partition 0 of `topic` as `id`; the partition's error code.
fn produce_txn(
    s: &mut std::net::TcpStream,
    id: &'static str,
    topic: &'static str,
    batch: Vec<u8>,
) -> i16 {
    let req = ProduceRequest::default()
        .with_transactional_id(Some(txn_id(id)))
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(topic)))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch.into())),
                ]),
        ]);
    let r = ask::<ProduceRequest>(s, 9, &frame(9, 77, &req, &[]), "Produce");
    r.responses[0].partition_responses[0].error_code
}

/// Fetch v11 of partition 0 from offset 0: (last stable offset, high watermark,
/// aborted (producer id, first offset), record bytes).
fn fetch_at(
    s: &mut std::net::TcpStream,
    topic: &'static str,
    isolation: i8,
) -> (i64, i64, Vec<(i64, i64)>, usize) {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(1 << 20)
        .with_isolation_level(isolation)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str(topic)))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(0)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let r = ask::<FetchRequest>(s, 11, &frame(11, 77, &req, &[]), "Fetch");
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    let aborted = p
        .aborted_transactions
        .iter()
        .flatten()
        .map(|a| (a.producer_id.0, a.first_offset))
        .collect();
    (
        p.last_stable_offset,
        p.high_watermark,
        aborted,
        p.records.as_ref().map_or(0, |r| r.len()),
    )
}

#[test]
fn bad_transactional_requests_get_kafkas_error_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "tx"), 0);
    assert_eq!(init(&mut s, "t1", 0).0, INVALID_TRANSACTION_TIMEOUT);
    assert_eq!(
        init(&mut s, "t1", 16 * 60 * 1000).0,
        INVALID_TRANSACTION_TIMEOUT
    );
    let (code, pid, epoch) = init(&mut s, "t1", 60_000);
    assert_eq!((code, epoch), (0, 0));
    // Unknown transactional id, another producer id.
    assert_eq!(
        add(&mut s, 3, "nobody", pid, 0, &[("tx", &[0])]),
        [INVALID_PRODUCER_ID_MAPPING]
    );
    assert_eq!(
        add(&mut s, 3, "t1", pid + 1, 0, &[("tx", &[0])]),
        [INVALID_PRODUCER_ID_MAPPING]
    );
    // Nothing begun: ending fails, a produce to a partition not added fails.
    assert_eq!(end(&mut s, "t1", pid, epoch, true), INVALID_TXN_STATE);
    assert_eq!(
        produce_txn(&mut s, "t1", "tx", txn_batch("x", pid, epoch, 0)),
        INVALID_TXN_STATE
    );
    // One unknown partition: nothing is added.
    assert_eq!(
        add(&mut s, 3, "t1", pid, epoch, &[("tx", &[0, 9])]),
        [OPERATION_NOT_ATTEMPTED, UNKNOWN_TOPIC_OR_PARTITION]
    );
    assert_eq!(
        produce_txn(&mut s, "t1", "tx", txn_batch("x", pid, epoch, 0)),
        INVALID_TXN_STATE
    );
    // A transactional batch without a transactional id is refused.
    assert_ne!(
        produce_txn(&mut s, "", "tx", txn_batch("x", pid, epoch, 0)),
        0
    );
    assert_eq!(add(&mut s, 3, "t1", pid, epoch, &[("tx", &[0])]), [0]);
    assert_eq!(
        produce_txn(&mut s, "t1", "tx", txn_batch("open", pid, epoch, 0)),
        0
    );
    // A second instance fences the first and aborts its transaction.
    let (code, pid2, epoch2) = init(&mut s, "t1", 60_000);
    assert_eq!((code, pid2, epoch2), (0, pid, epoch + 1));
    assert_eq!(
        add(&mut s, 3, "t1", pid, epoch, &[("tx", &[0])]),
        [PRODUCER_FENCED]
    );
    assert_eq!(
        add(&mut s, 1, "t1", pid, epoch, &[("tx", &[0])]),
        [INVALID_PRODUCER_EPOCH]
    );
    assert_eq!(end(&mut s, "t1", pid, epoch, true), PRODUCER_FENCED);
    assert_eq!(
        produce_txn(&mut s, "t1", "tx", txn_batch("zombie", pid, epoch, 1)),
        INVALID_PRODUCER_EPOCH
    );
    // Ending twice the same way is a retry; the other way is refused.
    assert_eq!(add(&mut s, 3, "t1", pid, epoch2, &[("tx", &[0])]), [0]);
    assert_eq!(end(&mut s, "t1", pid, epoch2, false), 0);
    assert_eq!(end(&mut s, "t1", pid, epoch2, false), 0);
    assert_eq!(end(&mut s, "t1", pid, epoch2, true), INVALID_TXN_STATE);
    assert!(alive(&server));
}

#[test]
fn read_committed_fetch_stops_at_the_open_transaction_and_lists_aborted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "lso"), 0);
    let (_, pid, epoch) = init(&mut s, "t2", 60_000);
    assert_eq!(add(&mut s, 3, "t2", pid, epoch, &[("lso", &[0])]), [0]);
    assert_eq!(
        produce_txn(&mut s, "t2", "lso", txn_batch("a", pid, epoch, 0)),
        0
    );
    assert_eq!(
        produce_txn(&mut s, "t2", "lso", txn_batch("b", pid, epoch, 1)),
        0
    );
    // Open at offset 0: nothing is stable yet.
    let (lso, hw, aborted, bytes) = fetch_at(&mut s, "lso", 1);
    assert_eq!((lso, hw, bytes), (0, 2, 0));
    assert!(aborted.is_empty());
    let (lso, _, _, bytes) = fetch_at(&mut s, "lso", 0);
    assert_eq!(lso, 2, "read_uncommitted reports the high watermark");
    assert!(bytes > 0);
    // ListOffsets "latest" is the LSO for read_committed, the HW otherwise.
    for (isolation, want) in [(1, 0), (0, 2)] {
        use kafka_protocol::messages::list_offsets_request::{
            ListOffsetsPartition, ListOffsetsTopic,
        };
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(isolation)
            .with_topics(vec![
                ListOffsetsTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("lso")))
                    .with_partitions(vec![ListOffsetsPartition::default().with_timestamp(-1)]),
            ]);
        let r = ask::<ListOffsetsRequest>(&mut s, 2, &frame(2, 77, &req, &[]), "ListOffsets");
        assert_eq!(
            r.topics[0].partitions[0].offset, want,
            "isolation {isolation}"
        );
    }
    // The producer's open transaction starts at 0.
    let req = DescribeProducersRequest::default().with_topics(vec![
        describe_producers_request::TopicRequest::default()
            .with_name(TopicName(StrBytes::from_static_str("lso")))
            .with_partition_indexes(vec![0]),
    ]);
    let r = ask::<DescribeProducersRequest>(&mut s, 0, &frame(0, 77, &req, &[]), "producers");
    let found = &r.topics[0].partitions[0].active_producers;
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].producer_id.0, found[0].current_txn_start_offset),
        (pid, 0)
    );
    // The transaction is described as open.
    let req = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![txn_id("t2"), txn_id("nope")]);
    let r = ask::<DescribeTransactionsRequest>(&mut s, 0, &frame(0, 77, &req, &[]), "describe");
    assert_eq!(r.transaction_states[0].error_code, 0);
    assert_eq!(
        r.transaction_states[0].transaction_state.as_str(),
        "Ongoing"
    );
    assert_eq!(r.transaction_states[0].producer_id.0, pid);
    assert_eq!(r.transaction_states[0].topics[0].partitions, [0]);
    assert_eq!(
        r.transaction_states[1].error_code,
        TRANSACTIONAL_ID_NOT_FOUND
    );
    let req = ListTransactionsRequest::default()
        .with_state_filters(vec![
            StrBytes::from_static_str("Ongoing"),
            StrBytes::from_static_str("Bogus"),
        ])
        .with_duration_filter(-1);
    let r = ask::<ListTransactionsRequest>(&mut s, 1, &frame(1, 77, &req, &[]), "list");
    assert_eq!(r.transaction_states.len(), 1);
    assert_eq!(r.transaction_states[0].transactional_id.0.as_str(), "t2");
    assert_eq!(
        r.unknown_state_filters,
        [StrBytes::from_static_str("Bogus")]
    );
    // Aborted: stable up to the marker, listed as aborted from offset 0.
    assert_eq!(end(&mut s, "t2", pid, epoch, false), 0);
    let (lso, hw, aborted, bytes) = fetch_at(&mut s, "lso", 1);
    assert_eq!((lso, hw), (3, 3));
    assert_eq!(aborted, [(pid, 0)]);
    assert!(bytes > 0);
    // A committed one after it: not listed.
    assert_eq!(add(&mut s, 3, "t2", pid, epoch, &[("lso", &[0])]), [0]);
    assert_eq!(
        produce_txn(&mut s, "t2", "lso", txn_batch("c", pid, epoch, 2)),
        0
    );
    assert_eq!(end(&mut s, "t2", pid, epoch, true), 0);
    let (lso, hw, aborted, _) = fetch_at(&mut s, "lso", 1);
    assert_eq!((lso, hw), (5, 5));
    assert_eq!(aborted, [(pid, 0)]);
    let req = ListTransactionsRequest::default()
        .with_state_filters(vec![StrBytes::from_static_str("CompleteCommit")])
        .with_duration_filter(-1);
    let r = ask::<ListTransactionsRequest>(&mut s, 1, &frame(1, 77, &req, &[]), "list");
    assert_eq!(r.transaction_states.len(), 1);
}

/// OffsetFetch v8 of `group`'s partition 0 of `topic`: (error, offset).
fn fetch_offset(
    s: &mut std::net::TcpStream,
    group: &'static str,
    topic: &'static str,
    stable: bool,
) -> (i16, i64) {
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopics,
    };
    let req = OffsetFetchRequest::default()
        .with_require_stable(stable)
        .with_groups(vec![
            OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(StrBytes::from_static_str(group)))
                .with_topics(Some(vec![
                    OffsetFetchRequestTopics::default()
                        .with_name(TopicName(StrBytes::from_static_str(topic)))
                        .with_partition_indexes(vec![0]),
                ])),
        ]);
    let r = ask::<OffsetFetchRequest>(s, 8, &frame(8, 77, &req, &[]), "OffsetFetch");
    let p = &r.groups[0].topics[0].partitions[0];
    (p.error_code, p.committed_offset)
}

#[test]
fn transactional_offsets_are_unstable_until_the_commit_and_dropped_by_an_abort() {
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    const UNSTABLE_OFFSET_COMMIT: i16 = 88;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert_eq!(metadata_error(&mut s, "src"), 0);
    let (_, pid, epoch) = init(&mut s, "t3", 60_000);
    let commit_offset = |s: &mut std::net::TcpStream, offset: i64| {
        let add = AddOffsetsToTxnRequest::default()
            .with_transactional_id(txn_id("t3"))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_group_id(GroupId(StrBytes::from_static_str("g")));
        let r = ask::<AddOffsetsToTxnRequest>(s, 3, &frame(3, 77, &add, &[]), "AddOffsetsToTxn");
        assert_eq!(r.error_code, 0);
        let req = TxnOffsetCommitRequest::default()
            .with_transactional_id(txn_id("t3"))
            .with_group_id(GroupId(StrBytes::from_static_str("g")))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_generation_id(-1)
            .with_topics(vec![
                TxnOffsetCommitRequestTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("src")))
                    .with_partitions(vec![
                        TxnOffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(offset),
                    ]),
            ]);
        let r = ask::<TxnOffsetCommitRequest>(s, 3, &frame(3, 77, &req, &[]), "TxnOffsetCommit");
        assert_eq!(r.topics[0].partitions[0].error_code, 0);
    };
    commit_offset(&mut s, 7);
    assert_eq!(
        fetch_offset(&mut s, "g", "src", true),
        (UNSTABLE_OFFSET_COMMIT, -1)
    );
    assert_eq!(
        fetch_offset(&mut s, "g", "src", false),
        (0, -1),
        "not committed yet"
    );
    assert_eq!(end(&mut s, "t3", pid, epoch, false), 0);
    assert_eq!(
        fetch_offset(&mut s, "g", "src", true),
        (0, -1),
        "an abort drops it"
    );
    commit_offset(&mut s, 9);
    assert_eq!(end(&mut s, "t3", pid, epoch, true), 0);
    assert_eq!(fetch_offset(&mut s, "g", "src", true), (0, 9));
}
