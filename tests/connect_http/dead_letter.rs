//! HttpSink's dead-letter queue behind a transformation chain: the sink maps each entry it
//! puts back to the record it read by index, so a record the plugin refuses after ones the
//! chain dropped reaches the queue as it was in the log, at its own offset.

use super::*;

/// A record the plugin refuses after the chain dropped others before it goes to the
/// dead-letter queue as it was in the log: the sink maps each put entry back to its input by
/// index, so a drop in between must not shift the report onto another record.
#[test]
fn a_refused_record_after_dropped_ones_is_dead_lettered_as_read() {
    let stub = Stub::start(|req, _| match req.body.contains("refuse") {
        true => Answer {
            status: 400,
            body: "no such thing".into(),
            ..Answer::ok("")
        },
        false => Answer::ok("ok"),
    });
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    create_topic(&s, "in", 1);
    // 0, 3, 6 and 9 carry a `skip` header the chain drops them by; 8 is refused.
    let value = |i: u32| match i {
        8 => format!("{{\"i\":{i},\"say\":\"refuse\"}}"),
        _ => format!("{{\"i\":{i}}}"),
    };
    let records: Vec<Value> = (0..10u32)
        .map(|i| match i % 3 {
            0 => json!({"value": value(i), "headers": {"skip": "y"}}),
            _ => json!({"value": value(i)}),
        })
        .collect();
    let resp = http()
        .post(s.at("/v1/topics/in/records"))
        .json(&json!({ "records": records }))
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().unwrap());
    create(
        &s,
        "mapped",
        schemaless(json!({
            "connector.class": "HttpSink",
            "topics": "in",
            "http.url": format!("{}/one", stub.origin()),
            "http.request.mode": "single",
            "weir.allow.http": stub.origin(),
            "transforms": "skip,tag",
            "transforms.skip.type": "Filter",
            "transforms.skip.predicate": "hasSkip",
            "transforms.tag.type": "InsertField$Value",
            "transforms.tag.static.field": "tagged",
            "transforms.tag.static.value": "yes",
            "predicates": "hasSkip",
            "predicates.hasSkip.type": "HasHeaderKey",
            "predicates.hasSkip.name": "skip",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": "dlq",
            "errors.deadletterqueue.context.headers.enable": "true",
        })),
    );
    let accepted = || -> Vec<u64> {
        stub.seen()
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["i"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(60), || accepted().len() == 5
            && values(&s, "dlq").len() == 1),
        "accepted {:?}, dlq {:?}: {}",
        accepted(),
        values(&s, "dlq"),
        log_lines(&s, "mapped")
    );
    assert_eq!(
        accepted(),
        vec![1, 2, 4, 5, 7],
        "the chain dropped 0, 3, 6, 9"
    );
    // The refused record, untransformed (no `tagged`), at its own offset.
    assert_eq!(values(&s, "dlq"), vec![value(8)]);
    let out = kcat(
        &[
            "-C",
            "-b",
            &s.kafka,
            "-t",
            "dlq",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%h\n",
        ],
        b"",
    );
    assert!(
        out.contains("__connect.errors.offset=8") && out.contains("stage=TASK_PUT"),
        "{out}"
    );
}
