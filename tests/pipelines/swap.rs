//! Hot-swap under continuous production; a broken update rolled back by itself.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::common::guests::guest;
use crate::common::pipeline::*;
use crate::common::{Server, wait_until};
use serde_json::{Value, json};

use crate::filter_spec;

fn seq_of(v: &str) -> u64 {
    v.to_ascii_lowercase()
        .strip_prefix("seq-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected value {v:?}"))
}

#[test]
fn hot_swap_under_continuous_production_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--worker-threads", "2"]);
    create_topic(&s, "in", 4);
    create_topic(&s, "out", 4);
    assert_eq!(upload(&s, "keep", &guest("rust", "rust-filter")).0, 201);
    assert_eq!(upload(&s, "upper", &guest("hostile", "upper")).0, 201);
    let (code, body) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(filter_spec("swap", "keep", "seq", "in", "out")),
    );
    assert_eq!(code, 201, "{body}");

    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let url = s.url.clone();
    let producer = {
        let (stop, next) = (stop.clone(), next.clone());
        std::thread::spawn(move || {
            let client = crate::common::http();
            while !stop.load(Ordering::SeqCst) {
                let records: Vec<Value> = (0..20)
                    .map(|_| {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        json!({"key": format!("k{}", n % 13), "value": format!("seq-{n}")})
                    })
                    .collect();
                let r = client
                    .post(format!("{url}/v1/topics/in/records"))
                    .json(&json!({ "records": records }))
                    .send()
                    .unwrap();
                assert!(r.status().is_success());
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    assert!(wait_until(
        Duration::from_secs(60),
        || status(&s, "swap")["records_out"].as_u64().unwrap_or(0) > 200
    ));
    let spec = json!({"name": "swap", "inputs": ["in"], "output": "out", "steps": [{"module": "upper"}], "start": "earliest"});
    let (code, body) = call(&s, "PUT", "/v1/pipelines/swap", Some(spec));
    assert_eq!(code, 200, "{body}");
    let before = next.load(Ordering::SeqCst);
    assert!(wait_until(Duration::from_secs(60), || next
        .load(Ordering::SeqCst)
        > before + 400));
    stop.store(true, Ordering::SeqCst);
    producer.join().unwrap();
    let total = next.load(Ordering::SeqCst);
    let st = wait_caught_up(&s, "swap", total);

    let out = read_all(&s, "out");
    let mut seen = BTreeMap::new();
    let mut upper = 0;
    for partition in &out {
        // Within a partition, once the new version's output appears, the old one's never does.
        let mut swapped = false;
        for r in partition {
            let v = r["value"].as_str().unwrap();
            let is_upper = v.starts_with("SEQ-");
            assert!(
                !swapped || is_upper,
                "old-version output {v} after the swap"
            );
            swapped |= is_upper;
            upper += usize::from(is_upper);
            *seen.entry(seq_of(v)).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len() as u64, total, "records lost");
    assert!(seen.values().all(|&n| n == 1), "records duplicated");
    assert!(upper > 0, "nothing came from the new version");
    assert_eq!(st["modules"][0]["module"], "upper");
    assert_eq!(st["history"].as_array().unwrap().len(), 2);
    assert_eq!(st["swap_pause"]["count"], 4, "{st:#}");
    assert!(
        st["swap_pause"]["max_ms"].as_f64().unwrap() < 1000.0,
        "{st:#}"
    );
}

#[test]
fn a_broken_update_rolls_back_by_itself_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "out", 1);
    assert_eq!(upload(&s, "keep", &guest("rust", "rust-filter")).0, 201);
    assert_eq!(upload(&s, "trap", &guest("hostile", "trap")).0, 201);
    let (code, _) = call(
        &s,
        "POST",
        "/v1/pipelines",
        Some(filter_spec("rb", "keep", "v", "in", "out")),
    );
    assert_eq!(code, 201);
    produce(
        &s,
        "in",
        (0..10).map(|i| json!({"value": format!("v{i}")})).collect(),
    );
    wait_caught_up(&s, "rb", 10);
    let spec =
        json!({"name": "rb", "inputs": ["in"], "output": "out", "steps": [{"module": "trap"}]});
    let (code, body) = call(&s, "PUT", "/v1/pipelines/rb", Some(spec));
    assert_eq!(code, 200, "{body}");
    produce(
        &s,
        "in",
        (10..20)
            .map(|i| json!({"value": format!("v{i}")}))
            .collect(),
    );
    let mut st = Value::Null;
    assert!(
        wait_until(Duration::from_secs(60), || {
            st = status(&s, "rb");
            st["rollbacks"] == 1 && st["lag"] == 0
        }),
        "{st:#}"
    );
    assert_eq!(st["modules"][0]["module"], "keep", "{st:#}");
    assert_eq!(st["state"], "running");
    let why = st["last_rollback"].as_str().unwrap();
    assert!(why.contains("boom"), "{why}");
    let history = st["history"].as_array().unwrap();
    assert!(
        history.last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("rolled back")
    );
    // The old version processed the batch the new one trapped on: nothing lost.
    let mut got = values(&s, "out");
    got.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    // A version that cannot even start (here: a 1 MiB memory cap, below what the module
    // needs at instantiation) rolls back too.
    let spec = json!({"name": "rb", "inputs": ["in"], "output": "out",
        "steps": [{"module": "keep", "config": {"pattern": "v"}}], "limits": {"memory_mb": 1}});
    let (code, body) = call(&s, "PUT", "/v1/pipelines/rb", Some(spec));
    assert_eq!(code, 200, "{body}");
    assert!(
        wait_until(Duration::from_secs(60), || {
            st = status(&s, "rb");
            st["rollbacks"] == 2
        }),
        "{st:#}"
    );
    assert!(
        st["last_rollback"]
            .as_str()
            .unwrap()
            .contains("cannot start"),
        "{st:#}"
    );
    produce(&s, "in", vec![json!({"value": "v20"})]);
    assert!(wait_until(Duration::from_secs(60), || values(&s, "out")
        .len()
        == 21));
    assert_eq!(status(&s, "rb")["state"], "running");
    let (code, logs) = call(&s, "GET", "/v1/pipelines/rb/logs?tail=50", None);
    assert_eq!(code, 200);
    assert!(logs["lines"].to_string().contains("rolled back"), "{logs}");
}
