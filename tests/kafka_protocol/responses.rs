//! What one small request can make the broker answer: a partition, topic or
//! group named many times is answered once, a name no topic can have costs
//! nothing per partition, and a request naming more than
//! `kafka.max_partitions_per_request` or `kafka.metadata_max_topics` is refused.
//! Each case is a finding of the attack pass, bounded by response size or by the
//! broker's peak resident memory.

use std::io::Write;
use std::net::TcpStream;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Request, StrBytes};

use crate::common::{Server, closed_by_server, create_topic, http, peak_rss_kib};
use crate::helpers::*;
use crate::liberal::{ask, frame};

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_REQUEST: i16 = 42;

/// Sends a frame; the answer's size in bytes and the answer decoded at `version`.
fn ask_sized<R: Request>(s: &mut TcpStream, version: i16, frame: &[u8]) -> (usize, R::Response) {
    s.write_all(frame).unwrap();
    let r = response(s).expect("an answer, not a closed connection");
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut buf = Bytes::from(r.clone());
    ResponseHeader::decode(&mut buf, key.response_header_version(version)).unwrap();
    (r.len(), R::Response::decode(&mut buf, version).unwrap())
}

fn name(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn fetch(topics: Vec<FetchTopic>) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(topics)
}

fn fetch_topic(topic: &str, partitions: impl IntoIterator<Item = i32>) -> FetchTopic {
    FetchTopic::default()
        .with_topic(TopicName(name(topic)))
        .with_partitions(
            partitions
                .into_iter()
                .map(|p| {
                    FetchPartition::default()
                        .with_partition(p)
                        .with_partition_max_bytes(1 << 20)
                })
                .collect(),
        )
}

#[test]
fn a_fetch_of_a_name_no_topic_can_have_costs_nothing_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    assert!(alive(&server));
    let before = peak_rss_kib(server.child.id());
    // A 76 KB request: a 30 000-byte name × 3000 partitions. Copying the name
    // for each partition grew the broker by 169 MB.
    let bogus = "x".repeat(30_000);
    let req = fetch(vec![fetch_topic(&bogus, 0..3000)]);
    let (size, r) = ask_sized::<FetchRequest>(&mut s, 12, &frame(12, 77, &req, &[]));
    assert_eq!(r.error_code, 0);
    assert_eq!(r.responses.len(), 1, "the name is echoed once");
    assert_eq!(r.responses[0].partitions.len(), 3000);
    assert!(
        r.responses[0]
            .partitions
            .iter()
            .all(|p| p.error_code == UNKNOWN_TOPIC_OR_PARTITION)
    );
    assert!(size < 200_000, "the answer took {size} bytes");
    let grown_mib = peak_rss_kib(server.child.id()).saturating_sub(before) / 1024;
    assert!(grown_mib < 48, "the bogus fetch cost {grown_mib} MiB");
    // The same name in 1000 topic entries is still answered once.
    let req = fetch((0..1000).map(|_| fetch_topic(&bogus, [7])).collect());
    let (size, r) = ask_sized::<FetchRequest>(&mut s, 12, &frame(12, 77, &req, &[]));
    assert_eq!(r.responses.len(), 1);
    assert_eq!(r.responses[0].partitions.len(), 1);
    assert!(size < 40_000, "the answer took {size} bytes");
    let grown_mib = peak_rss_kib(server.child.id()).saturating_sub(before) / 1024;
    assert!(grown_mib < 48, "the bogus fetches cost {grown_mib} MiB");
    assert!(alive(&server));
}

#[test]
fn a_partition_fetched_twice_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "t", 2);
    let r = http()
        .post(server.at("/v1/topics/t/records"))
        .json(&serde_json::json!({"records": [{"value": "v".repeat(10_000), "partition": 0}]}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let mut s = connect(&server);
    // Partition 0 named 500 times (and partition 1 between): one read each,
    // at the offset named last, in the place named first.
    let mut topics: Vec<FetchTopic> = (0..500).map(|_| fetch_topic("t", [0, 1])).collect();
    topics.push(fetch_topic("t", [0]));
    let mut req = fetch(topics);
    req.topics[500].partitions[0].fetch_offset = 1;
    let (size, r) = ask_sized::<FetchRequest>(&mut s, 12, &frame(12, 77, &req, &[]));
    let partitions: Vec<(i32, i16, usize)> = r
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| {
            let bytes = p.records.as_ref().map_or(0, |b| b.len());
            (p.partition_index, p.error_code, bytes)
        })
        .collect();
    assert_eq!(
        partitions.len(),
        2,
        "{} partitions answered",
        partitions.len()
    );
    assert_eq!(partitions, vec![(0, 0, 0), (1, 0, 0)]);
    assert!(size < 1000, "the answer took {size} bytes");
    // A full fetch (opening a session) folds them the same way.
    let mut req = fetch((0..500).map(|_| fetch_topic("t", [0])).collect());
    req.session_epoch = 0;
    let (_, r) = ask_sized::<FetchRequest>(&mut s, 12, &frame(12, 77, &req, &[]));
    let parts = &r.responses[0].partitions;
    assert_eq!(parts.len(), 1);
    let bytes = parts[0].records.as_ref().map_or(0, |b| b.len());
    assert!(
        (10_000..12_000).contains(&bytes),
        "{bytes} bytes of records"
    );
}

