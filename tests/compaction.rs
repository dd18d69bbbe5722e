//! Log compaction end to end: a compacted topic read from offset 0 by HTTP, kcat
//! and confluent-kafka (latest value per key, offsets with gaps, the high
//! watermark unchanged), keyless records refused, and a SIGKILL at each step of a
//! cleaned segment's swap losing nothing.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{
    Install, Server, http, kcat, run_client, run_client_on, serve_args, wait_until, weir_bin,
};
use serde_json::{Value, json};

const TOPIC: &str = "table";

/// (offset, key, value); a `None` value is a tombstone.
type Row = (i64, String, Option<String>);

/// A config that checks for compaction every 50 ms instead of 15 s.
fn config(dir: &Path) -> String {
    let path = dir.join("weir-test.toml");
    std::fs::write(&path, "[log]\ncleaner_check_interval_ms = 50\n").unwrap();
    path.to_str().unwrap().to_string()
}

fn start(dir: &Path, pause_at: Option<&str>) -> Server {
    let config = config(dir);
    let mut cmd = Command::new(weir_bin());
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(serve_args())
        .args(["--config", &config]);
    if let Some(point) = pause_at {
        cmd.env("WEIR_TEST_CLEANER_PAUSE", point);
    }
    Server::spawn(cmd, &dir.join("data"))
}

fn create(server: &Server, config: Value) {
    let resp = http()
        .post(server.at("/v1/topics"))
        .json(&json!({"name": TOPIC, "partitions": 1, "config": config}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201, "{}", resp.text().unwrap());
}

fn alter(server: &Server, config: Value) -> Value {
    let resp = http()
        .patch(server.at(&format!("/v1/topics/{TOPIC}/config")))
        .json(&json!({ "config": config }))
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().unwrap());
    resp.json().unwrap()
}

/// Produces one batch (one HTTP request) of keyed records.
fn produce(server: &Server, records: &[(String, Option<String>)]) {
    let records: Vec<Value> = records
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v, "partition": 0}))
        .collect();
    let resp = http()
        .post(server.at(&format!("/v1/topics/{TOPIC}/records")))
        .json(&json!({ "records": records }))
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().unwrap());
}

/// A keyed workload with updates and tombstones, then records of fresh keys so that
/// the workload lies in sealed segments. Returns every record produced, in order.
fn workload(server: &Server) -> Vec<Row> {
    let mut all = Vec::new();
    // Keys drawn by a fixed pseudo-random sequence, so that their last updates are
    // spread over the log (and compaction leaves gaps between them).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..40 {
        let batch: Vec<(String, Option<String>)> = (0..5)
            .map(|j| {
                let n = round * 5 + j;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let value = (n % 7 != 3).then(|| format!("v{n}-{}", "x".repeat(n % 40)));
                (format!("k{}", x % 15), value)
            })
            .collect();
        produce(server, &batch);
        all.extend(batch);
    }
    for i in 0..30 {
        let batch = vec![(
            format!("f{i}"),
            Some(format!("filler {i} {}", "y".repeat(40))),
        )];
        produce(server, &batch);
        all.extend(batch);
    }
    all.into_iter()
        .enumerate()
        .map(|(o, (k, v))| (o as i64, k, v))
        .collect()
}

/// Kafka's promise once everything before the active segment is compacted (and
/// tombstones are younger than delete.retention.ms): the last record of every key.
fn latest_per_key(all: &[Row]) -> Vec<Row> {
    let mut last: HashMap<&str, i64> = HashMap::new();
    for (o, k, _) in all {
        last.insert(k, *o);
    }
    all.iter()
        .filter(|(o, k, _)| last[k.as_str()] == *o)
        .cloned()
        .collect()
}

/// Everything the HTTP API reads from offset 0, and the high watermark.
fn read_http(server: &Server) -> (Vec<Row>, i64) {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let body: Value = http()
            .get(server.at(&format!(
                "/v1/topics/{TOPIC}/partitions/0/records?offset={offset}&max=10000"
            )))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let records = body["records"].as_array().unwrap();
        let high_watermark = body["high_watermark"].as_i64().unwrap();
        for r in records {
            out.push((
                r["offset"].as_i64().unwrap(),
                r["key"].as_str().unwrap().to_string(),
                r["value"].as_str().map(str::to_string),
            ));
        }
        offset = body["next_offset"].as_i64().unwrap();
        if records.is_empty() || offset >= high_watermark {
            return (out, high_watermark);
        }
    }
}

fn read_kcat(server: &Server) -> Vec<Row> {
    let out = kcat(
        &[
            "-C",
            "-b",
            &server.kafka,
            "-t",
            TOPIC,
            "-p",
            "0",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%o\t%k\t%S\t%s\n",
        ],
        b"",
    );
    out.lines()
        .map(|line| {
            let f: Vec<&str> = line.splitn(4, '\t').collect();
            let value = (f[2] != "-1").then(|| f[3].to_string());
            (f[0].parse().unwrap(), f[1].to_string(), value)
        })
        .collect()
}

