//! Joins after a `group_by` through the whole server: orders (3 partitions, keyed by
//! order) re-keyed by customer and joined with a co-partitioned customers table, every
//! order enriched once with its customer, also across SIGKILLs; a table with another
//! partition count refused naming both topics; and repartition topics that would collide
//! (another pipeline's, or a user's topic) refused at create, naming topic and pipeline;
//! a `group_by` whose key selector is Python.

mod common;

use std::collections::BTreeMap;

use common::Server;
use common::guests::guest;
use common::pipeline::*;
use common::streams::*;
use rand::Rng;
use serde_json::{Value, json};

const CUSTOMERS: usize = 12;

/// `orders` (3 partitions, values `customer,item`) and the `customers` table (3
/// partitions, loaded first) → `group_by` the customer → left join with `customers` →
/// `enriched`: the pipeline `enrich`, caught up on the table before it returns.
fn deploy_enrich(s: &Server) {
    create_topic(s, "orders", 3);
    create_topic(s, "customers", 3);
    create_topic(s, "enriched", 2);
    assert_eq!(
        upload(s, "by-customer", &guest("streams", "rust-key-selector")).0,
        201
    );
    produce(
        s,
        "customers",
        (0..CUSTOMERS)
            .map(|c| json!({"key": format!("c{c}"), "value": format!("name{c}"), "timestamp": 1}))
            .collect(),
    );
    let spec = json!({"name": "enrich",
        "sources": {"orders": {"topic": "orders"},
                    "customers": {"topic": "customers", "as": "table"}},
        "output": "enriched",
        "steps": [{"name": "by-customer", "op": "group_by", "module": "by-customer",
                   "input": "orders"},
                  {"op": "join", "left": "by-customer", "right": "customers", "type": "left"}],
        "start": "earliest"});
    let (code, body) = call(s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    // The later stage reads the table: its records count in.
    wait_caught_up(s, "enrich", CUSTOMERS as u64);
}

/// Each order in `orders` (its value) → its customer's name, from the log.
fn orders_in(s: &Server) -> BTreeMap<String, String> {
    read_all(s, "orders")
        .into_iter()
        .flatten()
        .map(|r| {
            let v = r["value"].as_str().unwrap().to_string();
            let c: usize = v[1..v.find(',').unwrap()].parse().unwrap();
            let name = if c < CUSTOMERS {
                format!("\"name{c}\"")
            } else {
                "null".into()
            };
            (v, name)
        })
        .collect()
}

/// The enriched orders: each left value → the right side as the default joiner wrote it
/// (a JSON string or null); panics on an order enriched twice or under another key.
fn enriched(s: &Server) -> BTreeMap<String, String> {
    let mut got = BTreeMap::new();
    for r in read_all(s, "enriched").into_iter().flatten() {
        let joined: Value = serde_json::from_str(r["value"].as_str().unwrap()).unwrap();
        let left = joined["left"].as_str().unwrap().to_string();
        assert!(
            left.starts_with(&format!("{},", r["key"].as_str().unwrap())),
            "{r} keyed by another customer"
        );
        let right = joined["right"].to_string();
        assert!(got.insert(left, right).is_none(), "{r} joined twice");
    }
    got
}

#[test]
fn a_group_by_then_a_join_with_a_co_partitioned_table_enriches_every_order_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    deploy_enrich(&s);
    let mut rng = rand::rng();
    let orders: Vec<Value> = (0..600)
        .map(|i| {
            // c12..c14 have no row: a left join gives them null.
            let c = rng.random_range(0..CUSTOMERS + 3);
            json!({"key": format!("order{i}"), "value": format!("c{c},item{i}"), "timestamp": now_ms()})
        })
        .collect();
    for chunk in orders.chunks(100) {
        produce(&s, "orders", chunk.to_vec());
    }
    let st = wait_caught_up(&s, "enrich", (CUSTOMERS + 600) as u64);
    assert_eq!(st["records_in"], CUSTOMERS + 600, "{st:#}");
    let tasks = st["tasks"].as_array().unwrap();
    // The later stage reads the repartition topic and the table, one position each.
    let down = tasks.iter().find(|t| t["stage"] == "downstream").unwrap();
    let read: Vec<&String> = down["committed_offsets"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        read,
        ["customers", "enrich-by-customer-repartition"],
        "{st:#}"
    );
    assert_eq!(enriched(&s), orders_in(&s));
    // A table made after the group_by (its rows kept under the step's index in the whole
    // spec) joined with the customers table: each order of a known customer, once.
    create_topic(&s, "latest-out", 1);
    let spec = json!({"name": "latest",
        "sources": {"orders": {"topic": "orders"},
                    "customers": {"topic": "customers", "as": "table"}},
        "output": "latest-out",
        "steps": [{"name": "g", "op": "group_by", "module": "by-customer", "input": "orders"},
                  {"name": "t", "op": "to_table"},
                  {"op": "join", "left": "t", "right": "customers"}],
        "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    wait_caught_up(&s, "latest", (CUSTOMERS + 600) as u64);
    let mut joined: Vec<String> = values(&s, "latest-out")
        .iter()
        .map(|v| {
            serde_json::from_str::<Value>(v).unwrap()["left"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    joined.sort();
    let mut known: Vec<String> = orders_in(&s)
        .into_iter()
        .filter(|(_, name)| name != "null")
        .map(|(order, _)| order)
        .collect();
    known.sort();
    assert_eq!(joined, known);
    // A customer renamed: the join looks the later stage's table up for that customer's
    // latest order.
    produce(
        &s,
        "customers",
        vec![json!({"key": "c0", "value": "renamed", "timestamp": 2})],
    );
    wait_caught_up(&s, "latest", (CUSTOMERS + 601) as u64);
    let last: Value = serde_json::from_str(values(&s, "latest-out").last().unwrap()).unwrap();
    assert_eq!(last["right"], "renamed", "{last}");
    assert!(last["left"].as_str().unwrap().starts_with("c0,"), "{last}");
    // A table of another partition count is refused, naming it and the repartition topic.
    create_topic(&s, "customers2", 2);
    let spec = json!({"name": "bad",
        "sources": {"orders": {"topic": "orders"},
                    "customers": {"topic": "customers2", "as": "table"}},
        "output": "enriched",
        "steps": [{"name": "g", "op": "group_by", "module": "by-customer", "input": "orders"},
                  {"op": "join", "left": "g", "right": "customers"}]});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 400, "{body}");
    let why = body.to_string();
    assert!(
        why.contains("co-partitioned")
            && why.contains("bad-g-repartition")
            && why.contains("customers2"),
        "{why}"
    );
    // No repartition topic was left behind by the refusal.
    assert_eq!(call(&s, "GET", "/v1/topics/bad-g-repartition", None).0, 404);
}

/// SIGKILLs while orders arrive: each order enriched exactly once, with its customer.
#[test]
fn a_group_by_then_a_table_join_is_exactly_once_across_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--worker-threads", "2"]);
    deploy_enrich(&s);
    let mut i = 0;
    let s = kill_while_feeding(s, dir.path(), "orders", 17, 0..10, move |rng| {
        (0..rng.random_range(1..40))
            .map(|_| {
                i += 1;
                json!({"key": format!("order{i}"),
                       "value": format!("c{},item{i}", rng.random_range(0..CUSTOMERS + 3)),
                       "timestamp": now_ms()})
            })
            .collect()
    });
    wait_caught_up(&s, "enrich", 0);
    let want = orders_in(&s);
    assert!(
        want.len() > 200,
        "too little input reached the log: {}",
        want.len()
    );
    assert_eq!(enriched(&s), want);
}

#[test]
fn repartition_topics_that_would_be_shared_are_refused_naming_topic_and_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["in", "out"] {
        create_topic(&s, t, 1);
    }
    assert_eq!(
        upload(&s, "k", &guest("streams", "rust-key-selector")).0,
        201
    );
    let spec = |pipeline: &str, step: &str, output: &str| {
        json!({"name": pipeline, "inputs": ["in"], "output": output,
            "steps": [{"name": step, "op": "group_by", "module": "k"}, {"op": "count"}]})
    };
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec("a-b", "c", "out")));
    assert_eq!(code, 201, "{body}");
    // Pipeline a, step b-c: the same topic, a-b-c-repartition.
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec("a", "b-c", "out")));
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["code"], "topic_taken", "{body}");
    let why = body.to_string();
    assert!(
        why.contains("\\\"a-b-c-repartition\\\"") && why.contains("pipeline \\\"a-b\\\""),
        "{why}"
    );
    // Writing another pipeline's repartition topic.
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(
            json!({"name": "w", "inputs": ["in"], "output": "a-b-c-repartition",
                    "steps": [{"op": "count"}]}),
        ),
    );
    assert_eq!(code, 409, "{body}");
    assert!(
        body.to_string().contains("internal repartition topic"),
        "{body}"
    );
    // Nor may an update turn an output, or a dead-letter topic, into one.
    let plain = json!({"name": "w", "inputs": ["in"], "output": "out", "steps": [{"op": "count"}]});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(plain.clone()));
    assert_eq!(code, 201, "{body}");
    for (field, topic) in [
        ("output", json!("a-b-c-repartition")),
        ("outputs", json!(["a-b-c-repartition"])),
        ("dead_letter_topic", json!("a-b-c-repartition")),
    ] {
        let mut changed = plain.clone();
        changed[field] = topic;
        if field == "dead_letter_topic" {
            changed["on_error"] = json!("dead-letter");
        }
        let (code, body) = call(&s, "PUT", "/v1/pipelines/w", Some(changed));
        assert_eq!(code, 409, "{field}: {body}");
        assert!(
            body.to_string().contains("internal repartition topic"),
            "{field}: {body}"
        );
    }
    // The pipeline itself may keep its own repartition topic through an update.
    let (code, body) = call(
        &s,
        "PUT",
        "/v1/pipelines/a-b",
        Some(spec("a-b", "c", "out")),
    );
    assert_eq!(code, 200, "{body}");
    // A user's topic of the name, holding records.
    create_topic(&s, "x-g-repartition", 1);
    produce(
        &s,
        "x-g-repartition",
        vec![json!({"key": "u", "value": "mine"})],
    );
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec("x", "g", "out")));
    assert_eq!(code, 409, "{body}");
    assert!(
        body.to_string().contains("already exists as a topic"),
        "{body}"
    );
    // An empty one with another partition count is no leftover of this pipeline either.
    create_topic(&s, "z-g-repartition", 2);
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec("z", "g", "out")));
    assert_eq!(code, 409, "{body}");
    // An empty, unclaimed one of the right partition count is what a failed or crashed
    // create leaves behind: a retry takes it instead of failing forever.
    create_topic(&s, "y-g-repartition", 1);
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec("y", "g", "out")));
    assert_eq!(code, 201, "{body}");
    // Nothing of the refused pipelines stays: the user's topic is intact, a is free.
    assert_eq!(call(&s, "GET", "/v1/pipelines/a", None).0, 404);
    assert_eq!(call(&s, "GET", "/v1/pipelines/x", None).0, 404);
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec("a", "other", "out")));
    assert_eq!(code, 201, "{body}");
}

