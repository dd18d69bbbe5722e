//! Connect's transformation chain on connectors, through the REST API: a FileStreamSource's
//! lines wrapped, tagged and routed before they are written; a Filter dropping every line
//! while the source's offsets still advance; a FileStreamSink whose chain drops one topic
//! and extracts a field, a failing record skipped to the dead-letter queue or failing the
//! task; a bad chain refused with 400 naming its key, and answered per key by validate.

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use common::connect::{call, create, start, wait_status};
use common::{Server, create_topic, http, wait_until};

/// Every record of partition 0 of `topic`, as the HTTP API answers it.
fn records(s: &Server, topic: &str) -> Vec<Value> {
    let body: Value = http()
        .get(s.at(&format!(
            "/v1/topics/{topic}/partitions/0/records?offset=0&max=10000"
        )))
        .send()
        .unwrap()
        .json()
        .unwrap();
    body["records"].as_array().cloned().unwrap_or_default()
}

/// Every value of partition 0 of `topic`, as text.
fn values(s: &Server, topic: &str) -> Vec<String> {
    let body: Value = http()
        .get(s.at(&format!(
            "/v1/topics/{topic}/partitions/0/records?offset=0&max=10000"
        )))
        .send()
        .unwrap()
        .json()
        .unwrap();
    body["records"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| r["value"].as_str().unwrap_or("<null>").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn produce(s: &Server, topic: &str, values: &[&str]) {
    let records: Vec<Value> = values
        .iter()
        .map(|v| json!({"value": v, "partition": 0}))
        .collect();
    let resp = http()
        .post(s.at(&format!("/v1/topics/{topic}/records")))
        .json(&json!({ "records": records }))
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().unwrap());
}

fn schemaless() -> Value {
    json!({
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    })
}

fn with(base: Value, more: Value) -> Value {
    let mut out = base.as_object().unwrap().clone();
    out.extend(more.as_object().unwrap().clone());
    Value::Object(out)
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn source_lines_are_wrapped_tagged_and_routed_before_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    let input = inbox.join("lines.txt");
    // "42" stays the string "42": a line is text, whatever it looks like.
    write(&input, "apple\n42\ncherry\n");
    let s = start(&dir.path().join("data"));
    create(
        &s,
        "wrapped",
        with(
            schemaless(),
            json!({
                "connector.class": "FileStreamSource",
                "file": input,
                "topic": "lines",
                "weir.allow.dirs": format!("{}:ro", inbox.display()),
                "transforms": "wrap, tag, stamp, route",
                "transforms.wrap.type": "org.apache.kafka.connect.transforms.HoistField$Value",
                "transforms.wrap.field": "line",
                "transforms.tag.type": "InsertField$Value",
                "transforms.tag.static.field": "origin",
                "transforms.tag.static.value": "file",
                "transforms.stamp.type": "InsertField$Value",
                "transforms.stamp.timestamp.field": "at",
                "transforms.route.type": "RegexRouter",
                "transforms.route.regex": "lines",
                "transforms.route.replacement": "wrapped-lines",
            }),
        ),
    );
    assert!(
        wait_until(Duration::from_secs(60), || values(&s, "wrapped-lines")
            .len()
            >= 3),
        "the routed topic never got the lines: {:?}",
        values(&s, "wrapped-lines")
    );
    let records = records(&s, "wrapped-lines");
    // The inserted time is the time the log holds for the record.
    let got: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut v: Value = serde_json::from_str(r["value"].as_str().unwrap()).unwrap();
            let at = v.as_object_mut().unwrap().remove("at");
            assert_eq!(at, Some(r["timestamp"].clone()), "record {r}");
            v
        })
        .collect();
    assert_eq!(
        got,
        vec![
            json!({"line": "apple", "origin": "file"}),
            json!({"line": "42", "origin": "file"}),
            json!({"line": "cherry", "origin": "file"}),
        ]
    );
    assert!(
        values(&s, "lines").is_empty(),
        "nothing is written to the unrouted topic"
    );
}

#[test]
fn a_dropped_source_record_still_counts_as_processed() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    let input = inbox.join("lines.txt");
    write(&input, "one\ntwo\n");
    let s = start(&dir.path().join("data"));
    create_topic(&s, "dropped", 1);
    create(
        &s,
        "dropper",
        json!({
            "connector.class": "FileStreamSource",
            "file": input,
            "topic": "dropped",
            "weir.allow.dirs": format!("{}:ro", inbox.display()),
            "transforms": "drop",
            "transforms.drop.type": "Filter",
        }),
    );
    // The source's offset reaches the end of the file although no record was written.
    let end = std::fs::metadata(&input).unwrap().len();
    let mut last = Value::Null;
    let reached = wait_until(Duration::from_secs(60), || {
        let (_, body) = call(&s, "GET", "/connectors/dropper/offsets", None);
        last = body.clone();
        body["offsets"].as_array().is_some_and(|os| {
            os.iter()
                .any(|o| o["offset"]["position"].as_u64() == Some(end))
        })
    });
    assert!(reached, "the offset never reached {end}: {last}");
    assert!(values(&s, "dropped").is_empty());
}

