//! Idempotent producer state is bounded: a partition remembers at most
//! `kafka.max_producers_per_partition` producers, forgetting the least
//! recently appending, so a flood of fresh producer ids cannot grow it.

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::common::{Server, create_topic};
use crate::helpers::*;
use crate::liberal::{ask, frame};

/// The producer ids partition 0 of `topic` remembers.
fn remembered(s: &mut std::net::TcpStream, topic: &'static str) -> Vec<i64> {
    let req = DescribeProducersRequest::default().with_topics(vec![
        describe_producers_request::TopicRequest::default()
            .with_name(TopicName(StrBytes::from_static_str(topic)))
            .with_partition_indexes(vec![0]),
    ]);
    let resp = ask::<DescribeProducersRequest>(s, 0, &frame(0, 77, &req, &[]), "producers");
    let mut ids: Vec<i64> = resp.topics[0].partitions[0]
        .active_producers
        .iter()
        .map(|p| p.producer_id.0)
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_flood_of_producer_ids_keeps_at_most_the_cap_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(&config, "[kafka]\nmax_producers_per_partition = 10\n").unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    create_topic(&server, "idem", 1);
    let mut s = connect(&server);
    // 200 producer ids, each appending one batch: all were remembered.
    for pid in 1000..1200i64 {
        produce(&mut s, "idem", 1, &idempotent_batch("a", pid, 0, 0), 1);
        assert_eq!(produce_result(&mut s, "idem").0, 0);
        let now = remembered(&mut s, "idem");
        assert!(now.len() <= 10, "{} producers remembered", now.len());
        assert!(now.contains(&pid), "the newest is remembered");
    }
    // The latest producer still has its duplicate detection.
    produce(&mut s, "idem", 1, &idempotent_batch("a", 1199, 0, 0), 1);
    let (code, offset) = produce_result(&mut s, "idem");
    assert_eq!(
        (code, offset),
        (0, 199),
        "a retry is acknowledged, not appended"
    );
    assert_eq!(high_watermark(&server, "idem"), 200);
}
