//! confluent-kafka (librdkafka) against a real `weir serve`: idempotent
//! producer, consumer groups, compressed batches, HTTP ⇄ Kafka round trips,
//! all-topics metadata, regex subscriptions and the admin view of groups; each
//! on the pinned confluent-kafka and on the newest.
mod common;

use common::{Install, Server, create_topic, http, run_client_on};
use serde_json::{Value, json};

const SCRIPT: &str = "confluent_client.py";
/// The AdminClient scenarios.
const ADMIN: &str = "confluent_admin.py";

fn http_records(server: &Server, topic: &str, partition: u32) -> Vec<Value> {
    let body: Value = http()
        .get(server.at(&format!(
            "/v1/topics/{topic}/partitions/{partition}/records?max=10000"
        )))
        .send()
        .unwrap()
        .json()
        .unwrap();
    body["records"].as_array().cloned().unwrap_or_default()
}

fn idempotent_acks_all_producer_appends_every_record_exactly_once(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "idem", 3);
    let out = run_client_on(
        install,
        "python",
        SCRIPT,
        &["idempotent", &server.kafka, "idem", "3000"],
    );
    assert_eq!(out["delivered"], 3000);
    let mut values: Vec<String> = (0..3)
        .flat_map(|p| http_records(&server, "idem", p))
        .map(|r| r["value"].as_str().unwrap().to_string())
        .collect();
    values.sort();
    values.dedup();
    assert_eq!(values.len(), 3000, "every record once, no duplicates");
}

fn group_members_split_partitions_take_over_and_resume_from_commits(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "work", 4);
    let records: Vec<Value> = (0..40)
        .map(|i| json!({"value": format!("r{i}"), "partition": i % 4}))
        .collect();
    let r = http()
        .post(server.at("/v1/topics/work/records"))
        .json(&json!({ "records": records }))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let out = run_client_on(
        install,
        "python",
        SCRIPT,
        &["group", &server.kafka, "work", "4", "workers", "40"],
    );
    let split = out["split"].as_array().unwrap();
    assert_eq!(split.len(), 2);
    assert!(
        split.iter().all(|s| !s.as_array().unwrap().is_empty()),
        "{out}"
    );
    assert_eq!(out["consumed"], 40);
    // The HTTP API shows the offsets the group committed over Kafka.
    let group: Value = http()
        .get(server.at("/v1/groups/workers"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let offsets = group["offsets"].as_array().unwrap();
    assert_eq!(offsets.len(), 4, "{group}");
    assert!(
        offsets.iter().all(|o| o["committed_offset"] == 10),
        "{group}"
    );
    // A new member resumes after the commits: it sees only the new records.
    let more: Vec<Value> = (0..4)
        .map(|i| json!({"value": format!("new{i}"), "partition": i}))
        .collect();
    http()
        .post(server.at("/v1/topics/work/records"))
        .json(&json!({ "records": more }))
        .send()
        .unwrap();
    let out = run_client_on(
        install,
        "python",
        SCRIPT,
        &[
            "resume",
            &server.kafka,
            "work",
            "workers",
            r#"["new0","new1","new2","new3"]"#,
        ],
    );
    assert_eq!(out["resumed"].as_array().unwrap().len(), 4);
}

fn records_from_kafka_read_back_over_http_with_keys_headers_timestamps(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    run_client_on(
        install,
        "python",
        SCRIPT,
        &["produce-rich", &server.kafka, "rich"],
    );
    let records = http_records(&server, "rich", 0);
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["key"], "key-0");
    assert_eq!(records[0]["value"], "value-0");
    assert_eq!(records[0]["timestamp"], 1_700_000_000_000i64);
    // HTTP shows headers as a map: of the repeated key the last value wins.
    assert_eq!(records[0]["headers"], json!({"h1": "b", "h2": null}));
    assert_eq!(records[1]["key"], Value::Null);
    assert_eq!(records[2]["value"], Value::Null);
    assert_eq!(
        records[2]["timestamp"], 1_702_592_000_000i64,
        "a delta beyond i32"
    );
    // And over Kafka every header survives, repeated keys and order included.
    let out = run_client_on(
        install,
        "python",
        SCRIPT,
        &["consume", &server.kafka, "rich", "3"],
    );
    assert_eq!(
        out["records"][0]["headers"],
        json!([["h1", "a"], ["h1", "b"], ["h2", null]])
    );
}

