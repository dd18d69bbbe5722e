//! kafka-python against a real `weir serve`: produce, consume in a group,
//! commit, resume, and every codec (snappy in xerial framing) read over HTTP.
mod common;

use common::{Server, http, run_client};
use serde_json::Value;

#[test]
fn kafka_python_produces_consumes_commits_and_compresses() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = run_client(
        "python",
        "kafka_python_client.py",
        &[&server.kafka, "kp", "kpgroup"],
    );
    assert_eq!(out["committed"], 20);
    let group: Value = http()
        .get(server.at("/v1/groups/kpgroup"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(group["offsets"][0]["committed_offset"], 23, "{group}");
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let body: Value = http()
            .get(server.at(&format!("/v1/topics/kp-{codec}/partitions/0/records")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let values: Vec<&str> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["value"].as_str().unwrap())
            .collect();
        let want: Vec<String> = (0..10).map(|i| format!("{codec}-{i}")).collect();
        assert_eq!(values, want, "{codec}: {body}");
    }
}
