//! Tables end to end: named sources (`"sources"`, `"as": "table"`), `to_table` steps,
//! the step graph (`"input"`, `"output_from"`), the queryable state of tables over HTTP
//! and the CLI, and the spec errors of the graph.

mod common;

use common::Server;
use common::create_topic;
use common::pipeline::*;
use common::streams::*;
use serde_json::{Value, json};

#[test]
fn a_to_table_step_keeps_the_latest_value_per_key_and_answers_queries() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "profile-updates", 3);
    create_topic(&s, "profiles-changelog", 3);
    create_topic(&s, "emails", 3);
    // Two steps read the table: the output is the changelog (output_from), and a
    // filter-free map is not needed: a second to_table reads the first.
    let spec = json!({"name": "profiles", "inputs": ["profile-updates"],
        "output": "profiles-changelog", "output_from": "profiles",
        "steps": [{"name": "profiles", "op": "to_table"},
                  {"name": "copy", "op": "to_table", "input": "profiles"}],
        "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    let t = now_ms();
    produce(
        &s,
        "profile-updates",
        vec![
            click("alice", "a@one", t),
            click("bob", "b@one", t + 1),
            click("alice", "a@two", t + 2),
            json!({"key": "bob", "value": null, "timestamp": t + 3}),
            json!({"value": "no key", "timestamp": t + 4}),
        ],
    );
    wait_caught_up(&s, "profiles", 5);
    let get = |path: &str| call(&s, "GET", path, None);
    let (code, body) = get("/v1/pipelines/profiles/state/profiles?key=alice");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["value"], "a@two");
    assert_eq!(body["timestamp"], t + 2);
    // The second table read the first's changelog: the same rows.
    let (code, body) = get("/v1/pipelines/profiles/state/copy?key=alice");
    assert_eq!((code, &body["value"]), (200, &json!("a@two")), "{body}");
    // A null value deleted bob.
    let (code, body) = get("/v1/pipelines/profiles/state/profiles?key=bob");
    assert_eq!(
        (code, &body["error"]["code"]),
        (404, &json!("key_not_found")),
        "{body}"
    );
    let (code, _) = get("/v1/pipelines/profiles/state/profiles?key=alice&from=1");
    assert_eq!(code, 400);
    // The changelog: every keyed update and the tombstone, in order per key.
    let mut changelog: Vec<(String, Value)> = read_all(&s, "profiles-changelog")
        .into_iter()
        .flatten()
        .map(|r| (r["key"].as_str().unwrap().to_string(), r["value"].clone()))
        .collect();
    changelog.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        changelog,
        vec![
            ("alice".to_string(), json!("a@one")),
            ("alice".to_string(), json!("a@two")),
            ("bob".to_string(), json!("b@one")),
            ("bob".to_string(), Value::Null),
        ]
    );
    // The CLI answers the same.
    let (ok, out, err) = weir_cli(
        &s,
        &[
            "pipeline", "state", "profiles", "profiles", "--key", "alice",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "a@two");
    let (ok, _, err) = weir_cli(
        &s,
        &["pipeline", "state", "profiles", "profiles", "--key", "bob"],
    );
    assert!(!ok && err.contains("no row for key"), "{err}");
}