#[test]
fn offset_fetch_answers_each_group_and_partition_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "t", 2);
    let mut s = connect(&server);
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(name("g")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(name("t")))
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(1)
                        .with_committed_metadata(Some(name(&"m".repeat(4096)))),
                ]),
        ]);
    let r = ask::<OffsetCommitRequest>(&mut s, 8, &frame(8, 77, &commit, &[]), "commit");
    assert_eq!(r.topics[0].partitions[0].error_code, 0);

    // The 4 KiB metadata named 50 000 times was echoed 50 000 times (200 MB).
    let topic = |n: usize| {
        OffsetFetchRequestTopic::default()
            .with_name(TopicName(name("t")))
            .with_partition_indexes(vec![0; n])
    };
    let req = OffsetFetchRequest::default()
        .with_group_id(GroupId(name("g")))
        .with_topics(Some(vec![topic(25_000), topic(25_000)]));
    let (size, r) = ask_sized::<OffsetFetchRequest>(&mut s, 7, &frame(7, 77, &req, &[]));
    assert_eq!(r.topics.len(), 1);
    assert_eq!(r.topics[0].partitions.len(), 1);
    assert_eq!(r.topics[0].partitions[0].committed_offset, 1);
    assert!(size < 8192, "the answer took {size} bytes");

    // v8: one group named 300 times, each asking for partition 0 100 times.
    let group = OffsetFetchRequestGroup::default()
        .with_group_id(GroupId(name("g")))
        .with_topics(Some(vec![
            OffsetFetchRequestTopics::default()
                .with_name(TopicName(name("t")))
                .with_partition_indexes(vec![0; 100]),
        ]));
    let req = OffsetFetchRequest::default().with_groups(vec![group; 300]);
    let (size, r) = ask_sized::<OffsetFetchRequest>(&mut s, 8, &frame(8, 77, &req, &[]));
    assert_eq!(r.groups.len(), 1);
    assert_eq!(r.groups[0].topics[0].partitions.len(), 1);
    assert!(size < 8192, "the answer took {size} bytes");
}

#[test]
fn metadata_describes_a_topic_named_many_times_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "wide", 200);
    let mut s = connect(&server);
    let topic = MetadataRequestTopic::default().with_name(Some(TopicName(name("wide"))));
    // 5000 × 200 partitions answered 5000 times: 30 MB from a 30 KB request.
    let req = MetadataRequest::default().with_topics(Some(vec![topic; 5000]));
    let (size, r) = ask_sized::<MetadataRequest>(&mut s, 12, &frame(12, 77, &req, &[]));
    assert_eq!(r.topics.len(), 1);
    assert_eq!(r.topics[0].partitions.len(), 200);
    assert!(size < 64_000, "the answer took {size} bytes");
}

#[test]
fn list_offsets_answers_a_duplicated_partition_invalid_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "t", 2);
    let mut s = connect(&server);
    let partition = |p: i32| {
        ListOffsetsPartition::default()
            .with_partition_index(p)
            .with_timestamp(-1)
    };
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(TopicName(name("t")))
                .with_partitions(vec![partition(0), partition(1), partition(0)]),
        ]);
    let r = ask::<ListOffsetsRequest>(&mut s, 7, &frame(7, 77, &req, &[]), "list");
    let codes: Vec<(i32, i16)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code))
        .collect();
    // As in Kafka: which of the two queries would the client mean?
    assert_eq!(
        codes,
        vec![(0, INVALID_REQUEST), (1, 0), (0, INVALID_REQUEST)]
    );
}

#[test]
fn requests_naming_more_than_the_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        "[kafka]\nmax_partitions_per_request = 100\nmetadata_max_topics = 10\n",
    )
    .unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    create_topic(&server, "t", 1);
    let mut s = connect(&server);
    // At the limit: served.
    let req = fetch(vec![fetch_topic("t", 0..100)]);
    let (_, r) = ask_sized::<FetchRequest>(&mut s, 12, &frame(12, 77, &req, &[]));
    assert_eq!(r.error_code, 0);
    assert_eq!(r.responses[0].partitions.len(), 100);
    // Over it: INVALID_REQUEST where the response has a top-level code...
    let req = fetch(vec![fetch_topic("t", 0..101)]);
    let (_, r) = ask_sized::<FetchRequest>(&mut s, 12, &frame(12, 77, &req, &[]));
    assert_eq!(r.error_code, INVALID_REQUEST);
    assert!(r.responses.is_empty());
    let req = OffsetFetchRequest::default()
        .with_group_id(GroupId(name("g")))
        .with_topics(Some(vec![
            OffsetFetchRequestTopic::default()
                .with_name(TopicName(name("t")))
                .with_partition_indexes((0..101).collect()),
        ]));
    let (_, r) = ask_sized::<OffsetFetchRequest>(&mut s, 7, &frame(7, 77, &req, &[]));
    assert_eq!(r.error_code, INVALID_REQUEST);
    // ...and the connection closed where it has none, as Kafka does.
    let topic = MetadataRequestTopic::default().with_name(Some(TopicName(name("t"))));
    let req = MetadataRequest::default().with_topics(Some(vec![topic.clone(); 10]));
    let (_, r) = ask_sized::<MetadataRequest>(&mut s, 12, &frame(12, 77, &req, &[]));
    assert_eq!(r.topics.len(), 1);
    let req = MetadataRequest::default().with_topics(Some(vec![topic; 11]));
    s.write_all(&frame(12, 77, &req, &[])).unwrap();
    assert!(
        closed_by_server(&mut s),
        "11 topics over metadata_max_topics"
    );
    assert!(alive(&server));
}
