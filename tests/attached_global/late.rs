//! Late records attached: a windowed count's records past their window's grace are
//! counted in the pipeline's status and `/metrics`, and dead-lettered
//! (`"late": "dead-letter"`), as embedded.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::*;
use crate::common::pipeline::{produce, status};
use crate::common::{Server, http, wait_until};

#[test]
fn late_records_are_counted_attached_as_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Server::start(&dir.path().join("broker"), &[]);
    topics(
        &broker,
        &[
            ("in", 2),
            ("counts-e", 1),
            ("counts-a", 1),
            ("dlq-e", 1),
            ("dlq-a", 1),
        ],
    );
    let node = Node::start(&dir.path().join("node0"), &broker.kafka);
    for mode in ["e", "a"] {
        let spec = json!({
            "name": format!("late-{mode}"), "inputs": ["in"],
            "output": format!("counts-{mode}"), "dead_letter_topic": format!("dlq-{mode}"),
            "start": "earliest",
            "steps": [{"op": "count", "window": {"type": "tumbling", "size_ms": 1000},
                       "late": "dead-letter"}],
        });
        match mode {
            "e" => crate::common::pipeline::create(&broker, spec),
            _ => node.create(spec),
        }
    }
    let keys = ["k0", "k1", "k2", "k3"];
    let at = |t: i64| -> Vec<Value> {
        keys.iter()
            .map(|k| json!({"key": k, "value": "x", "timestamp": t}))
            .collect()
    };
    // Stream time reaches 20 s on both partitions; then each key's record at 10.5 s
    // falls in a window closed at 11 s (grace 0): four late records, dead-lettered.
    produce(&broker, "in", at(10_000));
    produce(&broker, "in", at(20_000));
    produce(&broker, "in", at(10_500));
    let mut last = (Value::Null, Value::Null);
    let counted = wait_until(Duration::from_secs(60), || {
        last = (
            status(&broker, "late-e"),
            node.get("/v1/pipelines/late-a").1,
        );
        last.0["late_records"] == 4 && last.1["late_records"] == 4
    });
    assert!(counted, "late records not counted: {last:?}");
    let metrics = http()
        .get(format!("{}/metrics", node.url()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("weir_pipeline_late_records_total{pipeline=\"late-a\"} 4"),
        "{metrics}"
    );
    let letters = same_output(&broker.kafka, ("dlq-e", "dlq-a"), 1, |o| o.len() == 4);
    assert!(letters.iter().all(|o| o.1 == "x"), "{letters:?}");
}