#[test]
fn a_table_source_is_queryable_by_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "customers", 2);
    create_topic(&s, "orders", 2);
    create_topic(&s, "enriched", 2);
    let spec = json!({"name": "enrich",
        "sources": {"orders": {"topic": "orders"}, "customers": {"topic": "customers", "as": "table"}},
        "output": "enriched",
        "steps": [{"op": "join", "left": "orders", "right": "customers", "type": "left"}],
        "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    let t = now_ms();
    produce(
        &s,
        "customers",
        vec![
            click("c1", "Ada", t),
            click("c2", "Bo", t),
            click("c1", "Ada L.", t + 1),
        ],
    );
    wait_caught_up(&s, "enrich", 3);
    let (code, body) = call(
        &s,
        "GET",
        "/v1/pipelines/enrich/state/customers?key=c1",
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["value"], "Ada L.");
    let (code, _) = call(
        &s,
        "GET",
        "/v1/pipelines/enrich/state/customers?key=c9",
        None,
    );
    assert_eq!(code, 404);
    // A source that is a stream holds no table.
    let (code, body) = call(&s, "GET", "/v1/pipelines/enrich/state/orders?key=c1", None);
    assert_eq!(code, 404, "{body}");
}

#[test]
fn graph_mistakes_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["a", "b", "out"] {
        create_topic(&s, t, 2);
    }
    create_topic(&s, "three", 3);
    let cases = [
        (
            json!({"sources": {"x": {"topic": "a"}, "y": {"topic": "b"}},
                   "steps": [{"op": "to_table"}]}),
            "steps[0].input",
            "name the one",
        ),
        (
            json!({"inputs": ["a"], "steps": [{"op": "to_table", "input": "nope"}]}),
            "steps[0].input",
            "no source or step is named \"nope\"",
        ),
        (
            json!({"inputs": ["a"], "steps": [{"op": "to_table", "input": "later"},
                                              {"name": "later", "op": "to_table"}]}),
            "steps[0].input",
            "does not come before",
        ),
        (
            json!({"sources": {"t": {"topic": "a", "as": "table"}, "s": {"topic": "b"}},
                   "steps": [{"op": "join", "left": "t", "right": "s"}]}),
            "steps[0].left",
            "put the stream on the left",
        ),
        (
            json!({"sources": {"s1": {"topic": "a"}, "s2": {"topic": "b"}},
                   "steps": [{"op": "join", "left": "s1", "right": "s2"}]}),
            "steps[0].window",
            "needs a window",
        ),
        (
            json!({"sources": {"s": {"topic": "a"}, "t": {"topic": "b", "as": "table"}},
                   "steps": [{"op": "join", "left": "s", "right": "t", "type": "outer"}]}),
            "steps[0].type",
            "\"inner\" or \"left\"",
        ),
        (
            json!({"inputs": ["a"], "output_from": "nope", "steps": [{"op": "to_table"}]}),
            "output_from",
            "no step is named",
        ),
        (
            json!({"inputs": ["a"], "sources": {"s": {"topic": "a"}}, "steps": [{"op": "to_table"}]}),
            "sources.s.topic",
            "read twice",
        ),
        (
            json!({"sources": {"s": {"topic": "a", "as": "view"}}, "steps": [{"op": "to_table"}]}),
            "",
            "view",
        ),
        (
            json!({"sources": {"s": {"topic": "a"}},
                   "steps": [{"op": "to_table", "left": "s"}]}),
            "steps[0].left",
            "only a \"join\" step",
        ),
    ];
    for (i, (parts, field, words)) in cases.into_iter().enumerate() {
        let mut spec = json!({"name": format!("bad{i}"), "output": "out"});
        for (k, v) in parts.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
        assert_eq!(code, 400, "case {i}: {body}");
        let text = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            text.contains(field) && text.contains(words),
            "case {i}: want {field:?} and {words:?} in {body}"
        );
    }
}

#[test]
fn join_inputs_that_are_not_co_partitioned_are_refused_naming_both_topics() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "orders", 3);
    create_topic(&s, "customers", 2);
    create_topic(&s, "enriched", 3);
    let spec = json!({"name": "enrich",
        "sources": {"orders": {"topic": "orders"}, "customers": {"topic": "customers", "as": "table"}},
        "output": "enriched",
        "steps": [{"op": "join", "left": "orders", "right": "customers"}]});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 400, "{body}");
    let text = body["error"]["message"].as_str().unwrap_or_default();
    for words in [
        "co-partitioned",
        "\"orders\" has 3 partitions",
        "\"customers\" has 2",
        "steps[0]",
    ] {
        assert!(text.contains(words), "want {words:?} in {text}");
    }
    let (code, _) = call(&s, "GET", "/v1/pipelines/enrich", None);
    assert_eq!(code, 404, "a refused pipeline is not created");
}
