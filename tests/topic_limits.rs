//! Caps on topics and partitions, and topic creation that does not stall the broker.

mod common;

use std::time::Duration;

use common::pipeline::{call, create_topic, produce};
use common::{Server, wait_until};
use serde_json::json;

fn create(s: &Server, name: &str, partitions: u32) -> (u16, serde_json::Value) {
    call(
        s,
        "POST",
        "/v1/topics",
        Some(json!({"name": name, "partitions": partitions})),
    )
}

#[test]
fn creates_over_the_topic_and_partition_caps_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        "[topics]\nmax_topics = 3\nmax_partitions_per_topic = 8\nmax_partitions = 10\n",
    )
    .unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    assert_eq!(create(&s, "a", 4).0, 201);
    assert_eq!(create(&s, "b", 4).0, 201);

    let (status, body) = create(&s, "c", 9);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("topics.max_partitions_per_topic")
    );

    let (status, body) = create(&s, "c", 8);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "limit_reached");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("topics.max_partitions"),
        "{body}"
    );

    let (status, body) = call(
        &s,
        "POST",
        "/v1/topics/a/partitions",
        Some(json!({"count": 7})),
    );
    assert_eq!(status, 422, "8 partitions and 3 more: {body}");

    assert_eq!(create(&s, "c", 2).0, 201);
    let (status, body) = create(&s, "d", 1);
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("topics.max_topics"),
        "{body}"
    );

    // Nothing of the refused creates was left behind.
    let (_, topics) = call(&s, "GET", "/v1/topics", None);
    assert_eq!(topics["topics"].as_array().unwrap().len(), 3, "{topics}");
    assert!(!dir.path().join("data/log/d").exists());
}

#[test]
fn producing_to_one_topic_goes_on_while_a_huge_one_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "small", 1);
    let url = s.url.clone();
    let big = std::thread::spawn(move || {
        let r = common::http()
            .post(format!("{url}/v1/topics"))
            .json(&json!({"name": "big", "partitions": 3000}))
            .send()
            .unwrap();
        r.status().as_u16()
    });
    // The create is under way once its directory exists.
    assert!(wait_until(Duration::from_secs(60), || dir
        .path()
        .join("log/big/0")
        .exists()));
    let mut during = 0;
    for i in 0..20 {
        produce(&s, "small", vec![json!({"value": format!("v{i}")})]);
        if !big.is_finished() {
            during += 1;
        }
    }
    assert!(
        during > 0,
        "every produce waited for the 3000-partition create to finish"
    );
    assert_eq!(big.join().unwrap(), 201);
}
