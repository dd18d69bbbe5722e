//! What one client can make the Kafka listener hold: connections (in all and per
//! address), idle connections, half-sent requests, and memory for announced frames.

use crate::common::{Server, closed_by_server, proc_status_kib, wait_until};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::*;

fn start_with(dir: &std::path::Path, kafka: &str) -> Server {
    let config = dir.join("weir.toml");
    std::fs::write(&config, format!("[kafka]\n{kafka}")).unwrap();
    Server::start(&dir.join("data"), &["--config", config.to_str().unwrap()])
}

/// Whether this connection answers ApiVersions v0.
fn answers(s: &mut TcpStream) -> bool {
    s.write_all(&request(18, 0, 5, &[])).is_ok() && response(s).is_some_and(|r| i32_at(&r, 0) == 5)
}

#[test]
fn a_connection_over_the_cap_is_closed_and_a_closed_one_frees_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), "max_connections_per_ip = 3\n");
    let mut open: Vec<TcpStream> = (0..3).map(|_| connect(&server)).collect();
    for s in &mut open {
        assert!(answers(s));
    }
    let mut extra = connect(&server);
    assert!(
        !answers(&mut extra),
        "a fourth connection from 127.0.0.1 is closed"
    );
    drop(open.pop());
    assert!(
        wait_until(Duration::from_secs(10), || answers(&mut connect(&server))),
        "a place frees once a connection closes"
    );
    for s in &mut open {
        assert!(answers(s), "the admitted connections go on");
    }
}

#[test]
fn idle_connections_and_half_sent_requests_are_closed_busy_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(
        dir.path(),
        "connections_max_idle_ms = 400\nrequest_read_timeout_ms = 400\n",
    );
    let mut idle = connect(&server);
    let mut half = connect(&server);
    let mut busy = connect(&server);
    // 10 bytes of an announced 1000.
    half.write_all(&1000i32.to_be_bytes()).unwrap();
    half.write_all(&[0u8; 10]).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1200) {
        assert!(answers(&mut busy), "a connection in use is never idle");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        closed_by_server(&mut idle),
        "idle past connections_max_idle_ms"
    );
    assert!(
        closed_by_server(&mut half),
        "a request not sent within request_read_timeout_ms"
    );
    assert!(answers(&mut busy));
}

#[test]
fn an_announced_frame_costs_memory_only_as_its_bytes_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    assert!(alive(&server));
    let before = proc_status_kib(server.child.id(), "VmSize");
    // 16 clients announce frames just under max_frame_bytes (100 MiB) and send 1 KiB.
    let mut holders: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut s = connect(&server);
            s.write_all(&((100 << 20) - 1i32).to_be_bytes()).unwrap();
            s.write_all(&[0u8; 1024]).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(&server));
    let grown_mib = proc_status_kib(server.child.id(), "VmSize").saturating_sub(before) / 1024;
    // Reserving each announced frame up front took 1600 MiB of address space.
    assert!(
        grown_mib < 512,
        "16 announced 100 MiB frames grew the address space by {grown_mib} MiB"
    );
    holders.clear();
}

#[test]
fn commit_metadata_is_capped_and_a_group_named_twice_is_described_once() {
    use crate::liberal::{ask, frame};
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::StrBytes;

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    crate::common::create_topic(&server, "t", 2);
    let mut s = connect(&server);
    let commit = |metadata: &str| {
        OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("g")))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("t")))
                    .with_partitions(vec![
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(1)
                            .with_committed_metadata(Some(StrBytes::from_string(metadata.into()))),
                    ]),
            ])
    };
    // Kafka's offset.metadata.max.bytes (4096): over it, OFFSET_METADATA_TOO_LARGE.
    let r = ask::<OffsetCommitRequest>(
        &mut s,
        8,
        &frame(8, 77, &commit(&"m".repeat(4097)), &[]),
        "big",
    );
    assert_eq!(r.topics[0].partitions[0].error_code, 12);
    let r = ask::<OffsetCommitRequest>(
        &mut s,
        8,
        &frame(8, 77, &commit(&"m".repeat(4096)), &[]),
        "ok",
    );
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    // The HTTP API refuses the same, naming the limit.
    let (status, body) = crate::common::pipeline::call(
        &server,
        "POST",
        "/v1/groups/g/offsets",
        Some(
            serde_json::json!({"offsets": [{"topic": "t", "partition": 1, "offset": 1,
            "metadata": "m".repeat(5000)}]}),
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "metadata_too_large", "{body}");

    // One group named 300 times is described once.
    let names = vec![GroupId(StrBytes::from_static_str("g")); 300];
    let req = DescribeGroupsRequest::default().with_groups(names);
    let r = ask::<DescribeGroupsRequest>(&mut s, 5, &frame(5, 77, &req, &[]), "describe");
    assert_eq!(r.groups.len(), 1);
}