/// A `group_by` whose key selector is Python (`@weir.key_selector`, tests/guests/python-keys):
/// a 3-partition input regrouped by the value's text before ":" (its config), counted
/// exactly per new key; a value without one dropped, a failing record skipped and counted.
#[test]
fn a_python_key_selector_regroups_a_3_partition_input_for_an_exact_count() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "visits", 3);
    create_topic(&s, "per-site", 2);
    let (code, body) = upload(&s, "py-keys", &guest("python", "python-keys"));
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["world"], "key-selector", "{body}");
    let spec = json!({"name": "sites", "inputs": ["visits"], "output": "per-site",
        "steps": [{"name": "by-site", "op": "group_by", "module": "py-keys",
                   "config": {"separator": ":"}},
                  {"name": "count", "op": "count"}],
        "on_error": "skip", "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    let mut rng = rand::rng();
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    let mut visits: Vec<Value> = (0..300)
        .map(|i| {
            let value = if rng.random_range(0..10) == 0 {
                format!("nowhere{i}")
            } else {
                let site = format!("site{}", rng.random_range(0..6));
                *want.entry(site.clone()).or_insert(0) += 1;
                format!("{site}:/page{i}")
            };
            json!({"key": format!("visitor{}", rng.random_range(0..50)), "value": value})
        })
        .collect();
    visits.push(json!({"key": "v", "value": "boom"}));
    produce(&s, "visits", visits);
    let st = wait_caught_up(&s, "sites", 301);
    assert_eq!(st["records_errored"], 1, "{st:#}");
    let mut got = BTreeMap::new();
    for r in read_all(&s, "per-site").into_iter().flatten() {
        got.insert(
            r["key"].as_str().unwrap().to_string(),
            r["value"].as_str().unwrap().parse::<i64>().unwrap(),
        );
    }
    assert_eq!(got, want);
    // Each new key went to one partition of the repartition topic.
    let mut home = BTreeMap::new();
    for (p, records) in read_all(&s, "sites-by-site-repartition").iter().enumerate() {
        for r in records {
            let key = r["key"].as_str().unwrap().to_string();
            assert_eq!(*home.entry(key.clone()).or_insert(p), p, "{key}");
        }
    }
    assert_eq!(home.len(), want.len());
}
