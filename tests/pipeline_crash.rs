//! Crash test of exactly-once pipelines: SIGKILL `weir serve` at random moments while a
//! stateful counter pipeline works through a stream that keeps growing, restart it, and
//! check at the end that the outputs are exactly f(inputs) — every `key=n` once, none
//! missing — that the queryable counts equal the inputs per key, and that no timer report
//! is appended twice.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::guests::guest;
use common::pipeline::*;
use common::{Server, http};
use rand::Rng;
use serde_json::{Value, json};

const KILLS: usize = 20;
const KEYS: u64 = 23;

fn producer(url: Arc<Mutex<String>>, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    let client = http();
    let mut rng = rand::rng();
    while !stop.load(Ordering::SeqCst) {
        let n = rng.random_range(1..=40);
        let records: Vec<Value> = (0..n)
            .map(|_| {
                let k = rng.random_range(0..KEYS);
                json!({"key": format!("key{k}"), "value": "click"})
            })
            .collect();
        let target = url.lock().unwrap().clone();
        let topic = if rng.random_bool(0.5) {
            "clicks"
        } else {
            "views"
        };
        // Refused or cut short while the server is down: fine, the check reads the log.
        if let Ok(r) = client
            .post(format!("{target}/v1/topics/{topic}/records"))
            .json(&json!({ "records": records }))
            .timeout(Duration::from_secs(5))
            .send()
            && r.status().is_success()
        {
            sent.fetch_add(n, Ordering::SeqCst);
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..15)));
    }
}

#[test]
fn outputs_and_state_are_exact_after_repeated_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &["--worker-threads", "2"]);
    create_topic(&s, "clicks", 3);
    create_topic(&s, "views", 3);
    create_topic(&s, "counts", 3);
    create_topic(&s, "evens", 2);
    assert_eq!(upload(&s, "counter", &guest("hostile", "counter")).0, 201);
    // Two co-partitioned inputs: a round reads both, so a replay must read exactly the
    // ranges the lost round read (see ARCHITECTURE.md).
    let spec = json!({"name": "count", "inputs": ["clicks", "views"], "output": "counts",
        "outputs": ["evens"], "steps": [{"module": "counter"}], "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");

    let url = Arc::new(Mutex::new(s.url.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let feeder = {
        let (url, stop, sent) = (url.clone(), stop.clone(), sent.clone());
        std::thread::spawn(move || producer(url, stop, sent))
    };
    let mut rng = rand::rng();
    for _ in 0..KILLS {
        std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
        s.kill();
        s = Server::start(dir.path(), &["--worker-threads", "2"]);
        *url.lock().unwrap() = s.url.clone();
    }
    stop.store(true, Ordering::SeqCst);
    feeder.join().unwrap();
    assert!(sent.load(Ordering::SeqCst) > 0, "nothing was produced");
    wait_caught_up(&s, "count", 0);

    // f(inputs): per key, its records count 1, 2, 3, ... (in the order the task met them
    // across the two inputs; each number exactly once whatever that order).
    let mut per_key: BTreeMap<String, u64> = BTreeMap::new();
    for topic in ["clicks", "views"] {
        for partition in read_all(&s, topic) {
            for r in partition {
                *per_key
                    .entry(r["key"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
        }
    }
    let mut want: Vec<String> = per_key
        .iter()
        .flat_map(|(k, &n)| (1..=n).map(move |i| format!("{k}={i}")))
        .collect();
    want.sort();
    // The counter's timer reports `keys=N at T` every 50 ms: through the outbox, each
    // report is appended once even when a kill lands between its commit and its append.
    // Reports of different tasks may coincide, so they are compared per partition.
    let mut got = Vec::new();
    let mut reports = 0;
    for partition in read_all(&s, "counts") {
        let mut seen = std::collections::BTreeSet::new();
        for r in partition {
            let v = r["value"].as_str().unwrap().to_string();
            if v.starts_with("keys=") {
                assert!(seen.insert(v.clone()), "timer report {v} appended twice");
                reports += 1;
            } else {
                got.push(v);
            }
        }
    }
    assert!(reports > 0, "the processor's timer never fired");
    got.sort();
    let total: u64 = per_key.values().sum();
    assert_eq!(got.len() as u64, total, "outputs missing or duplicated");
    assert_eq!(got, want, "outputs differ from f(inputs)");
    let evens: u64 = per_key.values().map(|n| n / 2).sum();
    assert_eq!(values(&s, "evens").len() as u64, evens);
    for (k, &n) in &per_key {
        let (code, body) = call(
            &s,
            "GET",
            &format!("/v1/pipelines/count/state/0?key={k}"),
            None,
        );
        assert_eq!(code, 200, "{body}");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body["value_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            u64::from_le_bytes(raw.try_into().unwrap()),
            n,
            "count of {k}"
        );
    }
}
