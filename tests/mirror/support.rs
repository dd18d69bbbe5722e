//! Helpers of the mirror tests: two `weir serve` clusters, records in and out over the HTTP
//! API, mirror connectors created through the Connect REST API, and MirrorMaker 2's own
//! classes (tests/clients/mirror, built by scripts/setup) as the oracle of the byte layouts.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Server, http, repo_root, wait_until};

/// Produces `(partition, key, value)` records to `topic`.
pub fn produce(s: &Server, topic: &str, records: &[(i64, String, String)]) {
    let records: Vec<Value> = records
        .iter()
        .map(|(p, k, v)| json!({"partition": p, "key": k, "value": v, "headers": {"h": "x"}}))
        .collect();
    for chunk in records.chunks(500) {
        let r = http()
            .post(s.at(&format!("/v1/topics/{topic}/records")))
            .json(&json!({ "records": chunk }))
            .send()
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "producing to {topic}: {}",
            r.text().unwrap()
        );
    }
}

/// Every record of a partition: `(offset, key, value, headers)`.
pub fn read(s: &Server, topic: &str, partition: i32) -> Vec<(i64, String, String, Value)> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let r = http()
            .get(s.at(&format!(
                "/v1/topics/{topic}/partitions/{partition}/records?offset={offset}&max=10000"
            )))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "reading {topic}-{partition}");
        let v: Value = r.json().unwrap();
        let records = v["records"].as_array().cloned().unwrap_or_default();
        if records.is_empty() {
            return out;
        }
        for rec in records {
            offset = rec["offset"].as_i64().unwrap() + 1;
            out.push((
                rec["offset"].as_i64().unwrap(),
                rec["key"].as_str().unwrap_or("").to_string(),
                rec["value"].as_str().unwrap_or("").to_string(),
                rec["headers"].clone(),
            ));
        }
    }
}

/// A topic's description (`GET /v1/topics/{topic}`), `None` if it does not exist.
pub fn topic(s: &Server, name: &str) -> Option<Value> {
    let r = http()
        .get(s.at(&format!("/v1/topics/{name}")))
        .send()
        .unwrap();
    (r.status() == 200).then(|| r.json().unwrap())
}

/// The names of a server's topics.
pub fn topics(s: &Server) -> Vec<String> {
    let v: Value = http()
        .get(s.at("/v1/topics"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

/// The records a topic holds, summed over partitions (0 if it does not exist).
pub fn count(s: &Server, name: &str) -> i64 {
    topic(s, name).map_or(0, |t| {
        t["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["high_watermark"].as_i64().unwrap())
            .sum()
    })
}

/// Waits until `name` on `s` holds `n` records.
pub fn wait_count(s: &Server, name: &str, n: i64) {
    assert!(
        wait_until(Duration::from_secs(60), || count(s, name) >= n),
        "{name} holds {} records, not {n}",
        count(s, name)
    );
}

/// Commits `group`'s offsets over HTTP (a consumer that read this far).
pub fn commit(s: &Server, group: &str, offsets: &[(&str, i32, i64)]) {
    let offsets: Vec<Value> = offsets
        .iter()
        .map(|(t, p, o)| json!({"topic": t, "partition": p, "offset": o}))
        .collect();
    let r = http()
        .post(s.at(&format!("/v1/groups/{group}/offsets")))
        .json(&json!({ "offsets": offsets }))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "commit: {}", r.text().unwrap());
}

/// `group`'s committed offsets on `s`: `(topic, partition) → offset`.
pub fn committed(s: &Server, group: &str) -> BTreeMap<(String, i64), i64> {
    let r = http()
        .get(s.at(&format!("/v1/groups/{group}")))
        .send()
        .unwrap();
    if r.status() != 200 {
        return BTreeMap::new();
    }
    let v: Value = r.json().unwrap();
    v["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                (
                    o["topic"].as_str().unwrap().to_string(),
                    o["partition"].as_i64().unwrap(),
                ),
                o["committed_offset"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The config of a mirror connector `class` for flow `source -> target`, plus `extra`.
pub fn flow(
    class: &str,
    (src_alias, src): (&str, &Server),
    (tgt_alias, tgt): (&str, &Server),
    extra: &[(&str, &str)],
) -> Value {
    let mut c = json!({
        "connector.class": format!("org.apache.kafka.connect.mirror.{class}"),
        "source.cluster.alias": src_alias,
        "target.cluster.alias": tgt_alias,
        "source.cluster.bootstrap.servers": src.kafka,
        "target.cluster.bootstrap.servers": tgt.kafka,
        "refresh.topics.interval.seconds": "1",
        "sync.topic.configs.interval.seconds": "1",
        "emit.checkpoints.interval.seconds": "1",
        "sync.group.offsets.interval.seconds": "1",
    });
    for (k, v) in extra {
        c[*k] = json!(v);
    }
    c
}

/// Creates connector `name` on `s` (Connect's REST API on the HTTP listener); answers the
/// status code and body.
pub fn create(s: &Server, name: &str, config: Value) -> (u16, Value) {
    let r = http()
        .post(s.at("/connectors"))
        .json(&json!({"name": name, "config": config}))
        .send()
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json().unwrap_or(Value::Null))
}

/// A connector's status on `s`.
pub fn status(s: &Server, name: &str) -> Value {
    http()
        .get(s.at(&format!("/connectors/{name}/status")))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// Runs the MM2 checker (tests/clients/mirror's Mm2Check) and returns its lines, each split
/// on tabs; fails the test if it fails (a record MM2 cannot decode).
pub fn mm2(args: &[&str]) -> Vec<Vec<String>> {
    let built = repo_root().join("tests/clients/mirror/target");
    let jar = built.join("weir-mm2-check.jar");
    assert!(
        jar.exists(),
        "{} is missing: run scripts/setup to build MirrorMaker 2's checker",
        jar.display()
    );
    let out = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{}/lib/*", jar.display(), built.display()))
        .arg("weir.Mm2Check")
        .args(args)
        .output()
        .expect("run java");
    assert!(
        out.status.success(),
        "Mm2Check {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}
