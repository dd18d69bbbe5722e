//! Error messages a client sees name files relative to the data directory
//! (`log/<topic>/<partition>/...`), never by the server's absolute paths: an
//! I/O error creating a topic, and a full disk, over HTTP and Kafka alike.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{Server, http};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use serde_json::{Value, json};

/// Sends `req` at `version` and decodes the answer.
fn ask<R: Request>(server: &Server, version: i16, req: &R) -> R::Response {
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut header = RequestHeader::default();
    header.request_api_key = R::KEY;
    header.request_api_version = version;
    header.correlation_id = 7;
    header.client_id = Some(StrBytes::from_static_str("paths"));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    req.encode(&mut buf, version).unwrap();
    let mut s = TcpStream::connect(&server.kafka).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&(buf.len() as i32).to_be_bytes()).unwrap();
    s.write_all(&buf).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    let mut body = Bytes::from(body);
    ResponseHeader::decode(&mut body, key.response_header_version(version)).unwrap();
    R::Response::decode(&mut body, version).unwrap()
}

/// Panics if `text` names the data directory or any absolute temp path.
fn assert_no_server_path(text: &str, data_dir: &std::path::Path) {
    let dir = data_dir.to_str().unwrap();
    assert!(
        !text.contains(dir),
        "{text:?} names the data directory {dir}"
    );
    assert!(!text.contains("/tmp/"), "{text:?} names an absolute path");
}

#[test]
fn an_io_error_names_the_file_relative_to_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    // A file where the topics' directories go: creating them fails.
    for name in ["blocked", "kblocked"] {
        std::fs::write(data.join("log").join(name), b"not a directory").unwrap();
    }
    let r = http()
        .post(server.at("/v1/topics"))
        .json(&json!({"name": "blocked", "partitions": 1}))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().unwrap();
    assert!(status >= 500, "{status} {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert_no_server_path(message, &data);
    assert!(message.contains("log/blocked"), "{message}");

    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("kblocked")))
                .with_num_partitions(1)
                .with_replication_factor(1),
        ]);
    let r = ask(&server, 5, &req);
    let t = &r.topics[0];
    assert_ne!(t.error_code, 0);
    let message = t.error_message.as_ref().unwrap().to_string();
    assert_no_server_path(&message, &data);
    assert!(message.contains("log/kblocked"), "{message}");
}

#[test]
fn a_full_disk_is_reported_without_the_servers_paths() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_on_tmpfs(&data, "4m");
    let client = http();
    let r = client
        .post(server.at("/v1/topics"))
        .json(&json!({"name": "fill", "partitions": 1}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let value = "x".repeat(64 * 1024);
    let mut refused = None;
    for _ in 0..200 {
        let r = client
            .post(server.at("/v1/topics/fill/records"))
            .json(&json!({"records": [{"value": value}]}))
            .send()
            .unwrap();
        if !r.status().is_success() {
            refused = Some((r.status().as_u16(), r.json::<Value>().unwrap()));
            break;
        }
    }
    let (status, body) = refused.expect("the 4 MiB disk never filled");
    assert_eq!(status, 507, "{body}");
    assert_no_server_path(&body.to_string(), &data);

    // Kafka's produce to the full disk.
    let batch = weir::log::batch::encode_batch(
        &[weir::log::batch::Record {
            value: Some(value.clone().into_bytes().into()),
            timestamp: 1,
            ..Default::default()
        }],
        0,
    )
    .unwrap();
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("fill")))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(Bytes::from(batch))),
                ]),
        ]);
    let r = ask(&server, 8, &req);
    let p = &r.responses[0].partition_responses[0];
    assert_ne!(p.error_code, 0);
    if let Some(message) = &p.error_message {
        assert_no_server_path(message, &data);
    }
    // What health says of the partition names no path either.
    let health: Value = client
        .get(server.at("/v1/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_no_server_path(&health.to_string(), &data);
}
