//! Fetch's two byte limits as Kafka applies them (KIP-74): the response's
//! `max_bytes` and each partition's `partition_max_bytes` may be exceeded only
//! by the first batch of the first non-empty partition, never once per partition.

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir::log::batch::{Record, encode_batch};

use crate::common::Server;
use crate::helpers::*;
use crate::liberal::{ask, frame};

/// One record of `len` bytes as a batch.
fn batch(len: usize) -> Vec<u8> {
    encode_batch(
        &[Record {
            value: Some(vec![b'x'; len].into()),
            timestamp: 1,
            ..Record::default()
        }],
        0,
    )
    .unwrap()
}

/// A Fetch (v4, no wait) of partition 0 of each (topic, offset); returns the
/// records length per topic, in order, after checking there is no error.
pub fn fetch_lengths(
    s: &mut std::net::TcpStream,
    wanted: &[(&str, i64)],
    max_bytes: i32,
    partition_max_bytes: i32,
) -> Vec<usize> {
    let topics = wanted
        .iter()
        .map(|(t, offset)| {
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(t.to_string())))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_fetch_offset(*offset)
                        .with_partition_max_bytes(partition_max_bytes),
                ])
        })
        .collect();
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(max_bytes)
        .with_topics(topics);
    let resp = ask::<FetchRequest>(s, 4, &frame(4, 77, &req, &[]), "fetch");
    let parts: Vec<_> = resp.responses.iter().flat_map(|t| &t.partitions).collect();
    assert_eq!(parts.len(), wanted.len());
    parts
        .iter()
        .map(|p| {
            assert_eq!(p.error_code, 0);
            p.records.as_ref().map_or(0, |r| r.len())
        })
        .collect()
}

#[test]
fn only_the_first_batch_of_the_first_non_empty_partition_may_exceed_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let big = batch(3000);
    let len = big.len();
    for topic in ["a", "b", "c"] {
        for i in 0..2 {
            produce(&mut s, topic, 1, &big, i);
            assert_eq!(produce_result(&mut s, topic), (0, i64::from(i)));
        }
    }
    let all = [("a", 0), ("b", 0), ("c", 0)];
    // A response limit below one batch: the first batch only, not one per partition.
    assert_eq!(fetch_lengths(&mut s, &all, 1000, 1 << 20), [len, 0, 0]);
    // Room for two batches and a bit: a's two, nothing more (b's would not fit).
    let two = (2 * len + 100) as i32;
    assert_eq!(fetch_lengths(&mut s, &all, two, 1 << 20), [2 * len, 0, 0]);
    // Room for three: a's two and b's first.
    let three = (3 * len + 100) as i32;
    assert_eq!(
        fetch_lengths(&mut s, &all, three, 1 << 20),
        [2 * len, len, 0]
    );
    // A partition limit below one batch: the first partition's first batch
    // comes, the others' do not, however large the response limit.
    assert_eq!(fetch_lengths(&mut s, &all, 1 << 20, 1000), [len, 0, 0]);
    // A caught-up first partition does not use up the one exception: b's
    // batch comes whole.
    let from_b = [("a", 2), ("b", 1), ("c", 0)];
    assert_eq!(fetch_lengths(&mut s, &from_b, 1000, 1000), [0, len, 0]);
}
