//! kcat (Debian's kcat 1.7.1 on librdkafka 2.0.2) against a real `weir serve`:
//! produce a file, consume it back (also with fetch limits below one record),
//! list metadata; HTTP sees the same records.
mod common;

use common::{Server, http, kcat};
use serde_json::Value;

#[test]
fn kcat_produces_a_file_and_consumes_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let lines: Vec<String> = (0..500).map(|i| format!("line {i} of a file")).collect();
    let file = dir.path().join("input.txt");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let file = file.to_str().unwrap();
    // -l: one message per line of the file; the topic is auto-created.
    kcat(&["-P", "-b", &server.kafka, "-t", "lines", "-l", file], b"");
    let out = kcat(
        &[
            "-C",
            "-b",
            &server.kafka,
            "-t",
            "lines",
            "-o",
            "beginning",
            "-e",
            "-q",
        ],
        b"",
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), lines);
}

#[test]
fn kcat_reads_large_records_with_fetch_limits_below_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let lines: Vec<String> = (0..20)
        .map(|i| format!("{i:06}{}", "x".repeat(20_000)))
        .collect();
    let file = dir.path().join("large.txt");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let file = file.to_str().unwrap();
    // Three partitions: a response with a batch of each would not fit.
    let r = http()
        .post(server.at("/v1/topics"))
        .json(&serde_json::json!({"name": "large", "partitions": 3}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    // One record per batch, so one batch fits the consumer's response limit; no
    // sticky partitioning (librdkafka would put a quick burst on one partition), so
    // keyless records land on random partitions.
    let one = "batch.num.messages=1";
    kcat(
        &[
            "-P",
            "-b",
            &server.kafka,
            "-t",
            "large",
            "-X",
            one,
            "-X",
            "sticky.partitioning.linger.ms=0",
            "-l",
            file,
        ],
        b"",
    );
    let topic: Value = http()
        .get(server.at("/v1/topics/large"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let filled = topic["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["high_watermark"].as_i64() > Some(0))
        .count();
    assert!(filled >= 2, "records spread over partitions: {topic}");
    // The response may hold one batch, not one per partition: librdkafka
    // refuses a response over receive.message.max.bytes.
    let out = kcat(
        &[
            "-C",
            "-b",
            &server.kafka,
            "-t",
            "large",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-X",
            "fetch.max.bytes=1024",
            "-X",
            "message.max.bytes=1000",
            "-X",
            "max.partition.fetch.bytes=1024",
            "-X",
            "receive.message.max.bytes=40000",
        ],
        b"",
    );
    let mut got: Vec<&str> = out.lines().collect();
    got.sort_unstable();
    assert_eq!(got, lines);
}

#[test]
fn kcat_keys_and_headers_reach_http_consumers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    kcat(
        &[
            "-P",
            "-b",
            &server.kafka,
            "-t",
            "keyed",
            "-K",
            ":",
            "-H",
            "trace=abc",
        ],
        b"user-1:hello\nuser-2:world\n",
    );
    let body: Value = http()
        .get(server.at("/v1/topics/keyed/partitions/0/records"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let records = body["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{body}");
    assert_eq!(records[0]["key"], "user-1");
    assert_eq!(records[0]["value"], "hello");
    assert_eq!(records[1]["headers"]["trace"], "abc");
}

#[test]
fn kcat_metadata_lists_the_broker_at_its_real_port_and_every_topic() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let created = http()
        .post(server.at("/v1/topics"))
        .json(&serde_json::json!({"name": "three", "partitions": 3}))
        .send()
        .unwrap();
    assert!(created.status().is_success());
    let out = kcat(&["-L", "-b", &server.kafka], b"");
    assert!(
        out.contains(&format!("broker 0 at {}", server.kafka)),
        "{out}"
    );
    assert!(out.contains("topic \"three\" with 3 partitions"), "{out}");
    for p in 0..3 {
        assert!(out.contains(&format!("partition {p}, leader 0")), "{out}");
    }
}

#[test]
fn the_advertised_host_is_used_with_the_bound_port_when_it_says_port_0() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(&config, "[kafka]\nadvertised_addr = \"localhost:0\"\n").unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let port = server.kafka.rsplit(':').next().unwrap();
    let out = kcat(&["-L", "-b", &server.kafka], b"");
    assert!(
        out.contains(&format!("broker 0 at localhost:{port}")),
        "{out}"
    );
}

#[test]
fn kcat_balanced_consumer_joins_a_group_and_its_commits_show_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let input: String = (0..10).map(|i| format!("m{i}\n")).collect();
    kcat(
        &["-P", "-b", &server.kafka, "-t", "grouped"],
        input.as_bytes(),
    );
    // -G: librdkafka's group consumer (FindCoordinator, JoinGroup, SyncGroup,
    // Heartbeat, OffsetCommit, LeaveGroup); offsets are committed on close.
    let out = kcat(
        &[
            "-b",
            &server.kafka,
            "-G",
            "kcat-group",
            "grouped",
            "-e",
            "-q",
            "-X",
            "auto.offset.reset=earliest",
        ],
        b"",
    );
    assert_eq!(out.lines().count(), 10, "{out}");
    let group: Value = http()
        .get(server.at("/v1/groups/kcat-group"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(group["offsets"][0]["committed_offset"], 10, "{group}");
}

#[test]
fn kcat_balanced_consumer_subscribes_by_regex_to_every_matching_topic() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    for topic in ["rx-a", "rx-b", "other-rx"] {
        let input: String = (0..5).map(|i| format!("{topic}-{i}\n")).collect();
        kcat(&["-P", "-b", &server.kafka, "-t", topic], input.as_bytes());
    }
    // A topic starting with ^ is a regex: librdkafka asks for all topics'
    // metadata and subscribes to the matching ones.
    let out = kcat(
        &[
            "-b",
            &server.kafka,
            "-G",
            "rx-group",
            "^rx-.*",
            "-e",
            "-q",
            "-X",
            "auto.offset.reset=earliest",
        ],
        b"",
    );
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    let mut want: Vec<String> = ["rx-a", "rx-b"]
        .iter()
        .flat_map(|t| (0..5).map(move |i| format!("{t}-{i}")))
        .collect();
    want.sort();
    assert_eq!(lines, want);
}
