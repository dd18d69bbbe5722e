//! A stateful counter exact across restart and swap, and its state queried.

use std::time::Duration;

use crate::common::guests::guest;
use crate::common::pipeline::*;
use crate::common::{Server, wait_until};
use base64::Engine;
use serde_json::{Value, json};

fn count_of(s: &Server, pipeline: &str, key: &str) -> Option<u64> {
    let (code, body) = call(
        s,
        "GET",
        &format!("/v1/pipelines/{pipeline}/state/0?key={key}"),
        None,
    );
    if code == 404 {
        return None;
    }
    assert_eq!(code, 200, "{body}");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(body["value_base64"].as_str().unwrap())
        .unwrap();
    Some(u64::from_le_bytes(raw.try_into().unwrap()))
}

#[test]
fn a_stateful_counter_is_exact_across_restart_and_swap_and_queryable() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "clicks", 2);
    create_topic(&s, "counts", 2);
    create_topic(&s, "evens", 1);
    assert_eq!(upload(&s, "counter", &guest("hostile", "counter")).0, 201);
    let keys = ["a", "b", "c", "d", "e"];
    let batch = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"key": keys[i % 5], "value": "x"}))
            .collect()
    };
    // Input first: each task's first round then counts keys before its first timer is
    // due (timers are due an interval after the chain is built), so no report can say
    // `keys=0` because the test thread was slow to produce on a loaded machine.
    produce(&s, "clicks", batch(50));
    let spec = json!({"name": "count", "inputs": ["clicks"], "output": "counts", "outputs": ["evens"], "steps": [{"module": "counter"}], "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec.clone()));
    assert_eq!(code, 201, "{body}");
    wait_caught_up(&s, "count", 50);
    assert_eq!(count_of(&s, "count", "a"), Some(10));

    // Restart: state and position survive.
    assert!(s.stop());
    let s = Server::start(dir.path(), &[]);
    produce(&s, "clicks", batch(25));
    wait_caught_up(&s, "count", 25);
    assert_eq!(count_of(&s, "count", "a"), Some(15));

    // Swap to another version of the counter: state carries over.
    assert_eq!(upload(&s, "counter2", &guest("hostile", "counter")).0, 201);
    let mut spec2 = spec.clone();
    spec2["steps"] = json!([{"module": "counter2"}]);
    let (code, body) = call(&s, "PUT", "/v1/pipelines/count", Some(spec2));
    assert_eq!(code, 200, "{body}");
    produce(&s, "clicks", batch(25));
    wait_caught_up(&s, "count", 50);
    for k in keys {
        assert_eq!(count_of(&s, "count", k), Some(20), "key {k}");
    }
    assert_eq!(count_of(&s, "count", "zzz"), None);
    let (code, scan) = call(
        &s,
        "GET",
        "/v1/pipelines/count/state/counter2?prefix=&limit=3",
        None,
    );
    assert_eq!(code, 200, "{scan}");
    assert_eq!(scan["entries"].as_array().unwrap().len(), 3);
    assert_eq!(scan["entries"][0]["key"], "a");

    // Outputs: every count 1..=20 of every key exactly once; evens routed.
    // The counter's timer reports `keys=N at T` every 50 ms into the same topic: N is the
    // keys its task (partition) holds, all five between the two tasks.
    assert!(
        wait_until(Duration::from_secs(30), || values(&s, "counts")
            .iter()
            .any(|v| v.starts_with("keys="))),
        "the processor's timer never fired"
    );
    let (reports, mut outs): (Vec<String>, Vec<String>) = values(&s, "counts")
        .into_iter()
        .partition(|v| v.starts_with("keys="));
    for r in &reports {
        let n: usize = r["keys=".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=5).contains(&n), "{r}");
    }
    outs.sort();
    let mut want: Vec<String> = keys
        .iter()
        .flat_map(|k| (1..=20).map(move |n| format!("{k}={n}")))
        .collect();
    want.sort();
    assert_eq!(outs, want);
    assert_eq!(values(&s, "evens").len(), 50);
}