fn records_from_http_read_back_over_kafka_with_keys_headers_timestamps(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "fromhttp", 1);
    let r = http()
        .post(server.at("/v1/topics/fromhttp/records"))
        .json(&json!({"records": [
            {"key": "a", "value": "one", "headers": {"x": "1", "y": null}, "timestamp": 1_600_000_000_000i64},
            // Same batch, 10^11 ms later: the delta does not fit in 32 bits.
            {"value": "two", "timestamp": 1_700_000_000_000i64},
        ]}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let out = run_client_on(
        install,
        "python",
        SCRIPT,
        &["consume", &server.kafka, "fromhttp", "2"],
    );
    let recs = out["records"].as_array().unwrap();
    assert_eq!(recs[0]["key"], "a");
    assert_eq!(recs[0]["value"], "one");
    assert_eq!(recs[0]["headers"], json!([["x", "1"], ["y", null]]));
    assert_eq!(recs[0]["timestamp"], 1_600_000_000_000i64);
    assert_eq!(recs[1]["key"], Value::Null);
    assert_eq!(recs[1]["timestamp"], 1_700_000_000_000i64);
}

fn librdkafka_compressed_batches_are_stored_and_read_back_over_http(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    run_client_on(
        install,
        "python",
        SCRIPT,
        &["compressed", &server.kafka, "comp"],
    );
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let records = http_records(&server, &format!("comp-{codec}"), 0);
        let values: Vec<&str> = records
            .iter()
            .map(|r| r["value"].as_str().unwrap())
            .collect();
        let want: Vec<String> = (0..50)
            .map(|i| format!("{codec}-{i}-{}", "x".repeat(100)))
            .collect();
        assert_eq!(values, want, "{codec}");
    }
}

fn list_offsets_by_timestamp_earliest_latest_and_max_timestamp(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    // Records with timestamps 1000, 5000, 3000 at offsets 0, 1, 2.
    let out = run_client_on(
        install,
        "python",
        SCRIPT,
        &["times", &server.kafka, "clock"],
    );
    // First offset with a timestamp at or after 0, 2000, 4000 and 6000 (none: -1).
    assert_eq!(out["by_time"], json!([0, 1, 1, -1]), "{out}");
    assert_eq!(out["listed"]["earliest"], 0, "{out}");
    assert_eq!(out["listed"]["latest"], 3, "{out}");
    assert_eq!(out["listed"]["max_timestamp"], 1, "{out}");
}

fn all_topics_regex_subscription_and_group_listing(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    // Before weir read librdkafka's Metadata v12 for all topics, list_topics()
    // failed: "3 bytes after the body" closed the connection.
    let out = run_client_on(
        install,
        "python",
        SCRIPT,
        &["discover", &server.kafka, "disc", "disc-group", "10"],
    );
    common::assert_discovered(
        &out,
        &["topics", "producer_topics"],
        "disc",
        "disc-group",
        10,
    );
}

fn delete_consumer_groups_refuses_live_groups_and_forgets_committed_offsets(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "gone", 1);
    let base = server.at("");
    let out = run_client_on(
        install,
        "python",
        ADMIN,
        &[
            "delete-groups",
            &server.kafka,
            base.trim_end_matches('/'),
            "gone",
            "doomed",
        ],
    );
    assert_eq!(out["with_member"], out["codes"]["non_empty"], "{out}");
    assert_eq!(out["http_with_member"], 409, "{out}");
    assert_eq!(out["unknown"], out["codes"]["not_found"], "{out}");
    assert_eq!(out["deleted"], Value::Null, "{out}");
    // No committed offset: librdkafka's OFFSET_INVALID.
    assert_eq!(out["offsets_after"], json!([-1001]), "{out}");
    let status = http()
        .get(server.at("/v1/groups/doomed"))
        .send()
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 404);
}

fn describe_cluster_and_the_broker_configs(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "plain", 1);
    let out = run_client_on(install, "python", ADMIN, &["cluster", &server.kafka]);
    assert_eq!(out["cluster_id"], "weir", "{out}");
    assert_eq!(out["controller"], 0, "{out}");
    let port: u16 = server.kafka.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(out["nodes"], json!([[0, "127.0.0.1", port]]), "{out}");
    let configs = &out["configs"];
    assert_eq!(
        configs["listeners"],
        format!("PLAINTEXT://{}", server.kafka),
        "{out}"
    );
    assert_eq!(configs["broker.id"], "0", "{out}");
    assert_eq!(configs["auto.create.topics.enable"], "true", "{out}");
    assert_eq!(configs["default.replication.factor"], "1", "{out}");
    // The broker's log.* defaults are what a topic that sets nothing gets.
    let topic: Value = http()
        .get(server.at("/v1/topics/plain"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    for (broker_name, topic_name) in [
        ("log.retention.ms", "retention.ms"),
        ("log.segment.bytes", "segment.bytes"),
        ("message.max.bytes", "max.message.bytes"),
    ] {
        assert_eq!(
            configs[broker_name].as_str().unwrap(),
            topic["config"][topic_name].to_string().trim_matches('"'),
            "{broker_name}: {out}"
        );
    }
    assert_eq!(out["sources"], json!(["STATIC_BROKER_CONFIG"]), "{out}");
    assert_eq!(out["read_only"], true, "{out}");
}

fn delete_records_moves_the_log_start_and_refuses_past_the_end(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "trimmed", 1);
    let out = run_client_on(
        install,
        "python",
        ADMIN,
        &["delete-records", &server.kafka, "trimmed"],
    );
    assert_eq!(out["low_watermark"], 4, "{out}");
    assert_eq!(out["beyond"], out["codes"]["out_of_range"], "{out}");
    assert_eq!(out["first"], json!([4, "v4"]), "{out}");
    assert_eq!(out["watermarks"], json!([4, 10]), "{out}");
    let records = http_records(&server, "trimmed", 0);
    assert_eq!(records[0]["offset"], 4);
}

