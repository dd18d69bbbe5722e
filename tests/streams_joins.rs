//! Joins end to end, through the HTTP API: orders enriched with customers (a
//! stream–table left join), a stream–stream outer join whose unmatched records come out
//! when their window closes, a table–table join with its tombstones, and a stream–table
//! join across SIGKILLs (no result lost or doubled). The row-for-row checks against
//! Kafka's semantics tables are unit tests (`host/src/streams/join_tests.rs`).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::pipeline::*;
use common::streams::*;
use common::{Server, create_topic};
use rand::Rng;
use serde_json::{Value, json};

/// (key, value as JSON, timestamp) of every record of `topic`, partition by partition.
fn results(s: &Server, topic: &str) -> Vec<(String, Value, i64)> {
    read_all(s, topic)
        .into_iter()
        .flatten()
        .map(|r| {
            let value = match r["value"].as_str() {
                Some(v) => serde_json::from_str(v).unwrap_or_else(|e| panic!("{v}: {e}")),
                None => Value::Null,
            };
            (
                r["key"].as_str().unwrap().to_string(),
                value,
                r["timestamp"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The enrichment spec: orders (stream) left-joined with customers (table).
fn enrich_spec(output: &str) -> Value {
    json!({"name": "enrich",
        "sources": {"orders": {"topic": "orders"},
                    "customers": {"topic": "customers", "as": "table"}},
        "output": output,
        "steps": [{"name": "enriched", "op": "join", "left": "orders", "right": "customers",
                   "type": "left"}],
        "start": "earliest"})
}

#[test]
fn orders_enriched_with_customers() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["orders", "customers", "enriched"] {
        create_topic(&s, t, 3);
    }
    create(&s, enrich_spec("enriched"));
    let t = now_ms();
    produce(
        &s,
        "customers",
        vec![click("c1", "Ada", t), click("c2", "Bo", t)],
    );
    wait_caught_up(&s, "enrich", 2);
    produce(
        &s,
        "orders",
        vec![
            click("c1", "o1", t + 10),
            click("c3", "o2", t + 11),
            click("c2", "o3", t + 12),
        ],
    );
    wait_caught_up(&s, "enrich", 5);
    // A customer changes: later orders see the new row, earlier results stay.
    produce(&s, "customers", vec![click("c1", "Ada L.", t + 20)]);
    wait_caught_up(&s, "enrich", 6);
    produce(&s, "orders", vec![click("c1", "o4", t + 30)]);
    wait_caught_up(&s, "enrich", 7);
    let mut got = results(&s, "enriched");
    got.sort_by(|a, b| a.1["left"].as_str().cmp(&b.1["left"].as_str()));
    assert_eq!(
        got,
        vec![
            ("c1".into(), json!({"left": "o1", "right": "Ada"}), t + 10),
            ("c3".into(), json!({"left": "o2", "right": null}), t + 11),
            ("c2".into(), json!({"left": "o3", "right": "Bo"}), t + 12),
            (
                "c1".into(),
                json!({"left": "o4", "right": "Ada L."}),
                t + 30
            ),
        ]
    );
}

#[test]
fn a_global_table_needs_no_co_partitioning_and_every_task_holds_all_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "orders", 3);
    create_topic(&s, "enriched", 3);
    create_topic(&s, "countries", 2);
    create(
        &s,
        json!({"name": "by-country",
            "sources": {"orders": {"topic": "orders"},
                        "countries": {"topic": "countries", "as": "global_table"}},
            "output": "enriched",
            "steps": [{"op": "join", "left": "orders", "right": "countries", "type": "left"}],
            "start": "latest"}),
    );
    let t = now_ms();
    // Written before the orders, in both partitions: read whole, whatever "start" says.
    produce(
        &s,
        "countries",
        vec![
            click("fr", "France", t),
            click("de", "Germany", t),
            click("it", "Italy", t),
        ],
    );
    wait_caught_up(&s, "by-country", 0);
    let keys = ["fr", "de", "it", "es"];
    produce(
        &s,
        "orders",
        keys.iter()
            .enumerate()
            .map(|(i, k)| click(k, &format!("o{i}"), t + 1))
            .collect(),
    );
    wait_until_output(&s, "enriched", keys.len());
    let mut got: Vec<(String, Value)> = results(&s, "enriched")
        .into_iter()
        .map(|(k, v, _)| (k, v["right"].clone()))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("de".into(), json!("Germany")),
            ("es".into(), Value::Null),
            ("fr".into(), json!("France")),
            ("it".into(), json!("Italy")),
        ]
    );
    let (code, body) = call(
        &s,
        "GET",
        "/v1/pipelines/by-country/state/countries?key=it",
        None,
    );
    assert_eq!((code, &body["value"]), (200, &json!("Italy")), "{body}");
}

/// Waits (≤ 60 s) until `topic` holds at least `n` records.
fn wait_until_output(s: &Server, topic: &str, n: usize) {
    let ok = common::wait_until(Duration::from_secs(60), || {
        read_all(s, topic).iter().map(Vec::len).sum::<usize>() >= n
    });
    assert!(ok, "{topic} did not reach {n} records");
}

