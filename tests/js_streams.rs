//! JavaScript user functions (guest-sdk/js) in real pipelines on `weir serve`: a processor
//! counting per key in state, an aggregator for a windowed `aggregate` step (checked against
//! the reference of Kafka's window rules) that takes over a Rust aggregator's state in a
//! hot-swap, a value joiner of a stream–table join and a key selector of a `group_by`. What
//! each SDK helper answers call by call is tests/js_guests.rs'.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use common::guests::guest;
use common::pipeline::*;
use common::streams::*;
use common::{Server, wait_until};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Uploads the JS guest `wasm` as module `name`; returns its world.
fn push(s: &Server, name: &str, wasm: &str) -> String {
    let (code, body) = upload(s, name, &guest("js", wasm));
    assert_eq!(code, 201, "{body}");
    body["world"].as_str().unwrap().to_string()
}

fn deploy_spec(s: &Server, spec: Value) {
    let (code, body) = call(s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
}

/// The `weir.error` header of a dead letter.
fn why(r: &Value) -> String {
    r["headers"]["weir.error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_js_processor_counts_per_key_in_state_routes_and_reports_on_its_timer() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["clicks", "counts", "side", "dlq"] {
        create_topic(&s, t, 1);
    }
    assert_eq!(push(&s, "counter", "js-counter"), "processor");
    deploy_spec(
        &s,
        json!({"name": "count", "inputs": ["clicks"], "output": "counts", "outputs": ["side"],
            "steps": [{"module": "counter"}], "start": "earliest",
            "on_error": "dead-letter", "dead_letter_topic": "dlq"}),
    );
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..120 {
        let key = format!("user{}", rng.random_range(0..7));
        let n = want.entry(key.clone()).or_insert(0);
        *n += 1;
        expected.push(format!("{key}={n}"));
        input.push(json!({"key": key, "value": "click"}));
    }
    input.push(json!({"key": "user0", "value": "boom"}));
    input.push(json!({"key": "vip", "value": "click", "headers": {"route": "side"}}));
    produce(&s, "clicks", input);
    wait_caught_up(&s, "count", 122);
    // Every record's running count once, in order; the timer's `keys=N` reports besides.
    let main = read_all(&s, "counts").remove(0);
    let counted: Vec<String> = main
        .iter()
        .filter(|r| r["key"] != "report")
        .map(|r| r["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(counted, expected);
    assert!(
        wait_until(Duration::from_secs(30), || values(&s, "counts")
            .iter()
            .any(|v| v == "keys=8")),
        "no timer report of 8 keys: {:?}",
        values(&s, "counts")
    );
    assert_eq!(values(&s, "side"), ["vip=1"]);
    let dead = read_all(&s, "dlq").remove(0);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["value"], "boom");
    assert!(why(&dead[0]).contains("Error: boom"), "{:?}", dead[0]);
    // The counts are the processor's state, queryable per key.
    for (key, n) in &want {
        let (code, body) = call(
            &s,
            "GET",
            &format!("/v1/pipelines/count/state/0?key={key}"),
            None,
        );
        assert_eq!(code, 200, "{body}");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body["value_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(String::from_utf8(raw).unwrap(), n.to_string(), "{key}");
    }
}

/// The JS aggregator in a tumbling `aggregate` step with emit on close: results equal the
/// reference's, and a value that is no number fails its record alone, naming `add`.
#[test]
fn a_js_aggregator_sums_tumbling_windows_as_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["clicks", "sums", "dlq"] {
        create_topic(&s, t, 1);
    }
    assert_eq!(push(&s, "jssum", "js-summer"), "aggregator");
    deploy_spec(
        &s,
        json!({"name": "js", "inputs": ["clicks"], "output": "sums",
            "steps": [{"op": "aggregate", "module": "jssum",
                       "window": {"type": "tumbling", "size_ms": 1000, "grace_ms": 100},
                       "emit": "on_close"}],
            "start": "earliest", "on_error": "dead-letter", "dead_letter_topic": "dlq"}),
    );
    let base = (now_ms() - 3_600_000) / 1000 * 1000;
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let mut input: Vec<Value> = (0..200)
        .map(|i| {
            let key = ["a", "b", "c"][rng.random_range(0..3)];
            let ts = base + i * 20 - rng.random_range(0..80);
            click(key, &rng.random_range(-9i64..=9).to_string(), ts)
        })
        .collect();
    input.insert(70, click("a", "boom", base + 1390));
    input.push(click("z", "1", base + 10_000));
    let given: Vec<(String, i64, i64)> = input
        .iter()
        .filter_map(|r| {
            let value = r["value"].as_str().unwrap().parse().ok()?;
            Some((
                r["key"].as_str().unwrap().to_string(),
                value,
                r["timestamp"].as_i64().unwrap(),
            ))
        })
        .collect();
    produce(&s, "clicks", input);
    let st = wait_caught_up(&s, "js", 202);
    assert_eq!(st["records_errored"], 1, "{st:#}");
    let dead = read_all(&s, "dlq").remove(0);
    assert!(
        why(&dead[0]).contains("aggregator add failed: Error: \"boom\" is not a whole number"),
        "{:?}",
        dead[0]
    );
    let (want, _, stream_time) = reference(&given, 1000, 1000, 100);
    let want = closed(want, 1000, 100, stream_time);
    let got: Windows = read_all(&s, "sums")[0]
        .iter()
        .map(|r| {
            let (start, key, value, ts) = result(r, 1000);
            ((start, key), (value, ts))
        })
        .collect();
    assert!(got.len() >= 12, "{got:?}");
    assert_eq!(got, want);
}

/// The summed state of key `k` in the window at `start`, through the state route.
fn windowed_state(s: &Server, name: &str, start: i64) -> Option<String> {
    let (code, body) = call(
        s,
        "GET",
        &format!("/v1/pipelines/{name}/state/0?key=k&from={start}&to={start}"),
        None,
    );
    (code == 200).then(|| body[0]["value"].as_str().unwrap().to_string())
}

/// Version 1 of module `summer` is the Rust aggregator, version 2 the JS one (the same
/// aggregate format, decimal text): swapped mid-window, the JS one goes on from the Rust
/// one's sums and the window closes with every record in it, once.
#[test]
fn a_swap_from_the_rust_to_the_js_aggregator_keeps_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["clicks", "sums"] {
        create_topic(&s, t, 1);
    }
    let (code, body) = upload(&s, "summer", &guest("streams", "rust-aggregator"));
    assert_eq!(code, 201, "{body}");
    assert_eq!(push(&s, "summer", "js-summer"), "aggregator");
    let size = 3_600_000;
    let start = now_ms() / size * size - size;
    let spec = |module: &str| {
        json!({"name": "swap", "inputs": ["clicks"], "output": "sums",
            "steps": [{"op": "aggregate", "module": module,
                       "window": {"type": "tumbling", "size_ms": size}, "emit": "on_close"}],
            "start": "earliest", "on_error": "skip"})
    };
    deploy_spec(&s, spec("summer@1"));
    let batch = |from: i64| {
        (from..from + 50)
            .map(|i| click("k", &i.to_string(), start + i))
            .collect()
    };
    produce(&s, "clicks", batch(0));
    wait_caught_up(&s, "swap", 50);
    assert_eq!(windowed_state(&s, "swap", start).as_deref(), Some("1225"));
    let (code, body) = call(&s, "PUT", "/v1/pipelines/swap", Some(spec("summer@2")));
    assert_eq!(code, 200, "{body}");
    produce(&s, "clicks", batch(50));
    let st = wait_caught_up(&s, "swap", 100);
    assert_eq!(st["modules"][0]["version"], 2, "{st:#}");
    assert_eq!(st["swaps"], 1, "{st:#}");
    assert_eq!(st["records_errored"], 0, "{st:#}");
    assert_eq!(windowed_state(&s, "swap", start).as_deref(), Some("4950"));
    produce(&s, "clicks", vec![click("k", "1", start + 2 * size)]);
    assert!(wait_until(Duration::from_secs(60), || !read_all(
        &s, "sums"
    )[0]
    .is_empty()));
    let out = read_all(&s, "sums").remove(0);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(result(&out[0], size), (start, "k".into(), 4950, start + 99));
}

/// Orders joined with a customers table by the JS joiner (`order+customer`, `-` for no
/// match); a joiner answering null gives a null value; a failing pair goes to the dead
/// letters with the joiner's message.
#[test]
fn a_js_joiner_enriches_orders_with_a_customers_table() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["orders", "customers", "enriched", "dead"] {
        create_topic(&s, t, 1);
    }
    assert_eq!(push(&s, "enrich", "js-joiner"), "joiner");
    deploy_spec(
        &s,
        json!({"name": "enrich",
            "sources": {"orders": {"topic": "orders"},
                        "customers": {"topic": "customers", "as": "table"}},
            "output": "enriched",
            "steps": [{"op": "join", "left": "orders", "right": "customers", "type": "left",
                       "module": "enrich"}],
            "on_error": "dead-letter", "dead_letter_topic": "dead", "start": "earliest"}),
    );
    produce(
        &s,
        "customers",
        vec![
            json!({"key": "c1", "value": "Ada"}),
            json!({"key": "c2", "value": "Bo"}),
        ],
    );
    wait_caught_up(&s, "enrich", 2);
    let t = now_ms();
    let orders = [
        ("c1", "o-1"),
        ("c2", "boom"),
        ("c9", "o-2"),
        ("c2", "null"),
        ("c2", "o-3"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (k, v))| json!({"key": k, "value": v, "timestamp": t + i as i64}))
    .collect();
    produce(&s, "orders", orders);
    wait_caught_up(&s, "enrich", 7);
    let got: Vec<(Value, Value)> = read_all(&s, "enriched")[0]
        .iter()
        .map(|r| (r["key"].clone(), r["value"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (json!("c1"), json!("o-1+Ada")),
            (json!("c9"), json!("o-2+-")),
            (json!("c2"), Value::Null),
            (json!("c2"), json!("o-3+Bo")),
        ]
    );
    let dead = read_all(&s, "dead").remove(0);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["value"], "boom");
    assert!(
        why(&dead[0]).contains("Error: boom cannot be joined"),
        "{:?}",
        dead[0]
    );
}

/// A `group_by` whose key selector is JS: a 3-partition input regrouped by the value's text
/// before ":" (its config), counted exactly per new key; a value without one dropped, a
/// failing record skipped and counted.
#[test]
fn a_js_key_selector_regroups_a_3_partition_input_for_an_exact_count() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "visits", 3);
    create_topic(&s, "per-site", 2);
    assert_eq!(push(&s, "js-keys", "js-keys"), "key-selector");
    deploy_spec(
        &s,
        json!({"name": "sites", "inputs": ["visits"], "output": "per-site",
            "steps": [{"name": "by-site", "op": "group_by", "module": "js-keys",
                       "config": {"separator": ":"}},
                      {"name": "count", "op": "count"}],
            "on_error": "skip", "start": "earliest"}),
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
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
}
