//! Dead letters with their headers, skip counts, and a failing record stopping a task.

use std::time::Duration;

use crate::common::guests::guest;
use crate::common::pipeline::*;
use crate::common::{Server, wait_until};
use crate::filter_spec;
use serde_json::{Value, json};

#[test]
fn dead_letters_carry_the_documented_headers_and_skip_counts() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "out", 1);
    create_topic(&s, "dlq", 1);
    create_topic(&s, "out2", 1);
    assert_eq!(upload(&s, "trap", &guest("hostile", "trap")).0, 201);
    let spec = json!({"name": "dl", "inputs": ["in"], "output": "out", "steps": [{"module": "trap"}],
        "on_error": "dead-letter", "dead_letter_topic": "dlq", "start": "earliest"});
    assert_eq!(call(&s, "POST", "/v1/pipelines", Some(spec)).0, 201);
    let skip = json!({"name": "sk", "inputs": ["in"], "output": "out2", "steps": [{"module": "trap"}],
        "on_error": "skip", "start": "earliest"});
    assert_eq!(call(&s, "POST", "/v1/pipelines", Some(skip)).0, 201);
    let fail = json!({"name": "fl", "inputs": ["in"], "output": "out2", "steps": [{"module": "trap"}], "start": "earliest"});
    assert_eq!(call(&s, "POST", "/v1/pipelines", Some(fail)).0, 201);
    produce(
        &s,
        "in",
        vec![
            json!({"value": "ok"}),
            json!({"key": "k", "value": "bad"}),
            json!({"value": "ok"}),
        ],
    );
    wait_caught_up(&s, "dl", 3);
    assert_eq!(values(&s, "out"), vec!["ok", "ok"]);
    let dead = read_all(&s, "dlq").concat();
    assert_eq!(dead.len(), 1);
    let d = &dead[0];
    assert_eq!(d["value"], "bad");
    assert_eq!(d["key"], "k");
    let h = &d["headers"];
    assert!(h["weir.error"].as_str().unwrap().contains("boom"), "{d}");
    assert_eq!(h["weir.pipeline"], "dl");
    assert_eq!(h["weir.step"], "0");
    assert_eq!(h["weir.topic"], "in");
    assert_eq!(h["weir.partition"], "0");
    assert_eq!(h["weir.offset"], "1");
    let st = wait_caught_up(&s, "sk", 3);
    assert_eq!(st["records_errored"], 1);
    let mut st = Value::Null;
    assert!(wait_until(Duration::from_secs(30), || {
        st = status(&s, "fl");
        st["state"] == "failed"
    }));
    assert!(
        st["tasks"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("boom"),
        "{st:#}"
    );
    // The cause is classified: the plugin's failure, not a fault of the server.
    assert_eq!(st["tasks"][0]["last_error_code"], "plugin_error", "{st:#}");
    assert_eq!(st["tasks"][0]["last_error_status"], 422, "{st:#}");
    assert_eq!(st["tasks"][0]["committed_offset"], 0);
    // Pause and resume answer with the state.
    let (code, body) = call(&s, "POST", "/v1/pipelines/sk/pause", None);
    assert_eq!((code, body["state"].as_str()), (200, Some("paused")));
    let (code, body) = call(&s, "POST", "/v1/pipelines/sk/resume", None);
    assert_eq!((code, body["state"].as_str()), (200, Some("running")));
}

#[test]
fn pipelines_needing_more_instances_than_the_pool_has_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(&config, "[pipelines]\nmax_instances = 4\n").unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    create_topic(&s, "in", 3);
    create_topic(&s, "out", 3);
    assert_eq!(upload(&s, "keep", &guest("rust", "rust-filter")).0, 201);
    // Three tasks, one Wasm step each: 3 of the 4 slots.
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(filter_spec("a", "keep", "x", "in", "out")),
    );
    assert_eq!(code, 201, "{body}");
    // Three more do not fit: refused now, naming the setting, not failing later in tasks.
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(filter_spec("b", "keep", "x", "in", "out")),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["code"], "instance_limit", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("needs 3") && message.contains("max_instances"),
        "{message}"
    );
    // An update to two steps needs 6 of 4 (its own 3 count as free): refused too, and the
    // pipeline runs on unchanged.
    let mut two = filter_spec("a", "keep", "x", "in", "out");
    two["steps"] = json!([{"module": "keep", "config": {"pattern": "x"}}, {"module": "keep", "config": {"pattern": "x"}}]);
    let (code, body) = call(&s, "PUT", "/v1/pipelines/a", Some(two));
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (422, Some("instance_limit")),
        "{body}"
    );
    produce(
        &s,
        "in",
        vec![json!({"value": "x1"}), json!({"value": "y"})],
    );
    wait_caught_up(&s, "a", 2);
    assert_eq!(values(&s, "out"), ["x1"]);
    // Deleting the first frees its slots.
    assert_eq!(call(&s, "DELETE", "/v1/pipelines/a", None).0, 204);
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(filter_spec("b", "keep", "x", "in", "out")),
    );
    assert_eq!(code, 201, "{body}");
}

#[test]
fn an_output_record_over_its_topics_max_message_bytes_follows_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "dlq", 1);
    for out in ["small", "small2"] {
        let (code, body) = call(
            &s,
            "POST",
            "/v1/topics",
            Some(json!({"name": out, "partitions": 1, "config": {"max.message.bytes": 1024}})),
        );
        assert_eq!(code, 201, "{body}");
    }
    assert_eq!(upload(&s, "f", &guest("rust", "rust-filter")).0, 201);
    let mut dl = filter_spec("dl", "f", "keep", "in", "small");
    dl["on_error"] = json!("dead-letter");
    dl["dead_letter_topic"] = json!("dlq");
    assert_eq!(call(&s, "POST", "/v1/pipelines", Some(dl)).0, 201);
    let fail = filter_spec("fl", "f", "keep", "in", "small2");
    assert_eq!(call(&s, "POST", "/v1/pipelines", Some(fail)).0, 201);
    let big = format!("keep {}", "x".repeat(2000));
    produce(
        &s,
        "in",
        vec![
            json!({"value": "keep 1"}),
            json!({"value": big}),
            json!({"value": "keep 3"}),
        ],
    );
    let st = wait_caught_up(&s, "dl", 3);
    assert_eq!(st["records_errored"], 1, "{st:#}");
    assert_eq!(st["state"], "running", "{st:#}");
    assert_eq!(values(&s, "small"), vec!["keep 1", "keep 3"]);
    let dead = read_all(&s, "dlq").concat();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["value"], big.as_str());
    let error = dead[0]["headers"]["weir.error"].as_str().unwrap();
    assert!(error.contains("max.message.bytes"), "{error}");

    // With on_error "fail" the task stops on it, naming the record and the limit, and
    // nothing past it is appended.
    let mut st = Value::Null;
    assert!(wait_until(Duration::from_secs(30), || {
        st = status(&s, "fl");
        st["state"] == "failed"
    }));
    let last = st["tasks"][0]["last_error"].as_str().unwrap();
    assert!(
        last.contains("max.message.bytes") && last.contains("offset 1"),
        "{st:#}"
    );
    assert_eq!(st["tasks"][0]["committed_offset"], 0, "{st:#}");
    assert!(values(&s, "small2").is_empty());
}