#[test]
fn a_stream_stream_outer_join_emits_unmatched_records_when_their_window_closes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["views", "clicks", "joined"] {
        create_topic(&s, t, 1);
    }
    create(
        &s,
        json!({"name": "vc",
            "sources": {"views": {"topic": "views"}, "clicks": {"topic": "clicks"}},
            "output": "joined",
            "steps": [{"op": "join", "left": "views", "right": "clicks", "type": "outer",
                       "window": {"before_ms": 100, "after_ms": 100}}],
            "start": "earliest"}),
    );
    let t = now_ms();
    // One record at a time, each processed before the next: the order is the test's.
    let steps = [
        ("views", "A", t),
        ("clicks", "a", t + 50),
        ("views", "B", t + 1000),
        ("clicks", "b", t + 2000),
        ("views", "C", t + 3000),
    ];
    for (n, (topic, value, ts)) in steps.into_iter().enumerate() {
        produce(&s, topic, vec![click("k", value, ts)]);
        wait_caught_up(&s, "vc", n as u64 + 1);
    }
    assert_eq!(
        results(&s, "joined"),
        vec![
            ("k".into(), json!({"left": "A", "right": "a"}), t + 50),
            // b moved stream time past B's window (t + 1000 + 100).
            ("k".into(), json!({"left": "B", "right": null}), t + 1000),
            // C moved it past b's.
            ("k".into(), json!({"left": null, "right": "b"}), t + 2000),
        ]
    );
}

#[test]
fn a_table_table_join_emits_on_either_side_and_tombstones_a_result_that_ends() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["users", "scores", "joined"] {
        create_topic(&s, t, 2);
    }
    create(
        &s,
        json!({"name": "us",
            "sources": {"users": {"topic": "users", "as": "table"},
                        "scores": {"topic": "scores", "as": "table"}},
            "output": "joined",
            "steps": [{"op": "join", "left": "users", "right": "scores"}],
            "start": "earliest"}),
    );
    let t = now_ms();
    let steps = [
        ("users", json!({"key": "k", "value": "A", "timestamp": t})),
        (
            "scores",
            json!({"key": "k", "value": "a", "timestamp": t + 1}),
        ),
        (
            "users",
            json!({"key": "k", "value": "B", "timestamp": t + 2}),
        ),
        (
            "users",
            json!({"key": "k", "value": null, "timestamp": t + 3}),
        ),
        (
            "scores",
            json!({"key": "k", "value": null, "timestamp": t + 4}),
        ),
    ];
    for (n, (topic, record)) in steps.into_iter().enumerate() {
        produce(&s, topic, vec![record]);
        wait_caught_up(&s, "us", n as u64 + 1);
    }
    assert_eq!(
        results(&s, "joined"),
        vec![
            ("k".into(), json!({"left": "A", "right": "a"}), t + 1),
            ("k".into(), json!({"left": "B", "right": "a"}), t + 2),
            ("k".into(), Value::Null, t + 3),
        ]
    );
}

/// A stream–table join across SIGKILLs: every order in the log is enriched exactly once.
#[test]
fn a_stream_table_join_is_exactly_once_across_sigkills() {
    stream_table_join_across_sigkills(false);
}

/// The same over a versioned table with a grace period: the stream records waiting in
/// the join's buffer, and the table's versions, survive the kills with everything else.
#[test]
fn a_versioned_stream_table_join_with_grace_is_exactly_once_across_sigkills() {
    stream_table_join_across_sigkills(true);
}

fn stream_table_join_across_sigkills(versioned: bool) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--worker-threads", "2"]);
    for t in ["orders", "customers", "enriched"] {
        create_topic(&s, t, 3);
    }
    let t = now_ms();
    let customers: BTreeMap<String, String> = (0..20)
        .map(|c| (format!("c{c}"), format!("name{c}")))
        .collect();
    produce(
        &s,
        "customers",
        customers.iter().map(|(k, v)| click(k, v, t)).collect(),
    );
    let mut spec = enrich_spec("enriched");
    spec["steps"][0]["type"] = json!("inner");
    if versioned {
        spec["sources"]["customers"]["history_retention_ms"] = json!(600_000);
        spec["steps"][0]["grace_ms"] = json!(50);
    }
    create(&s, spec);
    wait_caught_up(&s, "enrich", customers.len() as u64);
    let mut next = 0u64;
    let s = kill_while_feeding(s, dir.path(), "orders", 3, 0..10, move |rng| {
        (0..rng.random_range(1..30))
            .map(|_| {
                let n = next;
                next += 1;
                click(
                    &format!("c{}", rng.random_range(0..20)),
                    &format!("o{n}"),
                    t + n as i64,
                )
            })
            .collect()
    });
    if versioned {
        // Stream time far ahead in every partition: every order leaves the buffer (these
        // last ones wait there).
        produce(
            &s,
            "orders",
            customers
                .keys()
                .map(|k| click(k, "flush", t + 600_000))
                .collect(),
        );
    }
    wait_caught_up(&s, "enrich", 0);
    let orders: Vec<(String, String)> = read_all(&s, "orders")
        .into_iter()
        .flatten()
        .filter(|r| r["value"] != "flush")
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        orders.len() > 200,
        "too little input reached the log: {}",
        orders.len()
    );
    let mut got: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for (key, value, _) in results(&s, "enriched") {
        let order = value["left"].as_str().unwrap().to_string();
        let again = got.insert(order.clone(), (key, value["right"].clone()));
        assert!(again.is_none(), "order {order} enriched twice");
    }
    let want: BTreeMap<String, (String, Value)> = orders
        .into_iter()
        .map(|(k, o)| (o, (k.clone(), json!(customers[&k]))))
        .collect();
    let missing: Vec<_> = want.keys().filter(|o| !got.contains_key(*o)).collect();
    assert!(missing.is_empty(), "orders never enriched: {missing:?}");
    assert_eq!(got, want);
}