fn read_confluent(server: &Server, install: Install, count: usize) -> Vec<Row> {
    let out = run_client_on(
        install,
        "python",
        "confluent_client.py",
        &["consume", &server.kafka, TOPIC, &count.to_string()],
    );
    out["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["offset"].as_i64().unwrap(),
                r["key"].as_str().unwrap().to_string(),
                r["value"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// Waits (≤ 60 s) until the background cleaner has compacted the workload.
fn wait_compacted(server: &Server, expected: &[Row]) {
    let compacted = wait_until(Duration::from_secs(60), || read_http(server).0 == expected);
    assert!(
        compacted,
        "not compacted as expected; HTTP reads {:?}",
        read_http(server).0
    );
}

#[test]
fn a_compacted_topic_reads_from_offset_zero_with_gaps_in_every_client() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None);
    create(
        &server,
        json!({"cleanup.policy": "compact", "segment.bytes": 1024, "min.cleanable.dirty.ratio": 0.01}),
    );
    let all = workload(&server);
    let expected = latest_per_key(&all);
    assert!(expected.len() < all.len() / 2);
    wait_compacted(&server, &expected);
    let (_, high_watermark) = read_http(&server);
    assert_eq!(high_watermark, all.len() as i64, "the high watermark stays");
    let gaps = expected.windows(2).filter(|w| w[1].0 > w[0].0 + 1).count();
    assert!(gaps > 0, "compaction leaves offset gaps");
    assert!(expected.iter().any(|r| r.2.is_none()), "tombstones stay");
    assert_eq!(read_kcat(&server), expected, "kcat from offset 0");
    for install in [Install::Pinned, Install::Newest] {
        let read = read_confluent(&server, install, expected.len());
        assert_eq!(
            read, expected,
            "confluent-kafka ({install:?}) from offset 0"
        );
    }
    // Restarted, the compacted log reads the same.
    server.kill();
    let server = start(dir.path(), None);
    assert_eq!(read_http(&server), (expected, all.len() as i64));
}

#[test]
fn compressed_batches_are_compacted_and_stay_readable() {
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path(), None);
        create(
            &server,
            json!({"cleanup.policy": "compact", "segment.bytes": 1024, "min.cleanable.dirty.ratio": 0.01}),
        );
        // kcat packs the lines into a few large compressed batches.
        let lines: Vec<(String, Option<String>)> = (0..300)
            .map(|i| (format!("k{}", (i * 7) % 13), Some(format!("{codec}-{i}"))))
            .collect();
        let input: String = lines
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.as_deref().unwrap_or_default()))
            .collect();
        kcat(
            &[
                "-P",
                "-b",
                &server.kafka,
                "-t",
                TOPIC,
                "-p",
                "0",
                "-K",
                ":",
                "-z",
                codec,
            ],
            input.as_bytes(),
        );
        let mut all = lines;
        for i in 0..30 {
            let batch = vec![(
                format!("f{i}"),
                Some(format!("filler {i} {}", "y".repeat(40))),
            )];
            produce(&server, &batch);
            all.extend(batch);
        }
        let all: Vec<Row> = all
            .into_iter()
            .enumerate()
            .map(|(o, (k, v))| (o as i64, k, v))
            .collect();
        let expected = latest_per_key(&all);
        wait_compacted(&server, &expected);
        assert_eq!(read_kcat(&server), expected, "{codec}: kcat");
        let read = read_confluent(&server, Install::Pinned, expected.len());
        assert_eq!(read, expected, "{codec}: confluent-kafka");
    }
}

/// An aborted transaction's records are dropped by the cleaner and never count as
/// their keys' latest values: the committed values they would have shadowed stay.
#[test]
fn aborted_transactions_never_shadow_committed_values() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None);
    create(
        &server,
        json!({"cleanup.policy": "compact", "segment.bytes": 1024, "min.cleanable.dirty.ratio": 0.01}),
    );
    run_client(
        "python",
        "confluent_txn.py",
        &["committed_then_aborted", &server.kafka, TOPIC, "10"],
    );
    // Updates of one key (what shows that a pass ran), then fresh keys that push
    // everything before them into sealed segments.
    let mut later: Vec<(String, Option<String>)> = (0..20)
        .map(|i| ("p".to_string(), Some(format!("p{i}"))))
        .collect();
    later.extend((0..30).map(|i| {
        (
            format!("f{i}"),
            Some(format!("filler {i} {}", "y".repeat(40))),
        )
    }));
    for record in &later {
        produce(&server, std::slice::from_ref(record));
    }
    let mut expected: Vec<(String, Option<String>)> = (0..10)
        .map(|i| (format!("k{i}"), Some(format!("committed-{i}"))))
        .collect();
    expected.push(("p".into(), Some("p19".into())));
    expected.extend(later.into_iter().skip(20));
    let key_values = |rows: Vec<Row>| -> Vec<(String, Option<String>)> {
        rows.into_iter().map(|(_, k, v)| (k, v)).collect()
    };
    let compacted = wait_until(Duration::from_secs(60), || {
        key_values(read_http(&server).0) == expected
    });
    assert!(
        compacted,
        "expected the committed values and the last p; HTTP reads {:?}",
        read_http(&server).0
    );
    // What read_committed clients see, the same.
    let out = run_client(
        "python",
        "confluent_txn.py",
        &["outputs", &server.kafka, TOPIC],
    );
    let values: Vec<&str> = out["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let want: Vec<&str> = expected
        .iter()
        .map(|(_, v)| v.as_deref().unwrap())
        .collect();
    assert_eq!(values, want, "a read_committed consumer after compaction");
}