#[test]
fn sink_chain_drops_a_topic_extracts_a_field_and_tolerates_failures() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("out");
    std::fs::create_dir_all(&outbox).unwrap();
    let output = outbox.join("copy.txt");
    let s = start(&dir.path().join("data"));
    create_topic(&s, "a", 1);
    create_topic(&s, "b", 1);
    produce(
        &s,
        "a",
        &[r#"{"msg":"one"}"#, r#""plain""#, r#"{"msg":"three"}"#],
    );
    produce(&s, "b", &[r#"{"msg":"never"}"#]);
    let chain = json!({
        "transforms": "skipb,extract",
        "transforms.skipb.type": "Filter",
        "transforms.skipb.predicate": "isB",
        "predicates": "isB",
        "predicates.isB.type": "TopicNameMatches",
        "predicates.isB.pattern": "b",
        "transforms.extract.type": "ExtractField$Value",
        "transforms.extract.field": "msg",
    });
    create(
        &s,
        "tolerant",
        with(
            with(schemaless(), chain.clone()),
            json!({
                "connector.class": "FileStreamSink",
                "file": output,
                "topics": "a,b",
                "weir.allow.dirs": outbox.display().to_string(),
                "errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": "dlq",
            }),
        ),
    );
    assert!(
        wait_until(Duration::from_secs(60), || std::fs::read_to_string(&output)
            .unwrap_or_default()
            == "one\nthree\n"),
        "the output is {:?}",
        std::fs::read_to_string(&output).unwrap_or_default()
    );
    assert!(
        wait_until(Duration::from_secs(60), || values(&s, "dlq")
            == vec![r#""plain""#.to_string()]),
        "the dead-letter queue holds {:?}",
        values(&s, "dlq")
    );

    // The dropped record of b and the skipped one of a count as processed: the sink's
    // committed offsets move past them.
    let mut last = Value::Null;
    let past = wait_until(Duration::from_secs(60), || {
        let (_, body) = call(&s, "GET", "/connectors/tolerant/offsets", None);
        last = body.clone();
        let at = |topic: &str| {
            body["offsets"].as_array().and_then(|os| {
                os.iter()
                    .find(|o| o["partition"]["kafka_topic"] == topic)
                    .and_then(|o| o["offset"]["kafka_offset"].as_i64())
            })
        };
        at("a") == Some(3) && at("b") == Some(1)
    });
    assert!(past, "the sink's offsets: {last}");

    // The same chain with errors.tolerance=none fails the task at "plain", with the trace.
    create(
        &s,
        "strict",
        with(
            with(schemaless(), chain),
            json!({
                "connector.class": "FileStreamSink",
                "file": outbox.join("strict.txt"),
                "topics": "a",
                "weir.allow.dirs": outbox.display().to_string(),
            }),
        ),
    );
    let st = wait_status(&s, "strict", "FAILED", |st| {
        st["tasks"][0]["state"] == "FAILED"
    });
    let trace = st["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("TRANSFORMATION") && trace.contains("extract"),
        "trace: {trace}"
    );
}

#[test]
fn a_bad_chain_is_refused_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    let base = json!({
        "connector.class": "FileStreamSource",
        "file": dir.path().join("x.txt"),
        "topic": "t",
        "weir.allow.dirs": format!("{}:ro", dir.path().display()),
    });
    let cases = [
        (
            json!({"transforms": "x", "transforms.x.type": "NoSuchTransform"}),
            "transforms.x.type",
        ),
        (
            json!({"transforms": "x", "transforms.x.type": "Filter", "transforms.x.predicate": "p"}),
            "transforms.x.predicate",
        ),
        // The plugin checks its own keys: HoistField needs `field`.
        (
            json!({"transforms": "x", "transforms.x.type": "HoistField$Value"}),
            "transforms.x",
        ),
    ];
    for (i, (chain, key)) in cases.into_iter().enumerate() {
        let config = with(base.clone(), chain);
        let (code, body) = call(
            &s,
            "POST",
            "/connectors",
            Some(json!({"name": format!("bad{i}"), "config": config})),
        );
        assert_eq!(code, 400, "case {i}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(key), "case {i}: {message}");

        let (code, body) = call(
            &s,
            "PUT",
            "/connector-plugins/FileStreamSource/config/validate",
            Some(config),
        );
        assert_eq!(code, 200, "case {i}: {body}");
        assert!(body["error_count"].as_u64().unwrap_or(0) >= 1, "{body}");
        let named = body["configs"].as_array().unwrap().iter().any(|c| {
            c["value"]["name"] == key && !c["value"]["errors"].as_array().unwrap().is_empty()
        });
        assert!(named, "case {i}: validate names no error on {key}: {body}");
        let (code, _) = call(&s, "GET", &format!("/connectors/bad{i}"), None);
        assert_eq!(code, 404, "case {i}: nothing is created");
    }
}