fn incremental_and_legacy_alter_configs_with_validate_only(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "tuned", 1);
    let out = run_client_on(
        install,
        "python",
        ADMIN,
        &["alter-configs", &server.kafka, "tuned"],
    );
    let initial = &out["initial"];
    assert_eq!(out["set"], Value::Null, "{out}");
    assert_eq!(out["after_set"]["retention.ms"], "3600000", "{out}");
    assert_eq!(out["validate_only"], Value::Null, "{out}");
    assert_eq!(
        out["after_validate_only"], out["after_set"],
        "validated only: {out}"
    );
    let invalid = &out["codes"]["invalid_config"];
    assert_eq!(&out["unknown_key"], invalid, "{out}");
    assert_eq!(&out["invalid_value"], invalid, "{out}");
    assert_eq!(out["delete"], Value::Null, "{out}");
    assert_eq!(&out["after_delete"], initial, "back to the default: {out}");
    assert_eq!(out["alter"], Value::Null, "{out}");
    // AlterConfigs replaces the overrides: retention.ms, left out, is reset.
    assert_eq!(out["after_alter"]["segment.bytes"], "2000000", "{out}");
    assert_eq!(
        out["after_alter"]["retention.ms"], initial["retention.ms"],
        "{out}"
    );
    assert_eq!(out["unknown_topic"], out["codes"]["unknown_topic"], "{out}");
    // The HTTP face sees the same overrides.
    let topic: Value = http()
        .get(server.at("/v1/topics/tuned"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        topic["overrides"],
        json!({"segment.bytes": "2000000"}),
        "{topic}"
    );
}

fn create_topics_accepts_every_topic_config_kafka_knows(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    // Every topic config of Kafka's TopicConfig, each with a valid value
    // other than its default.
    let configs = json!({
        "cleanup.policy": "delete",
        "compression.type": "zstd",
        "compression.gzip.level": "5",
        "compression.lz4.level": "10",
        "compression.zstd.level": "7",
        "delete.retention.ms": "3600000",
        "file.delete.delay.ms": "1000",
        "flush.messages": "1000",
        "flush.ms": "1000",
        "follower.replication.throttled.replicas": "*",
        "index.interval.bytes": "8192",
        "leader.replication.throttled.replicas": "0:0",
        "local.retention.bytes": "1000000",
        "local.retention.ms": "60000",
        "max.compaction.lag.ms": "86400000",
        "max.message.bytes": "2000000",
        "message.downconversion.enable": "false",
        "message.format.version": "3.0-IV1",
        "message.timestamp.after.max.ms": "60000",
        "message.timestamp.before.max.ms": "60000",
        "message.timestamp.difference.max.ms": "60000",
        "message.timestamp.type": "LogAppendTime",
        "min.cleanable.dirty.ratio": "0.25",
        "min.compaction.lag.ms": "1000",
        "min.insync.replicas": "2",
        "preallocate": "true",
        "remote.storage.enable": "false",
        "retention.bytes": "100000000",
        "retention.ms": "3600000",
        "segment.bytes": "10000000",
        "segment.index.bytes": "1000000",
        "segment.jitter.ms": "10",
        "segment.ms": "3600000",
        "unclean.leader.election.enable": "true",
    });
    let out = run_client_on(
        install,
        "python",
        ADMIN,
        &[
            "create-configs",
            &server.kafka,
            "configured",
            &configs.to_string(),
        ],
    );
    assert_eq!(out["created"], Value::Null, "{out}");
    let mut names: Vec<&str> = Vec::new();
    for (name, value) in configs.as_object().unwrap() {
        assert_eq!(&out["described"][name], value, "{name}: {out}");
        names.push(name);
    }
    assert_eq!(out["overridden"], json!(names), "{out}");
    let invalid = &out["invalid_config"];
    assert_eq!(&out["invalid"][0], invalid, "{out}");
    let why = out["invalid"][1].as_str().unwrap();
    assert!(why.contains("min.insync.replicas"), "{why}");
    assert_eq!(&out["unknown"][0], invalid, "{out}");
    let why = out["unknown"][1].as_str().unwrap();
    assert!(why.contains("no.such.config"), "{why}");
}

crate::on_both_installs!(
    idempotent_acks_all_producer_appends_every_record_exactly_once,
    group_members_split_partitions_take_over_and_resume_from_commits,
    records_from_kafka_read_back_over_http_with_keys_headers_timestamps,
    records_from_http_read_back_over_kafka_with_keys_headers_timestamps,
    librdkafka_compressed_batches_are_stored_and_read_back_over_http,
    list_offsets_by_timestamp_earliest_latest_and_max_timestamp,
    all_topics_regex_subscription_and_group_listing,
    delete_consumer_groups_refuses_live_groups_and_forgets_committed_offsets,
    describe_cluster_and_the_broker_configs,
    delete_records_moves_the_log_start_and_refuses_past_the_end,
    incremental_and_legacy_alter_configs_with_validate_only,
    create_topics_accepts_every_topic_config_kafka_knows,
);