#[test]
fn a_compacted_topic_refuses_records_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None);
    create(&server, json!({"cleanup.policy": "compact,delete"}));
    let out = run_client(
        "python",
        "confluent_client.py",
        &["keyless", &server.kafka, TOPIC],
    );
    assert_eq!(out["error"], "INVALID_RECORD", "{out}");
    let resp = http()
        .post(server.at(&format!("/v1/topics/{TOPIC}/records")))
        .json(&json!({"records": [{"value": "no key"}]}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().unwrap();
    assert_eq!(body["error"]["code"], "keyless_record", "{body}");
    assert_eq!(read_http(&server).1, 0);
}

#[test]
fn compaction_configs_round_trip_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None);
    create(&server, json!({"cleanup.policy": "delete"}));
    let body = alter(
        &server,
        json!({
            "cleanup.policy": "compact,delete",
            "delete.retention.ms": 60000,
            "min.cleanable.dirty.ratio": "0.25",
            "min.compaction.lag.ms": 5,
            "max.compaction.lag.ms": 3600000,
        }),
    );
    let config = &body["config"];
    assert_eq!(config["cleanup.policy"], "compact,delete", "{body}");
    assert_eq!(config["delete.retention.ms"], 60000, "{body}");
    assert_eq!(config["min.cleanable.dirty.ratio"], 0.25, "{body}");
    assert_eq!(config["min.compaction.lag.ms"], 5, "{body}");
    assert_eq!(config["max.compaction.lag.ms"], 3600000, "{body}");
    let resp = http()
        .patch(server.at(&format!("/v1/topics/{TOPIC}/config")))
        .json(&json!({"config": {"min.cleanable.dirty.ratio": 2}}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[test]
fn compaction_configs_round_trip_over_the_kafka_admin_apis() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None);
    let out = run_client(
        "python",
        "confluent_admin.py",
        &["compaction-configs", &server.kafka, TOPIC],
    );
    let created = &out["created"];
    assert_eq!(created["cleanup.policy"], "compact", "{out}");
    assert_eq!(created["min.compaction.lag.ms"], "1000", "{out}");
    assert_eq!(
        created["delete.retention.ms"], "86400000",
        "Kafka's default: {out}"
    );
    assert_eq!(created["min.cleanable.dirty.ratio"], "0.5", "{out}");
    assert_eq!(out["append"], Value::Null, "{out}");
    assert_eq!(
        out["after_append"]["cleanup.policy"], "compact,delete",
        "{out}"
    );
    assert_eq!(out["subtract"], Value::Null, "{out}");
    assert_eq!(out["after_subtract"]["cleanup.policy"], "delete", "{out}");
    assert_eq!(out["set"], Value::Null, "{out}");
    let set = &out["after_set"];
    assert_eq!(set["cleanup.policy"], "compact", "{out}");
    assert_eq!(set["delete.retention.ms"], "60000", "{out}");
    assert_eq!(set["min.cleanable.dirty.ratio"], "0.2", "{out}");
    assert_eq!(set["max.compaction.lag.ms"], "3600000", "{out}");
    assert_eq!(out["bad_ratio"], out["codes"]["invalid_config"], "{out}");
}

/// SIGKILL while the cleaner is stopped after writing `<base>.<end>.cleaned`, after
/// committing it as `.swap`, and after renaming it over the old segment: after a
/// restart every key's last record is there, the high watermark is unchanged, and
/// compaction completes.
#[test]
fn sigkill_at_each_step_of_a_swap_loses_nothing() {
    for point in ["cleaned", "committed", "installed"] {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path(), Some(point));
        // Produced before compaction is switched on, so that no append waits on the
        // paused cleaner (it pauses holding the partition lock at the later points).
        create(
            &server,
            json!({"cleanup.policy": "delete", "segment.bytes": 1024}),
        );
        let all = workload(&server);
        let expected = latest_per_key(&all);
        alter(
            &server,
            json!({"cleanup.policy": "compact", "min.cleanable.dirty.ratio": 0.01}),
        );
        let line = format!("weir: cleaner paused after {point}");
        assert!(
            wait_until(Duration::from_secs(60), || server.printed(&line)),
            "the cleaner never reached {point}"
        );
        server.kill();
        let server = start(dir.path(), None);
        let (rows, high_watermark) = read_http(&server);
        assert_eq!(high_watermark, all.len() as i64, "{point}");
        let missing: Vec<&Row> = expected.iter().filter(|r| !rows.contains(r)).collect();
        assert!(missing.is_empty(), "{point}: lost {missing:?}");
        assert!(
            rows.iter().all(|r| all.contains(r)),
            "{point}: records changed"
        );
        wait_compacted(&server, &expected);
    }
}
